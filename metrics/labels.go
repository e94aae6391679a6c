package metrics

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// operationName is what a GraphQL operation name must look like to become
// a label value: the GraphQL name syntax, at most 64 characters. A uuid or
// an e-mail address cannot pass.
var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// operationLabel bounds a client-chosen operation name: "anonymous" for
// none, "other" for one of the wrong shape, shaped like a secret, or
// beyond the cap of distinct names.
func (m *Metrics) operationLabel(name string) string {
	switch {
	case name == "":
		return "anonymous"
	case !operationName.MatchString(name), secretShaped(name), !m.operationNames.admit(name):
		return "other"
	}
	return name
}

// secretShaped reports a name that has the shape of a credential this
// server issues — an API key or its visible start (c7sp_…), or a session
// or confirmation token (48 letters and digits) — which the name syntax
// alone would let through: a client that names an operation after its
// own key must not publish the key.
func secretShaped(name string) bool {
	if len(name) >= 5 && strings.EqualFold(name[:5], "c7sp_") {
		return true
	}
	if len(name) != 48 {
		return false
	}
	digit := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return digit
}

// boundedSet admits up to max distinct strings, then only those it
// already holds.
type boundedSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newBoundedSet(max int) *boundedSet {
	return &boundedSet{max: max, seen: make(map[string]struct{})}
}

func (s *boundedSet) admit(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return true
	}
	if len(s.seen) >= s.max {
		return false
	}
	s.seen[v] = struct{}{}
	return true
}

// routeLabel turns a ServeMux pattern ("GET /api/client/account/api-keys/{uuid}")
// into its path template; the method has a label of its own. A request no
// pattern matched is "unmatched": its raw path may hold ids and keys.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return strings.TrimLeft(path, " \t")
	}
	return pattern
}

// methodLabel keeps the standard methods and folds every other (clients
// may send any token) into "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}
