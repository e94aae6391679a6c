package apptest

// Every request a test client sends to /api/... and every answer to it is
// checked against the REST layer's OpenAPI document (rest/openapi.json), so
// the document and the server cannot drift apart: a route, a status, a
// member or a type the document does not describe fails the test that
// caused it. The check sits in the clients' transport, so every REST test,
// present and future, is covered without doing anything.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"accountd/rest"
)

// OpenAPIChecker holds the parsed document and its router.
type OpenAPIChecker struct {
	doc    *openapi3.T
	router routers.Router
	// unmatched answers requests the document has no operation for: the
	// RouteNotFound and MethodNotAllowed responses of its components.
	unmatched map[error]*routers.Route
	// formats are the string formats the document uses that kin-openapi
	// does not check by default; given per validation, not registered
	// globally.
	formats openapi3.SchemaValidationOption

	mu sync.Mutex
	// seen holds the "METHOD /path status" answers checked so far.
	seen map[string]bool
}

// NewOpenAPIChecker loads rest/openapi.json and its router; a Server loads
// one once and shares it with all its clients.
func NewOpenAPIChecker() (*OpenAPIChecker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rest.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load rest/openapi.json: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route rest/openapi.json: %w", err)
	}
	c := &OpenAPIChecker{doc: doc, router: router, unmatched: map[error]*routers.Route{}, seen: map[string]bool{},
		formats: openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
			"uuid":  openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
			"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
			"ipv4":  openapi3.NewIPValidator(true),
			"ipv6":  openapi3.NewIPValidator(false),
		})}
	for routeErr, answer := range map[error]struct {
		status int
		name   string
	}{
		routers.ErrPathNotFound:     {http.StatusNotFound, "RouteNotFound"},
		routers.ErrMethodNotAllowed: {http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		resp := doc.Components.Responses[answer.name]
		if resp == nil {
			return nil, fmt.Errorf("rest/openapi.json: no components.responses.%s", answer.name)
		}
		op := &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(answer.status, resp))}
		c.unmatched[routeErr] = &routers.Route{Spec: doc, Operation: op}
	}
	return c, nil
}

// OpenAPIExchange is one request, checked, waiting for its answer.
type OpenAPIExchange struct {
	checker *OpenAPIChecker
	// route is the operation the request matched, or a synthetic one
	// when routeErr says it matched none.
	route       *routers.Route
	routeErr    error
	input       *openapi3filter.RequestValidationInput
	requestErr  error
	ifNoneMatch bool
}

// CheckRequest validates a request (body given separately; req is not
// read or changed). cookieName is the server's session cookie name.
func (c *OpenAPIChecker) CheckRequest(req *http.Request, body []byte, cookieName string) *OpenAPIExchange {
	v := req.Clone(context.Background())
	if req.Method == http.MethodHead {
		v.Method = http.MethodGet // net/http serves HEAD wherever it serves GET
	}
	jsonObject := IsJSONObject(req.Header.Get("Content-Type"), body)
	if jsonObject && len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}") // what the server reads an empty body as
	}
	v.Body, v.GetBody, v.ContentLength = nil, nil, int64(len(body))
	if body != nil {
		v.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex := &OpenAPIExchange{checker: c, ifNoneMatch: req.Header.Get("If-None-Match") != ""}
	route, params, err := c.router.FindRoute(v)
	if err != nil {
		ex.routeErr = err
		ex.route = c.unmatched[err]
		if ex.route == nil {
			ex.routeErr = fmt.Errorf("routing: %w", err)
		}
		return ex
	}
	ex.route = route
	ex.input = &openapi3filter.RequestValidationInput{Request: v, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			// The document describes JSON objects only; a test may send
			// anything else on purpose, and the server must refuse it.
			ExcludeRequestBody: !jsonObject,
			// Validation must not change what the server is sent.
			SkipSettingDefaults:     true,
			MultiError:              true,
			AuthenticationFunc:      credentialsPresent(cookieName),
			SchemaValidationOptions: []openapi3.SchemaValidationOption{c.formats},
		}}
	ex.requestErr = openapi3filter.ValidateRequest(context.Background(), ex.input)
	return ex
}

// noWaitRefusal is the one 429 sent without Retry-After (account's
// errCodesLocked).
const noWaitRefusal = "too many failed codes, use a recovery code"

// CheckResponse validates the answer and returns what is wrong with it.
func (ex *OpenAPIExchange) CheckResponse(status int, header http.Header, body []byte) []string {
	var problems []string
	if ex.route == nil {
		return []string{ex.routeErr.Error()}
	}
	if ex.routeErr != nil {
		want := http.StatusNotFound
		if errors.Is(ex.routeErr, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
		}
		if status != want {
			problems = append(problems, fmt.Sprintf("the document has no operation for this request (%v), so the answer must be %d", ex.routeErr, want))
		}
		input := &openapi3filter.RequestValidationInput{Request: &http.Request{Method: http.MethodGet}, Route: ex.route}
		problems = append(problems, ex.validate(input, status, header, body)...)
		return problems
	}
	ex.checker.record(ex.route, status)
	if status == http.StatusNotModified {
		// kin-openapi does not look at 304s.
		if ex.route.Operation.Responses.Value("304") == nil {
			problems = append(problems, "304 is not a documented answer of this operation")
		}
		if !ex.ifNoneMatch {
			problems = append(problems, "304 to a request without If-None-Match")
		}
		if len(body) != 0 {
			problems = append(problems, fmt.Sprintf("304 with a body: %q", body))
		}
		if header.Get("ETag") == "" {
			problems = append(problems, "304 without ETag")
		}
	} else {
		problems = append(problems, ex.validate(ex.input, status, header, body)...)
	}
	// The document cannot tie a header to a message: Retry-After is
	// optional there for the one 429 no wait ends, and required here for
	// every other.
	if status == http.StatusTooManyRequests && header.Get("Retry-After") == "" && !bytes.Contains(body, []byte(noWaitRefusal)) {
		problems = append(problems, "429 without Retry-After")
	}
	if ex.requestErr != nil && (status < 400 || status >= 500) {
		problems = append(problems, fmt.Sprintf("the document refuses this request, yet the server answered %d; the request: %v", status, ex.requestErr))
	}
	return problems
}

