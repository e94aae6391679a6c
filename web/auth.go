package web

import (
	"context"
	"net/http"

	"accountd/account"
	"accountd/model"
)

// Authenticator resolves each request's credentials through the service
// and leaves the outcome in the context. It refuses nothing itself: the
// REST routes answer a failure with its error, while GraphQL's viewer
// answers null and its mutations raise the error.
type Authenticator struct {
	Service *account.Service
	Cookie  SessionCookie
	// OnFailure, if set, is told the reason of each failed authentication
	// (see FailureReason), for metrics.
	OnFailure func(reason string)
}

type authKey struct{}

// authResult is the outcome stored in the context.
type authResult struct {
	actor *model.Actor
	err   error
}

// Middleware authenticates the request. It also exposes the response
// header map to the handlers behind it (see WithResponseHeader).
func (a Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, st := withState(r)
		ctx := r.Context()
		st.header = w.Header()
		creds := account.Credentials{IP: ClientIPFrom(ctx), UserAgent: r.UserAgent()}
		if v := r.Header.Values("Authorization"); len(v) > 0 {
			creds.HasAuthorization, creds.Authorization = true, v[0]
		} else if c, err := r.Cookie(a.Cookie.Name); err == nil {
			creds.HasCookie, creds.Cookie = true, c.Value
		}
		res := authResult{}
		auth, err := a.Service.Authenticate(ctx, creds)
		if err != nil {
			res.err = err
			if a.OnFailure != nil {
				a.OnFailure(FailureReason(creds, err))
			}
		} else {
			res.actor = auth.Actor
			if auth.RenewCookie {
				a.Cookie.Issue(w.Header(), creds.Cookie, auth.Expires)
			}
		}
		st.auth, st.authed = res, true
		next.ServeHTTP(w, r)
	})
}

// ActorFrom returns the request's actor, or the reason there is none.
func ActorFrom(ctx context.Context) (*model.Actor, error) {
	res, ok := ctx.Value(authKey{}).(authResult)
	if !ok {
		st := stateFrom(ctx)
		if st == nil || !st.authed {
			return nil, model.Errorf(model.CodeUnauthenticated, "missing authorization")
		}
		res = st.auth
	}
	return res.actor, res.err
}

// WithActor stores an authentication outcome (tests and other transports).
func WithActor(ctx context.Context, actor *model.Actor, err error) context.Context {
	return context.WithValue(ctx, authKey{}, authResult{actor: actor, err: err})
}

// Client describes the request's connection for unauthenticated calls.
func Client(r *http.Request) model.Client {
	return model.Client{IP: ClientIPFrom(r.Context()), UserAgent: r.UserAgent()}
}
