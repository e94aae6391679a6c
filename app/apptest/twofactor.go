package apptest

// Two-factor helpers shared by the REST and GraphQL tests: an authenticator
// (OTP), the database state of a user's two-factor, the attempt budget and
// the recovery codes.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/secret"
)

// OTP is the user's authenticator app: the TOTP secret and the last
// step the server accepted a code of.
type OTP struct {
	Secret string
	Last   int64
}

// Next returns a code the server accepts now and its step: the current
// step, or the one after the last accepted step when that is later (still
// inside the ±1-step window). Call accepted once the server took it.
func (o *OTP) Next(t testing.TB) (string, int64) {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	step := max(o.Last+1, now)
	if step > now+1 {
		t.Fatalf("no unused TOTP step left in the window (last accepted %d, now %d)", o.Last, now)
	}
	return CodeAt(t, o.Secret, step), step
}

// Accepted records that the server took a code of step.
func (o *OTP) Accepted(step int64) { o.Last = max(o.Last, step) }

// CodeAt is the 6-digit code of sec at step.
func CodeAt(t testing.TB, sec string, step int64) string {
	t.Helper()
	c, err := secret.TOTPCode(sec, step, secret.TOTPDigits)
	if err != nil {
		t.Fatalf("TOTP code: %v", err)
	}
	return c
}

