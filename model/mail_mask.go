package model

import "strings"

// MaskEmail hides most of an address while leaving enough for its owner
// to recognise it: the first character of the local part and of the
// domain, and the top-level domain — "alice@example.com" becomes
// "a***@e***.com". The notice of an address change shows the new address
// this way to the old one, which may no longer be the owner's, so it
// learns that a change happened and roughly where to, not the address.
// Something that is not an address is masked whole.
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "***"
	}
	local, domain := addr[:at], addr[at+1:]
	out := firstRune(local) + "***@"
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 {
		return out + firstRune(domain) + "***"
	}
	return out + firstRune(domain) + "***" + domain[dot:]
}

// firstRune is s's first character (not byte), so a multi-byte first
// letter is not cut in half.
func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}
