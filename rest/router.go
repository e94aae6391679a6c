// Package rest is the compatibility shim that keeps the Calagopus panel's
// documented /api/client/account/** and /api/auth/** paths working. Each
// handler decodes, calls one service method and encodes; the rules live in
// the service.
package rest

import (
	"log/slog"
	"net/http"

	"accountd/account"
	"accountd/model"
	"accountd/web"
)

// Handler serves the REST routes.
type Handler struct {
	Service *account.Service
	Cookie  web.SessionCookie
	// Device writes the device cookie (web.DeviceCookieName).
	Device web.SessionCookie
	// Authenticate is the middleware that resolves credentials for the
	// /api/client routes (web.Authenticator.Middleware).
	Authenticate func(http.Handler) http.Handler
	Logger       *slog.Logger
	// CrossOrigin is the cross-origin check the server puts in front of
	// every state-changing method. It passes GET as safe, so the routes
	// whose GET changes state apply it themselves (see changingGET); nil
	// skips that.
	CrossOrigin *http.CrossOriginProtection

	mux      *http.ServeMux
	patterns []string
}

// Routes builds the route table and returns the handler for /api/.
func (h *Handler) Routes() http.Handler {
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	m := &patternMux{ServeMux: http.NewServeMux()}
	authenticated := func(fn func(http.ResponseWriter, *http.Request, *model.Actor)) http.Handler {
		return h.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			actor, err := web.ActorFrom(r.Context())
			if actor == nil {
				h.fail(w, r, err)
				return
			}
			fn(w, r, actor)
		}))
	}
	client := func(pattern string, fn func(http.ResponseWriter, *http.Request, *model.Actor)) {
		m.Handle(pattern, authenticated(fn))
	}
	// changingGET is client for a GET that changes state, which must not
	// be triggered from another site (REST.md: GET .../two-factor writes
	// the pending secret).
	changingGET := func(pattern string, fn func(http.ResponseWriter, *http.Request, *model.Actor)) {
		m.Handle(pattern, h.sameOriginOnly(authenticated(fn)))
	}

	m.HandleFunc("POST /api/auth/register", h.register)
	m.HandleFunc("POST /api/auth/login", h.login)
	m.HandleFunc("POST /api/auth/login/checkpoint", h.checkpoint)
	// Security keys and passkeys (REST.md §6.6): their per-IP limits are
	// the service's, counted after its first refusals.
	m.HandleFunc("GET /api/auth/login/security-key", h.securityKeyOptions(false))
	m.HandleFunc("POST /api/auth/login/security-key", h.securityKeyLogin(model.CeremonyLogin))
	m.HandleFunc("GET /api/auth/login/security-key/discoverable", h.securityKeyOptions(true))
	m.HandleFunc("POST /api/auth/login/security-key/discoverable", h.securityKeyLogin(model.CeremonyDiscoverable))
	m.HandleFunc("GET /api/auth/login/checkpoint/security-key", h.checkpointSecurityKeyOptions)
	m.HandleFunc("POST /api/auth/password/forgot", h.forgotPassword)
	m.HandleFunc("POST /api/auth/password/reset", h.resetPassword)
	// (ours) The link a changed or new address is confirmed with.
	m.HandleFunc("POST /api/auth/email/confirm", h.confirmEmail)
	m.HandleFunc("GET /api/openapi.json", h.getOpenAPI)
	// (ours) Forward auth for apps behind a reverse proxy: the same
	// authentication as every /api/client route.
	m.Handle("GET "+VerifyPath, noStore(authenticated(h.verify)))

	client("GET /api/client/account", h.getAccount)
	client("PATCH /api/client/account", h.patchAccount)
	client("PUT /api/client/account/email", h.putEmail)
	client("PUT /api/client/account/password", h.putPassword)
	client("POST /api/client/account/logout", h.logout)
	client("GET /api/client/permissions", h.getPermissions)

	changingGET("GET /api/client/account/two-factor", h.getTwoFactor)
	client("POST /api/client/account/two-factor", h.postTwoFactor)
	client("DELETE /api/client/account/two-factor", h.deleteTwoFactor)
	client("POST /api/client/account/two-factor/recovery-codes", h.postRecoveryCodes)

	client("GET /api/client/account/api-keys", h.listAPIKeys)
	client("POST /api/client/account/api-keys", h.createAPIKey)
	client("GET /api/client/account/api-keys/identifier/{key_start}", h.getAPIKeyByIdentifier)
	client("PATCH /api/client/account/api-keys/{uuid}", h.updateAPIKey)
	client("DELETE /api/client/account/api-keys/{uuid}", h.deleteAPIKey)
	client("POST /api/client/account/api-keys/{uuid}/recreate", h.recreateAPIKey)

	client("GET /api/client/account/security-keys", h.listSecurityKeys)
	client("POST /api/client/account/security-keys", h.createSecurityKey)
	client("POST /api/client/account/security-keys/{uuid}/challenge", h.finishSecurityKey)
	client("PATCH /api/client/account/security-keys/{uuid}", h.updateSecurityKey)
	client("DELETE /api/client/account/security-keys/{uuid}", h.deleteSecurityKey)

	client("GET /api/client/account/sessions", h.listSessions)
	client("DELETE /api/client/account/sessions", h.deleteOtherSessions)
	client("DELETE /api/client/account/sessions/{uuid}", h.deleteSession)
	client("GET /api/client/account/activity", h.listActivity)

	h.mux, h.patterns = m.ServeMux, m.patterns
	return http.HandlerFunc(h.serve)
}

// serve answers unknown routes and wrong methods in the contract's JSON
// shape instead of ServeMux's plain text.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		status, allow := h.unmatched(r)
		if allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := "route not found"
		if status == http.StatusMethodNotAllowed {
			msg = "method not allowed"
		}
		web.WriteJSON(w, status, errorBody{Errors: []string{msg}})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// sameOriginOnly refuses a request a browser sends from another origin
// even when its method is GET or HEAD: a link or an image on another site
// makes the browser send such a request with the session cookie
// (SameSite=Lax lets it through on a top-level navigation), so a GET that
// changes state needs the same guard as a POST. The decision is
// CrossOrigin's own, taken as if the request were a POST: refused when
// Sec-Fetch-Site is cross-site or same-site (or, without that header, when
// Origin is not the request's host), unless the origin is trusted; scripts
// send neither header and pass. It runs before authentication, as the
// check of the other methods does.
func (h *Handler) sameOriginOnly(next http.Handler) http.Handler {
	if h.CrossOrigin == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A shallow copy, as WithContext makes: Check reads only the
		// method, the headers and the host.
		asPost := *r
		asPost.Method = http.MethodPost
		if err := h.CrossOrigin.Check(&asPost); err != nil {
			h.fail(w, r, model.Errorf(model.CodeForbidden, "cross-origin request refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unmatched asks the mux what it would answer (404, or 405 with Allow).
func (h *Handler) unmatched(r *http.Request) (int, string) {
	rec := &statusOnly{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		return rec.status, rec.header.Get("Allow")
	}
	return http.StatusNotFound, ""
}

// statusOnly records a status and headers and drops the body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

type errorBody struct {
	Errors []string `json:"errors"`
}

// fail writes an error in the contract's shape.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	web.WriteError(w, r, h.Logger, err)
}
