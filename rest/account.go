package rest

import (
	"net/http"

	"accountd/account"
	"accountd/model"
)

// getAccount is GET /api/client/account.
func (h *Handler) getAccount(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	u, err := h.Service.Viewer(r.Context(), actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, userBody{User: h.fullUser(u)})
}

type patchAccountRequest struct {
	Username              *string `json:"username"`
	NameFirst             *string `json:"name_first"`
	NameLast              *string `json:"name_last"`
	Language              *string `json:"language"`
	ToastPosition         *string `json:"toast_position"`
	StartOnGroupedServers *bool   `json:"start_on_grouped_servers"`
}

// patchAccount is PATCH /api/client/account.
func (h *Handler) patchAccount(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req patchAccountRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Service.UpdateAccount(r.Context(), actor, account.UpdateAccountInput(req)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type putEmailRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// putEmail is PUT /api/client/account/email.
func (h *Handler) putEmail(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req putEmailRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Service.UpdateEmail(r.Context(), actor, account.UpdateEmailInput(req)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type putPasswordRequest struct {
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}

// putPassword is PUT /api/client/account/password.
func (h *Handler) putPassword(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req putPasswordRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	in := account.ChangePasswordInput{Password: req.Password, NewPassword: req.NewPassword}
	if _, err := h.Service.ChangePassword(r.Context(), actor, in); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

// getPermissions is GET /api/client/permissions: the catalog exactly as
// permissions.json has it.
func (h *Handler) getPermissions(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	if _, err := h.Service.PermissionCatalog(r.Context(), actor); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, rawJSON(model.PermissionsJSON()))
}

// rawJSON is already-encoded JSON.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }
