package graph

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/web"
)

// queriesOverGET is gqlgen's GET transport with the status GraphQL over
// HTTP asks for when the document is a mutation: 405 Method Not Allowed
// with Allow: POST, which tells the client what to do instead, where gqlgen
// answers 406 Not Acceptable (a statement about the Accept header, which
// was fine). The body gqlgen writes (an error saying only queries are
// allowed over GET) is kept; withRequestIDs gives it its code and request
// id.
type queriesOverGET struct{ transport.GET }

func (t queriesOverGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.GET.Do(&methodNotAllowedWriter{ResponseWriter: w}, r, exec)
}

// methodNotAllowedWriter turns the GET transport's 406 into a 405. The GET
// transport writes 406 for nothing else: a bad Accept header falls back to
// application/json.
type methodNotAllowedWriter struct{ http.ResponseWriter }

func (w *methodNotAllowedWriter) WriteHeader(code int) {
	if code == http.StatusNotAcceptable {
		w.Header().Set("Allow", http.MethodPost)
		code = http.StatusMethodNotAllowed
	}
	w.ResponseWriter.WriteHeader(code)
}

// exactText reports whether a request's text is exactly what its bytes
// say: a POST body or GET parameters in valid UTF-8, and no lone surrogate
// escape in JSON. gqlgen decodes the text with encoding/json, which
// replaces every bad byte with U+FFFD, so two different passwords could
// reach the service as the same string; see web.ExactJSONText.
func exactText(r *http.Request, body []byte) bool {
	if r.Method == http.MethodPost {
		return web.ExactJSONText(body)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return true // gqlgen's GET transport refuses it with its own error
	}
	for name, values := range q {
		for _, v := range values {
			if !utf8.ValidString(name) || !utf8.ValidString(v) ||
				(name == "variables" || name == "extensions") && !web.ExactJSONText([]byte(v)) {
				return false
			}
		}
	}
	return true
}

// writeNotText answers a request exactText refused: a request error (400,
// no data, nothing executed) in the shape of gqlgen's own for a body it
// cannot decode, which says what failed and never echoes the text.
func writeNotText(w http.ResponseWriter, r *http.Request) {
	web.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": []*gqlerror.Error{{
		Message:    "the request is not valid UTF-8",
		Extensions: map[string]any{"code": "BAD_REQUEST", "requestId": web.RequestIDFrom(r.Context())},
	}}})
}

// exactDocument refuses a document whose string literals escape a lone
// UTF-16 surrogate ("\ud800"), before it is parsed. gqlparser's lexer
// would write U+FFFD in its place, rewriting the value (a password, say)
// as the JSON decoder would without exactText; the spec (§2.4.7) makes
// such an escape a syntax error, so it is refused as one
// (GRAPHQL_PARSE_FAILED). Block strings and comments hold no escapes and
// are skipped.
type exactDocument struct{}

var (
	_ graphql.HandlerExtension          = exactDocument{}
	_ graphql.OperationParameterMutator = exactDocument{}
)

func (exactDocument) ExtensionName() string { return "ExactDocument" }

func (exactDocument) Validate(graphql.ExecutableSchema) error { return nil }

func (exactDocument) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if !hasLoneSurrogateEscape(p.Query) {
		return nil
	}
	err := gqlerror.Errorf("Invalid Unicode escape sequence: a string escapes a lone surrogate.")
	errcode.Set(err, errcode.ParseFailed)
	return err
}

// hasLoneSurrogateEscape scans a GraphQL document's string literals for a
// \uXXXX escape naming a surrogate that is not half of a pair.
func hasLoneSurrogateEscape(doc string) bool {
	for i := 0; i < len(doc); i++ {
		switch {
		case doc[i] == '#':
			for i < len(doc) && doc[i] != '\n' && doc[i] != '\r' {
				i++
			}
		case strings.HasPrefix(doc[i:], `"""`):
			// A block string: no escapes but \""", which is text.
			for i += 3; i < len(doc) && !strings.HasPrefix(doc[i:], `"""`); i++ {
				if strings.HasPrefix(doc[i:], `\"""`) {
					i += 3
				}
			}
			i += 2
		case doc[i] == '"':
			for i++; i < len(doc) && doc[i] != '"' && doc[i] != '\n' && doc[i] != '\r'; i++ {
				if doc[i] != '\\' || i+1 >= len(doc) {
					continue
				}
				if doc[i+1] != 'u' {
					i++ // the escaped character, which may be a quote
					continue
				}
				r, ok := surrogateAt(doc, i)
				switch {
				case !ok:
				case r >= 0xDC00:
					return true // a trailing half with no leading one
				default:
					if r2, ok := surrogateAt(doc, i+6); !ok || r2 < 0xDC00 {
						return true
					}
					i += 6
				}
				i += 5
			}
		}
	}
	return false
}

// surrogateAt returns the code unit of a \uXXXX escape at doc[i] if it is
// a surrogate (U+D800 to U+DFFF).
func surrogateAt(doc string, i int) (rune, bool) {
	if i+6 > len(doc) || doc[i] != '\\' || doc[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(doc[i+2:i+6], 16, 16)
	if err != nil || n < 0xD800 || n > 0xDFFF {
		return 0, false
	}
	return rune(n), true
}
