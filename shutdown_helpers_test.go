package main

// The machinery of shutdown_test.go: run serving on a free port, requests
// held in flight by their bodies, and a look at the database pool from
// outside.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/secret"
)

// serveProcess is run serving on a free port, as main runs it.
type serveProcess struct {
	addr   string
	cancel context.CancelFunc
	// stopped is closed when run returns, with runErr.
	stopped chan struct{}
	runErr  error
	logs    *watchedLog
	client  *http.Client
}

// startServe creates the users with the sub-command (password: the name
// and " password"), then starts serving with no drain (SHUTDOWN_DRAIN=0s)
// and returns once the server listens.
func startServe(t *testing.T, dbURL string, shutdownTimeout time.Duration, users ...string) *serveProcess {
	t.Helper()
	return startServeDrain(t, dbURL, shutdownTimeout, 0, users...)
}

// startServeDrain is startServe with SHUTDOWN_DRAIN set to drain.
func startServeDrain(t *testing.T, dbURL string, shutdownTimeout, drain time.Duration, users ...string) *serveProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := testEnv(map[string]string{
		"DATABASE_URL":     dbURL,
		"LISTEN_ADDR":      addr,
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"SHUTDOWN_DRAIN":   drain.String(),
	})
	for _, name := range users {
		var out bytes.Buffer
		create := []string{"user", "create", "--username", name, "--email", name + "@example.com", "--password", name + " password"}
		if err := run(context.Background(), create, env, testIO(&out, &out)); err != nil {
			t.Fatalf("user create: %v\n%s", err, out.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProcess{addr: addr, cancel: cancel, stopped: make(chan struct{}), logs: newWatchedLog(),
		client: &http.Client{Transport: &http.Transport{
			// The body is sent only once the handler asks for it (100
			// Continue), which is how a test knows the request is in flight.
			ExpectContinueTimeout: time.Hour,
			DisableCompression:    true,
		}}}
	go func() {
		defer close(p.stopped)
		p.runErr = run(ctx, []string{"serve"}, env, testIO(io.Discard, p.logs))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.stopped:
		case <-time.After(2 * time.Minute):
		}
		p.client.CloseIdleConnections()
	})
	p.logs.waitFor(t, "msg=listening")
	return p
}

// signIn signs a user in and returns the session cookie header.
func (p *serveProcess) signIn(t *testing.T, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": name, "password": name + " password"})
	res, err := p.client.Post("http://"+p.addr+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	for _, c := range res.Cookies() {
		if c.Name == "calagopus_session" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("sign-in: %d, no session cookie", res.StatusCode)
	return ""
}

// wait waits for run to return, at most the shutdown timeout and a margin
// for a loaded machine.
func (p *serveProcess) wait(t *testing.T, shutdownTimeout time.Duration) error {
	t.Helper()
	select {
	case <-p.stopped:
		return p.runErr
	case <-time.After(shutdownTimeout + 30*time.Second):
		t.Fatalf("run did not return within SHUTDOWN_TIMEOUT (%s) and a margin", shutdownTimeout)
		return nil
	}
}

// probeUntilRefused opens connections until the server refuses one, and
// describes what each got: a /readyz answer while the listener was still
// open, a connection dropped unanswered, and finally the refusal.
func (p *serveProcess) probeUntilRefused(t *testing.T) []string {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			return append(seen, "refused ("+err.Error()+")")
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p.addr)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			seen = append(seen, "dropped unanswered")
		} else {
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/readyz answered %d %s after shutdown began", res.StatusCode, b)
			}
			seen = append(seen, fmt.Sprintf("/readyz %d %s", res.StatusCode, bytes.TrimSpace(b)))
		}
		conn.Close()
	}
	t.Fatalf("new connections still accepted 30s after shutdown began: %v", seen)
	return nil
}

// inFlight is a request whose body the client sends in two halves, the
// second only when told to.
type inFlight struct {
	method, path string
	rest         string
	pw           *io.PipeWriter
	started      chan struct{} // the server asked for the body and got half
	finishOnce   sync.Once
	done         chan struct{}
	check        func(t *testing.T, h http.Header, body []byte)

	status int
	header http.Header
	body   []byte
	err    error
}

// startSlow sends method path with body; the server sees the headers and
// the first half of the body at once, the rest after finish.
func (p *serveProcess) startSlow(t *testing.T, method, path, cookie, body string, check func(*testing.T, http.Header, []byte)) *inFlight {
	t.Helper()
	pr, pw := io.Pipe()
	f := &inFlight{method: method, path: path, rest: body[len(body)/2:], pw: pw,
		started: make(chan struct{}), done: make(chan struct{}), check: check}
	continued := make(chan struct{})
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(continued) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, "http://"+p.addr+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	// A request a test leaves unfinished is abandoned when it ends.
	t.Cleanup(func() { pw.CloseWithError(errors.New("abandoned")) })
	go func() {
		defer close(f.done)
		res, err := p.client.Do(req)
		if err != nil {
			f.err = err
			return
		}
		defer res.Body.Close()
		f.status, f.header = res.StatusCode, res.Header
		f.body, f.err = io.ReadAll(res.Body)
		if f.err == nil && res.ContentLength >= 0 && int64(len(f.body)) != res.ContentLength {
			f.err = fmt.Errorf("body of %d bytes, Content-Length %d", len(f.body), res.ContentLength)
		}
	}()
	go func() {
		select {
		case <-continued:
		case <-f.done:
			return
		}
		// Returns once the transport has taken the half to send it.
		if _, err := io.WriteString(pw, body[:len(body)/2]); err == nil {
			close(f.started)
		}
	}()
	return f
}

