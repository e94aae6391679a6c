package web

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSessionCookieOnePerResponse: whatever sequence of decisions a
// request makes about the session cookie, the response carries one
// Set-Cookie for it — the last decision — and leaves other cookies alone.
func TestSessionCookieOnePerResponse(t *testing.T) {
	t.Parallel()
	c := SessionCookie{Name: "calagopus_session"}
	later := time.Now().Add(time.Hour)
	sessionLines := func(h http.Header) []*http.Cookie {
		var out []*http.Cookie
		for _, line := range h.Values("Set-Cookie") {
			ck, err := http.ParseSetCookie(line)
			if err != nil {
				t.Fatalf("bad Set-Cookie %q: %v", line, err)
			}
			if ck.Name == c.Name {
				out = append(out, ck)
			}
		}
		return out
	}

	for _, tc := range []struct {
		name      string
		steps     func(h http.Header)
		wantValue string // "" = cleared
	}{
		{"refresh then clear (logout, revoking the own session)", func(h http.Header) {
			c.Issue(h, "old-token", later)
			c.Clear(h)
		}, ""},
		{"refresh then a new sign-in", func(h http.Header) {
			c.Issue(h, "old-token", later)
			c.Issue(h, "new-token", later)
		}, "new-token"},
		{"cleared, then signed in again in the same request", func(h http.Header) {
			c.Issue(h, "old-token", later)
			c.Clear(h)
			c.Issue(h, "new-token", later)
		}, "new-token"},
		{"cleared twice", func(h http.Header) { c.Clear(h); c.Clear(h) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Add("Set-Cookie", "other=1; Path=/")
			h.Add("Set-Cookie", "calagopus_session_extra=keep; Path=/") // a longer name with the same prefix
			tc.steps(h)
			got := sessionLines(h)
			if len(got) != 1 {
				t.Fatalf("%d session Set-Cookie lines, want 1: %q", len(got), h.Values("Set-Cookie"))
			}
			if got[0].Value != tc.wantValue {
				t.Errorf("session cookie value %q, want %q", got[0].Value, tc.wantValue)
			}
			if tc.wantValue == "" && got[0].MaxAge >= 0 {
				t.Errorf("clearing cookie has Max-Age %d: %q", got[0].MaxAge, h.Values("Set-Cookie"))
			}
			all := strings.Join(h.Values("Set-Cookie"), "\n")
			if !strings.Contains(all, "other=1") || !strings.Contains(all, "calagopus_session_extra=keep") {
				t.Errorf("another cookie was dropped: %q", h.Values("Set-Cookie"))
			}
		})
	}
}
