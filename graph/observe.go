package graph

import (
	"context"
	"reflect"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// The outcomes Options.OnOperation reports.
const (
	// OutcomeOK: no error, no userErrors.
	OutcomeOK = "ok"
	// OutcomeUserError: a mutation answered with userErrors (validation,
	// a wrong password, a duplicate…), the expected failures.
	OutcomeUserError = "user_error"
	// OutcomeRefused: every error refuses the caller — unauthenticated,
	// forbidden or rate limited.
	OutcomeRefused = "refused"
	// OutcomeError: anything else — a document that does not parse or
	// validate, an internal error.
	OutcomeError = "error"
)

// operationState collects, while an operation runs, what its response
// alone does not show: whether a mutation payload held userErrors (the
// client may not have selected them).
type operationState struct{ userErrors atomic.Bool }

type operationStateKey struct{}

// observeOperations reports every operation that reaches the executor —
// including documents that fail to parse or validate — to observe, with
// the operation name as the client gave it ("" for none), its type
// ("" when the document did not parse) and its outcome. Which mutations
// answered with userErrors, aroundMutationFields notes in the state it
// puts in the context.
func observeOperations(srv *handler.Server, observe func(name, kind, outcome string)) {
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		st := &operationState{}
		resp := next(context.WithValue(ctx, operationStateKey{}, st))
		if resp == nil {
			return resp
		}
		var name, kind string
		if graphql.HasOperationContext(ctx) {
			name, kind = operationOf(graphql.GetOperationContext(ctx))
		}
		observe(name, kind, outcome(resp.Errors, st.userErrors.Load()))
		return resp
	})
}

// maxReparse bounds the document operationOf parses again to name an
// operation that failed validation.
const maxReparse = 64 << 10

// operationOf names the operation of oc and its type. A document that
// failed validation has no operation in oc; parsing it again (without
// validating) still tells which operation the client meant, which is what
// an operator chasing a client with a stale query needs. A document that
// does not parse at all is named by the request's operationName alone.
func operationOf(oc *graphql.OperationContext) (name, kind string) {
	op := oc.Operation
	if op == nil && oc.RawQuery != "" && len(oc.RawQuery) <= maxReparse {
		if doc, err := parser.ParseQuery(&ast.Source{Input: oc.RawQuery}); err == nil {
			op = doc.Operations.ForName(oc.OperationName)
		}
	}
	if op == nil {
		return oc.OperationName, ""
	}
	return op.Name, string(op.Operation)
}

// outcome classifies a response by its errors' codes.
func outcome(errs gqlerror.List, userErrors bool) string {
	if len(errs) > 0 {
		for _, e := range errs {
			switch e.Extensions["code"] {
			case "UNAUTHENTICATED", "FORBIDDEN", "RATE_LIMITED":
			default:
				return OutcomeError
			}
		}
		return OutcomeRefused
	}
	if userErrors {
		return OutcomeUserError
	}
	return OutcomeOK
}

// hasUserErrors reports whether a mutation payload (a pointer to a struct
// with a UserErrors slice) holds any.
func hasUserErrors(payload any) bool {
	v := reflect.ValueOf(payload)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct {
		return false
	}
	f := v.FieldByName("UserErrors")
	return f.IsValid() && f.Kind() == reflect.Slice && f.Len() > 0
}
