package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"

	"accountd/web/graphiql"
)

// homeStyle is the page's only style. The Content-Security-Policy admits
// it by its digest, so the page needs no 'unsafe-inline' and loads
// nothing else.
const homeStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}` +
	`code,pre{font:14px ui-monospace,monospace;background:#f3f3f3}pre{padding:.75rem;overflow-x:auto}`

// homeTemplate is GET / when GraphiQL is off. Every link is same-origin;
// the examples use APP_URL, the address a client should call.
var homeTemplate = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>accountd</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>accountd</h1>
<p>The account server of {{.AppName}}: profiles, passwords, e-mail, API keys, two-factor and sessions.</p>
<h2>GraphQL</h2>
<p><a href="/graphql">/graphql</a> takes a POST with a JSON body (<code>Content-Type: application/json</code>) holding <code>query</code> and, if any, <code>variables</code>. Requests carry a session cookie or an API key (<code>Authorization: Bearer …</code>):</p>
<pre>curl -H 'Content-Type: application/json' \
  -d '{"query":"{ viewer { username } }"}' \
  {{.GraphQL}}</pre>
<h2>REST</h2>
<p><a href="/api/openapi.json">/api/openapi.json</a> is the OpenAPI document of the REST API under <code>/api/</code>.</p>
<h2>Health</h2>
<p><a href="/healthz">/healthz</a> answers while the server runs.</p>
</body>
</html>
`))

// homePage is the rendered page with the headers it is served with.
type homePage struct {
	body []byte
	csp  string
}

// newHomePage renders the page once: nothing in it changes while the
// server runs. It panics if the template fails, which only a bad build
// can cause and the tests catch.
func (a *App) newHomePage() *homePage {
	var buf bytes.Buffer
	err := homeTemplate.Execute(&buf, map[string]any{
		"Style":   template.CSS(homeStyle),
		"AppName": a.Config.AppName,
		"GraphQL": a.publicURL("/graphql"),
	})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte(homeStyle))
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return &homePage{body: buf.Bytes(), csp: csp}
}

// home answers GET and HEAD / (and nothing under it): with GraphiQL on, a
// redirect to it, the thing a person opening the server's address wants;
// with it off, a short page saying what the server is and where its APIs
// are, instead of a bare 404.
func (a *App) home(page *homePage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Config.GraphQLIntrospection {
			http.Redirect(w, r, graphiql.PagePath, http.StatusFound)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Content-Length", strconv.Itoa(len(page.body)))
		hd.Set("Content-Security-Policy", page.csp)
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(page.body)
		}
	}
}
