package graph

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/model"
	"accountd/web"
)

// userErrorCodes maps the user-facing model codes to the schema's enum.
var userErrorCodes = map[model.Code]UserErrorCode{
	model.CodeInvalid:            UserErrorCodeInvalid,
	model.CodeInvalidCredentials: UserErrorCodeInvalidCredentials,
	model.CodeInvalidPassword:    UserErrorCodeInvalidPassword,
	model.CodeNotConfigured:      UserErrorCodeNotConfigured,
	model.CodeConflict:           UserErrorCodeConflict,
	model.CodeNotFound:           UserErrorCodeNotFound,
	model.CodeQuotaExceeded:      UserErrorCodeQuotaExceeded,
}

// topLevelCodes maps the other model codes to extensions.code.
var topLevelCodes = map[model.Code]string{
	model.CodeUnauthenticated: "UNAUTHENTICATED",
	model.CodeForbidden:       "FORBIDDEN",
	model.CodeRateLimited:     "RATE_LIMITED",
	model.CodeTooLarge:        "BAD_REQUEST",
	model.CodeInternal:        "INTERNAL",
}

// userErrors splits a service error: expected, user-fixable failures become
// userErrors (with a nil error), everything else is returned for the
// presenter. rename maps a service field name to this mutation's input
// field where the generic snake_case → camelCase rule is not enough.
func userErrors(err error, rename map[string]string) ([]*UserError, error) {
	e := model.AsError(err)
	code, ok := userErrorCodes[e.Code]
	if !ok {
		return []*UserError{}, err
	}
	path := func(field string) []string {
		if field == "" {
			return nil
		}
		if f, ok := rename[field]; ok {
			if f == "" {
				return nil // not an input field of this mutation
			}
			field = f
		}
		return []string{"input", camelCase(field)}
	}
	if len(e.Fields) > 0 {
		out := make([]*UserError, len(e.Fields))
		for i, f := range e.Fields {
			out[i] = &UserError{Field: path(f.Field), Message: f.Message, Code: code}
		}
		return out, nil
	}
	return []*UserError{{Field: path(e.Field), Message: e.Message, Code: code}}, nil
}

// camelCase turns a REST field name (name_first) into its GraphQL input
// name (nameFirst).
func camelCase(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// presentError is the error presenter: a model error keeps its safe message
// and gains extensions.code (and permission or retryAfter); an internal or
// foreign error is reduced to "internal server error" so no driver text
// reaches a client.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var me *model.Error
	if !errors.As(err, &me) {
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Extensions != nil && ge.Extensions["code"] != nil {
			return gqlErr // the parser's and validator's own errors
		}
		if errors.As(err, &ge) && len(gqlErr.Path) == 0 && ge.Err == nil {
			// A request the transport could not decode. gqlgen's message
			// quotes the body, which may hold a password: say what failed,
			// not what was sent.
			gqlErr.Message = "the request body is not a valid GraphQL request"
			gqlErr.Extensions = map[string]any{"code": "BAD_REQUEST", "requestId": web.RequestIDFrom(ctx)}
			return gqlErr
		}
		me = model.Internal(err)
	}
	code, ok := topLevelCodes[me.Code]
	if !ok {
		// A user-facing error that reached the top level (a query field
		// rather than a mutation payload): still speak the same codes.
		code = strings.ToUpper(string(me.Code))
	}
	if gqlErr.Extensions == nil {
		gqlErr.Extensions = map[string]any{}
	}
	gqlErr.Extensions["code"] = code
	// A validation error at the top level (bad connection arguments) has
	// no userErrors to name its fields in: the message names them, every
	// failing rule as REST lists them ("first: greater than 100").
	gqlErr.Message = strings.Join(me.Messages(), "; ")
	switch me.Code {
	case model.CodeInternal:
		gqlErr.Message = "internal server error"
	case model.CodeForbidden:
		if me.Permission != "" {
			gqlErr.Extensions["permission"] = me.Permission
		}
	case model.CodeRateLimited:
		gqlErr.Extensions["retryAfter"] = retrySeconds(me)
	}
	gqlErr.Extensions["requestId"] = web.RequestIDFrom(ctx)
	return gqlErr
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(e *model.Error) int {
	s := int((e.RetryAfter + 999_999_999) / 1_000_000_000)
	if s < 1 {
		s = 1
	}
	return s
}

// clientFrom describes the caller of an unauthenticated mutation.
func clientFrom(ctx context.Context) model.Client {
	c := model.Client{IP: web.ClientIPFrom(ctx)}
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Headers != nil {
		c.UserAgent = oc.Headers.Get("User-Agent")
	}
	return c
}

// WriteRateLimited answers a request the per-IP limit refused, in the
// GraphQL response shape: 429 with Retry-After, and the error's code and
// retryAfter in its extensions.
func WriteRateLimited(w http.ResponseWriter, r *http.Request, err error) {
	e := presentError(r.Context(), err)
	if secs, ok := e.Extensions["retryAfter"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	web.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []*gqlerror.Error{e}})
}
