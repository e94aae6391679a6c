package rest_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/passkey/passkeytest"
	"accountd/rest"
	"accountd/secret"
)

func TestRESTOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t) // no credentials: the document is public
		res := c.Do(http.MethodGet, "/api/openapi.json", nil)
		apptest.WantStatus(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var served, embedded any
		if err := json.Unmarshal(res.Body, &served); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if err := json.Unmarshal(rest.OpenAPIDocument(), &embedded); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(served, embedded) {
			t.Error("the served document differs from rest/openapi.json")
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		c.Header.Set("If-None-Match", etag)
		res = c.Do(http.MethodGet, "/api/openapi.json", nil)
		apptest.WantStatus(t, res, http.StatusNotModified)
		if len(res.Body) != 0 {
			t.Errorf("304 with a body: %q", res.Body)
		}
	})
}

// TestRESTOpenAPITour calls every documented operation successfully at
// least once, so that each success answer is checked against the document
// (the other REST tests cover the errors), and then makes sure none was
// left out.
func TestRESTOpenAPITour(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		const api = "/api/client/account"
		ok := func(res *apptest.Response) map[string]any {
			t.Helper()
			if res.Status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", res.Status, res.Body)
			}
			return res.JSON(t)
		}

		// Account.
		etag := alice.Do(http.MethodGet, api, nil).Header.Get("ETag")
		alice.Header.Set("If-None-Match", etag)
		apptest.WantStatus(t, alice.Do(http.MethodGet, api, nil), http.StatusNotModified)
		alice.Header.Del("If-None-Match")
		ok(alice.Do(http.MethodPatch, api, map[string]any{"name_first": "Al", "language": "de",
			"toast_position": "top_left", "start_on_grouped_servers": true}))
		ok(alice.Do(http.MethodPut, api+"/email", map[string]any{"email": "alice2@example.com", "password": alice.Password}))
		other, res := apptest.Login(t, ts, "alice", alice.Password)
		ok(res)
		ok(alice.Do(http.MethodPut, api+"/password", map[string]any{"password": alice.Password, "new_password": "alice password 2"}))
		alice.Password = "alice password 2"
		apptest.WantStatus(t, other.Do(http.MethodGet, api, nil), http.StatusUnauthorized)
		ok(alice.Do(http.MethodGet, "/api/client/permissions", nil))

		// API keys, managed by the session and used as credentials.
		created := ok(alice.Do(http.MethodPost, api+"/api-keys", map[string]any{
			"name": "tour key", "allowed_ips": []string{"127.0.0.1", "::1"},
			"user_permissions": []string{"api-keys.read", "sessions.read", "sessions.delete", "activity.read"},
			"expires":          time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		}))
		keyID, _ := apptest.Get(created, "api_key", "uuid").(string)
		keyStart, _ := apptest.Get(created, "api_key", "key_start").(string)
		ok(alice.Do(http.MethodGet, api+"/api-keys?page=1&per_page=10&search=tour", nil))
		ok(alice.Do(http.MethodGet, api+"/api-keys/identifier/"+keyStart, nil))
		ok(alice.Do(http.MethodPatch, api+"/api-keys/"+keyID, map[string]any{"name": "tour key 2", "expires": nil}))
		recreated := ok(alice.Do(http.MethodPost, api+"/api-keys/"+keyID+"/recreate", nil))
		bot := apptest.KeyClient(t, ts, recreated["key"].(string))
		ok(bot.Do(http.MethodGet, api, nil))
		ok(bot.Do(http.MethodGet, api+"/api-keys", nil))
		ok(bot.Do(http.MethodGet, api+"/sessions", nil))
		ok(bot.Do(http.MethodGet, "/api/auth/verify?permission=sessions.read", nil))
		apptest.WantStatus(t, bot.Do(http.MethodPost, api+"/logout", nil), http.StatusBadRequest)

		// Sessions.
		second, res := apptest.Login(t, ts, "alice", alice.Password)
		ok(res)
		sessions := ok(alice.Do(http.MethodGet, api+"/sessions?per_page=100", nil))
		var secondID string
		for _, s := range apptest.Get(sessions, "sessions", "data").([]any) {
			if s.(map[string]any)["is_using"] == false {
				secondID = s.(map[string]any)["uuid"].(string)
			}
		}
		ok(alice.Do(http.MethodDelete, api+"/sessions/"+secondID, nil))
		apptest.WantStatus(t, second.Do(http.MethodGet, api, nil), http.StatusUnauthorized)
		_, res = apptest.Login(t, ts, "alice", alice.Password)
		ok(res)
		if n := ok(alice.Do(http.MethodDelete, api+"/sessions", nil))["deleted"]; n != 1.0 {
			t.Errorf("deleted %v, want 1", n)
		}

		// Two-factor: set up, enable, new recovery codes, sign in through
		// the checkpoint, disable.
		setup := ok(alice.Do(http.MethodGet, api+"/two-factor", nil))
		totpSecret := setup["secret"].(string)
		step := secret.TOTPStep(time.Now())
		code := func(step int64) string {
			c, err := secret.TOTPCode(totpSecret, step, 6)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		enabled := ok(alice.Do(http.MethodPost, api+"/two-factor", map[string]any{"code": code(step), "password": alice.Password}))
		first := enabled["recovery_codes"].([]any)[0].(string)
		regenerated := ok(alice.Do(http.MethodPost, api+"/two-factor/recovery-codes", map[string]any{"code": first, "password": alice.Password}))
		recovery := regenerated["recovery_codes"].([]any)[0].(string)
		checkpoint, res := apptest.Login(t, ts, "alice", alice.Password)
		login := ok(res)
		if login["type"] != "two_factor_required" {
			t.Fatalf("login type %v, want two_factor_required", login["type"])
		}
		ok(checkpoint.Do(http.MethodPost, "/api/auth/login/checkpoint", map[string]any{
			"confirmation_token": login["token"], "code": recovery}))

		// Security keys: register one, list and rename it, sign in with it
		// with and without a username, answer the checkpoint with it
		// instead of a code, delete it.
		skCred := passkeytest.NewCredential(passkeytest.ES256)
		skBrowser := apptest.Browser(passkeytest.Std)
		skCreated := ok(alice.Do(http.MethodPost, api+"/security-keys", map[string]any{"name": "tour key", "allow_usernameless_login": true}))
		skID, _ := apptest.Get(skCreated, "security_key", "uuid").(string)
		skAnswer, err := skBrowser.Create(apptest.RawJSON(t, skCreated["options"]), skCred)
		if err != nil {
			t.Fatal(err)
		}
		ok(alice.Do(http.MethodPost, api+"/security-keys/"+skID+"/challenge", map[string]any{"public_key_credential": apptest.Credential(t, skAnswer)}))
		ok(alice.Do(http.MethodGet, api+"/security-keys?search=tour", nil))
		ok(alice.Do(http.MethodPatch, api+"/security-keys/"+skID, map[string]any{"name": "tour key 2"}))
		skGet := func(options any) map[string]any {
			t.Helper()
			answer, err := skBrowser.Get(apptest.RawJSON(t, options), skCred)
			if err != nil {
				t.Fatal(err)
			}
			return apptest.Credential(t, answer)
		}
		for _, path := range []string{"/api/auth/login/security-key", "/api/auth/login/security-key/discoverable"} {
			c := ts.Client(t)
			query := ""
			if !strings.HasSuffix(path, "discoverable") {
				query = "?user=alice"
			}
			begun := ok(c.Do(http.MethodGet, path+query, nil))
			ok(c.Do(http.MethodPost, path, map[string]any{"uuid": begun["uuid"], "public_key_credential": skGet(begun["options"])}))
		}
		skCheckpoint, res := apptest.Login(t, ts, "alice", alice.Password)
		skToken, _ := ok(res)["token"].(string)
		skOptions := ok(skCheckpoint.Do(http.MethodGet, "/api/auth/login/checkpoint/security-key?confirmation_token="+skToken, nil))
		ok(skCheckpoint.Do(http.MethodPost, "/api/auth/login/checkpoint", map[string]any{
			"confirmation_token": skToken, "public_key_credential": skGet(skOptions["options"])}))
		ok(alice.Do(http.MethodDelete, api+"/security-keys/"+skID, nil))
		ok(checkpoint.Do(http.MethodDelete, api+"/two-factor", map[string]any{"code": code(step + 1), "password": alice.Password}))

		// The history, read with the key; then the key goes, and so does
		// the session.
		ok(bot.Do(http.MethodGet, api+"/activity?search=api-key", nil))
		ok(alice.Do(http.MethodGet, api+"/activity", nil))
		ok(alice.Do(http.MethodDelete, api+"/api-keys/"+keyID, nil))
		ok(alice.Do(http.MethodPost, api+"/logout", nil))
		ok(alice.Do(http.MethodGet, "/api/openapi.json", nil))

		// Password reset and address confirmation.
		restTourMail(t, ts, "alice2@example.com")

		checker, err := ts.OpenAPI()
		if err != nil {
			t.Fatal(err)
		}
		if missing := checker.Unseen(http.StatusOK); len(missing) > 0 {
			t.Errorf("operations whose success answer no test checked:\n%s", strings.Join(missing, "\n"))
		}
	})
}

