package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"accountd/db"
	"accountd/web/graphiql"
)

// firstAdminFix is what the start-up warning about the first sign-up
// tells an operator to do instead.
const firstAdminFix = "on a public instance, create the administrator first: " +
	"accountd user create --admin --username NAME --email EMAIL --password-stdin"

// prepare makes d ready to serve and returns why it cannot be written, if
// it cannot. It applies pending migrations, explaining a failure (a role
// without CREATE, a directory that cannot be written). A database that
// cannot be written is not migrated: with migrations pending start-up
// fails, naming the fix; with none, the server starts, says so in an
// ERROR line, and /readyz fails until it can write, so a load balancer
// sends it no traffic while it can still be looked at.
func prepare(ctx context.Context, d *db.DB, logger *slog.Logger) (readOnly error, err error) {
	if werr := d.CheckWritable(ctx); werr != nil {
		if !errors.Is(werr, db.ErrReadOnly) {
			return nil, d.Explain(werr)
		}
		pending, perr := d.Pending(ctx)
		switch {
		case perr != nil:
			return nil, fmt.Errorf("%w (and its schema must be created, which needs writing)", werr)
		case pending > 0:
			return nil, fmt.Errorf("%w (and %d migrations must be applied, which needs writing)", werr, pending)
		}
		logger.ErrorContext(ctx, "database cannot be written: /readyz fails until it can", "error", werr)
		return werr, nil
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		return nil, d.Explain(err)
	}
	// Replicas starting together take turns on the migration lock; the log
	// says which of them applied what (the others apply nothing).
	logger.InfoContext(ctx, "migrations", "applied", len(applied), "versions", strings.Join(applied, ","))
	return nil, nil
}

// LogStart logs what an operator needs once the server listens on addr:
// where the database is (never a password), where to point a browser and
// a client (from APP_URL), and, while no account exists and anyone may
// sign up, that the first to do so becomes an administrator.
func (a *App) LogStart(ctx context.Context, addr string) {
	t := a.DB.Target()
	attrs := []any{"addr", addr, "database", string(t.Dialect)}
	if t.Dialect == db.Postgres {
		attrs = append(attrs, "host", t.Host, "port", t.Port, "dbname", t.Database, "user", t.User)
	} else {
		attrs = append(attrs, "path", t.Path)
	}
	a.Logger.InfoContext(ctx, "listening", attrs...)

	urls := []any{"url", a.publicURL("/"), "graphql", a.publicURL("/graphql")}
	if a.Config.GraphQLIntrospection {
		urls = append(urls, "graphiql", a.publicURL(graphiql.PagePath))
	}
	urls = append(urls, "openapi", a.publicURL("/api/openapi.json"))
	a.Logger.InfoContext(ctx, "endpoints", urls...)
	if !a.appURLReaches(addr) {
		a.Logger.WarnContext(ctx, "APP_URL names this machine but another port: the URLs above will not reach the server",
			"app_url", a.Config.AppURL.String(), "addr", addr, "fix", "set APP_URL to the address browsers use")
	}

	if !a.Config.RegistrationEnabled {
		return
	}
	switch has, err := a.DB.HasUsers(ctx); {
	case err != nil:
		a.Logger.WarnContext(ctx, "cannot tell whether an account exists", "error", err)
	case !has:
		a.Logger.WarnContext(ctx, "no account exists yet: the first one to sign up becomes an administrator", "fix", firstAdminFix)
	}
}

// appURLReaches reports whether APP_URL can be this server listening on
// addr, as far as can be told: an APP_URL on another host may be a proxy
// in front of it, but one on this machine's loopback and another port
// (LISTEN_ADDR changed, APP_URL left at its default) cannot.
func (a *App) appURLReaches(addr string) bool {
	u := a.Config.AppURL
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
	default:
		return true
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	want := u.Port()
	if want == "" {
		want = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return want == port
}

// publicURL is path under APP_URL: what a browser or client should open.
func (a *App) publicURL(path string) string {
	u := *a.Config.AppURL
	u.RawQuery, u.Fragment = "", ""
	return u.JoinPath(path).String()
}
