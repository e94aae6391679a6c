package rest

import (
	"net/http"
	"time"

	"accountd/account"
	"accountd/model"
	"accountd/web"
)

type registerRequest struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	NameFirst string `json:"name_first"`
	NameLast  string `json:"name_last"`
	Password  string `json:"password"`
}

// register is POST /api/auth/register.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.Register(r.Context(), web.Client(r), account.RegisterInput(req))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.Cookie.Issue(w.Header(), res.SessionToken, h.Service.SessionExpiry(res.Session))
	h.ok(w, r, userBody{User: h.fullUser(res.User)})
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type loginCompleted struct {
	Type string   `json:"type"`
	User fullUser `json:"user"`
}

type loginTwoFactor struct {
	Type  string     `json:"type"`
	User  publicUser `json:"user"`
	Token string     `json:"token"`
}

// login is POST /api/auth/login.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.Login(r.Context(), web.Client(r), account.LoginInput{User: req.User, Password: req.Password,
		Device: web.DeviceToken(r.Header)})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.TwoFactorRequired() {
		h.ok(w, r, loginTwoFactor{Type: "two_factor_required", User: newPublicUser(res.User), Token: res.ConfirmationToken})
		return
	}
	h.Cookie.Issue(w.Header(), res.SessionToken, h.Service.SessionExpiry(res.Session))
	h.Device.Issue(w.Header(), res.DeviceToken, time.Now().Add(account.DeviceLifetime))
	h.ok(w, r, loginCompleted{Type: "completed", User: h.fullUser(res.User)})
}

// logout is POST /api/client/account/logout.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	if err := h.Service.Logout(r.Context(), actor); err != nil {
		h.fail(w, r, err)
		return
	}
	h.Cookie.Clear(w.Header())
	h.ok(w, r, empty)
}
