package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/model"
	"accountd/web"
)

// Options configures the GraphQL endpoint.
type Options struct {
	// Introspection enables schema introspection (GraphiQL needs it).
	// Off, a document selecting __schema or __type is refused before it
	// runs, with INTROSPECTION_DISABLED (see introspectionOff).
	Introspection bool
	// ComplexityLimit caps a document's cost; 0 means the default.
	ComplexityLimit int
	// DepthLimit caps how deeply fields nest; 0 means the default.
	DepthLimit int
	// TokenLimit caps the tokens the parser reads; 0 means the default.
	TokenLimit int
	// Suggestions enables "did you mean" hints in validation errors, which
	// describe the schema: for development only. Off, every rule that
	// suggests is swapped for its silent twin (see validationRules).
	Suggestions bool
	Logger      *slog.Logger
	// OnOperation, if set, is told of every operation's name as the
	// client gave it, type and outcome (OutcomeOK, …), for metrics.
	OnOperation func(name, kind, outcome string)
}

// NewHandler returns the /graphql endpoint: gqlgen's server with exactly
// the transports of the contract (POST JSON, GET for queries, OPTIONS) —
// no form or multipart transport a browser could send cross-site without a
// preflight — a parsed-query cache, and the safe error presenter.
func NewHandler(r *Resolver, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.ComplexityLimit <= 0 {
		opts.ComplexityLimit = 500
	}
	if opts.DepthLimit <= 0 {
		opts.DepthLimit = 15
	}
	if opts.TokenLimit <= 0 {
		// Ten times GraphiQL's introspection query: no honest document
		// comes near it, and parsing stops before a huge one costs much.
		opts.TokenLimit = 15000
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: r}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(queriesOverGET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionOff{})
	}
	srv.Use(limitErrors{})
	srv.Use(&complexityLimit{max: opts.ComplexityLimit})
	srv.Use(depthLimit{max: opts.DepthLimit})
	srv.Use(checkingFieldLimit{r})
	aroundMutationFields(srv, r.Limits)
	srv.SetParserTokenLimit(opts.TokenLimit)
	srv.SetDisableSuggestion(!opts.Suggestions)
	srv.SetValidationRulesFn(withDocumentSize(validationRules(opts.Suggestions)))
	srv.Use(&strictVariables{})
	srv.Use(exactDocument{})
	if opts.OnOperation != nil {
		observeOperations(srv, opts.OnOperation)
	}
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		e := presentError(ctx, err)
		if !opts.Suggestions {
			e.Message = stripSuggestion(e.Message)
		}
		if e.Extensions["code"] == "INTERNAL" {
			// Log the cause (a driver error, say), not the presented
			// "internal server error", or the log cannot say what failed.
			cause := err
			if me := (*model.Error)(nil); errors.As(err, &me) && me.Err != nil {
				cause = me.Err
			}
			log.ErrorContext(ctx, "graphql internal error", "request_id", web.RequestIDFrom(ctx), "error", cause)
		}
		return e
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql panic", "request_id", web.RequestIDFrom(ctx), "panic", fmt.Sprint(p),
			"stack", string(debug.Stack()))
		return model.Internal(fmt.Errorf("panic: %v", p))
	})
	// Every error, including the parser's and validator's, which bypass the
	// presenter, carries the request id.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil {
			return resp
		}
		id := web.RequestIDFrom(ctx)
		for _, e := range resp.Errors {
			if e.Extensions == nil {
				e.Extensions = map[string]any{}
			}
			e.Extensions["requestId"] = id
		}
		return resp
	})
	return withRequestIDs(srv)
}

// withRequestIDs adds extensions.requestId to the errors of responses that
// gqlgen's transports write themselves (a mutation over GET, an
// unsupported content type), which no response middleware sees, and gives
// request errors the status and shape GraphQL over HTTP asks for (see
// conformStatus). Only non-200 responses are held back and rewritten; the
// rest pass straight through.
func withRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read here, not by gqlgen, whose transport answers a
		// body over the cap with a 200: it gets a 413 instead.
		var reqBody []byte
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				e := model.Errorf(model.CodeInvalid, "the request body could not be read")
				if web.IsTooLarge(err) {
					e = model.Errorf(model.CodeTooLarge, "request body too large")
				}
				WriteError(w, r, e)
				return
			}
			reqBody = body
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if !exactText(r, reqBody) {
			writeNotText(w, r)
			return
		}
		bw := &errorWriter{ResponseWriter: w}
		next.ServeHTTP(bw, r)
		if !bw.held {
			return
		}
		body := bw.buf.Bytes()
		var resp struct {
			Data   json.RawMessage  `json:"data,omitempty"`
			Errors []map[string]any `json:"errors"`
		}
		if json.Unmarshal(body, &resp) == nil && len(resp.Errors) > 0 {
			id := web.RequestIDFrom(r.Context())
			for _, e := range resp.Errors {
				ext, _ := e["extensions"].(map[string]any)
				if ext == nil {
					ext = map[string]any{}
				}
				if ext["requestId"] == nil {
					ext["requestId"] = id
				}
				if ext["code"] == nil {
					ext["code"] = "BAD_REQUEST"
				}
				e["extensions"] = ext
			}
			bw.status, resp.Data = conformStatus(w.Header().Get("Content-Type"), bw.status, resp.Data)
			if hasNoQuery(r, reqBody) {
				// Not a GraphQL request at all: a client error whatever
				// the media type.
				bw.status = http.StatusBadRequest
			}
			if b, err := json.Marshal(resp); err == nil {
				body = b
			}
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(bw.status)
		w.Write(body) //nolint:errcheck // the client went away
	})
}

// hasNoQuery reports whether a request carries no GraphQL query at all.
// It is asked only of requests that already failed, so a successful POST
// is decoded once, by gqlgen.
func hasNoQuery(r *http.Request, body []byte) bool {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("query") == ""
	}
	var params struct {
		Query string `json:"query"`
	}
	return json.Unmarshal(body, &params) == nil && params.Query == ""
}

// conformStatus applies the GraphQL-over-HTTP rules for a document that
// could not be parsed, validated or given its variables (gqlgen answers
// those 422 or 400): under application/json the status is 200, as clients
// of that media type expect a GraphQL response body whatever happened;
// under application/graphql-response+json it is 400 and the response has
// no data entry at all, which tells the client nothing was executed.
func conformStatus(contentType string, status int, data json.RawMessage) (int, json.RawMessage) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case status == http.StatusUnprocessableEntity && mt == "application/json":
		return http.StatusOK, data
	case mt == "application/graphql-response+json" && status >= 400 && status < 500:
		return status, nil
	}
	return status, data
}

// errorWriter passes 200 responses through and holds the others back.
type errorWriter struct {
	http.ResponseWriter
	status int
	held   bool
	buf    bytes.Buffer
}

func (e *errorWriter) WriteHeader(code int) {
	if e.status != 0 {
		return
	}
	e.status = code
	if code == http.StatusOK {
		e.ResponseWriter.WriteHeader(code)
		return
	}
	e.held = true
}

func (e *errorWriter) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if e.held {
		return e.buf.Write(p)
	}
	return e.ResponseWriter.Write(p)
}
