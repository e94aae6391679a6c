package metrics

import "github.com/prometheus/client_golang/prometheus"

// The vocabularies of security_key_ceremonies_total.
var (
	ceremonies        = []string{"registration", "login", "checkpoint"}
	ceremonyOutcomes  = []string{"started", "finished", "failed"}
	securityKeyLimits = []string{"security_key", "security_key_options", "security_key_discoverable"}
)

// SecurityKeyCeremonies registers security_key_ceremonies_total, the
// WebAuthn ceremonies by kind (registration, login, checkpoint) and
// outcome (started, finished, failed), and returns the hook the account
// service reports them to (account.SecurityKeyConfig.OnCeremony). Every
// series exists from the start, at zero. Call it once per Metrics.
func (m *Metrics) SecurityKeyCeremonies() func(ceremony, outcome string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "security_key_ceremonies_total",
		Help: "WebAuthn ceremonies (security keys and passkeys) by kind (registration, login, checkpoint) and outcome (started, finished, failed).",
	}, []string{"ceremony", "outcome"})
	m.reg.MustRegister(c)
	known := map[[2]string]prometheus.Counter{}
	for _, k := range ceremonies {
		for _, o := range ceremonyOutcomes {
			known[[2]string{k, o}] = c.WithLabelValues(k, o)
		}
	}
	for _, l := range securityKeyLimits {
		m.rateLimited.WithLabelValues(l)
	}
	return func(ceremony, outcome string) {
		if s, ok := known[[2]string{ceremony, outcome}]; ok {
			s.Inc()
		}
	}
}
