package account_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// saLoginToken stores a two-factor confirmation token of u expiring at
// expires and returns its id.
func saLoginToken(t *testing.T, e *env, u *model.User, expires time.Time) uuid.UUID {
	t.Helper()
	tok := secret.RandomString(48)
	e.secret(tok)
	id := uuid.New()
	err := e.store.CreateLoginToken(e.ctx, &model.LoginToken{ID: id, UserID: u.ID, KeyStart: tok[:16],
		Digest: secret.Digest(tok), Expires: expires.UTC().Truncate(time.Microsecond),
		Created: e.clock.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		t.Fatalf("create login token: %v", err)
	}
	return id
}

// saExists reports whether table holds the row with id.
func saExists(e *env, table string, id uuid.UUID) bool { return e.count(table, "id = ?", id) == 1 }

// saCleanup runs one clean-up pass that must succeed.
func saCleanup(t *testing.T, e *env) account.CleanupResult {
	t.Helper()
	res, err := e.svc.Cleanup(e.ctx)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	return res
}

func TestCleanupRetention(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.SessionDuration = 2 * time.Hour
		cfg.ActivityRetention = 24 * time.Hour
		e := newEnv(t, d, cfg)
		t0 := e.clock.Now()
		at := func(d time.Duration) time.Time { return t0.Add(d) }

		alice := e.register("alice")
		bob := e.register("bob")
		aliceReg, bobReg := saSessionID(t, e, alice.Token), saSessionID(t, e, bob.Token)

		// API keys: live ones that make the events, expired ones, one
		// expiring exactly when the clean-up runs, one expiring later.
		aliceKey, aliceKeyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos}})
		bobKey, bobKeyID := e.newAPIKey(bob.User, keyOpts{UserPerms: []string{model.PermAccountInfos}})
		_, aliceExpired := e.newAPIKey(alice.User, keyOpts{Expires: ptr(at(time.Hour))})
		_, bobExpired := e.newAPIKey(bob.User, keyOpts{Expires: ptr(at(time.Hour))})
		aliceExactTok, aliceExact := e.newAPIKey(alice.User, keyOpts{Expires: ptr(at(25 * time.Hour))})
		aliceLaterTok, aliceLater := e.newAPIKey(alice.User, keyOpts{Expires: ptr(at(48 * time.Hour))})

		// Confirmation tokens.
		aliceOldToken := saLoginToken(t, e, alice.User, at(5*time.Minute))
		bobOldToken := saLoginToken(t, e, bob.User, at(5*time.Minute))
		aliceLiveToken := saLoginToken(t, e, alice.User, at(25*time.Hour+5*time.Minute))
		bobLiveToken := saLoginToken(t, e, bob.User, at(25*time.Hour+5*time.Minute))

		// Events 25 hours old when the clean-up runs.
		saUpdate(t, e, e.keyActor(aliceKey), "AliceOld")
		saUpdate(t, e, e.keyActor(bobKey), "BobOld")

		e.clock.Advance(20 * time.Hour)
		// Events 5 hours old; sessions idle 5 hours.
		saUpdate(t, e, e.keyActor(aliceKey), "AliceNew")
		saUpdate(t, e, e.keyActor(bobKey), "BobNew")
		_, aliceIdle := saSession(t, e, alice.User, "idle", clientIP.String())
		_, bobIdle := saSession(t, e, bob.User, "idle", clientIP.String())

		e.clock.Advance(3 * time.Hour)
		// Idle exactly SESSION_DURATION when the clean-up runs: not past it.
		aliceEdgeTok, aliceEdge := saSession(t, e, alice.User, "edge", clientIP.String())
		e.clock.Advance(30 * time.Minute)
		aliceRecentTok, aliceRecent := saSession(t, e, alice.User, "recent", clientIP.String())
		e.clock.Advance(90 * time.Minute) // t0 + 25 h
		aliceLiveTok, aliceLive := saSession(t, e, alice.User, "live", clientIP.String())
		bobLiveTok, bobLive := saSession(t, e, bob.User, "live", clientIP.String())

		// Events exactly ACTIVITY_RETENTION old (kept) and a microsecond
		// older (deleted).
		keepEdge := saActivity(alice.User, "test:edge-kept", at(time.Hour))
		dropEdge := saActivity(alice.User, "test:edge-dropped", at(time.Hour-time.Microsecond))
		bobDropEdge := saActivity(bob.User, "test:edge-dropped", at(time.Hour-time.Microsecond))
		saInsertActivities(t, e, []dbtest.ActivityRow{keepEdge, dropEdge, bobDropEdge})

		aliceActs := e.activities(alice.User)
		bobActs := e.activities(bob.User)
		if len(aliceActs) != 4 || len(bobActs) != 3 {
			t.Fatalf("events before: alice %d, bob %d; want 4 and 3", len(aliceActs), len(bobActs))
		}

		res := saCleanup(t, e)
		want := account.CleanupResult{APIKeys: 3, LoginTokens: 2, Sessions: 4, Activities: 4}
		if res != want {
			t.Errorf("cleanup = %+v, want %+v", res, want)
		}

		t.Run("Activities", func(t *testing.T) {
			// Newest first: AliceNew (t0+20h), then the kept edge (t0+1h).
			got := e.activities(alice.User)
			if len(got) != 2 || got[0].Event != model.EventAccountUpdate || !got[0].Created.Equal(at(20*time.Hour)) ||
				got[1].ID != keepEdge.ID {
				t.Errorf("alice's events after = %q", saEventNames(got))
			}
			got = e.activities(bob.User)
			if len(got) != 1 || got[0].Event != model.EventAccountUpdate || !got[0].Created.Equal(at(20*time.Hour)) {
				t.Errorf("bob's events after = %q", saEventNames(got))
			}
			for _, id := range []uuid.UUID{dropEdge.ID, bobDropEdge.ID} {
				if saExists(e, "activities", id) {
					t.Errorf("event %s older than the retention kept", id)
				}
			}
			if n := e.count("activities", "created < ?", at(time.Hour)); n != 0 {
				t.Errorf("%d events older than the retention left", n)
			}
		})

		t.Run("Sessions", func(t *testing.T) {
			for _, id := range []uuid.UUID{aliceReg, bobReg, aliceIdle, bobIdle} {
				if saExists(e, "sessions", id) {
					t.Errorf("idle session %s kept", id)
				}
			}
			for _, id := range []uuid.UUID{aliceEdge, aliceRecent, aliceLive, bobLive} {
				if !saExists(e, "sessions", id) {
					t.Errorf("live session %s deleted", id)
				}
			}
			for _, tok := range []string{aliceEdgeTok, aliceRecentTok, aliceLiveTok, bobLiveTok} {
				e.actor(tok)
			}
			for _, tok := range []string{alice.Token, bob.Token} {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
		})

		t.Run("APIKeys", func(t *testing.T) {
			for _, id := range []uuid.UUID{aliceExpired, bobExpired, aliceExact} {
				if saExists(e, "api_keys", id) {
					t.Errorf("expired api key %s kept", id)
				}
			}
			for _, id := range []uuid.UUID{aliceKeyID, bobKeyID, aliceLater} {
				if !saExists(e, "api_keys", id) {
					t.Errorf("live api key %s deleted", id)
				}
			}
			e.keyActor(aliceKey)
			e.keyActor(bobKey)
			e.keyActor(aliceLaterTok)
			_, err := e.svc.Authenticate(e.ctx, bearer(aliceExactTok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
		})

		t.Run("LoginTokens", func(t *testing.T) {
			for _, id := range []uuid.UUID{aliceOldToken, bobOldToken} {
				if saExists(e, "login_tokens", id) {
					t.Errorf("expired login token %s kept", id)
				}
			}
			for _, id := range []uuid.UUID{aliceLiveToken, bobLiveToken} {
				if !saExists(e, "login_tokens", id) {
					t.Errorf("live login token %s deleted", id)
				}
			}
		})

		t.Run("SecondPassDeletesNothing", func(t *testing.T) {
			if res := saCleanup(t, e); res != (account.CleanupResult{}) {
				t.Errorf("second pass = %+v, want nothing", res)
			}
		})

		t.Run("LaterPass", func(t *testing.T) {
			// A day later every remaining event is past the retention and
			// only the sessions used since are live.
			e.clock.Advance(24 * time.Hour)
			freshTok, fresh := saSession(t, e, alice.User, "fresh", clientIP.String())
			res := saCleanup(t, e)
			// AliceNew, BobNew and the kept edge event; the four sessions
			// last used a day ago; the key that expired at t0+48h; the
			// tokens that expired at t0+25h05.
			want := account.CleanupResult{Activities: 3, Sessions: 4, APIKeys: 1, LoginTokens: 2}
			if res != want {
				t.Errorf("cleanup = %+v, want %+v", res, want)
			}
			if n := e.count("activities", ""); n != 0 {
				t.Errorf("%d events left", n)
			}
			if n := e.count("sessions", ""); n != 1 || !saExists(e, "sessions", fresh) {
				t.Errorf("%d sessions left, want the fresh one", n)
			}
			e.actor(freshTok)
			if n := e.count("api_keys", ""); n != 2 || !saExists(e, "api_keys", aliceKeyID) || !saExists(e, "api_keys", bobKeyID) {
				t.Errorf("%d api keys left, want the two without expiry", n)
			}
			if n := e.count("login_tokens", ""); n != 0 {
				t.Errorf("%d login tokens left", n)
			}
		})
	})
}

