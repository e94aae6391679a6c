package rest

import "net/http"

// patternMux is a ServeMux that remembers the patterns registered on it,
// so the route table can be compared with the OpenAPI document.
type patternMux struct {
	*http.ServeMux
	patterns []string
}

func (m *patternMux) Handle(pattern string, handler http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, handler)
}

func (m *patternMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(handler))
}

// Patterns returns the "METHOD /path" patterns Routes registered, in
// registration order; nil before Routes is called.
func (h *Handler) Patterns() []string {
	return append([]string(nil), h.patterns...)
}
