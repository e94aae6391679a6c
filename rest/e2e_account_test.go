package rest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

func TestRESTAccountETag(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		res := alice.Do(http.MethodGet, "/api/client/account", nil)
		apptest.WantStatus(t, res, http.StatusOK)
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET account has no ETag")
		}
		get := func(inm string) *apptest.Response {
			c := alice.Client
			if inm != "" {
				c.Header.Set("If-None-Match", inm)
				defer c.Header.Del("If-None-Match")
			}
			return c.Do(http.MethodGet, "/api/client/account", nil)
		}
		for _, tc := range []struct {
			name   string
			inm    string
			status int
		}{
			{"same body, same ETag", "", http.StatusOK},
			{"matching", etag, http.StatusNotModified},
			{"weak form", "W/" + etag, http.StatusNotModified},
			{"in a list", `"nope", ` + etag, http.StatusNotModified},
			{"star", "*", http.StatusNotModified},
			{"other", `"0123"`, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := get(tc.inm)
				apptest.WantStatus(t, res, tc.status)
				if got := res.Header.Get("ETag"); got != etag {
					t.Errorf("ETag %q, want %q", got, etag)
				}
				if tc.status == http.StatusNotModified && len(res.Body) != 0 {
					t.Errorf("304 with a body: %q", res.Body)
				}
				if tc.status == http.StatusOK {
					restCheckFullUser(t, res.JSON(t)["user"].(map[string]any))
				}
			})
		}
		t.Run("permissions has an ETag too", func(t *testing.T) {
			res := alice.Do(http.MethodGet, "/api/client/permissions", nil)
			e := res.Header.Get("ETag")
			if res.Status != http.StatusOK || e == "" {
				t.Fatalf("GET permissions: %d ETag %q", res.Status, e)
			}
			alice.Header.Set("If-None-Match", e)
			defer alice.Header.Del("If-None-Match")
			res = alice.Do(http.MethodGet, "/api/client/permissions", nil)
			if res.Status != http.StatusNotModified || len(res.Body) != 0 {
				t.Errorf("If-None-Match on permissions: %d %q", res.Status, res.Body)
			}
		})
		t.Run("PATCH changes the ETag", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Changed"}))
			res := get(etag)
			apptest.WantStatus(t, res, http.StatusOK)
			if res.Header.Get("ETag") == etag || res.Header.Get("ETag") == "" {
				t.Errorf("ETag after PATCH %q (before %q)", res.Header.Get("ETag"), etag)
			}
			if get(res.Header.Get("ETag")).Status != http.StatusNotModified {
				t.Errorf("the new ETag does not match")
			}
		})
		t.Run("PATCH answer carries no ETag-based 304", func(t *testing.T) {
			alice.Header.Set("If-None-Match", "*")
			defer alice.Header.Del("If-None-Match")
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{}))
		})
	})
}

