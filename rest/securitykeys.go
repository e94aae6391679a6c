package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"accountd/account"
	"accountd/model"
	"accountd/passkey"
	"accountd/web"
)

// securityKey is the security-key object of REST.md §6.4.
type securityKey struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
	// CredentialID is base64url without padding; "" while pending.
	CredentialID string     `json:"credential_id"`
	LastUsed     *timestamp `json:"last_used"`
	Created      timestamp  `json:"created"`
}

func newSecurityKey(k *model.SecurityKey) securityKey {
	return securityKey{UUID: k.ID.String(), Name: k.Name, CredentialID: passkey.Encode(k.CredentialID),
		LastUsed: timestampPtr(k.LastUsed), Created: timestamp(k.Created)}
}

type securityKeysBody struct {
	SecurityKeys pageBody[securityKey] `json:"security_keys"`
}

// listSecurityKeys is GET /api/client/account/security-keys.
func (h *Handler) listSecurityKeys(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	lq, err := listQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.Service.ListSecurityKeys(r.Context(), actor, lq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := newPageBody(r, lq, page, newSecurityKey)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, securityKeysBody{SecurityKeys: body})
}

type createSecurityKeyRequest struct {
	Name                   string `json:"name"`
	AllowUsernamelessLogin bool   `json:"allow_usernameless_login"`
}

type createdSecurityKeyBody struct {
	SecurityKey securityKey             `json:"security_key"`
	Options     passkey.CreationOptions `json:"options"`
}

// createSecurityKey is POST /api/client/account/security-keys: a pending
// key and the options for navigator.credentials.create().
func (h *Handler) createSecurityKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req createSecurityKeyRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	reg, err := h.Service.BeginSecurityKeyRegistration(r.Context(), actor, account.SecurityKeyRegistrationInput{
		Name: req.Name, AllowUsernameless: req.AllowUsernamelessLogin})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, createdSecurityKeyBody{SecurityKey: newSecurityKey(reg.Key), Options: reg.Options})
}

type credentialRequest struct {
	PublicKeyCredential json.RawMessage `json:"public_key_credential"`
}

type credentialIDBody struct {
	CredentialID string `json:"credential_id"`
}

// finishSecurityKey is POST /api/client/account/security-keys/{uuid}/challenge.
func (h *Handler) finishSecurityKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req credentialRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	k, err := h.Service.FinishSecurityKeyRegistration(r.Context(), actor, id, req.PublicKeyCredential)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, credentialIDBody{CredentialID: passkey.Encode(k.CredentialID)})
}

type updateSecurityKeyRequest struct {
	Name *string `json:"name"`
}

// updateSecurityKey is PATCH /api/client/account/security-keys/{uuid}.
func (h *Handler) updateSecurityKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req updateSecurityKeyRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Service.UpdateSecurityKey(r.Context(), actor, id, account.UpdateSecurityKeyInput{Name: req.Name}); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

// deleteSecurityKey is DELETE /api/client/account/security-keys/{uuid}.
func (h *Handler) deleteSecurityKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Service.DeleteSecurityKey(r.Context(), actor, id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type challengeBody struct {
	UUID    string                 `json:"uuid"`
	Options passkey.RequestOptions `json:"options"`
}

// securityKeyOptions is GET /api/auth/login/security-key?user=… and, with
// discoverable, GET /api/auth/login/security-key/discoverable.
func (h *Handler) securityKeyOptions(discoverable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The service counts the per-IP limit; its headers go on this answer.
		ctx := web.WithResponseHeader(r.Context(), w.Header())
		ch, err := h.Service.BeginSecurityKeyLogin(ctx, account.SecurityKeyLoginInput{
			User: r.URL.Query().Get("user"), Discoverable: discoverable})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		// A fresh challenge each time: never from a cache.
		w.Header().Set("Cache-Control", "no-store")
		h.ok(w, r, challengeBody{UUID: ch.ID.String(), Options: ch.Options})
	}
}

type securityKeyLoginRequest struct {
	UUID                string          `json:"uuid"`
	PublicKeyCredential json.RawMessage `json:"public_key_credential"`
}

// securityKeyLogin is POST /api/auth/login/security-key and, with
// CeremonyDiscoverable, POST /api/auth/login/security-key/discoverable:
// {"user": FullUser} and the cookies, as a completed password sign-in
// (but without its "type" member).
func (h *Handler) securityKeyLogin(kind model.CeremonyKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req securityKeyLoginRequest
		if err := decode(r, &req); err != nil {
			h.fail(w, r, err)
			return
		}
		ctx := web.WithResponseHeader(r.Context(), w.Header())
		res, err := h.Service.FinishSecurityKeyLogin(ctx, web.Client(r), account.FinishSecurityKeyLoginInput{
			Challenge: req.UUID, Credential: req.PublicKeyCredential, Kind: kind, Device: web.DeviceToken(r.Header)})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.Cookie.Issue(w.Header(), res.SessionToken, h.Service.SessionExpiry(res.Session))
		h.Device.Issue(w.Header(), res.DeviceToken, time.Now().Add(account.DeviceLifetime))
		h.ok(w, r, userBody{User: h.fullUser(res.User)})
	}
}

type checkpointOptionsBody struct {
	Options passkey.RequestOptions `json:"options"`
}

// checkpointSecurityKeyOptions is GET
// /api/auth/login/checkpoint/security-key?confirmation_token=… (ours): the
// options to answer the two-factor checkpoint with a key instead of a
// code, then POSTed to /api/auth/login/checkpoint as
// public_key_credential.
func (h *Handler) checkpointSecurityKeyOptions(w http.ResponseWriter, r *http.Request) {
	ctx := web.WithResponseHeader(r.Context(), w.Header())
	opts, err := h.Service.BeginSecurityKeyCheckpoint(ctx, r.URL.Query().Get("confirmation_token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.ok(w, r, checkpointOptionsBody{Options: *opts})
}
