package rest

import (
	"net/http"
	"time"

	"accountd/web"
)

// ok writes a 200 JSON response through web's one JSON writer: private,
// and revalidated by ETag on GET (see web.WritePrivateJSON).
func (h *Handler) ok(w http.ResponseWriter, r *http.Request, v any) {
	web.WritePrivateJSON(w, r, h.Logger, v)
}

// empty is the "nothing to return" body: 200 {} (never 204).
var empty = struct{}{}

// timestamp renders times as REST.md §1 wants: RFC 3339, UTC, microseconds.
type timestamp time.Time

// MarshalText, not MarshalJSON: encoding/json re-scans what a MarshalJSON
// returns to check it, while text it only quotes.
func (t timestamp) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(make([]byte, 0, 27), "2006-01-02T15:04:05.000000Z"), nil
}

func timestampPtr(t *time.Time) *timestamp {
	if t == nil {
		return nil
	}
	ts := timestamp(*t)
	return &ts
}
