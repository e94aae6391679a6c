package account_test

import (
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestRegisterHappyPath(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// The production parameters: the stored hash is checked for them.
		e := newEnv(t, d, defaultConfig()).withHasher(productionHasher(t))
		in := registerInput("Alice")
		in.Email = "Alice@Example.com"
		e.secret(in.Password)
		res, err := e.svc.Register(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		e.secret(res.SessionToken)
		u := res.User

		t.Run("FullUser", func(t *testing.T) {
			if u.ID.String() == "00000000-0000-0000-0000-000000000000" {
				t.Error("user id not set")
			}
			if u.Username != "Alice" || u.Email != "Alice@Example.com" || u.NameFirst != in.NameFirst || u.NameLast != in.NameLast {
				t.Errorf("identity fields = %q %q %q %q", u.Username, u.Email, u.NameFirst, u.NameLast)
			}
			if !u.Admin {
				t.Error("the first user is not an admin")
			}
			if u.Frozen || u.Suspended || u.TOTPEnabled || u.RequireTwoFactor || u.StartOnGroupedServers {
				t.Errorf("flags = %+v, want all false", u)
			}
			if u.Role != nil || u.Avatar != nil || u.TOTPLastUsed != nil {
				t.Errorf("role/avatar/totp_last_used = %v %v %v, want nil", u.Role, u.Avatar, u.TOTPLastUsed)
			}
			if u.Language != "en" || u.ToastPosition != "bottom_right" {
				t.Errorf("language/toast = %q/%q, want en/bottom_right", u.Language, u.ToastPosition)
			}
			if !u.HasPassword() || !strings.HasPrefix(*u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
				t.Errorf("password hash = %v, want argon2id with the default parameters", u.PasswordHash)
			}
			if !u.Created.Equal(testStart) {
				t.Errorf("created = %v, want %v", u.Created, testStart)
			}
			got := e.reload(u)
			if got.Username != u.Username || got.Email != u.Email || !got.Admin || !got.Created.Equal(testStart) ||
				got.Language != "en" || got.ToastPosition != "bottom_right" {
				t.Errorf("stored user = %+v", got)
			}
		})

		t.Run("Session", func(t *testing.T) {
			if res.TwoFactorRequired() || res.ConfirmationToken != "" {
				t.Error("registration asked for two-factor")
			}
			if len(res.SessionToken) != 48 || !secret.IsAlphanumeric(res.SessionToken) {
				t.Fatalf("session token %q: want 48 alphanumerics", res.SessionToken)
			}
			s := res.Session
			if s == nil || s.UserID != u.ID || s.IP != clientIP.String() || s.UserAgent != clientUA ||
				!s.LastUsed.Equal(testStart) || !s.Created.Equal(testStart) {
				t.Fatalf("session = %+v", s)
			}
			if s.KeyStart != res.SessionToken[:16] || !secret.DigestEqual(s.Digest, secret.Digest(res.SessionToken)) {
				t.Error("session stores something other than the token's prefix and digest")
			}
			a := e.actor(res.SessionToken)
			if a.User.ID != u.ID || a.Session.ID != s.ID || !a.User.Admin {
				t.Errorf("actor = %+v / %+v", a.User, a.Session)
			}
			if n := e.sessionCount(u); n != 1 {
				t.Errorf("sessions = %d, want 1", n)
			}
		})

		t.Run("SecondUserNotAdmin", func(t *testing.T) {
			bob := e.register("bob")
			if bob.Admin {
				t.Error("second user is an admin")
			}
			if e.reload(bob.User).Admin {
				t.Error("second user stored as admin")
			}
			if !e.reload(u).Admin {
				t.Error("first user lost admin")
			}
			if a := e.actor(bob.Token); a.User.ID != bob.ID || a.User.Admin {
				t.Errorf("bob's actor = %+v", a.User)
			}
		})
	})
}

