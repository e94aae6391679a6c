package graphiql

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// refs returns every src and href value in page, in order.
func refs(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// nonces returns every nonce attribute value in page.
func nonces(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\bnonce="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestPageIsServedWithItsPolicy(t *testing.T) {
	h := New("/graphql")
	rec := serve(t, h, http.MethodGet, PagePath, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", PagePath, rec.Code, rec.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	page := rec.Body.String()
	ns := nonces(page)
	if len(ns) != 2 || ns[0] != ns[1] || len(ns[0]) < 22 {
		t.Fatalf("want one nonce on the inline style and script, got %q", ns)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'none'",
		"script-src 'self' 'nonce-" + ns[0] + "';",
		"style-src 'self' 'nonce-" + ns[0] + "';",
		"connect-src 'self';",
		"frame-ancestors 'none'",
		"base-uri 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q allows %q", csp, bad)
		}
	}

	// The page talks to the endpoint it was given, with the cookie.
	for _, want := range []string{`url: "/graphql"`, `credentials: "same-origin"`, "GraphiQL.createFetcher"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	again := serve(t, h, http.MethodGet, PagePath, nil)
	if n := nonces(again.Body.String()); n[0] == ns[0] {
		t.Errorf("two responses share the nonce %q", n[0])
	}
}

func TestPageRefersToThisServerOnly(t *testing.T) {
	h := New("/graphql")
	page := serve(t, h, http.MethodGet, PagePath, nil).Body.String()
	if m := regexp.MustCompile(`(?i)https?:|//[a-z0-9.-]+\.[a-z]`).FindString(page); m != "" {
		t.Errorf("page holds an absolute URL (%q)", m)
	}
	rs := refs(page)
	if len(rs) == 0 {
		t.Fatal("page refers to nothing")
	}
	var scripts, styles int
	for _, r := range rs {
		if r == "data:," { // the empty favicon, which stops a request for /favicon.ico
			continue
		}
		if !strings.HasPrefix(r, AssetPrefix) {
			t.Errorf("page refers to %q, outside %s", r, AssetPrefix)
			continue
		}
		rec := serve(t, h, http.MethodGet, r, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", r, rec.Code)
			continue
		}
		switch ct := rec.Header().Get("Content-Type"); ct {
		case "text/javascript; charset=utf-8":
			scripts++
		case "text/css; charset=utf-8":
			styles++
		default:
			t.Errorf("GET %s: Content-Type %q", r, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want a year-long immutable cache", r, cc)
		}
	}
	if scripts != 3 || styles != 1 {
		t.Errorf("page loads %d scripts and %d stylesheets, want React, ReactDOM, GraphiQL and its CSS", scripts, styles)
	}
}

func TestEveryAssetIsServedWithItsType(t *testing.T) {
	h := New("/graphql")
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".txt": "text/plain; charset=utf-8",
	}
	for _, e := range entries {
		name := e.Name()
		body, err := fs.ReadFile(assetFS, "assets/"+name)
		if err != nil {
			t.Fatal(err)
		}
		rec := serve(t, h, http.MethodGet, AssetPrefix+name, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", name, rec.Code)
			continue
		}
		if ct, ok := want[path.Ext(name)]; !ok || rec.Header().Get("Content-Type") != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", name, rec.Header().Get("Content-Type"), ct)
		}
		if !bytes.Equal(rec.Body.Bytes(), body) {
			t.Errorf("GET %s: body differs from the embedded file", name)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options":       "nosniff",
			"Cross-Origin-Resource-Policy": "same-origin",
			// Without the page's version the URL may name an older file.
			"Cache-Control": "no-cache",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", name, k, got, v)
			}
		}
		etag := rec.Header().Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", name)
			continue
		}
		if rec := serve(t, h, http.MethodGet, AssetPrefix+name, http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d, want 304", name, rec.Code)
		}
	}
	for _, required := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js", "VERSIONS.txt"} {
		if _, err := fs.Stat(assetFS, "assets/"+required); err != nil {
			t.Errorf("assets lack %s: %v", required, err)
		}
	}
}

// VERSIONS.txt records the digest of every file the fetch script copied;
// a file edited by hand, or one the script did not write, fails here.
func TestAssetsMatchVersionsFile(t *testing.T) {
	versions, err := fs.ReadFile(assetFS, "assets/VERSIONS.txt")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	packages := 0
	sc := bufio.NewScanner(bytes.NewReader(versions))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case len(f) == 3 && strings.HasPrefix(f[2], "sha512-"):
			packages++
		case len(f) == 3 && len(f[1]) == 64:
			recorded[f[0]] = f[1]
		default:
			t.Errorf("VERSIONS.txt: unexpected line %q", sc.Text())
		}
	}
	if packages != 3 {
		t.Errorf("VERSIONS.txt pins %d packages, want graphiql, react and react-dom", packages)
	}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "VERSIONS.txt" {
			continue
		}
		body, err := fs.ReadFile(assetFS, "assets/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		want, ok := recorded[e.Name()]
		if !ok {
			t.Errorf("%s is not recorded in VERSIONS.txt", e.Name())
		} else if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, VERSIONS.txt records %s", e.Name(), got, want)
		}
		delete(recorded, e.Name())
	}
	for name := range recorded {
		t.Errorf("VERSIONS.txt records %s, which is missing", name)
	}
}

func TestOtherPathsAndMethods(t *testing.T) {
	h := New("/graphql")
	for _, p := range []string{AssetPrefix + "nope.js", AssetPrefix, AssetPrefix + "../page.html", PagePath + "/", "/other"} {
		if rec := serve(t, h, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	rec := serve(t, h, http.MethodPost, PagePath, nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: %d Allow=%q", PagePath, rec.Code, rec.Header().Get("Allow"))
	}
	head := serve(t, h, http.MethodHead, AssetPrefix+"graphiql.min.js", nil)
	if head.Code != http.StatusOK || head.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD graphiql.min.js: %d %q", head.Code, head.Header().Get("Content-Type"))
	}
}

func TestBrokenAssetsAreRefused(t *testing.T) {
	good := fstest.MapFS{}
	for _, n := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"} {
		good["assets/"+n] = &fstest.MapFile{Data: []byte("/* " + n + " */")}
	}
	if _, err := newHandler(good, "assets", "/graphql"); err != nil {
		t.Fatalf("a complete set is refused: %v", err)
	}
	for name, mutate := range map[string]func(fstest.MapFS){
		"a file of unknown type": func(m fstest.MapFS) { m["assets/graphiql.min.js.map"] = &fstest.MapFile{} },
		"a missing script":       func(m fstest.MapFS) { delete(m, "assets/react.production.min.js") },
		"a missing stylesheet":   func(m fstest.MapFS) { delete(m, "assets/graphiql.min.css") },
		"a directory":            func(m fstest.MapFS) { m["assets/sub/x.js"] = &fstest.MapFile{} },
	} {
		m := fstest.MapFS{}
		for k, v := range good {
			m[k] = v
		}
		mutate(m)
		if _, err := newHandler(m, "assets", "/graphql"); err == nil {
			t.Errorf("%s is accepted", name)
		}
	}
}
