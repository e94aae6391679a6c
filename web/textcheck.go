package web

import "unicode/utf8"

// ExactJSONText reports whether a JSON body decodes to exactly the
// characters the client sent: it must be valid UTF-8 and its string escapes
// must not name a lone UTF-16 surrogate (such as "\ud800").
//
// Go's encoding/json does not refuse either: it silently replaces each
// invalid byte and each lone surrogate with U+FFFD. Two different passwords
// ("\xff" and "\xfe", say) would then decode to the same string and compare
// equal, so a secret could be matched by a value that is not it, and a
// stored name would not be what was typed. Both transports refuse such a
// body before decoding it; the body limit bounds the cost of the scan.
func ExactJSONText(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if i+1 < len(body) && body[i+1] == 'u' {
				r, ok := hex4(body, i+2)
				switch {
				case !ok:
					// Malformed: the decoder refuses it on its own.
				case r >= 0xDC00 && r <= 0xDFFF:
					return false // a trailing surrogate with no leading one
				case r >= 0xD800 && r < 0xDC00:
					if i+11 >= len(body) || body[i+6] != '\\' || body[i+7] != 'u' {
						return false
					}
					if r2, ok := hex4(body, i+8); !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return false
					}
					i += 6 // the pair's trailing half is consumed with it
				}
				i += 5
				continue
			}
			i++ // skip the escaped character, which may be a quote
		}
	}
	return true
}

// hex4 reads the four hex digits of a \u escape starting at b[at].
func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
