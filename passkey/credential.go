package passkey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

// The reasons a credential is refused. They are for logs and tests only:
// a client is told only that the ceremony failed, whatever the cause.
var (
	// ErrMalformed: the credential is not a WebAuthn response at all.
	ErrMalformed = errors.New("malformed credential")
	// ErrCloned: the signature counter did not increase, so two copies
	// of the credential may be in use.
	ErrCloned = errors.New("signature counter did not increase: possible cloned authenticator")
	// ErrBackupEligibility: the backup-eligible flag differs from the one
	// the credential was registered with (WebAuthn Level 3 §6.1.3).
	ErrBackupEligibility = errors.New("backup eligibility changed since registration")
	// ErrBackupState: the backup-state flag is set on a credential that
	// is not backup eligible.
	ErrBackupState = errors.New("backup state set without backup eligibility")
)

// The binary members of a public_key_credential, by path. The panel's
// front end sends them in standard base64 with padding, other clients in
// base64url; both are accepted, padded or not, and turned into the
// base64url the library reads.
var (
	binaryMembers         = []string{"rawId"}
	binaryResponseMembers = []string{"clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle", "publicKey"}
)

// normalize rewrites a public_key_credential into the form the library
// parses: every binary member (and id) in base64url without padding, and
// clientExtensionResults under that name ("extensions" is accepted for
// it). Anything else is left as sent.
func normalize(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var cred map[string]any
	if err := dec.Decode(&cred); err != nil || cred == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := reencode(cred, "id"); err != nil {
		return nil, err
	}
	for _, m := range binaryMembers {
		if err := reencode(cred, m); err != nil {
			return nil, err
		}
	}
	if resp, ok := cred["response"].(map[string]any); ok {
		for _, m := range binaryResponseMembers {
			if err := reencode(resp, m); err != nil {
				return nil, err
			}
		}
	}
	if ext, ok := cred["extensions"]; ok {
		if _, has := cred["clientExtensionResults"]; !has {
			cred["clientExtensionResults"] = ext
		}
		delete(cred, "extensions")
	}
	if ext, ok := cred["clientExtensionResults"]; ok && ext == nil {
		delete(cred, "clientExtensionResults")
	}
	return json.Marshal(cred)
}

// reencode rewrites m[key], when it is a string, from either base64
// alphabet into base64url without padding.
func reencode(m map[string]any, key string) error {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: %s is not a string", ErrMalformed, key)
	}
	b, err := DecodeBase64(s)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrMalformed, key)
	}
	m[key] = Encode(b)
	return nil
}

// DecodeBase64 reads standard base64 or base64url, with or without
// padding.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	std := strings.ContainsAny(s, "+/")
	if std && strings.ContainsAny(s, "-_") {
		return nil, errors.New("mixed base64 alphabets")
	}
	if std {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// credParams are the algorithms a registration may use.
var credParams = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: AlgRS256},
}

// Registration is a verified new credential, as it is stored.
type Registration struct {
	CredentialID []byte
	// PublicKey is the credential's COSE key.
	PublicKey      []byte
	SignCount      uint32
	BackupEligible bool
	BackupState    bool
	AAGUID         []byte
	Transports     []string
	// Format is the attestation statement's format ("none" mostly).
	Format string
}

// VerifyRegistration checks a registration response against the
// challenge the server issued for it: type webauthn.create, the
// challenge, an allowed origin, the RP ID's hash, user presence and
// verification, an ES256 or RS256 key, a consistent backup state, and the
// attestation statement's own signature (its trust is not checked: the
// server asks for attestation "none").
func (rp *RelyingParty) VerifyRegistration(raw json.RawMessage, challenge []byte) (*Registration, error) {
	body, err := normalize(raw)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, describe(err)
	}
	if _, err := parsed.Verify(Encode(challenge), rp.ID, rp.Origins, nil, rp.Origins, protocol.TopOriginExplicitVerificationMode,
		false, true, true, nil, credParams, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return nil, describe(err)
	}
	auth := parsed.Response.AttestationObject.AuthData
	if !auth.Flags.HasBackupEligible() && auth.Flags.HasBackupState() {
		return nil, ErrBackupState
	}
	reg := &Registration{
		CredentialID: bytes.Clone(auth.AttData.CredentialID), PublicKey: bytes.Clone(auth.AttData.CredentialPublicKey),
		SignCount: auth.Counter, BackupEligible: auth.Flags.HasBackupEligible(), BackupState: auth.Flags.HasBackupState(),
		AAGUID: bytes.Clone(auth.AttData.AAGUID), Format: parsed.Response.AttestationObject.Format, Transports: []string{},
	}
	for _, t := range parsed.Response.Transports {
		reg.Transports = append(reg.Transports, string(t))
	}
	return reg, nil
}

// Assertion is a parsed sign-in response, not yet verified: it names the
// credential and (for a discoverable credential) the account.
type Assertion struct {
	CredentialID []byte
	// UserHandle is the account's user.id, when the authenticator sent it.
	UserHandle []byte
	parsed     *protocol.ParsedCredentialAssertionData
}

// ParseAssertion reads a sign-in response.
func ParseAssertion(raw json.RawMessage) (*Assertion, error) {
	body, err := normalize(raw)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, describe(err)
	}
	return &Assertion{CredentialID: parsed.RawID, UserHandle: parsed.Response.UserHandle, parsed: parsed}, nil
}

// StoredCredential is what the server keeps of a credential and checks
// an assertion against.
type StoredCredential struct {
	PublicKey      []byte
	SignCount      uint32
	BackupEligible bool
}

// AssertionResult is what a verified assertion changes in the stored
// credential.
type AssertionResult struct {
	SignCount   uint32
	BackupState bool
}

// VerifyAssertion checks a sign-in response against the challenge the
// server issued and the stored credential: type webauthn.get, the
// challenge, an allowed origin, the RP ID's hash, user presence and
// verification, the signature, a signature counter that increased
// whenever either side is non-zero (otherwise the authenticator may have
// been cloned: refused, not merely warned about), and a backup-eligible
// flag unchanged since registration.
func (rp *RelyingParty) VerifyAssertion(a *Assertion, challenge []byte, cred StoredCredential) (*AssertionResult, error) {
	if err := a.parsed.Verify(Encode(challenge), rp.ID, "", rp.Origins, nil, rp.Origins, protocol.TopOriginExplicitVerificationMode,
		false, true, true, cred.PublicKey, protocol.SignaturePolicy{}); err != nil {
		return nil, describe(err)
	}
	auth := a.parsed.Response.AuthenticatorData
	if (auth.Counter != 0 || cred.SignCount != 0) && auth.Counter <= cred.SignCount {
		return nil, ErrCloned
	}
	if auth.Flags.HasBackupEligible() != cred.BackupEligible {
		return nil, ErrBackupEligibility
	}
	if !auth.Flags.HasBackupEligible() && auth.Flags.HasBackupState() {
		return nil, ErrBackupState
	}
	return &AssertionResult{SignCount: auth.Counter, BackupState: auth.Flags.HasBackupState()}, nil
}

// describe turns a library error into one that says what failed for the
// log: its details and developer information, which hold no secret (a
// challenge is not one).
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := pe.Type + ": " + pe.Details
		if pe.DevInfo != "" {
			msg += " (" + pe.DevInfo + ")"
		}
		return errors.New(msg)
	}
	return err
}
