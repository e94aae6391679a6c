package rest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
	"accountd/secret"
)

// Verified address changes (ours) through the real HTTP stack: PUT
// .../email answers as the panel does, the link of the mail sent to the
// new address is what makes the change.

const restConfirmPath = "/api/auth/email/confirm"

// restVerifyChanges turns EMAIL_VERIFY_CHANGES on.
func restVerifyChanges(cfg *app.Config) { cfg.EmailVerifyChanges = true }

func TestRESTEmailChangeVerified(t *testing.T) {
	t.Parallel()
	restServer(t, restVerifyChanges, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		res := alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "alice@new.example", "password": alice.Password})
		apptest.WantEmpty(t, res)
		if got := restAccount(t, alice.Client)["email"]; got != "alice@example.com" {
			t.Fatalf("email %v before the confirmation", got)
		}
		n := apptest.LastMail(t, ts, model.MailEmailChangeNotice, "alice@example.com")
		if n.Data.NewEmail != "a***@n***.example" {
			t.Errorf("notice %+v", n.Data)
		}
		tok := apptest.MailToken(t, ts, apptest.LastMail(t, ts, model.MailEmailChangeConfirm, "alice@new.example"), "/auth/confirm-email")

		// Opened in another browser, without credentials.
		c := ts.Client(t)
		res = c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok})
		apptest.WantStatus(t, res, http.StatusOK)
		if body := res.JSON(t); len(body) != 1 || body["email"] != "alice@new.example" {
			t.Errorf("answer %s", res.Body)
		}
		restNoSessionCookie(t, res)
		if got := restAccount(t, alice.Client)["email"]; got != "alice@new.example" {
			t.Errorf("email %v after the confirmation", got)
		}
		apptest.WantErrors(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok}), http.StatusBadRequest, "invalid or expired token")
		_, res = apptest.Login(t, ts, "alice@new.example", alice.Password)
		apptest.WantStatus(t, res, http.StatusOK)
		events := apptest.Events(t, ts, alice.ID)
		data := ` {"new":"alice@new.example","old":"alice@example.com"}`
		if apptest.CountEvent(events, model.EventEmailChangeRequested+data) != 1 || apptest.CountEvent(events, model.EventEmailChanged+data) != 1 {
			t.Errorf("events %v", events)
		}
		apptest.NoSecrets(t, ts, tok)
	})
}

func TestRESTEmailChangeErrors(t *testing.T) {
	t.Parallel()
	restServer(t, restVerifyChanges, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		apptest.Register(t, ts, "bob", "bob password")
		c := ts.Client(t)

		// Taken now: the answer of today.
		apptest.WantErrors(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "BOB@example.com", "password": alice.Password}),
			http.StatusConflict, "email already in use")
		// Header injection in the address: refused by validation.
		apptest.WantErrors(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "x@example.com\r\nBcc: all@example.com",
			"password": alice.Password}), http.StatusBadRequest, "email: not a valid email address")

		// Taken meanwhile: refused at the confirmation, the link stays.
		apptest.WantEmpty(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "carol@example.com", "password": alice.Password}))
		tok := apptest.MailToken(t, ts, apptest.LastMail(t, ts, model.MailEmailChangeConfirm, "carol@example.com"), "/auth/confirm-email")
		apptest.Register(t, ts, "carol", "carol password")
		apptest.WantErrors(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok}), http.StatusConflict, "email already in use")
		if got := restAccount(t, alice.Client)["email"]; got != "alice@example.com" {
			t.Errorf("email %v", got)
		}

		for _, tc := range []struct {
			body any
			want string
		}{
			{map[string]any{"token": tok[:95]}, "token: length is lower than 96"},
			{map[string]any{"token": tok + "x"}, "token: length is greater than 96"},
			{map[string]any{}, "token: length is lower than 96"},
			{map[string]any{"token": secret.RandomString(96)}, "invalid or expired token"},
			{map[string]any{"token": apptest.OffByOne(tok)}, "invalid or expired token"},
		} {
			apptest.WantErrors(t, c.Do(http.MethodPost, restConfirmPath, tc.body), http.StatusBadRequest, tc.want)
		}
		apptest.WantErrorPrefixes(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": 5}), http.StatusBadRequest, "invalid payload: ")

		// A reset token is not a confirmation token, nor the reverse.
		reset := apptest.ResetToken(t, c, "alice@example.com")
		apptest.WantErrors(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": reset}), http.StatusBadRequest, "invalid or expired token")
		apptest.WantErrors(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password"}),
			http.StatusBadRequest, "invalid or expired token")

		// A frozen account does not move.
		restSetFlags(t, ts, alice.ID, false, true, false)
		apptest.WantErrors(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok}), http.StatusConflict, "account is frozen")
	})
}

