package rest_test

import (
	"bytes"
	"net/http"
	"testing"

	"accountd/app/apptest"
)

// TestRESTInvalidUTF8 checks that a body's text is never rewritten:
// encoding/json would replace each invalid byte (or lone surrogate escape)
// with U+FFFD, so "horse\xff" and "horse\xfe" would be the same password.
// Such a body is refused with 400 in the contract's error shape and
// changes nothing.
func TestRESTInvalidUTF8(t *testing.T) {
	t.Parallel()
	const password = "correct horse"
	bads := []struct{ name, text string }{
		{"byte 0xff", "\xff"},
		{"truncated sequence", "\xe2\x98"},
		{"lone surrogate escape", `\ud800`},
	}
	refused := func(t *testing.T, res *apptest.Response) {
		t.Helper()
		apptest.WantErrors(t, res, http.StatusBadRequest, "invalid payload: the body is not valid UTF-8")
		restNoSessionCookie(t, res)
	}
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "utf8alice", password)
		for _, bad := range bads {
			t.Run("register/"+bad.name, func(t *testing.T) {
				body := `{"username":"utf8new","email":"utf8new@example.com","name_first":"N","name_last":"U","password":"correct horse` + bad.text + `"}`
				refused(t, ts.Client(t).Raw(http.MethodPost, "/api/auth/register", "application/json", bytes.NewReader([]byte(body))))
			})
			t.Run("login/"+bad.name, func(t *testing.T) {
				body := `{"user":"utf8alice","password":"correct horse` + bad.text + `"}`
				refused(t, ts.Client(t).Raw(http.MethodPost, "/api/auth/login", "application/json", bytes.NewReader([]byte(body))))
			})
			t.Run("change password/"+bad.name, func(t *testing.T) {
				body := `{"password":"correct horse","new_password":"new horse ` + bad.text + `"}`
				refused(t, alice.Client.Raw(http.MethodPut, "/api/client/account/password", "application/json", bytes.NewReader([]byte(body))))
			})
			t.Run("in a name/"+bad.name, func(t *testing.T) {
				body := `{"name_first":"Al` + bad.text + `ce"}`
				refused(t, alice.Client.Raw(http.MethodPatch, "/api/client/account", "application/json", bytes.NewReader([]byte(body))))
			})
		}
		t.Run("nothing changed", func(t *testing.T) {
			if acct := restAccount(t, alice.Client); acct["name_first"] != "Test" {
				t.Errorf("account changed: %v", acct)
			}
			if _, res := apptest.Login(t, ts, "utf8alice", password); res.Status != http.StatusOK {
				t.Errorf("the old password no longer signs in: %d %s", res.Status, res.Body)
			}
			if _, res := apptest.Login(t, ts, "utf8alice", "new horse \uFFFD"); res.Status == http.StatusOK {
				t.Errorf("the password was changed to its U+FFFD rewrite")
			}
			if _, res := apptest.Login(t, ts, "utf8new", "correct horse\uFFFD"); res.Status == http.StatusOK {
				t.Errorf("a refused registration created the account")
			}
		})
		t.Run("valid multibyte text passes", func(t *testing.T) {
			res := alice.Client.Raw(http.MethodPatch, "/api/client/account", "application/json",
				bytes.NewReader([]byte(`{"name_first":"Zoë \u2603"}`)))
			apptest.WantStatus(t, res, http.StatusOK)
			if acct := restAccount(t, alice.Client); acct["name_first"] != "Zoë ☃" {
				t.Errorf("name_first = %v", acct["name_first"])
			}
		})
	})
}
