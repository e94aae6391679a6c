package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// ok writes a 200 JSON response. GET responses carry an ETag, and a
// matching If-None-Match gets 304 with no body.
func (h *Handler) ok(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.fail(w, r, err)
		return
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	// Account data is per user: shared caches must not keep it, and the
	// browser must revalidate (cheap, thanks to the ETag).
	if hdr.Get("Cache-Control") == "" {
		hdr.Set("Cache-Control", "private, no-cache")
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		hdr.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			hdr.Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client went away
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// empty is the "nothing to return" body: 200 {} (never 204).
var empty = struct{}{}

// timestamp renders times as REST.md §1 wants: RFC 3339, UTC, microseconds.
type timestamp time.Time

func (t timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000000Z") + `"`), nil
}

func timestampPtr(t *time.Time) *timestamp {
	if t == nil {
		return nil
	}
	ts := timestamp(*t)
	return &ts
}
