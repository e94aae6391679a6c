package account_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/passkey"
	"accountd/passkey/passkeytest"
)

// TestSecurityKeyRegistration registers ES256 and RS256 credentials with
// the panel's standard base64 and with base64url, and checks the options,
// the list, the stored credential and the activity.
func TestSecurityKeyRegistration(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skalice")
		var ids []string
		for i, tc := range []struct {
			alg passkeytest.Alg
			enc passkeytest.Encoding
		}{{passkeytest.ES256, passkeytest.Std}, {passkeytest.RS256, passkeytest.URL}, {passkeytest.ES256, passkeytest.URL}, {passkeytest.RS256, passkeytest.Std}} {
			name := "key " + string(rune('a'+i))
			reg := e.skBegin(u, name, i == 0)
			o := reg.Options.PublicKey
			if o.User.ID != passkey.Encode(u.ID[:]) || o.User.Name != u.Email || o.User.DisplayName != u.Username || o.RP.ID != "localhost" {
				t.Fatalf("options name the wrong account: %+v", o)
			}
			if len(o.ExcludeCredentials) != i {
				t.Errorf("excludeCredentials has %d entries, want the %d keys registered before", len(o.ExcludeCredentials), i)
			}
			if (o.AuthenticatorSelection.ResidentKey == "required") != (i == 0) {
				t.Errorf("residentKey %q for allow_usernameless_login %v", o.AuthenticatorSelection.ResidentKey, i == 0)
			}
			if !reg.Key.Pending() || reg.Key.Name != name {
				t.Errorf("the create answer's key: %+v", reg.Key)
			}
			cred := passkeytest.NewCredential(tc.alg)
			k, err := e.skFinish(u, reg, &passkeytest.Client{Origin: skOrigin, Encoding: tc.enc, ExtensionsMember: tc.enc == passkeytest.Std}, cred)
			if err != nil {
				t.Fatalf("finish %s: %v", name, err)
			}
			if string(k.CredentialID) != string(cred.ID) || k.Pending() {
				t.Errorf("stored credential %x, want %x", k.CredentialID, cred.ID)
			}
			ids = append(ids, k.ID.String())
		}
		keys := e.skKeys(u)
		if len(keys) != 4 {
			t.Fatalf("listed %d keys, want 4", len(keys))
		}
		for i, k := range keys {
			if k.ID.String() != ids[i] {
				t.Errorf("list order: %d is %s, want %s (oldest first)", i, k.ID, ids[i])
			}
		}
		// A pending key is not listed.
		e.skBegin(u, "pending", false)
		if n := len(e.skKeys(u)); n != 4 {
			t.Errorf("a pending key is listed: %d keys", n)
		}
		// search matches the name literally, ignoring case.
		p, err := e.svc.ListSecurityKeys(e.ctx, e.actor(u.Token), model.ListQuery{Page: 1, PerPage: 10, Search: "KEY B"})
		if err != nil || len(p.Items) != 1 || p.Items[0].Name != "key b" {
			t.Errorf("search: %v %v", p, err)
		}
		created := e.events(u.User, model.EventSecurityKeyCreate)
		if len(created) != 4 {
			t.Fatalf("%d security-key:create events, want 4", len(created))
		}
		assertData(t, created[0], `{"uuid":"`+ids[3]+`","name":"key d"}`)

		// Without discoverable credentials allowed, no resident key is asked for.
		cfg := skConfig()
		cfg.SecurityKeys.AllowDiscoverable = false
		off := e.withConfig(cfg)
		reg, err := off.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(u.Token), account.SecurityKeyRegistrationInput{Name: "nodisc", AllowUsernameless: true})
		if err != nil || reg.Options.PublicKey.AuthenticatorSelection.ResidentKey != "discouraged" || reg.Options.PublicKey.AuthenticatorSelection.RequireResidentKey {
			t.Errorf("discoverable off: %+v %v", reg, err)
		}
	})
}

