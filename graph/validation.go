package graph

import (
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// suggestingRules pairs each of gqlparser's validation rules that appends
// "Did you mean …?" with its suggestion-free twin. gqlgen's
// SetDisableSuggestion swaps only the first two, so unknown arguments,
// type names (in variable definitions and fragments), input fields and
// enum values would still describe the schema to whoever probes it.
var suggestingRules = [...]struct{ with, without core.Rule }{
	{rules.FieldsOnCorrectTypeRule, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
	{rules.ScalarLeafsRule, rules.ScalarLeafsRuleWithoutSuggestions},
	{rules.KnownArgumentNamesRule, rules.KnownArgumentNamesRuleWithoutSuggestions},
	{rules.KnownTypeNamesRule, rules.KnownTypeNamesRuleWithoutSuggestions},
	{rules.ValuesOfCorrectTypeRule, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
}

// validationRules returns the rule set documents are validated with:
// gqlparser's defaults, suggestion-free unless suggestions is set
// (development), plus strictLiteralsRule.
func validationRules(suggestions bool) func() *rules.Rules {
	return func() *rules.Rules {
		rs := rules.NewDefaultRules()
		if !suggestions {
			for _, r := range suggestingRules {
				rs.RemoveRule(r.with.Name)
				rs.AddRule(r.without.Name, r.without.RuleFunc)
			}
		}
		rs.AddRule(strictLiteralsRule.Name, strictLiteralsRule.RuleFunc)
		return rs
	}
}

// stripSuggestion removes a trailing "Did you mean …?" clause from a
// validation message, whole: the backstop for a suggesting rule a future
// gqlparser adds. The clause is always appended last, after the sentence
// it qualifies, so cutting at its start leaves that sentence intact; a
// message that does not end in "?" has no clause (a quoted literal in it
// may say anything).
func stripSuggestion(msg string) string {
	i := strings.LastIndex(msg, " Did you mean ")
	if i < 0 || !strings.HasSuffix(msg, "?") {
		return msg
	}
	return msg[:i]
}

// strictLiteralsRule refuses the literals gqlparser's ValuesOfCorrectType
// lets through although the spec (§3.5) says they cannot be coerced: an
// Int outside the 32-bit range, and, for the Time scalar (which that rule
// skips as custom), anything but a string gqlgen can parse as a time.
// Left to execution they would fail as a field error with partial data,
// or silently run with a value the client did not write; here they are
// request errors, like every other badly typed literal.
var strictLiteralsRule = core.Rule{
	Name: "StrictLiterals",
	RuleFunc: func(observers *core.Events, addError core.AddErrFunc) {
		observers.OnValue(func(_ *core.Walker, value *ast.Value) {
			if value.Definition == nil || value.ExpectedType == nil {
				return
			}
			switch {
			case value.Definition.Name == "Int" && value.Kind == ast.IntValue:
				if _, err := strconv.ParseInt(value.Raw, 10, 32); err != nil {
					addError(core.Message(`Int cannot represent non 32-bit signed integer value: %s`, value.String()),
						core.At(value.Position))
				}
			case value.Definition.Name == "Time" && value.Kind != ast.Variable && value.Kind != ast.NullValue:
				if value.Kind != ast.StringValue && value.Kind != ast.BlockValue {
					addError(core.Message(`Time cannot represent a non string value: %s`, value.String()),
						core.At(value.Position))
				} else if _, err := graphql.UnmarshalTime(value.Raw); err != nil {
					addError(core.Message(`Time cannot represent an invalid time: %s`, value.String()),
						core.At(value.Position))
				}
			}
		})
	},
}
