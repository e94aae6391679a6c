package app_test

// End-to-end tests of two-factor authentication over REST: setup, enable,
// the login checkpoint, recovery codes, disable, the contract's error rows,
// the TWO_FACTOR_REQUIREMENT gate, the attempt budget and concurrent use of
// one code. Helpers start with "rtf"; the GraphQL tests reuse the ones that
// read the database or compute codes.

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/app"
	"accountd/secret"
)

// rtfOTP is the user's authenticator app: the TOTP secret and the last
// step the server accepted a code of.
type rtfOTP struct {
	Secret string
	last   int64
}

// next returns a code the server accepts now and its step: the current
// step, or the one after the last accepted step when that is later (still
// inside the ±1-step window). Call accepted once the server took it.
func (o *rtfOTP) next(t testing.TB) (string, int64) {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	step := max(o.last+1, now)
	if step > now+1 {
		t.Fatalf("no unused TOTP step left in the window (last accepted %d, now %d)", o.last, now)
	}
	return rtfCodeAt(t, o.Secret, step), step
}

// accepted records that the server took a code of step.
func (o *rtfOTP) accepted(step int64) { o.last = max(o.last, step) }

// rtfCodeAt is the 6-digit code of sec at step.
func rtfCodeAt(t testing.TB, sec string, step int64) string {
	t.Helper()
	c, err := secret.TOTPCode(sec, step, secret.TOTPDigits)
	if err != nil {
		t.Fatalf("TOTP code: %v", err)
	}
	return c
}

