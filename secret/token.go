package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
)

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomString returns n characters drawn uniformly from [A-Za-z0-9] with
// crypto/rand (rejection sampling, so no character is favoured).
func RandomString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			// crypto/rand never fails on supported platforms; if it did,
			// issuing a weak token would be worse than stopping.
			panic("secret: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 62*4 = 248: bytes at or above it would bias the result.
			if b < 248 && len(out) < n {
				out = append(out, alphanumerics[b%62])
			}
		}
	}
	return string(out)
}

// IsAlphanumeric reports whether s consists of [A-Za-z0-9] only.
func IsAlphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Digest is the SHA-256 of a high-entropy token: enough to store it safely
// and cheap enough to check on every request.
func Digest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// DigestEqual compares two digests in constant time.
func DigestEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
