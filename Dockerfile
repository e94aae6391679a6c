# A static accountd on an empty base image, built by scripts/build.sh —
# the build every test script uses — so the image runs the program the
# tests ran.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN scripts/build.sh /accountd
# scratch has no shell to make directories with: the SQLite directory and
# a temporary directory (SQLite spills large sorts there) are made here.
RUN mkdir -p /data /tmpdir && chmod 1777 /tmpdir

FROM scratch
# CA certificates, for DATABASE_URL with sslmode=verify-full.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build --chown=65532:65532 /data /data
COPY --from=build --chown=65532:65532 /tmpdir /tmp
COPY --from=build /accountd /accountd
USER 65532:65532
ENV LISTEN_ADDR=0.0.0.0:8000 \
    DATABASE_URL=sqlite:/data/panel.db
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["/accountd"]
