package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"accountd/account"
	"accountd/model"
	"accountd/web"
)

type twoFactorSetupBody struct {
	OTPURL string `json:"otp_url"`
	Secret string `json:"secret"`
}

// getTwoFactor is GET /api/client/account/two-factor: it returns the
// pending secret, making one when there is none or it is older than
// account.PendingTwoFactorLifetime. (ours) The panel's own server makes a
// new one on every call, so a reload, or a link on another site, breaks a
// setup in progress; the router also refuses this GET from another site.
func (h *Handler) getTwoFactor(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	setup, err := h.Service.BeginTwoFactorSetup(r.Context(), actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The secret must not be served from a cache or revalidated into one.
	w.Header().Set("Cache-Control", "no-store")
	h.ok(w, r, twoFactorSetupBody{OTPURL: setup.URL, Secret: setup.Secret})
}

type twoFactorRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

type recoveryCodesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// postTwoFactor is POST /api/client/account/two-factor.
func (h *Handler) postTwoFactor(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req twoFactorRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.EnableTwoFactor(r.Context(), actor, account.TwoFactorInput(req))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, recoveryCodesBody{RecoveryCodes: res.RecoveryCodes})
}

// deleteTwoFactor is DELETE /api/client/account/two-factor (with a JSON
// body).
func (h *Handler) deleteTwoFactor(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req twoFactorRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Service.DisableTwoFactor(r.Context(), actor, account.TwoFactorInput(req)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

// postRecoveryCodes is POST /api/client/account/two-factor/recovery-codes
// (ours: the panel has no such route; GraphQL's regenerateRecoveryCodes).
func (h *Handler) postRecoveryCodes(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req twoFactorRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.RegenerateRecoveryCodes(r.Context(), actor, account.TwoFactorInput(req))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, recoveryCodesBody{RecoveryCodes: res.RecoveryCodes})
}

type checkpointRequest struct {
	ConfirmationToken string `json:"confirmation_token"`
	Code              string `json:"code"`
	// PublicKeyCredential answers with a security key instead of a code
	// (ours; see checkpointSecurityKeyOptions).
	PublicKeyCredential json.RawMessage `json:"public_key_credential"`
}

// checkpoint is POST /api/auth/login/checkpoint.
func (h *Handler) checkpoint(w http.ResponseWriter, r *http.Request) {
	var req checkpointRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.LoginCheckpoint(r.Context(), web.Client(r), account.CheckpointInput{
		ConfirmationToken: req.ConfirmationToken, Code: req.Code, PublicKeyCredential: req.PublicKeyCredential,
		Device: web.DeviceToken(r.Header)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Cookie.Issue(w.Header(), res.SessionToken, h.Service.SessionExpiry(res.Session))
	h.Device.Issue(w.Header(), res.DeviceToken, time.Now().Add(account.DeviceLifetime))
	h.ok(w, r, userBody{User: h.fullUser(res.User)})
}
