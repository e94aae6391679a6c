package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// CookieName is the server's default session cookie.
const CookieName = "calagopus_session"

// NewHTTP returns an HTTP client whose connections leave from sourceIP, a
// loopback address such as 127.0.0.12 (all of 127.0.0.0/8 is local on
// Linux). The server then sees that address as the client's, so each
// simulated client can have one of its own without any forwarding header.
func NewHTTP(sourceIP string, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(sourceIP)}}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		// Never follow redirects: the APIs answer with none.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Cred is what a request presents: a session cookie, an API key, both
// or neither.
type Cred struct {
	Cookie string
	Key    string
}

// Response is one answer, or the transport error in its place.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// OK reports a 2xx answer.
func (r Response) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Decode unmarshals the JSON body into v.
func (r Response) Decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	return json.Unmarshal(r.Body, v)
}

// Session returns the session cookie the answer set, or "".
func (r Response) Session() string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == CookieName && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// String describes the answer in one line for reports.
func (r Response) String() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	body := string(r.Body)
	if len(body) > 160 {
		body = body[:160] + "…"
	}
	return fmt.Sprintf("%d %s", r.Status, body)
}

// Do sends method base+path with body as JSON (nil for none) and cred.
func Do(ctx context.Context, c *http.Client, method, url string, cred Cred, body any) Response {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Response{Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return Response{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred.Key != "" {
		req.Header.Set("Authorization", "Bearer "+cred.Key)
	}
	if cred.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: cred.Cookie})
	}
	resp, err := c.Do(req)
	if err != nil {
		return Response{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b, Err: err}
}

// GraphQL posts a GraphQL document with variables to base+/graphql.
func GraphQL(ctx context.Context, c *http.Client, base string, cred Cred, query string, vars map[string]any) Response {
	return Do(ctx, c, http.MethodPost, base+"/graphql", cred, map[string]any{"query": query, "variables": vars})
}

// Message returns the first message of a REST error body, or "".
func (r Response) Message() string {
	var b struct {
		Errors []string `json:"errors"`
	}
	if r.Decode(&b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0]
}

// Brief is the status and, for an error, its message: `401 "invalid session"`.
func (r Response) Brief() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	if m := r.Message(); m != "" {
		return fmt.Sprintf("%d %q", r.Status, m)
	}
	return fmt.Sprint(r.Status)
}