// WrongCode returns six digits that are the code of no step of sec
// anywhere near now.
func WrongCode(t testing.TB, sec string) string {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	valid := map[string]bool{}
	for s := now - 3; s <= now+3; s++ {
		valid[CodeAt(t, sec, s)] = true
	}
	for d := '0'; d <= '9'; d++ {
		if c := strings.Repeat(string(d), 6); !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// WrongRecoveryCode is a well-formed recovery code that no account has.
const WrongRecoveryCode = "NoSuchCod3"

// SwapCase returns s with the case of every letter flipped.
func SwapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// TwoFactorState is everything about an account's second factor a request could
// change, read straight from the database.
type TwoFactorState struct {
	Enabled    bool
	Secret     string
	LastStep   int64
	LastUsed   string
	Salt       string
	Codes      string // the digests of the stored recovery codes, sorted
	NumCodes   int
	Sessions   int
	Activities int
}

// TwoFactorSnapshot reads the second-factor state of user id.
func TwoFactorSnapshot(t testing.TB, ts *Server, id uuid.UUID) TwoFactorState {
	t.Helper()
	ctx := context.Background()
	u, err := ts.App.Store.UserByID(ctx, id)
	if err != nil || u == nil {
		t.Fatalf("load user %s: %v %v", id, u, err)
	}
	st := TwoFactorState{Enabled: u.TOTPEnabled, LastStep: u.TOTPLastStep, Salt: hex.EncodeToString(u.RecoverySalt)}
	if u.TOTPSecret != nil {
		st.Secret = *u.TOTPSecret
	}
	if u.TOTPLastUsed != nil {
		st.LastUsed = u.TOTPLastUsed.UTC().Format(time.RFC3339Nano)
	}
	rows, err := ts.App.DB.QueryContext(ctx, "SELECT digest FROM recovery_codes WHERE user_id = ?", id)
	if err != nil {
		t.Fatalf("read recovery codes: %v", err)
	}
	var digests []string
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			t.Fatalf("scan recovery code: %v", err)
		}
		digests = append(digests, hex.EncodeToString(d))
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(digests)
	st.Codes, st.NumCodes = strings.Join(digests, ","), len(digests)
	st.Sessions = CountUserRows(t, ts, "sessions", id)
	st.Activities = CountUserRows(t, ts, "activities", id)
	return st
}

// CountUserRows counts the rows of table that belong to user id.
func CountUserRows(t testing.TB, ts *Server, table string, id uuid.UUID) int {
	t.Helper()
	n, err := ts.App.DB.NewSelect().TableExpr(table).Where("user_id = ?", id).Count(context.Background())
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

// TwoFactorUnchanged fails when user id's second-factor state differs from
// before.
func TwoFactorUnchanged(t testing.TB, ts *Server, id uuid.UUID, before TwoFactorState) {
	t.Helper()
	if after := TwoFactorSnapshot(t, ts, id); after != before {
		t.Errorf("a refused request changed the account:\n before %+v\n after  %+v", before, after)
	}
}

// Events returns user id's activity as "event {data}" lines, data with
// sorted keys, in the order recorded.
func Events(t testing.TB, ts *Server, id uuid.UUID) []string {
	t.Helper()
	rows, err := ts.App.DB.QueryContext(context.Background(),
		"SELECT event, data FROM activities WHERE user_id = ? ORDER BY created, id", id)
	if err != nil {
		t.Fatalf("read activity: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var event, data string
		if err := rows.Scan(&event, &data); err != nil {
			t.Fatalf("scan activity: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("activity data %q: %v", data, err)
		}
		b, _ := json.Marshal(m) // sorted keys
		out = append(out, event+" "+string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// CountEvent counts the lines of events equal to want.
func CountEvent(events []string, want string) int {
	n := 0
	for _, e := range events {
		if e == want {
			n++
		}
	}
	return n
}

// ExpireLoginTokens moves the expiry of every confirmation token of
// user id into the past.
func ExpireLoginTokens(t testing.TB, ts *Server, id uuid.UUID) {
	t.Helper()
	_, err := ts.App.DB.NewUpdate().Table("login_tokens").Set("expires = ?", time.Now().UTC().Add(-time.Second)).
		Where("user_id = ?", id).Exec(context.Background())
	if err != nil {
		t.Fatalf("expire login tokens: %v", err)
	}
}

// AgeAttempts makes user id's attempt window and block lie in the past,
// as if the account had waited them out.
func AgeAttempts(t testing.TB, ts *Server, id uuid.UUID) {
	t.Helper()
	past := time.Now().UTC().Add(-time.Hour)
	res, err := ts.App.DB.NewUpdate().Table("attempt_counters").Set("window_start = ?", past).
		Set("blocked_until = ?", past).Where("user_id = ?", id).Exec(context.Background())
	if err != nil {
		t.Fatalf("age attempt counter: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("age attempt counter: %d rows, want 1", n)
	}
}

// Parallel runs fn(i) for i in [0, n) on n goroutines released at the
// same moment.
func Parallel(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// The REST routes of two-factor authentication, which the GraphQL tests
// also call to compare the transports or to set a state up.
const (
	// TwoFactorPath sets up, enables and disables two-factor.
	TwoFactorPath = "/api/client/account/two-factor"
	// RecoveryPath issues new recovery codes.
	RecoveryPath = "/api/client/account/two-factor/recovery-codes"
	// CheckpointPath finishes a sign-in with a code.
	CheckpointPath = "/api/auth/login/checkpoint"
)

// TooManyRE matches the refusal of the attempt budget and captures its
// retry delay in seconds. A function rather than a variable, so the kit
// holds no state a test could change for another; compiling it is cheap
// next to the request it checks.
func TooManyRE() *regexp.Regexp {
	return regexp.MustCompile(`^too many attempts, retry in ([0-9]+)s$`)
}

// WantTooMany checks a 429 of the attempt budget: the message and a
// Retry-After header that agree, both positive and at most the longest
// first block (the 5-minute window). It returns the seconds.
func WantTooMany(t testing.TB, res *Response) int {
	t.Helper()
	if res.Status != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429; body %s", res.Status, res.Body)
		return 0
	}
	WantErrorBody(t, res)
	errs := res.Errors(t)
	if len(errs) != 1 {
		t.Errorf("errors %q, want one", errs)
		return 0
	}
	m := TooManyRE().FindStringSubmatch(errs[0])
	if m == nil {
		t.Errorf("error %q, want %q", errs[0], TooManyRE())
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > 300 {
		t.Errorf("retry in %ds: want 1..300", n)
	}
	if ra := res.Header.Get("Retry-After"); ra != m[1] {
		t.Errorf("Retry-After %q, want %q (the message's seconds)", ra, m[1])
	}
	return n
}

// WantRecoveryCodes checks a recovery_codes answer: exactly ten
// distinct codes of ten alphanumerics. It returns them.
func WantRecoveryCodes(t testing.TB, res *Response) []string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("want 200 with recovery codes, got %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	WantKeys(t, "recovery codes body", body, []string{"recovery_codes"})
	var codes []string
	for _, v := range body["recovery_codes"].([]any) {
		s, _ := v.(string)
		if len(s) != 10 || !secret.IsAlphanumeric(s) {
			t.Errorf("recovery code %q: want 10 characters [A-Za-z0-9]", v)
		}
		if slices.Contains(codes, s) {
			t.Errorf("recovery code %q twice", s)
		}
		codes = append(codes, s)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10: %s", len(codes), res.Body)
	}
	return codes
}

// NoCodesInLog fails when the server's log holds one of the 6-digit
// codes as a number of its own (a run of digits inside a duration's
// fraction does not count).
func NoCodesInLog(t testing.TB, ts *Server, codes ...string) {
	t.Helper()
	logs := ts.LogText()
	for _, c := range codes {
		re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(c) + `([^0-9]|$)`)
		if re.MatchString(logs) {
			t.Errorf("server log contains the code %q", c)
		}
	}
}

// OffByOne returns tok with its last character changed.
func OffByOne(tok string) string {
	last := tok[len(tok)-1]
	switch {
	case last == '9':
		last = '0'
	case '0' <= last && last <= '8':
		last++
	default:
		last = SwapCase(string(last))[0]
	}
	return tok[:len(tok)-1] + string(last)
}

// MustNext returns the next acceptable code and records it as used:
// for calls that must succeed.
func MustNext(t testing.TB, o *OTP) string {
	t.Helper()
	code, step := o.Next(t)
	o.Accepted(step)
	return code
}

// AgePendingSecret makes user id's pending TOTP secret age old, so that
// the next setup treats it as expired (account.PendingTwoFactorLifetime).
func AgePendingSecret(t testing.TB, ts *Server, id uuid.UUID, age time.Duration) {
	t.Helper()
	SetColumn(t, ts, "users", id.String(), "totp_secret_created", time.Now().Add(-age))
}

// PendingSecretCreated returns when user id's pending TOTP secret was
// made, as stored ("" for none).
func PendingSecretCreated(t testing.TB, ts *Server, id uuid.UUID) string {
	t.Helper()
	var at *time.Time
	err := ts.App.DB.NewSelect().Table("users").Column("totp_secret_created").Where("id = ?", id).
		Scan(context.Background(), &at)
	if err != nil {
		t.Fatalf("read totp_secret_created: %v", err)
	}
	if at == nil {
		return ""
	}
	return at.UTC().Format(time.RFC3339Nano)
}
