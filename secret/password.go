// Package secret holds the project's cryptography: password hashing, token
// generation and digests. Nothing here logs or returns a secret in an error.
package secret

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are the argon2id cost settings. The defaults are OWASP's
// minimum for argon2id (19 MiB, 2 passes, 1 lane).
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// DefaultArgon2 is the cost every new password hash uses.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformedHash is returned for a stored hash in no known format.
var ErrMalformedHash = errors.New("secret: malformed password hash")

// PasswordHasher hashes and verifies passwords. Each hash costs tens of
// milliseconds and ~19 MiB, so calls pass through a semaphore: a burst of
// logins queues here instead of starving other requests of CPU or
// exhausting memory.
type PasswordHasher struct {
	params Argon2Params
	slots  chan struct{}
	dummy  string
	// OnWait, if set, is told how long each call waited for a slot.
	OnWait func(time.Duration)
	// OnIdle, if set, is called when a hash ends and no other is running:
	// the end of a burst, when the memory the hashes used is garbage.
	OnIdle  func()
	running atomic.Int32
}

// NewPasswordHasher returns a hasher allowing at most concurrency hashes at
// once.
func NewPasswordHasher(params Argon2Params, concurrency int) (*PasswordHasher, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &PasswordHasher{params: params, slots: make(chan struct{}, concurrency)}
	// A hash of a random password with the current parameters: verifying
	// against it costs the same as a real check, so "no such user" and
	// "wrong password" take the same time.
	dummy, err := h.hash(RandomString(32))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func (h *PasswordHasher) acquire(ctx context.Context) error {
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if h.OnWait != nil {
		h.OnWait(time.Since(start))
	}
	h.running.Add(1)
	return nil
}

func (h *PasswordHasher) release() {
	idle := h.running.Add(-1) == 0
	<-h.slots
	if idle && h.OnIdle != nil {
		h.OnIdle()
	}
}

// Hash returns a PHC-formatted argon2id hash of password.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password)
}

func (h *PasswordHasher) hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var b64 = base64.RawStdEncoding

// Verify checks password against a stored argon2id or bcrypt hash. rehash
// reports that the hash should be replaced by a fresh one (bcrypt, or
// argon2id with weaker parameters than the current ones).
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	return h.verify(encoded, password)
}

// VerifyDummy spends the time of a real verification and fails. Callers use
// it when the account does not exist, so timing does not reveal that.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

func (h *PasswordHasher) verify(encoded, password string) (bool, bool, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, salt, key, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
		ok := subtle.ConstantTimeCompare(got, key) == 1
		weaker := p.MemoryKiB < h.params.MemoryKiB || p.Time < h.params.Time || len(key) < int(h.params.KeyLen)
		return ok, ok && weaker, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		// Go's bcrypt reads $2a$ and $2b$; $2y$ (PHP's) is the same algorithm.
		enc := []byte(encoded)
		if encoded[2] == 'y' {
			enc = append([]byte("$2b$"), enc[4:]...)
		}
		err := bcrypt.CompareHashAndPassword(enc, []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, ErrMalformedHash
		}
	}
	return false, false, ErrMalformedHash
}

func parseArgon2(encoded string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		return p, nil, nil, ErrMalformedHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// Derive returns the argon2id key of input under salt with the hasher's
// parameters, through the same semaphore as password hashing. Recovery codes
// use it with one salt per user: checking a code is then one derivation and
// one indexed lookup, not a verification against every stored code.
func (h *PasswordHasher) Derive(ctx context.Context, input string, salt []byte) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	p := h.params
	return argon2.IDKey([]byte(input), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen), nil
}

// NewSalt returns a random salt of the hasher's salt length.
func (h *PasswordHasher) NewSalt() []byte {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return salt
}
