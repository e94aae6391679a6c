package metrics

import (
	"strings"
	"testing"
	"time"
)

// The mail series: counted by template and reason, a label value outside
// the vocabulary (never a recipient) counted as "other", the gauges set.
func TestMailSeries(t *testing.T) {
	m := New(nil, "")
	m.MailTemplates([]string{"password_reset", "Bad-Name"}, []string{"expired"})
	m.MailSent("password_reset")
	m.MailSent("bob@example.com")
	m.MailFailed("password_reset", "expired")
	m.MailRetried("password_reset")
	m.MailBacklog(3, 90*time.Second)

	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "mail_") {
			continue
		}
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"mail_sent_total,template=password_reset":                  1,
		"mail_sent_total,template=other":                           1,
		"mail_failed_total,reason=expired,template=password_reset": 1,
		"mail_retries_total,template=password_reset":               1,
		"mail_outbox_unsent":                                       3,
		"mail_outbox_oldest_unsent_seconds":                        90,
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
