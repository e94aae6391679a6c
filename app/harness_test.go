package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"accountd/app"
	"accountd/db/dbtest"
)

// testServer is the whole server on a real database behind httptest.
type testServer struct {
	*httptest.Server
	App  *app.App
	logs *lockedWriter
	// openAPI loads, once, the checker the clients validate REST traffic
	// with (openapi_check_test.go).
	openAPI func() (*openAPIChecker, error)
}

// LogText returns everything the server has logged so far.
func (ts *testServer) LogText() string { return ts.logs.String() }

// testConfig is the configuration tests start from: the defaults, as an
// operator who sets nothing would run.
func testConfig(t testing.TB, dbURL string) *app.Config {
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

// newServer starts a server on engine e; configure, if not nil, adjusts
// the configuration first.
func newServer(t testing.TB, e dbtest.Engine, configure func(*app.Config)) *testServer {
	t.Helper()
	cfg := testConfig(t, e.URL)
	if configure != nil {
		configure(cfg)
	}
	logs := &lockedWriter{w: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("start server on %s: %v", e.Name, err)
	}
	ts := &testServer{Server: httptest.NewServer(a.Handler()), App: a, logs: logs, openAPI: sync.OnceValues(newOpenAPIChecker)}
	t.Cleanup(func() {
		ts.Close()
		a.Close()
	})
	return ts
}

// eachServer runs fn once per engine (SQLite always, PostgreSQL when
// TEST_DATABASE_URL is set), each on a fresh database.
func eachServer(t *testing.T, configure func(*app.Config), fn func(t *testing.T, ts *testServer)) {
	t.Helper()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, newServer(t, e, configure))
		})
	}
}

// client is one browser or script: it keeps cookies, and optionally sends
// an Authorization header.
type client struct {
	t      testing.TB
	ts     *testServer
	http   *http.Client
	Bearer string
	// Header is added to every request (e.g. User-Agent, X-Forwarded-For).
	Header http.Header
	// skipOpenAPI, when set, says why requests are not checked against
	// the OpenAPI document (see withoutOpenAPI).
	skipOpenAPI string
}

func (ts *testServer) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, ts: ts, http: &http.Client{Jar: jar, Transport: &openAPITransport{t: t, ts: ts}}, Header: http.Header{}}
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Errors returns the "errors" list of a REST error body.
func (r *response) Errors(t testing.TB) []string {
	t.Helper()
	var b struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("not an error body: %v\n%s", err, r.Body)
	}
	return b.Errors
}

// raw sends a request with a literal body and content type ("" = none).
func (c *client) raw(method, path, contentType string, body io.Reader) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.ts.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	res, err := c.http.Do(c.markOpenAPI(req))
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// do sends body (nil for none) as JSON.
func (c *client) do(method, path string, body any) *response {
	c.t.Helper()
	if body == nil {
		return c.raw(method, path, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.raw(method, path, "application/json", bytes.NewReader(b))
}

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw []byte
}

// gql posts a GraphQL operation as JSON.
func (c *client) gql(query string, variables map[string]any) *gqlResponse {
	c.t.Helper()
	res := c.do(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": variables})
	out := &gqlResponse{Status: res.Status, Header: res.Header, Raw: res.Body}
	if err := json.Unmarshal(res.Body, out); err != nil {
		c.t.Fatalf("graphql response is not JSON (%d): %v\n%s", res.Status, err, res.Body)
	}
	return out
}

// get walks a path of keys through decoded JSON: get(m, "viewer", "id").
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// registerREST signs up a user over REST and returns the signed-in client.
func (ts *testServer) registerREST(t testing.TB, username, password string) *client {
	t.Helper()
	c := ts.client(t)
	res := c.do(http.MethodPost, "/api/auth/register", map[string]any{
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

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
