package graph_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
)

func TestGraphQLRegister(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		t.Run("success signs in", func(t *testing.T) {
			c := ts.Client(t)
			in := map[string]any{"username": "Alice_1", "email": "Alice@Example.com", "nameFirst": "Alice",
				"nameLast": "Liddell", "password": "correct horse"}
			r := c.GQL(apptest.GQLRegisterDoc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, "register")
			u, _ := apptest.Get(r.Data, "register", "user").(map[string]any)
			want := map[string]any{"username": "Alice_1", "email": "Alice@Example.com", "nameFirst": "Alice",
				"nameLast": "Liddell", "avatar": nil, "admin": true, "frozen": false, "suspended": false,
				"language": "en", "toastPosition": "BOTTOM_RIGHT", "startOnGroupedServers": false,
				"hasPassword": true, "requireTwoFactor": false}
			for k, v := range want {
				if u[k] != v {
					t.Errorf("register user.%s = %#v, want %#v", k, u[k], v)
				}
			}
			if apptest.Get(u, "twoFactor", "enabled") != false {
				t.Errorf("twoFactor.enabled = %v", apptest.Get(u, "twoFactor", "enabled"))
			}
			gqlWantSessionCookie(t, ts, r)

			v := c.GQL(`{ viewer { id username } }`, nil)
			apptest.GQLNoErrors(t, v)
			if apptest.Get(v.Data, "viewer", "username") != "Alice_1" || apptest.Get(v.Data, "viewer", "id") != u["id"] {
				t.Fatalf("viewer after register: %s", v.Raw)
			}
			// Same account as REST sees it.
			res := c.Do(http.MethodGet, "/api/client/account", nil)
			if res.Status != http.StatusOK || apptest.Get(res.JSON(t), "user", "uuid") != u["id"] {
				t.Fatalf("REST account after GraphQL register: %d %s", res.Status, res.Body)
			}
			// The second account is not an admin.
			_, u2 := apptest.GQLRegister(t, ts, "second", "correct horse")
			if u2["admin"] != false {
				t.Errorf("second account admin = %v", u2["admin"])
			}
		})

		pattern := "does not match pattern /^[a-zA-Z0-9_]+$/"
		long := strings.Repeat("x", 256)
		inv := func(field, msg string) apptest.GQLUserErr {
			return apptest.GQLUserErr{Field: gqlField(field), Message: msg, Code: "INVALID"}
		}
		for _, tc := range []struct {
			name string
			set  map[string]any
			want []apptest.GQLUserErr
		}{
			{"username too short and bad pattern", map[string]any{"username": "a!"},
				[]apptest.GQLUserErr{inv("username", "length is lower than 3"), inv("username", pattern)}},
			{"username too long", map[string]any{"username": "abcdefghijklmnop"},
				[]apptest.GQLUserErr{inv("username", "length is greater than 15")}},
			{"username with space", map[string]any{"username": "bad name"},
				[]apptest.GQLUserErr{inv("username", pattern)}},
			{"email invalid", map[string]any{"email": "not-an-email"},
				[]apptest.GQLUserErr{inv("email", "not a valid email address")}},
			{"email empty", map[string]any{"email": ""},
				[]apptest.GQLUserErr{inv("email", "length is lower than 1")}},
			{"names", map[string]any{"nameFirst": "", "nameLast": long},
				[]apptest.GQLUserErr{inv("nameFirst", "length is lower than 1"), inv("nameLast", "length is greater than 255")}},
			{"password too short", map[string]any{"password": "short"},
				[]apptest.GQLUserErr{inv("password", "length is lower than 8")}},
			{"password too long", map[string]any{"password": strings.Repeat("p", 513)},
				[]apptest.GQLUserErr{inv("password", "length is greater than 512")}},
			{"everything wrong at once", map[string]any{"username": "", "email": "", "nameFirst": "", "nameLast": "", "password": ""},
				[]apptest.GQLUserErr{inv("username", "length is lower than 3"), inv("username", pattern),
					inv("email", "length is lower than 1"), inv("nameFirst", "length is lower than 1"),
					inv("nameLast", "length is lower than 1"), inv("password", "length is lower than 8")}},
		} {
			t.Run("validation/"+tc.name, func(t *testing.T) {
				in := apptest.GQLRegisterInput("valid_user", "correct horse")
				for k, v := range tc.set {
					in[k] = v
				}
				c := ts.Client(t)
				r := c.GQL(apptest.GQLRegisterDoc, apptest.GQLIn(in))
				gqlWantUserErrs(t, r, "register", tc.want...)
				if u := apptest.Get(r.Data, "register", "user"); u != nil {
					t.Errorf("user = %v, want null", u)
				}
				gqlWantNoSessionCookie(t, ts, r)
				if v := apptest.GQLViewer(t, c); v != nil {
					t.Errorf("viewer after failed register = %v", v)
				}
				// The same text as the REST layer, field by field.
				res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", gqlSnakeKeys(in))
				rest := res.Errors(t)
				slices.Sort(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gqlRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gqlRESTMessages(tc.want))
				}
			})
		}

		t.Run("duplicate", func(t *testing.T) {
			apptest.GQLRegister(t, ts, "Dupe", "correct horse")
			for _, tc := range []struct{ name, username, email string }{
				{"same username other case", "dUPE", "other1@example.com"},
				{"same email other case", "dupe2", "DUPE@example.COM"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					in := apptest.GQLRegisterInput(tc.username, "correct horse")
					in["email"] = tc.email
					r := ts.Client(t).GQL(apptest.GQLRegisterDoc, apptest.GQLIn(in))
					apptest.GQLNoErrors(t, r)
					ue := apptest.GQLUserErrs(t, r, "register")
					if len(ue) != 1 || ue[0].Message != "user with username or email already exists" ||
						(ue[0].Code != "INVALID" && ue[0].Code != "CONFLICT") {
						t.Fatalf("userErrors = %v", ue)
					}
					if apptest.Get(r.Data, "register", "user") != nil {
						t.Fatalf("user should be null: %s", r.Raw)
					}
					gqlWantNoSessionCookie(t, ts, r)
				})
			}
		})

		// The payload's user is a User like any other: every field of it
		// resolves, including twoFactor.recoveryCodesRemaining, although the
		// request itself carried no credentials.
		t.Run("payload user resolves recoveryCodesRemaining", func(t *testing.T) {
			r := ts.Client(t).GQL(`mutation($input: RegisterInput!) { register(input: $input) {
				user { `+gqlUserFieldsAll+` } `+apptest.GQLUserErrorFields+` } }`, apptest.GQLIn(apptest.GQLRegisterInput("rcr_user", "correct horse")))
			gqlWantUserErrs(t, r, "register")
			if apptest.Get(r.Data, "register", "user", "username") != "rcr_user" ||
				apptest.Get(r.Data, "register", "user", "twoFactor", "recoveryCodesRemaining") != float64(0) {
				t.Fatalf("register payload with recoveryCodesRemaining: %s", r.Raw)
			}
		})
	})
}

