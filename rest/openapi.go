package rest

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route Routes
// registers. It is written by hand and checked, not generated: the
// end-to-end tests validate each REST request and response against it, so
// the document and the server cannot drift apart unnoticed.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document (JSON) that
// GET /api/openapi.json serves.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDocument) }

// getOpenAPI is GET /api/openapi.json. It needs no credentials: the
// document describes the public contract, nothing of any account.
func (h *Handler) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	// The same for everyone, so shared caches may keep it; the ETag makes
	// revalidation cheap.
	w.Header().Set("Cache-Control", "public, no-cache")
	h.ok(w, r, rawJSON(openAPIDocument))
}
