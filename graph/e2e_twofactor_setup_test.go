package graph_test

// beginTwoFactorSetup shares the service's rule with REST's GET: the
// pending secret is handed out again while it is young, so a retried or
// repeated setup does not invalidate the secret the user has just scanned.

import (
	"testing"
	"time"

	"accountd/account"
	"accountd/app/apptest"
)

func TestGraphQLTwoFactorSetupKeepsPendingSecret(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		u := gtfRegister(t, ts, "stable", "stable password")

		first := gtfSetup(t, u.Client, u.Email)
		if again := gtfSetup(t, u.Client, u.Email); again != first {
			t.Fatalf("a second beginTwoFactorSetup returned another secret")
		}
		// Another session of the same account gets it too.
		other := gqlLogin(t, ts, "stable", "stable password")
		if got := gtfSetup(t, other, u.Email); got != first {
			t.Errorf("another session's setup returned another secret")
		}
		if st := apptest.TwoFactorSnapshot(t, ts, u.ID); st.Secret != first || st.Enabled {
			t.Errorf("stored %+v, want the first secret pending", st)
		}

		// Once it has outlived its lifetime, a new one, kept in turn.
		apptest.AgePendingSecret(t, ts, u.ID, account.PendingTwoFactorLifetime+time.Minute)
		second := gtfSetup(t, u.Client, u.Email)
		if second == first {
			t.Fatal("an expired pending secret was handed out again")
		}
		if again := gtfSetup(t, u.Client, u.Email); again != second {
			t.Errorf("the new secret is not kept")
		}

		// Enabling takes a code of the secret handed out twice.
		otp := &apptest.OTP{Secret: second}
		code, step := otp.Next(t)
		gtfCodes(t, u.GQL(gtfEnableDoc, gtfIn(code, u.Password)), "enableTwoFactor")
		otp.Accepted(step)
		if st := apptest.TwoFactorSnapshot(t, ts, u.ID); !st.Enabled || st.Secret != second {
			t.Errorf("enabled %v with %q, want the kept secret", st.Enabled, st.Secret)
		}
	})
}
