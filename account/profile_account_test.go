package account_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestViewer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		u, err := e.svc.Viewer(e.ctx, e.actor(alice.Token))
		if err != nil || u.ID != alice.ID || u.Email != alice.Email {
			t.Fatalf("viewer = %+v, %v", u, err)
		}
		key, _ := e.newAPIKey(alice.User, keyOpts{}) // no permissions needed to read the account
		if u, err := e.svc.Viewer(e.ctx, e.keyActor(key)); err != nil || u.ID != alice.ID {
			t.Errorf("viewer via key = %+v, %v", u, err)
		}
		_, err = e.svc.Viewer(e.ctx, nil)
		wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
		_, err = e.svc.Viewer(e.ctx, &model.Actor{})
		wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
	})
}

func TestUpdateAccountValidation(t *testing.T) {
	t.Parallel()
	const (
		lower3     = "length is lower than 3"
		greater15  = "length is greater than 15"
		lower1     = "length is lower than 1"
		greater255 = "length is greater than 255"
		oneOf      = "must be one of …"
	)
	rep := strings.Repeat
	type in = account.UpdateAccountInput
	cases := []struct {
		name  string
		in    in
		want  []model.FieldError // nil: success
		check func(u *model.User) bool
	}{
		{"ErrUsernameTooShort", in{Username: ptr("ab")}, []model.FieldError{fe("username", lower3)}, nil},
		{"UsernameMinLength", in{Username: ptr("abc")}, nil, func(u *model.User) bool { return u.Username == "abc" }},
		{"UsernameMaxLength", in{Username: ptr("abcdefghijklm_5")}, nil, func(u *model.User) bool { return u.Username == "abcdefghijklm_5" }},
		{"ErrUsernameTooLong", in{Username: ptr("abcdefghijklmn_6")}, []model.FieldError{fe("username", greater15)}, nil},
		{"ErrUsernameEmpty", in{Username: ptr("")}, []model.FieldError{fe("username", lower3), fe("username", msgUsernamePattern)}, nil},
		{"ErrUsernamePattern", in{Username: ptr("bad name!")}, []model.FieldError{fe("username", msgUsernamePattern)}, nil},
		{"ErrUsernameTooShortAndPattern", in{Username: ptr("a!")}, []model.FieldError{fe("username", lower3), fe("username", msgUsernamePattern)}, nil},
		{"ErrUsernameMultiByte", in{Username: ptr(rep("ñ", 13))}, []model.FieldError{fe("username", msgUsernamePattern)}, nil},
		{"UsernameBack", in{Username: ptr("alice")}, nil, func(u *model.User) bool { return u.Username == "alice" }},
		{"UsernameOwnOtherCase", in{Username: ptr("ALICE")}, nil, func(u *model.User) bool { return u.Username == "ALICE" }},

		{"ErrNameFirstEmpty", in{NameFirst: ptr("")}, []model.FieldError{fe("name_first", lower1)}, nil},
		{"NameFirstOneChar", in{NameFirst: ptr("A")}, nil, func(u *model.User) bool { return u.NameFirst == "A" }},
		{"NameFirstMaxLength", in{NameFirst: ptr(rep("é", 255))}, nil, func(u *model.User) bool { return u.NameFirst == rep("é", 255) }},
		{"ErrNameFirstTooLong", in{NameFirst: ptr(rep("a", 256))}, []model.FieldError{fe("name_first", greater255)}, nil},
		{"ErrNameFirstTooLongMultiByte", in{NameFirst: ptr(rep("é", 256))}, []model.FieldError{fe("name_first", greater255)}, nil},
		{"ErrNameLastEmpty", in{NameLast: ptr("")}, []model.FieldError{fe("name_last", lower1)}, nil},
		{"NameLastOneChar", in{NameLast: ptr("Z")}, nil, func(u *model.User) bool { return u.NameLast == "Z" }},
		{"NameLastMaxLength", in{NameLast: ptr(rep("z", 255))}, nil, func(u *model.User) bool { return u.NameLast == rep("z", 255) }},
		{"ErrNameLastTooLong", in{NameLast: ptr(rep("😀", 256))}, []model.FieldError{fe("name_last", greater255)}, nil},

		{"LanguageDe", in{Language: ptr("de")}, nil, func(u *model.User) bool { return u.Language == "de" }},
		{"LanguageZh", in{Language: ptr("zh")}, nil, func(u *model.User) bool { return u.Language == "zh" }},
		{"ErrLanguageUnknown", in{Language: ptr("xx")}, []model.FieldError{fe("language", oneOf)}, nil},
		{"ErrLanguageUpperCase", in{Language: ptr("EN")}, []model.FieldError{fe("language", oneOf)}, nil},
		{"ErrLanguageTooShort", in{Language: ptr("e")}, []model.FieldError{fe("language", "length is lower than 2"), fe("language", oneOf)}, nil},
		{"ErrLanguageTooLong", in{Language: ptr("english-english1")}, []model.FieldError{fe("language", "length is greater than 15"), fe("language", oneOf)}, nil},
		{"ErrLanguageEmpty", in{Language: ptr("")}, []model.FieldError{fe("language", "length is lower than 2"), fe("language", oneOf)}, nil},

		{"ToastTopLeft", in{ToastPosition: ptr("top_left")}, nil, func(u *model.User) bool { return u.ToastPosition == "top_left" }},
		{"ToastBottomCenter", in{ToastPosition: ptr("bottom_center")}, nil, func(u *model.User) bool { return u.ToastPosition == "bottom_center" }},
		{"ErrToastUnknown", in{ToastPosition: ptr("middle")}, []model.FieldError{fe("toast_position", oneOf)}, nil},
		{"ErrToastEmpty", in{ToastPosition: ptr("")}, []model.FieldError{fe("toast_position", oneOf)}, nil},
		{"ErrToastDash", in{ToastPosition: ptr("top-left")}, []model.FieldError{fe("toast_position", oneOf)}, nil},

		{"StartOnGroupedServers", in{StartOnGroupedServers: ptr(true)}, nil, func(u *model.User) bool { return u.StartOnGroupedServers }},
		{"StartOnGroupedServersOff", in{StartOnGroupedServers: ptr(false)}, nil, func(u *model.User) bool { return !u.StartOnGroupedServers }},

		{"Several", in{Username: ptr("alice_2"), NameFirst: ptr("Al"), NameLast: ptr("Ice"), Language: ptr("fr"),
			ToastPosition: ptr("top_right"), StartOnGroupedServers: ptr(true)}, nil, func(u *model.User) bool {
			return u.Username == "alice_2" && u.NameFirst == "Al" && u.NameLast == "Ice" && u.Language == "fr" &&
				u.ToastPosition == "top_right" && u.StartOnGroupedServers
		}},
		{"ErrEveryField", in{Username: ptr("a!"), NameFirst: ptr(""), NameLast: ptr(rep("n", 256)), Language: ptr("x"),
			ToastPosition: ptr("nowhere"), StartOnGroupedServers: ptr(true)}, []model.FieldError{
			fe("username", lower3), fe("username", msgUsernamePattern), fe("name_first", lower1), fe("name_last", greater255),
			fe("language", "length is lower than 2"), fe("language", oneOf), fe("toast_position", oneOf)}, nil},
		{"ErrOneBadFieldRefusesAll", in{NameFirst: ptr("Valid"), ToastPosition: ptr("nowhere")}, []model.FieldError{fe("toast_position", oneOf)}, nil},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		actor := e.actor(alice.Token)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.reload(alice.User)
				updates := len(e.events(alice.User, model.EventAccountUpdate))
				e.clock.Advance(time.Second)
				got, err := e.svc.UpdateAccount(e.ctx, actor, c.in)
				if c.want != nil {
					wantFieldsLoose(t, err, c.want...)
					if got != nil {
						t.Errorf("user = %+v", got)
					}
					if after := e.reload(alice.User); !sameProfile(after, before) {
						t.Errorf("a refused update changed the user: %+v", after)
					}
					if n := len(e.events(alice.User, model.EventAccountUpdate)); n != updates {
						t.Errorf("account:update events = %d, want %d", n, updates)
					}
					return
				}
				if err != nil {
					t.Fatalf("update: %v", err)
				}
				if !c.check(got) {
					t.Errorf("returned user = %+v", got)
				}
				if !c.check(e.reload(alice.User)) {
					t.Errorf("stored user = %+v", e.reload(alice.User))
				}
				acts := e.events(alice.User, model.EventAccountUpdate)
				if len(acts) != updates+1 {
					t.Fatalf("account:update events = %d, want %d", len(acts), updates+1)
				}
				assertData(t, acts[0], `{"fields":`+mustJSON(t, setFields(c.in))+`}`)
				if acts[0].IP == nil || *acts[0].IP != clientIP.String() || acts[0].APIKeyID != nil {
					t.Errorf("activity ip/key = %v/%v", acts[0].IP, acts[0].APIKeyID)
				}
				if !acts[0].Created.Equal(e.clock.Now()) {
					t.Errorf("activity created %v, want %v", acts[0].Created, e.clock.Now())
				}
				// A fresh actor sees the change (no stale state).
				actor = e.actor(alice.Token)
				if !c.check(actor.User) {
					t.Errorf("re-authenticated user = %+v", actor.User)
				}
			})
		}
	})
}

