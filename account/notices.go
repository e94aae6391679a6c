package account

import (
	"context"
	"net/netip"

	"accountd/model"
)

// Security notices: a change that a thief of the account would make — a
// new password (changed, reset or set by an operator), two-factor turned
// on or off, new recovery codes, a new API key, a sign-in from a browser
// the account has not used before — mails the account's address what
// happened, when, and from which address and browser, so its owner learns
// of it and can act if it was not them. Each notice is queued in the
// transaction of its change, so it exists exactly when the change does; a
// change that is refused sends none. A notice carries no secret: the
// template sees the account's public fields, the time, the client and a
// detail (an API key's name, a browser's user agent).

// notice queues the security notice template about u to u's address, for
// a change made from ip with userAgent (an operator's change has neither);
// detail is what the template names besides.
func (s *Service) notice(ctx context.Context, u *model.User, template string, ip netip.Addr, userAgent, detail string) error {
	ev := &model.MailEvent{Time: s.now(), UserAgent: truncate(userAgent, maxEventUserAgentLen)}
	if ip.IsValid() {
		ev.IP = ip.Unmap().String()
	}
	return s.queueMail(ctx, u, u.Email, template, model.MailData{Event: ev, Detail: detail})
}

// actorNotice is notice for a change an authenticated actor made to u.
func (s *Service) actorNotice(ctx context.Context, actor *model.Actor, u *model.User, template, detail string) error {
	return s.notice(ctx, u, template, actor.IP, actor.UserAgent, detail)
}