func TestCleanupDefaultRetention(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.ActivityRetention = 0 // unset: 90 days
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		now := e.clock.Now()
		kept := saActivity(alice.User, "test:kept", now.Add(-90*24*time.Hour))
		dropped := saActivity(alice.User, "test:dropped", now.Add(-90*24*time.Hour-time.Microsecond))
		recent := saActivity(alice.User, "test:recent", now.Add(-89*24*time.Hour))
		saInsertActivities(t, e, []dbtest.ActivityRow{kept, dropped, recent})
		if res := saCleanup(t, e); res != (account.CleanupResult{Activities: 1}) {
			t.Errorf("cleanup = %+v, want one event deleted", res)
		}
		if saExists(e, "activities", dropped.ID) || !saExists(e, "activities", kept.ID) || !saExists(e, "activities", recent.ID) {
			t.Errorf("events after = %q", saEventNames(e.activities(alice.User)))
		}
		// The registration's session is live under the default duration.
		e.actor(alice.Token)
	})
}

// saDeleteHook records how many rows each DELETE statement on a table
// removed.
type saDeleteHook struct {
	mu       sync.Mutex
	table    string
	affected []int64
}

func (h *saDeleteHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h *saDeleteHook) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if ev.Operation() != "DELETE" || ev.Err != nil || ev.Result == nil {
		return
	}
	q := strings.ToLower(ev.Query)
	if !strings.Contains(q, `"`+h.table+`"`) && !strings.Contains(q, " "+h.table+" ") {
		return
	}
	n, err := ev.Result.RowsAffected()
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.affected = append(h.affected, n)
}

