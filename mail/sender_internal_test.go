package mail

import (
	"strings"
	"testing"
	"time"

	"accountd/model"
)

// The wait after each failed attempt: 30 s doubling, capped at an hour,
// plus at most a quarter more at random.
func TestBackoff(t *testing.T) {
	s := &Sender{}
	for attempt, want := range map[int]time.Duration{
		0: time.Hour, 1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 4: 4 * time.Minute, 5: 8 * time.Minute,
		6: 16 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 9: time.Hour, 1000: time.Hour,
	} {
		if got := s.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %s, want %s", attempt, got, want)
		}
	}
	s.Jitter = func(d time.Duration) time.Duration { return d - 1 }
	if got := s.backoff(1); got != 30*time.Second+30*time.Second/4-1 {
		t.Errorf("backoff(1) with the most jitter = %s", got)
	}
	if got := s.backoff(20); got != time.Hour+time.Hour/4-1 {
		t.Errorf("backoff(20) with the most jitter = %s", got)
	}
}

// An error text keeps none of the mail's data, whatever its case, and
// stays short.
func TestScrub(t *testing.T) {
	m := &model.Mail{To: "Bob@Example.com", Data: model.MailData{Link: "https://p.example/r?token=abcDEF123",
		NewEmail: "new@example.org", User: model.MailUser{Email: "old@example.net"}}}
	got := scrub("550 <bob@example.com> rejected; echo https://p.example/r?token=abcDEF123 new@example.org OLD@example.net", m)
	for _, leak := range []string{"bob@", "token", "new@", "OLD@"} {
		if strings.Contains(strings.ToLower(got), strings.ToLower(leak)) {
			t.Errorf("scrub left %q: %s", leak, got)
		}
	}
	if want := "550 <[recipient]> rejected; echo [link] [address] [address]"; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	if long := scrub(strings.Repeat("é", 1000), m); len(long) > maxErrorText+len("…") || !strings.HasSuffix(long, "…") {
		t.Errorf("a long error is kept at %d bytes", len(long))
	}
}
