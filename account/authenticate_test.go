package account_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestAuthenticateMissing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		for name, c := range map[string]account.Credentials{
			"ErrNothing":           {IP: clientIP},
			"ErrCookieNotFlagged":  {Cookie: secret.RandomString(48), IP: clientIP},
			"ErrHeaderNotFlagged":  {Authorization: "Bearer c7sp_" + secret.RandomString(43), IP: clientIP},
			"ErrNoFlagsAndNoValue": {},
		} {
			t.Run(name, func(t *testing.T) {
				a, err := e.svc.Authenticate(e.ctx, c)
				wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
				if a != nil {
					t.Errorf("authentication = %+v", a)
				}
			})
		}
	})
}

func TestAuthenticateSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.SessionDuration = time.Hour
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		bob := e.register("bob")

		t.Run("Valid", func(t *testing.T) {
			a := e.authenticate(cookie(alice.Token))
			if a.Actor.User.ID != alice.ID || a.Actor.Session == nil || a.Actor.APIKey != nil {
				t.Fatalf("actor = %+v", a.Actor)
			}
			if a.Actor.IP != clientIP || a.Actor.UserAgent != clientUA {
				t.Errorf("actor ip/ua = %v/%q", a.Actor.IP, a.Actor.UserAgent)
			}
			if a.Actor.ViaAPIKey() {
				t.Error("ViaAPIKey() for a session")
			}
		})

		t.Run("MalformedCookie", func(t *testing.T) {
			good := secret.RandomString(48)
			for _, c := range []struct{ name, cookie string }{
				{"ErrEmpty", ""},
				{"ErrShort", good[:47]},
				{"ErrLong", good + "A"},
				{"ErrRealTokenPlusOne", alice.Token + "x"},
				{"ErrRealTokenMinusOne", alice.Token[:47]},
				{"ErrDash", good[:47] + "-"},
				{"ErrSpace", " " + good[1:]},
				{"ErrUnderscore", good[:20] + "_" + good[21:]},
				{"ErrNUL", good[:47] + "\x00"},
				{"ErrMultiByte48Bytes", good[:46] + "é"},
				{"ErrMultiByte48Chars", good[:47] + "é"},
				{"ErrQuoted", `"` + good[:46] + `"`},
			} {
				t.Run(c.name, func(t *testing.T) {
					a, err := e.svc.Authenticate(e.ctx, cookie(c.cookie))
					wantErr(t, err, model.CodeUnauthenticated, "invalid authorization cookie")
					if a != nil {
						t.Errorf("authentication = %+v", a)
					}
				})
			}
		})

		t.Run("UnknownSession", func(t *testing.T) {
			for _, c := range []struct{ name, cookie string }{
				{"ErrRandom", secret.RandomString(48)},
				{"ErrRightPrefixWrongRest", alice.Token[:16] + secret.RandomString(32)},
				{"ErrRightRestWrongPrefix", secret.RandomString(16) + alice.Token[16:]},
				{"ErrOtherCase", strings.ToUpper(alice.Token[:16]) + strings.ToLower(alice.Token[16:])},
			} {
				if c.cookie == alice.Token {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					_, err := e.svc.Authenticate(e.ctx, cookie(c.cookie))
					wantErr(t, err, model.CodeUnauthenticated, "invalid session")
				})
			}
		})

		t.Run("Logout", func(t *testing.T) {
			tok := e.newSession(alice.User)
			other := e.newSession(alice.User)
			a := e.actor(tok)
			if err := e.svc.Logout(e.ctx, a); err != nil {
				t.Fatalf("logout: %v", err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(tok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.actor(other)
			e.actor(alice.Token)
			e.actor(bob.Token)
			// Logging out twice with the stale actor is harmless.
			if err := e.svc.Logout(e.ctx, a); err != nil {
				t.Errorf("second logout: %v", err)
			}
			_, err = e.svc.Authenticate(e.ctx, cookie(tok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
		})

		t.Run("ErrLogoutNoActor", func(t *testing.T) {
			wantErr(t, e.svc.Logout(e.ctx, nil), model.CodeUnauthenticated, "missing authorization")
		})

		t.Run("IdleExpiry", func(t *testing.T) {
			idle := e.newSession(bob.User)
			used := e.newSession(bob.User)
			e.clock.Advance(time.Hour - time.Second)
			a := e.authenticate(cookie(used))
			if !a.RenewCookie {
				t.Error("RenewCookie = false after an hour of idleness")
			}
			e.clock.Advance(2 * time.Second) // the first session is now idle for 1 h 1 s
			_, err := e.svc.Authenticate(e.ctx, cookie(idle))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.authenticate(cookie(used)) // used 2 s ago
			// An expired session stays refused.
			_, err = e.svc.Authenticate(e.ctx, cookie(idle))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
		})
	})
}

func TestAuthenticateDefaultSessionDuration(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.SessionDuration = 0
		e := newEnv(t, d, cfg)
		if got := e.svc.Config().SessionDuration; got != 7*24*time.Hour {
			t.Fatalf("default session duration = %v, want 7 days", got)
		}
		alice := e.register("alice")
		tok := e.newSession(alice.User)
		e.clock.Advance(7*24*time.Hour - time.Minute)
		a := e.authenticate(cookie(alice.Token))
		if !a.RenewCookie || !a.Expires.Equal(e.clock.Now().Add(7*24*time.Hour)) {
			t.Errorf("renew/expires = %v/%v, want true/now+7d", a.RenewCookie, a.Expires)
		}
		e.clock.Advance(2 * time.Minute)
		_, err := e.svc.Authenticate(e.ctx, cookie(tok))
		wantErr(t, err, model.CodeUnauthenticated, "invalid session")
		e.authenticate(cookie(alice.Token))
	})
}