func TestRESTPatchAccount(t *testing.T) {
	t.Parallel()
	const pattern = "username: does not match pattern /^[a-zA-Z0-9_]+$/"
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		type tc struct {
			name     string
			body     map[string]any
			want     []string // exact errors; nil = 200 {}
			prefixes []string // errors whose wording is open
			status   int      // for errors; default 400
		}
		cases := []tc{
			{name: "username 2", body: map[string]any{"username": "ab"}, want: []string{"username: length is lower than 3"}},
			{name: "username 3", body: map[string]any{"username": "abc"}},
			{name: "username 15", body: map[string]any{"username": strings.Repeat("z", 15)}},
			{name: "username 16", body: map[string]any{"username": strings.Repeat("z", 16)}, want: []string{"username: length is greater than 15"}},
			{name: "username pattern", body: map[string]any{"username": "al ice"}, want: []string{pattern}},
			{name: "username empty", body: map[string]any{"username": ""}, want: []string{"username: length is lower than 3", pattern}},
			{name: "username back", body: map[string]any{"username": "alice"}},
			{name: "name_first 0", body: map[string]any{"name_first": ""}, want: []string{"name_first: length is lower than 1"}},
			{name: "name_first 1", body: map[string]any{"name_first": "A"}},
			{name: "name_first 255", body: map[string]any{"name_first": strings.Repeat("f", 255)}},
			{name: "name_first 256", body: map[string]any{"name_first": strings.Repeat("f", 256)}, want: []string{"name_first: length is greater than 255"}},
			{name: "name_last 0", body: map[string]any{"name_last": ""}, want: []string{"name_last: length is lower than 1"}},
			{name: "name_last 1", body: map[string]any{"name_last": "L"}},
			{name: "name_last 255", body: map[string]any{"name_last": strings.Repeat("l", 255)}},
			{name: "name_last 256", body: map[string]any{"name_last": strings.Repeat("l", 256)}, want: []string{"name_last: length is greater than 255"}},
			{name: "language unknown", body: map[string]any{"language": "xx"}, prefixes: []string{"language: "}},
			{name: "language upper case", body: map[string]any{"language": "DE"}, prefixes: []string{"language: "}},
			{name: "language 1 char", body: map[string]any{"language": "e"}, prefixes: []string{"language: length is lower than 2", "language: "}},
			{name: "language 16 chars", body: map[string]any{"language": strings.Repeat("e", 16)}, prefixes: []string{"language: length is greater than 15", "language: "}},
			{name: "toast_position unknown", body: map[string]any{"toast_position": "middle"}, prefixes: []string{"toast_position: "}},
			{name: "toast_position empty", body: map[string]any{"toast_position": ""}, prefixes: []string{"toast_position: "}},
			{name: "toast_position wrong case", body: map[string]any{"toast_position": "TOP_LEFT"}, prefixes: []string{"toast_position: "}},
			{name: "start_on_grouped_servers true", body: map[string]any{"start_on_grouped_servers": true}},
			{name: "start_on_grouped_servers false", body: map[string]any{"start_on_grouped_servers": false}},
			{name: "start_on_grouped_servers string", body: map[string]any{"start_on_grouped_servers": "true"}, prefixes: []string{"invalid payload: "}},
			{name: "start_on_grouped_servers number", body: map[string]any{"start_on_grouped_servers": 1}, prefixes: []string{"invalid payload: "}},
			{name: "username number", body: map[string]any{"username": 12345}, prefixes: []string{"invalid payload: "}},
			{name: "several fields", body: map[string]any{"username": "Alice_2", "name_first": "Al", "name_last": "Lid",
				"language": "fr", "toast_position": "top_center", "start_on_grouped_servers": true}},
			{name: "several failing rules", body: map[string]any{"username": "a", "name_first": "", "name_last": strings.Repeat("x", 256),
				"toast_position": "nowhere", "language": "fr"},
				prefixes: []string{"username: length is lower than 3", "name_first: length is lower than 1",
					"name_last: length is greater than 255", "toast_position: "}},
			{name: "one bad field rejects the whole patch", body: map[string]any{"name_first": "Never", "username": "x"},
				want: []string{"username: length is lower than 3"}},
		}
		for _, lang := range []string{"ar", "de", "el", "en", "es", "fr", "it", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "tr", "vi", "zh"} {
			cases = append(cases, tc{name: "language " + lang, body: map[string]any{"language": lang}})
		}
		for _, pos := range []string{"top_left", "top_center", "top_right", "bottom_left", "bottom_center", "bottom_right"} {
			cases = append(cases, tc{name: "toast_position " + pos, body: map[string]any{"toast_position": pos}})
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := restAccount(t, alice.Client)
				res := alice.Do(http.MethodPatch, "/api/client/account", c.body)
				after := restAccount(t, alice.Client)
				status := c.status
				if status == 0 {
					status = http.StatusBadRequest
				}
				switch {
				case c.want != nil:
					apptest.WantErrors(t, res, status, c.want...)
				case c.prefixes != nil:
					apptest.WantErrorPrefixes(t, res, status, c.prefixes...)
				default:
					apptest.WantEmpty(t, res)
					for k, v := range c.body {
						if after[k] != v {
							t.Errorf("after PATCH %s = %#v, want %#v", k, after[k], v)
						}
					}
					for k := range before {
						if _, patched := c.body[k]; !patched && before[k] != after[k] {
							t.Errorf("unpatched %s changed: %#v → %#v", k, before[k], after[k])
						}
					}
					return
				}
				for k := range before {
					if before[k] != after[k] {
						t.Errorf("rejected PATCH changed %s: %#v → %#v", k, before[k], after[k])
					}
				}
			})
		}
		t.Run("renamed user signs in under the new name only", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "alice_new"}))
			if _, res := apptest.Login(t, ts, "ALICE_NEW", "alice password"); res.Status != http.StatusOK {
				t.Errorf("login under the new name: %d %s", res.Status, res.Body)
			}
			_, res := apptest.Login(t, ts, "alice", "alice password")
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		})
	})
}

