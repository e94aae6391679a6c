// Package passkey is the WebAuthn relying party: the configuration checks,
// the ceremony options exactly as the panel's front end reads them
// (REST.md §6.2), and the verification of what a browser sends back
// (§6.3), on github.com/go-webauthn/webauthn's protocol package. It knows
// nothing of accounts or storage: the account service decides which
// challenge, key and counter a ceremony is checked against.
package passkey

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// The bounds of a ceremony's timeout (WEBAUTHN_TIMEOUT).
const (
	MinTimeout = 30 * time.Second
	MaxTimeout = 10 * time.Minute
)

// RelyingParty is this server as WebAuthn sees it.
type RelyingParty struct {
	// ID is the RP ID: a domain every origin is on.
	ID string
	// Name is shown by authenticators (APP_NAME).
	Name string
	// Origins are the origins accepted in clientDataJSON.origin.
	Origins []string
	// Timeout is how long a ceremony may take.
	Timeout time.Duration
}

// New checks a relying party's settings and returns it.
func New(id, name string, origins []string, timeout time.Duration) (*RelyingParty, error) {
	if err := CheckRPID(id); err != nil {
		return nil, err
	}
	if len(origins) == 0 {
		return nil, errors.New("no origin")
	}
	for _, o := range origins {
		if err := CheckOrigin(id, o); err != nil {
			return nil, err
		}
	}
	if timeout < MinTimeout || timeout > MaxTimeout {
		return nil, fmt.Errorf("timeout %s: want %s to %s", timeout, MinTimeout, MaxTimeout)
	}
	return &RelyingParty{ID: id, Name: name, Origins: append([]string(nil), origins...), Timeout: timeout}, nil
}

// CheckRPID reports whether id can be an RP ID: a domain name in lower
// case, never an IP address, which browsers refuse as an RP ID.
func CheckRPID(id string) error {
	switch {
	case id == "":
		return errors.New("empty")
	case net.ParseIP(strings.Trim(id, "[]")) != nil:
		return fmt.Errorf("%q is an IP address; browsers accept only a domain name as the RP ID", id)
	case id != strings.ToLower(id):
		return fmt.Errorf("%q: write the domain in lower case", id)
	case !isDomain(id):
		return fmt.Errorf("%q is not a domain name", id)
	}
	return nil
}

// isDomain reports whether s is a DNS name: dot-separated labels of
// letters, digits and inner hyphens.
func isDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// CheckOrigin reports whether origin is one an RP with ID id can accept:
// an origin (scheme, host, optional port, nothing else), https — or http
// on localhost only, the one host browsers treat as secure over plain
// http — whose host is id or a subdomain of id that is not separated from
// it by a public suffix, the rule browsers apply to the RP ID.
func CheckOrigin(id, origin string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an origin such as https://panel.example.com", origin)
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if host != "localhost" && !strings.HasSuffix(host, ".localhost") {
			return fmt.Errorf("%q: WebAuthn needs https (plain http only on localhost)", origin)
		}
	default:
		return fmt.Errorf("%q: want an https:// origin", origin)
	}
	if net.ParseIP(host) != nil {
		return fmt.Errorf("%q: an IP address cannot be a WebAuthn origin", origin)
	}
	if !registrableSuffix(id, strings.ToLower(host)) {
		return fmt.Errorf("%q: its host is not %s or a subdomain of it", origin, id)
	}
	return nil
}

// registrableSuffix reports whether id is host, or a suffix of host that a
// browser lets host use as its RP ID: a whole-label suffix that is not a
// public suffix (github.io, co.uk).
func registrableSuffix(id, host string) bool {
	if id == host {
		return true
	}
	if !strings.HasSuffix(host, "."+id) {
		return false
	}
	if id == "localhost" {
		return true
	}
	suffix, _ := publicsuffix.PublicSuffix(id)
	return suffix != id
}

// Origin returns the origin of an absolute URL: scheme://host[:port].
func Origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