// rtfWrongCode returns six digits that are the code of no step of sec
// anywhere near now.
func rtfWrongCode(t testing.TB, sec string) string {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	valid := map[string]bool{}
	for s := now - 3; s <= now+3; s++ {
		valid[rtfCodeAt(t, sec, s)] = true
	}
	for d := '0'; d <= '9'; d++ {
		if c := strings.Repeat(string(d), 6); !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// rtfWrongRecovery is a well-formed recovery code that no account has.
const rtfWrongRecovery = "NoSuchCod3"

// rtfSwapCase returns s with the case of every letter flipped.
func rtfSwapCase(s string) string {
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

// rtfState is everything about an account's second factor a request could
// change, read straight from the database.
type rtfState struct {
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

// rtfSnapshot reads the second-factor state of user id.
func rtfSnapshot(t testing.TB, ts *testServer, id uuid.UUID) rtfState {
	t.Helper()
	ctx := context.Background()
	u, err := ts.App.Store.UserByID(ctx, id)
	if err != nil || u == nil {
		t.Fatalf("load user %s: %v %v", id, u, err)
	}
	st := rtfState{Enabled: u.TOTPEnabled, LastStep: u.TOTPLastStep, Salt: hex.EncodeToString(u.RecoverySalt)}
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
	st.Sessions = rtfCount(t, ts, "sessions", id)
	st.Activities = rtfCount(t, ts, "activities", id)
	return st
}

// rtfCount counts the rows of table that belong to user id.
func rtfCount(t testing.TB, ts *testServer, table string, id uuid.UUID) int {
	t.Helper()
	n, err := ts.App.DB.NewSelect().TableExpr(table).Where("user_id = ?", id).Count(context.Background())
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

// rtfWantUnchanged fails when user id's second-factor state differs from
// before.
func rtfWantUnchanged(t testing.TB, ts *testServer, id uuid.UUID, before rtfState) {
	t.Helper()
	if after := rtfSnapshot(t, ts, id); after != before {
		t.Errorf("a refused request changed the account:\n before %+v\n after  %+v", before, after)
	}
}

// rtfEvents returns user id's activity as "event {data}" lines, data with
// sorted keys, in the order recorded.
func rtfEvents(t testing.TB, ts *testServer, id uuid.UUID) []string {
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

// rtfCountEvent counts the lines of events equal to want.
func rtfCountEvent(events []string, want string) int {
	n := 0
	for _, e := range events {
		if e == want {
			n++
		}
	}
	return n
}

// rtfExpireLoginTokens moves the expiry of every confirmation token of
// user id into the past.
func rtfExpireLoginTokens(t testing.TB, ts *testServer, id uuid.UUID) {
	t.Helper()
	_, err := ts.App.DB.NewUpdate().Table("login_tokens").Set("expires = ?", time.Now().UTC().Add(-time.Second)).
		Where("user_id = ?", id).Exec(context.Background())
	if err != nil {
		t.Fatalf("expire login tokens: %v", err)
	}
}

// rtfAgeAttempts makes user id's attempt window and block lie in the past,
// as if the account had waited them out.
func rtfAgeAttempts(t testing.TB, ts *testServer, id uuid.UUID) {
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

// rtfSetConsecutive sets user id's run of consecutive failures, with no
// block and a fresh window.
func rtfSetConsecutive(t testing.TB, ts *testServer, id uuid.UUID, n int) {
	t.Helper()
	restResetAttempts(t, ts, id)
	_, err := ts.App.DB.ExecContext(context.Background(),
		"INSERT INTO attempt_counters (user_id, failures, window_start, consecutive) VALUES (?, 0, ?, ?)",
		id, time.Now().UTC(), n)
	if err != nil {
		t.Fatalf("set consecutive failures: %v", err)
	}
}

// rtfTry sends a JSON request without touching the test, so it can run on
// other goroutines.
func rtfTry(c *client, method, path string, body any) (*response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, c.ts.URL+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: rb}, nil
}

// rtfParallel runs fn(i) for i in [0, n) on n goroutines released at the
// same moment.
func rtfParallel(n int, fn func(i int)) {
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

const (
	rtfTwoFactorPath  = "/api/client/account/two-factor"
	rtfRecoveryPath   = "/api/client/account/two-factor/recovery-codes"
	rtfCheckpointPath = "/api/auth/login/checkpoint"
)

// rtfTooManyRE is the refusal of the attempt budget.
var rtfTooManyRE = regexp.MustCompile(`^too many attempts, retry in ([0-9]+)s$`)

// rtfWantTooMany checks a 429 of the attempt budget: the message and a
// Retry-After header that agree, both positive and at most the longest
// first block (the 5-minute window). It returns the seconds.
func rtfWantTooMany(t testing.TB, res *response) int {
	t.Helper()
	if res.Status != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429; body %s", res.Status, res.Body)
		return 0
	}
	restWantErrorBody(t, res)
	errs := res.Errors(t)
	if len(errs) != 1 {
		t.Errorf("errors %q, want one", errs)
		return 0
	}
	m := rtfTooManyRE.FindStringSubmatch(errs[0])
	if m == nil {
		t.Errorf("error %q, want %q", errs[0], rtfTooManyRE)
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

// rtfSetup calls GET two-factor and checks the answer's shape; it returns
// the pending secret.
func rtfSetup(t testing.TB, c *client, email string) string {
	t.Helper()
	res := c.do(http.MethodGet, rtfTwoFactorPath, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET two-factor: %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	restWantKeys(t, "two-factor setup", body, []string{"otp_url", "secret"})
	sec, _ := body["secret"].(string)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(sec)
	if len(sec) != 32 || err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: want 32 base32 characters without padding for 20 bytes (%v)", sec, err)
	}
	want := "otpauth://totp/Calagopus:" + email + "?secret=" + sec + "&issuer=Calagopus"
	if body["otp_url"] != want {
		t.Errorf("otp_url\n got %v\nwant %s", body["otp_url"], want)
	}
	return sec
}

// rtfWantRecoveryCodes checks a recovery_codes answer: exactly ten
// distinct codes of ten alphanumerics. It returns them.
func rtfWantRecoveryCodes(t testing.TB, res *response) []string {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("want 200 with recovery codes, got %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	restWantKeys(t, "recovery codes body", body, []string{"recovery_codes"})
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

// rtfEnable sets up and enables two-factor for u and returns its
// authenticator and recovery codes.
func rtfEnable(t testing.TB, ts *testServer, u *restUser) (*rtfOTP, []string) {
	t.Helper()
	otp := &rtfOTP{Secret: rtfSetup(t, u.client, u.Email), last: rtfSnapshot(t, ts, u.ID).LastStep}
	code, step := otp.next(t)
	codes := rtfWantRecoveryCodes(t, u.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": code, "password": u.Password}))
	otp.accepted(step)
	return otp, codes
}

// rtfLoginToken signs in with a password on an account with two-factor and
// returns the confirmation token.
func rtfLoginToken(t testing.TB, ts *testServer, login, password string) string {
	t.Helper()
	c := ts.client(t)
	res := c.do(http.MethodPost, "/api/auth/login", map[string]any{"user": login, "password": password})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", login, res.Status, res.Body)
	}
	body := res.JSON(t)
	restWantKeys(t, "login body", body, []string{"type", "user", "token"})
	if body["type"] != "two_factor_required" {
		t.Fatalf("login type %v, want two_factor_required", body["type"])
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie on two_factor_required: %q", sc)
	}
	tok, _ := body["token"].(string)
	if len(tok) != 48 || !secret.IsAlphanumeric(tok) {
		t.Fatalf("token %q: want 48 alphanumerics", tok)
	}
	return tok
}

// rtfCheckpoint posts a confirmation token and a code from a fresh client.
func rtfCheckpoint(t testing.TB, ts *testServer, token, code string) (*client, *response) {
	t.Helper()
	c := ts.client(t)
	return c, c.do(http.MethodPost, rtfCheckpointPath, map[string]any{"confirmation_token": token, "code": code})
}

// rtfWantSignedIn checks a successful checkpoint: {"user": FullUser} of
// user id with two-factor on, and a session cookie that works on its own.
func rtfWantSignedIn(t testing.TB, ts *testServer, res *response, id uuid.UUID) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	restWantKeys(t, "checkpoint body", body, []string{"user"})
	u, _ := body["user"].(map[string]any)
	restWantKeys(t, "FullUser", u, restFullUserKeys)
	if u["uuid"] != id.String() || u["totp_enabled"] != true {
		t.Errorf("checkpoint user: %v", u)
	}
	restCheckTimestamp(t, "totp_last_used", u["totp_last_used"], time.Hour)
	ck := restSessionCookie(t, res)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Errorf("cookie attributes: %q", res.Header.Values("Set-Cookie"))
	}
	if got := restAccount(t, restCookieClient(t, ts, ck.Value))["uuid"]; got != id.String() {
		t.Errorf("the checkpoint's session is %v's, want %s", got, id)
	}
}

// rtfWantRefused checks an error answer that set no cookie and changed
// nothing, then forgets the failure it cost, so the next row starts with
// a full attempt budget.
func rtfWantRefused(t testing.TB, ts *testServer, id uuid.UUID, before rtfState, res *response, status int, msgs ...string) {
	t.Helper()
	restWantErrors(t, res, status, msgs...)
	restNoSessionCookie(t, res)
	rtfWantUnchanged(t, ts, id, before)
	restResetAttempts(t, ts, id)
}

// rtfNoCodesInLog fails when the server's log holds one of the 6-digit
// codes as a number of its own (a run of digits inside a duration's
// fraction does not count).
func rtfNoCodesInLog(t testing.TB, ts *testServer, codes ...string) {
	t.Helper()
	logs := ts.LogText()
	for _, c := range codes {
		re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(c) + `([^0-9]|$)`)
		if re.MatchString(logs) {
			t.Errorf("server log contains the code %q", c)
		}
	}
}

func TestRESTTwoFactorJourney(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "Alice", "alice password")
		var secrets, codes6 []string

		if acc := restAccount(t, alice.client); acc["totp_enabled"] != false || acc["totp_last_used"] != nil {
			t.Fatalf("a new account has two-factor: %v", acc)
		}

		// Setup: every call hands out a new pending secret.
		first := rtfSetup(t, alice.client, alice.Email)
		sec := rtfSetup(t, alice.client, alice.Email)
		if sec == first {
			t.Fatalf("two setups returned the same secret")
		}
		if st := rtfSnapshot(t, ts, alice.ID); st.Secret != sec || st.Enabled {
			t.Fatalf("after setup: %+v", st)
		}
		if acc := restAccount(t, alice.client); acc["totp_enabled"] != false {
			t.Fatalf("setup alone turned two-factor on: %v", acc)
		}
		otp := &rtfOTP{Secret: sec}
		secrets = append(secrets, first, sec)

		// Enable with a code of the secret just returned.
		code, step := otp.next(t)
		codes6 = append(codes6, code)
		res := alice.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": code, "password": alice.Password})
		recovery := rtfWantRecoveryCodes(t, res)
		otp.accepted(step)
		secrets = append(secrets, recovery...)
		acc := restAccount(t, alice.client)
		if acc["totp_enabled"] != true {
			t.Fatalf("after enable: totp_enabled = %v", acc["totp_enabled"])
		}
		restCheckTimestamp(t, "totp_last_used", acc["totp_last_used"], time.Hour)
		st := rtfSnapshot(t, ts, alice.ID)
		if !st.Enabled || st.Secret != sec || st.LastStep != step || st.NumCodes != 10 || st.Salt == "" {
			t.Fatalf("after enable: %+v", st)
		}
		for _, rc := range recovery {
			if strings.Contains(st.Codes, hex.EncodeToString([]byte(rc))) ||
				strings.Contains(st.Codes, hex.EncodeToString(secret.Digest(rc))) {
				t.Errorf("recovery code %q is stored in plain or as a fast digest", rc)
			}
		}

		// login signs in with the password and returns the confirmation
		// token, kept for the log check.
		login := func() string {
			tok := rtfLoginToken(t, ts, "alice", alice.Password)
			secrets = append(secrets, tok)
			return tok
		}

		// Logout ends the session.
		cookie := gqlSessionCookie(t, ts, alice.client)
		if cookie == "" {
			t.Fatal("the registered client holds no session cookie")
		}
		restWantEmpty(t, alice.do(http.MethodPost, "/api/client/account/logout", nil))
		restWantErrors(t, restCookieClient(t, ts, cookie).do(http.MethodGet, "/api/client/account", nil),
			http.StatusUnauthorized, "invalid session")

		// Login stops at the checkpoint; a TOTP code completes it.
		tok := login()
		sessions := rtfCount(t, ts, "sessions", alice.ID)
		code, step = otp.next(t)
		codes6 = append(codes6, code)
		c, res := rtfCheckpoint(t, ts, tok, code)
		rtfWantSignedIn(t, ts, res, alice.ID)
		otp.accepted(step)
		secrets = append(secrets, restSessionCookie(t, res).Value)
		if got := restAccount(t, c)["uuid"]; got != alice.ID.String() {
			t.Errorf("the client's own jar is signed in as %v", got)
		}
		if n := rtfCount(t, ts, "sessions", alice.ID); n != sessions+1 {
			t.Errorf("sessions %d after the checkpoint, want %d", n, sessions+1)
		}
		if st := rtfSnapshot(t, ts, alice.ID); st.LastStep != step {
			t.Errorf("last step %d, want %d", st.LastStep, step)
		}

		// The same code again, with a new token: refused.
		tok = login()
		before := rtfSnapshot(t, ts, alice.ID)
		_, res = rtfCheckpoint(t, ts, tok, code)
		rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "this code has already been used")

		// A recovery code completes a login once.
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, recovery[0])
		rtfWantSignedIn(t, ts, res, alice.ID)
		if n := rtfSnapshot(t, ts, alice.ID).NumCodes; n != 9 {
			t.Errorf("%d recovery codes left, want 9", n)
		}
		tok = login()
		before = rtfSnapshot(t, ts, alice.ID)
		_, res = rtfCheckpoint(t, ts, tok, recovery[0])
		rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "invalid recovery code")

		// Regenerate (with a recovery code): the old set is gone.
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, recovery[1])
		rtfWantSignedIn(t, ts, res, alice.ID)
		c = restCookieClient(t, ts, restSessionCookie(t, res).Value)
		fresh := rtfWantRecoveryCodes(t, c.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery[2], "password": alice.Password}))
		secrets = append(secrets, fresh...)
		for _, rc := range fresh {
			if slices.Contains(recovery, rc) {
				t.Errorf("regenerated code %q was in the old set", rc)
			}
		}
		if n := rtfSnapshot(t, ts, alice.ID).NumCodes; n != 10 {
			t.Errorf("%d recovery codes after regenerate, want 10", n)
		}
		for _, old := range []string{recovery[3], recovery[9]} {
			tok = login()
			before = rtfSnapshot(t, ts, alice.ID)
			_, res = rtfCheckpoint(t, ts, tok, old)
			rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "invalid recovery code")
		}
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, fresh[0])
		rtfWantSignedIn(t, ts, res, alice.ID)

		// Disable with a recovery code: the secret and the codes are gone,
		// the last used step stays.
		restWantEmpty(t, c.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": fresh[1], "password": alice.Password}))
		st = rtfSnapshot(t, ts, alice.ID)
		if st.Enabled || st.Secret != "" || st.NumCodes != 0 || st.Salt != "" || st.LastUsed != "" || st.LastStep != otp.last {
			t.Errorf("after disable: %+v (last step want %d)", st, otp.last)
		}
		if acc := restAccount(t, c); acc["totp_enabled"] != false || acc["totp_last_used"] != nil {
			t.Errorf("after disable: totp_enabled %v, totp_last_used %v", acc["totp_enabled"], acc["totp_last_used"])
		}

		// Login completes without a checkpoint.
		lc, res := restLogin(t, ts, "alice", alice.Password)
		if res.Status != http.StatusOK || res.JSON(t)["type"] != "completed" {
			t.Fatalf("login after disable: %d %s", res.Status, res.Body)
		}
		restCheckFullUser(t, res.JSON(t)["user"].(map[string]any))
		restSessionCookie(t, res)
		restAccount(t, lc)

		t.Run("activity", func(t *testing.T) {
			events := rtfEvents(t, ts, alice.ID)
			for want, n := range map[string]int{
				`account:two-factor.enable {}`:                                1,
				`auth:checkpoint {}`:                                          8,
				`auth:success {"using":"two-factor"}`:                         1,
				`auth:success {"using":"recovery-code"}`:                      3,
				`account:two-factor.recovery-codes {"using":"recovery-code"}`: 1,
				`account:two-factor.disable {"using":"recovery-code"}`:        1,
				`auth:success {"using":"password"}`:                           1,
			} {
				if got := rtfCountEvent(events, want); got != n {
					t.Errorf("%d × %s, want %d; activity:\n%s", got, want, n, strings.Join(events, "\n"))
				}
			}
			for _, e := range events {
				for _, s := range secrets {
					if strings.Contains(e, s) {
						t.Errorf("activity %q holds a secret", e)
					}
				}
			}
		})

		t.Run("no secret in the log", func(t *testing.T) {
			restNoSecrets(t, ts, append([]string{alice.Password}, secrets...)...)
			rtfNoCodesInLog(t, ts, codes6...)
		})
	})
}

func TestRESTTwoFactorSetupErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		frank := restRegister(t, ts, "frank", "frank password")
		t.Run("frozen", func(t *testing.T) {
			restSetFlags(t, ts, frank.ID, true, true, false)
			before := rtfSnapshot(t, ts, frank.ID)
			rtfWantRefused(t, ts, frank.ID, before, frank.do(http.MethodGet, rtfTwoFactorPath, nil), http.StatusConflict, "account is frozen")
			if before.Secret != "" {
				t.Errorf("a pending secret exists: %+v", before)
			}
			restSetFlags(t, ts, frank.ID, true, false, false)
		})

		t.Run("already enabled", func(t *testing.T) {
			rtfEnable(t, ts, frank)
			before := rtfSnapshot(t, ts, frank.ID)
			rtfWantRefused(t, ts, frank.ID, before, frank.do(http.MethodGet, rtfTwoFactorPath, nil),
				http.StatusConflict, "two-factor authentication is already enabled")
		})

		t.Run("unauthenticated", func(t *testing.T) {
			restWantErrors(t, ts.client(t).do(http.MethodGet, rtfTwoFactorPath, nil), http.StatusUnauthorized, "missing authorization")
		})
	})
}

func TestRESTTwoFactorEnableErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		erin := restRegister(t, ts, "erin", "erin password")
		enable := func(code, password string) *response {
			return erin.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": code, "password": password})
		}
		refused := func(t *testing.T, res *response, status int, msgs ...string) {
			t.Helper()
			rtfWantRefused(t, ts, erin.ID, rtfSnapshot(t, ts, erin.ID), res, status, msgs...)
		}

		t.Run("not configured", func(t *testing.T) {
			before := rtfSnapshot(t, ts, erin.ID)
			rtfWantRefused(t, ts, erin.ID, before, enable("123456", erin.Password),
				http.StatusUnauthorized, "two-factor authentication has not been configured")
		})

		// A setup whose secret a later setup replaced.
		stale := rtfSetup(t, erin.client, erin.Email)
		otp := &rtfOTP{Secret: rtfSetup(t, erin.client, erin.Email)}
		code, step := otp.next(t)
		wrong := rtfWrongCode(t, otp.Secret)

		for _, tc := range []struct {
			name     string
			body     map[string]any
			status   int
			messages []string
		}{
			{"empty body", map[string]any{}, http.StatusBadRequest, []string{"code: length is lower than 6"}},
			{"code too short", map[string]any{"code": "12345", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is lower than 6"}},
			{"code too long", map[string]any{"code": code + "0", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is greater than 6"}},
			{"recovery-code length", map[string]any{"code": "abcdefghij", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is greater than 6"}},
			{"password too long", map[string]any{"code": code, "password": restLong("p", 513)}, http.StatusBadRequest,
				[]string{"password: length is greater than 512"}},
			{"both", map[string]any{"code": "1", "password": restLong("p", 513)}, http.StatusBadRequest,
				[]string{"code: length is lower than 6", "password: length is greater than 512"}},
			{"wrong password, right code", map[string]any{"code": code, "password": "wrong password"}, http.StatusForbidden,
				[]string{"invalid password"}},
			{"empty password", map[string]any{"code": code, "password": ""}, http.StatusForbidden, []string{"invalid password"}},
			{"wrong password and wrong code", map[string]any{"code": wrong, "password": "wrong password"}, http.StatusForbidden,
				[]string{"invalid password"}},
			{"wrong code", map[string]any{"code": wrong, "password": erin.Password}, http.StatusBadRequest,
				[]string{"invalid confirmation code"}},
			{"letters", map[string]any{"code": "abcdef", "password": erin.Password}, http.StatusBadRequest,
				[]string{"invalid confirmation code"}},
			{"code of the replaced secret", map[string]any{"code": rtfCodeAt(t, stale, step), "password": erin.Password},
				http.StatusBadRequest, []string{"invalid confirmation code"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refused(t, erin.do(http.MethodPost, rtfTwoFactorPath, tc.body), tc.status, tc.messages...)
			})
		}

		var recovery0 string
		t.Run("the right code still works", func(t *testing.T) {
			recovery0 = rtfWantRecoveryCodes(t, enable(code, erin.Password))[0]
			otp.accepted(step)
		})

		t.Run("already enabled", func(t *testing.T) {
			c2, _ := otp.next(t)
			refused(t, enable(c2, erin.Password), http.StatusConflict, "two-factor authentication is already enabled")
			// The state is checked before the password.
			refused(t, enable(c2, "wrong password"), http.StatusConflict, "two-factor authentication is already enabled")
			// Validation comes first.
			refused(t, enable("1", erin.Password), http.StatusBadRequest, "code: length is lower than 6")
		})

		t.Run("a used step stays used after a quick re-enable", func(t *testing.T) {
			recovery := rtfWantRecoveryCodes(t, erin.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery0, "password": erin.Password}))
			restWantEmpty(t, erin.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": recovery[0], "password": erin.Password}))
			again := &rtfOTP{Secret: rtfSetup(t, erin.client, erin.Email), last: otp.last}
			// A code of the new secret at the step last used is refused.
			refused(t, enable(rtfCodeAt(t, again.Secret, otp.last), erin.Password), http.StatusBadRequest, "this code has already been used")
			code, step := again.next(t)
			rtfWantRecoveryCodes(t, enable(code, erin.Password))
			again.accepted(step)
		})

		t.Run("frozen", func(t *testing.T) {
			fay := restRegister(t, ts, "fay", "fay password")
			sec := rtfSetup(t, fay.client, fay.Email)
			restSetFlags(t, ts, fay.ID, false, true, false)
			before := rtfSnapshot(t, ts, fay.ID)
			res := fay.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": rtfCodeAt(t, sec, secret.TOTPStep(time.Now())), "password": fay.Password})
			rtfWantRefused(t, ts, fay.ID, before, res, http.StatusConflict, "account is frozen")
			// Frozen comes before "not configured".
			gus := restRegister(t, ts, "gus", "gus password")
			restSetFlags(t, ts, gus.ID, false, true, false)
			before = rtfSnapshot(t, ts, gus.ID)
			res = gus.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": "123456", "password": gus.Password})
			rtfWantRefused(t, ts, gus.ID, before, res, http.StatusConflict, "account is frozen")
		})
	})
}

// rtfOffByOne returns tok with its last character changed.
func rtfOffByOne(tok string) string {
	last := tok[len(tok)-1]
	switch {
	case last == '9':
		last = '0'
	case '0' <= last && last <= '8':
		last++
	default:
		last = rtfSwapCase(string(last))[0]
	}
	return tok[:len(tok)-1] + string(last)
}

// rtfMustNext returns the next acceptable code and records it as used:
// for calls that must succeed.
func rtfMustNext(t testing.TB, o *rtfOTP) string {
	t.Helper()
	code, step := o.next(t)
	o.accepted(step)
	return code
}

// TestRESTTwoFactorCodeRoutesErrors runs the error rows shared by DELETE
// two-factor and POST recovery-codes.
func TestRESTTwoFactorCodeRoutesErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		for _, route := range []struct{ name, method, path string }{
			{"disable", http.MethodDelete, rtfTwoFactorPath},
			{"regenerate", http.MethodPost, rtfRecoveryPath},
		} {
			t.Run(route.name, func(t *testing.T) {
				u := restRegister(t, ts, "u_"+route.name, route.name+" password")
				call := func(code, password string) *response {
					return u.do(route.method, route.path, map[string]any{"code": code, "password": password})
				}
				refused := func(t *testing.T, res *response, status int, msgs ...string) {
					t.Helper()
					rtfWantRefused(t, ts, u.ID, rtfSnapshot(t, ts, u.ID), res, status, msgs...)
				}

				t.Run("not enabled", func(t *testing.T) {
					refused(t, call("123456", u.Password), http.StatusConflict, "two-factor authentication is not enabled")
					refused(t, call("abcdefghij", "wrong password"), http.StatusConflict, "two-factor authentication is not enabled")
					refused(t, call("12345678", u.Password), http.StatusConflict, "two-factor authentication is not enabled")
				})

				otp, recovery := rtfEnable(t, ts, u)
				right, step := otp.next(t)
				wrong := rtfWrongCode(t, otp.Secret)
				for _, tc := range []struct {
					name     string
					body     map[string]any
					status   int
					messages []string
				}{
					{"empty body", map[string]any{}, http.StatusBadRequest, []string{"code: length is lower than 6"}},
					{"code too short", map[string]any{"code": "12345", "password": u.Password}, http.StatusBadRequest,
						[]string{"code: length is lower than 6"}},
					{"code too long", map[string]any{"code": recovery[0] + "x", "password": u.Password}, http.StatusBadRequest,
						[]string{"code: length is greater than 10"}},
					{"password too long", map[string]any{"code": right, "password": restLong("p", 513)}, http.StatusBadRequest,
						[]string{"password: length is greater than 512"}},
					{"both", map[string]any{"code": "", "password": restLong("p", 513)}, http.StatusBadRequest,
						[]string{"code: length is lower than 6", "password: length is greater than 512"}},
					{"length 7", map[string]any{"code": "1234567", "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length 8", map[string]any{"code": "abcd1234", "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length 9", map[string]any{"code": recovery[0][:9], "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length before password", map[string]any{"code": "12345678", "password": "wrong password"}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"wrong password, right TOTP", map[string]any{"code": right, "password": "wrong password"}, http.StatusForbidden,
						[]string{"invalid password"}},
					{"wrong password, right recovery code", map[string]any{"code": recovery[0], "password": "wrong password"},
						http.StatusForbidden, []string{"invalid password"}},
					{"wrong password and wrong code", map[string]any{"code": wrong, "password": "wrong password"},
						http.StatusForbidden, []string{"invalid password"}},
					{"wrong TOTP", map[string]any{"code": wrong, "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code"}},
					{"wrong recovery code", map[string]any{"code": rtfWrongRecovery, "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"recovery code in the wrong case", map[string]any{"code": rtfSwapCase(recovery[0]), "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"ten symbols", map[string]any{"code": "!!!!!!!!!!", "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"the code enable used", map[string]any{"code": rtfCodeAt(t, otp.Secret, otp.last), "password": u.Password},
						http.StatusBadRequest, []string{"this code has already been used"}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						refused(t, u.do(route.method, route.path, tc.body), tc.status, tc.messages...)
					})
				}

				t.Run("body without content type", func(t *testing.T) {
					before := rtfSnapshot(t, ts, u.ID)
					res := u.raw(route.method, route.path, "", strings.NewReader(`{"code":"`+recovery[0]+`","password":"`+u.Password+`"}`))
					rtfWantRefused(t, ts, u.ID, before, res, http.StatusBadRequest, "invalid payload: missing content type header")
				})

				t.Run("a code used elsewhere", func(t *testing.T) {
					// Spend right at the checkpoint, then offer it here.
					_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, u.Username, u.Password), right)
					rtfWantSignedIn(t, ts, res, u.ID)
					otp.accepted(step)
					refused(t, call(right, u.Password), http.StatusBadRequest, "this code has already been used")
				})

				t.Run("a right code works", func(t *testing.T) {
					res := call(recovery[1], u.Password)
					if route.method == http.MethodDelete {
						restWantEmpty(t, res)
						if rtfSnapshot(t, ts, u.ID).Enabled {
							t.Errorf("still enabled")
						}
					} else {
						fresh := rtfWantRecoveryCodes(t, res)
						if st := rtfSnapshot(t, ts, u.ID); !st.Enabled || st.NumCodes != 10 {
							t.Errorf("after regenerate: %+v", st)
						}
						// The old set is gone; the new one works.
						refused(t, call(recovery[2], u.Password), http.StatusBadRequest, "invalid recovery code")
						rtfWantRecoveryCodes(t, call(fresh[0], u.Password))
					}
				})
			})
		}
	})
}

func TestRESTCheckpointErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		cora := restRegister(t, ts, "cora", "cora password")
		otp, recovery := rtfEnable(t, ts, cora)
		refused := func(t *testing.T, res *response, msgs ...string) {
			t.Helper()
			rtfWantRefused(t, ts, cora.ID, rtfSnapshot(t, ts, cora.ID), res, http.StatusBadRequest, msgs...)
		}
		post := func(body map[string]any) *response {
			return ts.client(t).do(http.MethodPost, rtfCheckpointPath, body)
		}
		tok := rtfLoginToken(t, ts, "cora", cora.Password)
		right, step := otp.next(t)

		t.Run("validation", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok}), "code: length is lower than 6")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": "12345"}), "code: length is lower than 6")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0] + "0"}), "code: length is greater than 10")
			refused(t, post(map[string]any{}), "code: length is lower than 6")
		})

		t.Run("bad tokens", func(t *testing.T) {
			for name, bad := range map[string]string{
				"missing":            "",
				"short":              "abc",
				"unknown":            secret.RandomString(48),
				"forged":             tok[:16] + secret.RandomString(32),
				"last character off": rtfOffByOne(tok),
				"too long":           tok + "a",
				"not alphanumeric":   tok[:47] + "-",
				"all A":              strings.Repeat("A", 48),
			} {
				t.Run(name, func(t *testing.T) {
					refused(t, post(map[string]any{"confirmation_token": bad, "code": right}), "invalid confirmation token")
					refused(t, post(map[string]any{"confirmation_token": bad, "code": recovery[0]}), "invalid confirmation token")
				})
			}
		})

		t.Run("code length 7 to 9", func(t *testing.T) {
			for _, c := range []string{"1234567", "abcdefgh", recovery[0][:9]} {
				refused(t, post(map[string]any{"confirmation_token": tok, "code": c}), "invalid confirmation code length")
			}
		})

		t.Run("wrong codes", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok, "code": rtfWrongCode(t, otp.Secret)}), "invalid confirmation code")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": rtfWrongRecovery}), "invalid recovery code")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": rtfCodeAt(t, otp.Secret, otp.last)}), "this code has already been used")
		})

		t.Run("after the refusals the token and the code still work", func(t *testing.T) {
			// Three code attempts of the token's five are spent.
			_, res := rtfCheckpoint(t, ts, tok, right)
			rtfWantSignedIn(t, ts, res, cora.ID)
			otp.accepted(step)
		})

		t.Run("used token", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			if n := rtfSnapshot(t, ts, cora.ID).NumCodes; n != 10 {
				t.Errorf("the refused checkpoint spent a recovery code: %d left", n)
			}
		})

		t.Run("expired token", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			rtfExpireLoginTokens(t, ts, cora.ID)
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": rtfWrongCode(t, otp.Secret)}), "invalid confirmation token")
		})

		t.Run("token out of attempts", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			for range 5 {
				before := rtfSnapshot(t, ts, cora.ID)
				res := post(map[string]any{"confirmation_token": tok, "code": rtfWrongRecovery})
				restWantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
				rtfWantUnchanged(t, ts, cora.ID, before)
				restResetAttempts(t, ts, cora.ID)
			}
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			// A new token works.
			_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "cora", cora.Password), recovery[0])
			rtfWantSignedIn(t, ts, res, cora.ID)
		})

		t.Run("token of an account that turned two-factor off", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			restWantEmpty(t, cora.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": recovery[1], "password": cora.Password}))
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[2]}), "invalid confirmation token")
		})

		t.Run("no secret in the log", func(t *testing.T) {
			restNoSecrets(t, ts, append([]string{cora.Password, otp.Secret, tok}, recovery...)...)
			rtfNoCodesInLog(t, ts, right)
		})
	})
}

