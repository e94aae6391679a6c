package model

import (
	"time"

	"github.com/google/uuid"
)

// Mail is one message in the outbox: which template to render, for whom,
// with which values. The service writes it in the transaction of the change
// that causes it; the sender renders and delivers it later (package mail).
type Mail struct {
	ID uuid.UUID
	// UserID is the account the mail is about; its deletion drops mail
	// not yet sent.
	UserID *uuid.UUID
	// Template is one of the Mail* names below.
	Template string
	// To is the one recipient's address, as stored on the account.
	To string
	// Data is the template's values: MailData. It may hold a link with a
	// token, which is why the sender clears it once the mail is gone.
	Data    MailData
	Created time.Time
	// Attempts counts the deliveries tried so far, the current one
	// included once the sender has claimed the mail; the sender's back-off
	// grows with it.
	Attempts int
	// LastError is why the previous attempt failed ("" if none): the
	// transport's error text, never the mail's data.
	LastError string
}

// The templates, each a plain-text and an HTML file of the same name. Every
// template gets MailData's User and App; what else it gets is listed here.
const (
	// MailPasswordReset (REST.md §7.3): Link, to reset the password;
	// ExpiresIn.
	MailPasswordReset = "password_reset"
	// MailEmailChangeConfirm goes to the new address of a change: Link,
	// to confirm it; ExpiresIn; NewEmail.
	MailEmailChangeConfirm = "email_change_confirm"
	// MailEmailChangeNotice goes to the old address of a change: NewEmail
	// masked (MaskEmail); Event (when, from where).
	MailEmailChangeNotice = "email_change_notice"
	// MailEmailVerify goes to the address of a new account when sign-up
	// verification is on: Link; ExpiresIn.
	MailEmailVerify = "email_verify"
	// The security notices: Event (when, from where), and for a new API
	// key Detail (its name), for a new device Detail (the user agent).
	MailNoticePasswordChanged  = "notice_password_changed"
	MailNoticeTwoFactorEnabled = "notice_two_factor_enabled"
	MailNoticeTwoFactorOff     = "notice_two_factor_disabled"
	MailNoticeRecoveryCodes    = "notice_recovery_codes"
	MailNoticeAPIKeyCreated    = "notice_api_key_created"
	MailNoticeNewDevice        = "notice_new_device"
)

// MailTemplates lists every template name, for the renderer's checks.
func MailTemplates() []string {
	return []string{MailPasswordReset, MailEmailChangeConfirm, MailEmailChangeNotice, MailEmailVerify,
		MailNoticePasswordChanged, MailNoticeTwoFactorEnabled, MailNoticeTwoFactorOff,
		MailNoticeRecoveryCodes, MailNoticeAPIKeyCreated, MailNoticeNewDevice}
}

// MailData is what a template sees (REST.md §7.3): the user's public
// fields and the application's name and URL, plus the template's own
// values — never a secret but the link's token, never a setting. The JSON
// names are what the outbox stores.
type MailData struct {
	User MailUser `json:"user"`
	App  MailApp  `json:"app"`
	// Link is the one action of the mail, absolute (APP_URL + path).
	Link string `json:"link,omitempty"`
	// ExpiresIn says how long the link works ("20 minutes").
	ExpiresIn string `json:"expires_in,omitempty"`
	// NewEmail is the new address of a change, masked in the notice to
	// the old one.
	NewEmail string `json:"new_email,omitempty"`
	// Detail is a notice's subject: an API key's name, a device's user
	// agent.
	Detail string `json:"detail,omitempty"`
	// Pending says, in an address change's notice, that the change waits
	// for the new address's confirmation; without it the change is made.
	Pending bool `json:"pending,omitempty"`
	// Event is when and from where the change was made.
	Event *MailEvent `json:"event,omitempty"`
}

// MailUser is the part of the account a template may show.
type MailUser struct {
	UUID      string `json:"uuid"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	NameFirst string `json:"name_first"`
	NameLast  string `json:"name_last"`
	Language  string `json:"language"`
}

// MailApp is the application a template names and links to.
type MailApp struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// MailEvent is the circumstance of a security notice.
type MailEvent struct {
	Time      time.Time `json:"time"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// MailUserOf is the template's view of u.
func MailUserOf(u *User) MailUser {
	return MailUser{UUID: u.ID.String(), Username: u.Username, Email: u.Email, NameFirst: u.NameFirst,
		NameLast: u.NameLast, Language: u.Language}
}
