package rest_test

import (
	"bytes"
	"net/http"
	"testing"

	"accountd/app/apptest"
)

// A sign-in name that matches no account is charged to a budget of its
// own, exactly like an account's, so the answers of a run of wrong
// passwords — statuses, bodies, Retry-After — are the same whether or not
// the account exists, over both transports: the 429 no longer tells an
// attacker that a name is registered.
func TestLoginUnknownNameAnswersLikeAnAccount(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "Alice", "alice password")
		apptest.Register(t, ts, "Bob", "bob password")

		t.Run("REST", func(t *testing.T) {
			for try := 1; try <= 7; try++ {
				_, known := apptest.Login(t, ts, "alice", "wrong password")
				_, unknown := apptest.Login(t, ts, "nobody-rest", "wrong password")
				if known.Status != unknown.Status || !bytes.Equal(known.Body, unknown.Body) {
					t.Fatalf("try %d: account %d %s, unknown name %d %s", try, known.Status, known.Body, unknown.Status, unknown.Body)
				}
				if (known.Header.Get("Retry-After") == "") != (unknown.Header.Get("Retry-After") == "") {
					t.Fatalf("try %d: Retry-After %q vs %q", try, known.Header.Get("Retry-After"), unknown.Header.Get("Retry-After"))
				}
				want := http.StatusBadRequest
				if try > 5 {
					want = http.StatusTooManyRequests
				}
				if known.Status != want {
					t.Fatalf("try %d: status %d, want %d", try, known.Status, want)
				}
			}
		})

		t.Run("GraphQL", func(t *testing.T) {
			const doc = `mutation($i: LoginInput!) { login(input: $i) { user { id } userErrors { message code } } }`
			c := ts.Client(t)
			for try := 1; try <= 7; try++ {
				known := c.GQL(doc, map[string]any{"i": map[string]any{"user": "bob", "password": "wrong password"}})
				unknown := c.GQL(doc, map[string]any{"i": map[string]any{"user": "nobody-gql", "password": "wrong password"}})
				if known.Status != unknown.Status || !bytes.Equal(stripRequestID(known.Raw), stripRequestID(unknown.Raw)) {
					t.Fatalf("try %d: account %d %s, unknown name %d %s", try, known.Status, known.Raw, unknown.Status, unknown.Raw)
				}
				limited := len(known.Errors) > 0 && known.Errors[0].Extensions["code"] == "RATE_LIMITED"
				if limited != (try > 5) {
					t.Fatalf("try %d: rate limited %v: %s", try, limited, known.Raw)
				}
			}
		})
	})
}

// stripRequestID blanks the one member two GraphQL answers may differ in
// by design.
func stripRequestID(b []byte) []byte {
	i := bytes.Index(b, []byte(`"requestId":"`))
	if i < 0 {
		return b
	}
	j := bytes.IndexByte(b[i+13:], '"')
	return append(append([]byte{}, b[:i+13]...), b[i+13+j:]...)
}