func TestRESTTwoFactorPermission(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		kim := restRegister(t, ts, "kim", "kim password")
		const forbidden = "you do not have permission to perform this action: account.two-factor"
		for name, perms := range map[string][]string{
			"no permissions":    nil,
			"other permissions": {"account.email", "account.password", "account.infos", "api-keys.read"},
		} {
			t.Run(name, func(t *testing.T) {
				kc := restKeyClient(t, ts, restAPIKey(t, ts, kim.ID, restKeyOpts{UserPermissions: perms}))
				before := rtfSnapshot(t, ts, kim.ID)
				body := map[string]any{"code": "123456", "password": kim.Password}
				restWantErrors(t, kc.do(http.MethodGet, rtfTwoFactorPath, nil), http.StatusForbidden, forbidden)
				restWantErrors(t, kc.do(http.MethodPost, rtfTwoFactorPath, body), http.StatusForbidden, forbidden)
				restWantErrors(t, kc.do(http.MethodDelete, rtfTwoFactorPath, body), http.StatusForbidden, forbidden)
				restWantErrors(t, kc.do(http.MethodPost, rtfRecoveryPath, body), http.StatusForbidden, forbidden)
				// Validation comes before the permission.
				restWantErrors(t, kc.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": "1"}), http.StatusBadRequest,
					"code: length is lower than 6")
				restWantErrors(t, kc.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": "1"}), http.StatusBadRequest,
					"code: length is lower than 6")
				rtfWantUnchanged(t, ts, kim.ID, before)
			})
		}

		kc := restKeyClient(t, ts, restAPIKey(t, ts, kim.ID, restKeyOpts{UserPermissions: []string{"account.two-factor"}}))
		t.Run("a key with account.two-factor", func(t *testing.T) {
			otp := &rtfOTP{Secret: rtfSetup(t, kc, kim.Email)}
			recovery := rtfWantRecoveryCodes(t, kc.do(http.MethodPost, rtfTwoFactorPath,
				map[string]any{"code": rtfMustNext(t, otp), "password": kim.Password}))
			rtfWantRecoveryCodes(t, kc.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery[0], "password": kim.Password}))
			events := rtfEvents(t, ts, kim.ID)
			if rtfCountEvent(events, `account:two-factor.enable {}`) != 1 {
				t.Errorf("activity: %q", events)
			}
		})

		t.Run("permission before state", func(t *testing.T) {
			bare := restKeyClient(t, ts, restAPIKey(t, ts, kim.ID, restKeyOpts{}))
			restWantErrors(t, bare.do(http.MethodGet, rtfTwoFactorPath, nil), http.StatusForbidden, forbidden)
			restWantErrors(t, bare.do(http.MethodPost, rtfTwoFactorPath, map[string]any{"code": "123456", "password": "x"}),
				http.StatusForbidden, forbidden)
		})
	})
}