func TestRegisterDisabled(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.RegistrationEnabled = false
		e := newEnv(t, d, cfg)
		for name, in := range map[string]account.RegisterInput{
			"Valid":   registerInput("alice"),
			"Invalid": {Username: "a!"},
		} {
			t.Run(name, func(t *testing.T) {
				res, err := e.svc.Register(e.ctx, model.Client{IP: clientIP}, in)
				wantErr(t, err, model.CodeInvalid, "registration is disabled")
				if res != nil {
					t.Errorf("result = %+v, want nil", res)
				}
			})
		}
		if n := e.count("users", ""); n != 0 {
			t.Errorf("users = %d, want 0", n)
		}
	})
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	const (
		lower3     = "length is lower than 3"
		greater15  = "length is greater than 15"
		lower1     = "length is lower than 1"
		greater255 = "length is greater than 255"
		lower8     = "length is lower than 8"
		greater512 = "length is greater than 512"
	)
	rep := strings.Repeat
	email := func(n int) string { // a valid address of n characters
		return rep("e", n-len("@example.com")) + "@example.com"
	}
	cases := []struct {
		name string
		mod  func(in *account.RegisterInput)
		want []model.FieldError // nil: success
	}{
		{"ErrUsernameTooShort", func(in *account.RegisterInput) { in.Username = "ab" }, []model.FieldError{fe("username", lower3)}},
		{"UsernameMinLength", func(in *account.RegisterInput) { in.Username = "abc" }, nil},
		{"UsernameMaxLength", func(in *account.RegisterInput) { in.Username = "abcdefghijklm_5" }, nil},
		{"ErrUsernameTooLong", func(in *account.RegisterInput) { in.Username = "abcdefghijklmn_6" }, []model.FieldError{fe("username", greater15)}},
		{"ErrUsernameEmpty", func(in *account.RegisterInput) { in.Username = "" }, []model.FieldError{fe("username", lower3), fe("username", msgUsernamePattern)}},
		{"ErrUsernamePattern", func(in *account.RegisterInput) { in.Username = "bad name!" }, []model.FieldError{fe("username", msgUsernamePattern)}},
		{"ErrUsernameTooShortAndPattern", func(in *account.RegisterInput) { in.Username = "a!" }, []model.FieldError{fe("username", lower3), fe("username", msgUsernamePattern)}},
		{"ErrUsernameTooLongAndPattern", func(in *account.RegisterInput) { in.Username = "this-is-far-too-long" }, []model.FieldError{fe("username", greater15), fe("username", msgUsernamePattern)}},
		{"ErrUsernameDash", func(in *account.RegisterInput) { in.Username = "al-ice" }, []model.FieldError{fe("username", msgUsernamePattern)}},
		{"ErrUsernameAt", func(in *account.RegisterInput) { in.Username = "al@ice" }, []model.FieldError{fe("username", msgUsernamePattern)}},
		{"ErrUsernameTrailingNewline", func(in *account.RegisterInput) { in.Username = "alice\n" }, []model.FieldError{fe("username", msgUsernamePattern)}},
		// 13 characters, 26 bytes: only the pattern fails, the length is counted in characters.
		{"ErrUsernameMultiBytePatternOnly", func(in *account.RegisterInput) { in.Username = rep("ñ", 13) }, []model.FieldError{fe("username", msgUsernamePattern)}},
		{"ErrUsernameMultiByteTooShort", func(in *account.RegisterInput) { in.Username = "日本" }, []model.FieldError{fe("username", lower3), fe("username", msgUsernamePattern)}},

		{"ErrNameFirstEmpty", func(in *account.RegisterInput) { in.NameFirst = "" }, []model.FieldError{fe("name_first", lower1)}},
		{"NameFirstOneChar", func(in *account.RegisterInput) { in.NameFirst = "A" }, nil},
		{"NameFirstMaxLength", func(in *account.RegisterInput) { in.NameFirst = rep("a", 255) }, nil},
		{"ErrNameFirstTooLong", func(in *account.RegisterInput) { in.NameFirst = rep("a", 256) }, []model.FieldError{fe("name_first", greater255)}},
		{"NameFirstMaxLengthMultiByte", func(in *account.RegisterInput) { in.NameFirst = rep("é", 255) }, nil},
		{"ErrNameFirstTooLongMultiByte", func(in *account.RegisterInput) { in.NameFirst = rep("é", 256) }, []model.FieldError{fe("name_first", greater255)}},
		{"ErrNameLastEmpty", func(in *account.RegisterInput) { in.NameLast = "" }, []model.FieldError{fe("name_last", lower1)}},
		{"NameLastOneChar", func(in *account.RegisterInput) { in.NameLast = "Z" }, nil},
		{"NameLastMaxLengthEmoji", func(in *account.RegisterInput) { in.NameLast = rep("😀", 255) }, nil},
		{"ErrNameLastTooLong", func(in *account.RegisterInput) { in.NameLast = rep("z", 256) }, []model.FieldError{fe("name_last", greater255)}},
		{"ErrNameLastTooLongEmoji", func(in *account.RegisterInput) { in.NameLast = rep("😀", 256) }, []model.FieldError{fe("name_last", greater255)}},

		{"ErrPasswordTooShort", func(in *account.RegisterInput) { in.Password = "abcdefg" }, []model.FieldError{fe("password", lower8)}},
		{"PasswordMinLength", func(in *account.RegisterInput) { in.Password = "abcdefgh" }, nil},
		{"PasswordMaxLength", func(in *account.RegisterInput) { in.Password = rep("p", 512) }, nil},
		{"ErrPasswordTooLong", func(in *account.RegisterInput) { in.Password = rep("p", 513) }, []model.FieldError{fe("password", greater512)}},
		{"ErrPasswordEmpty", func(in *account.RegisterInput) { in.Password = "" }, []model.FieldError{fe("password", lower8)}},
		// 7 characters but 14 bytes: still too short.
		{"ErrPasswordTooShortMultiByte", func(in *account.RegisterInput) { in.Password = rep("é", 7) }, []model.FieldError{fe("password", lower8)}},
		{"PasswordMinLengthMultiByte", func(in *account.RegisterInput) { in.Password = rep("é", 8) }, nil},
		{"ErrPasswordTooLongMultiByte", func(in *account.RegisterInput) { in.Password = rep("é", 513) }, []model.FieldError{fe("password", greater512)}},

		{"ErrEmailEmpty", func(in *account.RegisterInput) { in.Email = "" }, []model.FieldError{fe("email", lower1)}},
		{"ErrEmailNoAt", func(in *account.RegisterInput) { in.Email = "plainaddress" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailNoLocalPart", func(in *account.RegisterInput) { in.Email = "@example.com" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailDotlessDomain", func(in *account.RegisterInput) { in.Email = "a@localhost" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailDisplayName", func(in *account.RegisterInput) { in.Email = "Alice <a@example.com>" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailLeadingSpace", func(in *account.RegisterInput) { in.Email = " a@example.com" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailTrailingSpace", func(in *account.RegisterInput) { in.Email = "a@example.com " }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailDoubleAt", func(in *account.RegisterInput) { in.Email = "a@@example.com" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"ErrEmailTwoAddresses", func(in *account.RegisterInput) { in.Email = "a@example.com, b@example.com" }, []model.FieldError{fe("email", msgInvalidEmail)}},
		{"EmailMaxLength", func(in *account.RegisterInput) { in.Email = email(255) }, nil},
		{"ErrEmailTooLong", func(in *account.RegisterInput) { in.Email = email(256) }, []model.FieldError{fe("email", greater255)}},

		{"ErrEverything", func(in *account.RegisterInput) { *in = account.RegisterInput{} }, []model.FieldError{
			fe("username", lower3), fe("username", msgUsernamePattern), fe("email", lower1),
			fe("name_first", lower1), fe("name_last", lower1), fe("password", lower8)}},
		{"ErrSeveralFields", func(in *account.RegisterInput) {
			in.Username, in.Email, in.NameLast, in.Password = "x", "nope", rep("n", 256), rep("p", 513)
		}, []model.FieldError{
			fe("username", lower3), fe("email", msgInvalidEmail), fe("name_last", greater255), fe("password", greater512)}},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		e.register("first") // the admin; the cases below register ordinary users
		created := 1
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := registerInput("user" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
				c.mod(&in)
				before := e.count("users", "")
				res, err := e.svc.Register(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
				if c.want == nil {
					if err != nil {
						t.Fatalf("register: %v", err)
					}
					created++
					e.secret(in.Password, res.SessionToken)
					if res.User.Username != in.Username || res.User.Email != in.Email ||
						res.User.NameFirst != in.NameFirst || res.User.NameLast != in.NameLast || res.User.Admin {
						t.Errorf("user = %+v", res.User)
					}
					got := e.reload(res.User)
					if got.NameFirst != in.NameFirst || got.NameLast != in.NameLast || got.Email != in.Email ||
						!utf8.ValidString(got.NameFirst) || !utf8.ValidString(got.NameLast) {
						t.Errorf("stored user = %q %q %q", got.NameFirst, got.NameLast, got.Email)
					}
					e.actor(res.SessionToken)
					return
				}
				wantFields(t, err, c.want...)
				if res != nil {
					t.Errorf("result = %+v, want nil", res)
				}
				assertNoSecretInError(t, err, in.Password)
				if n := e.count("users", ""); n != before {
					t.Errorf("users = %d after a refused sign-up, want %d", n, before)
				}
			})
		}
		if n := e.count("users", ""); n != created {
			t.Errorf("users = %d, want %d", n, created)
		}
		if n := e.count("sessions", ""); n != created {
			t.Errorf("sessions = %d, want %d", n, created)
		}
	})
}

func TestRegisterDuplicate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("Alice")
		for _, c := range []struct {
			name string
			mod  func(in *account.RegisterInput)
		}{
			{"ErrSameUsername", func(in *account.RegisterInput) { in.Username = "Alice" }},
			{"ErrUsernameOtherCase", func(in *account.RegisterInput) { in.Username = "aLICE" }},
			{"ErrSameEmail", func(in *account.RegisterInput) { in.Email = alice.Email }},
			{"ErrEmailOtherCase", func(in *account.RegisterInput) { in.Email = "ALICE@example.COM" }},
			{"ErrBoth", func(in *account.RegisterInput) { in.Username, in.Email = "ALICE", "alice@EXAMPLE.com" }},
		} {
			t.Run(c.name, func(t *testing.T) {
				in := registerInput("carol")
				c.mod(&in)
				e.secret(in.Password)
				res, err := e.svc.Register(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
				wantErr(t, err, model.CodeInvalid, "user with username or email already exists")
				if res != nil {
					t.Errorf("result = %+v", res)
				}
				assertNoSecretInError(t, err, in.Password)
				if n := e.count("users", ""); n != 1 {
					t.Errorf("users = %d, want 1", n)
				}
				if n := e.count("sessions", ""); n != 1 {
					t.Errorf("sessions = %d, want 1: a refused sign-up left a session", n)
				}
			})
		}
		// Nothing about alice changed.
		got := e.reload(alice.User)
		if got.Email != alice.Email || got.Username != "Alice" || got.NameFirst != alice.NameFirst {
			t.Errorf("alice = %+v", got)
		}
	})
}

