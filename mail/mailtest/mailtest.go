// Package mailtest is a real SMTP server for tests, in-process on a local
// port (github.com/emersion/go-smtp), that keeps what it receives: the
// mail package's tests and end-to-end tests of the flows that send mail
// point SMTP_URL at it and read the mails back, decoded. It lives outside
// any _test.go file so that the tests of other packages can import it.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is an SMTP server on 127.0.0.1 that accepts every mail (unless
// told otherwise) and keeps it.
type Server struct {
	t    testing.TB
	addr string
	opts Options

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	messages []*Message
	changed  chan struct{}
}

// Options change what the server offers and asks.
type Options struct {
	// TLS, if set, is offered through STARTTLS, or with ImplicitTLS from
	// the first byte (smtps).
	TLS         *tls.Config
	ImplicitTLS bool
	// Username and Password, if set, are required (AUTH PLAIN).
	Username, Password string
	// Rcpt, if set, answers each RCPT TO: a non-nil error (an
	// *smtp.SMTPError for a chosen code) refuses the recipient.
	Rcpt func(to string) error
}

// Message is one mail as the server received it, decoded.
type Message struct {
	// From and To are the envelope (MAIL FROM, RCPT TO).
	From string
	To   []string
	// TLS says whether the connection was encrypted when the mail came.
	TLS bool
	// Authenticated is the user name the client logged in with ("" for
	// none).
	Authenticated string
	// Raw is the message as sent; Header its header.
	Raw    []byte
	Header netmail.Header
	// Subject is the decoded Subject header; MessageID the Message-ID.
	Subject   string
	MessageID string
	// Text and HTML are the decoded bodies of the two parts of a
	// multipart/alternative message (or the single body's, by its type).
	Text, HTML string
}

// NewServer starts a server with opts on a free port of 127.0.0.1; it
// stops when t ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts, changed: make(chan struct{})}
	ln := listenUnused(t)
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// URL is an SMTP_URL for the server: smtps:// with ImplicitTLS,
// smtp:// with STARTTLS when TLS is offered, else smtp://…?starttls=off;
// with the user and password when they are required.
func (s *Server) URL() string {
	scheme, query := "smtp", "?starttls=off"
	switch {
	case s.opts.ImplicitTLS:
		scheme, query = "smtps", ""
	case s.opts.TLS != nil:
		query = ""
	}
	user := ""
	if s.opts.Username != "" {
		user = s.opts.Username + ":" + s.opts.Password + "@"
	}
	return scheme + "://" + user + s.addr + query
}

// Stop closes the listener and every connection: the server is down until
// Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// The listener too: Serve may not have registered it with the
		// server yet, and then Close would not close it.
		ln.Close()
		srv.Close()
	}
}

// Start listens again on the same port after Stop.
func (s *Server) Start() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		sess := &session{s: s, conn: c}
		if s.opts.Username != "" {
			return &authSession{session: sess}, nil
		}
		return sess, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.opts.TLS)
	} else {
		srv.TLSConfig = s.opts.TLS
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // ends with Stop
}

// Messages returns every mail received so far.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.messages...)
}

// Wait returns the mails received once there are at least n, failing the
// test if they have not all come within a minute (a deadline against a
// hung test, not a measure of speed).
func (s *Server) Wait(n int) []*Message {
	s.t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline:
			s.t.Fatalf("%d mails received, want %d", got, n)
		}
	}
}

func (s *Server) add(m *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.opts.Rcpt != nil {
		if err := x.s.opts.Rcpt(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable message: " + err.Error()}
	}
	m.From, m.To, m.Authenticated = x.from, append([]string(nil), x.to...), x.user
	_, m.TLS = x.conn.TLSConnectionState()
	x.s.add(m)
	return nil
}

// authSession is a session that offers and requires AUTH PLAIN.
type authSession struct{ *session }

func (x *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != x.s.opts.Username || password != x.s.opts.Password {
			return errors.New("invalid username or password")
		}
		x.user = username
		return nil
	}), nil
}

// Parse decodes a raw message: its header, subject, Message-ID and the
// text and HTML bodies of a multipart/alternative message (quoted-printable
// and base64 undone).
func Parse(raw []byte) (*Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &Message{Raw: raw, Header: msg.Header, MessageID: msg.Header.Get("Message-Id")}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("content type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, err := decodeBody(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if err != nil {
			return nil, err
		}
		m.setBody(mediaType, body)
		return m, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		// multipart undoes quoted-printable itself (and drops the header).
		body, err := decodeBody(p.Header.Get("Content-Transfer-Encoding"), p)
		if err != nil {
			return nil, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		m.setBody(pt, body)
	}
}

func (m *Message) setBody(mediaType, body string) {
	switch mediaType {
	case "text/plain":
		m.Text = body
	case "text/html":
		m.HTML = body
	}
}

// decodeBody reads a body of the given transfer encoding.
func decodeBody(encoding string, r io.Reader) (string, error) {
	switch strings.ToLower(encoding) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

// SelfSigned returns a TLS configuration for a server named localhost and
// 127.0.0.1, with a certificate made now, and the pool a client trusts it
// with.
func SelfSigned(t testing.TB) (server *tls.Config, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, roots
}

// handedOut are the ports this process's servers have listened on, never
// given to another server: one that is stopped must find its port free
// when it starts again.
var handedOut sync.Map

// listenUnused listens on a port of 127.0.0.1 below the system's
// ephemeral range (which port 0 and every outgoing connection draw from),
// never one handed out before in this process. A stopped server's port is
// then not taken by another test's listener or connection in the
// meantime, so Start finds it free and a client during the outage finds
// nothing listening, as in a real outage.
func listenUnused(t testing.TB) net.Listener {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n == 2 && lo > 11024 {
			low = lo
		}
	}
	for range 200 {
		port := 10000 + mrand.IntN(low-10000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			return ln
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return nil
}
