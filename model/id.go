package model

import "github.com/google/uuid"

// ParseID reads an object id as clients send it: a hyphenated UUID and
// nothing else (no braces, no urn: prefix). The error names field "id".
func ParseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.UUID{}, &Error{Code: CodeInvalid, Message: "invalid uuid", Field: "id"}
	}
	return id, nil
}
