package app

import (
	"os"

	"accountd/mail"
)

// loadMail reads how mail leaves the server. It runs after loadServer,
// whose APP_NAME and APP_URL make the default sender. A bad SMTP_URL is
// reported without its value, which may hold a password.
func (e *envReader) loadMail(c *Config) {
	m := &c.Mail
	if raw := e.str("SMTP_URL", ""); raw != "" {
		s, err := mail.ParseSMTPURL(raw)
		if err != nil {
			e.fail("SMTP_URL: %v", err)
		}
		m.SMTP = s
	}

	if from := e.str("MAIL_FROM", ""); from != "" {
		a, err := mail.ParseFrom(from)
		if err != nil {
			e.fail("MAIL_FROM=%q: %v", from, err)
		}
		m.From = a
	} else if c.AppURL != nil {
		a, err := mail.DefaultFrom(c.AppName, c.AppURL)
		if err != nil {
			e.fail("MAIL_FROM: %v", err)
		}
		m.From = a
	}

	m.Dir = e.str("MAIL_DIR", mail.DefaultDir)
	if fi, err := os.Stat(m.Dir); err == nil && !fi.IsDir() {
		e.fail("MAIL_DIR=%q: not a directory", m.Dir)
	}

	m.MaxAge = e.duration("MAIL_MAX_AGE", mail.DefaultMaxAge)
	// The first retry comes 30 s after a failure: a shorter life would
	// give mail up before it is tried twice.
	if m.MaxAge < mail.MinMaxAge {
		e.fail("MAIL_MAX_AGE=%s: want at least %s", m.MaxAge, mail.MinMaxAge)
	}

	// The templates are parsed and rendered now, so a broken override
	// stops the start naming its file.
	m.TemplatesDir = e.str("MAIL_TEMPLATES_DIR", "")
	t, err := mail.LoadTemplates(m.TemplatesDir)
	if err != nil {
		e.fail("%v", err)
	}
	m.Templates = t
}
