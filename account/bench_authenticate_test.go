package account_test

import (
	"context"
	"testing"

	"accountd/account"
	"accountd/db/dbtest"
	"accountd/model"
)

// BenchmarkAuthenticateAPIKey measures the service's side of an
// API-key request: parsing the bearer credentials, the indexed lookup of the
// key and its user, the digest comparison, the expiry and allow-list
// checks. The clock stands still, so after the first call last_used needs
// no write: one query per call.
func BenchmarkAuthenticateAPIKey(b *testing.B) {
	for _, e := range dbtest.Engines(b) {
		b.Run(dbtest.Name(e), func(b *testing.B) {
			ctx := context.Background()
			d := dbtest.Open(b, e)
			svc, _, _ := newService(b, d, defaultConfig())
			reg, err := svc.Register(ctx, model.Client{IP: clientIP, UserAgent: clientUA}, registerInput("alice"))
			if err != nil {
				b.Fatalf("register: %v", err)
			}
			auth, err := svc.Authenticate(ctx, cookie(reg.SessionToken))
			if err != nil {
				b.Fatalf("authenticate session: %v", err)
			}
			name := "bench"
			k, err := svc.CreateAPIKey(ctx, auth.Actor, account.APIKeyFields{Name: &name})
			if err != nil {
				b.Fatalf("create api key: %v", err)
			}
			creds := bearer(k.Secret)
			// The first use records last_used, outside the measurement.
			if a, err := svc.Authenticate(ctx, creds); err != nil || a.Actor.APIKey == nil || a.Actor.APIKey.ID != k.Key.ID {
				b.Fatalf("authenticate api key: %v", err)
			}

			q0, w0 := d.Queries(), d.Writes()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a, err := svc.Authenticate(ctx, creds)
				if err != nil || a.Actor.APIKey == nil {
					b.Fatalf("authenticate api key: %v", err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(d.Queries()-q0)/float64(b.N), "queries/op")
			b.ReportMetric(float64(d.Writes()-w0)/float64(b.N), "writes/op")
		})
	}
}
