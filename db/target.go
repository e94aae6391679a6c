package db

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is where a DATABASE_URL points, in the terms start-up logs it and
// errors name it: the absolute path of an SQLite file, or PostgreSQL's
// host, port, database and role. It never holds a password, so it can be
// printed anywhere.
type Target struct {
	Dialect Dialect
	// URL is DATABASE_URL as an operator recognises it: for SQLite as
	// given (a path holds no secret), for PostgreSQL rebuilt from the
	// fields below, without the password and the parameters.
	URL string

	// Path is the SQLite database file, absolute; ":memory:" for an
	// in-memory database.
	Path string
	// Mode is SQLite's mode parameter (ro, rw, rwc) when DATABASE_URL sets
	// one.
	Mode string
	// QueryOnly is true when DATABASE_URL turns SQLite's query_only on.
	QueryOnly bool

	// Host, Port, Database and User are PostgreSQL's; Host may be a Unix
	// socket directory.
	Host     string
	Port     uint16
	Database string
	User     string
}

// Addr is PostgreSQL's host:port.
func (t Target) Addr() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// setting is how an error begins: the variable and what it points at.
func (t Target) setting() string {
	if t.Dialect == Postgres {
		return "DATABASE_URL (" + t.URL + ")"
	}
	return "DATABASE_URL=" + t.URL
}

// postgresURL rebuilds a PostgreSQL URL from its parts, without password
// or parameters.
func postgresURL(host string, port uint16, database, user string) string {
	u := url.URL{Scheme: "postgres", Path: "/" + database}
	if user != "" {
		u.User = url.User(user)
	}
	if strings.HasPrefix(host, "/") {
		// A socket directory: libpq's spelling puts it in the query.
		u.RawQuery = url.Values{"host": {host}}.Encode()
		return u.String()
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(int(port)))
	return u.String()
}

// quoteIdent quotes a PostgreSQL identifier for a statement an operator
// is told to run, only when it needs it.
func quoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
