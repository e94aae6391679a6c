package account

import (
	"context"
	"net/url"
	"strings"

	"accountd/model"
)

// queueMail writes a mail about u, to the address to, into the outbox —
// in ctx's transaction when there is one, so the mail exists exactly when
// the change that caused it commits. d gets the user's and the
// application's fields here, the one place a template's values are built.
func (s *Service) queueMail(ctx context.Context, u *model.User, to, template string, d model.MailData) error {
	d.User = model.MailUserOf(u)
	d.App = model.MailApp{Name: s.cfg.AppName, URL: s.cfg.AppURL}
	id := u.ID
	return s.mail.EnqueueMail(ctx, &model.Mail{ID: newID(), UserID: &id, Template: template, To: to, Data: d, Created: s.now()})
}

// link is the absolute URL of path (which starts with "/") on APP_URL,
// with query q: no doubled "/" when APP_URL ends in one (REST.md §7.3).
func (s *Service) link(path string, q url.Values) string {
	out := strings.TrimRight(s.cfg.AppURL, "/") + path
	if len(q) > 0 {
		out += "?" + q.Encode()
	}
	return out
}