func (h *saDeleteHook) take() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.affected
	h.affected = nil
	return out
}

// saCheckBatches checks that the DELETE statements removed n rows in all,
// no more than a batch each.
func saCheckBatches(t *testing.T, what string, stmts []int64, n int) {
	t.Helper()
	var sum int64
	for _, a := range stmts {
		sum += a
		if a > 1000 {
			t.Errorf("%s: one statement deleted %d rows, over the batch of 1000", what, a)
		}
	}
	if sum != int64(n) {
		t.Errorf("%s: statements deleted %d rows in all (%v), want %d", what, sum, stmts, n)
	}
	if need := (n + 999) / 1000; len(stmts) < need {
		t.Errorf("%s: %d delete statements, want at least %d", what, len(stmts), need)
	}
}

func TestCleanupBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		activityHook := &saDeleteHook{table: "activities"}
		sessionHook := &saDeleteHook{table: "sessions"}
		d.AddQueryHook(activityHook)
		d.AddQueryHook(sessionHook)

		cfg := defaultConfig()
		cfg.ActivityRetention = time.Hour
		cfg.SessionDuration = time.Hour
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		bob := e.register("bob")

		for _, n := range []int{2500, 2000, 1000, 999, 1001} {
			t.Run(fmt.Sprintf("Activities%d", n), func(t *testing.T) {
				e.clock.Advance(time.Minute)
				now := e.clock.Now()
				// n old events spread over both users, and a few recent
				// ones that must stay.
				rows := make([]dbtest.ActivityRow, 0, n+3)
				for i := range n {
					u := alice.User
					if i%3 == 0 {
						u = bob.User
					}
					rows = append(rows, saActivity(u, "test:bulk", now.Add(-2*time.Hour-time.Duration(i)*time.Second)))
				}
				var recent []uuid.UUID
				for i := range 3 {
					r := saActivity(alice.User, "test:recent", now.Add(-time.Duration(i)*time.Minute))
					rows = append(rows, r)
					recent = append(recent, r.ID)
				}
				saInsertActivities(t, e, rows)
				activityHook.take()

				res := saCleanup(t, e)
				if res.Activities != n {
					t.Errorf("cleanup reports %d events, want %d", res.Activities, n)
				}
				if left := e.count("activities", "created < ?", now.Add(-time.Hour)); left != 0 {
					t.Errorf("%d old events left", left)
				}
				for _, id := range recent {
					if !saExists(e, "activities", id) {
						t.Errorf("recent event %s deleted", id)
					}
				}
				saCheckBatches(t, "activities", activityHook.take(), n)
			})
		}

		t.Run("Sessions1500", func(t *testing.T) {
			now := e.clock.Advance(2 * time.Hour)
			// The registration sessions are idle too by now.
			idleBefore := e.count("sessions", "last_used < ?", now.Add(-time.Hour))
			var rows []dbtest.SessionRow
			for i := range 1500 {
				tok := secret.RandomString(48)
				at := now.Add(-2*time.Hour - time.Duration(i)*time.Second).UTC().Truncate(time.Microsecond)
				rows = append(rows, dbtest.SessionRow{ID: uuid.New(), UserID: bob.ID, KeyStart: tok[:16],
					Digest: secret.Digest(tok), IP: clientIP.String(), UserAgent: "bulk", LastUsed: at, Created: at})
			}
			for len(rows) > 0 {
				chunk := rows[:min(len(rows), 500)]
				rows = rows[len(chunk):]
				if _, err := e.d.NewInsert().Model(&chunk).Exec(e.ctx); err != nil {
					t.Fatalf("insert sessions: %v", err)
				}
			}
			liveTok, live := saSession(t, e, alice.User, "live", clientIP.String())
			sessionHook.take()

			res := saCleanup(t, e)
			if res.Sessions != 1500+idleBefore {
				t.Errorf("cleanup reports %d sessions, want %d", res.Sessions, 1500+idleBefore)
			}
			if n := e.count("sessions", ""); n != 1 || !saExists(e, "sessions", live) {
				t.Errorf("%d sessions left, want the live one", n)
			}
			e.actor(liveTok)
			saCheckBatches(t, "sessions", sessionHook.take(), 1500+idleBefore)
		})
	})
}

