// Package passkeytest is a software WebAuthn authenticator and client for
// tests: it answers the options the server sends with the registration
// and sign-in responses a browser would post, signed with ES256, RS256 or
// (to be refused) EdDSA keys, and can be told to misbehave — another
// origin or RP ID, no user verification, a counter that goes backwards,
// changed backup flags — so every refusal of the relying party can be
// tested without a browser.
package passkeytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Alg is a credential's signature algorithm (its COSE identifier).
type Alg int

// The algorithms a credential can be made with.
const (
	ES256 Alg = -7
	RS256 Alg = -257
	EdDSA Alg = -8
)

// Encoding is how a client writes the binary members of a credential.
type Encoding int

const (
	// URL is base64url without padding, as browsers' toJSON() writes it.
	URL Encoding = iota
	// Std is standard base64 with padding, as the panel's front end
	// writes it.
	Std
)

func (e Encoding) encode(b []byte) string {
	if e == Std {
		return base64.StdEncoding.EncodeToString(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// The authenticator data flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Credential is one key pair held by the authenticator.
type Credential struct {
	ID  []byte
	Alg Alg
	// UserHandle is the user.id of the registration that made it; a
	// sign-in sends it back.
	UserHandle []byte
	// Counter is the signature counter: each sign-in increments it first,
	// unless a ceremony sets the counter itself. Synced passkeys keep it
	// at 0 (see Synced).
	Counter uint32
	// Synced marks a synced passkey: backup eligible and backed up, with
	// a counter that stays 0.
	Synced bool
	key    crypto.Signer
}

// NewCredential makes a credential with a fresh key of alg.
func NewCredential(alg Alg) *Credential {
	c := &Credential{ID: random(32), Alg: alg}
	var err error
	switch alg {
	case ES256:
		c.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		c.key, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, c.key, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic(fmt.Sprintf("passkeytest: unknown algorithm %d", alg))
	}
	if err != nil {
		panic(err)
	}
	return c
}

// Client plays a browser at an origin, with an authenticator whose
// ceremonies the fields below adjust. The zero value of each is what an
// honest browser and authenticator do.
type Client struct {
	// Origin is the origin the client reports in clientDataJSON.
	Origin string
	// RPID overrides the RP ID whose hash the authenticator data holds
	// (the options' RP ID otherwise).
	RPID string
	// Encoding is how binary members are written.
	Encoding Encoding
	// Type overrides clientDataJSON.type.
	Type string
	// Challenge overrides the challenge signed (the options' otherwise).
	Challenge []byte
	// NoUserVerification and NoUserPresence clear the UV and UP flags.
	NoUserVerification, NoUserPresence bool
	// Counter, when not nil, is the counter this ceremony reports instead
	// of the next one (a cloned authenticator reports an old one).
	Counter *uint32
	// FlipBackupEligible reports the opposite backup eligibility.
	FlipBackupEligible bool
	// UserHandle, when not nil, is sent instead of the credential's (an
	// empty one sends none).
	UserHandle []byte
	// ExtensionsMember sends the extension outputs as "extensions", the
	// other name a client may use for clientExtensionResults.
	ExtensionsMember bool
}

// options is the part of the server's options the authenticator reads.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

// parseOptions reads options as the REST routes send them, under
// "publicKey", or as GraphQL does, the publicKey member's value alone.
func parseOptions(raw []byte) (*options, []byte, error) {
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, nil, fmt.Errorf("passkeytest: options: %w", err)
	}
	if o.PublicKey.Challenge == "" {
		if err := json.Unmarshal(raw, &o.PublicKey); err != nil {
			return nil, nil, fmt.Errorf("passkeytest: options: %w", err)
		}
	}
	ch, err := base64.RawURLEncoding.DecodeString(o.PublicKey.Challenge)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: challenge: %w", err)
	}
	return &o, ch, nil
}

// Create answers creation options with a registration
// response for cred, which takes the options' user.id as its user handle.
func (c *Client) Create(raw []byte, cred *Credential) (json.RawMessage, error) {
	o, challenge, err := parseOptions(raw)
	if err != nil {
		return nil, err
	}
	if cred.UserHandle, err = base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID); err != nil {
		return nil, fmt.Errorf("passkeytest: user.id: %w", err)
	}
	clientData := c.clientData("webauthn.create", challenge)
	coseKey, err := cred.coseKey()
	if err != nil {
		return nil, err
	}
	auth := c.authData(o.PublicKey.RP.ID, cred, cred.Counter)
	auth[32] |= flagAT
	auth = append(auth, make([]byte, 16)...) // AAGUID: none
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(cred.ID)))
	auth = append(auth, cred.ID...)
	auth = append(auth, coseKey...)
	att, err := webauthncbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{"none", map[string]any{}, auth})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(cred.key.Public())
	if err != nil {
		return nil, err
	}
	return c.credential(cred, map[string]any{
		"clientDataJSON": c.Encoding.encode(clientData), "attestationObject": c.Encoding.encode(att),
		"authenticatorData": c.Encoding.encode(auth), "publicKey": c.Encoding.encode(spki),
		"publicKeyAlgorithm": int(cred.Alg), "transports": []string{"internal"},
	}, map[string]any{"credProps": map[string]any{"rk": true}})
}