func TestRESTTwoFactorGateAllUsers(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }, func(t *testing.T, ts *testServer) {
		restRegister(t, ts, "admin", "admin password") // the first account is an admin; gina is not
		gina := restRegister(t, ts, "gina", "gina password")
		const required = "two-factor authentication required"

		t.Run("refused elsewhere", func(t *testing.T) {
			restWantErrors(t, gina.do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusForbidden, required)
			restWantErrors(t, gina.do(http.MethodGet, "/api/client/account/sessions", nil), http.StatusForbidden, required)
		})
		t.Run("the account page works", func(t *testing.T) {
			acc := restAccount(t, gina.client)
			if acc["require_two_factor"] != true || acc["totp_enabled"] != false {
				t.Errorf("account: %v", acc)
			}
		})
		t.Run("logout works", func(t *testing.T) {
			c, res := restLogin(t, ts, "gina", gina.Password)
			restWantStatus(t, res, http.StatusOK)
			restWantEmpty(t, c.do(http.MethodPost, "/api/client/account/logout", nil))
		})
		t.Run("the two-factor routes are reachable", func(t *testing.T) {
			body := map[string]any{"code": "123456", "password": gina.Password}
			restWantErrors(t, gina.do(http.MethodDelete, rtfTwoFactorPath, body), http.StatusConflict, "two-factor authentication is not enabled")
			restWantErrors(t, gina.do(http.MethodPost, rtfRecoveryPath, body), http.StatusConflict, "two-factor authentication is not enabled")
			restWantErrors(t, gina.do(http.MethodPost, rtfTwoFactorPath, body), http.StatusUnauthorized, "two-factor authentication has not been configured")
		})

		otp, _ := rtfEnable(t, ts, gina)
		t.Run("enabled: let through", func(t *testing.T) {
			restWantStatus(t, gina.do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusOK)
			acc := restAccount(t, gina.client)
			if acc["require_two_factor"] != true || acc["totp_enabled"] != true {
				t.Errorf("account: %v", acc)
			}
		})
		t.Run("a new login goes through the checkpoint and is let through", func(t *testing.T) {
			c, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "gina", gina.Password), rtfMustNext(t, otp))
			rtfWantSignedIn(t, ts, res, gina.ID)
			restWantStatus(t, c.do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusOK)
		})
	})
}

