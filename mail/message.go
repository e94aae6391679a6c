package mail

import (
	"io"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	gomail "github.com/wneessen/go-mail"

	"accountd/model"
)

// Message is one mail ready for a transport: the MIME message and what a
// transport may say about it (never its body, which may hold a link with a
// token).
type Message struct {
	ID       uuid.UUID
	Template string
	// To is the recipient's bare address, checked.
	To      string
	Subject string
	// Created is when the mail was queued.
	Created time.Time
	msg     *gomail.Msg
}

// WriteTo writes the message in RFC 5322 form, as it goes over SMTP.
func (m *Message) WriteTo(w io.Writer) (int64, error) { return m.msg.WriteTo(w) }

// errInvalid marks what makes a row unsendable for good: it is given up
// at once, never retried.
type errInvalid struct{ msg string }

func (e *errInvalid) Error() string { return e.msg }

func invalid(msg string) error { return &errInvalid{msg} }

// compose renders m and builds its message, from from, dated now, its
// bodies quoted-printable, or with eightBit as they are (see FileTransport).
// Every
// header value is checked first: the recipient must be a bare address
// net/mail reads back unchanged, and no value may hold a line break or
// another control character. Its errors never quote the mail's data.
func compose(t *Templates, from *netmail.Address, m *model.Mail, now time.Time, eightBit bool) (*Message, error) {
	if hasControl(m.To) {
		return nil, invalid("the recipient holds a control character")
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil || to.Name != "" || to.Address != m.To || checkAddress(to) != nil {
		return nil, invalid("the recipient is not a bare valid address")
	}
	// The data the service always gives every template: without it the
	// row was not written by EnqueueMail, or its data could not be read.
	if m.Data.User.UUID == "" || m.Data.App.Name == "" || m.Data.App.URL == "" {
		return nil, invalid("the mail's data is missing or unreadable")
	}
	name := strings.TrimSpace(m.Data.User.NameFirst + " " + m.Data.User.NameLast)
	if hasControl(name) {
		return nil, invalid("the recipient's name holds a control character")
	}
	r, err := t.Render(m.Template, m.Data)
	if err != nil {
		// A template's execution error may quote a value: say which
		// template only.
		return nil, invalid("template " + safeName(m.Template) + " does not render this mail's data")
	}
	if hasControl(r.Subject) {
		return nil, invalid("the subject holds a control character")
	}

	enc := gomail.EncodingQP
	if eightBit {
		enc = gomail.NoEncoding
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithEncoding(enc))
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, from)
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, &netmail.Address{Name: name, Address: to.Address})
	msg.Subject(r.Subject)
	// The same id on a resend (see the package comment), at the sender's
	// domain.
	msg.SetMessageIDWithValue(m.ID.String() + "@" + domainOf(from.Address))
	msg.SetDateWithValue(now)
	// RFC 3834: written by a program, not to be answered by one (no
	// vacation replies).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, crlf(r.Text))
	msg.AddAlternativeString(gomail.TypeTextHTML, crlf(r.HTML))
	return &Message{ID: m.ID, Template: m.Template, To: to.Address, Subject: r.Subject, Created: m.Created, msg: msg}, nil
}

// crlf ends every line of s with CRLF, as a message's lines end (an
// 8-bit body is written as it is).
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// domainOf is the part of addr after its last @.
func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

// safeName is a template name as a log or an error may show it: one of
// the known names, or "unknown".
func safeName(name string) string {
	for _, n := range model.MailTemplates() {
		if n == name {
			return n
		}
	}
	return "unknown"
}