// waitStarted waits until the handler is reading the body.
func (f *inFlight) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-f.started:
	case <-f.done:
		t.Fatalf("%s %s ended before the server read its body: %d %v %s", f.method, f.path, f.status, f.err, f.body)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: the server never asked for the body", f.method, f.path)
	}
}

// finish sends the rest of the body.
func (f *inFlight) finish() {
	f.finishOnce.Do(func() {
		go func() {
			io.WriteString(f.pw, f.rest)
			f.pw.Close()
		}()
	})
}

// wait waits for the answer and checks it is a complete success.
func (f *inFlight) wait(t *testing.T) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s %s never ended", f.method, f.path)
	}
	if f.err != nil {
		t.Errorf("%s %s: %v", f.method, f.path, f.err)
		return
	}
	if f.status != http.StatusOK {
		t.Errorf("%s %s: %d %s", f.method, f.path, f.status, f.body)
		return
	}
	f.check(t, f.header, f.body)
}

func checkSignedIn(name string) func(*testing.T, http.Header, []byte) {
	return func(t *testing.T, h http.Header, body []byte) {
		var b struct {
			Type string `json:"type"`
			User struct {
				Username string `json:"username"`
			} `json:"user"`
		}
		if err := json.Unmarshal(body, &b); err != nil || b.Type != "completed" || b.User.Username != name {
			t.Errorf("sign-in of %s answered %s (%v)", name, body, err)
		}
		if !strings.Contains(strings.Join(h.Values("Set-Cookie"), "\n"), "calagopus_session=") {
			t.Errorf("sign-in of %s set no session cookie: %q", name, h.Values("Set-Cookie"))
		}
	}
}

func checkEmptyObject(t *testing.T, _ http.Header, body []byte) {
	if strings.TrimSpace(string(body)) != "{}" {
		t.Errorf("PATCH answered %s, want {}", body)
	}
}

func checkNameFirst(name string) func(*testing.T, http.Header, []byte) {
	return func(t *testing.T, _ http.Header, body []byte) {
		var b struct {
			Data struct {
				UpdateAccount struct {
					User       struct{ NameFirst string } `json:"user"`
					UserErrors []any                      `json:"userErrors"`
				} `json:"updateAccount"`
			} `json:"data"`
			Errors []any `json:"errors"`
		}
		if err := json.Unmarshal(body, &b); err != nil || len(b.Errors) > 0 || len(b.Data.UpdateAccount.UserErrors) > 0 ||
			b.Data.UpdateAccount.User.NameFirst != name {
			t.Errorf("updateAccount answered %s (%v)", body, err)
		}
	}
}

// poolProbe tells from outside whether the server still holds database
// connections: on SQLite, the write-ahead log exists exactly while a
// connection is open (the last one to close checkpoints and deletes it);
// on PostgreSQL, the server lists every connection under its
// application_name.
type poolProbe struct {
	url     string
	walPath string
	pgAdmin *db.DB
	appName string
}

func newPoolProbe(t *testing.T, e dbtest.Engine) *poolProbe {
	t.Helper()
	if e.Name == "sqlite" {
		return &poolProbe{url: e.URL, walPath: strings.TrimPrefix(e.URL, "sqlite:") + "-wal"}
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &poolProbe{appName: "accountd_shutdown_" + strings.ToLower(secret.RandomString(8))}
	q := u.Query()
	q.Set("application_name", p.appName)
	u.RawQuery = q.Encode()
	p.url = u.String()
	p.pgAdmin, err = db.Open(context.Background(), os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.pgAdmin.Close() })
	return p
}

// connections counts the server's open database connections (SQLite: 1
// for "some", 0 for none).
func (p *poolProbe) connections(t *testing.T) int {
	t.Helper()
	if p.pgAdmin == nil {
		if _, err := os.Stat(p.walPath); err == nil {
			return 1
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return 0
	}
	var n int
	err := p.pgAdmin.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", p.appName).
		Scan(context.Background(), &n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (p *poolProbe) wantOpen(t *testing.T) {
	t.Helper()
	if p.connections(t) == 0 {
		t.Fatal("no database connection seen while serving: the pool check below would prove nothing")
	}
}

// wantClosed checks no connection is left. SQLite's is immediate; a
// PostgreSQL backend leaves pg_stat_activity just after its client hangs
// up, so that is waited for.
func (p *poolProbe) wantClosed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := p.connections(t)
		if n == 0 {
			return
		}
		if p.pgAdmin == nil || time.Now().After(deadline) {
			t.Fatalf("%d database connections still open after run returned", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchedLog is the server's log output, which a test can wait on.
type watchedLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchedLog() *watchedLog { return &watchedLog{changed: make(chan struct{})} }

func (w *watchedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
	return w.buf.Write(p)
}

func (w *watchedLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until the log contains s.
func (w *watchedLog) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		found, changed := strings.Contains(w.buf.String(), s), w.changed
		w.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the server never logged %q:\n%s", s, w.String())
		}
	}
}

// getFresh sends GET path on a new connection (with the cookie header, if
// any) and returns the status and body.
func (p *serveProcess) getFresh(t *testing.T, path, cookie string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
