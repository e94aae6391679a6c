package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
)

// SMTP is an SMTP server to send through, from SMTP_URL:
//
//	smtp://user:pass@host:587     STARTTLS, required (port 587 by default)
//	smtp://host:25?starttls=off   no TLS: for a relay on the same host
//	smtps://user:pass@host:465    TLS from the first byte (port 465 by default)
//
// The user and password are optional (no authentication without them).
type SMTP struct {
	Host string
	Port int
	// Username and Password authenticate, when Username is set. Over a
	// connection without TLS only mechanisms that never send the password
	// itself are used (SCRAM, CRAM-MD5).
	Username string
	Password string
	// ImplicitTLS is smtps://: TLS from the first byte.
	ImplicitTLS bool
	// StartTLS requires the server to offer STARTTLS and switches to TLS
	// before anything else is sent; off only with ?starttls=off.
	StartTLS bool
	// TLSConfig, if not nil, replaces the default TLS settings (the
	// system's roots, the host's name): tests trust their own certificate
	// with it.
	TLSConfig *tls.Config
}

// String is the URL without the password, for logs.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	if !s.ImplicitTLS && !s.StartTLS {
		u.RawQuery = "starttls=off"
	}
	return u.String()
}

// errSMTPURLForm is what every malformed SMTP_URL is told. It never
// quotes the value, which may hold a password; url.Parse's own errors do.
var errSMTPURLForm = errors.New("want smtp://[user:pass@]host[:port][?starttls=off] or smtps://[user:pass@]host[:port]" +
	" (characters such as @ : / in the user or password percent-encoded)")

// ParseSMTPURL reads SMTP_URL. Its errors never hold the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errSMTPURLForm
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.Port, s.StartTLS = 587, true
	case "smtps":
		s.Port, s.ImplicitTLS = 465, true
	default:
		return nil, errSMTPURLForm
	}
	if s.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errSMTPURLForm
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			// Not quoted: with the host forgotten, the "port" is the
			// password (smtp://user:secret).
			return nil, errors.New("the port: want a number from 1 to 65535")
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return nil, errors.New("a password without a user name")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errSMTPURLForm
	}
	for k, v := range q {
		switch {
		case k == "starttls" && u.Scheme == "smtp" && len(v) == 1 && v[0] == "off":
			s.StartTLS = false
		case k == "starttls" && u.Scheme == "smtp" && len(v) == 1 && v[0] == "on":
		case k == "starttls":
			return nil, errors.New("starttls: want on or off, and only with smtp://")
		default:
			// Not quoted either: whatever was typed there may be a secret.
			return nil, errors.New("an unknown parameter: the only one is starttls=off")
		}
	}
	return s, nil
}

// ParseFrom reads MAIL_FROM: an address, optionally with a display name
// ("Panel <noreply@panel.example.com>").
func ParseFrom(s string) (*netmail.Address, error) {
	if hasControl(s) {
		return nil, errors.New("holds a control character")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, errors.New("want an address such as noreply@panel.example.com or Panel <noreply@panel.example.com>")
	}
	if err := checkAddress(a); err != nil {
		return nil, err
	}
	return a, nil
}

// DefaultFrom is the sender when MAIL_FROM is unset: the application's
// name at noreply@ the host of APP_URL.
func DefaultFrom(appName string, appURL *url.URL) (*netmail.Address, error) {
	if hasControl(appName) {
		return nil, errors.New("APP_NAME holds a control character")
	}
	host := appURL.Hostname()
	a, err := netmail.ParseAddress("noreply@" + host)
	if err != nil || strings.ContainsAny(host, ":[]") {
		return nil, fmt.Errorf("noreply@%s (from APP_URL) is not an address: set MAIL_FROM", host)
	}
	return &netmail.Address{Name: appName, Address: a.Address}, nil
}

// checkAddress refuses what must never reach a header or an SMTP command
// as an address: line breaks and other control characters, and anything
// net/mail would not parse back to the same bare address.
func checkAddress(a *netmail.Address) error {
	if hasControl(a.Name) || hasControl(a.Address) {
		return errors.New("holds a control character")
	}
	back, err := netmail.ParseAddress("<" + a.Address + ">")
	if err != nil || back.Address != a.Address {
		return errors.New("not a valid address")
	}
	return nil
}

// hasControl reports whether s holds a control character: CR and LF
// above all, which would start a header of their own.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
