package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logBuffer batches the server's log output: lines collect in memory and
// reach the output at most every flush interval (and when 64 KiB have
// collected), one write for the batch instead of one system call per line.
// With the access log on, that write was the log's main cost per request.
// Close writes what is left; a process that crashes outright can lose the
// last interval's lines (handler panics are recovered and logged, and do
// not crash it).
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// logFlushEvery is how long a line may wait in the buffer.
const logFlushEvery = 100 * time.Millisecond

func newLogBuffer(w io.Writer, every time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop(every)
	return b
}

// Write appends one log line (slog writes each record in one call, so
// lines never interleave).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flushLoop(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-b.stop:
			return
		}
	}
}

func (b *logBuffer) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close stops the timer and writes the lines still buffered.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.flush()
}
