package web

import (
	"accountd/account"
	"accountd/model"
)

// The reasons FailureReason gives, a fixed vocabulary: a metric label may
// carry one of these, never anything taken from the request.
const (
	// ReasonMissing: neither an Authorization header nor the cookie.
	ReasonMissing = "missing"
	// ReasonMalformedHeader: an Authorization header that is not
	// "Bearer c7sp_…" of the right length and alphabet.
	ReasonMalformedHeader = "malformed_header"
	// ReasonInvalidAPIKey: a well-formed key that is unknown, wrong or
	// expired.
	ReasonInvalidAPIKey = "invalid_api_key"
	// ReasonMalformedCookie: a session cookie that is not a token.
	ReasonMalformedCookie = "malformed_cookie"
	// ReasonInvalidSession: a well-formed session token that is unknown,
	// revoked or idle past its lifetime.
	ReasonInvalidSession = "invalid_session"
	// ReasonIPNotAllowed: a valid key used from outside its networks.
	ReasonIPNotAllowed = "ip_not_allowed"
	// ReasonError: the check itself failed (the database is down).
	ReasonError = "error"
)

// FailureReason classifies a failed authentication of creds. It tells a
// malformed credential from a well-formed one that matched nothing by the
// service's message for the latter ("invalid api key", "invalid session").
func FailureReason(creds account.Credentials, err error) string {
	e := model.AsError(err)
	switch {
	case e.Code == model.CodeForbidden:
		return ReasonIPNotAllowed
	case e.Code != model.CodeUnauthenticated:
		return ReasonError
	case creds.HasAuthorization:
		if e.Message == "invalid api key" {
			return ReasonInvalidAPIKey
		}
		return ReasonMalformedHeader
	case creds.HasCookie:
		if e.Message == "invalid session" {
			return ReasonInvalidSession
		}
		return ReasonMalformedCookie
	}
	return ReasonMissing
}
