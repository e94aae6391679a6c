// Package apptest is the kit the end-to-end tests share: the whole app
// behind httptest on each database engine, clients that check every REST
// exchange against the OpenAPI document, and the helpers that tests of
// more than one transport (app/, rest/, graph/) use. It lives outside any
// _test.go file so that the external test packages of rest and graph can
// import it.
package apptest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"accountd/app"
	"accountd/db/dbtest"
	"accountd/secret"
)

// NoRateLimit is a configure function with per-IP rate limits off, then
// extra (if not nil): every test client comes from 127.0.0.1, so tests that
// sign up or sign in many times would otherwise be throttled by limits that
// are not what they test.
func NoRateLimit(extra func(*app.Config)) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.RateLimit = false
		if extra != nil {
			extra(cfg)
		}
	}
}

// FastArgon2 is the password-hashing cost the kit's servers use unless a
// test sets another: the tests create many accounts, and the production
// cost (secret.DefaultArgon2) would make them slow without checking more.
// A test about the hashing cost sets cfg.Argon2 explicitly.
func FastArgon2() secret.Argon2Params {
	return secret.Argon2Params{MemoryKiB: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Server is the whole server on a real database behind httptest, so that
// end-to-end tests exercise the same wiring (middleware, routing, storage)
// an operator runs.
type Server struct {
	*httptest.Server
	App  *app.App
	logs *lockedWriter
	// openAPI loads, once, the checker the clients validate REST traffic
	// with (openapi.go).
	openAPI func() (*OpenAPIChecker, error)
}

// OpenAPI returns the checker this server's clients validate REST traffic
// with, so a test can ask which documented answers it has seen.
func (ts *Server) OpenAPI() (*OpenAPIChecker, error) { return ts.openAPI() }

// LogText returns everything the server has logged so far.
func (ts *Server) LogText() string { return ts.logs.String() }

// config is the configuration tests start from: the defaults, as an
// operator who sets nothing would run (NewServer then makes hashing cheap).
func config(t testing.TB, dbURL string) *app.Config {
	t.Helper()
	cfg, err := app.LoadConfig(func(name string) string {
		if name == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// NewServer starts a server on engine e, with cheap password hashing
// (FastArgon2); configure, if not nil, adjusts the configuration first and
// may set cfg.Argon2 back to the production cost. The server and its
// database are closed when t ends.
func NewServer(t testing.TB, e dbtest.Engine, configure func(*app.Config)) *Server {
	t.Helper()
	cfg := config(t, e.URL)
	fast := FastArgon2()
	cfg.Argon2 = &fast
	if configure != nil {
		configure(cfg)
	}
	logs := &lockedWriter{w: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("start server on %s: %v", e.Name, err)
	}
	ts := &Server{Server: httptest.NewServer(a.Handler()), App: a, logs: logs, openAPI: sync.OnceValues(NewOpenAPIChecker)}
	t.Cleanup(func() {
		ts.Close()
		a.Close()
	})
	return ts
}

// EachServer runs fn as a subtest once per engine (SQLite always, PostgreSQL when
// TEST_DATABASE_URL is set), each on a fresh database.
func EachServer(t *testing.T, configure func(*app.Config), fn func(t *testing.T, ts *Server)) {
	t.Helper()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, NewServer(t, e, configure))
		})
	}
}

// RegisterREST signs up a user over REST and returns the signed-in client:
// the quickest way for a test of either transport to get an account.
func (ts *Server) RegisterREST(t testing.TB, username, password string) *Client {
	t.Helper()
	c := ts.Client(t)
	res := c.Do(http.MethodPost, "/api/auth/register", map[string]any{
		"username": username, "email": strings.ToLower(username) + "@example.com",
		"name_first": "Test", "name_last": "User", "password": password,
	})
	if res.Status != http.StatusOK {
		t.Fatalf("register %s: %d %s", username, res.Status, res.Body)
	}
	return c
}

// lockedWriter lets concurrent handlers share the log buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

// MustURL parses raw or fails the test, for URLs the test itself built.
func MustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
