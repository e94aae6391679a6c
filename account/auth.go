package account

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"accountd/model"
	"accountd/secret"
)

// Token formats. Session and confirmation tokens are 48 alphanumerics
// (≈285 bits); API keys are "c7sp_" and 43 alphanumerics (≈256 bits). The
// first 16 characters of each are its non-secret lookup key.
const (
	sessionTokenLen = 48
	apiKeyPrefix    = "c7sp_"
	apiKeySecretLen = 43
	keyStartLen     = 16
)

// Credentials are what a request presents, as the transport found them.
type Credentials struct {
	// Authorization is the Authorization header; HasAuthorization says
	// whether the header was sent at all (it then wins over the cookie).
	Authorization    string
	HasAuthorization bool
	// Cookie is the session cookie's value, if HasCookie.
	Cookie    string
	HasCookie bool
	IP        netip.Addr
	UserAgent string
}

// Authentication is a successful authentication.
type Authentication struct {
	Actor *model.Actor
	// RenewCookie asks the transport to re-issue the session cookie with
	// Expires: the session's use was just recorded, so its idle expiry
	// moved forward (the sliding expiry of REST.md §2).
	RenewCookie bool
	Expires     time.Time
}

// Authenticate resolves a request's credentials to an actor. It costs one
// indexed query; it writes only when the credential's last-use record is
// older than touchInterval. There is no cache: a revoked session or deleted
// key fails on the very next request.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (*Authentication, error) {
	switch {
	case c.HasAuthorization:
		return s.authenticateKey(ctx, c)
	case c.HasCookie:
		return s.authenticateSession(ctx, c)
	}
	return nil, model.Errorf(model.CodeUnauthenticated, "missing authorization")
}

func (s *Service) authenticateSession(ctx context.Context, c Credentials) (*Authentication, error) {
	tok := c.Cookie
	if len(tok) != sessionTokenLen || !secret.IsAlphanumeric(tok) {
		return nil, model.Errorf(model.CodeUnauthenticated, "invalid authorization cookie")
	}
	sess, user, err := s.sessions.SessionByKeyStart(ctx, tok[:keyStartLen])
	if err != nil {
		return nil, model.Internal(err)
	}
	now := s.now()
	if sess == nil || !secret.DigestEqual(sess.Digest, secret.Digest(tok)) || now.Sub(sess.LastUsed) > s.cfg.SessionDuration {
		return nil, model.Errorf(model.CodeUnauthenticated, "invalid session")
	}
	auth := &Authentication{Actor: &model.Actor{User: user, Session: sess, IP: c.IP, UserAgent: c.UserAgent}}
	if now.Sub(sess.LastUsed) >= touchInterval {
		wrote, err := s.sessions.TouchSession(ctx, sess.ID, c.IP.String(), truncate(c.UserAgent, maxUserAgentLen), now, now.Add(-touchInterval))
		if err != nil {
			return nil, model.Internal(err)
		}
		if wrote {
			sess.LastUsed, sess.IP, sess.UserAgent = now, c.IP.String(), truncate(c.UserAgent, maxUserAgentLen)
			auth.RenewCookie, auth.Expires = true, now.Add(s.cfg.SessionDuration)
		}
	}
	return auth, nil
}

func (s *Service) authenticateKey(ctx context.Context, c Credentials) (*Authentication, error) {
	scheme, key, ok := strings.Cut(c.Authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !validAPIKeyFormat(key) {
		return nil, model.Errorf(model.CodeUnauthenticated, "invalid authorization header")
	}
	k, user, err := s.apiKeys.APIKeyByKeyStart(ctx, key[:keyStartLen])
	if err != nil {
		return nil, model.Internal(err)
	}
	now := s.now()
	if k == nil || !secret.DigestEqual(k.Digest, secret.Digest(key)) || (k.Expires != nil && !now.Before(*k.Expires)) {
		return nil, model.Errorf(model.CodeUnauthenticated, "invalid api key")
	}
	if !k.AllowsIP(c.IP) {
		return nil, model.Errorf(model.CodeForbidden, "ip address not allowed for this api key")
	}
	if k.LastUsed == nil || now.Sub(*k.LastUsed) >= touchInterval {
		if err := s.apiKeys.TouchAPIKey(ctx, k.ID, now, now.Add(-touchInterval)); err != nil {
			return nil, model.Internal(err)
		}
		k.LastUsed = &now
	}
	return &Authentication{Actor: &model.Actor{User: user, APIKey: k, IP: c.IP, UserAgent: c.UserAgent}}, nil
}

func validAPIKeyFormat(key string) bool {
	return len(key) == len(apiKeyPrefix)+apiKeySecretLen && strings.HasPrefix(key, apiKeyPrefix) &&
		secret.IsAlphanumeric(key[len(apiKeyPrefix):])
}

// maxUserAgentLen bounds what a client can make us store per session.
const maxUserAgentLen = 512

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
