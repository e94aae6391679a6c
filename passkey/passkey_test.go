package passkey_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/passkey"
	"accountd/passkey/passkeytest"
)

func newRP(t *testing.T) *passkey.RelyingParty {
	t.Helper()
	rp, err := passkey.New("localhost", "Calagopus", []string{"http://localhost:8000"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

var account = passkey.Account{ID: uuid.MustParse("0190b3a4-1c2d-7e3f-8a9b-0c1d2e3f4a5b"), Email: "alice@example.com", Username: "alice"}

// TestCreationOptionsJSON: the creation options have every member of
// REST.md §6.2, in its order, with binary values in base64url without
// padding and no null anywhere.
func TestCreationOptionsJSON(t *testing.T) {
	rp := newRP(t)
	challenge := make([]byte, 32)
	got, err := json.Marshal(rp.CreationOptions(account, challenge, [][]byte{{1, 2, 3}}, false))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"publicKey":{"rp":{"name":"Calagopus","id":"localhost"},` +
		`"user":{"id":"AZCzpBwtfj-KmwwdLj9KWw","name":"alice@example.com","displayName":"alice"},` +
		`"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",` +
		`"pubKeyCredParams":[{"type":"public-key","alg":-7},{"type":"public-key","alg":-257}],"timeout":300000,` +
		`"excludeCredentials":[{"type":"public-key","id":"AQID"}],` +
		`"authenticatorSelection":{"residentKey":"discouraged","requireResidentKey":false,"userVerification":"required"},` +
		`"attestation":"none","extensions":{"credentialProtectionPolicy":"userVerificationRequired",` +
		`"enforceCredentialProtectionPolicy":false,"uvm":true,"credProps":true}}}`
	if string(got) != want {
		t.Errorf("creation options\n got %s\nwant %s", got, want)
	}
	disc, _ := json.Marshal(rp.CreationOptions(account, challenge, nil, true))
	if !strings.Contains(string(disc), `"excludeCredentials":[]`) ||
		!strings.Contains(string(disc), `"residentKey":"required","requireResidentKey":true`) {
		t.Errorf("discoverable creation options: %s", disc)
	}
}

// TestRequestOptionsJSON: the sign-in options, with and without a username.
func TestRequestOptionsJSON(t *testing.T) {
	rp := newRP(t)
	challenge := make([]byte, 32)
	got, _ := json.Marshal(rp.RequestOptions(challenge, nil, false))
	want := `{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","timeout":300000,"rpId":"localhost",` +
		`"allowCredentials":[],"userVerification":"required"}}`
	if string(got) != want {
		t.Errorf("request options\n got %s\nwant %s", got, want)
	}
	got, _ = json.Marshal(rp.RequestOptions(challenge, [][]byte{{0xff}}, true))
	want = `{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","timeout":300000,"rpId":"localhost",` +
		`"allowCredentials":[],"userVerification":"required","extensions":{"uvm":true}}}`
	if string(got) != want {
		t.Errorf("username-less request options\n got %s\nwant %s", got, want)
	}
}

// TestRelyingPartyChecks: an RP ID is a domain, never an IP address, and
// every origin is https (http on localhost only) on that domain.
func TestRelyingPartyChecks(t *testing.T) {
	for _, tc := range []struct {
		id, origin string
		ok         bool
	}{
		{"localhost", "http://localhost:8000", true},
		{"example.com", "https://panel.example.com", true},
		{"panel.example.com", "https://panel.example.com:8443", true},
		{"example.com", "https://example.com", true},
		{"127.0.0.1", "http://127.0.0.1:8000", false},
		{"[::1]", "http://[::1]:8000", false},
		{"example.com", "http://panel.example.com", false},
		{"example.com", "https://example.org", false},
		{"example.com", "https://badexample.com", false},
		{"co.uk", "https://panel.co.uk", false},
		{"github.io", "https://someone.github.io", false},
		{"Example.com", "https://example.com", false},
		{"example.com", "https://example.com/path", false},
		{"example.com", "ftp://example.com", false},
		{"exa mple.com", "https://example.com", false},
	} {
		_, err := passkey.New(tc.id, "x", []string{tc.origin}, time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("RP ID %q, origin %q: err = %v, want ok %v", tc.id, tc.origin, err, tc.ok)
		}
	}
	for _, d := range []time.Duration{29 * time.Second, 11 * time.Minute} {
		if _, err := passkey.New("localhost", "x", []string{"http://localhost"}, d); err == nil {
			t.Errorf("timeout %s accepted", d)
		}
	}
}

// ceremony registers a credential and returns what was stored.
func register(t *testing.T, rp *passkey.RelyingParty, c *passkeytest.Client, cred *passkeytest.Credential) (*passkey.Registration, error) {
	t.Helper()
	challenge := passkey.NewChallenge()
	opts, _ := json.Marshal(rp.CreationOptions(account, challenge, nil, true))
	resp, err := c.Create(opts, cred)
	if err != nil {
		t.Fatal(err)
	}
	return rp.VerifyRegistration(resp, challenge)
}

func signIn(t *testing.T, rp *passkey.RelyingParty, c *passkeytest.Client, cred *passkeytest.Credential, stored passkey.StoredCredential) (*passkey.AssertionResult, error) {
	t.Helper()
	challenge := passkey.NewChallenge()
	opts, _ := json.Marshal(rp.RequestOptions(challenge, nil, true))
	resp, err := c.Get(opts, cred)
	if err != nil {
		t.Fatal(err)
	}
	a, err := passkey.ParseAssertion(resp)
	if err != nil {
		return nil, err
	}
	if string(a.UserHandle) != string(account.ID[:]) {
		t.Errorf("user handle %x, want the account's", a.UserHandle)
	}
	return rp.VerifyAssertion(a, challenge, stored)
}

// TestCeremonies registers and signs in with ES256 and RS256 credentials,
// in both base64 alphabets, and refuses what §6.2 refuses.
func TestCeremonies(t *testing.T) {
	rp := newRP(t)
	for _, alg := range []passkeytest.Alg{passkeytest.ES256, passkeytest.RS256} {
		for _, enc := range []passkeytest.Encoding{passkeytest.URL, passkeytest.Std} {
			c := &passkeytest.Client{Origin: "http://localhost:8000", Encoding: enc, ExtensionsMember: enc == passkeytest.Std}
			cred := passkeytest.NewCredential(alg)
			reg, err := register(t, rp, c, cred)
			if err != nil {
				t.Fatalf("alg %d encoding %d: register: %v", alg, enc, err)
			}
			stored := passkey.StoredCredential{PublicKey: reg.PublicKey, SignCount: reg.SignCount, BackupEligible: reg.BackupEligible}
			res, err := signIn(t, rp, c, cred, stored)
			if err != nil {
				t.Fatalf("alg %d encoding %d: sign in: %v", alg, enc, err)
			}
			if res.SignCount != 1 {
				t.Errorf("counter %d, want 1", res.SignCount)
			}
		}
	}

	honest := &passkeytest.Client{Origin: "http://localhost:8000"}
	if _, err := register(t, rp, honest, passkeytest.NewCredential(passkeytest.EdDSA)); err == nil {
		t.Error("an EdDSA credential was registered")
	}
	for name, c := range map[string]*passkeytest.Client{
		"wrong origin":         {Origin: "http://localhost:9000"},
		"wrong RP ID":          {Origin: "http://localhost:8000", RPID: "example.com"},
		"no user verification": {Origin: "http://localhost:8000", NoUserVerification: true},
		"no user presence":     {Origin: "http://localhost:8000", NoUserPresence: true},
		"wrong type":           {Origin: "http://localhost:8000", Type: "webauthn.get"},
		"other challenge":      {Origin: "http://localhost:8000", Challenge: passkey.NewChallenge()},
	} {
		if _, err := register(t, rp, c, passkeytest.NewCredential(passkeytest.ES256)); err == nil {
			t.Errorf("%s: registration accepted", name)
		}
	}

	cred := passkeytest.NewCredential(passkeytest.ES256)
	reg, err := register(t, rp, honest, cred)
	if err != nil {
		t.Fatal(err)
	}
	stored := passkey.StoredCredential{PublicKey: reg.PublicKey, SignCount: 5, BackupEligible: false}
	back := uint32(5)
	if _, err := signIn(t, rp, &passkeytest.Client{Origin: "http://localhost:8000", Counter: &back}, cred, stored); !errors.Is(err, passkey.ErrCloned) {
		t.Errorf("a counter that did not increase: %v", err)
	}
	cred.Counter = 10
	if _, err := signIn(t, rp, &passkeytest.Client{Origin: "http://localhost:8000", FlipBackupEligible: true}, cred, stored); !errors.Is(err, passkey.ErrBackupEligibility) {
		t.Errorf("changed backup eligibility: %v", err)
	}
	for name, c := range map[string]*passkeytest.Client{
		"wrong origin":         {Origin: "https://evil.example"},
		"wrong RP ID":          {Origin: "http://localhost:8000", RPID: "evil.example"},
		"no user verification": {Origin: "http://localhost:8000", NoUserVerification: true},
		"wrong type":           {Origin: "http://localhost:8000", Type: "webauthn.create"},
		"other challenge":      {Origin: "http://localhost:8000", Challenge: passkey.NewChallenge()},
	} {
		if _, err := signIn(t, rp, c, cred, stored); err == nil {
			t.Errorf("%s: assertion accepted", name)
		}
	}
	// Another key's signature.
	other := passkeytest.NewCredential(passkeytest.ES256)
	other.ID, other.UserHandle = cred.ID, cred.UserHandle
	if _, err := signIn(t, rp, honest, other, stored); err == nil {
		t.Error("a signature by another key was accepted")
	}

	// A synced passkey: counter 0 on both sides, backed up.
	synced := passkeytest.NewCredential(passkeytest.ES256)
	synced.Synced = true
	reg, err = register(t, rp, honest, synced)
	if err != nil || !reg.BackupEligible || !reg.BackupState || reg.SignCount != 0 {
		t.Fatalf("synced passkey: %+v %v", reg, err)
	}
	for range 2 {
		if _, err := signIn(t, rp, honest, synced, passkey.StoredCredential{PublicKey: reg.PublicKey, BackupEligible: true}); err != nil {
			t.Fatalf("synced passkey sign-in: %v", err)
		}
	}
}

// TestDecodeBase64 accepts both alphabets, padded or not, and refuses a
// mix of them.
func TestDecodeBase64(t *testing.T) {
	for _, s := range []string{"+/8=", "+/8", "-_8", "-_8="} {
		b, err := passkey.DecodeBase64(s)
		if err != nil || len(b) != 2 || b[0] != 0xfb || b[1] != 0xff {
			t.Errorf("%q: %x %v", s, b, err)
		}
	}
	if _, err := passkey.DecodeBase64("+_8"); err == nil {
		t.Error("mixed alphabets accepted")
	}
}