func TestRESTTwoFactorAttemptBudget(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		bud := restRegister(t, ts, "bud", "bud password")
		otp, recovery := rtfEnable(t, ts, bud)
		wrong := rtfWrongCode(t, otp.Secret)
		tok := rtfLoginToken(t, ts, "bud", bud.Password)

		t.Run("five failures spend the budget", func(t *testing.T) {
			for range 5 {
				res := bud.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": wrong, "password": bud.Password})
				restWantErrors(t, res, http.StatusBadRequest, "invalid confirmation code")
			}
		})

		t.Run("then even right answers are refused with Retry-After", func(t *testing.T) {
			before := rtfSnapshot(t, ts, bud.ID)
			code, _ := otp.next(t)
			rtfWantTooMany(t, bud.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": code, "password": bud.Password}))
			rtfWantTooMany(t, bud.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery[0], "password": bud.Password}))
			_, res := rtfCheckpoint(t, ts, tok, code)
			rtfWantTooMany(t, res)
			restNoSessionCookie(t, res)
			_, res = restLogin(t, ts, "bud", bud.Password)
			rtfWantTooMany(t, res)
			restNoSessionCookie(t, res)
			// A wrong password is not evaluated either.
			rtfWantTooMany(t, bud.do(http.MethodPut, "/api/client/account/email",
				map[string]any{"email": "new@example.com", "password": "wrong password"}))
			rtfWantUnchanged(t, ts, bud.ID, before)
		})

		t.Run("once the block has passed the right code works", func(t *testing.T) {
			rtfAgeAttempts(t, ts, bud.ID)
			_, res := rtfCheckpoint(t, ts, tok, rtfMustNext(t, otp))
			rtfWantSignedIn(t, ts, res, bud.ID)
		})

		t.Run("each further spent budget without a success doubles the block", func(t *testing.T) {
			// Tokens first: their password checks succeed and end any run.
			var tokens []string
			for range 4 {
				tokens = append(tokens, rtfLoginToken(t, ts, "bud", bud.Password))
			}
			fail := func(tok string) {
				t.Helper()
				for range 5 {
					_, res := rtfCheckpoint(t, ts, tok, rtfWrongRecovery)
					restWantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
				}
			}
			fail(tokens[0])
			_, res := rtfCheckpoint(t, ts, tokens[1], recovery[0])
			if n := rtfWantTooMany(t, res); n > 300 {
				t.Errorf("first block %ds, want at most the 5-minute window", n)
			}
			rtfAgeAttempts(t, ts, bud.ID)
			fail(tokens[2])
			_, res = rtfCheckpoint(t, ts, tokens[3], recovery[0])
			restWantStatus(t, res, http.StatusTooManyRequests)
			m := rtfTooManyRE.FindStringSubmatch(strings.Join(res.Errors(t), ""))
			if m == nil {
				t.Fatalf("errors %q", res.Errors(t))
			}
			if n, _ := strconv.Atoi(m[1]); n <= 300 || n > 600 || res.Header.Get("Retry-After") != m[1] {
				t.Errorf("retry in %ss (Retry-After %s): want 301..600, the doubled block", m[1], res.Header.Get("Retry-After"))
			}
			// Once waited out, a success ends the run.
			rtfAgeAttempts(t, ts, bud.ID)
			_, res = rtfCheckpoint(t, ts, tokens[3], recovery[0])
			rtfWantSignedIn(t, ts, res, bud.ID)
			t5, t6 := rtfLoginToken(t, ts, "bud", bud.Password), rtfLoginToken(t, ts, "bud", bud.Password)
			fail(t5)
			_, res = rtfCheckpoint(t, ts, t6, recovery[1])
			if n := rtfWantTooMany(t, res); n > 300 {
				t.Errorf("block after a success %ds, want at most the 5-minute window again", n)
			}
			restResetAttempts(t, ts, bud.ID)
		})

		t.Run("after 50 failures in a row codes need the password again", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "bud", bud.Password)
			rtfSetConsecutive(t, ts, bud.ID, 50)
			before := rtfSnapshot(t, ts, bud.ID)
			_, res := rtfCheckpoint(t, ts, tok, recovery[2])
			rtfWantTooMany(t, res)
			rtfWantUnchanged(t, ts, bud.ID, before)
			// A password check that succeeds ends the run.
			tok = rtfLoginToken(t, ts, "bud", bud.Password)
			_, res = rtfCheckpoint(t, ts, tok, recovery[2]) // the refused code was not spent
			rtfWantSignedIn(t, ts, res, bud.ID)
		})
	})
}