func TestRESTPatchAccountLanguageLocked(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.AllowLanguageChange = false }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"valid language", map[string]any{"language": "de"}},
			{"invalid language", map[string]any{"language": "zz"}},
			{"language with other fields", map[string]any{"language": "fr", "name_first": "Locked"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := alice.Client
				if tc.name == "invalid language" {
					// Outside the documented languages: only a fixed
					// language lets it through, ignored.
					c = c.WithoutOpenAPI("ALLOW_LANGUAGE_CHANGE=false ignores a language rest/openapi.json does not list")
				}
				apptest.WantEmpty(t, c.Do(http.MethodPatch, "/api/client/account", tc.body))
				u := restAccount(t, alice.Client)
				if u["language"] != "en" {
					t.Errorf("language = %v, want en (changes ignored)", u["language"])
				}
				if nf, ok := tc.body["name_first"]; ok && u["name_first"] != nf {
					t.Errorf("name_first = %v, want %v", u["name_first"], nf)
				}
			})
		}
	})
}

func TestRESTPatchAccountUsernameTaken(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		for _, name := range []string{"alice", "ALICE", "Alice"} {
			t.Run(name, func(t *testing.T) {
				res := bob.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": name, "name_first": "Never"})
				apptest.WantErrors(t, res, http.StatusConflict, "username already taken")
				u := restAccount(t, bob.Client)
				if u["username"] != "bob" || u["name_first"] == "Never" {
					t.Errorf("failed PATCH changed bob: %v", u)
				}
			})
		}
		t.Run("changing the case of one's own name", func(t *testing.T) {
			apptest.WantEmpty(t, bob.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "BOB"}))
			if u := restAccount(t, bob.Client); u["username"] != "BOB" {
				t.Errorf("username = %v", u["username"])
			}
		})
		t.Run("keeping one's own name", func(t *testing.T) {
			apptest.WantEmpty(t, bob.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "BOB"}))
		})
		t.Run("the freed name can be taken", func(t *testing.T) {
			apptest.WantEmpty(t, bob.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "robert"}))
			carol := apptest.Register(t, ts, "carol", "carol password")
			apptest.WantEmpty(t, carol.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "Bob"}))
		})
	})
}

