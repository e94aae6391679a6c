package graphiql

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// The paths the Handler answers; mount it on both.
const (
	PagePath    = "/graphiql"
	AssetPrefix = "/graphiql/assets/"
)

// Handler serves the page and its assets. It holds no per-request state.
type Handler struct {
	assets map[string]asset
	page   *template.Template
	// data is the page's template data less the per-request nonce.
	data pageData
}

// New returns the handler for a GraphQL endpoint at the given same-origin
// path (such as "/graphql"). It panics if the embedded files are broken,
// which only a bad build can cause and the package's tests catch.
func New(endpoint string) *Handler {
	h, err := newHandler(assetFS, "assets", endpoint)
	if err != nil {
		panic(err)
	}
	return h
}

func newHandler(fsys fs.FS, dir, endpoint string) (*Handler, error) {
	assets, err := loadAssets(fsys, dir)
	if err != nil {
		return nil, err
	}
	page, err := template.New("page.html").Parse(pageHTML)
	if err != nil {
		return nil, err
	}
	h := &Handler{assets: assets, page: page}
	h.data = pageData{Endpoint: endpoint, DefaultQuery: defaultQuery}
	// In this order: GraphiQL's bundle expects React and ReactDOM as globals.
	scripts := []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"}
	for _, name := range scripts {
		u, err := h.url(name)
		if err != nil {
			return nil, err
		}
		h.data.Scripts = append(h.data.Scripts, u)
	}
	for _, name := range []string{"graphiql.min.css"} {
		u, err := h.url(name)
		if err != nil {
			return nil, err
		}
		h.data.Styles = append(h.data.Styles, u)
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD for PagePath and the files under
// AssetPrefix, and 404 for anything else.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == PagePath:
		h.servePage(w)
	case strings.HasPrefix(p, AssetPrefix):
		h.serveAsset(w, r, strings.TrimPrefix(p, AssetPrefix))
	default:
		http.NotFound(w, r)
	}
}

// serveAsset sends one embedded file. A request naming the current
// version (the page's URLs do) may be cached for a year; any other is
// revalidated by ETag, so a versionless URL never pins an old file.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("ETag", a.etag)
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
