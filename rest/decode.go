package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"accountd/model"
	"accountd/web"
)

// decode reads a JSON request body into dst by the rules of REST.md §1:
// JSON only, in valid UTF-8, an empty body is {}, unknown fields are
// ignored, and an error never echoes the body (it may hold a password).
func decode(r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return invalidPayload("missing content type header")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return invalidPayload("unsupported content type")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if web.IsTooLarge(err) {
			return model.Errorf(model.CodeTooLarge, "payload too large")
		}
		return invalidPayload("unable to read the body")
	}
	if !web.ExactJSONText(body) {
		// Refused rather than decoded: encoding/json would turn each bad
		// byte or lone surrogate into U+FFFD, so a password would be
		// compared (or stored) as something other than what was sent.
		return invalidPayload("the body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// First as an object of raw members: that catches malformed JSON and
	// non-objects, and lets only exactly-named members through (Go's
	// decoder would match "NAME_FIRST" to name_first; the panel's does not).
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&members); err != nil {
		return invalidPayload(describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidPayload("unexpected data after the JSON value")
	}
	if members == nil {
		return invalidPayload("expected a JSON object")
	}
	known := jsonNames(dst)
	for k := range members {
		if !known[k] {
			delete(members, k)
		}
	}
	exact, err := json.Marshal(members)
	if err != nil {
		return invalidPayload("malformed JSON")
	}
	if err := json.Unmarshal(exact, dst); err != nil {
		return invalidPayload(describeJSONError(err))
	}
	return nil
}

// jsonNames lists the member names a request struct accepts.
func jsonNames(dst any) map[string]bool {
	t := reflect.TypeOf(dst).Elem()
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// describeJSONError explains a decoding failure by position and type only.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var bad badValue
	switch {
	case errors.As(err, &bad):
		return string(bad)
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "expected a JSON object"
		}
		return fmt.Sprintf("%s: expected %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of JSON"
	}
	return "malformed JSON"
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return kind
}

func invalidPayload(reason string) error {
	return model.Errorf(model.CodeInvalid, "invalid payload: %s", reason)
}

// badValue is a decoding failure a field type explains itself, e.g.
// "expires: expected an RFC 3339 time or null".
type badValue string

func (b badValue) Error() string { return string(b) }
