package account_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func (e *env) login(in account.LoginInput) (*account.LoginResult, error) {
	res, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
	if res != nil {
		e.secret(res.SessionToken, res.ConfirmationToken, res.DeviceToken)
	}
	return res, err
}

// mustLogin signs in and checks a session came out of it.
func (e *env) mustLogin(t *testing.T, login, password string) *account.LoginResult {
	t.Helper()
	res, err := e.login(account.LoginInput{User: login, Password: password})
	if err != nil {
		t.Fatalf("login %q: %v", login, err)
	}
	if res.TwoFactorRequired() || res.SessionToken == "" || res.Session == nil {
		t.Fatalf("login %q: result %+v, want a session", login, res)
	}
	return res
}

func TestLogin(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("Alice")
		bob := e.register("bob")

		t.Run("Success", func(t *testing.T) {
			for _, c := range []struct{ name, login string }{
				{"Username", "Alice"},
				{"UsernameLower", "alice"},
				{"UsernameUpper", "ALICE"},
				{"Email", "alice@example.com"},
				{"EmailMixedCase", "ALICE@Example.COM"},
			} {
				t.Run(c.name, func(t *testing.T) {
					before := e.sessionCount(alice.User)
					res := e.mustLogin(t, c.login, alice.Password)
					if res.User.ID != alice.ID || res.Session.UserID != alice.ID {
						t.Fatalf("signed in as %s, want alice", res.User.Username)
					}
					if len(res.SessionToken) != 48 || !secret.IsAlphanumeric(res.SessionToken) {
						t.Errorf("session token %q", res.SessionToken)
					}
					if res.Session.IP != clientIP.String() || res.Session.UserAgent != clientUA {
						t.Errorf("session ip/ua = %q/%q", res.Session.IP, res.Session.UserAgent)
					}
					if a := e.actor(res.SessionToken); a.User.ID != alice.ID || a.Session.ID != res.Session.ID {
						t.Errorf("actor = %+v", a)
					}
					if n := e.sessionCount(alice.User); n != before+1 {
						t.Errorf("sessions = %d, want %d", n, before+1)
					}
				})
			}
		})

		t.Run("ActivityRecorded", func(t *testing.T) {
			acts := e.events(alice.User, model.EventAuthSuccess)
			if len(acts) != 5 {
				t.Fatalf("auth:success events = %d, want 5 (one per login)", len(acts))
			}
			for _, a := range acts {
				assertData(t, a, `{"using":"password"}`)
				if a.IP == nil || *a.IP != clientIP.String() {
					t.Errorf("activity ip = %v", a.IP)
				}
				if a.APIKeyID != nil || a.Impersonator != nil || a.IsAPI() {
					t.Errorf("activity = %+v, want no key/impersonator", a)
				}
				if !a.Created.Equal(testStart) {
					t.Errorf("activity created = %v, want %v", a.Created, testStart)
				}
			}
			if n := len(e.events(bob.User, model.EventAuthSuccess)); n != 0 {
				t.Errorf("bob has %d auth:success events, want 0", n)
			}
		})

		t.Run("Failure", func(t *testing.T) {
			sessionsBefore := e.count("sessions", "")
			activitiesBefore := e.count("activities", "")
			for _, c := range []struct {
				name string
				in   account.LoginInput
			}{
				{"ErrWrongPassword", account.LoginInput{User: "alice", Password: "wrong-password"}},
				{"ErrWrongPasswordByEmail", account.LoginInput{User: "alice@example.com", Password: "wrong-password"}},
				{"ErrPasswordWrongCase", account.LoginInput{User: "alice", Password: strings.ToUpper(alice.Password)}},
				{"ErrOtherUsersPassword", account.LoginInput{User: "alice", Password: bob.Password}},
				{"ErrUnknownUser", account.LoginInput{User: "nobody", Password: alice.Password}},
				{"ErrUnknownEmail", account.LoginInput{User: "nobody@example.com", Password: alice.Password}},
				{"ErrUsernameAsEmail", account.LoginInput{User: "alice@", Password: alice.Password}},
				{"ErrEmptyUser", account.LoginInput{User: "", Password: alice.Password}},
				{"ErrEmptyPassword", account.LoginInput{User: "alice", Password: ""}},
				{"ErrBothEmpty", account.LoginInput{}},
				{"ErrPasswordTooLong", account.LoginInput{User: "alice", Password: strings.Repeat("p", 513)}},
				{"ErrUserTooLong", account.LoginInput{User: strings.Repeat("a", 256), Password: alice.Password}},
			} {
				t.Run(c.name, func(t *testing.T) {
					e.secret(c.in.Password)
					res, err := e.login(c.in)
					me := wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
					if res != nil {
						t.Errorf("result = %+v", res)
					}
					if me.Field != "" || me.Permission != "" {
						t.Errorf("error carries field %q / permission %q: it must not say which part was wrong", me.Field, me.Permission)
					}
					assertNoSecretInError(t, err, c.in.Password, alice.Password)
				})
			}
			if n := e.count("sessions", ""); n != sessionsBefore {
				t.Errorf("sessions = %d after failed logins, want %d", n, sessionsBefore)
			}
			if n := e.count("activities", ""); n != activitiesBefore {
				t.Errorf("activities = %d after failed logins, want %d", n, activitiesBefore)
			}
		})

		t.Run("ErrNoPassword", func(t *testing.T) {
			carol := e.register("carol")
			e.setColumn(carol.User, "password_hash", nil)
			_, err := e.login(account.LoginInput{User: "carol", Password: carol.Password})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
			_, err = e.login(account.LoginInput{User: "carol", Password: "anything-else"})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
		})
	})
}

