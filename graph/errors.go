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
	code := userErrorCode(e.Code)
	if !e.Code.UserFacing() || !code.IsValid() {
		// Not the user's to fix (or, against TestUserErrorCodes, a
		// user-facing code the schema cannot spell): a top-level error.
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

// userErrorCode spells a model code in the schema's UserErrorCode enum:
// the same name in upper case (invalid_credentials → INVALID_CREDENTIALS),
// as extensions.code spells a user-facing error that reaches the top
// level. Which codes are user-facing is model.Code.UserFacing's decision.
func userErrorCode(c model.Code) UserErrorCode { return UserErrorCode(strings.ToUpper(string(c))) }

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
		code = string(userErrorCode(me.Code))
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
		// No retryAfter for a refusal no wait ends (too many failed codes).
		if !me.NoWait {
			gqlErr.Extensions["retryAfter"] = me.RetryAfterSeconds()
		}
	}
	gqlErr.Extensions["requestId"] = web.RequestIDFrom(ctx)
	return gqlErr
}

// deviceFrom returns the device cookie the request presented, or "".
func deviceFrom(ctx context.Context) string {
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Headers != nil {
		return web.DeviceToken(oc.Headers)
	}
	return ""
}

// clientFrom describes the caller of an unauthenticated mutation.
func clientFrom(ctx context.Context) model.Client {
	c := model.Client{IP: web.ClientIPFrom(ctx)}
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Headers != nil {
		c.UserAgent = oc.Headers.Get("User-Agent")
	}
	return c
}

// WriteError answers a /graphql request refused before it reached the
// executor (by the per-IP limit, the cross-origin check, a body that could
// not be read) in the GraphQL response shape: err goes through the same
// presenter as every other error, and the status is its code's, as REST
// would answer it (403, 413, 429 with Retry-After, …). The refusals are
// expected outcomes, so nothing is logged.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := model.AsError(err)
	if e.Code == model.CodeRateLimited && !e.NoWait {
		w.Header().Set("Retry-After", strconv.FormatInt(e.RetryAfterSeconds(), 10))
	}
	web.WriteJSON(w, web.StatusOf(e.Code), map[string]any{"errors": []*gqlerror.Error{presentError(r.Context(), e)}})
}
