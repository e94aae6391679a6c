package graph

import (
	"strconv"
	"strings"
	"testing"

	"accountd/model"
)

// TestConnectionFirstDefault holds the schema's default page size, part of
// the public contract, to model.DefaultPageSize, which the REST shim and
// listQuery use: every connection's first must default to it.
func TestConnectionFirstDefault(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	want := strconv.Itoa(model.DefaultPageSize)
	connections := 0
	for _, typ := range schema.Types {
		if strings.HasPrefix(typ.Name, "__") {
			continue
		}
		for _, f := range typ.Fields {
			if !strings.HasSuffix(f.Type.Name(), "Connection") {
				continue
			}
			connections++
			first := f.Arguments.ForName("first")
			switch {
			case first == nil:
				t.Errorf("%s.%s has no first argument", typ.Name, f.Name)
			case first.DefaultValue == nil:
				t.Errorf("%s.%s(first) has no default, want %s", typ.Name, f.Name, want)
			case first.DefaultValue.String() != want:
				t.Errorf("%s.%s(first) defaults to %s, want model.DefaultPageSize = %s", typ.Name, f.Name, first.DefaultValue, want)
			}
		}
	}
	if connections == 0 {
		t.Fatal("the schema has no connection fields")
	}
	if got := listQuery(nil, nil, nil).First; got != model.DefaultPageSize {
		t.Errorf("listQuery with first null: First = %d, want %d", got, model.DefaultPageSize)
	}
}
