package secret

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 key of RFC 6238's test vectors, in base32.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// TestTOTPCodeRFC6238 checks the SHA-1 rows of RFC 6238, Appendix B
// (8 digits, 30-second steps).
func TestTOTPCodeRFC6238(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		got, err := TOTPCode(rfcSecret, TOTPStep(time.Unix(tc.unix, 0)), 8)
		if err != nil || got != tc.want {
			t.Errorf("T=%d: code %q, %v; want %q", tc.unix, got, err, tc.want)
		}
	}
}

// TestMatchTOTPWindow pins the clock and checks both edges of the ±1 step
// window and the steps just outside it.
func TestMatchTOTPWindow(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 37037037, 1 s into it
	cur := TOTPStep(now)
	for _, tc := range []struct {
		name   string
		offset int64
		ok     bool
	}{
		{"two steps early", -2, false},
		{"previous step", -1, true},
		{"current step", 0, true},
		{"next step", 1, true},
		{"two steps late", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := TOTPCode(rfcSecret, cur+tc.offset, TOTPDigits)
			if err != nil {
				t.Fatal(err)
			}
			step, ok := MatchTOTP(rfcSecret, code, now)
			if ok != tc.ok {
				t.Fatalf("match = %v, want %v", ok, tc.ok)
			}
			if ok && step != cur+tc.offset {
				t.Errorf("matched step %d, want %d", step, cur+tc.offset)
			}
		})
	}
	t.Run("window edges follow the clock", func(t *testing.T) {
		code, _ := TOTPCode(rfcSecret, cur, TOTPDigits)
		start := time.Unix(cur*30, 0)
		for _, tc := range []struct {
			at time.Time
			ok bool
		}{
			{start.Add(-30 * time.Second), true},                  // first instant of the previous step
			{start.Add(-30*time.Second - time.Nanosecond), false}, // last instant before it
			{start.Add(59*time.Second + 999*time.Millisecond), true},
			{start.Add(60 * time.Second), false},
		} {
			if _, ok := MatchTOTP(rfcSecret, code, tc.at); ok != tc.ok {
				t.Errorf("at %s: match = %v, want %v", tc.at.UTC().Format(time.RFC3339Nano), ok, tc.ok)
			}
		}
	})
	t.Run("malformed codes", func(t *testing.T) {
		code, _ := TOTPCode(rfcSecret, cur, TOTPDigits)
		for _, bad := range []string{"", code[:5], code + "0", "abcdef", " " + code[1:]} {
			if _, ok := MatchTOTP(rfcSecret, bad, now); ok {
				t.Errorf("%q matched", bad)
			}
		}
	})
}

func TestNewTOTPSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s := NewTOTPSecret()
		b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
		if len(s) != 32 || err != nil || len(b) != 20 || strings.Contains(s, "=") {
			t.Fatalf("secret %q: %d bytes, %v", s, len(b), err)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

func TestOTPAuthURL(t *testing.T) {
	got := OTPAuthURL("Calagopus", "a@example.com", "ABC")
	if want := "otpauth://totp/Calagopus:a@example.com?secret=ABC&issuer=Calagopus"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	// Names that need escaping still parse back to themselves.
	raw := OTPAuthURL("My Panel & Co", "a+b@example.com", "ABC")
	if strings.Contains(raw, "+") && !strings.Contains(raw, "a+b") {
		t.Errorf("URL %q encodes a space as +", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/My Panel & Co:a+b@example.com" || u.Query().Get("issuer") != "My Panel & Co" || u.Query().Get("secret") != "ABC" {
		t.Errorf("parsed back: path %q, query %v", u.Path, u.Query())
	}
}
