package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"

	"accountd/scripts/internal/e2e"
)

// roundRobin is the load balancer in front of the replicas: each request
// goes to the next backend in turn, with X-Forwarded-For set to the
// address the request came from (any X-Forwarded-For the client sent is
// dropped, as an edge proxy does). It names the backend that answered in
// X-Backend so the checks can show where requests went.
type roundRobin struct {
	targets []*url.URL
	names   map[string]string // backend host:port → server name
	next    atomic.Uint64
}

func newRoundRobin(servers []*e2e.Server) *roundRobin {
	rr := &roundRobin{names: map[string]string{}}
	for _, s := range servers {
		u, _ := url.Parse(s.URL)
		rr.targets = append(rr.targets, u)
		rr.names[u.Host] = s.Name
	}
	return rr
}

func (rr *roundRobin) handler() http.Handler {
	return &httputil.ReverseProxy{
		// Rewrite (unlike Director) starts from a request with no
		// X-Forwarded-* headers; SetXForwarded then sets the client's
		// address alone.
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := (rr.next.Add(1) - 1) % uint64(len(rr.targets))
			pr.SetURL(rr.targets[i])
			pr.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Backend", rr.names[resp.Request.URL.Host])
			return nil
		},
	}
}

// serve starts the proxy on a free port and returns its base URL.
func (rr *roundRobin) serve() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: rr.handler()}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
