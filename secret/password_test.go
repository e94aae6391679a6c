package secret

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func newHasher(t *testing.T, concurrency int) *PasswordHasher {
	t.Helper()
	h, err := NewPasswordHasher(DefaultArgon2, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDefaultsMeetOWASPMinimum(t *testing.T) {
	p := DefaultArgon2
	if p.MemoryKiB < 19*1024 || p.Time < 2 || p.Threads != 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("DefaultArgon2 = %+v is below the OWASP argon2id minimum", p)
	}
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, 2)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the default cost", enc)
	}
	if strings.Contains(enc, "correct horse") {
		t.Fatal("hash contains the password")
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}

	t.Run("Right", func(t *testing.T) {
		ok, rehash, err := h.Verify(ctx, enc, "correct horse")
		if !ok || rehash || err != nil {
			t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	})
	t.Run("Wrong", func(t *testing.T) {
		ok, _, err := h.Verify(ctx, enc, "correct horsE")
		if ok || err != nil {
			t.Fatalf("Verify = %v, %v; want false, nil", ok, err)
		}
	})
	t.Run("WeakerParametersAskForRehash", func(t *testing.T) {
		weak, err := NewPasswordHasher(Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := weak.Hash(ctx, "pw")
		ok, rehash, err := h.Verify(ctx, old, "pw")
		if !ok || !rehash || err != nil {
			t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, bad := range []string{"", "plain", "$argon2id$v=19$m=x$a$b", "$argon2id$v=18$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2i$v=19$m=1,t=1,p=1$a$b", "$2b$04$short"} {
			ok, _, err := h.Verify(ctx, bad, "pw")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", bad, ok, err)
			}
		}
	})
}

func TestBcryptHashesVerifyAndAskForRehash(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, 1)
	b, err := bcrypt.GenerateFromPassword([]byte("legacy pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			enc := prefix + string(b[4:])
			ok, rehash, err := h.Verify(ctx, enc, "legacy pw")
			if !ok || !rehash || err != nil {
				t.Fatalf("right password: %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, enc, "wrong")
			if ok || rehash || err != nil {
				t.Fatalf("wrong password: %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyDummyFails(t *testing.T) {
	h := newHasher(t, 1)
	if err := h.VerifyDummy(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	h := newHasher(t, 2)
	var waited atomic.Int64
	h.OnWait = func(d time.Duration) {
		if d > 0 {
			waited.Add(1)
		}
	}
	// Fill both slots by hand; a third caller must wait and give up when
	// its context ends.
	h.slots <- struct{}{}
	h.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with every slot taken = %v; want DeadlineExceeded", err)
	}
	<-h.slots
	<-h.slots

	var wg sync.WaitGroup
	var inFlight, peak atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			inFlight.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once; the limit is 2", peak.Load())
	}
}

// OnIdle is called when a hash ends with no other running — the end of a
// burst — and never while another still holds its memory.
func TestOnIdleEndsABurst(t *testing.T) {
	h, err := NewPasswordHasher(Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var calls, busy atomic.Int64
	h.OnIdle = func() {
		calls.Add(1)
		if h.running.Load() != 0 {
			busy.Add(1)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls.Load() == 0 || busy.Load() != 0 {
		t.Fatalf("OnIdle called %d times, %d of them with a hash running", calls.Load(), busy.Load())
	}
	before := calls.Load()
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before+1 {
		t.Fatalf("a lone hash called OnIdle %d times", calls.Load()-before)
	}
}