// rtfParallelCheckpoints posts one checkpoint per token, all at once, with
// the same code, and returns the answers.
func rtfParallelCheckpoints(t *testing.T, ts *testServer, tokens []string, code string) []*response {
	t.Helper()
	out := make([]*response, len(tokens))
	errs := make([]error, len(tokens))
	clients := make([]*client, len(tokens))
	for i := range clients {
		clients[i] = ts.client(t)
	}
	rtfParallel(len(tokens), func(i int) {
		out[i], errs[i] = rtfTry(clients[i], http.MethodPost, rtfCheckpointPath,
			map[string]any{"confirmation_token": tokens[i], "code": code})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// rtfTally checks that exactly one answer is a 200 and every other one is
// a refusal the contract allows (one of losers, or the attempt budget's
// 429). It returns the index of the winner.
func rtfTally(t *testing.T, answers []*response, losers ...string) int {
	t.Helper()
	winner, wins := -1, 0
	seen := map[string]int{}
	for i, res := range answers {
		if res.Status == http.StatusOK {
			winner, wins = i, wins+1
			continue
		}
		var errs []string
		_ = json.Unmarshal(res.Body, &struct{ Errors *[]string }{&errs})
		key := fmt.Sprintf("%d %q", res.Status, errs)
		seen[key]++
		switch {
		case res.Status == http.StatusTooManyRequests && len(errs) == 1 && rtfTooManyRE.MatchString(errs[0]):
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		case len(errs) == 1 && slices.Contains(losers, fmt.Sprintf("%d %s", res.Status, errs[0])):
		default:
			t.Errorf("unexpected answer %d %s", res.Status, res.Body)
		}
	}
	if wins != 1 {
		t.Fatalf("%d successes, want exactly 1; refusals %v", wins, seen)
	}
	t.Logf("refusals: %v", seen)
	return winner
}

func TestRESTCheckpointConcurrentRecoveryCode(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		rex := restRegister(t, ts, "rex", "rex password")
		_, recovery := rtfEnable(t, ts, rex)
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = rtfLoginToken(t, ts, "rex", rex.Password)
		}
		before := rtfSnapshot(t, ts, rex.ID)
		answers := rtfParallelCheckpoints(t, ts, tokens, recovery[0])
		w := rtfTally(t, answers, "400 invalid recovery code")
		restSessionCookie(t, answers[w])
		after := rtfSnapshot(t, ts, rex.ID)
		if after.Sessions != before.Sessions+1 {
			t.Errorf("sessions %d → %d, want exactly one new", before.Sessions, after.Sessions)
		}
		if after.NumCodes != 9 {
			t.Errorf("%d recovery codes left, want 9", after.NumCodes)
		}
		if n := rtfCountEvent(rtfEvents(t, ts, rex.ID), `auth:success {"using":"recovery-code"}`); n != 1 {
			t.Errorf("%d auth:success events, want 1", n)
		}
		for i, res := range answers {
			if i != w {
				restNoSessionCookie(t, res)
			}
		}
		restResetAttempts(t, ts, rex.ID)
		t.Run("the code is spent, the others are not", func(t *testing.T) {
			_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "rex", rex.Password), recovery[0])
			restWantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
			_, res = rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "rex", rex.Password), recovery[1])
			rtfWantSignedIn(t, ts, res, rex.ID)
		})
	})
}