// TestRESTAccountStates covers frozen and suspended accounts.
func TestRESTAccountStates(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		apptest.Register(t, ts, "bob", "bob password")
		email := map[string]any{"email": "new@example.com", "password": "alice password"}
		password := map[string]any{"password": "alice password", "new_password": "another password"}

		t.Run("frozen", func(t *testing.T) {
			restSetFlags(t, ts, alice.ID, true, true, false)
			defer restSetFlags(t, ts, alice.ID, true, false, false)
			u := restAccount(t, alice.Client)
			if u["frozen"] != true {
				t.Errorf("frozen = %v", u["frozen"])
			}
			for _, tc := range []struct {
				name, method, path string
				body               any
				status             int
				want               string
			}{
				{"PATCH", http.MethodPatch, "/api/client/account", map[string]any{"name_first": "X"}, 409, "account is frozen"},
				{"PUT email", http.MethodPut, "/api/client/account/email", email, 409, "account is frozen"},
				{"PUT password", http.MethodPut, "/api/client/account/password", password, 409, "account is frozen"},
				{"validation comes first", http.MethodPatch, "/api/client/account", map[string]any{"name_first": ""}, 400, "name_first: length is lower than 1"},
				{"payload comes first", http.MethodPatch, "/api/client/account", map[string]any{"name_first": 1}, 400, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := alice.Do(tc.method, tc.path, tc.body)
					if tc.want == "" {
						apptest.WantErrorPrefixes(t, res, tc.status, "invalid payload: ")
					} else {
						apptest.WantErrors(t, res, tc.status, tc.want)
					}
				})
			}
			t.Run("still readable", func(t *testing.T) {
				apptest.WantStatus(t, alice.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusOK)
				if u := restAccount(t, alice.Client); u["name_first"] != "Test" || u["email"] != "alice@example.com" {
					t.Errorf("frozen account changed: %v", u)
				}
			})
		})

		t.Run("suspended", func(t *testing.T) {
			restSetFlags(t, ts, alice.ID, true, false, true)
			defer restSetFlags(t, ts, alice.ID, true, false, false)
			u := restAccount(t, alice.Client)
			if u["suspended"] != true {
				t.Errorf("suspended = %v", u["suspended"])
			}
			for _, tc := range []struct {
				name, method, path string
				body               any
				status             int
				want               string
			}{
				{"PATCH", http.MethodPatch, "/api/client/account", map[string]any{"name_first": "X"}, 409, "account is suspended"},
				{"PUT email", http.MethodPut, "/api/client/account/email", email, 403, "account is suspended"},
				{"PUT password", http.MethodPut, "/api/client/account/password", password, 403, "account is suspended"},
				{"GET permissions", http.MethodGet, "/api/client/permissions", nil, 403, "account is suspended"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					apptest.WantErrors(t, alice.Do(tc.method, tc.path, tc.body), tc.status, tc.want)
				})
			}
			t.Run("GET account still works", func(t *testing.T) {
				apptest.WantStatus(t, alice.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
			})
			t.Run("login still works", func(t *testing.T) {
				_, res := apptest.Login(t, ts, "alice", "alice password")
				apptest.WantStatus(t, res, http.StatusOK)
			})
			t.Run("API key: same gates", func(t *testing.T) {
				kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"account.infos", "account.email"}}))
				apptest.WantStatus(t, kc.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
				apptest.WantErrors(t, kc.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusForbidden, "account is suspended")
				apptest.WantErrors(t, kc.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "X"}), http.StatusConflict, "account is suspended")
			})
			t.Run("logout still works", func(t *testing.T) {
				c, _ := apptest.Login(t, ts, "alice", "alice password")
				apptest.WantEmpty(t, c.Do(http.MethodPost, "/api/client/account/logout", nil))
			})
			t.Run("nothing changed", func(t *testing.T) {
				if u := restAccount(t, alice.Client); u["name_first"] != "Test" || u["email"] != "alice@example.com" {
					t.Errorf("suspended account changed: %v", u)
				}
			})
		})

		t.Run("lifted", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Back"}))
			apptest.WantStatus(t, alice.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusOK)
		})
	})
}

func TestRESTAPIKeyPermissions(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		patch := map[string]any{"name_first": "ByKey"}
		email := map[string]any{"email": "alice2@example.com", "password": "alice password"}
		password := map[string]any{"password": "alice password", "new_password": "alice password"}
		for _, tc := range []struct {
			name   string
			perms  []string
			method string
			path   string
			body   any
			want   string // "" = 200
		}{
			{"GET account needs nothing", nil, http.MethodGet, "/api/client/account", nil, ""},
			{"GET permissions needs nothing", nil, http.MethodGet, "/api/client/permissions", nil, ""},
			{"PATCH without account.infos", []string{"account.email", "account.password"}, http.MethodPatch, "/api/client/account", patch,
				"you do not have permission to perform this action: account.infos"},
			{"PATCH with an empty list", []string{}, http.MethodPatch, "/api/client/account", patch,
				"you do not have permission to perform this action: account.infos"},
			{"PATCH empty body still needs account.infos", []string{}, http.MethodPatch, "/api/client/account", map[string]any{},
				"you do not have permission to perform this action: account.infos"},
			{"PATCH with account.infos", []string{"account.infos"}, http.MethodPatch, "/api/client/account", patch, ""},
			{"PUT email without account.email", []string{"account.infos"}, http.MethodPut, "/api/client/account/email", email,
				"you do not have permission to perform this action: account.email"},
			{"PUT email with account.email", []string{"account.email"}, http.MethodPut, "/api/client/account/email", email, ""},
			{"PUT password without account.password", []string{"account.infos", "account.email"}, http.MethodPut, "/api/client/account/password", password,
				"you do not have permission to perform this action: account.password"},
			{"PUT password with account.password", []string{"account.password"}, http.MethodPut, "/api/client/account/password", password, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: tc.perms}))
				res := kc.Do(tc.method, tc.path, tc.body)
				if tc.want == "" {
					apptest.WantStatus(t, res, http.StatusOK)
				} else {
					apptest.WantErrors(t, res, http.StatusForbidden, tc.want)
				}
			})
		}
		t.Run("validation comes before the permission check", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{}))
			apptest.WantErrors(t, kc.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "a_"}),
				http.StatusBadRequest, "username: length is lower than 3")
			apptest.WantErrorPrefixes(t, kc.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": 1}),
				http.StatusBadRequest, "invalid payload: ")
		})
		t.Run("refused changes did not happen", func(t *testing.T) {
			u := restAccount(t, apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})))
			if u["name_first"] != "ByKey" || u["email"] != "alice2@example.com" {
				t.Errorf("account: %v", u)
			}
		})
		t.Run("a password change under a key ends every session", func(t *testing.T) {
			// Every session is "other" when the change comes through a key.
			apptest.WantErrors(t, alice.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
		})
	})
}