// TestSecurityKeyRegistrationRefusals: every refusal of create and finish,
// in the contract's order.
func TestSecurityKeyRegistrationRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skbob")
		other := e.register("skcarol")
		begin := func(u *user, name string) error {
			_, err := e.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(u.Token), account.SecurityKeyRegistrationInput{Name: name})
			return err
		}

		t.Run("Validation", func(t *testing.T) {
			wantFields(t, begin(u, "ab"), fe("name", "length is lower than 3"))
			wantFields(t, begin(u, strings.Repeat("x", 32)), fe("name", "length is greater than 31"))
		})
		t.Run("Disabled", func(t *testing.T) {
			off := e.withConfig(defaultConfig())
			_, err := off.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(u.Token), account.SecurityKeyRegistrationInput{Name: "disabled"})
			wantErr(t, err, model.CodeInvalid, "security keys are disabled")
			reg := e.skBegin(u, "disabled-finish", false)
			_, err = off.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), reg.Key.ID, e.skAnswer(browser(), reg, passkeytest.NewCredential(passkeytest.ES256)))
			wantErr(t, err, model.CodeInvalid, "security keys are disabled")
			// Listing, renaming and deleting still work.
			if _, err := off.svc.ListSecurityKeys(e.ctx, e.actor(u.Token), model.ListQuery{Page: 1, PerPage: 10}); err != nil {
				t.Errorf("list with security keys off: %v", err)
			}
			if err := off.svc.DeleteSecurityKey(e.ctx, e.actor(u.Token), reg.Key.ID); err != nil {
				t.Errorf("delete with security keys off: %v", err)
			}
		})
		t.Run("APIKey", func(t *testing.T) {
			key, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermSecurityKeysCreate, model.PermSecurityKeysRead}})
			_, err := e.svc.BeginSecurityKeyRegistration(e.ctx, e.keyActor(key), account.SecurityKeyRegistrationInput{Name: "via key"})
			wantErr(t, err, model.CodeForbidden, "security keys can only be registered from a session")
			reg := e.skBegin(u, "via key 2", false)
			_, err = e.svc.FinishSecurityKeyRegistration(e.ctx, e.keyActor(key), reg.Key.ID, e.skAnswer(browser(), reg, passkeytest.NewCredential(passkeytest.ES256)))
			wantErr(t, err, model.CodeForbidden, "security keys can only be registered from a session")
			weak, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{}})
			_, err = e.svc.ListSecurityKeys(e.ctx, e.keyActor(weak), model.ListQuery{Page: 1, PerPage: 10})
			wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: security-keys.read")
			if _, err := e.svc.ListSecurityKeys(e.ctx, e.keyActor(key), model.ListQuery{Page: 1, PerPage: 10}); err != nil {
				t.Errorf("list through a key with security-keys.read: %v", err)
			}
		})
		t.Run("Frozen", func(t *testing.T) {
			f := e.register("skfrozen")
			_, k := e.skRegister(f, "mine", passkeytest.ES256)
			reg := e.skBegin(f, "pending", false)
			e.setFlags(f.User, true, false)
			wantErr(t, begin(f, "frozen"), model.CodeConflict, "account is frozen")
			_, err := e.skFinish(f, reg, browser(), passkeytest.NewCredential(passkeytest.ES256))
			wantErr(t, err, model.CodeConflict, "account is frozen")
			_, err = e.svc.UpdateSecurityKey(e.ctx, e.actor(f.Token), k.ID, account.UpdateSecurityKeyInput{Name: ptr("renamed")})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			if len(e.skKeys(f)) != 1 {
				t.Error("a frozen account cannot list its keys")
			}
			if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(f.Token), k.ID); err != nil {
				t.Errorf("a frozen account deletes its key: %v", err)
			}
		})
		t.Run("Quota", func(t *testing.T) {
			cfg := skConfig()
			cfg.SecurityKeys.MaxKeys = 2
			q := e.withConfig(cfg)
			qu := e.register("skquota")
			a := q.skBegin(qu, "one", false)
			q.skBegin(qu, "two", false)
			// Pending keys count.
			_, err := q.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(qu.Token), account.SecurityKeyRegistrationInput{Name: "three"})
			wantErr(t, err, model.CodeQuotaExceeded, "maximum number of security keys reached")
			// A pending key of the same name is replaced, not counted twice.
			again := q.skBegin(qu, "one", false)
			if again.Key.ID == a.Key.ID {
				t.Error("the pending key was not replaced")
			}
			if _, err := q.skFinish(qu, a, browser(), passkeytest.NewCredential(passkeytest.ES256)); model.ErrorCode(err) != model.CodeNotFound {
				t.Errorf("finishing the replaced pending key: %v, want not found", err)
			}
		})
		t.Run("QuotaConcurrent", func(t *testing.T) {
			cfg := skConfig()
			cfg.SecurityKeys.MaxKeys = 3
			q := e.withConfig(cfg)
			qu := e.register("skquotac")
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = q.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(qu.Token),
						account.SecurityKeyRegistrationInput{Name: "concurrent " + string(rune('a'+i))})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch model.ErrorCode(err) {
				case "":
					ok++
				case model.CodeQuotaExceeded:
				default:
					t.Errorf("concurrent create: %v", err)
				}
			}
			if ok != 3 || e.count("security_keys", "user_id = ?", qu.ID) != 3 {
				t.Errorf("%d creates succeeded, %d keys stored; want 3 and 3", ok, e.count("security_keys", "user_id = ?", qu.ID))
			}
		})
		t.Run("DuplicateName", func(t *testing.T) {
			e.skRegister(u, "taken", passkeytest.ES256)
			wantErr(t, begin(u, "taken"), model.CodeConflict, "security key with name already exists")
		})
		t.Run("Finish", func(t *testing.T) {
			reg := e.skBegin(u, "finish", false)
			cred := passkeytest.NewCredential(passkeytest.ES256)
			// Another user's key is not found.
			_, err := e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(other.Token), reg.Key.ID, e.skAnswer(browser(), reg, cred))
			wantErr(t, err, model.CodeNotFound, "security key not found")
			_, err = e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), uuid.New(), e.skAnswer(browser(), reg, cred))
			wantErr(t, err, model.CodeNotFound, "security key not found")
			// Each bad answer is refused with one message; the pending key stays.
			for name, c := range map[string]*passkeytest.Client{
				"wrong origin":         {Origin: "https://evil.example"},
				"wrong RP ID":          {Origin: skOrigin, RPID: "evil.example"},
				"no user verification": {Origin: skOrigin, NoUserVerification: true},
				"other challenge":      {Origin: skOrigin, Challenge: passkey.NewChallenge()},
				"a sign-in response":   {Origin: skOrigin, Type: "webauthn.get"},
			} {
				_, err := e.skFinish(u, reg, c, passkeytest.NewCredential(passkeytest.ES256))
				if me := model.AsError(err); me == nil || me.Message != "failed to finish security key registration" {
					t.Errorf("%s: %v", name, err)
				}
			}
			_, err = e.skFinish(u, reg, browser(), passkeytest.NewCredential(passkeytest.EdDSA))
			wantErr(t, err, model.CodeInvalid, "failed to finish security key registration")
			_, err = e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), reg.Key.ID, json.RawMessage(`{"id":"x"}`))
			wantErr(t, err, model.CodeInvalid, "failed to finish security key registration")
			if _, err := e.skFinish(u, reg, browser(), cred); err != nil {
				t.Fatalf("the honest answer after refused ones: %v", err)
			}
			_, err = e.skFinish(u, reg, browser(), passkeytest.NewCredential(passkeytest.ES256))
			wantErr(t, err, model.CodeConflict, "security key already setup")
			// The same credential again, for this user or another: refused.
			_, err = e.skFinish(u, e.skBegin(u, "same credential", false), browser(), cred)
			wantErr(t, err, model.CodeConflict, "security key is already registered")
			_, err = e.skFinish(other, e.skBegin(other, "stolen", false), browser(), cred)
			wantErr(t, err, model.CodeConflict, "security key is already registered")
		})
		t.Run("Expired", func(t *testing.T) {
			reg := e.skBegin(u, "expires", false)
			cred := passkeytest.NewCredential(passkeytest.ES256)
			answer := e.skAnswer(browser(), reg, cred)
			e.clock.Advance(skTimeout + time.Microsecond)
			_, err := e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), reg.Key.ID, answer)
			wantErr(t, err, model.CodeInvalid, "invalid or expired challenge")
			_, err = e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), reg.Key.ID, answer)
			wantErr(t, err, model.CodeNotFound, "security key not found")
			// At the boundary itself it still works.
			reg = e.skBegin(u, "boundary", false)
			e.clock.Advance(skTimeout)
			if _, err := e.skFinish(u, reg, browser(), passkeytest.NewCredential(passkeytest.ES256)); err != nil {
				t.Errorf("at exactly WEBAUTHN_TIMEOUT: %v", err)
			}
		})
	})
}

