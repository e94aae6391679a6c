package rest

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"accountd/model"
	"accountd/web"
)

// VerifyPath is the forward-auth route (ours): reverse proxies (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth) ask it about
// every request to an app they protect. The per-IP limit leaves it out
// (see web.ForwardAuthPath).
const VerifyPath = web.ForwardAuthPath

// The response headers a proxy copies to the app behind it.
const (
	headerUserID      = "X-Auth-User-Id"
	headerUsername    = "X-Auth-Username"
	headerEmail       = "X-Auth-Email"
	headerAdmin       = "X-Auth-Admin"
	headerKeyID       = "X-Auth-Key-Id"
	headerPermissions = "X-Auth-Permissions"
)

// allPermissions stands for "every user permission" (a session) in
// X-Auth-Permissions and the body.
const allPermissions = "*"

// verifyBody repeats the headers' facts as JSON, for a caller that reads
// the body rather than the headers.
type verifyBody struct {
	UserID      string   `json:"user_id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Admin       bool     `json:"admin"`
	KeyID       *string  `json:"key_id"`
	Permissions []string `json:"permissions"`
}

// verify is GET (and HEAD) /api/auth/verify: 200 with the X-Auth-*
// headers when the request's credential is good and holds every
// ?permission=, else the error of any /api/client route.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	hdr := w.Header()
	// The answer goes to a proxy, not to the browser holding the cookie,
	// and must never carry the credential: the authentication middleware
	// re-issues the session cookie when it records the session's use
	// (sliding expiry), and that copy is dropped here. The session's
	// idle expiry still moves forward in the database.
	hdr.Del("Set-Cookie")
	perms, err := verifyQuery(r.URL.RawQuery)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	access, err := h.Service.ForwardAuth(r.Context(), actor, perms)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := access.User
	body := verifyBody{UserID: u.ID.String(), Username: u.Username, Email: u.Email, Admin: u.Admin,
		Permissions: access.Permissions}
	if access.AllUserPermissions {
		body.Permissions = []string{allPermissions}
	} else if body.Permissions == nil {
		body.Permissions = []string{}
	}
	hdr.Set(headerUserID, body.UserID)
	hdr.Set(headerUsername, body.Username)
	hdr.Set(headerEmail, body.Email)
	hdr.Set(headerAdmin, strconv.FormatBool(body.Admin))
	if access.APIKey != nil {
		id := access.APIKey.ID.String()
		body.KeyID = &id
		hdr.Set(headerKeyID, id)
	}
	// Sent even when empty (a key with no permissions): only a session
	// holds everything ("*"), and no answer leaves the list out.
	hdr.Set(headerPermissions, strings.Join(body.Permissions, ","))
	// Not web.WritePrivateJSON: no ETag, so never a 304. A proxy passes
	// the browser's If-None-Match on to this route, and nginx's
	// auth_request takes any answer but 2xx, 401 and 403 for an error.
	web.WriteJSON(w, http.StatusOK, body)
}

// noStore marks every answer of next, refusals included, as not to be
// stored: proxies must ask again for every request, so that a revoked
// session or key fails on its very next one.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// verifyQuery reads the repeatable permission parameter. Anything else
// in the query is refused rather than ignored: a misspelled parameter in
// a proxy's configuration must not quietly drop a permission check.
func verifyQuery(raw string) ([]string, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, model.Errorf(model.CodeInvalid, "invalid query string")
	}
	var v model.Validation
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if name != "permission" {
			v.Add(shorten(name), "unknown parameter")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return q["permission"], nil
}

// shorten bounds how much of a client's parameter name an error repeats.
func shorten(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
