package graphiql

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"net/http"
)

// pageHTML is the page's template. Every URL in it is same-origin.
//
//go:embed page.html
var pageHTML string

// defaultQuery is what the editor shows on a first visit.
const defaultQuery = `# Requests from this page carry this browser's session cookie:
# sign in (the login mutation or POST /api/auth/login), then run
{
  viewer {
    id
    username
    email
  }
}
`

// pageData fills page.html.
type pageData struct {
	// Nonce admits the page's one inline script and style, and no other.
	Nonce        string
	Endpoint     string
	DefaultQuery string
	Scripts      []string
	Styles       []string
}

// contentSecurityPolicy allows scripts and styles from this server plus
// the inline ones carrying nonce, data: fonts and images (GraphiQL's CSS
// inlines its fonts and icons), and requests to this server only. No
// 'unsafe-inline', no 'unsafe-eval', no other host.
func contentSecurityPolicy(nonce string) string {
	n := "'nonce-" + nonce + "'"
	return "default-src 'none'; " +
		"script-src 'self' " + n + "; " +
		"style-src 'self' " + n + "; " +
		"img-src 'self' data:; " +
		"font-src 'self' data:; " +
		"connect-src 'self'; " +
		"base-uri 'none'; " +
		"form-action 'none'; " +
		"frame-ancestors 'none'"
}

// servePage renders the page with a fresh nonce. The response is never
// stored: a cached copy would reuse its nonce.
func (h *Handler) servePage(w http.ResponseWriter) {
	data := h.data
	data.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, data); err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", contentSecurityPolicy(data.Nonce))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	_, _ = w.Write(buf.Bytes())
}
