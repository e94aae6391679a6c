package app

import "strings"

// loadEmailChecks reads whether addresses are confirmed by a mailed link:
// an address change (EMAIL_VERIFY_CHANGES, on by default when SMTP_URL is
// set: a link can only be opened if the mail leaves the server) and a
// sign-up (EMAIL_VERIFY_SIGNUP, off by default). Only SMTP_URL's presence
// is read here; loadMail parses it.
func (e *envReader) loadEmailChecks(c *Config) {
	smtp := strings.TrimSpace(e.getenv("SMTP_URL")) != ""
	c.EmailVerifyChanges = e.boolean("EMAIL_VERIFY_CHANGES", smtp)
	c.EmailVerifySignup = e.boolean("EMAIL_VERIFY_SIGNUP", false)
}