func TestRESTPutEmail(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		apptest.Register(t, ts, "bob", "bob password")
		for _, tc := range []struct {
			name     string
			body     map[string]any
			status   int
			want     []string
			prefixes []string
		}{
			{name: "wrong password", body: map[string]any{"email": "alice2@example.com", "password": "wrong password"}, status: 403, want: []string{"invalid password"}},
			{name: "empty password", body: map[string]any{"email": "alice2@example.com", "password": ""}, status: 403, want: []string{"invalid password"}},
			{name: "missing password", body: map[string]any{"email": "alice2@example.com"}, status: 403, want: []string{"invalid password"}},
			{name: "password 513", body: map[string]any{"email": "alice2@example.com", "password": strings.Repeat("p", 513)}, status: 400, want: []string{"password: length is greater than 512"}},
			{name: "duplicate", body: map[string]any{"email": "bob@example.com", "password": "alice password"}, status: 409, want: []string{"email already in use"}},
			{name: "duplicate other case", body: map[string]any{"email": "BOB@Example.COM", "password": "alice password"}, status: 409, want: []string{"email already in use"}},
			{name: "invalid email", body: map[string]any{"email": "not-an-email", "password": "alice password"}, status: 400, prefixes: []string{"email: "}},
			{name: "empty email", body: map[string]any{"email": "", "password": "alice password"}, status: 400, prefixes: []string{"email: "}},
			{name: "missing email", body: map[string]any{"password": "alice password"}, status: 400, prefixes: []string{"email: "}},
			{name: "invalid email and wrong password", body: map[string]any{"email": "x", "password": "wrong password"}, status: 400, prefixes: []string{"email: "}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := alice.Do(http.MethodPut, "/api/client/account/email", tc.body)
				if tc.want != nil {
					apptest.WantErrors(t, res, tc.status, tc.want...)
				} else {
					apptest.WantErrorPrefixes(t, res, tc.status, tc.prefixes...)
				}
				if u := restAccount(t, alice.Client); u["email"] != "alice@example.com" {
					t.Errorf("email changed to %v", u["email"])
				}
			})
		}
		t.Run("email 256 refused", func(t *testing.T) {
			res := alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": restEmail(256), "password": "alice password"})
			apptest.WantStatus(t, res, http.StatusBadRequest)
			errs := res.Errors(t)
			if !slices.Contains(errs, "email: length is greater than 255") {
				t.Errorf("errors %q lack the length rule", errs)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e, "email: ") {
					t.Errorf("unexpected error %q", e)
				}
			}
		})
		t.Run("email 255 accepted", func(t *testing.T) {
			e := restEmail(255)
			apptest.WantEmpty(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": e, "password": "alice password"}))
			if u := restAccount(t, alice.Client); u["email"] != e {
				t.Errorf("email = %v", u["email"])
			}
		})
		t.Run("happy path", func(t *testing.T) {
			res := alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "Alice.New@Example.com", "password": "alice password"})
			apptest.WantEmpty(t, res)
			if u := restAccount(t, alice.Client); u["email"] != "Alice.New@Example.com" {
				t.Errorf("email = %v", u["email"])
			}
			if _, res := apptest.Login(t, ts, "alice.new@example.com", "alice password"); res.Status != http.StatusOK {
				t.Errorf("login with the new email: %d %s", res.Status, res.Body)
			}
			_, res = apptest.Login(t, ts, "alice@example.com", "alice password")
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		})
		t.Run("the old address is free again", func(t *testing.T) {
			c := ts.Client(t)
			res := c.Do(http.MethodPost, "/api/auth/register", restRegisterBody("carol", "alice@example.com"))
			apptest.WantStatus(t, res, http.StatusOK)
		})
		t.Run("the new address is taken", func(t *testing.T) {
			res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody("dave", "alice.new@example.com"))
			apptest.WantErrors(t, res, http.StatusBadRequest, "user with username or email already exists")
		})
		apptest.NoSecrets(t, ts, "alice password", "bob password", "wrong password")
	})
}