func sameProfile(a, b *model.User) bool {
	return a.Username == b.Username && a.NameFirst == b.NameFirst && a.NameLast == b.NameLast &&
		a.Language == b.Language && a.ToastPosition == b.ToastPosition && a.StartOnGroupedServers == b.StartOnGroupedServers &&
		a.Email == b.Email
}

func setFields(in account.UpdateAccountInput) []string {
	var out []string
	if in.Username != nil {
		out = append(out, "username")
	}
	if in.NameFirst != nil {
		out = append(out, "name_first")
	}
	if in.NameLast != nil {
		out = append(out, "name_last")
	}
	if in.Language != nil {
		out = append(out, "language")
	}
	if in.ToastPosition != nil {
		out = append(out, "toast_position")
	}
	if in.StartOnGroupedServers != nil {
		out = append(out, "start_on_grouped_servers")
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUpdateAccountRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("Bob")

		t.Run("ErrUsernameTaken", func(t *testing.T) {
			for _, name := range []string{"Bob", "bob", "BOB"} {
				t.Run(name, func(t *testing.T) {
					before := e.reload(alice.User)
					events := e.count("activities", "")
					_, err := e.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{
						Username: ptr(name), NameFirst: ptr("Changed")})
					me := wantErr(t, err, model.CodeConflict, "username already taken")
					if me.Field != "username" {
						t.Errorf("field = %q, want username", me.Field)
					}
					if after := e.reload(alice.User); !sameProfile(after, before) {
						t.Errorf("alice changed: %+v (the name must roll back with the username)", after)
					}
					if n := e.count("activities", ""); n != events {
						t.Errorf("activities = %d, want %d", n, events)
					}
				})
			}
			if b := e.reload(bob.User); b.Username != "Bob" {
				t.Errorf("bob's username = %q", b.Username)
			}
		})

		t.Run("UsernameFreedAfterRename", func(t *testing.T) {
			carol := e.register("carol")
			if _, err := e.svc.UpdateAccount(e.ctx, e.actor(carol.Token), account.UpdateAccountInput{Username: ptr("carol_new")}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{Username: ptr("Carol")}); err != nil {
				t.Fatalf("taking a freed username: %v", err)
			}
			_, err := e.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{Username: ptr("CAROL_NEW")})
			wantErr(t, err, model.CodeConflict, "username already taken")
			if _, err := e.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{Username: ptr("alice")}); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("EmptyInputChangesNothing", func(t *testing.T) {
			before := e.reload(alice.User)
			events := e.count("activities", "")
			actor := e.actor(alice.Token)
			e.clock.Advance(time.Second)
			q := d.Queries()
			got, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{})
			if err != nil {
				t.Fatalf("empty update: %v", err)
			}
			if n := d.Queries() - q; n != 0 {
				t.Errorf("empty update ran %d queries, want 0", n)
			}
			if got == nil || got.ID != alice.ID || !sameProfile(got, before) {
				t.Errorf("returned user = %+v", got)
			}
			if after := e.reload(alice.User); !sameProfile(after, before) {
				t.Errorf("user changed: %+v", after)
			}
			if n := e.count("activities", ""); n != events {
				t.Errorf("activities = %d, want %d: an empty update records nothing", n, events)
			}
		})

		t.Run("LanguageChangeDisabled", func(t *testing.T) {
			cfg := defaultConfig()
			cfg.AllowLanguageChange = false
			fixed := e.withConfig(cfg)
			before := e.reload(alice.User)
			events := len(e.events(alice.User, model.EventAccountUpdate))
			for _, lang := range []string{"de", "xx", ""} {
				got, err := fixed.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{Language: ptr(lang)})
				if err != nil {
					t.Fatalf("language %q: %v, want it silently ignored", lang, err)
				}
				if got.Language != before.Language {
					t.Errorf("returned language = %q, want %q", got.Language, before.Language)
				}
			}
			if n := len(e.events(alice.User, model.EventAccountUpdate)); n != events {
				t.Errorf("account:update events = %d, want %d: an ignored language is no update", n, events)
			}
			got, err := fixed.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{
				Language: ptr("de"), NameFirst: ptr("Alicia")})
			if err != nil {
				t.Fatal(err)
			}
			after := e.reload(alice.User)
			if after.Language != before.Language || after.NameFirst != "Alicia" || got.NameFirst != "Alicia" {
				t.Errorf("language/name = %q/%q, want %q/Alicia", after.Language, after.NameFirst, before.Language)
			}
			acts := e.events(alice.User, model.EventAccountUpdate)
			if len(acts) != events+1 {
				t.Fatalf("account:update events = %d, want %d", len(acts), events+1)
			}
			assertData(t, acts[0], `{"fields":["name_first"]}`)
		})

		t.Run("Frozen", func(t *testing.T) {
			e.setFlags(alice.User, true, false)
			defer e.setFlags(alice.User, false, false)
			actor := e.actor(alice.Token)
			_, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{NameFirst: ptr("Frozen")})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			// Validation comes first.
			_, err = e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{NameFirst: ptr("")})
			wantFields(t, err, fe("name_first", "length is lower than 1"))
			if u := e.reload(alice.User); u.NameFirst == "Frozen" {
				t.Error("a frozen account was changed")
			}
			// The account page stays readable.
			if u, err := e.svc.Viewer(e.ctx, actor); err != nil || !u.Frozen {
				t.Errorf("viewer = %+v, %v", u, err)
			}
		})

		t.Run("Suspended", func(t *testing.T) {
			e.setFlags(alice.User, false, true)
			defer e.setFlags(alice.User, false, false)
			actor := e.actor(alice.Token)
			_, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{NameFirst: ptr("Suspended")})
			wantErr(t, err, model.CodeConflict, "account is suspended")
			if u := e.reload(alice.User); u.NameFirst == "Suspended" {
				t.Error("a suspended account was changed")
			}
		})

		t.Run("FrozenAndSuspended", func(t *testing.T) {
			e.setFlags(alice.User, true, true)
			defer e.setFlags(alice.User, false, false)
			_, err := e.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{NameFirst: ptr("X")})
			if model.ErrorCode(err) != model.CodeConflict {
				t.Errorf("err = %v, want conflict", err)
			}
		})

		t.Run("APIKeyPermission", func(t *testing.T) {
			none, _ := e.newAPIKey(alice.User, keyOpts{})
			other, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountEmail, model.PermAccountPassword}})
			with, withID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos}})
			for name, k := range map[string]string{"ErrNoPermissions": none, "ErrOtherPermissions": other} {
				t.Run(name, func(t *testing.T) {
					before := e.reload(alice.User)
					_, err := e.svc.UpdateAccount(e.ctx, e.keyActor(k), account.UpdateAccountInput{NameFirst: ptr("ViaKey")})
					me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.infos")
					if me.Permission != model.PermAccountInfos {
						t.Errorf("permission = %q", me.Permission)
					}
					if !sameProfile(e.reload(alice.User), before) {
						t.Error("user changed")
					}
					// Validation errors come before the permission check.
					_, err = e.svc.UpdateAccount(e.ctx, e.keyActor(k), account.UpdateAccountInput{Username: ptr("a!")})
					wantFields(t, err, fe("username", "length is lower than 3"), fe("username", msgUsernamePattern))
				})
			}
			t.Run("WithPermission", func(t *testing.T) {
				got, err := e.svc.UpdateAccount(e.ctx, e.keyActor(with), account.UpdateAccountInput{NameFirst: ptr("ViaKey")})
				if err != nil {
					t.Fatal(err)
				}
				if got.NameFirst != "ViaKey" || e.reload(alice.User).NameFirst != "ViaKey" {
					t.Errorf("name = %q", got.NameFirst)
				}
				act := e.events(alice.User, model.EventAccountUpdate)[0]
				if act.APIKeyID == nil || *act.APIKeyID != withID || !act.IsAPI() {
					t.Errorf("activity api key = %v, want %v", act.APIKeyID, withID)
				}
				assertData(t, act, `{"fields":["name_first"]}`)
			})
		})

		t.Run("ErrNoActor", func(t *testing.T) {
			_, err := e.svc.UpdateAccount(e.ctx, nil, account.UpdateAccountInput{NameFirst: ptr("X")})
			wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
		})

		t.Run("ActivityInSameTransaction", func(t *testing.T) {
			f := e.withStore(&failingStore{Store: e.store, failEvent: model.EventAccountUpdate})
			before := e.reload(alice.User)
			_, err := f.svc.UpdateAccount(e.ctx, e.actor(alice.Token), account.UpdateAccountInput{
				Username: ptr("rolled_back"), NameFirst: ptr("RolledBack")})
			if model.ErrorCode(err) != model.CodeInternal {
				t.Fatalf("err = %v, want internal", err)
			}
			if after := e.reload(alice.User); !sameProfile(after, before) {
				t.Errorf("the update survived its failed activity record: %+v", after)
			}
		})
	})
}