// Counter windows (the per-IP limits' and the account throttles') are
// deleted a day after they started, on both engines, and younger ones are
// kept.
func TestCleanupRateLimitWindows(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		t0 := e.clock.Now()
		for _, h := range []struct {
			key string
			at  time.Time
		}{{"ip:old", t0}, {"taken:old", t0.Add(time.Minute)}, {"taken:young", t0.Add(2 * time.Hour)}} {
			if _, _, err := e.store.Hit(e.ctx, h.key, h.at, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		now := e.clock.Advance(24*time.Hour + 90*time.Second)
		res := saCleanup(t, e)
		if res != (account.CleanupResult{RateLimits: 2}) {
			t.Fatalf("cleanup = %+v, want the two windows older than a day", res)
		}
		for key, want := range map[string]int{"ip:old": 0, "taken:old": 0, "taken:young": 1} {
			// A window as long as the test keeps everything still stored in view.
			if _, n, err := e.store.CountHits(e.ctx, key, now, 48*time.Hour); err != nil || n != want {
				t.Errorf("%s: hits %d, %v; want %d", key, n, err, want)
			}
		}
		if res := saCleanup(t, e); res != (account.CleanupResult{}) {
			t.Errorf("second pass = %+v, want nothing", res)
		}
	})
}

// The budgets of sign-in identifiers that name no account are deleted two
// days after their last use or block, so cycling names grows nothing for
// long; a budget still in use or still blocking is kept.
func TestCleanupUnknownLoginBudgets(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		fail := func(login string) {
			t.Helper()
			_, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, account.LoginInput{User: login, Password: "wrong password"})
			if c := model.ErrorCode(err); c != model.CodeInvalidCredentials && c != model.CodeRateLimited {
				t.Fatalf("login %s: %v", login, err)
			}
		}
		countRows := func() int {
			t.Helper()
			n, err := e.d.NewSelect().Table("login_attempt_counters").Count(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
		fail("ghost-once")
		for range 7 { // a spent budget: blocked, the block doubling
			fail("ghost-blocked")
		}
		e.clock.Advance(47 * time.Hour)
		fail("ghost-recent")
		if res := saCleanup(t, e); res != (account.CleanupResult{}) {
			t.Fatalf("cleanup after 47 h = %+v, want nothing yet", res)
		}
		e.clock.Advance(2 * time.Hour)
		if res := saCleanup(t, e); res != (account.CleanupResult{LoginAttempts: 2}) {
			t.Fatalf("cleanup after 49 h = %+v, want the two stale budgets", res)
		}
		if n := countRows(); n != 1 {
			t.Errorf("%d budgets left, want the recent one", n)
		}
	})
}