// TestSecurityKeyUpdateAndDelete: rename and delete, scoped to the owner.
func TestSecurityKeyUpdateAndDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skdave")
		other := e.register("skerin")
		_, k := e.skRegister(u, "laptop", passkeytest.ES256)
		e.skRegister(u, "phone", passkeytest.ES256)
		rename := func(u *user, id uuid.UUID, name *string) error {
			_, err := e.svc.UpdateSecurityKey(e.ctx, e.actor(u.Token), id, account.UpdateSecurityKeyInput{Name: name})
			return err
		}
		wantErr(t, rename(other, k.ID, ptr("mine now")), model.CodeNotFound, "security key not found")
		wantFields(t, rename(u, k.ID, ptr("x")), fe("name", "length is lower than 3"))
		wantErr(t, rename(u, k.ID, ptr("phone")), model.CodeConflict, "security key with name already exists")
		pending := e.skBegin(u, "pending", false)
		wantErr(t, rename(u, pending.Key.ID, ptr("pending 2")), model.CodeInvalid, "security key not setup yet")
		if err := rename(u, k.ID, ptr("work laptop")); err != nil {
			t.Fatal(err)
		}
		if err := rename(u, k.ID, nil); err != nil {
			t.Fatal(err)
		}
		updates := e.events(u.User, model.EventSecurityKeyUpdate)
		if len(updates) != 2 {
			t.Fatalf("%d update events, want 2 (a no-op is recorded too)", len(updates))
		}
		assertData(t, updates[0], `{"uuid":"`+k.ID.String()+`","name":"work laptop"}`)

		if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(other.Token), k.ID); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("another user's delete: %v", err)
		}
		if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(u.Token), pending.Key.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(u.Token), k.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.svc.DeleteSecurityKey(e.ctx, e.actor(u.Token), k.ID), model.CodeNotFound, "security key not found")
		deletes := e.events(u.User, model.EventSecurityKeyDelete)
		if len(deletes) != 1 {
			t.Fatalf("%d delete events, want 1 (none for a pending key)", len(deletes))
		}
		assertData(t, deletes[0], `{"uuid":"`+k.ID.String()+`","name":"work laptop"}`)

		// The last key of an account without a password stays.
		nopw := e.register("sknopw")
		_, a := e.skRegister(nopw, "first", passkeytest.ES256)
		_, b := e.skRegister(nopw, "second", passkeytest.ES256)
		e.setColumn(nopw.User, "password_hash", nil)
		if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(nopw.Token), a.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.svc.DeleteSecurityKey(e.ctx, e.actor(nopw.Token), b.ID), model.CodeConflict,
			"cannot delete the last security key of an account without a password")
		// A pending key of such an account can still go.
		p := e.skBegin(nopw, "pending", false)
		if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(nopw.Token), p.Key.ID); err != nil {
			t.Errorf("deleting a pending key of a password-less account: %v", err)
		}
	})
}

