package web

import (
	"context"
	"net/http"
	"strings"
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
	c.set(h, ck)
}

// Clear tells the browser to drop the cookie.
func (c SessionCookie) Clear(h http.Header) {
	ck := &http.Cookie{Name: c.Name, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
	c.set(h, ck)
}

// set writes ck as the response's only Set-Cookie of the session cookie.
// Several steps of one request may decide about the cookie — the sliding
// refresh when the request authenticates, then a logout, a revocation of
// the own session or a sign-in — and only the last decision is true: an
// earlier line left in place would send a token the request has just
// ended, which a client or proxy that keeps the first of two cookies of
// one name (RFC 6265 leaves duplicates to the client) would go on using.
// So the last decision replaces the earlier ones; other cookies stay.
func (c SessionCookie) set(h http.Header, ck *http.Cookie) {
	prefix := c.Name + "="
	lines := h.Values("Set-Cookie")
	kept := make([]string, 0, len(lines)+1)
	for _, line := range lines {
		if !strings.HasPrefix(line, prefix) {
			kept = append(kept, line)
		}
	}
	h["Set-Cookie"] = append(kept, ck.String())
}

// DeviceCookieName is the cookie that marks a browser an account signed in
// from (account/devices.go). Written with SessionCookie's attributes
// (HttpOnly, SameSite=Lax, Path=/, Secure on https) for a year; never part
// of a response body.
const DeviceCookieName = "calagopus_device"

// DeviceToken returns the device cookie a request presented, or "".
func DeviceToken(h http.Header) string {
	ck, err := (&http.Request{Header: h}).Cookie(DeviceCookieName)
	if err != nil {
		return ""
	}
	return ck.Value
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
	if st := stateFrom(ctx); st != nil && st.header != nil {
		return st.header
	}
	return http.Header{}
}
