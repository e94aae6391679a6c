package graphiql

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// assetFS holds what scripts/fetch-graphiql.sh wrote: the GraphiQL, React
// and ReactDOM builds, their licences and VERSIONS.txt.
//
//go:embed assets
var assetFS embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	// etag is the quoted SHA-256 of body.
	etag string
	// version is a prefix of that digest; the page puts it in the asset's
	// URL, so a refreshed file gets a new URL and a year-long cache is safe.
	version string
}

// contentType is the type each kind of embedded file is served as. It is
// spelled out rather than taken from the system's MIME table, which differs
// between machines (.js as application/javascript or text/javascript).
func contentType(name string) (string, bool) {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".txt":
		return "text/plain; charset=utf-8", true
	}
	return "", false
}

// loadAssets reads every file under dir in fsys. A file whose type is not
// known is an error: it would otherwise be served with a guessed type.
func loadAssets(fsys fs.FS, dir string) (map[string]asset, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("graphiql: unexpected directory %s/%s", dir, e.Name())
		}
		ct, ok := contentType(e.Name())
		if !ok {
			return nil, fmt.Errorf("graphiql: no content type for %s/%s", dir, e.Name())
		}
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		digest := hex.EncodeToString(sum[:])
		out[e.Name()] = asset{body: body, contentType: ct, etag: `"` + digest + `"`, version: digest[:16]}
	}
	return out, nil
}

// url is where the page refers to the named asset.
func (h *Handler) url(name string) (string, error) {
	a, ok := h.assets[name]
	if !ok || strings.ContainsAny(name, "/?#") {
		return "", fmt.Errorf("graphiql: no asset %q", name)
	}
	return AssetPrefix + name + "?v=" + a.version, nil
}