// TestSecurityKeyLogin signs in with and without a username, and checks
// what a sign-in stores and records.
func TestSecurityKeyLogin(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skfrank")
		es, k1 := e.skRegister(u, "es256", passkeytest.ES256)
		rs, k2 := e.skRegister(u, "rs256", passkeytest.RS256)
		nokeys := e.register("skgina")

		// The options allow the account's keys, found by username or e-mail in any case.
		for _, name := range []string{"skfrank", "SKFRANK", "skfrank@example.com", "SkFrank@Example.COM"} {
			ch, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: name})
			if err != nil {
				t.Fatal(err)
			}
			got := ch.Options.PublicKey.AllowCredentials
			if len(got) != 2 || got[0].ID != passkey.Encode(es.ID) || got[1].ID != passkey.Encode(rs.ID) || ch.Options.PublicKey.Extensions != nil {
				t.Errorf("%s: allowCredentials %+v", name, got)
			}
		}
		// An unknown identifier and an account without keys get the same: [].
		for _, name := range []string{"nobody", "nobody@example.com", nokeys.Username} {
			ch, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: name})
			if err != nil || len(ch.Options.PublicKey.AllowCredentials) != 0 || ch.Options.PublicKey.AllowCredentials == nil {
				t.Errorf("%s: %+v %v", name, ch, err)
			}
		}
		_, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{})
		wantFields(t, err, fe("user", "required"))

		for i, tc := range []struct {
			user string
			cred *passkeytest.Credential
			key  *model.SecurityKey
			enc  passkeytest.Encoding
		}{{"skfrank", es, k1, passkeytest.Std}, {"skfrank@example.com", rs, k2, passkeytest.URL}, {"", es, k1, passkeytest.URL}, {"", rs, k2, passkeytest.Std}} {
			res, err := e.skLogin(tc.user, &passkeytest.Client{Origin: skOrigin, Encoding: tc.enc}, tc.cred)
			if err != nil {
				t.Fatalf("sign-in %d: %v", i, err)
			}
			if res.SessionToken == "" || res.DeviceToken == "" || res.User.ID != u.ID || res.TwoFactorRequired() {
				t.Fatalf("sign-in %d: %+v", i, res)
			}
			e.actor(res.SessionToken)
			stored, err := e.store.SecurityKeyByID(e.ctx, u.ID, tc.key.ID)
			if err != nil || stored.SignCount != tc.cred.Counter || stored.LastUsed == nil {
				t.Errorf("sign-in %d: stored counter %d last used %v, want %d: %v", i, stored.SignCount, stored.LastUsed, tc.cred.Counter, err)
			}
		}
		succ := e.events(u.User, model.EventAuthSuccess)
		if len(succ) != 4 {
			t.Fatalf("%d auth:success events, want 4", len(succ))
		}
		assertData(t, succ[0], `{"using":"security-key","uuid":"`+k2.ID.String()+`"}`)

		// The device cookie is the browser's next time.
		ch, _ := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "skfrank"})
		resp, _ := browser().Get(jsonOf(t, ch.Options), es)
		first, err := e.svc.FinishSecurityKeyLogin(e.ctx, model.Client{IP: clientIP}, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(), Credential: resp})
		if err != nil {
			t.Fatal(err)
		}
		e.secret(first.SessionToken, first.DeviceToken)
		ch, _ = e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "skfrank"})
		resp, _ = browser().Get(jsonOf(t, ch.Options), es)
		again, err := e.svc.FinishSecurityKeyLogin(e.ctx, model.Client{IP: clientIP}, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(), Credential: resp, Device: first.DeviceToken})
		if err != nil || again.DeviceToken != first.DeviceToken {
			t.Errorf("a known device's cookie is kept: %v", err)
		}
		e.secret(again.SessionToken)

		// A synced passkey keeps a counter of 0.
		syn := e.register("sksynced")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		cred.Synced = true
		k, err := e.skFinish(syn, e.skBegin(syn, "synced", true), browser(), cred)
		if err != nil || !k.BackupEligible || !k.BackupState {
			t.Fatalf("synced passkey: %+v %v", k, err)
		}
		for range 2 {
			if _, err := e.skLogin("", browser(), cred); err != nil {
				t.Fatalf("synced passkey sign-in: %v", err)
			}
		}
	})
}

