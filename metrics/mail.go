package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// mailSeries are the outbox sender's series. Their template and reason
// labels come from fixed vocabularies (the mail package's template names
// and failure reasons); nothing of a mail (recipient, link) is a label.
type mailSeries struct {
	sent    *prometheus.CounterVec
	failed  *prometheus.CounterVec
	retries *prometheus.CounterVec
	unsent  prometheus.Gauge
	oldest  prometheus.Gauge
}

func newMailSeries() *mailSeries {
	return &mailSeries{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mail_sent_total",
			Help: "Mails handed to the transport (the SMTP server or the mail directory), by template.",
		}, []string{"template"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mail_failed_total",
			Help: "Mails given up, by template and reason (expired: not delivered within MAIL_MAX_AGE; invalid: not a safe message; rejected: the recipient refused for good).",
		}, []string{"template", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mail_retries_total",
			Help: "Delivery attempts that failed and were scheduled again, by template.",
		}, []string{"template"}),
		unsent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mail_outbox_unsent",
			Help: "Mails in the outbox neither sent nor given up.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mail_outbox_oldest_unsent_seconds",
			Help: "Age of the oldest mail neither sent nor given up; 0 when there is none.",
		}),
	}
}

func (s *mailSeries) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.sent, s.failed, s.retries, s.unsent, s.oldest}
}

// MailTemplates creates the per-template mail series at zero, with the
// failure reasons given, so a dashboard or an alert on their increase
// sees them before the first mail.
func (m *Metrics) MailTemplates(templates, reasons []string) {
	for _, t := range templates {
		if !vocabulary.MatchString(t) {
			continue
		}
		m.mail.sent.WithLabelValues(t)
		m.mail.retries.WithLabelValues(t)
		for _, r := range reasons {
			if vocabulary.MatchString(r) {
				m.mail.failed.WithLabelValues(t, r)
			}
		}
	}
}

// MailSent counts one mail delivered. It fits mail.Sender's OnSent hook.
func (m *Metrics) MailSent(template string) { m.mail.sent.WithLabelValues(label(template)).Inc() }

// MailFailed counts one mail given up. It fits mail.Sender's OnFailed
// hook.
func (m *Metrics) MailFailed(template, reason string) {
	m.mail.failed.WithLabelValues(label(template), label(reason)).Inc()
}

// MailRetried counts one failed attempt scheduled again. It fits
// mail.Sender's OnRetry hook.
func (m *Metrics) MailRetried(template string) { m.mail.retries.WithLabelValues(label(template)).Inc() }

// MailBacklog sets the outbox gauges. It fits mail.Sender's OnBacklog
// hook.
func (m *Metrics) MailBacklog(unsent int, oldest time.Duration) {
	m.mail.unsent.Set(float64(unsent))
	m.mail.oldest.Set(oldest.Seconds())
}

// label is a fixed-vocabulary value, or "other".
func label(v string) string {
	if !vocabulary.MatchString(v) {
		return "other"
	}
	return v
}
