package account

import (
	"strings"
	"testing"
)

// The per-address counter of reset requests is keyed on the trimmed,
// case-folded address, and holds only its digest.
func TestForgotAddressKey(t *testing.T) {
	want := forgotAddressKey("alice@example.com")
	for _, in := range []string{"ALICE@example.com", " alice@example.com", "Alice@Example.COM\t", "\nalice@EXAMPLE.com "} {
		if got := forgotAddressKey(in); got != want {
			t.Errorf("forgotAddressKey(%q) = %q, want %q", in, got, want)
		}
	}
	if forgotAddressKey("bob@example.com") == want {
		t.Error("two addresses share a counter")
	}
	if strings.Contains(want, "alice") || !strings.HasPrefix(want, "forgot:") || len(want) != len("forgot:")+32 {
		t.Errorf("key %q", want)
	}
}