func TestLoginTwoFactor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		e.setColumn(alice.User, "totp_enabled", true)
		sessions := e.count("sessions", "")
		activities := e.count("activities", "")

		res, err := e.login(account.LoginInput{User: "alice", Password: alice.Password})
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if !res.TwoFactorRequired() {
			t.Fatal("TwoFactorRequired() = false for an account with two-factor enabled")
		}
		tok := res.ConfirmationToken
		if len(tok) != 48 || !secret.IsAlphanumeric(tok) {
			t.Errorf("confirmation token %q: want 48 alphanumerics", tok)
		}
		if res.SessionToken != "" || res.Session != nil {
			t.Errorf("a session came with the confirmation token: %q %+v", res.SessionToken, res.Session)
		}
		if res.User == nil || res.User.ID != alice.ID {
			t.Errorf("user = %+v", res.User)
		}
		if n := e.count("sessions", ""); n != sessions {
			t.Errorf("sessions = %d, want %d: no session before the checkpoint", n, sessions)
		}
		if n := e.count("activities", ""); n != activities+1 {
			t.Errorf("activities = %d, want %d: auth:success belongs to the checkpoint", n, activities+1)
		}
		if got := e.events(alice.User, model.EventAuthCheckpoint); len(got) != 1 {
			t.Errorf("auth:checkpoint events = %d, want 1", len(got))
		}
		var rows []struct {
			KeyStart string    `bun:"key_start"`
			Digest   []byte    `bun:"digest"`
			Expires  time.Time `bun:"expires"`
		}
		if err := d.NewSelect().Table("login_tokens").Column("key_start", "digest", "expires").
			Where("user_id = ?", alice.ID).Scan(e.ctx, &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("login tokens = %d, want 1", len(rows))
		}
		if rows[0].KeyStart != tok[:16] || !secret.DigestEqual(rows[0].Digest, secret.Digest(tok)) {
			t.Error("login token row does not hold the token's prefix and digest")
		}
		if !rows[0].Expires.Equal(testStart.Add(5 * time.Minute)) {
			t.Errorf("login token expires %v, want now + 5 min", rows[0].Expires)
		}
		// The cookie-shaped token is not a session.
		_, err = e.svc.Authenticate(e.ctx, cookie(tok))
		wantErr(t, err, model.CodeUnauthenticated, "invalid session")

		t.Run("ErrWrongPassword", func(t *testing.T) {
			res, err := e.login(account.LoginInput{User: "alice", Password: "wrong-password"})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
			if res != nil {
				t.Errorf("result = %+v", res)
			}
			if n := e.count("login_tokens", ""); n != 1 {
				t.Errorf("login tokens = %d, want 1", n)
			}
		})
	})
}

func TestLoginLegacyHashes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// The production parameters: the "weaker" hash below must be weaker
		// than the current ones, and the upgrade must reach them.
		e := newEnv(t, d, defaultConfig()).withHasher(productionHasher(t))
		alice := e.register("alice")
		legacy, err := bcrypt.GenerateFromPassword([]byte(alice.Password), 4)
		if err != nil {
			t.Fatal(err)
		}
		weak, err := secret.NewPasswordHasher(secret.Argon2Params{MemoryKiB: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
		if err != nil {
			t.Fatal(err)
		}
		weakHash, err := weak.Hash(e.ctx, alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, hash string }{
			{"Bcrypt2a", string(legacy)},
			{"Bcrypt2b", "$2b$" + string(legacy[4:])},
			{"Bcrypt2y", "$2y$" + string(legacy[4:])},
			{"WeakerArgon2id", weakHash},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.setColumn(alice.User, "password_hash", c.hash)
				e.secret(c.hash)

				_, err := e.login(account.LoginInput{User: "alice", Password: "wrong-password"})
				wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
				if h := e.passwordHash(alice.User); h != c.hash {
					t.Fatalf("a failed login changed the hash to %q", h)
				}

				e.mustLogin(t, "alice", alice.Password)
				h := e.passwordHash(alice.User)
				if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
					t.Fatalf("hash after login = %q, want an upgrade to argon2id with the current parameters", h)
				}
				e.secret(h)
				// The upgraded hash verifies, and the upgrade does not repeat.
				e.mustLogin(t, "alice", alice.Password)
				if h2 := e.passwordHash(alice.User); h2 != h {
					t.Errorf("hash changed again on the next login")
				}
			})
		}
	})
}