// With EMAIL_VERIFY_CHANGES off the change is immediate (the panel's), and
// the old address still gets its notice.
func TestRESTEmailChangeImmediate(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		if ts.App.Config.EmailVerifyChanges {
			t.Fatal("EMAIL_VERIFY_CHANGES is on without SMTP_URL")
		}
		alice := apptest.Register(t, ts, "alice", "alice password")
		apptest.WantEmpty(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "alice@new.example", "password": alice.Password}))
		if got := restAccount(t, alice.Client)["email"]; got != "alice@new.example" {
			t.Errorf("email %v", got)
		}
		if len(apptest.MailsOf(t, ts, model.MailEmailChangeConfirm, "")) != 0 {
			t.Error("a confirmation was mailed")
		}
		apptest.LastMail(t, ts, model.MailEmailChangeNotice, "alice@example.com")
	})
}

// Sign-up verification: the link of the mail marks the address verified;
// the account works meanwhile. CR/LF in a sign-up's address is refused,
// in its names harmless (they never reach a header).
func TestRESTEmailVerifySignup(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.EmailVerifySignup = true }, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		res := c.Do(http.MethodPost, "/api/auth/register", map[string]any{"username": "eve", "email": "eve@example.com\r\nBcc: all@example.com",
			"name_first": "Eve", "name_last": "E", "password": "eve password"})
		apptest.WantErrors(t, res, http.StatusBadRequest, "email: not a valid email address")
		res = c.Do(http.MethodPost, "/api/auth/register", map[string]any{"username": "eve", "email": "eve@example.com",
			"name_first": "Eve\r\nBcc: all@example.com", "name_last": "E\nSubject: hi", "password": "eve password"})
		apptest.WantStatus(t, res, http.StatusOK)
		m := apptest.LastMail(t, ts, model.MailEmailVerify, "")
		if m.To != "eve@example.com" || m.Data.User.NameFirst != "Eve\r\nBcc: all@example.com" {
			t.Errorf("mail %+v", m)
		}
		apptest.WantStatus(t, c.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		tok := apptest.MailToken(t, ts, m, "/auth/confirm-email")
		res = ts.Client(t).Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok})
		apptest.WantStatus(t, res, http.StatusOK)
		if res.JSON(t)["email"] != "eve@example.com" {
			t.Errorf("answer %s", res.Body)
		}
		u, err := ts.App.Store.UserByLogin(t.Context(), "eve", false)
		if err != nil || u == nil || !u.EmailVerified {
			t.Fatalf("eve: %+v %v", u, err)
		}
		for _, m := range apptest.Mails(t, ts) {
			if strings.ContainsAny(m.To, "\r\n") {
				t.Errorf("recipient %q", m.To)
			}
		}
	})
}

// restTourMail is the OpenAPI tour's part for the mail flows: a reset and
// a confirmation, each answered with success once.
func restTourMail(t *testing.T, ts *apptest.Server, email string) {
	t.Helper()
	c := ts.Client(t)
	tok := apptest.ResetToken(t, c, email)
	apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "the tour's new password"}))
	// The tour's server confirms no changes (no SMTP_URL): the pending
	// change is stored as a change would store it.
	tourist := apptest.Register(t, ts, "tourist", "tourist password")
	tok = secret.RandomString(96)
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := ts.App.Store.ReplaceEmailVerification(t.Context(), &model.EmailVerification{ID: uuid.New(), UserID: tourist.ID,
		Email: "tourist@new.example", KeyStart: tok[:16], Digest: secret.Digest(tok), Created: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	apptest.WantStatus(t, c.Do(http.MethodPost, restConfirmPath, map[string]any{"token": tok}), http.StatusOK)
}