// TestSecurityKeyLoginRefusals: replayed and expired challenges, wrong
// origin and RP ID, a cloned authenticator, changed backup eligibility,
// foreign credentials and another user's key, username-less sign-in off,
// and the attempt budget.
func TestSecurityKeyLoginRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skhank")
		cred, k := e.skRegister(u, "key", passkeytest.ES256)
		other := e.register("skida")
		otherCred, _ := e.skRegister(other, "key", passkeytest.ES256)
		client := model.Client{IP: clientIP, UserAgent: clientUA}
		begin := func(user string) *account.SecurityKeyChallenge {
			t.Helper()
			ch, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: user, Discoverable: user == ""})
			if err != nil {
				t.Fatal(err)
			}
			return ch
		}
		finish := func(ch *account.SecurityKeyChallenge, answer json.RawMessage, kind model.CeremonyKind) error {
			res, err := e.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(), Credential: answer, Kind: kind})
			if res != nil {
				e.secret(res.SessionToken, res.DeviceToken)
			}
			return err
		}
		answer := func(ch *account.SecurityKeyChallenge, c *passkeytest.Client, cred *passkeytest.Credential) json.RawMessage {
			t.Helper()
			b, err := c.Get(jsonOf(t, ch.Options), cred)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		reset := func() { tfResetAttempts(t, e, u) }

		t.Run("Replay", func(t *testing.T) {
			ch := begin("skhank")
			a := answer(ch, browser(), cred)
			if err := finish(ch, a, model.CeremonyLogin); err != nil {
				t.Fatal(err)
			}
			wantErr(t, finish(ch, a, model.CeremonyLogin), model.CodeInvalid, "invalid or expired challenge")
			// A failed answer spends the challenge too.
			ch = begin("skhank")
			bad := answer(ch, &passkeytest.Client{Origin: "https://evil.example"}, cred)
			wantErr(t, finish(ch, bad, model.CeremonyLogin), model.CodeInvalid, "failed to finish security key authentication")
			wantErr(t, finish(ch, answer(ch, browser(), cred), model.CeremonyLogin), model.CodeInvalid, "invalid or expired challenge")
			reset()
		})
		t.Run("ConcurrentAnswers", func(t *testing.T) {
			ch := begin("skhank")
			a := answer(ch, browser(), cred)
			errs := make([]error, 6)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = finish(ch, a, "") })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if me := model.AsError(err); me.Message != "invalid or expired challenge" {
					t.Errorf("concurrent answer: %v", err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of 6 answers to one challenge succeeded, want 1", ok)
			}
		})
		t.Run("Expired", func(t *testing.T) {
			ch := begin("skhank")
			a := answer(ch, browser(), cred)
			e.clock.Advance(skTimeout + time.Second)
			wantErr(t, finish(ch, a, model.CeremonyLogin), model.CodeInvalid, "invalid or expired challenge")
			wantErr(t, finish(&account.SecurityKeyChallenge{ID: uuid.New()}, a, ""), model.CodeInvalid, "invalid or expired challenge")
			res, err := e.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: "not-a-uuid", Credential: a})
			if res != nil || model.AsError(err).Message != "invalid or expired challenge" {
				t.Errorf("a malformed challenge id: %v", err)
			}
		})
		t.Run("WrongRoute", func(t *testing.T) {
			ch := begin("")
			wantErr(t, finish(ch, answer(ch, browser(), cred), model.CeremonyLogin), model.CodeInvalid, "invalid or expired challenge")
			ch = begin("skhank")
			wantErr(t, finish(ch, answer(ch, browser(), cred), model.CeremonyDiscoverable), model.CodeInvalid, "invalid or expired challenge")
		})
		t.Run("BadAnswers", func(t *testing.T) {
			for name, c := range map[string]*passkeytest.Client{
				"wrong origin":               {Origin: "https://evil.example"},
				"wrong RP ID":                {Origin: skOrigin, RPID: "evil.example"},
				"no user verification":       {Origin: skOrigin, NoUserVerification: true},
				"changed backup eligibility": {Origin: skOrigin, FlipBackupEligible: true},
			} {
				ch := begin("skhank")
				wantErr(t, finish(ch, answer(ch, c, cred), model.CeremonyLogin), model.CodeInvalid, "failed to finish security key authentication")
				reset()
				_ = name
			}
			ch := begin("skhank")
			wantErr(t, finish(ch, json.RawMessage(`{"type":"public-key"}`), model.CeremonyLogin), model.CodeInvalid, "failed to finish security key authentication")
		})
		t.Run("Cloned", func(t *testing.T) {
			stored, _ := e.store.SecurityKeyByID(e.ctx, u.ID, k.ID)
			before := stored.SignCount
			back := before - 1
			ch := begin("skhank")
			wantErr(t, finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, Counter: &back}, cred), model.CeremonyLogin),
				model.CodeInvalid, "failed to finish security key authentication")
			same := before
			ch = begin("skhank")
			wantErr(t, finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, Counter: &same}, cred), model.CeremonyLogin),
				model.CodeInvalid, "failed to finish security key authentication")
			stored, _ = e.store.SecurityKeyByID(e.ctx, u.ID, k.ID)
			if stored.SignCount != before {
				t.Errorf("a refused counter was stored: %d, want %d", stored.SignCount, before)
			}
			reset()
		})
		t.Run("ForeignCredential", func(t *testing.T) {
			stranger := passkeytest.NewCredential(passkeytest.ES256)
			stranger.UserHandle = u.ID[:]
			ch := begin("skhank")
			wantErr(t, finish(ch, answer(ch, browser(), stranger), model.CeremonyLogin), model.CodeNotFound, "user not found")
			ch = begin("")
			wantErr(t, finish(ch, answer(ch, browser(), stranger), model.CeremonyDiscoverable), model.CodeNotFound, "user not found")
		})
		t.Run("AnotherUsersKey", func(t *testing.T) {
			// A sign-in naming skhank answered with skida's key.
			ch := begin("skhank")
			wantErr(t, finish(ch, answer(ch, browser(), otherCred), model.CeremonyLogin), model.CodeNotFound, "user not found")
			// A username-less answer whose user handle names someone else.
			ch = begin("")
			wantErr(t, finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, UserHandle: u.ID[:]}, otherCred), model.CeremonyDiscoverable),
				model.CodeNotFound, "user not found")
			// No user handle, or a malformed one.
			ch = begin("")
			wantErr(t, finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, UserHandle: []byte{}}, cred), model.CeremonyDiscoverable),
				model.CodeInvalid, "failed to finish security key authentication")
			ch = begin("")
			wantErr(t, finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, UserHandle: []byte("short")}, cred), model.CeremonyDiscoverable),
				model.CodeInvalid, "failed to finish security key authentication")
		})
		t.Run("DeletedBetween", func(t *testing.T) {
			gone, gk := e.skRegister(u, "to delete", passkeytest.ES256)
			ch := begin("skhank")
			a := answer(ch, browser(), gone)
			if err := e.svc.DeleteSecurityKey(e.ctx, e.actor(u.Token), gk.ID); err != nil {
				t.Fatal(err)
			}
			wantErr(t, finish(ch, a, model.CeremonyLogin), model.CodeNotFound, "user not found")
		})
		t.Run("DiscoverableOff", func(t *testing.T) {
			ch := begin("")
			cfg := skConfig()
			cfg.SecurityKeys.AllowDiscoverable = false
			off := e.withConfig(cfg)
			_, err := off.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{Discoverable: true})
			wantErr(t, err, model.CodeInvalid, "usernameless security key login is disabled")
			_, err = off.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(),
				Credential: answer(ch, browser(), cred), Kind: model.CeremonyDiscoverable})
			wantErr(t, err, model.CodeInvalid, "usernameless security key login is disabled")
			// GraphQL's mutation, which takes either ceremony, finds out from the ceremony.
			_, err = off.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(),
				Credential: answer(ch, browser(), cred)})
			wantErr(t, err, model.CodeInvalid, "usernameless security key login is disabled")
			// The username flow is unaffected.
			ch = begin("skhank")
			if _, err := off.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(),
				Credential: answer(ch, browser(), cred), Kind: model.CeremonyLogin}); err != nil {
				t.Errorf("username flow with username-less sign-in off: %v", err)
			}
		})
		t.Run("Disabled", func(t *testing.T) {
			off := e.withConfig(defaultConfig())
			_, err := off.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "skhank"})
			wantErr(t, err, model.CodeInvalid, "security keys are disabled")
			_, err = off.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{Discoverable: true})
			wantErr(t, err, model.CodeInvalid, "security keys are disabled")
			_, err = off.svc.FinishSecurityKeyLogin(e.ctx, client, account.FinishSecurityKeyLoginInput{Challenge: uuid.NewString()})
			wantErr(t, err, model.CodeInvalid, "security keys are disabled")
		})
		t.Run("AttemptBudget", func(t *testing.T) {
			reset()
			// Failed assertions are charged like failed codes: five, then 429.
			for i := range 5 {
				ch := begin("skhank")
				err := finish(ch, answer(ch, &passkeytest.Client{Origin: skOrigin, NoUserVerification: true}, cred), model.CeremonyLogin)
				if model.AsError(err).Message != "failed to finish security key authentication" {
					t.Fatalf("failure %d: %v", i+1, err)
				}
			}
			ch := begin("skhank")
			err := finish(ch, answer(ch, browser(), cred), model.CeremonyLogin)
			if model.ErrorCode(err) != model.CodeRateLimited || !strings.HasPrefix(model.AsError(err).Message, "too many attempts, retry in ") {
				t.Fatalf("sixth answer: %v, want 429 too many attempts", err)
			}
			e.clock.Advance(6 * time.Minute)
			if err := finish(begin("skhank"), nil, ""); model.ErrorCode(err) == model.CodeRateLimited {
				t.Fatalf("after the block: %v", err)
			}
			ch = begin("skhank")
			if err := finish(ch, answer(ch, browser(), cred), model.CeremonyLogin); err != nil {
				t.Errorf("after the block, a right answer: %v", err)
			}
		})
	})
}

