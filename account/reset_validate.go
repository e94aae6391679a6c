package account

import (
	"net/netip"
	"regexp"
	"strings"

	"golang.org/x/net/idna"

	"accountd/model"
)

// The password reset request validates its address as the panel does
// (REST.md §7.1), so its messages are the panel's: "not a valid email:
// <reason>" with the reason of the panel's validator, and a length counted
// in bytes. Sign-up and address changes keep their own rule (checkEmail):
// an address they accepted is accepted here too, except for the rare
// exotic forms (quoted local parts) that no reset form would be sent.
const maxResetEmailBytes = 255

var (
	resetEmailUserRE   = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+$")
	resetEmailDomainRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
)

// checkResetEmail records the rules of the reset request's address, every
// failing one, in the panel's order: the address's form, then its length.
func checkResetEmail(v *model.Validation, field, value string) {
	if reason := emailFormError(value); reason != "" {
		v.Add(field, "not a valid email: "+reason)
	}
	if len(value) > maxResetEmailBytes {
		v.Add(field, "length is greater than 255")
	}
}

// emailFormError says why value is not an address, or "" when it is one:
// a local part of at most 64 bytes from the characters RFC 5322 allows
// unquoted, an "@", and a domain name (internationalised names in their
// ASCII form) or a bracketed IP address.
func emailFormError(value string) string {
	if value == "" {
		return "value is empty"
	}
	user, domain, ok := strings.Cut(value, "@")
	switch {
	case !ok:
		return "value is missing `@`"
	case len(user) > 64:
		return "user length exceeded maximum of 64 characters"
	case !resetEmailUserRE.MatchString(user):
		return "user contains unexpected characters"
	case len(domain) > 255:
		return "domain length exceeded maximum of 255 characters"
	case !validEmailDomain(domain):
		return "domain contains unexpected characters"
	}
	return ""
}

func validEmailDomain(domain string) bool {
	if resetEmailDomainRE.MatchString(domain) || bracketedIP(domain) {
		return true
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	return err == nil && ascii != domain && resetEmailDomainRE.MatchString(ascii)
}

// bracketedIP reports whether s is an address literal: "[192.0.2.1]",
// "[2001:db8::1]" (no zone).
func bracketedIP(s string) bool {
	inner, ok := strings.CutPrefix(s, "[")
	if !ok {
		return false
	}
	if inner, ok = strings.CutSuffix(inner, "]"); !ok {
		return false
	}
	ip, err := netip.ParseAddr(inner)
	return err == nil && ip.Zone() == ""
}
