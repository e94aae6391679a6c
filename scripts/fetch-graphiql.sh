#!/usr/bin/env bash
# Fetches the GraphiQL page's JavaScript and CSS into web/graphiql/assets/,
# which the server embeds, so /graphiql works with no internet access.
#
# Each package is fetched with `npm pack` (a tarball, no install, no
# lifecycle scripts) at an exact version and checked against the sha512
# integrity pinned below before anything is extracted. A mismatch stops the
# script and leaves the committed assets untouched.
#
#   scripts/fetch-graphiql.sh          # refresh web/graphiql/assets/
#   scripts/fetch-graphiql.sh --check  # verify the committed assets, change nothing
#
# To move to another version: change the version and integrity below (the
# integrity is what `npm view NAME@VERSION dist.integrity` reports), run the
# script, and load /graphiql in a browser (scripts/browser-test.sh).
#
# Why these builds: graphiql 4.x still ships a UMD bundle (graphiql.min.js,
# identical to dist/index.umd.js) that bundles graphql-js, CodeMirror and the
# toolkit and expects React and ReactDOM as globals; its bundled JSX runtime
# reads React 18's internals, and React 19 ships no UMD build, so React and
# ReactDOM are 18.3.1's umd/*.production.min.js (ReactDOM's includes the
# scheduler). Nothing else is needed.
set -euo pipefail

# name version integrity
packages=(
	"graphiql 4.1.2 sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg=="
	"react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="
	"react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw=="
)

# name path-in-tarball asset-name
files=(
	"graphiql package/graphiql.min.js graphiql.min.js"
	"graphiql package/graphiql.min.css graphiql.min.css"
	"graphiql package/LICENSE LICENSE-graphiql.txt"
	"react package/umd/react.production.min.js react.production.min.js"
	"react package/LICENSE LICENSE-react.txt"
	"react-dom package/umd/react-dom.production.min.js react-dom.production.min.js"
	"react-dom package/LICENSE LICENSE-react-dom.txt"
)

die() {
	printf 'fetch-graphiql: %s\n' "$*" >&2
	exit 1
}

check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*) die "usage: $0 [--check]" ;;
esac

for tool in npm openssl tar base64; do
	command -v "$tool" >/dev/null || die "$tool is required"
done

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/web/graphiql/assets"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/assets"
mkdir -p "$stage"

sha512() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n')"; }
version_of() {
	local n v rest
	for entry in "${packages[@]}"; do
		read -r n v rest <<<"$entry"
		if [ "$n" = "$1" ]; then
			echo "$v"
			return
		fi
	done
	die "no pinned version for $1"
}
sha256() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }

{
	echo "# The GraphiQL page's assets, written by scripts/fetch-graphiql.sh: do not edit."
	echo "#"
	echo "# package version tarball-integrity"
} >"$stage/VERSIONS.txt"

for entry in "${packages[@]}"; do
	read -r name version want <<<"$entry"
	mkdir -p "$tmp/$name"
	echo "fetching $name@$version"
	tgz=$(cd "$tmp/$name" && npm pack --ignore-scripts --silent "$name@$version" | tail -n 1)
	[ -f "$tmp/$name/$tgz" ] || die "npm pack $name@$version produced no tarball"
	got=$(sha512 "$tmp/$name/$tgz")
	if [ "$got" != "$want" ]; then
		die "INTEGRITY MISMATCH for $name@$version
  pinned:  $want
  fetched: $got
refusing to use it; nothing was changed"
	fi
	echo "  integrity ok: $got"
	tar -xzf "$tmp/$name/$tgz" -C "$tmp/$name"
	echo "$name $version $want" >>"$stage/VERSIONS.txt"
done

{
	echo "#"
	echo "# file sha256 source"
} >>"$stage/VERSIONS.txt"

for entry in "${files[@]}"; do
	read -r name src out <<<"$entry"
	[ -f "$tmp/$name/$src" ] || die "$name has no $src"
	cp "$tmp/$name/$src" "$stage/$out"
	version=$(version_of "$name")
	echo "$out $(sha256 "$stage/$out") $name@$version:$src" >>"$stage/VERSIONS.txt"
done

if $check; then
	if diff -r "$stage" "$dest" >"$tmp/diff"; then
		echo "web/graphiql/assets matches the pinned packages"
		exit 0
	fi
	cat "$tmp/diff" >&2
	die "web/graphiql/assets differs from the pinned packages; run $0"
fi

mkdir -p "$dest"
find "$dest" -mindepth 1 -maxdepth 1 -type f -delete
cp "$stage"/* "$dest"/
echo "wrote $(find "$dest" -type f | wc -l) files to web/graphiql/assets"