// TestCleanupMailTokens: an expired password-reset link and an expired
// address confirmation are deleted; live ones stay.
func TestCleanupMailTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("cleanmail")
		e.resetToken(alice.User)
		e.changeEmail(alice, "cleanmail.new@example.org")
		if n := e.count("password_reset_tokens", "") + e.count("email_verifications", ""); n != 2 {
			t.Fatalf("%d tokens stored, want 2", n)
		}
		if res := saCleanup(t, e); res != (account.CleanupResult{}) {
			t.Fatalf("cleanup of live tokens = %+v, want nothing", res)
		}
		e.clock.Advance(21 * time.Minute)
		if res := saCleanup(t, e); res != (account.CleanupResult{ResetTokens: 1}) {
			t.Fatalf("cleanup after 21 min = %+v, want the reset link", res)
		}
		e.clock.Advance(24 * time.Hour)
		// (The address's reset throttle window, a day old, goes too.)
		if res := saCleanup(t, e); res.EmailVerifications != 1 || res.ResetTokens != 0 {
			t.Fatalf("cleanup after a day = %+v, want the confirmation", res)
		}
		if n := e.count("password_reset_tokens", "") + e.count("email_verifications", ""); n != 0 {
			t.Fatalf("%d tokens left", n)
		}
	})
}
