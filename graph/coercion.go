package graph

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// strictVariables holds variable values to the input coercion rules of the
// GraphQL spec (§3.5): an Int is a JSON integer in the 32-bit range, a
// Float a JSON number, a String or an enum value a JSON string (an enum's
// spelled exactly), a Boolean true or false, an ID a string or an integer.
//
// gqlparser's variable check, which runs first, is lenient: it takes "10"
// for an Int, "1.5" for a Float, 123 for a String (gqlgen decodes numbers
// as json.Number, which it takes for a string), "top_left" for
// TOP_LEFT; and inside input objects gqlgen's generated unmarshalers
// (graphql.UnmarshalInt, UnmarshalString, UnmarshalBoolean) convert
// between all of them. A client's mistake would then run with a value it
// did not send, or fail late as a field error with partial data. Checking
// here, after gqlparser's check and before execution, makes every such
// value a request error (GRAPHQL_VALIDATION_FAILED, the code gqlgen gives
// its own variable errors) and nothing runs. The message names the
// variable's path and the expected type, never the value, which may be a
// password sent with the wrong type.
type strictVariables struct{ schema *ast.Schema }

var (
	_ graphql.HandlerExtension        = (*strictVariables)(nil)
	_ graphql.OperationContextMutator = (*strictVariables)(nil)
)

func (*strictVariables) ExtensionName() string { return "StrictVariables" }

// Validate keeps the schema the variables are checked against; gqlgen
// calls it once, when the extension is added.
func (s *strictVariables) Validate(es graphql.ExecutableSchema) error {
	s.schema = es.Schema()
	return nil
}

func (s *strictVariables) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	c := coercionChecker{schema: s.schema}
	for _, d := range oc.Operation.VariableDefinitions {
		v, ok := oc.Variables[d.Variable]
		if !ok {
			continue // absent and without a default: gqlparser checked it may be
		}
		if err := c.check(d.Type, v, ast.Path{ast.PathName(d.Variable)}); err != nil {
			return err
		}
	}
	return nil
}

// coercionChecker checks variable values against one schema.
type coercionChecker struct{ schema *ast.Schema }

// check returns an error naming path if v is not a value of type typ
// exactly.
func (c coercionChecker) check(typ *ast.Type, v any, path ast.Path) *gqlerror.Error {
	if v == nil {
		if typ.NonNull {
			return c.fail(path, "cannot be null")
		}
		return nil
	}
	if typ.Elem != nil {
		// gqlparser has already turned a single value for a list into a
		// list of one (§3.11) of the value's own Go type, so any slice.
		list := reflect.ValueOf(v)
		if list.Kind() != reflect.Slice {
			return c.check(typ.Elem, v, path)
		}
		for i := range list.Len() {
			if err := c.check(typ.Elem, list.Index(i).Interface(), append(path, ast.PathIndex(i))); err != nil {
				return err
			}
		}
		return nil
	}
	def := c.schema.Types[typ.NamedType]
	if def == nil {
		return nil // validation has refused an unknown type already
	}
	switch def.Kind {
	case ast.Enum:
		if s, ok := v.(string); !ok || def.EnumValues.ForName(s) == nil {
			return c.fail(path, "must be one of the values of enum %s, spelled exactly", def.Name)
		}
	case ast.InputObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return c.fail(path, "must be an input object %s", def.Name)
		}
		for _, f := range def.Fields {
			fv, present := obj[f.Name]
			if !present {
				continue // absent fields take their defaults; gqlparser checked required ones
			}
			if err := c.check(f.Type, fv, append(path, ast.PathName(f.Name))); err != nil {
				return err
			}
		}
	case ast.Scalar:
		if !scalarAccepts(def.Name, v) {
			return c.fail(path, "%s", scalarExpectation(def.Name))
		}
	}
	return nil
}

func (c coercionChecker) fail(path ast.Path, format string, args ...any) *gqlerror.Error {
	err := gqlerror.ErrorPathf(append(ast.Path{ast.PathName("variable")}, path...), format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// scalarAccepts reports whether v, as gqlgen decodes JSON (numbers as
// json.Number; a variable's default value as Go int64, float64, string
// or bool), is a value of the scalar called name.
func scalarAccepts(name string, v any) bool {
	switch name {
	case "Int":
		n, ok := wholeNumber(v)
		return ok && n >= math.MinInt32 && n <= math.MaxInt32
	case "Float":
		switch x := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			return err == nil && !math.IsInf(f, 0)
		case float64, float32, int, int32, int64:
			return true
		}
		return false
	case "String":
		_, ok := v.(string)
		return ok
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "ID":
		if _, ok := v.(string); ok {
			return true
		}
		_, ok := wholeNumber(v)
		return ok
	case "Time":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := graphql.UnmarshalTime(s)
		return err == nil
	}
	return true // JSON, and any custom scalar that checks itself
}

// scalarExpectation says what a scalar accepts, for the error message.
func scalarExpectation(name string) string {
	switch name {
	case "Int":
		return "Int must be an integer between -2^31 and 2^31-1, not a string or a fraction"
	case "Float":
		return "Float must be a number, not a string"
	case "String":
		return "String must be a string, not a number or a boolean"
	case "Boolean":
		return "Boolean must be true or false"
	case "ID":
		return "ID must be a string or an integer"
	case "Time":
		return "Time must be an RFC 3339 time as a string"
	}
	return "has an invalid value for " + name
}

// wholeNumber returns v as an int64 if it is a JSON integer, or a Go
// number without a fractional part (a default value, or a number gqlparser
// has already converted).
func wholeNumber(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		// Digits only, as gqlparser requires of a top-level Int: "1.0"
		// and "1e3" are refused at every depth alike.
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}
