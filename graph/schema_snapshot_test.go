package graph

import (
	"bytes"
	"flag"
	"os"
	"strconv"
	"testing"

	"github.com/vektah/gqlparser/v2/formatter"
)

var updateSnapshot = flag.Bool("update-schema-snapshot", false, "rewrite schema.snapshot.graphql from the executable schema")

// snapshotFile is the reviewed public schema: what clients can see and
// rely on, printed from the executable schema the server runs.
const snapshotFile = "schema.snapshot.graphql"

// TestSchemaSnapshot fails when the served schema differs from the
// committed snapshot, so no change to the public API — a renamed field, a
// type made nullable, a removed argument — lands without someone reviewing
// the snapshot's diff. After a deliberate change, regenerate it with
//
//	go test ./graph -run TestSchemaSnapshot -update-schema-snapshot
func TestSchemaSnapshot(t *testing.T) {
	var buf bytes.Buffer
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).FormatSchema(NewExecutableSchema(Config{}).Schema())
	got := buf.Bytes()
	if *updateSnapshot {
		if err := os.WriteFile(snapshotFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(snapshotFile)
	if err != nil {
		t.Fatalf("%v (create it with -update-schema-snapshot)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the served schema differs from %s: review the change, then run\n"+
			"  go test ./graph -run TestSchemaSnapshot -update-schema-snapshot\nand commit the new snapshot.\n%s",
			snapshotFile, firstDifference(want, got))
	}
}

// firstDifference shows the first differing line of two texts.
func firstDifference(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return "line " + strconv.Itoa(i+1) + ":\n  snapshot: " + string(wl) + "\n  served:   " + string(gl)
		}
	}
	return ""
}