// Get answers request options with a sign-in response from cred.
func (c *Client) Get(raw []byte, cred *Credential) (json.RawMessage, error) {
	o, challenge, err := parseOptions(raw)
	if err != nil {
		return nil, err
	}
	counter := cred.Counter
	switch {
	case c.Counter != nil:
		counter = *c.Counter
	case !cred.Synced:
		cred.Counter++
		counter = cred.Counter
	}
	clientData := c.clientData("webauthn.get", challenge)
	auth := c.authData(o.PublicKey.RPID, cred, counter)
	sum := sha256.Sum256(clientData)
	sig, err := cred.sign(append(append([]byte(nil), auth...), sum[:]...))
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"clientDataJSON": c.Encoding.encode(clientData), "authenticatorData": c.Encoding.encode(auth),
		"signature": c.Encoding.encode(sig)}
	handle := cred.UserHandle
	if c.UserHandle != nil {
		handle = c.UserHandle
	}
	if len(handle) > 0 {
		resp["userHandle"] = c.Encoding.encode(handle)
	}
	return c.credential(cred, resp, map[string]any{})
}

// credential wraps a response in a PublicKeyCredential's JSON.
func (c *Client) credential(cred *Credential, resp, ext map[string]any) (json.RawMessage, error) {
	extName := "clientExtensionResults"
	if c.ExtensionsMember {
		extName = "extensions"
	}
	return json.Marshal(map[string]any{
		"id": base64.RawURLEncoding.EncodeToString(cred.ID), "rawId": c.Encoding.encode(cred.ID),
		"type": "public-key", "response": resp, extName: ext, "authenticatorAttachment": "platform",
	})
}

func (c *Client) clientData(typ string, challenge []byte) []byte {
	if c.Type != "" {
		typ = c.Type
	}
	if c.Challenge != nil {
		challenge = c.Challenge
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": base64.RawURLEncoding.EncodeToString(challenge),
		"origin": c.Origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data without attested credential data.
func (c *Client) authData(rpID string, cred *Credential, counter uint32) []byte {
	if c.RPID != "" {
		rpID = c.RPID
	}
	h := sha256.Sum256([]byte(rpID))
	flags := byte(flagUP | flagUV)
	if c.NoUserPresence {
		flags &^= flagUP
	}
	if c.NoUserVerification {
		flags &^= flagUV
	}
	if cred.Synced != c.FlipBackupEligible {
		flags |= flagBE
		if cred.Synced {
			flags |= flagBS
		}
	}
	out := append(h[:], flags)
	return binary.BigEndian.AppendUint32(out, counter)
}

// coseKey is the credential's public key in COSE form.
func (cred *Credential) coseKey() ([]byte, error) {
	switch k := cred.key.Public().(type) {
	case *ecdsa.PublicKey:
		pt, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		return webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(cred.Alg)},
			Curve:         1, XCoord: pt[1:33], YCoord: pt[33:65]})
	case *rsa.PublicKey:
		return webauthncbor.Marshal(webauthncose.RSAPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.RSAKey), Algorithm: int64(cred.Alg)},
			Modulus:       k.N.Bytes(), Exponent: big.NewInt(int64(k.E)).Bytes()})
	case ed25519.PublicKey:
		return webauthncbor.Marshal(webauthncose.OKPPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.OctetKey), Algorithm: int64(cred.Alg)},
			Curve:         6, XCoord: []byte(k)})
	}
	return nil, fmt.Errorf("passkeytest: unknown key type %T", cred.key.Public())
}

// sign signs the assertion's data as the credential's algorithm does.
func (cred *Credential) sign(data []byte) ([]byte, error) {
	switch k := cred.key.(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(data)
		return ecdsa.SignASN1(rand.Reader, k, sum[:])
	case *rsa.PrivateKey:
		sum := sha256.Sum256(data)
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, data), nil
	}
	return nil, fmt.Errorf("passkeytest: unknown key type %T", cred.key)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return b
}