// TestSecurityKeyLoginLimitOrder: the per-IP limit is counted after the
// refusals the contract ranks first, against the route's own rule.
func TestSecurityKeyLoginLimitOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		var rules []string
		refuse := false
		e.svc.LimitIP = func(_ context.Context, rule string) error {
			rules = append(rules, rule)
			if refuse {
				return model.Errorf(model.CodeRateLimited, "you are ratelimited, retry in 1s")
			}
			return nil
		}
		e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "x"})                             //nolint:errcheck
		e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{Discoverable: true})                    //nolint:errcheck
		e.svc.FinishSecurityKeyLogin(e.ctx, model.Client{}, account.FinishSecurityKeyLoginInput{Challenge: "x"}) //nolint:errcheck
		e.svc.BeginSecurityKeyCheckpoint(e.ctx, "x")                                                             //nolint:errcheck
		want := []string{account.RateSecurityKeyOptions, account.RateSecurityKeyDiscoverable, account.RateSecurityKey, account.RateCheckpoint}
		if strings.Join(rules, ",") != strings.Join(want, ",") {
			t.Errorf("rules counted %v, want %v", rules, want)
		}
		refuse = true
		_, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "x"})
		if model.ErrorCode(err) != model.CodeRateLimited {
			t.Errorf("over the limit: %v", err)
		}
		// Security keys off, or username-less sign-in off, come first and count nothing.
		rules = nil
		cfg := skConfig()
		cfg.SecurityKeys.AllowDiscoverable = false
		off := e.withConfig(cfg)
		off.svc.LimitIP = e.svc.LimitIP
		_, err = off.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{Discoverable: true})
		wantErr(t, err, model.CodeInvalid, "usernameless security key login is disabled")
		disabled := e.withConfig(defaultConfig())
		disabled.svc.LimitIP = e.svc.LimitIP
		_, err = disabled.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: "x"})
		wantErr(t, err, model.CodeInvalid, "security keys are disabled")
		if len(rules) != 0 {
			t.Errorf("refused before the limit, yet counted: %v", rules)
		}
	})
}

