package model

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultPageSize is the size of a page a client did not size: REST's
// per_page and a GraphQL connection's first. It is one constant because
// both transports promise the same default (REST.md §1, the schema's
// "first: Int = 25", which a test in graph/ holds to this value).
const DefaultPageSize = 25

// ListQuery selects one page of one of a user's lists (API keys, sessions,
// activity). GraphQL connections page by keyset (First/After): stable under
// inserts and as cheap on the last page as on the first. The REST layer
// keeps the panel's page/per_page (Page/PerPage).
type ListQuery struct {
	// Keyset selects cursor paging; otherwise Page and PerPage apply.
	Keyset bool
	First  int
	// After is the opaque cursor of the last row already seen, "" for the
	// first page.
	After   string
	Page    int
	PerPage int
	// Search filters by a substring, matched literally and
	// case-insensitively; "" matches everything.
	Search string

	// Cursor is After, decoded by the service.
	Cursor *Cursor
}

// Limit is the page size of either mode.
func (q ListQuery) Limit() int {
	if q.Keyset {
		return q.First
	}
	return q.PerPage
}

// Offset is the number of rows before the page (offset mode only). It
// saturates instead of overflowing: a page that far out is empty anyway.
func (q ListQuery) Offset() int {
	if q.Keyset || q.Page < 1 || q.PerPage < 1 {
		return 0
	}
	if q.Page-1 > math.MaxInt/q.PerPage {
		return math.MaxInt
	}
	return (q.Page - 1) * q.PerPage
}

// Cursor is a position in a list ordered by time, then id: the sort key of
// a row. Encoded, it is opaque to clients.
type Cursor struct {
	Time time.Time
	ID   uuid.UUID
}

// cursorVersion prefixes encoded cursors so that the format can change
// without old cursors being misread.
const cursorVersion = "c1"

// Encode returns the cursor's opaque form.
func (c Cursor) Encode() string {
	raw := cursorVersion + ":" + strconv.FormatInt(c.Time.UnixMicro(), 10) + ":" + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ErrBadCursor is returned for a cursor this server did not make.
var ErrBadCursor = errors.New("invalid cursor")

// DecodeCursor parses an opaque cursor.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return Cursor{}, ErrBadCursor
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || id.String() != parts[2] {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{Time: time.UnixMicro(micros).UTC(), ID: id}, nil
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// HasNext reports whether rows follow this page.
	HasNext bool
	// Count returns how many rows match the query in all. It costs a
	// query of its own, so it runs only when a client asks for it.
	Count func(ctx context.Context) (int, error)
}