// TestRESTOpenAPIErrorTour provokes the errors of the API key, session and
// two-factor routes, so that each is checked against the statuses the
// document lists for its route.
func TestRESTOpenAPIErrorTour(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.MaxAPIKeys = 1 }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		const api = "/api/client/account"
		want := func(res *apptest.Response, status int) {
			t.Helper()
			apptest.WantStatus(t, res, status)
		}
		unknown := uuid.Must(uuid.NewV7()).String()

		// API keys.
		want(alice.Do(http.MethodGet, api+"/api-keys?per_page=0", nil), http.StatusBadRequest)
		want(alice.Do(http.MethodGet, api+"/api-keys/identifier/c7sp_00000000000", nil), http.StatusNotFound)
		want(alice.Do(http.MethodPost, api+"/api-keys", map[string]any{"name": "x"}), http.StatusBadRequest)
		res := alice.Do(http.MethodPost, api+"/api-keys", map[string]any{"name": "only key"})
		want(res, http.StatusOK)
		key := res.JSON(t)["key"].(string)
		want(alice.Do(http.MethodPost, api+"/api-keys", map[string]any{"name": "one too many"}), http.StatusExpectationFailed)
		want(alice.Do(http.MethodPatch, api+"/api-keys/not-a-uuid", map[string]any{}), http.StatusBadRequest)
		want(alice.Do(http.MethodPatch, api+"/api-keys/"+unknown, map[string]any{}), http.StatusNotFound)
		want(alice.Do(http.MethodDelete, api+"/api-keys/"+unknown, nil), http.StatusNotFound)
		want(alice.Do(http.MethodPost, api+"/api-keys/"+unknown+"/recreate", nil), http.StatusNotFound)
		bot := apptest.KeyClient(t, ts, key) // a key with no permissions
		want(bot.Do(http.MethodGet, api+"/api-keys", nil), http.StatusForbidden)
		want(bot.Do(http.MethodPatch, api, map[string]any{"name_first": "Bot"}), http.StatusForbidden)

		// Sessions and activity.
		want(alice.Do(http.MethodGet, api+"/sessions?page=0", nil), http.StatusBadRequest)
		want(alice.Do(http.MethodDelete, api+"/sessions/not-a-uuid", nil), http.StatusBadRequest)
		want(alice.Do(http.MethodDelete, api+"/sessions/"+unknown, nil), http.StatusNotFound)
		want(alice.Do(http.MethodGet, api+"/activity?search="+strings.Repeat("a", 129), nil), http.StatusBadRequest)
		want(bot.Do(http.MethodDelete, api+"/sessions", nil), http.StatusForbidden)

		// Two-factor.
		want(alice.Do(http.MethodPost, api+"/two-factor", map[string]any{"code": "123456", "password": alice.Password}), http.StatusUnauthorized)
		want(alice.Do(http.MethodDelete, api+"/two-factor", map[string]any{"code": "123456", "password": alice.Password}), http.StatusConflict)
		want(alice.Do(http.MethodPost, api+"/two-factor/recovery-codes", map[string]any{"code": "123456", "password": alice.Password}), http.StatusConflict)
		res = alice.Do(http.MethodGet, api+"/two-factor", nil)
		want(res, http.StatusOK)
		want(alice.Do(http.MethodPost, api+"/two-factor", map[string]any{"code": "12345", "password": alice.Password}), http.StatusBadRequest)
		want(alice.Do(http.MethodPost, api+"/two-factor", map[string]any{"code": "123456", "password": "wrong password"}), http.StatusForbidden)
		code, err := secret.TOTPCode(res.JSON(t)["secret"].(string), secret.TOTPStep(time.Now()), 6)
		if err != nil {
			t.Fatal(err)
		}
		want(alice.Do(http.MethodPost, api+"/two-factor", map[string]any{"code": code, "password": alice.Password}), http.StatusOK)
		want(alice.Do(http.MethodGet, api+"/two-factor", nil), http.StatusConflict)
		want(alice.Do(http.MethodDelete, api+"/two-factor", map[string]any{"code": "1234567", "password": alice.Password}), http.StatusBadRequest)
		want(ts.Client(t).Do(http.MethodPost, "/api/auth/login/checkpoint",
			map[string]any{"confirmation_token": "nope", "code": "123456"}), http.StatusBadRequest)
	})
}