// Lengths are counted in characters everywhere (validate.go): a password or
// e-mail address accepted at sign-up must also be accepted at login.
func TestLoginMultiByteCredentials(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		t.Run("Password300Chars600Bytes", func(t *testing.T) {
			in := registerInput("multipw")
			in.Password = strings.Repeat("é", 300) // 300 characters: within 8–512
			u := e.registerWith(in)
			_, err := e.login(account.LoginInput{User: "multipw", Password: u.Password})
			if err != nil {
				t.Errorf("login with the password accepted at sign-up (300 characters, 600 bytes): %v", err)
			}
		})
		t.Run("EmailOver255Bytes", func(t *testing.T) {
			in := registerInput("multimail")
			in.Email = strings.Repeat("ü", 120) + "@example.com" // 132 characters, 252 bytes
			e.registerWith(in)
			in2 := registerInput("multimail2")
			in2.Email = strings.Repeat("ü", 150) + "@example.com" // 162 characters, 312 bytes
			u2 := e.registerWith(in2)
			if _, err := e.login(account.LoginInput{User: in.Email, Password: in.Password}); err != nil {
				t.Errorf("login by a 252-byte e-mail: %v", err)
			}
			if _, err := e.login(account.LoginInput{User: in2.Email, Password: u2.Password}); err != nil {
				t.Errorf("login by the e-mail accepted at sign-up (162 characters, 312 bytes): %v", err)
			}
		})
	})
}

func TestLoginAtomic(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		f := e.withStore(&failingStore{Store: e.store, failEvent: model.EventAuthSuccess})
		sessions := e.sessionCount(alice.User)
		res, err := f.login(account.LoginInput{User: "alice", Password: alice.Password})
		if model.ErrorCode(err) != model.CodeInternal {
			t.Fatalf("err = %v, want internal when the activity cannot be recorded", err)
		}
		if me := asError(t, err); len(me.Messages()) != 1 || me.Messages()[0] != "internal server error" {
			t.Errorf("client messages = %q", me.Messages())
		}
		if res != nil {
			t.Errorf("result = %+v", res)
		}
		if n := e.sessionCount(alice.User); n != sessions {
			t.Errorf("sessions = %d, want %d: the session must roll back with the activity", n, sessions)
		}
	})
}

// Every login failure that could reveal whether an account exists costs
// exactly one password verification (a dummy one for unknown accounts), so
// failures take the same time (SECURITY.md).
func TestLoginSameWorkForUnknownUsers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h, err := secret.NewPasswordHasher(secret.DefaultArgon2, 4)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		hashes := 0
		h.OnWait = func(time.Duration) { mu.Lock(); hashes++; mu.Unlock() }
		e := newEnv(t, d, defaultConfig())
		svc := account.New(storesOf(e.store), h, sharedCatalog(t), defaultConfig(), nil)
		svc.Now = e.clock.Now
		e.svc = svc
		alice := e.register("alice")
		nopw := e.register("nopw")
		e.setColumn(nopw.User, "password_hash", nil)
		count := func(f func()) int {
			mu.Lock()
			hashes = 0
			mu.Unlock()
			f()
			mu.Lock()
			defer mu.Unlock()
			return hashes
		}
		for _, c := range []struct {
			name string
			in   account.LoginInput
		}{
			{"WrongPassword", account.LoginInput{User: "alice", Password: "wrong-password"}},
			{"UnknownUser", account.LoginInput{User: "nobody", Password: "wrong-password"}},
			{"UnknownEmail", account.LoginInput{User: "nobody@example.com", Password: "wrong-password"}},
			{"NoPasswordAccount", account.LoginInput{User: "nopw", Password: "wrong-password"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				n := count(func() {
					_, err := e.login(c.in)
					wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
				})
				if n != 1 {
					t.Errorf("%d password verifications, want exactly 1", n)
				}
			})
		}
		t.Run("Success", func(t *testing.T) {
			if n := count(func() { e.mustLogin(t, "alice", alice.Password) }); n != 1 {
				t.Errorf("%d password verifications, want 1", n)
			}
		})
		t.Run("UpdateEmailNoPasswordAccount", func(t *testing.T) {
			tok := e.newSession(nopw.User)
			n := count(func() {
				_, err := e.svc.UpdateEmail(e.ctx, e.actor(tok), account.UpdateEmailInput{Email: "n@example.com", Password: "anything-at-all"})
				wantErr(t, err, model.CodeInvalidPassword, "invalid password")
			})
			if n != 1 {
				t.Errorf("%d password verifications, want 1", n)
			}
		})
	})
}
