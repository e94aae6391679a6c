package db

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
)

// bun writes every value into the text of the statement it builds. Sent
// like that, each credential, timestamp or page size makes a statement
// PostgreSQL has never seen: it is parsed and planned again, and the
// driver's per-connection statement cache fills with one-off entries and
// thrashes (a flood of junk cookies then costs the database several times
// a valid request). So before a statement reaches the driver its values
// are lifted back out into bound parameters: the number of distinct
// statements is fixed by the code, not by the data.
//
// liftLiterals does the lifting on the SQL that bun produces, which is a
// small, regular language: values are '…' strings with ” escapes, SQLite
// blobs X'…', and unsigned decimal numbers; identifiers are bare words or
// "…" with "" escapes. The statements left alone, returned with ok false:
//   - anything but SELECT, INSERT, UPDATE, DELETE and WITH (migrations and
//     other DDL, transaction control, pragmas): parameters are not allowed
//     there, and their text is fixed anyway;
//   - a statement with comments, dollar quoting, E” strings or a number
//     straight after ORDER BY / GROUP BY (a position, not a value), which
//     bun does not write; they are sent as they are rather than guessed at.
//
// Typed literals (interval '30 seconds') keep their text: a type name
// cannot take a parameter, and such constants come from the code.
//
// Parameters are numbered $1, $2, … on both engines. Values go to
// PostgreSQL as text, which the server parses by the type it infers,
// exactly as it parses a string literal (numbers get the cast that gives
// them their literal's type); SQLite gets strings, blobs and numbers, the
// types the literals had.
func liftLiterals(query string, postgres bool) (string, []any, bool) {
	if !liftable(query) {
		return query, nil, false
	}
	var (
		b    strings.Builder
		args []any
		prev string // the last bare word, for typed literals and ORDER BY
	)
	b.Grow(len(query) + 16)
	placeholder := func(v any) {
		args = append(args, v)
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(args)))
	}
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'':
			s, n, ok := quoted(query[i:], '\'')
			if !ok {
				return query, nil, false
			}
			if typeName(prev) {
				b.WriteString(query[i : i+n])
			} else {
				placeholder(s)
			}
			i += n
			prev = ""
		case c == '"':
			_, n, ok := quoted(query[i:], '"')
			if !ok {
				return query, nil, false
			}
			b.WriteString(query[i : i+n])
			i += n
			prev = ""
		case (c == 'X' || c == 'x') && !postgres && i+1 < len(query) && query[i+1] == '\'' && !wordByte(before(query, i)):
			s, n, ok := quoted(query[i+1:], '\'')
			if !ok {
				return query, nil, false
			}
			blob, err := hex.DecodeString(s)
			if err != nil {
				return query, nil, false
			}
			placeholder(blob)
			i += 1 + n
			prev = ""
		case isDigit(c) && !wordByte(before(query, i)):
			n := numberLen(query[i:])
			if strings.EqualFold(prev, "BY") {
				return query, nil, false
			}
			num := query[i : i+n]
			switch {
			case postgres:
				// A parameter has no type of its own where a number
				// literal has one (40 + 2 would be ambiguous): the cast
				// gives it the literal's type by the literal's rule.
				placeholder(num)
				b.WriteString(pgNumberType(num))
			case strings.ContainsAny(num, ".eE"):
				f, err := strconv.ParseFloat(num, 64)
				if err != nil {
					return query, nil, false
				}
				placeholder(f)
			default:
				v, err := strconv.ParseInt(num, 10, 64)
				if err != nil {
					return query, nil, false
				}
				placeholder(v)
			}
			i += n
			prev = ""
		case wordByte(c):
			j := i
			for j < len(query) && wordByte(query[j]) {
				j++
			}
			word := query[i:j]
			if (word == "E" || word == "e") && j < len(query) && query[j] == '\'' {
				return query, nil, false
			}
			b.WriteString(word)
			prev = word
			i = j
		case c == '$' && postgres, c == '-' && i+1 < len(query) && query[i+1] == '-',
			c == '/' && i+1 < len(query) && query[i+1] == '*', c == '?':
			// A placeholder, dollar quoting or a comment: not bun's output.
			return query, nil, false
		default:
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				prev = ""
			}
			b.WriteByte(c)
			i++
		}
	}
	if len(args) == 0 {
		return query, nil, false
	}
	return b.String(), args, true
}

// pgNumberType is the cast that gives a parameter the type PostgreSQL
// gives the number literal num: integer while it fits, then bigint, and
// numeric for the rest and for decimals.
func pgNumberType(num string) string {
	if strings.ContainsAny(num, ".eE") {
		return "::numeric"
	}
	v, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil:
		return "::numeric"
	case v <= math.MaxInt32:
		return "::integer"
	}
	return "::bigint"
}

// liftable reports whether query is a data statement, the only kind that
// takes parameters.
func liftable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:4]) {
	case "WITH":
		return true
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// typeName reports whether word (in any case) makes a following string a
// typed literal.
func typeName(word string) bool {
	for _, t := range [...]string{"INTERVAL", "TIMESTAMP", "TIMESTAMPTZ", "DATE", "TIME", "UUID", "BYTEA", "JSON", "JSONB", "INET", "CIDR"} {
		if strings.EqualFold(word, t) {
			return true
		}
	}
	return false
}

// quoted reads a string or quoted identifier that starts s with q,
// doubled q inside it standing for one, and returns its content and length.
func quoted(s string, q byte) (string, int, bool) {
	doubled := false
	for i := 1; i < len(s); i++ {
		if s[i] != q {
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			doubled = true
			i++
			continue
		}
		content := s[1:i]
		if doubled {
			content = strings.ReplaceAll(content, string([]byte{q, q}), string(q))
		}
		return content, i + 1, true
	}
	return "", 0, false
}

// numberLen is the length of the unsigned decimal number that starts s.
func numberLen(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

// before is the byte before s[i], or 0.
func before(s string, i int) byte {
	if i == 0 {
		return 0
	}
	return s[i-1]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// wordByte reports whether c continues a bare word: an identifier, a
// keyword, a qualified name ("s.key_start") or a placeholder number.
func wordByte(c byte) bool {
	return c == '_' || c == '.' || c >= 0x80 || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}
