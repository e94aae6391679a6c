package web

import (
	"context"
	"net/http"
	"time"
)

// SessionCookie writes and clears the session cookie with the attributes
// of REST.md §2: HttpOnly, SameSite=Lax, Path=/, Secure on https.
type SessionCookie struct {
	Name   string
	Secure bool
}

// Issue sets the cookie to token, expiring at expires.
func (c SessionCookie) Issue(h http.Header, token string, expires time.Time) {
	ck := &http.Cookie{Name: c.Name, Value: token, Path: "/", Expires: expires.UTC(),
		MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
	if ck.MaxAge <= 0 {
		ck.MaxAge = 1
	}
	h.Add("Set-Cookie", ck.String())
}

// Clear tells the browser to drop the cookie.
func (c SessionCookie) Clear(h http.Header) {
	ck := &http.Cookie{Name: c.Name, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
	h.Add("Set-Cookie", ck.String())
}

type responseHeaderKey struct{}

// WithResponseHeader puts the response's header map in the context, so code
// that has no ResponseWriter (GraphQL resolvers) can set cookies.
func WithResponseHeader(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, responseHeaderKey{}, h)
}

// ResponseHeaderFrom returns the response header map of the request, or a
// throw-away map when there is none.
func ResponseHeaderFrom(ctx context.Context) http.Header {
	if h, ok := ctx.Value(responseHeaderKey{}).(http.Header); ok {
		return h
	}
	return http.Header{}
}
