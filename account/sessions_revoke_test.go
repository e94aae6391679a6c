package account_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestSessionsRevoke(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		current := saSessionID(t, e, alice.Token)
		e.clock.Advance(time.Minute)
		otherTok, other := saSession(t, e, alice.User, "Other Browser/2.0", "192.0.2.44")
		bobTok, bobSession := saSession(t, e, bob.User, "Bob Browser", "192.0.2.45")
		e.clock.Advance(time.Minute)
		a := saActorFrom(t, e, cookie(alice.Token), saOtherIP)

		t.Run("OtherOwnSession", func(t *testing.T) {
			if own, err := e.svc.RevokeSession(e.ctx, a, other); err != nil || own {
				t.Fatalf("revoke another session of the caller's user: own = %v, %v; want false, nil", own, err)
			}
			if n := e.count("sessions", "id = ?", other); n != 0 {
				t.Errorf("revoked session still stored")
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(otherTok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.actor(alice.Token)
			e.actor(bobTok)
			p := saListSessions(t, e, a, saKeyset(100, "", ""))
			saWantIDs(t, "alice's sessions", saSessionIDs(p.Items), []uuid.UUID{current})

			evs := e.events(alice.User, model.EventSessionDelete)
			if len(evs) != 1 {
				t.Fatalf("session:delete events = %d, want 1", len(evs))
			}
			ev := evs[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":"192.0.2.44","user_agent":"Other Browser/2.0"}`, other))
			if ev.IP == nil || *ev.IP != saOtherIP.String() {
				t.Errorf("event ip = %v, want the request's %s", ev.IP, saOtherIP)
			}
			if ev.IsAPI() || ev.APIKeyID != nil || ev.Impersonator != nil {
				t.Errorf("event api key/impersonator = %v/%v", ev.APIKeyID, ev.Impersonator)
			}
			if !ev.Created.Equal(e.clock.Now()) || ev.UserID != alice.ID {
				t.Errorf("event created/user = %v/%s", ev.Created, ev.UserID)
			}
			digest := secret.Digest(otherTok)
			for _, s := range []string{otherTok, otherTok[:16], hex.EncodeToString(digest),
				base64.StdEncoding.EncodeToString(digest), base64.RawURLEncoding.EncodeToString(digest)} {
				if holdsSecret(string(ev.Data), s) {
					t.Errorf("event data %s holds the token or its digest", ev.Data)
				}
			}
		})

		t.Run("ErrAgain", func(t *testing.T) {
			_, err := e.svc.RevokeSession(e.ctx, a, other)
			me := wantErr(t, err, model.CodeNotFound, "session not found")
			if me.Field != "id" {
				t.Errorf("field = %q, want id", me.Field)
			}
			if n := len(e.events(alice.User, model.EventSessionDelete)); n != 1 {
				t.Errorf("session:delete events = %d, want 1", n)
			}
		})

		t.Run("ErrUnknown", func(t *testing.T) {
			for _, id := range []uuid.UUID{uuid.New(), uuid.Nil, uuid.Max, alice.ID} {
				me := wantErr(t, errOf(e.svc.RevokeSession(e.ctx, a, id)), model.CodeNotFound, "session not found")
				if me.Field != "id" {
					t.Errorf("field = %q, want id", me.Field)
				}
			}
		})

		t.Run("ErrOtherUsersSession", func(t *testing.T) {
			bobActs := len(e.activities(bob.User))
			me := wantErr(t, errOf(e.svc.RevokeSession(e.ctx, a, bobSession)), model.CodeNotFound, "session not found")
			if me.Field != "id" {
				t.Errorf("field = %q, want id", me.Field)
			}
			// Also through an API key that holds the permission.
			ka, _ := saKey(t, e, alice.User, model.PermSessionsDelete)
			wantErr(t, errOf(e.svc.RevokeSession(e.ctx, ka, bobSession)), model.CodeNotFound, "session not found")
			if n := e.count("sessions", "id = ?", bobSession); n != 1 {
				t.Error("bob's session deleted")
			}
			if got := e.actor(bobTok); got.Session.ID != bobSession {
				t.Errorf("bob's session authenticates as %s", got.Session.ID)
			}
			if n := len(e.activities(bob.User)); n != bobActs {
				t.Errorf("bob got %d new events", n-bobActs)
			}
			if n := len(e.events(alice.User, model.EventSessionDelete)); n != 1 {
				t.Errorf("alice's session:delete events = %d, want 1", n)
			}
		})

		t.Run("ThroughAPIKey", func(t *testing.T) {
			tok, id := saSession(t, e, alice.User, "revoked by key", "192.0.2.50")
			ka, keyID := saKey(t, e, alice.User, model.PermSessionsDelete)
			if own, err := e.svc.RevokeSession(e.ctx, ka, id); err != nil || own {
				t.Fatalf("revoke through a key: own = %v, %v; want false (a key uses no session), nil", own, err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(tok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			ev := e.events(alice.User, model.EventSessionDelete)[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":"192.0.2.50","user_agent":"revoked by key"}`, id))
			if ev.APIKeyID == nil || *ev.APIKeyID != keyID || !ev.IsAPI() {
				t.Errorf("event api key = %v, want %s", ev.APIKeyID, keyID)
			}
		})

		t.Run("TheRequestsOwnSession", func(t *testing.T) {
			if own, err := e.svc.RevokeSession(e.ctx, a, current); err != nil || !own {
				t.Fatalf("revoke the current session: own = %v, %v; want true (the caller is signed out), nil", own, err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(alice.Token))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			ev := e.events(alice.User, model.EventSessionDelete)[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":%q,"user_agent":%q}`, current.String(), saOtherIP.String(), clientUA))
			if n := e.sessionCount(alice.User); n != 0 {
				t.Errorf("alice has %d sessions, want 0", n)
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
		})
	})
}

func TestSessionsRevokeOthers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		current := saSessionID(t, e, alice.Token)
		var others []string
		for i := range 3 {
			tok, _ := saSession(t, e, alice.User, fmt.Sprintf("other-%d", i), clientIP.String())
			others = append(others, tok)
		}
		bobOther, _ := saSession(t, e, bob.User, "bob-other", clientIP.String())
		e.clock.Advance(time.Minute)

		t.Run("CookieKeepsItsOwn", func(t *testing.T) {
			a := saActorFrom(t, e, cookie(alice.Token), saOtherIP)
			n, err := e.svc.RevokeOtherSessions(e.ctx, a)
			if err != nil {
				t.Fatalf("revoke others: %v", err)
			}
			if n != 3 {
				t.Errorf("deleted = %d, want 3", n)
			}
			p := saListSessions(t, e, a, saKeyset(100, "", ""))
			saWantIDs(t, "left", saSessionIDs(p.Items), []uuid.UUID{current})
			e.actor(alice.Token)
			for _, tok := range others {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
			e.actor(bob.Token)
			e.actor(bobOther)

			evs := e.events(alice.User, model.EventSessionDeleteAll)
			if len(evs) != 1 {
				t.Fatalf("session:delete-all events = %d, want 1", len(evs))
			}
			assertData(t, evs[0], `{"deleted":3}`)
			if evs[0].IsAPI() || evs[0].IP == nil || *evs[0].IP != saOtherIP.String() {
				t.Errorf("event is_api/ip = %v/%v", evs[0].IsAPI(), evs[0].IP)
			}
			if len(e.events(bob.User, model.EventSessionDeleteAll)) != 0 {
				t.Error("event recorded for bob")
			}
		})

		t.Run("CookieNothingElse", func(t *testing.T) {
			n, err := e.svc.RevokeOtherSessions(e.ctx, e.actor(alice.Token))
			if err != nil || n != 0 {
				t.Fatalf("revoke others again = %d, %v; want 0", n, err)
			}
			e.actor(alice.Token)
			if ev := e.events(alice.User, model.EventSessionDeleteAll); len(ev) > 1 {
				assertData(t, ev[0], `{"deleted":0}`)
			}
		})

		t.Run("KeyRevokesAll", func(t *testing.T) {
			extra, _ := saSession(t, e, alice.User, "extra", clientIP.String())
			key, keyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermSessionsDelete}})
			ka := e.keyActor(key)
			n, err := e.svc.RevokeOtherSessions(e.ctx, ka)
			if err != nil {
				t.Fatalf("revoke others: %v", err)
			}
			if n != 2 {
				t.Errorf("deleted = %d, want 2 (every session)", n)
			}
			if c := e.sessionCount(alice.User); c != 0 {
				t.Errorf("alice has %d sessions, want 0", c)
			}
			for _, tok := range []string{alice.Token, extra} {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
			e.keyActor(key) // the key is not a session
			if c := e.sessionCount(bob.User); c != 2 {
				t.Errorf("bob has %d sessions, want 2", c)
			}
			ev := e.events(alice.User, model.EventSessionDeleteAll)[0]
			assertData(t, ev, `{"deleted":2}`)
			if ev.APIKeyID == nil || *ev.APIKeyID != keyID {
				t.Errorf("event api key = %v, want %s", ev.APIKeyID, keyID)
			}
		})
	})
}
