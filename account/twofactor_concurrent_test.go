package account_test

import (
	"strings"
	"sync"
	"testing"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// tfRace runs call n times at once and returns the errors.
func tfRace(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tfOneWinner checks that exactly one call succeeded and that every other
// was refused for one of the allowed reasons (a rate-limit refusal always
// allowed).
func tfOneWinner(t *testing.T, errs []error, allowed ...string) {
	t.Helper()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		me := asError(t, err)
		if me.Code == model.CodeRateLimited && strings.HasPrefix(me.Message, "too many attempts, retry in ") {
			continue
		}
		found := false
		for _, a := range allowed {
			found = found || me.Message == a
		}
		if !found || me.Code == model.CodeInternal {
			t.Errorf("call %d: %v, want one of %q or rate limited", i, err, allowed)
		}
	}
	if ok != 1 {
		t.Errorf("%d calls succeeded, want exactly 1", ok)
	}
}

func TestTwoFactorConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		const n = 20

		t.Run("CheckpointSameRecoveryCode", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracerec")
			toks := make([]string, n)
			for i := range toks {
				toks[i] = tfLoginToken(t, e, a.user)
			}
			sessions := e.sessionCount(a.User)
			successes := len(e.events(a.User, model.EventAuthSuccess))
			errs := tfRace(n, func(i int) error {
				_, err := tfCheckpoint(e, toks[i], a.Codes[0])
				return err
			})
			tfOneWinner(t, errs, "invalid recovery code")
			if got := e.sessionCount(a.User); got != sessions+1 {
				t.Errorf("sessions = %d, want %d: exactly one", got, sessions+1)
			}
			if got := len(e.events(a.User, model.EventAuthSuccess)); got != successes+1 {
				t.Errorf("auth:success events = %d, want %d", got, successes+1)
			}
			if got := tfRecoveryCount(t, e, a.user); got != 9 {
				t.Errorf("recovery codes = %d, want 9", got)
			}
			if got := e.count("login_tokens", "user_id = ?", a.ID); got != n-1 {
				t.Errorf("login tokens = %d, want %d: only the winner's used", got, n-1)
			}
		})

		t.Run("CheckpointSameTOTP", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracetotp")
			toks := make([]string, n)
			for i := range toks {
				toks[i] = tfLoginToken(t, e, a.user)
			}
			code := tfNextCode(t, e, a)
			step, _ := secret.MatchTOTP(a.Secret, code, e.clock.Now())
			sessions := e.sessionCount(a.User)
			errs := tfRace(n, func(i int) error {
				_, err := tfCheckpoint(e, toks[i], code)
				return err
			})
			tfOneWinner(t, errs, "this code has already been used")
			if got := e.sessionCount(a.User); got != sessions+1 {
				t.Errorf("sessions = %d, want %d: exactly one", got, sessions+1)
			}
			if got := e.reload(a.User).TOTPLastStep; got != step {
				t.Errorf("last step = %d, want %d", got, step)
			}
		})

		t.Run("DisableSameTOTP", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracedis")
			code := tfNextCode(t, e, a)
			actor := e.actor(a.Token)
			errs := tfRace(n, func(int) error {
				_, err := e.svc.DisableTwoFactor(e.ctx, actor, tfInput(code, a.Password))
				return err
			})
			tfOneWinner(t, errs, "this code has already been used", "two-factor authentication is not enabled")
			if u := e.reload(a.User); u.TOTPEnabled || u.TOTPSecret != nil {
				t.Errorf("after the race: enabled %v secret %v", u.TOTPEnabled, u.TOTPSecret)
			}
			if got := tfRecoveryCount(t, e, a.user); got != 0 {
				t.Errorf("recovery codes = %d, want 0", got)
			}
			if got := len(e.events(a.User, model.EventTwoFactorDisable)); got != 1 {
				t.Errorf("disable events = %d, want 1", got)
			}
		})

		t.Run("RegenerateSameRecoveryCode", func(t *testing.T) {
			a := tfEnabled(t, e, "tfraceregen")
			actor := e.actor(a.Token)
			var mu sync.Mutex
			var fresh []string
			errs := tfRace(n, func(int) error {
				res, err := e.svc.RegenerateRecoveryCodes(e.ctx, actor, tfInput(a.Codes[0], a.Password))
				if err == nil {
					e.secret(res.RecoveryCodes...)
					mu.Lock()
					fresh = res.RecoveryCodes
					mu.Unlock()
				}
				return err
			})
			tfOneWinner(t, errs, "invalid recovery code")
			if got := len(e.events(a.User, model.EventRecoveryCodesRegenerated)); got != 1 {
				t.Errorf("regenerate events = %d, want 1", got)
			}
			if fresh != nil {
				tfWantCodes(t, e, a.user, fresh)
			}
		})
	})
}
