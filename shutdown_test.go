package main

// A deploy sends SIGTERM: the server must stop accepting, finish what it
// has started, and only then close the database, within SHUTDOWN_TIMEOUT.
// These tests drive the real serve path through run and hold requests in
// flight by uploading their bodies slowly, the way a client on a poor link
// does: the server has read the headers and is inside the handler,
// waiting for the rest of the body, when shutdown begins.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"accountd/db/dbtest"
)

// TestShutdownFinishesInFlightRequests holds ten requests in flight (six
// sign-ins, which then also queue for password hashing at the production
// cost, and profile edits over REST and over GraphQL), stops the server the
// way SIGTERM does, and shows: the listener closes at once, while the
// requests are still running; every one of them then completes with its
// full answer; run returns only after that; and the database pool is
// closed afterwards.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			const timeout = 60 * time.Second // generous: nothing here should come near it
			pool := newPoolProbe(t, e)
			// One account per sign-in: concurrent checks of one account's
			// password share its attempt budget, which is not what this
			// test is about.
			signers := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
			srv := startServe(t, pool.url, timeout, signers...)
			cookie := srv.signIn(t, "alice")

			var flights []*inFlight
			for _, name := range signers {
				flights = append(flights, srv.startSlow(t, http.MethodPost, "/api/auth/login", "",
					fmt.Sprintf(`{"user":%q,"password":%q}`, name, name+" password"), checkSignedIn(name)))
			}
			for i := range 2 {
				name := fmt.Sprintf("Rest%d", i)
				flights = append(flights, srv.startSlow(t, http.MethodPatch, "/api/client/account", cookie,
					fmt.Sprintf(`{"name_first":%q}`, name), checkEmptyObject))
			}
			for i := range 2 {
				name := fmt.Sprintf("Gql%d", i)
				body, _ := json.Marshal(map[string]any{
					"query":     `mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { user { nameFirst } userErrors { message } } }`,
					"variables": map[string]any{"i": map[string]any{"nameFirst": name}},
				})
				flights = append(flights, srv.startSlow(t, http.MethodPost, "/graphql", cookie, string(body), checkNameFirst(name)))
			}
			// Every request is inside its handler, with half its body read.
			for _, f := range flights {
				f.waitStarted(t)
			}
			pool.wantOpen(t)

			srv.cancel() // what SIGTERM does to run's context
			srv.logs.waitFor(t, `msg="shutting down"`)

			probes := srv.probeUntilRefused(t)
			t.Logf("connections after shutdown began: %s", strings.Join(probes, ", "))
			for _, f := range flights {
				select {
				case <-f.done:
					t.Fatalf("%s %s finished before its body was sent: %d %v", f.method, f.path, f.status, f.err)
				default:
				}
			}
			select {
			case <-srv.stopped:
				t.Fatalf("run returned while requests were in flight: %v", srv.runErr)
			default:
			}

			// The clients send the rest of their bodies; the server must
			// still answer every request in full.
			for _, f := range flights {
				f.finish()
			}
			for _, f := range flights {
				f.wait(t)
			}
			if err := srv.wait(t, timeout); err != nil {
				t.Fatalf("run returned %v", err)
			}
			pool.wantClosed(t)

			// The log tells the same story in order: shutdown began, every
			// held request was answered, then the server stopped.
			logs := srv.logs.String()
			begin, stopped := strings.Index(logs, `msg="shutting down"`), strings.Index(logs, "msg=stopped")
			if begin < 0 || stopped < begin {
				t.Fatalf("log lacks shutting down … stopped in order:\n%s", logs)
			}
			drained := 0
			for line := range strings.Lines(logs[begin:stopped]) {
				if strings.Contains(line, "msg=request ") && strings.Contains(line, " status=200 ") {
					drained++
				}
			}
			if drained != len(flights) {
				t.Errorf("%d requests answered between shutting down and stopped, want %d:\n%s", drained, len(flights), logs)
			}
		})
	}
}