func TestRegisterConcurrentSameUsername(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		const n = 10
		var (
			wg   sync.WaitGroup
			errs = make([]error, n)
			ress = make([]*account.LoginResult, n)
		)
		for i := range n {
			in := registerInput("racer")
			in.Email = "racer" + string(rune('a'+i)) + "@example.com"
			e.secret(in.Password)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ress[i], errs[i] = e.svc.Register(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				e.secret(ress[i].SessionToken)
				if !ress[i].User.Admin {
					t.Error("the only user is not an admin")
				}
				continue
			}
			if model.ErrorCode(err) == model.CodeInternal {
				t.Errorf("register %d: internal error %v", i, err)
				continue
			}
			wantErr(t, err, model.CodeInvalid, "user with username or email already exists")
		}
		if ok != 1 {
			t.Fatalf("%d sign-ups succeeded, want exactly 1", ok)
		}
		if c := e.count("users", ""); c != 1 {
			t.Errorf("users = %d, want 1", c)
		}
		if c := e.count("sessions", ""); c != 1 {
			t.Errorf("sessions = %d, want 1", c)
		}
	})
}

func TestRegisterConcurrentFirstUserIsTheOnlyAdmin(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			in := registerInput("first" + string(rune('a'+i)))
			e.secret(in.Password)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var res *account.LoginResult
				res, errs[i] = e.svc.Register(e.ctx, model.Client{IP: clientIP}, in)
				if res != nil {
					e.secret(res.SessionToken)
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("register %d: %v", i, err)
			}
		}
		if admins := e.count("users", "admin = ?", true); admins != 1 {
			t.Errorf("admins = %d, want exactly 1", admins)
		}
	})
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.RegistrationEnabled = false // the operator command ignores the switch
		e := newEnv(t, d, cfg)
		in := registerInput("operator")
		e.secret(in.Password)
		u, err := e.svc.CreateUser(e.ctx, account.CreateUserInput{RegisterInput: in, Admin: true})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !u.Admin || !e.reload(u).Admin {
			t.Error("admin flag not set")
		}
		if n := e.count("sessions", ""); n != 0 {
			t.Errorf("sessions = %d, CreateUser must not sign in", n)
		}
		in2 := registerInput("plain")
		e.secret(in2.Password)
		u2, err := e.svc.CreateUser(e.ctx, account.CreateUserInput{RegisterInput: in2})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if u2.Admin || e.reload(u2).Admin {
			t.Error("second, non-admin user created as admin")
		}
		t.Run("ErrDuplicate", func(t *testing.T) {
			dup := registerInput("OPERATOR")
			dup.Email = "other@example.com"
			_, err := e.svc.CreateUser(e.ctx, account.CreateUserInput{RegisterInput: dup})
			wantErr(t, err, model.CodeConflict, "user with username or email already exists")
		})
		t.Run("ErrValidation", func(t *testing.T) {
			bad := registerInput("ok_name")
			bad.Password = "short"
			_, err := e.svc.CreateUser(e.ctx, account.CreateUserInput{RegisterInput: bad})
			wantFields(t, err, fe("password", "length is lower than 8"))
		})
	})
}
