package account

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"accountd/model"
)

// The limits of REST.md §4; the messages are part of the contract.
const (
	maxPasswordLen  = 512
	minPasswordLen  = 8
	minUsernameLen  = 3
	maxUsernameLen  = 15
	maxNameLen      = 255
	maxEmailLen     = 255
	minLanguageLen  = 2
	maxLanguageLen  = 15
	usernamePattern = `^[a-zA-Z0-9_]+$`
)

var usernameRE = regexp.MustCompile(usernamePattern)

// checkLength records the length rules of a field, counted in characters.
func checkLength(v *model.Validation, field, value string, min, max int) {
	n := utf8.RuneCountInString(value)
	if n < min {
		v.Add(field, fmt.Sprintf("length is lower than %d", min))
	}
	if n > max {
		v.Add(field, fmt.Sprintf("length is greater than %d", max))
	}
}

// checkText refuses NUL in free-text fields: PostgreSQL cannot store it.
// Other characters round-trip as the panel's own server keeps them.
func checkText(v *model.Validation, field, value string) {
	if strings.ContainsRune(value, 0) {
		v.Add(field, "must not contain NUL characters")
	}
}

// checkName applies the rules of a first or last name.
func checkName(v *model.Validation, field, value string) {
	checkLength(v, field, value, 1, maxNameLen)
	checkText(v, field, value)
}

func checkUsername(v *model.Validation, field, value string) {
	checkLength(v, field, value, minUsernameLen, maxUsernameLen)
	if !usernameRE.MatchString(value) {
		v.Add(field, "does not match pattern /"+usernamePattern+"/")
	}
}

func checkEmail(v *model.Validation, field, value string) {
	checkLength(v, field, value, 1, maxEmailLen)
	if value == "" {
		return
	}
	addr, err := mail.ParseAddress(value)
	// Only a bare address: no display name, no comments, and a dot-less
	// domain is almost always a typo on a public panel.
	if err != nil || addr.Address != value || !strings.Contains(value[strings.LastIndexByte(value, '@')+1:], ".") {
		v.Add(field, "not a valid email address")
	}
}

func checkOneOf(v *model.Validation, field, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.Add(field, "must be one of "+strings.Join(allowed, ", "))
	}
}