func (c *OpenAPIChecker) record(route *routers.Route, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, status)] = true
}

// Unseen lists the documented operations no answer with status has been
// checked for yet.
func (c *OpenAPIChecker) Unseen(status int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if !c.seen[fmt.Sprintf("%s %s %d", method, path, status)] {
				out = append(out, method+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (ex *OpenAPIExchange) validate(input *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) []string {
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: input, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{ex.checker.formats}}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return []string{fmt.Sprintf("the answer does not match the document: %v\nbody: %s", err, truncateForLog(body))}
	}
	return nil
}

// IsJSONObject reports whether a body is what the document can describe:
// JSON (by its Content-Type) holding one object, or empty (which the
// server reads as {}).
func IsJSONObject(contentType string, body []byte) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(body, &m) == nil && m != nil
}

// credentialsPresent checks the document's security schemes as far as a
// document can: that the credentials are there, not that they are good
// (that is the server's answer to give).
func credentialsPresent(cookieName string) openapi3filter.AuthenticationFunc {
	return func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		r, s := in.RequestValidationInput.Request, in.SecurityScheme
		switch {
		case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
			if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
				return nil
			}
			return errors.New("no Authorization: Bearer header")
		case s.Type == "apiKey" && s.In == "cookie":
			// The document names the default cookie; the server's is
			// configurable.
			if _, err := r.Cookie(cookieName); err == nil {
				return nil
			}
			return fmt.Errorf("no %s cookie", cookieName)
		}
		return fmt.Errorf("security scheme %q is not checked by the tests", in.SecuritySchemeName)
	}
}

func truncateForLog(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}

// openAPITransport is the test clients' transport: it sends each request
// unchanged and checks /api/ traffic on the way.
type openAPITransport struct {
	t  testing.TB
	ts *Server
}

// skipOpenAPIKey marks a request (in its context) that is not checked.
type skipOpenAPIKey struct{}

// WithoutOpenAPI returns a client whose requests are not checked against
// the OpenAPI document; reason says why. Use it only for requests no
// document can describe (raw protocol tests); a test that sends an invalid
// body on purpose does not need it.
func (c *Client) WithoutOpenAPI(reason string) *Client {
	if reason == "" {
		c.t.Fatal("withoutOpenAPI needs a reason")
	}
	cc := *c
	cc.skipOpenAPI = reason
	return &cc
}

// markOpenAPI carries the client's opt-out to the transport.
func (c *Client) markOpenAPI(req *http.Request) *http.Request {
	if c.skipOpenAPI == "" {
		return req
	}
	return req.WithContext(context.WithValue(req.Context(), skipOpenAPIKey{}, c.skipOpenAPI))
}

// RoundTrip sends req and reports, as a test error, whatever of the
// exchange the document does not describe.
func (tr *openAPITransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := http.DefaultTransport
	if !strings.HasPrefix(req.URL.Path, "/api/") || req.Context().Value(skipOpenAPIKey{}) != nil {
		return base.RoundTrip(req)
	}
	checker, err := tr.ts.OpenAPI()
	if err != nil {
		tr.t.Errorf("OpenAPI check: %v", err)
		return base.RoundTrip(req)
	}
	// The body is read once, checked and sent as it was.
	var body []byte
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	ex := checker.CheckRequest(out, body, tr.ts.App.Config.SessionCookie)
	res, err := base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resBody, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if err != nil {
		return res, nil // the caller sees the short body and reports it
	}
	if problems := ex.CheckResponse(res.StatusCode, res.Header, resBody); len(problems) > 0 {
		tr.t.Errorf("OpenAPI (rest/openapi.json): %s %s → %d%s:\n- %s", req.Method, req.URL.RequestURI(), res.StatusCode,
			testCaller(), strings.Join(problems, "\n- "))
	}
	return res, nil
}

// testCaller names the test lines that sent the request (innermost
// first): t.Errorf from a transport would only point here.
func testCaller() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	var lines []string
	for len(lines) < 3 {
		f, more := frames.Next()
		base := filepath.Base(f.File)
		// The kit's own files are not _test.go files, so this skips them.
		if strings.HasSuffix(base, "_test.go") {
			lines = append(lines, fmt.Sprintf("%s:%d", base, f.Line))
		}
		if !more {
			break
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return " (sent at " + strings.Join(lines, " ← ") + ")"
}
