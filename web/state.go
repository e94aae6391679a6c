package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
)

// requestState is what the middlewares learn about one request — its id,
// the client's address, the access log's level, the response header map
// and the authentication outcome — kept in one struct that the first of
// them puts in the context. Each later layer fills its part in place
// instead of deriving a context of its own and a copy of the whole
// http.Request with it, which was most of the allocations of a cheap read.
// The explicit With… functions still derive contexts (tests, work that does
// not come in through HTTP), and a value set that way wins.
type requestState struct {
	id     string
	ip     netip.Addr
	level  slog.Level
	header http.Header
	auth   authResult
	authed bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// withState returns r carrying a state, adding one if it has none yet.
func withState(r *http.Request) (*http.Request, *requestState) {
	if st := stateFrom(r.Context()); st != nil {
		return r, st
	}
	st := &requestState{level: slog.LevelInfo}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st)), st
}
