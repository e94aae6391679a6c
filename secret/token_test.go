package secret

import (
	"bytes"
	"testing"
)

func TestRandomString(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		s := RandomString(43)
		if len(s) != 43 || !IsAlphanumeric(s) {
			t.Fatalf("RandomString(43) = %q", s)
		}
		if seen[s] {
			t.Fatalf("RandomString repeated %q", s)
		}
		seen[s] = true
		for i := range len(s) {
			counts[s[i]]++
		}
	}
	// 86,000 draws over 62 symbols: each should appear ~1387 times. A
	// biased sampler (b % 62 without rejection) over-represents the first
	// eight symbols by ~25%; allow 15%.
	if len(counts) != 62 {
		t.Fatalf("only %d distinct characters drawn", len(counts))
	}
	for c, n := range counts {
		if n < 1180 || n > 1600 {
			t.Errorf("character %q drawn %d times; expected about 1387", c, n)
		}
	}
}

func TestIsAlphanumeric(t *testing.T) {
	for s, want := range map[string]bool{"": true, "aZ09": true, "a-b": false, "é": false, "a b": false, "c7sp_x": false} {
		if got := IsAlphanumeric(s); got != want {
			t.Errorf("IsAlphanumeric(%q) = %v", s, got)
		}
	}
}

func TestDigest(t *testing.T) {
	a, b := Digest("token"), Digest("token")
	if len(a) != 32 || !bytes.Equal(a, b) || !DigestEqual(a, b) {
		t.Fatal("digest of the same token differs")
	}
	if DigestEqual(a, Digest("tokem")) || DigestEqual(a, a[:31]) {
		t.Fatal("different digests compare equal")
	}
}