// TestSecurityKeyCheckpoint answers the two-factor checkpoint of a
// password sign-in with a key instead of a code.
func TestSecurityKeyCheckpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		a := tfEnabled(t, e, "skjack")
		cred, k := e.skRegister(a.user, "key", passkeytest.ES256)
		other := e.register("skkate")
		otherCred, _ := e.skRegister(other, "key", passkeytest.ES256)
		client := model.Client{IP: clientIP, UserAgent: clientUA}
		checkpoint := func(tok string, answer json.RawMessage, code string) (*account.LoginResult, error) {
			res, err := e.svc.LoginCheckpoint(e.ctx, client, account.CheckpointInput{ConfirmationToken: tok, PublicKeyCredential: answer, Code: code})
			if res != nil {
				e.secret(res.SessionToken, res.DeviceToken)
			}
			return res, err
		}
		options := func(tok string) []byte {
			t.Helper()
			o, err := e.svc.BeginSecurityKeyCheckpoint(e.ctx, tok)
			if err != nil {
				t.Fatalf("checkpoint options: %v", err)
			}
			return jsonOf(t, o)
		}
		get := func(opts []byte, c *passkeytest.Client, cred *passkeytest.Credential) json.RawMessage {
			t.Helper()
			b, err := c.Get(opts, cred)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}

		tok := tfLoginToken(t, e, a.user)
		o, err := e.svc.BeginSecurityKeyCheckpoint(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if ac := o.PublicKey.AllowCredentials; len(ac) != 1 || ac[0].ID != passkey.Encode(cred.ID) {
			t.Errorf("allowCredentials %+v, want the account's key", ac)
		}
		// A second options request replaces the first challenge.
		opts := options(tok)
		res, err := checkpoint(tok, get(opts, browser(), cred), "")
		if err != nil {
			t.Fatalf("checkpoint with a key: %v", err)
		}
		e.actor(res.SessionToken)
		succ := e.events(a.User, model.EventAuthSuccess)
		assertData(t, succ[0], `{"using":"security-key","uuid":"`+k.ID.String()+`"}`)
		// The token is spent.
		_, err = checkpoint(tok, get(opts, browser(), cred), "")
		wantErr(t, err, model.CodeInvalid, "invalid confirmation token")
		_, err = e.svc.BeginSecurityKeyCheckpoint(e.ctx, tok)
		wantErr(t, err, model.CodeInvalid, "invalid confirmation token")

		// No options asked for: no challenge to answer.
		tok = tfLoginToken(t, e, a.user)
		_, err = checkpoint(tok, get(opts, browser(), cred), "")
		wantErr(t, err, model.CodeInvalid, "invalid or expired challenge")
		// Another user's key, a credential with a code, a cloned
		// authenticator, a challenge replaced by a later options request.
		_, err = checkpoint(tok, get(options(tok), browser(), otherCred), "")
		wantErr(t, err, model.CodeInvalid, "failed to finish security key authentication")
		_, err = checkpoint(tok, get(options(tok), browser(), cred), "123456")
		wantFields(t, err, fe("code", "give either a code or a public_key_credential"))
		back := uint32(0)
		_, err = checkpoint(tok, get(options(tok), &passkeytest.Client{Origin: skOrigin, Counter: &back}, cred), "")
		wantErr(t, err, model.CodeInvalid, "failed to finish security key authentication")
		replaced := options(tok)
		options(tok)
		_, err = checkpoint(tok, get(replaced, browser(), cred), "")
		wantErr(t, err, model.CodeInvalid, "failed to finish security key authentication")
		_, err = checkpoint(tok, get(options(tok), &passkeytest.Client{Origin: skOrigin, NoUserVerification: true}, cred), "")
		wantErr(t, err, model.CodeInvalid, "failed to finish security key authentication")
		// That was the token's fifth attempt: it allows no more.
		_, err = checkpoint(tok, get(options(tok), browser(), cred), "")
		wantErr(t, err, model.CodeInvalid, "invalid confirmation token")
		tfResetAttempts(t, e, a.user)

		// An expired challenge (a shorter WEBAUTHN_TIMEOUT than the token's
		// five minutes).
		cfg := skConfig()
		cfg.SecurityKeys.RelyingParty.Timeout = time.Minute
		short := e.withConfig(cfg)
		tok = tfLoginToken(t, e, a.user)
		o, err = short.svc.BeginSecurityKeyCheckpoint(e.ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute + time.Second)
		_, err = short.svc.LoginCheckpoint(e.ctx, client, account.CheckpointInput{ConfirmationToken: tok, PublicKeyCredential: get(jsonOf(t, o), browser(), cred)})
		wantErr(t, err, model.CodeInvalid, "invalid or expired challenge")

		// Security keys off: the key cannot answer; a code still can.
		off := e.withConfig(defaultConfig())
		tok = tfLoginToken(t, e, a.user)
		_, err = off.svc.BeginSecurityKeyCheckpoint(e.ctx, tok)
		wantErr(t, err, model.CodeInvalid, "security keys are disabled")
		_, err = off.svc.LoginCheckpoint(e.ctx, client, account.CheckpointInput{ConfirmationToken: tok, PublicKeyCredential: json.RawMessage(`{}`)})
		wantErr(t, err, model.CodeInvalid, "security keys are disabled")
		if _, err := tfCheckpoint(e, tok, tfNextCode(t, e, a)); err != nil {
			t.Errorf("a code after a key was refused: %v", err)
		}
	})
}

// TestSecurityKeyCleanup: unfinished registrations and unanswered
// ceremonies older than WEBAUTHN_TIMEOUT are deleted.
func TestSecurityKeyCleanup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("skleo")
		e.skRegister(u, "kept", passkeytest.ES256)
		e.skBegin(u, "stale", false)
		e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{Discoverable: true}) //nolint:errcheck
		res, err := e.svc.Cleanup(e.ctx)
		if err != nil || res.SecurityKeys != 0 || res.Ceremonies != 0 {
			t.Fatalf("fresh ones deleted: %+v %v", res, err)
		}
		e.clock.Advance(skTimeout + time.Second)
		fresh := e.skBegin(u, "fresh", false)
		res, err = e.svc.Cleanup(e.ctx)
		if err != nil || res.SecurityKeys != 1 || res.Ceremonies != 1 {
			t.Fatalf("cleanup: %+v %v, want 1 pending key and 1 ceremony", res, err)
		}
		if e.count("security_keys", "user_id = ?", u.ID) != 2 || e.count("security_keys", "id = ?", fresh.Key.ID) != 1 {
			t.Error("the cleanup deleted a configured or a fresh pending key")
		}
	})
}