func TestRESTCheckpointConcurrentTOTPCode(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		tia := restRegister(t, ts, "tia", "tia password")
		otp, _ := rtfEnable(t, ts, tia)
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = rtfLoginToken(t, ts, "tia", tia.Password)
		}
		before := rtfSnapshot(t, ts, tia.ID)
		code, step := otp.next(t)
		answers := rtfParallelCheckpoints(t, ts, tokens, code)
		rtfTally(t, answers, "400 this code has already been used")
		otp.accepted(step)
		after := rtfSnapshot(t, ts, tia.ID)
		if after.Sessions != before.Sessions+1 || after.LastStep != step {
			t.Errorf("before %+v\nafter %+v: want one new session and the step %d", before, after, step)
		}
		if n := rtfCountEvent(rtfEvents(t, ts, tia.ID), `auth:success {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d auth:success events, want 1", n)
		}
	})
}

func TestRESTTwoFactorConcurrentDisable(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		dan := restRegister(t, ts, "dan", "dan password")
		otp, _ := rtfEnable(t, ts, dan)
		code, _ := otp.next(t)
		answers := make([]*response, 20)
		errs := make([]error, 20)
		rtfParallel(20, func(i int) {
			answers[i], errs[i] = rtfTry(dan.client, http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": code, "password": dan.Password})
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rtfTally(t, answers, "400 this code has already been used", "409 two-factor authentication is not enabled")
		if st := rtfSnapshot(t, ts, dan.ID); st.Enabled || st.NumCodes != 0 {
			t.Errorf("after the disable: %+v", st)
		}
		if n := rtfCountEvent(rtfEvents(t, ts, dan.ID), `account:two-factor.disable {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d disable events, want 1", n)
		}
	})
}

// TestRESTTwoFactorSuspended: a suspended account may only read and edit
// its account page and log out (REST.md §2.3); the two-factor routes
// answer 403 and change nothing.
func TestRESTTwoFactorSuspended(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		restRegister(t, ts, "admin", "admin password") // the first account is an admin
		// Each row has its own user: prep sets up its two-factor state and
		// returns the body to send once the user is suspended.
		for i, tc := range []struct {
			name, method, path string
			prep               func(u *restUser) map[string]any
		}{
			{"setup", http.MethodGet, rtfTwoFactorPath, func(u *restUser) map[string]any { return nil }},
			{"enable", http.MethodPost, rtfTwoFactorPath, func(u *restUser) map[string]any {
				otp := &rtfOTP{Secret: rtfSetup(t, u.client, u.Email)}
				code, _ := otp.next(t)
				return map[string]any{"code": code, "password": u.Password}
			}},
			{"regenerate", http.MethodPost, rtfRecoveryPath, func(u *restUser) map[string]any {
				_, recovery := rtfEnable(t, ts, u)
				return map[string]any{"code": recovery[0], "password": u.Password}
			}},
			{"disable with TOTP", http.MethodDelete, rtfTwoFactorPath, func(u *restUser) map[string]any {
				otp, _ := rtfEnable(t, ts, u)
				code, _ := otp.next(t)
				return map[string]any{"code": code, "password": u.Password}
			}},
			{"disable with a recovery code", http.MethodDelete, rtfTwoFactorPath, func(u *restUser) map[string]any {
				_, recovery := rtfEnable(t, ts, u)
				return map[string]any{"code": recovery[0], "password": u.Password}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := "suspended" + strconv.Itoa(i)
				u := restRegister(t, ts, name, name+" password")
				body := tc.prep(u)
				restSetFlags(t, ts, u.ID, false, false, true)
				before := rtfSnapshot(t, ts, u.ID)
				rtfWantRefused(t, ts, u.ID, before, u.do(tc.method, tc.path, body), http.StatusForbidden, "account is suspended")
			})
		}
	})
}
