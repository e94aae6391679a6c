package rest

import (
	"net/http"

	"accountd/account"
	"accountd/web"
)

type forgotPasswordRequest struct {
	Email string `json:"email"`
	// Captcha is accepted and ignored (REST.md §7.1: no captcha provider
	// is built in); declared so that a value of another type is refused
	// as the panel refuses it.
	Captcha *string `json:"captcha"`
}

// forgotPassword is POST /api/auth/password/forgot: 200 {} for every valid
// request, whatever the address.
func (h *Handler) forgotPassword(w http.ResponseWriter, r *http.Request) {
	var req forgotPasswordRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	// The service counts the per-IP limit; its X-RateLimit-* headers go
	// on this answer.
	ctx := web.WithResponseHeader(r.Context(), w.Header())
	if err := h.Service.RequestPasswordReset(ctx, web.Client(r), account.RequestPasswordResetInput{Email: req.Email}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type resetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
	// RevokeAPIKeys (ours) also deletes every API key of the account.
	RevokeAPIKeys bool `json:"revoke_api_keys"`
}

// resetPassword is POST /api/auth/password/reset: no session, no cookie;
// the front end goes to its sign-in page.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	var req resetPasswordRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := web.WithResponseHeader(r.Context(), w.Header())
	if _, err := h.Service.ResetPassword(ctx, web.Client(r), account.ResetPasswordInput(req)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type confirmEmailRequest struct {
	Token string `json:"token"`
}

type confirmEmailResponse struct {
	Email string `json:"email"`
}

// confirmEmail is POST /api/auth/email/confirm (ours): the token of a
// confirmation link; the answer names the address now in effect.
func (h *Handler) confirmEmail(w http.ResponseWriter, r *http.Request) {
	var req confirmEmailRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.Service.ConfirmEmail(r.Context(), web.Client(r), account.ConfirmEmailInput(req))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, confirmEmailResponse{Email: u.Email})
}
