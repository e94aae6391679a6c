package rest

import (
	"accountd/model"
)

// fullUser is the FullUser object of REST.md §3, key for key.
type fullUser struct {
	UUID                  string     `json:"uuid"`
	Username              string     `json:"username"`
	Role                  *string    `json:"role"`
	Avatar                *string    `json:"avatar"`
	Email                 string     `json:"email"`
	NameFirst             string     `json:"name_first"`
	NameLast              string     `json:"name_last"`
	Admin                 bool       `json:"admin"`
	Frozen                bool       `json:"frozen"`
	Suspended             bool       `json:"suspended"`
	TOTPEnabled           bool       `json:"totp_enabled"`
	TOTPLastUsed          *timestamp `json:"totp_last_used"`
	RequireTwoFactor      bool       `json:"require_two_factor"`
	Language              string     `json:"language"`
	ToastPosition         string     `json:"toast_position"`
	StartOnGroupedServers bool       `json:"start_on_grouped_servers"`
	HasPassword           bool       `json:"has_password"`
	Created               timestamp  `json:"created"`
}

func (h *Handler) fullUser(u *model.User) fullUser {
	return fullUser{
		UUID: u.ID.String(), Username: u.Username, Role: u.Role, Avatar: u.Avatar, Email: u.Email,
		NameFirst: u.NameFirst, NameLast: u.NameLast, Admin: u.Admin, Frozen: u.Frozen, Suspended: u.Suspended,
		TOTPEnabled: u.TOTPEnabled, TOTPLastUsed: timestampPtr(u.TOTPLastUsed),
		RequireTwoFactor: h.Service.RequiresTwoFactor(u), Language: u.Language, ToastPosition: u.ToastPosition,
		StartOnGroupedServers: u.StartOnGroupedServers, HasPassword: u.HasPassword(), Created: timestamp(u.Created),
	}
}

// publicUser is the User object a login hands out before the two-factor
// checkpoint: nothing the password alone should reveal.
type publicUser struct {
	UUID        string    `json:"uuid"`
	Username    string    `json:"username"`
	Avatar      *string   `json:"avatar"`
	TOTPEnabled bool      `json:"totp_enabled"`
	Created     timestamp `json:"created"`
}

func newPublicUser(u *model.User) publicUser {
	return publicUser{UUID: u.ID.String(), Username: u.Username, Avatar: u.Avatar, TOTPEnabled: u.TOTPEnabled,
		Created: timestamp(u.Created)}
}

type userBody struct {
	User fullUser `json:"user"`
}
