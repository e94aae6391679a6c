package db_test

import (
	"context"
	"strings"
	"testing"

	"accountd/db"
)

// A DATABASE_URL the server cannot use is refused with a message naming
// the variable and the scheme, never the rest of the URL, which may hold a
// password.
func TestOpenUnsupportedSchemeHidesCredentials(t *testing.T) {
	_, err := db.Open(context.Background(), "mysql://admin:hunter2-secret@db.internal:3306/panel")
	if err == nil {
		t.Fatal("mysql:// opened")
	}
	msg := err.Error()
	for _, want := range []string{"DATABASE_URL", `"mysql"`, "unsupported scheme"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, leak := range []string{"hunter2-secret", "admin", "db.internal"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error %q repeats %q from the URL", msg, leak)
		}
	}
}