// TestShutdownGivesUpAfterTimeout: a request that never finishes does not
// keep the server alive past SHUTDOWN_TIMEOUT. run returns the deadline
// error, the stuck connection is cut, and the pool is closed.
func TestShutdownGivesUpAfterTimeout(t *testing.T) {
	e := dbtest.Engines(t)[0] // SQLite: the engine makes no difference here
	const timeout = time.Second
	pool := newPoolProbe(t, e)
	srv := startServe(t, pool.url, timeout, "alice")

	// Spoken by hand: Go's client does not give up on a request while it
	// is still sending the body, so it could not show the cut.
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	body := `{"user":"alice","password":"alice password"}`
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", srv.addr, len(body))
	r := bufio.NewReader(conn)
	if res, err := http.ReadResponse(r, nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue once the handler reads the body, got %v %v", res, err)
	}
	io.WriteString(conn, body[:len(body)/2]) // and never the rest

	srv.cancel()
	if err := srv.wait(t, timeout); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run returned %v, want the shutdown deadline", err)
	}
	// The connection was closed without an answer: the client learns at
	// once that its request failed instead of holding a connection that
	// nobody will serve.
	if rest, err := io.ReadAll(r); len(rest) > 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("after the deadline the stuck connection got %q (%v), want it closed unanswered", rest, err)
	}
	pool.wantClosed(t)
}

// TestShutdownDrainsBeforeClosing: with SHUTDOWN_DRAIN, SIGTERM first
// fails /readyz while the listener keeps serving everything else, new
// connections included, so a load balancer takes the replica out of
// rotation before any connection is refused; then shutdown goes on as
// without a drain: the listener closes and the request in flight all along
// still completes.
func TestShutdownDrainsBeforeClosing(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			const timeout = 60 * time.Second // generous: nothing here should come near it
			const drain = time.Second        // short: the test waits it out
			pool := newPoolProbe(t, e)
			srv := startServeDrain(t, pool.url, timeout, drain, "alice")
			cookie := srv.signIn(t, "alice")
			if status, body := srv.getFresh(t, "/readyz", ""); status != http.StatusOK {
				t.Fatalf("/readyz before shutdown: %d %s", status, body)
			}
			flight := srv.startSlow(t, http.MethodPatch, "/api/client/account", cookie, `{"name_first":"Drained"}`, checkEmptyObject)
			flight.waitStarted(t)

			began := time.Now()
			srv.cancel() // what SIGTERM does to run's context
			srv.logs.waitFor(t, "msg=draining")

			// During the drain, each on a new connection: not ready, yet
			// serving.
			if status, body := srv.getFresh(t, "/readyz", ""); status != http.StatusServiceUnavailable {
				t.Errorf("/readyz during the drain: %d %s, want 503", status, body)
			}
			if status, body := srv.getFresh(t, "/healthz", ""); status != http.StatusOK {
				t.Errorf("/healthz during the drain: %d %s, want 200", status, body)
			}
			if status, body := srv.getFresh(t, "/api/client/account", cookie); status != http.StatusOK || !strings.Contains(body, `"username":"alice"`) {
				t.Errorf("GET /api/client/account during the drain: %d %s, want 200 and the account", status, body)
			}
			if strings.Contains(srv.logs.String(), `msg="shutting down"`) {
				t.Fatalf("the drain of %s ended before the checks above were answered (a slow machine?): they prove nothing", drain)
			}

			// After it: the listener closes, not before the drain is over.
			srv.logs.waitFor(t, `msg="shutting down"`)
			if elapsed := time.Since(began); elapsed < drain {
				t.Errorf("shutdown began %s after the signal, before the drain of %s was over", elapsed, drain)
			}
			probes := srv.probeUntilRefused(t)
			t.Logf("connections after the drain: %s", strings.Join(probes, ", "))
			select {
			case <-flight.done:
				t.Fatalf("the request in flight finished before its body was sent: %d %v", flight.status, flight.err)
			default:
			}
			flight.finish()
			flight.wait(t)
			if err := srv.wait(t, timeout); err != nil {
				t.Fatalf("run returned %v", err)
			}
			pool.wantClosed(t)

			logs := srv.logs.String()
			draining, shutting, stopped := strings.Index(logs, "msg=draining"), strings.Index(logs, `msg="shutting down"`), strings.Index(logs, "msg=stopped")
			if draining < 0 || shutting < draining || stopped < shutting {
				t.Errorf("log lacks draining … shutting down … stopped in order:\n%s", logs)
			}
		})
	}
}
