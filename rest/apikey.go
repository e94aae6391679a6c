package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"accountd/account"
	"accountd/model"
)

// apiKey is the ApiKey object of REST.md §3: never the secret.
type apiKey struct {
	UUID              string     `json:"uuid"`
	Name              string     `json:"name"`
	KeyStart          string     `json:"key_start"`
	AllowedIPs        []string   `json:"allowed_ips"`
	UserPermissions   []string   `json:"user_permissions"`
	AdminPermissions  []string   `json:"admin_permissions"`
	ServerPermissions []string   `json:"server_permissions"`
	LastUsed          *timestamp `json:"last_used"`
	Expires           *timestamp `json:"expires"`
	Created           timestamp  `json:"created"`
}

func newAPIKey(k *model.APIKey) apiKey {
	ips := make([]string, len(k.AllowedIPs))
	for i, p := range k.AllowedIPs {
		ips[i] = p.String()
	}
	return apiKey{UUID: k.ID.String(), Name: k.Name, KeyStart: k.KeyStart, AllowedIPs: ips,
		UserPermissions: nonNil(k.UserPermissions), AdminPermissions: nonNil(k.AdminPermissions),
		ServerPermissions: nonNil(k.ServerPermissions), LastUsed: timestampPtr(k.LastUsed),
		Expires: timestampPtr(k.Expires), Created: timestamp(k.Created)}
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// apiKeyRequest is the body of create and update; absent fields are nil.
type apiKeyRequest struct {
	Name              *string      `json:"name"`
	AllowedIPs        *[]string    `json:"allowed_ips"`
	UserPermissions   *[]string    `json:"user_permissions"`
	AdminPermissions  *[]string    `json:"admin_permissions"`
	ServerPermissions *[]string    `json:"server_permissions"`
	Expires           optionalTime `json:"expires"`
}

func (req apiKeyRequest) fields() account.APIKeyFields {
	return account.APIKeyFields{Name: req.Name, AllowedIPs: req.AllowedIPs, UserPermissions: req.UserPermissions,
		AdminPermissions: req.AdminPermissions, ServerPermissions: req.ServerPermissions,
		SetExpires: req.Expires.Set, Expires: req.Expires.Time}
}

// optionalTime tells an absent member (keep) from null (clear) and from
// an RFC 3339 time.
type optionalTime struct {
	Set  bool
	Time *time.Time
}

func (o *optionalTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Time = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return badValue("expires: expected an RFC 3339 time or null")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return badValue("expires: expected an RFC 3339 time or null")
	}
	o.Time = &t
	return nil
}

type apiKeyBody struct {
	APIKey apiKey `json:"api_key"`
}

type createdAPIKeyBody struct {
	APIKey apiKey `json:"api_key"`
	Key    string `json:"key"`
}

type apiKeysBody struct {
	APIKeys pageBody[apiKey] `json:"api_keys"`
}

// listAPIKeys is GET /api/client/account/api-keys.
func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	lq, err := listQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.Service.ListAPIKeys(r.Context(), actor, lq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := newPageBody(r, lq, page, newAPIKey)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, apiKeysBody{APIKeys: body})
}

// createAPIKey is POST /api/client/account/api-keys.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	var req apiKeyRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.CreateAPIKey(r.Context(), actor, req.fields())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, createdAPIKeyBody{APIKey: newAPIKey(res.Key), Key: res.Secret})
}

// getAPIKeyByIdentifier is GET /api/client/account/api-keys/identifier/{key_start}.
func (h *Handler) getAPIKeyByIdentifier(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	k, err := h.Service.APIKeyByKeyStart(r.Context(), actor, r.PathValue("key_start"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, apiKeyBody{APIKey: newAPIKey(k)})
}

// updateAPIKey is PATCH /api/client/account/api-keys/{uuid}.
func (h *Handler) updateAPIKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req apiKeyRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.Service.UpdateAPIKey(r.Context(), actor, id, req.fields()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

// deleteAPIKey is DELETE /api/client/account/api-keys/{uuid}.
func (h *Handler) deleteAPIKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.Service.DeleteAPIKey(r.Context(), actor, id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, empty)
}

type recreatedAPIKeyBody struct {
	Key string `json:"key"`
}

// recreateAPIKey is POST /api/client/account/api-keys/{uuid}/recreate.
func (h *Handler) recreateAPIKey(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.RecreateAPIKey(r.Context(), actor, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, recreatedAPIKeyBody{Key: res.Secret})
}
