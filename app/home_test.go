package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

// noRedirects makes c report a redirect instead of following it.
func noRedirects(c *apptest.Client) *apptest.Client {
	c.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Someone opening the server's address with GraphiQL on lands in it.
func TestHomeRedirectsToGraphiQL(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := noRedirects(ts.Client(t))
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			res := c.Do(method, "/", nil)
			if res.Status != http.StatusFound || res.Header.Get("Location") != "/graphiql" {
				t.Errorf("%s /: %d Location %q, want 302 to /graphiql", method, res.Status, res.Header.Get("Location"))
			}
		}
		// Only "/" itself: everything else unknown is still a 404.
		for _, p := range []string{"/index.html", "/nope", "/graphiql/nope"} {
			if res := c.Do(http.MethodGet, p, nil); res.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, res.Status)
			}
		}
	})
}

// With GraphiQL off, / is a small self-contained page that says what the
// server is and where its APIs are.
func TestHomePageWithoutGraphiQL(t *testing.T) {
	t.Parallel()
	off := func(cfg *app.Config) { cfg.GraphQLIntrospection = false }
	apptest.EachServer(t, off, func(t *testing.T, ts *apptest.Server) {
		c := noRedirects(ts.Client(t))
		res := c.Do(http.MethodGet, "/", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET /: %d %s", res.Status, res.Body)
		}
		for h, want := range map[string]string{
			"Content-Type":               "text/html; charset=utf-8",
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Referrer-Policy":            "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Error("the page bypasses the middleware: no X-Request-Id")
		}
		page := string(res.Body)

		// The policy loads nothing, and admits the one inline style by its
		// digest.
		csp := res.Header.Get("Content-Security-Policy")
		style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
		if style == nil {
			t.Fatalf("no <style> in\n%s", page)
		}
		sum := sha256.Sum256([]byte(style[1]))
		for _, want := range []string{"default-src 'none'", "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("Content-Security-Policy %q allows inline code", csp)
		}

		checkWellFormed(t, res.Body)
		for _, want := range []string{"<!DOCTYPE html>", `<html lang="en">`, `<meta charset="utf-8" />`, "<title>accountd</title>",
			`<a href="/graphql">`, "POST", "Content-Type: application/json", "http://localhost:8000/graphql",
			`<a href="/api/openapi.json">`, `<a href="/healthz">`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q:\n%s", want, page)
			}
		}
		// Nothing to load: no script, stylesheet, image or frame, and
		// every link same-origin.
		if m := regexp.MustCompile(`(?i)<(script|link|img|iframe)|\ssrc=`).FindString(page); m != "" {
			t.Errorf("the page loads something (%q):\n%s", m, page)
		}
		for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
			if !strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "//") {
				t.Errorf("link %q is not same-origin", m[1])
			}
			if got := c.Do(http.MethodGet, m[1], nil); got.Status == http.StatusNotFound {
				t.Errorf("link %s: 404", m[1])
			}
		}

		head := c.Do(http.MethodHead, "/", nil)
		if head.Status != http.StatusOK || len(head.Body) != 0 || head.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			head.Header.Get("Content-Length") != res.Header.Get("Content-Length") {
			t.Errorf("HEAD /: %d, %d bytes, %q, Content-Length %q (GET: %q)", head.Status, len(head.Body),
				head.Header.Get("Content-Type"), head.Header.Get("Content-Length"), res.Header.Get("Content-Length"))
		}
		for _, p := range []string{"/index.html", "/nope", "/graphiql"} {
			if got := c.Do(http.MethodGet, p, nil); got.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, got.Status)
			}
		}
		if got := c.Do(http.MethodPost, "/", nil); got.Status == http.StatusOK {
			t.Errorf("POST /: 200")
		}
	})
}

// checkWellFormed parses the page as XML: every element closed and nested
// properly, every attribute quoted (the page is written to parse as both).
func checkWellFormed(t *testing.T, page []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	var open []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v\n%s", err, page)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			open = append(open, el.Name.Local)
		case xml.EndElement:
			open = open[:len(open)-1]
		}
	}
	if len(open) != 0 {
		t.Fatalf("unclosed elements %v", open)
	}
}
