package passkey

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/google/uuid"
)

// The options are built here, member by member, rather than by the
// library: the panel's front end reads them as REST.md §6.2 lists them
// (camelCase, every binary value base64url without padding, optional
// members omitted, never null), and a library's own serialisation drops
// or renames members such as enforceCredentialProtectionPolicy. Go's JSON
// encoder writes struct fields in declaration order, which is the order
// the contract lists.

// ChallengeLen is the size of a challenge in bytes (43 base64url chars).
const ChallengeLen = 32

// The COSE algorithms offered and accepted: ES256 and RS256.
const (
	AlgES256 = -7
	AlgRS256 = -257
)

// NewChallenge returns a fresh random challenge.
func NewChallenge() []byte {
	b := make([]byte, ChallengeLen)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return b
}

// Encode is the encoding of every binary value the server sends:
// base64url without padding.
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// UserHandle is the WebAuthn user.id of an account: its UUID's 16 bytes.
func UserHandle(id uuid.UUID) []byte { return id[:] }

// CreationOptions is {"publicKey": PublicKeyCredentialCreationOptionsJSON}.
type CreationOptions struct {
	PublicKey CreationPublicKey `json:"publicKey"`
}

// CreationPublicKey is the creation options' publicKey member.
type CreationPublicKey struct {
	RP                     RPEntity               `json:"rp"`
	User                   UserEntity             `json:"user"`
	Challenge              string                 `json:"challenge"`
	PubKeyCredParams       []CredentialParameter  `json:"pubKeyCredParams"`
	Timeout                int64                  `json:"timeout"`
	ExcludeCredentials     []CredentialDescriptor `json:"excludeCredentials"`
	AuthenticatorSelection AuthenticatorSelection `json:"authenticatorSelection"`
	Attestation            string                 `json:"attestation"`
	Extensions             CreationExtensions     `json:"extensions"`
}

// RPEntity names the relying party.
type RPEntity struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// UserEntity names the account a credential is made for.
type UserEntity struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

// CredentialParameter is one algorithm offered.
type CredentialParameter struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// CredentialDescriptor names a credential.
type CredentialDescriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuthenticatorSelection asks for a discoverable credential or not, and
// always for user verification.
type AuthenticatorSelection struct {
	ResidentKey        string `json:"residentKey"`
	RequireResidentKey bool   `json:"requireResidentKey"`
	UserVerification   string `json:"userVerification"`
}

// CreationExtensions are the extensions a registration asks for.
type CreationExtensions struct {
	CredentialProtectionPolicy        string `json:"credentialProtectionPolicy"`
	EnforceCredentialProtectionPolicy bool   `json:"enforceCredentialProtectionPolicy"`
	UVM                               bool   `json:"uvm"`
	CredProps                         bool   `json:"credProps"`
}

// RequestOptions is {"publicKey": PublicKeyCredentialRequestOptionsJSON}.
type RequestOptions struct {
	PublicKey RequestPublicKey `json:"publicKey"`
}

// RequestPublicKey is the request options' publicKey member.
type RequestPublicKey struct {
	Challenge        string                 `json:"challenge"`
	Timeout          int64                  `json:"timeout"`
	RPID             string                 `json:"rpId"`
	AllowCredentials []CredentialDescriptor `json:"allowCredentials"`
	UserVerification string                 `json:"userVerification"`
	Extensions       *RequestExtensions     `json:"extensions,omitempty"`
}

// RequestExtensions are the extensions a username-less sign-in asks for.
type RequestExtensions struct {
	UVM bool `json:"uvm"`
}

// descriptors lists credential IDs as descriptors; never nil, so an empty
// list encodes as [].
func descriptors(ids [][]byte) []CredentialDescriptor {
	out := make([]CredentialDescriptor, len(ids))
	for i, id := range ids {
		out[i] = CredentialDescriptor{Type: "public-key", ID: Encode(id)}
	}
	return out
}

// Account is what a registration tells the authenticator about the user.
type Account struct {
	ID       uuid.UUID
	Email    string
	Username string
}

// CreationOptions returns the options of a registration: exclude lists
// the account's configured credentials; discoverable asks for a
// resident key (username-less sign-in).
func (rp *RelyingParty) CreationOptions(a Account, challenge []byte, exclude [][]byte, discoverable bool) CreationOptions {
	sel := AuthenticatorSelection{ResidentKey: "discouraged", UserVerification: "required"}
	if discoverable {
		sel.ResidentKey, sel.RequireResidentKey = "required", true
	}
	return CreationOptions{PublicKey: CreationPublicKey{
		RP:        RPEntity{Name: rp.Name, ID: rp.ID},
		User:      UserEntity{ID: Encode(UserHandle(a.ID)), Name: a.Email, DisplayName: a.Username},
		Challenge: Encode(challenge),
		PubKeyCredParams: []CredentialParameter{
			{Type: "public-key", Alg: AlgES256},
			{Type: "public-key", Alg: AlgRS256},
		},
		Timeout:                rp.Timeout.Milliseconds(),
		ExcludeCredentials:     descriptors(exclude),
		AuthenticatorSelection: sel,
		Attestation:            "none",
		Extensions: CreationExtensions{CredentialProtectionPolicy: "userVerificationRequired",
			EnforceCredentialProtectionPolicy: false, UVM: true, CredProps: true},
	}}
}

// RequestOptions returns the options of a sign-in: allow lists the
// credentials that may answer; a username-less sign-in (discoverable)
// allows any (an empty list) and asks for the uvm extension.
func (rp *RelyingParty) RequestOptions(challenge []byte, allow [][]byte, discoverable bool) RequestOptions {
	o := RequestOptions{PublicKey: RequestPublicKey{
		Challenge: Encode(challenge), Timeout: rp.Timeout.Milliseconds(), RPID: rp.ID,
		AllowCredentials: descriptors(allow), UserVerification: "required",
	}}
	if discoverable {
		o.PublicKey.AllowCredentials = []CredentialDescriptor{}
		o.PublicKey.Extensions = &RequestExtensions{UVM: true}
	}
	return o
}
