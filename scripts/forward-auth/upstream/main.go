// Command upstream is the app the forward-auth check protects in
// scripts/forward-auth/run.sh: it answers every request with what the
// proxy told it about the user, one "name: value" line per header, so the
// script can see what nginx passed on after asking GET /api/auth/verify.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"
)

// shown are the headers the proxy sets from the check's answer.
var shown = []string{"X-User", "X-User-Id", "X-User-Admin", "X-Key-Id", "X-Permissions"}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "upstream: %s %s\n", r.Method, r.URL.Path)
		for _, name := range shown {
			fmt.Fprintf(w, "%s: %s\n", name, r.Header.Get(name))
		}
	})}
	log.Fatal(srv.ListenAndServe())
}