// TestOpenAPICheckerCatchesDrift feeds the checker answers that do not
// match the document, to show that the check in every client would fail.
func TestOpenAPICheckerCatchesDrift(t *testing.T) {
	t.Parallel()
	checker, err := apptest.NewOpenAPIChecker()
	if err != nil {
		t.Fatal(err)
	}
	jsonHeader := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	const etag = `"0123456789abcdef0123456789abcdef"`
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		resHeader                http.Header
		resBody                  string
		want                     string // in the problem; "" = no problem
	}{
		{name: "documented error", method: "GET", path: "/api/client/account", status: 401,
			resHeader: jsonHeader(), resBody: `{"errors":["missing authorization"]}`},
		{name: "member missing", method: "GET", path: "/api/client/account", header: http.Header{"Authorization": {"Bearer x"}},
			status: 200, resHeader: jsonHeader("ETag", etag), resBody: `{"user":{}}`, want: "does not match the document"},
		{name: "extra member", method: "GET", path: "/api/client/account/sessions", header: http.Header{"Authorization": {"Bearer x"}},
			status: 200, resHeader: jsonHeader("ETag", etag),
			resBody: `{"sessions":{"total":0,"per_page":25,"page":1,"data":[]},"extra":1}`, want: "does not match the document"},
		{name: "undocumented status", method: "DELETE", path: "/api/client/account/sessions", header: http.Header{"Authorization": {"Bearer x"}},
			status: http.StatusTeapot, resHeader: jsonHeader(), resBody: `{"errors":["x"]}`, want: "status is not supported"},
		{name: "error body shape", method: "POST", path: "/api/auth/login", status: 400,
			resHeader: jsonHeader(), resBody: `{"error":"invalid"}`, want: "does not match the document"},
		{name: "429 without Retry-After", method: "POST", path: "/api/auth/login", status: 429,
			resHeader: jsonHeader(), resBody: `{"errors":["too many attempts, retry in 3s"]}`, want: "Retry-After"},
		{name: "unknown route answered", method: "GET", path: "/api/client/nope", status: 200,
			resHeader: jsonHeader(), resBody: `{}`, want: "must be 404"},
		{name: "wrong method answered", method: "PUT", path: "/api/client/account", status: 404,
			resHeader: jsonHeader(), resBody: `{"errors":["route not found"]}`, want: "must be 405"},
		{name: "405 without Allow", method: "PUT", path: "/api/client/account", status: 405,
			resHeader: jsonHeader(), resBody: `{"errors":["method not allowed"]}`, want: "Allow"},
		{name: "refused request accepted", method: "PATCH", path: "/api/client/account",
			header: http.Header{"Authorization": {"Bearer x"}, "Content-Type": {"application/json"}}, body: `{"username":"x"}`,
			status: 200, resHeader: jsonHeader(), resBody: `{}`, want: "the document refuses this request"},
		{name: "refused request refused", method: "PATCH", path: "/api/client/account",
			header: http.Header{"Authorization": {"Bearer x"}, "Content-Type": {"application/json"}}, body: `{"username":"x"}`,
			status: 400, resHeader: jsonHeader(), resBody: `{"errors":["username: length is lower than 3"]}`},
		{name: "no credentials accepted", method: "GET", path: "/api/client/account", status: 200,
			resHeader: jsonHeader("ETag", etag), resBody: `{}`, want: "the document refuses this request"},
		{name: "non-JSON body not described", method: "PATCH", path: "/api/client/account",
			header: http.Header{"Authorization": {"Bearer x"}, "Content-Type": {"text/plain"}}, body: `hello`,
			status: 400, resHeader: jsonHeader(), resBody: `{"errors":["invalid payload: unsupported content type"]}`},
		{name: "304 unasked", method: "GET", path: "/api/client/account", header: http.Header{"Authorization": {"Bearer x"}},
			status: 304, resHeader: http.Header{"Etag": {etag}}, want: "without If-None-Match"},
		{name: "304 on a POST", method: "POST", path: "/api/client/account/logout",
			header: http.Header{"Authorization": {"Bearer x"}, "If-None-Match": {etag}},
			status: 304, resHeader: http.Header{"Etag": {etag}}, want: "not a documented answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://127.0.0.1"+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			ex := checker.CheckRequest(req, body, "calagopus_session")
			problems := strings.Join(ex.CheckResponse(tc.status, tc.resHeader, []byte(tc.resBody)), "\n")
			switch {
			case tc.want == "" && problems != "":
				t.Errorf("unexpected problems:\n%s", problems)
			case tc.want != "" && !strings.Contains(problems, tc.want):
				t.Errorf("problems %q, want one mentioning %q", problems, tc.want)
			}
		})
	}
}

// Sanity of the helper the transport relies on.
func TestOpenAPIIsJSONObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ct, body string
		want     bool
	}{
		{"application/json", `{"a":1}`, true},
		{"Application/JSON; charset=utf-8", `{}`, true},
		{"application/json", ``, true},
		{"application/json", " \n", true},
		{"application/json", `null`, false},
		{"application/json", `[1]`, false},
		{"application/json", `{"a":1} {}`, false},
		{"application/json", `{"a":`, false},
		{"text/plain", `{"a":1}`, false},
		{"", `{"a":1}`, false},
	} {
		if got := apptest.IsJSONObject(tc.ct, []byte(tc.body)); got != tc.want {
			t.Errorf("isJSONObject(%q, %q) = %v, want %v", tc.ct, tc.body, got, tc.want)
		}
	}
}
