// Package e2e holds what the operations scripts (scripts/replicas,
// scripts/outage) share: running the built server as a real process on a
// free port, and a small HTTP client that speaks the REST and GraphQL APIs
// from a loopback address of its choosing, so each simulated client has an
// address of its own.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Server is one running server process.
type Server struct {
	Name    string
	Addr    string // host:port it listens on
	URL     string // http://Addr
	LogPath string
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Prepare picks an address and builds the process of the server binary bin
// with env (KEY=VALUE entries; LISTEN_ADDR is added) and its output sent to
// logPath. Start runs it; preparing first lets callers start several
// servers within microseconds of each other.
func Prepare(name, bin, logPath string, env []string) (*Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	// A clean environment: nothing from the caller's shell (a stray
	// DATABASE_URL or RATE_LIMIT) changes what the script tests. No
	// load balancer polls these servers' /readyz, so Stop skips the
	// drain (env may still set one).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LISTEN_ADDR=" + addr,
		"SHUTDOWN_DRAIN=0s"}, env...)
	// The server dies with the script, even if the script is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return &Server{Name: name, Addr: addr, URL: "http://" + addr, LogPath: logPath, cmd: cmd, done: make(chan struct{})}, nil
}

// Start runs the prepared process.
func (s *Server) Start() error {
	f, err := os.Create(s.LogPath)
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = f, f
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return err
	}
	go func() {
		s.err = s.cmd.Wait()
		f.Close()
		close(s.done)
	}()
	return nil
}

// Pid is the process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Running reports whether the process is still alive.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// WaitReady polls /readyz until it answers 200, the process exits or ctx
// ends.
func (s *Server) WaitReady(ctx context.Context) error {
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		if !s.Running() {
			return fmt.Errorf("%s exited (%v) before it was ready:\n%s", s.Name, s.err, s.LogTail(20))
		}
		resp, err := c.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", s.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for the exit, killing the process after
// timeout.
func (s *Server) Stop(timeout time.Duration) error {
	if !s.Running() {
		return s.exitErr()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.exitErr()
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%s did not stop within %s and was killed", s.Name, timeout)
	}
}

func (s *Server) exitErr() error {
	var ee *exec.ExitError
	if errors.As(s.err, &ee) && ee.Success() {
		return nil
	}
	return s.err
}

// Log returns the whole log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// LogTail returns the last n lines of the log.
func (s *Server) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CountPanics counts the panics the log records: the server's recover
// middlewares log each one (a message naming the panic, e.g. "panic" or
// "graphql panic"), and one they did not catch ends the process with Go's
// "panic:" or "fatal error:" banner.
func (s *Server) CountPanics() int {
	n := 0
	for _, line := range strings.Split(s.Log(), "\n") {
		if strings.Contains(logMessage(line), "panic") ||
			strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			n++
		}
	}
	return n
}

// logMessage returns the message of a JSON or text log line, or "".
func logMessage(line string) string {
	for _, prefix := range []string{`"msg":"`, `msg="`, `msg=`} {
		i := strings.Index(line, prefix)
		if i < 0 {
			continue
		}
		rest := line[i+len(prefix):]
		end := strings.IndexAny(rest, `" `)
		if prefix == `"msg":"` || prefix == `msg="` {
			end = strings.IndexByte(rest, '"')
		}
		if end < 0 {
			end = len(rest)
		}
		return rest[:end]
	}
	return ""
}