func TestGraphQLRegistrationDisabled(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.RegistrationEnabled = false }), func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		r := c.GQL(apptest.GQLRegisterDoc, apptest.GQLIn(apptest.GQLRegisterInput("nobody", "correct horse")))
		gqlWantUserErrs(t, r, "register", apptest.GQLUserErr{Message: "registration is disabled", Code: "INVALID"})
		gqlWantNoSessionCookie(t, ts, r)
	})
}

func TestGraphQLLogin(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		const pw = "correct horse"
		apptest.GQLRegister(t, ts, "LoginUser", pw)
		apptest.GQLRegister(t, ts, "twofa", pw)
		if _, err := ts.App.DB.NewUpdate().Table("users").Set("totp_enabled = ?", true).
			Where("username_key = ?", "twofa").Exec(context.Background()); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct{ name, user string }{
			{"by username", "LoginUser"},
			{"by username, other case", "loginuser"},
			{"by email, other case", "LOGINUSER@example.com"},
		} {
			t.Run("success/"+tc.name, func(t *testing.T) {
				c := ts.Client(t)
				r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": tc.user, "password": pw}))
				gqlWantUserErrs(t, r, "login")
				if apptest.Get(r.Data, "login", "user", "username") != "LoginUser" ||
					apptest.Get(r.Data, "login", "twoFactorRequired") != false || apptest.Get(r.Data, "login", "confirmationToken") != nil {
					t.Fatalf("login payload: %s", r.Raw)
				}
				gqlWantSessionCookie(t, ts, r)
				if v := apptest.GQLViewer(t, c); v == nil || v["username"] != "LoginUser" {
					t.Fatalf("viewer after login = %v", v)
				}
			})
		}

		for _, tc := range []struct{ name, user, password string }{
			{"wrong password", "LoginUser", "wrong horse"},
			{"unknown user", "nobody", pw},
			{"unknown email", "nobody@example.com", pw},
			{"empty password", "LoginUser", ""},
			{"empty user", "", pw},
		} {
			t.Run("failure/"+tc.name, func(t *testing.T) {
				c := ts.Client(t)
				r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": tc.user, "password": tc.password}))
				gqlWantUserErrs(t, r, "login", apptest.GQLUserErr{Message: "invalid username or password", Code: "INVALID_CREDENTIALS"})
				if apptest.Get(r.Data, "login", "user") != nil || apptest.Get(r.Data, "login", "twoFactorRequired") != false ||
					apptest.Get(r.Data, "login", "confirmationToken") != nil {
					t.Fatalf("failed login payload: %s", r.Raw)
				}
				gqlWantNoSessionCookie(t, ts, r)
				if v := apptest.GQLViewer(t, c); v != nil {
					t.Fatalf("viewer after failed login = %v", v)
				}
			})
		}

		t.Run("two-factor required", func(t *testing.T) {
			c := ts.Client(t)
			r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "twofa", "password": pw}))
			gqlWantUserErrs(t, r, "login")
			tok, _ := apptest.Get(r.Data, "login", "confirmationToken").(string)
			if apptest.Get(r.Data, "login", "twoFactorRequired") != true || len(tok) != 48 || !secret.IsAlphanumeric(tok) {
				t.Fatalf("2FA login payload: %s", r.Raw)
			}
			if apptest.Get(r.Data, "login", "user") != nil {
				t.Fatalf("2FA login: user should be null: %s", r.Raw)
			}
			gqlWantNoSessionCookie(t, ts, r)
			if v := apptest.GQLViewer(t, c); v != nil {
				t.Fatalf("viewer after 2FA login step = %v", v)
			}
			if strings.Contains(ts.LogText(), tok) {
				t.Errorf("confirmation token appears in the log")
			}
		})

		t.Run("payload user resolves recoveryCodesRemaining", func(t *testing.T) {
			r := ts.Client(t).GQL(`mutation($input: LoginInput!) { login(input: $input) {
				user { `+gqlUserFieldsAll+` } twoFactorRequired `+apptest.GQLUserErrorFields+` } }`,
				apptest.GQLIn(map[string]any{"user": "LoginUser", "password": pw}))
			gqlWantUserErrs(t, r, "login")
			if apptest.Get(r.Data, "login", "user", "username") != "LoginUser" ||
				apptest.Get(r.Data, "login", "user", "twoFactor", "recoveryCodesRemaining") != float64(0) {
				t.Fatalf("login payload with recoveryCodesRemaining: %s", r.Raw)
			}
		})
	})
}
