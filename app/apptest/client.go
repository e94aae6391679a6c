package apptest

// The test client: one browser or script talking to a Server, and the
// decoded answers it gets.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// Client is one browser or script: it keeps cookies, and optionally sends
// an Authorization header. Its transport checks every /api/ exchange
// against the OpenAPI document (openapi.go).
type Client struct {
	t testing.TB
	// Server is the server the client talks to.
	Server *Server
	// HTTP sends the requests: its jar holds the cookies (a test may set
	// it to nil to send only the cookies it names) and its transport
	// checks REST exchanges against the OpenAPI document.
	HTTP   *http.Client
	Bearer string
	// Header is added to every request (e.g. User-Agent, X-Forwarded-For).
	Header http.Header
	// skipOpenAPI, when set, says why requests are not checked against
	// the OpenAPI document (see WithoutOpenAPI).
	skipOpenAPI string
}

// Client returns a new client of ts with an empty cookie jar, as a
// browser that has not been to the site yet.
func (ts *Server) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, Server: ts, HTTP: &http.Client{Jar: jar, Transport: &openAPITransport{t: t, ts: ts}}, Header: http.Header{}}
}

// Response is a decoded HTTP response, read in full so that tests can
// look at it after the connection is gone.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Errors returns the "errors" list of a REST error body.
func (r *Response) Errors(t testing.TB) []string {
	t.Helper()
	var b struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("not an error body: %v\n%s", err, r.Body)
	}
	return b.Errors
}

// Raw sends a request with a literal body and content type ("" = none), for
// tests of what the server does with bodies a JSON encoder would not make.
func (c *Client) Raw(method, path, contentType string, body io.Reader) *Response {
	c.t.Helper()
	res, err := c.send(method, path, contentType, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// send makes one request with the client's headers and credentials and
// reads the whole answer.
func (c *Client) send(method, path, contentType string, body io.Reader) (*Response, error) {
	req, err := http.NewRequest(method, c.Server.URL+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	res, err := c.HTTP.Do(c.markOpenAPI(req))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// Try sends body as JSON like Do, but hands a failure back instead of
// failing the test, so that it may run on goroutines other than the
// test's (races of concurrent requests).
func (c *Client) Try(method, path string, body any) (*Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.send(method, path, "application/json", bytes.NewReader(b))
}

// Do sends body (nil for none) as JSON: the way most tests talk to the
// REST layer.
func (c *Client) Do(method, path string, body any) *Response {
	c.t.Helper()
	if body == nil {
		return c.Raw(method, path, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.Raw(method, path, "application/json", bytes.NewReader(b))
}

// GQLResponse is a GraphQL response: the HTTP status and headers next to
// the decoded data and errors, since the contract fixes both.
type GQLResponse struct {
	Status int
	Header http.Header
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw []byte
}

// GQL posts a GraphQL operation as JSON and fails the test unless the
// answer is a GraphQL response.
func (c *Client) GQL(query string, variables map[string]any) *GQLResponse {
	c.t.Helper()
	res := c.Do(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": variables})
	out := &GQLResponse{Status: res.Status, Header: res.Header, Raw: res.Body}
	if err := json.Unmarshal(res.Body, out); err != nil {
		c.t.Fatalf("graphql response is not JSON (%d): %v\n%s", res.Status, err, res.Body)
	}
	return out
}

// TryGQL is GQL for goroutines other than the test's: a failure, or an
// answer that is not a GraphQL response, comes back as an error.
func (c *Client) TryGQL(query string, variables map[string]any) (*GQLResponse, error) {
	res, err := c.Try(http.MethodPost, "/graphql", map[string]any{"query": query, "variables": variables})
	if err != nil {
		return nil, err
	}
	out := &GQLResponse{Status: res.Status, Header: res.Header, Raw: res.Body}
	if err := json.Unmarshal(res.Body, out); err != nil {
		return nil, fmt.Errorf("graphql response is not JSON (%d): %v: %s", res.Status, err, res.Body)
	}
	return out, nil
}

// Get walks a path of keys through decoded JSON: Get(m, "viewer", "id").
// It returns nil where the path ends early, so a test can compare it
// without checking every level.
func Get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
