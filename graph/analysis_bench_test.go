package graph

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRefuseExpensiveDocuments reports the time the endpoint takes to
// answer each document built to make analysis expensive, from the request
// body to the written response: every one is refused before execution, so
// this is the cost an unauthenticated client can impose per request.
func BenchmarkRefuseExpensiveDocuments(b *testing.B) {
	h := NewHandler(&Resolver{}, Options{Introspection: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	docs := append(doublingDocs(benchLevels), wideDocs()...)
	for _, d := range append(docs, boundaryDocs()...) {
		body, _ := json.Marshal(map[string]any{"query": d.doc})
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if !strings.Contains(rec.Body.String(), `"code":"`+d.code+`"`) {
					b.Fatalf("%s: not refused with %s: %.300s", d.name, d.code, rec.Body)
				}
			}
			b.ReportMetric(float64(len(body)), "bytes/doc")
		})
	}
}

// benchLevels is how deep the doubling documents of the benchmark go.
const benchLevels = 30

// BenchmarkMeasureDocument reports the cost of the size check alone on
// each attack document, already parsed: what the check adds to the parse
// that every request not in the document cache pays anyway.
func BenchmarkMeasureDocument(b *testing.B) {
	for _, d := range append(doublingDocs(benchLevels), wideDocs()...) {
		doc := parseDoc(b, d.doc)
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				measureDocument(doc, defaultSizeLimits)
			}
		})
	}
}
