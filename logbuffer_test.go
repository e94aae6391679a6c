package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an output the test can read while the flusher writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines reach the output within the flush interval, whole and in order,
// however many goroutines write; Close writes what is left at once.
func TestLogBuffer(t *testing.T) {
	out := &lockedBuffer{}
	b := newLogBuffer(out, 20*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				b.Write([]byte(strings.Repeat(string(rune('a'+g)), 10+i%7) + "\n")) //nolint:errcheck // bufio
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 800 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines reached the output, want 800", len(lines))
	}
	for _, l := range lines {
		if strings.Trim(l, l[:1]) != "" {
			t.Fatalf("an interleaved line: %q", l)
		}
	}

	// Close does not wait for the timer.
	slow := &lockedBuffer{}
	b = newLogBuffer(slow, time.Hour)
	b.Write([]byte("last words\n")) //nolint:errcheck // bufio
	if slow.String() != "" {
		t.Fatal("a line was written before a flush")
	}
	if err := b.Close(); err != nil || slow.String() != "last words\n" {
		t.Fatalf("Close: %v, output %q", err, slow.String())
	}
}