func TestRESTPutPassword(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "old password")
		second, _ := apptest.Login(t, ts, "alice", "old password")
		third, _ := apptest.Login(t, ts, "ALICE", "old password")
		secondCookie := apptest.CookieValue(t, second)
		bob := apptest.Register(t, ts, "bob", "bob password")
		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})

		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			want   []string
		}{
			{"new 7", map[string]any{"password": "old password", "new_password": "1234567"}, 400, []string{"new_password: length is lower than 8"}},
			{"new 513", map[string]any{"password": "old password", "new_password": strings.Repeat("n", 513)}, 400, []string{"new_password: length is greater than 512"}},
			{"new missing", map[string]any{"password": "old password"}, 400, []string{"new_password: length is lower than 8"}},
			{"current 513", map[string]any{"password": strings.Repeat("p", 513), "new_password": "new password"}, 400, []string{"password: length is greater than 512"}},
			{"both bad", map[string]any{"password": strings.Repeat("p", 513), "new_password": "short"}, 400,
				[]string{"password: length is greater than 512", "new_password: length is lower than 8"}},
			{"wrong current", map[string]any{"password": "wrong password", "new_password": "new password"}, 403, []string{"invalid password"}},
			{"missing current", map[string]any{"new_password": "new password"}, 403, []string{"invalid password"}},
			{"another user's password", map[string]any{"password": "bob password", "new_password": "new password"}, 403, []string{"invalid password"}},
			{"wrong current and bad new", map[string]any{"password": "wrong password", "new_password": "short"}, 400, []string{"new_password: length is lower than 8"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				apptest.WantErrors(t, alice.Do(http.MethodPut, "/api/client/account/password", tc.body), tc.status, tc.want...)
				// Nothing changed: every session still works.
				restAccount(t, second)
			})
		}
		t.Run("success", func(t *testing.T) {
			res := alice.Do(http.MethodPut, "/api/client/account/password", map[string]any{"password": "old password", "new_password": "new password"})
			apptest.WantEmpty(t, res)
		})
		t.Run("other sessions are revoked at once", func(t *testing.T) {
			apptest.WantErrors(t, second.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
			apptest.WantErrors(t, third.Do(http.MethodPatch, "/api/client/account", map[string]any{}), http.StatusUnauthorized, "invalid session")
			apptest.WantErrors(t, apptest.CookieClient(t, ts, secondCookie).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("the current session keeps working", func(t *testing.T) {
			restAccount(t, alice.Client)
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Still"}))
		})
		t.Run("other users are untouched", func(t *testing.T) {
			restAccount(t, bob.Client)
		})
		t.Run("API keys survive by default", func(t *testing.T) {
			restAccount(t, apptest.KeyClient(t, ts, key))
		})
		t.Run("the new password signs in, the old does not", func(t *testing.T) {
			if _, res := apptest.Login(t, ts, "alice", "new password"); res.Status != http.StatusOK {
				t.Errorf("new password: %d %s", res.Status, res.Body)
			}
			_, res := apptest.Login(t, ts, "alice", "old password")
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		})
		t.Run("the old password no longer confirms changes", func(t *testing.T) {
			// Four checks failed above; the budget of five is not the
			// subject here.
			apptest.ResetAttempts(t, ts, alice.ID)
			apptest.WantErrors(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "x@example.com", "password": "old password"}),
				http.StatusForbidden, "invalid password")
			apptest.WantEmpty(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "x@example.com", "password": "new password"}))
		})
		t.Run("no secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, "old password", "new password", "wrong password", "bob password", key, secondCookie,
				apptest.CookieValue(t, alice.Client))
		})
	})
}

// restEmail returns a syntactically valid address of exactly n characters
// (n from 72 to 300): a short local part and a domain of DNS-sized labels.
func restEmail(n int) string {
	domain := n - len("a@") - len(".com")
	var labels []string
	for domain > 0 {
		l := min(domain, 63)
		if domain-l == 1 {
			l-- // a dot needs a label after it
		}
		labels = append(labels, strings.Repeat("d", l))
		domain -= l
		if domain > 0 {
			domain-- // the dot
		}
	}
	return "a@" + strings.Join(labels, ".") + ".com"
}