func TestAuthenticateLastUsedCoalescing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		e := newEnv(t, d, cfg)
		alice := e.register("alice")

		auth := func(c account.Credentials) (*account.Authentication, int64) {
			t.Helper()
			before := d.Queries()
			a := e.authenticate(c)
			return a, d.Queries() - before
		}
		lastUsed := func() (time.Time, string, string) {
			t.Helper()
			var row struct {
				LastUsed  time.Time `bun:"last_used"`
				IP        string    `bun:"ip"`
				UserAgent string    `bun:"user_agent"`
			}
			if err := d.NewSelect().Table("sessions").Column("last_used", "ip", "user_agent").
				Where("key_start = ?", alice.Token[:16]).Scan(e.ctx, &row); err != nil {
				t.Fatal(err)
			}
			return row.LastUsed, row.IP, row.UserAgent
		}

		a, q := auth(cookie(alice.Token))
		if q != 1 || a.RenewCookie {
			t.Errorf("right after sign-in: %d queries, renew=%v; want 1, false", q, a.RenewCookie)
		}
		e.clock.Advance(10 * time.Second)
		a, q = auth(cookie(alice.Token))
		if q != 1 || a.RenewCookie {
			t.Errorf("10 s later: %d queries, renew=%v; want 1, false", q, a.RenewCookie)
		}
		e.clock.Advance(19 * time.Second) // 29 s since the last write
		a, q = auth(cookie(alice.Token))
		if q != 1 || a.RenewCookie {
			t.Errorf("29 s later: %d queries, renew=%v; want 1, false", q, a.RenewCookie)
		}
		if lu, _, _ := lastUsed(); !lu.Equal(testStart) {
			t.Errorf("last_used = %v, want unchanged %v", lu, testStart)
		}

		now := e.clock.Advance(2 * time.Second) // 31 s
		other := account.Credentials{HasCookie: true, Cookie: alice.Token, IP: netip.MustParseAddr("198.51.100.9"), UserAgent: "other-agent"}
		a, q = auth(other)
		if q != 2 {
			t.Errorf("31 s later: %d queries, want 2 (lookup + touch)", q)
		}
		if !a.RenewCookie || !a.Expires.Equal(now.Add(cfg.SessionDuration)) {
			t.Errorf("31 s later: renew=%v expires=%v; want true, %v", a.RenewCookie, a.Expires, now.Add(cfg.SessionDuration))
		}
		if !a.Actor.Session.LastUsed.Equal(now) {
			t.Errorf("actor's session last used %v, want %v", a.Actor.Session.LastUsed, now)
		}
		if lu, ip, ua := lastUsed(); !lu.Equal(now) || ip != "198.51.100.9" || ua != "other-agent" {
			t.Errorf("stored last_used/ip/ua = %v/%q/%q, want %v/198.51.100.9/other-agent", lu, ip, ua, now)
		}

		e.clock.Advance(5 * time.Second)
		a, q = auth(cookie(alice.Token))
		if q != 1 || a.RenewCookie {
			t.Errorf("5 s after the write: %d queries, renew=%v; want 1, false", q, a.RenewCookie)
		}

		t.Run("UserAgentTruncated", func(t *testing.T) {
			e.clock.Advance(time.Minute)
			ua := strings.Repeat("€", 200) // 600 bytes
			a, _ := auth(account.Credentials{HasCookie: true, Cookie: alice.Token, IP: clientIP, UserAgent: ua})
			if !a.RenewCookie {
				t.Fatal("no write")
			}
			_, _, stored := lastUsed()
			if len(stored) > 512 || !utf8.ValidString(stored) || !strings.HasPrefix(ua, stored) || len(stored) < 510 {
				t.Errorf("stored user agent: %d bytes, valid UTF-8 %v; want the first ≤512 bytes cut on a character boundary",
					len(stored), utf8.ValidString(stored))
			}
		})

		t.Run("APIKey", func(t *testing.T) {
			key, id := e.newAPIKey(alice.User, keyOpts{})
			keyLastUsed := func() *time.Time {
				var lu *time.Time
				if err := d.NewSelect().Table("api_keys").Column("last_used").Where("id = ?", id).Scan(e.ctx, &lu); err != nil {
					t.Fatal(err)
				}
				return lu
			}
			now := e.clock.Now()
			if _, q := auth(bearer(key)); q != 2 {
				t.Errorf("first use: %d queries, want 2 (lookup + touch)", q)
			}
			if lu := keyLastUsed(); lu == nil || !lu.Equal(now) {
				t.Errorf("key last_used = %v, want %v", lu, now)
			}
			e.clock.Advance(29 * time.Second)
			if _, q := auth(bearer(key)); q != 1 {
				t.Errorf("29 s later: %d queries, want 1", q)
			}
			later := e.clock.Advance(2 * time.Second)
			a, q := auth(bearer(key))
			if q != 2 {
				t.Errorf("31 s later: %d queries, want 2", q)
			}
			if a.RenewCookie {
				t.Error("RenewCookie for an API key")
			}
			if lu := keyLastUsed(); lu == nil || !lu.Equal(later) {
				t.Errorf("key last_used = %v, want %v", lu, later)
			}
		})
	})
}

func TestAuthenticateAPIKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		key, keyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos, model.PermAccountEmail}})

		t.Run("Valid", func(t *testing.T) {
			a := e.keyActor(key)
			if a.User.ID != alice.ID || a.APIKey.ID != keyID || a.APIKey.UserID != alice.ID {
				t.Fatalf("actor = %+v / %+v", a.User, a.APIKey)
			}
			if !a.ViaAPIKey() {
				t.Error("ViaAPIKey() = false")
			}
			if got := a.APIKey.UserPermissions; len(got) != 2 || got[0] != model.PermAccountInfos || got[1] != model.PermAccountEmail {
				t.Errorf("permissions = %v", got)
			}
			if !a.HasUserPermission(model.PermAccountInfos) || a.HasUserPermission(model.PermAccountPassword) {
				t.Error("HasUserPermission does not follow the key's list")
			}
		})

		t.Run("SchemeCaseInsensitive", func(t *testing.T) {
			for _, scheme := range []string{"bearer", "BEARER", "BeArEr"} {
				a := e.authenticate(account.Credentials{HasAuthorization: true, Authorization: scheme + " " + key, IP: clientIP})
				if a.Actor.APIKey == nil || a.Actor.APIKey.ID != keyID {
					t.Errorf("%s: actor = %+v", scheme, a.Actor)
				}
			}
		})

		t.Run("HeaderWinsOverCookie", func(t *testing.T) {
			bobKey, _ := e.newAPIKey(bob.User, keyOpts{})
			c := cookie(alice.Token)
			c.HasAuthorization, c.Authorization = true, "Bearer "+bobKey
			a := e.authenticate(c)
			if a.Actor.User.ID != bob.ID || a.Actor.Session != nil || a.Actor.APIKey == nil {
				t.Errorf("actor = %+v: the header must win over the cookie", a.Actor)
			}
			for _, h := range []string{"Bearer nope", "", "Basic " + alice.Token} {
				c.Authorization = h
				_, err := e.svc.Authenticate(e.ctx, c)
				wantErr(t, err, model.CodeUnauthenticated, "invalid authorization header")
			}
			// An unknown key with a valid cookie is still refused.
			c.Authorization = "Bearer c7sp_" + secret.RandomString(43)
			_, err := e.svc.Authenticate(e.ctx, c)
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
		})

		t.Run("MalformedHeader", func(t *testing.T) {
			rnd := secret.RandomString(43)
			for _, c := range []struct{ name, header string }{
				{"ErrEmpty", ""},
				{"ErrSchemeOnly", "Bearer"},
				{"ErrSchemeAndSpace", "Bearer "},
				{"ErrNoScheme", key},
				{"ErrDoubleSpace", "Bearer  " + key},
				{"ErrTab", "Bearer\t" + key},
				{"ErrTrailingSpace", "Bearer " + key + " "},
				{"ErrBasic", "Basic " + key},
				{"ErrToken", "Token " + key},
				{"ErrSessionTokenAsBearer", "Bearer " + alice.Token},
				{"ErrNoPrefix", "Bearer " + rnd},
				{"ErrWrongPrefix", "Bearer c7sk_" + rnd},
				{"ErrUpperPrefix", "Bearer C7SP_" + rnd},
				{"ErrShort", "Bearer c7sp_" + rnd[:42]},
				{"ErrLong", "Bearer c7sp_" + rnd + "a"},
				{"ErrDash", "Bearer c7sp_" + rnd[:42] + "-"},
				{"ErrUnderscore", "Bearer c7sp_" + rnd[:42] + "_"},
				{"ErrMultiByte", "Bearer c7sp_" + rnd[:41] + "é"},
				{"ErrPrefixOnly", "Bearer c7sp_"},
			} {
				t.Run(c.name, func(t *testing.T) {
					a, err := e.svc.Authenticate(e.ctx, account.Credentials{HasAuthorization: true, Authorization: c.header, IP: clientIP})
					wantErr(t, err, model.CodeUnauthenticated, "invalid authorization header")
					if a != nil {
						t.Errorf("authentication = %+v", a)
					}
				})
			}
		})

		t.Run("UnknownKey", func(t *testing.T) {
			for _, c := range []struct{ name, key string }{
				{"ErrRandom", "c7sp_" + secret.RandomString(43)},
				{"ErrRightPrefixWrongRest", key[:16] + secret.RandomString(32)},
				{"ErrRightRestWrongPrefix", "c7sp_" + secret.RandomString(11) + key[16:]},
			} {
				t.Run(c.name, func(t *testing.T) {
					_, err := e.svc.Authenticate(e.ctx, bearer(c.key))
					wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
				})
			}
		})

		t.Run("ErrDeletedKey", func(t *testing.T) {
			k, id := e.newAPIKey(alice.User, keyOpts{})
			e.keyActor(k)
			if _, err := d.NewDelete().Table("api_keys").Where("id = ?", id).Exec(e.ctx); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.Authenticate(e.ctx, bearer(k))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
		})

		t.Run("Expiry", func(t *testing.T) {
			now := e.clock.Now()
			past, _ := e.newAPIKey(alice.User, keyOpts{Expires: ptr(now.Add(-time.Second))})
			_, err := e.svc.Authenticate(e.ctx, bearer(past))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")

			soon, _ := e.newAPIKey(alice.User, keyOpts{Expires: ptr(now.Add(time.Hour))})
			e.keyActor(soon)
			e.clock.Advance(time.Hour - time.Second)
			e.keyActor(soon)
			e.clock.Advance(time.Second) // exactly at expiry
			_, err = e.svc.Authenticate(e.ctx, bearer(soon))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
			e.clock.Advance(time.Minute)
			_, err = e.svc.Authenticate(e.ctx, bearer(soon))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
			// A key without expiry is unaffected.
			e.keyActor(key)
		})

		t.Run("AllowedIPs", func(t *testing.T) {
			ten, _ := e.newAPIKey(alice.User, keyOpts{AllowedIPs: []string{"10.0.0.0/8"}})
			multi, _ := e.newAPIKey(alice.User, keyOpts{AllowedIPs: []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"}})
			from := func(k, ip string) error {
				_, err := e.svc.Authenticate(e.ctx, account.Credentials{HasAuthorization: true,
					Authorization: "Bearer " + k, IP: netip.MustParseAddr(ip)})
				return err
			}
			for _, c := range []struct {
				name, key, ip string
				ok            bool
			}{
				{"ErrOutsideRange", ten, "192.0.2.1", false},
				{"ErrJustAboveRange", ten, "11.0.0.0", false},
				{"ErrJustBelowRange", ten, "9.255.255.255", false},
				{"InsideRange", ten, "10.1.2.3", true},
				{"RangeStart", ten, "10.0.0.0", true},
				{"RangeEnd", ten, "10.255.255.255", true},
				{"IPv4MappedIPv6Inside", ten, "::ffff:10.1.2.3", true},
				{"ErrIPv4MappedIPv6Outside", ten, "::ffff:192.0.2.1", false},
				{"ErrIPv6", ten, "2001:db8::1", false},
				{"MultiSecondEntry", multi, "192.0.2.1", true},
				{"ErrMultiNeighbour", multi, "192.0.2.2", false},
				{"MultiIPv6", multi, "2001:db8:1::1", true},
				{"ErrMultiOtherIPv6", multi, "2001:db9::1", false},
				{"NoListAnyAddress", key, "198.51.100.1", true},
				{"NoListIPv6", key, "2001:db9::1", true},
			} {
				t.Run(c.name, func(t *testing.T) {
					err := from(c.key, c.ip)
					if c.ok {
						if err != nil {
							t.Fatalf("from %s: %v", c.ip, err)
						}
						return
					}
					wantErr(t, err, model.CodeForbidden, "ip address not allowed for this api key")
				})
			}
		})

		t.Run("ErrExpiredKeyFromDisallowedIP", func(t *testing.T) {
			k, _ := e.newAPIKey(alice.User, keyOpts{AllowedIPs: []string{"10.0.0.0/8"}, Expires: ptr(e.clock.Now().Add(-time.Minute))})
			_, err := e.svc.Authenticate(e.ctx, bearer(k))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
		})

		t.Run("ErrLogoutWithAPIKey", func(t *testing.T) {
			a := e.keyActor(key)
			err := e.svc.Logout(e.ctx, a)
			wantErr(t, err, model.CodeInvalid, "unable to log out when not using session authentication")
			e.keyActor(key)
			e.actor(alice.Token)
		})
	})
}
