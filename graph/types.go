package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/model"
)

// qrCodeSize is the side, in pixels, of the setup QR code: large enough
// for any phone camera at arm's length.
const qrCodeSize = 256

// TwoFactorStatus is the user's two-factor state; the count of recovery
// codes is resolved only when asked for, since it costs a query.
type TwoFactorStatus struct {
	Enabled    bool
	LastUsedAt *time.Time
	user       *model.User
}

// ToastPosition is the schema's enum of notification places. It is bound
// by hand because the GraphQL validator matches enum values in variables
// case-insensitively while gqlgen's generated type does not, which turned
// "top_left" into an internal error; here it is a client error.
type ToastPosition string

// The enum's values.
const (
	ToastPositionTopLeft      ToastPosition = "TOP_LEFT"
	ToastPositionTopCenter    ToastPosition = "TOP_CENTER"
	ToastPositionTopRight     ToastPosition = "TOP_RIGHT"
	ToastPositionBottomLeft   ToastPosition = "BOTTOM_LEFT"
	ToastPositionBottomCenter ToastPosition = "BOTTOM_CENTER"
	ToastPositionBottomRight  ToastPosition = "BOTTOM_RIGHT"
)

// UnmarshalGQL accepts exactly the schema's spelling.
func (e *ToastPosition) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch p := ToastPosition(s); p {
	case ToastPositionTopLeft, ToastPositionTopCenter, ToastPositionTopRight,
		ToastPositionBottomLeft, ToastPositionBottomCenter, ToastPositionBottomRight:
		*e = p
		return nil
	}
	return &gqlerror.Error{
		Message:    fmt.Sprintf("%q is not a valid ToastPosition", s),
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
	}
}

// MarshalGQL writes the enum value.
func (e ToastPosition) MarshalGQL(w io.Writer) { fmt.Fprint(w, strconv.Quote(string(e))) }

// JSON is a JSON value passed through as it is stored (activity data).
type JSON json.RawMessage

// MarshalGQL writes the value unchanged.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		io.WriteString(w, "null") //nolint:errcheck // the response writer reports its own errors
		return
	}
	w.Write(j) //nolint:errcheck // as above
}

// UnmarshalGQL takes any JSON value, re-encoded as it was sent (a WebAuthn
// credential, which the browser API returns as an object).
func (j *JSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return &gqlerror.Error{Message: "not a JSON value", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
	}
	*j = JSON(b)
	return nil
}
