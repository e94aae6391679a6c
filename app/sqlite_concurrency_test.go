package app_test

// SQLite under many writers: production runs it as one file shared by every
// request, so concurrent writes must queue on the database's lock instead
// of reaching a client as SQLITE_BUSY or a 500.

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
)

// TestSQLiteConcurrentWriters runs 50 clients at once, each doing several
// rounds of writes through the REST API: sign in (a new session), create an
// API key, edit the profile, create and delete another key, and revoke the
// previous round's session. Every answer must be the expected success, the
// log must show no locking error, and what is left in the database must be
// exactly what the successful writes add up to.
func TestSQLiteConcurrentWriters(t *testing.T) {
	// Not t.Parallel: the test is about writers waiting on the database
	// lock within its busy timeout, and other tests competing for the two
	// CPUs of a small runner would make the wait, not the server, fail it.
	// Two writers per account: each account's sign-ins also share its
	// password-attempt budget, which charges every check in advance, so
	// many simultaneous sign-ins of one account are refused by design.
	const (
		users          = 25
		writersPerUser = 2
		rounds         = 4
	)
	e := dbtest.Engine{Name: "sqlite", URL: "sqlite:" + filepath.Join(t.TempDir(), "panel.db")}
	ts := apptest.NewServer(t, e, func(cfg *app.Config) {
		cfg.RateLimit = false
	})

	type account struct {
		name string
		id   uuid.UUID
		// Tallies of successful writes, to compare with what is stored.
		mu                          sync.Mutex
		sessionsMade, sessionsEnded int
		keysMade, keysDeleted       int
		// lastNames holds each writer's final profile edit: the stored
		// name must be one of them (the last write to commit wins).
		lastNames []string
	}
	accounts := make([]*account, users)
	for i := range accounts {
		name := fmt.Sprintf("writer%02d", i)
		u := apptest.Register(t, ts, name, name+" password")
		// The sign-up's session counts as made.
		accounts[i] = &account{name: name, id: u.ID, sessionsMade: 1}
	}

	var (
		failMu   sync.Mutex
		failures []string
		requests atomic.Int64
	)
	// check records an unexpected answer; the test fails after every
	// writer has finished, so a failure does not stop the load.
	check := func(what string, res *apptest.Response, want int) bool {
		requests.Add(1)
		body := string(res.Body)
		locked := strings.Contains(body, "SQLITE_BUSY") || strings.Contains(body, "database is locked")
		if res.Status == want && !locked {
			return true
		}
		failMu.Lock()
		defer failMu.Unlock()
		failures = append(failures, fmt.Sprintf("%s: %d %s", what, res.Status, body))
		return false
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range users * writersPerUser {
		acc := accounts[w%users]
		wg.Go(func() {
			<-start
			var previous uuid.UUID // the session to revoke next round
			var lastName string
			for round := range rounds {
				tag := fmt.Sprintf("writer %d round %d", w, round)

				c, res := apptest.Login(t, ts, acc.name, acc.name+" password")
				if !check(tag+": login", res, http.StatusOK) {
					return
				}
				acc.mu.Lock()
				acc.sessionsMade++
				acc.mu.Unlock()

				current, ok := sqcCurrentSession(t, c, tag, check)
				if !ok {
					return
				}

				res = c.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{
					"name": fmt.Sprintf("w%02d-r%d-kept", w, round), "user_permissions": []string{"account.infos"},
				})
				if !check(tag+": create key", res, http.StatusOK) {
					return
				}
				acc.mu.Lock()
				acc.keysMade++
				acc.mu.Unlock()

				lastName = fmt.Sprintf("W%02dR%d", w, round)
				res = c.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": lastName})
				if !check(tag+": edit profile", res, http.StatusOK) {
					return
				}

				res = c.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{
					"name": fmt.Sprintf("w%02d-r%d-gone", w, round),
				})
				if !check(tag+": create key to delete", res, http.StatusOK) {
					return
				}
				acc.mu.Lock()
				acc.keysMade++
				acc.mu.Unlock()
				id, _ := apptest.Get(res.JSON(t), "api_key", "uuid").(string)
				res = c.Do(http.MethodDelete, "/api/client/account/api-keys/"+id, nil)
				if !check(tag+": delete key", res, http.StatusOK) {
					return
				}
				acc.mu.Lock()
				acc.keysDeleted++
				acc.mu.Unlock()

				if previous != uuid.Nil {
					res = c.Do(http.MethodDelete, "/api/client/account/sessions/"+previous.String(), nil)
					if !check(tag+": revoke previous session", res, http.StatusOK) {
						return
					}
					acc.mu.Lock()
					acc.sessionsEnded++
					acc.mu.Unlock()
				}
				previous = current
			}
			acc.mu.Lock()
			acc.lastNames = append(acc.lastNames, lastName)
			acc.mu.Unlock()
		})
	}
	close(start)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	logs := ts.LogText()
	for _, bad := range []string{"SQLITE_BUSY", "database is locked", "internal error", "level=ERROR"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the server logged %q:\n%s", bad, sqcLinesWith(logs, bad))
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d requests from %d concurrent writers, every one answered as expected", requests.Load(), users*writersPerUser)

	ctx := context.Background()
	for _, acc := range accounts {
		sessions, err := ts.App.DB.NewSelect().TableExpr("sessions").Where("user_id = ?", acc.id).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := acc.sessionsMade - acc.sessionsEnded; int(sessions) != want {
			t.Errorf("%s: %d sessions stored, want %d (%d made, %d revoked)", acc.name, sessions, want, acc.sessionsMade, acc.sessionsEnded)
		}
		keys, err := ts.App.DB.NewSelect().TableExpr("api_keys").Where("user_id = ?", acc.id).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := acc.keysMade - acc.keysDeleted; int(keys) != want {
			t.Errorf("%s: %d API keys stored, want %d (%d made, %d deleted)", acc.name, keys, want, acc.keysMade, acc.keysDeleted)
		}
		var nameFirst string
		if err := ts.App.DB.NewSelect().TableExpr("users").Column("name_first").Where("id = ?", acc.id).Scan(ctx, &nameFirst); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(acc.lastNames, nameFirst) {
			t.Errorf("%s: name_first %q is none of the writers' last edits %q", acc.name, nameFirst, acc.lastNames)
		}
	}
	if want := users * writersPerUser * rounds * 2; sqcTotal(accounts, func(a *account) int { return a.keysMade }) != want {
		t.Errorf("%d keys made, want %d", sqcTotal(accounts, func(a *account) int { return a.keysMade }), want)
	}
}

// sqcCurrentSession returns the id of the session c signs in with, from
// its own session list (the one marked is_using).
func sqcCurrentSession(t *testing.T, c *apptest.Client, tag string, check func(string, *apptest.Response, int) bool) (uuid.UUID, bool) {
	res := c.Do(http.MethodGet, "/api/client/account/sessions?per_page=100", nil)
	if !check(tag+": list sessions", res, http.StatusOK) {
		return uuid.Nil, false
	}
	data, _ := apptest.Get(res.JSON(t), "sessions", "data").([]any)
	for _, s := range data {
		if using, _ := apptest.Get(s, "is_using").(bool); using {
			id, err := uuid.Parse(fmt.Sprint(apptest.Get(s, "uuid")))
			if err == nil {
				return id, true
			}
		}
	}
	check(tag+": no session marked is_using in the list", &apptest.Response{Status: 0, Body: res.Body}, http.StatusOK)
	return uuid.Nil, false
}

// sqcTotal adds up one tally over every account.
func sqcTotal[T any](xs []T, f func(T) int) int {
	n := 0
	for _, x := range xs {
		n += f(x)
	}
	return n
}

// sqcLinesWith returns the log lines that contain s.
func sqcLinesWith(logs, s string) string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, s) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
