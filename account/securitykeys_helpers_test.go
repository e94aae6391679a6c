package account_test

import (
	"encoding/json"
	"testing"
	"time"

	"accountd/account"
	"accountd/model"
	"accountd/passkey"
	"accountd/passkey/passkeytest"
)

// skOrigin is the origin the tests' browser runs on; the relying party is
// localhost, as with the default APP_URL.
const skOrigin = "http://localhost:8000"

// skTimeout is WEBAUTHN_TIMEOUT's default.
const skTimeout = 5 * time.Minute

// skConfig is the default configuration with security keys on.
func skConfig() account.Config {
	cfg := defaultConfig()
	rp, err := passkey.New("localhost", "Calagopus", []string{skOrigin}, skTimeout)
	if err != nil {
		panic(err)
	}
	cfg.SecurityKeys = account.SecurityKeyConfig{RelyingParty: rp, AllowDiscoverable: true, MaxKeys: 50}
	return cfg
}

// browser is an honest browser on skOrigin.
func browser() *passkeytest.Client { return &passkeytest.Client{Origin: skOrigin} }

// jsonOf marshals options for the software authenticator.
func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// skBegin begins a registration named name for u.
func (e *env) skBegin(u *user, name string, usernameless bool) *account.SecurityKeyRegistration {
	e.t.Helper()
	reg, err := e.svc.BeginSecurityKeyRegistration(e.ctx, e.actor(u.Token), account.SecurityKeyRegistrationInput{Name: name, AllowUsernameless: usernameless})
	if err != nil {
		e.t.Fatalf("begin registration %q: %v", name, err)
	}
	return reg
}

// skAnswer is the browser's answer to a registration's options.
func (e *env) skAnswer(c *passkeytest.Client, reg *account.SecurityKeyRegistration, cred *passkeytest.Credential) json.RawMessage {
	e.t.Helper()
	resp, err := c.Create(jsonOf(e.t, reg.Options), cred)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// skFinish answers a registration through c.
func (e *env) skFinish(u *user, reg *account.SecurityKeyRegistration, c *passkeytest.Client, cred *passkeytest.Credential) (*model.SecurityKey, error) {
	e.t.Helper()
	return e.svc.FinishSecurityKeyRegistration(e.ctx, e.actor(u.Token), reg.Key.ID, e.skAnswer(c, reg, cred))
}

// skRegister registers a new credential of alg for u and returns it and
// its key.
func (e *env) skRegister(u *user, name string, alg passkeytest.Alg) (*passkeytest.Credential, *model.SecurityKey) {
	e.t.Helper()
	cred := passkeytest.NewCredential(alg)
	k, err := e.skFinish(u, e.skBegin(u, name, true), browser(), cred)
	if err != nil {
		e.t.Fatalf("register %q: %v", name, err)
	}
	return cred, k
}

// skLogin runs a sign-in through c: begin (with a username, or without
// when user is ""), then answer with cred.
func (e *env) skLogin(user string, c *passkeytest.Client, cred *passkeytest.Credential) (*account.LoginResult, error) {
	e.t.Helper()
	ch, err := e.svc.BeginSecurityKeyLogin(e.ctx, account.SecurityKeyLoginInput{User: user, Discoverable: user == ""})
	if err != nil {
		e.t.Fatalf("begin sign-in: %v", err)
	}
	return e.skAnswerLogin(ch, c, cred, "")
}

// skAnswerLogin answers a sign-in ceremony.
func (e *env) skAnswerLogin(ch *account.SecurityKeyChallenge, c *passkeytest.Client, cred *passkeytest.Credential, kind model.CeremonyKind) (*account.LoginResult, error) {
	e.t.Helper()
	resp, err := c.Get(jsonOf(e.t, ch.Options), cred)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.svc.FinishSecurityKeyLogin(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA},
		account.FinishSecurityKeyLoginInput{Challenge: ch.ID.String(), Credential: resp, Kind: kind})
	if res != nil {
		e.secret(res.SessionToken, res.DeviceToken)
	}
	return res, err
}

// skKeys lists u's configured keys.
func (e *env) skKeys(u *user) []*model.SecurityKey {
	e.t.Helper()
	p, err := e.svc.ListSecurityKeys(e.ctx, e.actor(u.Token), model.ListQuery{Page: 1, PerPage: 100})
	if err != nil {
		e.t.Fatalf("list security keys: %v", err)
	}
	return p.Items
}
