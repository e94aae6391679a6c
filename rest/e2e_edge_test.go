package rest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"accountd/app/apptest"
)

// TestRESTMultibyteLimits: the contract counts lengths in characters, and a
// value accepted at registration must keep working everywhere else.
func TestRESTMultibyteLimits(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		for _, tc := range []struct {
			name     string
			username string
			email    string
			password string
		}{
			{"password 8 two-byte chars", "mb1", "mb1@example.com", strings.Repeat("é", 8)},
			{"password 300 two-byte chars (600 bytes)", "mb2", "mb2@example.com", strings.Repeat("é", 300)},
			{"password 512 two-byte chars (1024 bytes)", "mb3", "mb3@example.com", strings.Repeat("é", 512)},
			{"password 200 four-byte chars (800 bytes)", "mb4", "mb4@example.com", strings.Repeat("🔑", 200)},
			{"email 212 chars (412 bytes)", "mb5", strings.Repeat("é", 200) + "@example.com", "ascii password"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if n := utf8.RuneCountInString(tc.password); n < 8 || n > 512 {
					t.Fatalf("bad case: %d chars", n)
				}
				res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody(tc.username, tc.email).with("password", tc.password))
				if res.Status != http.StatusOK {
					t.Fatalf("register (valid per contract): %d %s", res.Status, res.Body)
				}
				for _, login := range []string{tc.username, tc.email} {
					_, res := apptest.Login(t, ts, login, tc.password)
					if res.Status != http.StatusOK {
						t.Errorf("login as %.20q… with the password just registered (%d chars, %d bytes): %d %s",
							login, utf8.RuneCountInString(tc.password), len(tc.password), res.Status, res.Body)
					}
				}
			})
		}
	})
}

// TestRESTControlCharacters: user input the database cannot store must be
// refused as a client error, never answered with a 500.
func TestRESTControlCharacters(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, tc := range []struct {
			name   string
			method string
			path   string
			c      *apptest.Client
			body   map[string]any
		}{
			{"PATCH name_first with NUL", http.MethodPatch, "/api/client/account", alice.Client, map[string]any{"name_first": "a\x00b"}},
			{"PATCH name_last with NUL", http.MethodPatch, "/api/client/account", alice.Client, map[string]any{"name_last": "a\x00b"}},
			{"register name_first with NUL", http.MethodPost, "/api/auth/register", ts.Client(t), restRegisterBody("nul1", "nul1@example.com").with("name_first", "x\x00")},
			{"register name_last with NUL", http.MethodPost, "/api/auth/register", ts.Client(t), restRegisterBody("nul2", "nul2@example.com").with("name_last", "x\x00")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := tc.c.Do(tc.method, tc.path, tc.body)
				if res.Status >= 500 {
					t.Errorf("%s %s with a NUL byte: %d %s, want a 4xx client error (or acceptance)", tc.method, tc.path, res.Status, res.Body)
				}
				if res.Status >= 400 {
					apptest.WantErrorBody(t, res)
				}
			})
		}
		t.Run("login with NUL in user", func(t *testing.T) {
			for _, user := range []string{"alice\x00", "\x00", "alice\x00@example.com"} {
				t.Run(fmt.Sprintf("%q", user), func(t *testing.T) {
					_, res := apptest.Login(t, ts, user, "alice password")
					apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
				})
			}
		})
		t.Run("PUT email with NUL", func(t *testing.T) {
			res := alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "a\x00@example.com", "password": "alice password"})
			apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "email: ")
		})
		t.Run("register email with NUL", func(t *testing.T) {
			res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody("nul3", "nul3\x00@example.com"))
			apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "email: ")
		})
		t.Run("the account is intact", func(t *testing.T) {
			restAccount(t, alice.Client)
		})
	})
}

// restBody is a request body that can be varied field by field.
type restBody map[string]any

func (b restBody) with(k string, v any) restBody {
	out := restBody{}
	for kk, vv := range b {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// TestRESTQuotingRoundTrip: values that mean something to SQL or to the
// query builder's placeholders are stored and returned exactly, and never
// change what a query matches.
func TestRESTQuotingRoundTrip(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, v := range []string{`'`, `''`, `\`, `\'`, `?`, `?0`, `??`, `?TableName`, `?TableAlias`, `$1`, `%s`,
			`'; DROP TABLE users; --`, `" OR 1=1 --`, `é'ü"?`, "tab\there", "line\nbreak"} {
			t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
				apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": v, "name_last": v + v}))
				u := restAccount(t, alice.Client)
				if u["name_first"] != v || u["name_last"] != v+v {
					t.Errorf("round trip: name_first %q, name_last %q", u["name_first"], u["name_last"])
				}
			})
		}
		for _, user := range []string{`alice' OR '1'='1`, `' OR 1=1 --`, `alice'--`, `?`, `%`, `_____`, `a%`, `ALICE%`, `x' OR email_key LIKE '%`} {
			t.Run("login "+fmt.Sprintf("%q", user), func(t *testing.T) {
				_, res := apptest.Login(t, ts, user, "alice password")
				apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
			})
		}
		for _, email := range []string{`%@example.com`, `_lice@example.com`, `alice@example.co_`} {
			t.Run("login "+fmt.Sprintf("%q", email), func(t *testing.T) {
				_, res := apptest.Login(t, ts, email, "alice password")
				apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
			})
		}
	})
}

// TestRESTJSONFieldNames: body field names are matched exactly, as the
// reference's serde does; any other spelling is an unknown field and is
// ignored (REST.md §1).
func TestRESTJSONFieldNames(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, tc := range []struct {
			name string
			body string
			// want is name_first after the PATCH.
			want string
		}{
			{"upper-case key ignored", `{"NAME_FIRST":"Shout"}`, "Test"},
			{"title-case key ignored", `{"Name_First":"Title"}`, "Test"},
			{"exact key wins over a differently cased duplicate", `{"name_first":"Real","NAME_FIRST":"Shadow"}`, "Real"},
			{"exact key applied", `{"name_first":"Exact"}`, "Exact"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.want == "Test" || tc.want == "Real" {
					// Reset first.
					apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Test"}))
				}
				res := alice.Raw(http.MethodPatch, "/api/client/account", "application/json", strings.NewReader(tc.body))
				apptest.WantEmpty(t, res)
				if got := restAccount(t, alice.Client)["name_first"]; got != tc.want {
					t.Errorf("PATCH %s: name_first = %v, want %v", tc.body, got, tc.want)
				}
			})
		}
		t.Run("login with a differently cased password key", func(t *testing.T) {
			res := ts.Client(t).Raw(http.MethodPost, "/api/auth/login", "application/json",
				strings.NewReader(`{"USER":"alice","Password":"alice password"}`))
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		})
	})
}

// TestRESTNullBody: a JSON null is valid JSON of the wrong type for an
// object body: 400 invalid payload (REST.md §1 "wrong type"), as serde in
// the reference answers; it is not the empty body, which counts as {}.
func TestRESTNullBody(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, r := range []struct {
			name, method, path string
			c                  *apptest.Client
		}{
			{"PATCH account", http.MethodPatch, "/api/client/account", alice.Client},
			{"register", http.MethodPost, "/api/auth/register", ts.Client(t)},
			{"login", http.MethodPost, "/api/auth/login", ts.Client(t)},
		} {
			t.Run(r.name, func(t *testing.T) {
				res := r.c.Raw(r.method, r.path, "application/json", strings.NewReader("null"))
				apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "invalid payload: ")
			})
		}
	})
}
