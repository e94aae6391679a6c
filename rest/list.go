package rest

import (
	"math"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"accountd/model"
)

// defaultPage is the page of REST.md §1 a client did not name; the page
// size it did not name is model.DefaultPageSize, shared with GraphQL.
const defaultPage = 1

// listQuery reads page, per_page and search from the query string. Range
// rules are the service's; here only the syntax is checked.
func listQuery(r *http.Request) (model.ListQuery, error) {
	q := r.URL.Query()
	lq := model.ListQuery{Page: defaultPage, PerPage: model.DefaultPageSize, Search: q.Get("search")}
	var v model.Validation
	for _, f := range []struct {
		name string
		dst  *int
	}{{"page", &lq.Page}, {"per_page", &lq.PerPage}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && !isRangeError(err) {
			v.Add(f.name, "must be an integer")
			continue
		}
		if f.name == "page" && isRangeError(err) && s[0] != '-' {
			// A page past the end is an empty page with the true total,
			// however far; only a number beyond 64 bits is refused.
			v.Add(f.name, "greater than "+strconv.FormatInt(math.MaxInt64, 10))
			continue
		}
		// ParseInt returns the extreme int64 for other out-of-range input,
		// and the service then answers with the contract's own message
		// (per_page: greater than 100, page: lower than 1).
		*f.dst = int(n)
	}
	return lq, v.Err()
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pageBody is the pagination envelope of REST.md §1.
type pageBody[T any] struct {
	Total   int `json:"total"`
	PerPage int `json:"per_page"`
	Page    int `json:"page"`
	Data    []T `json:"data"`
}

// newPageBody renders a service page; the total is always reported, also
// for a page past the end.
func newPageBody[M, T any](r *http.Request, lq model.ListQuery, p *model.Page[M], render func(M) T) (pageBody[T], error) {
	total, err := p.Count(r.Context())
	if err != nil {
		return pageBody[T]{}, err
	}
	out := pageBody[T]{Total: total, PerPage: lq.PerPage, Page: lq.Page, Data: make([]T, len(p.Items))}
	for i, it := range p.Items {
		out.Data[i] = render(it)
	}
	return out, nil
}

// pathID reads the {uuid} path segment.
func pathID(r *http.Request) (uuid.UUID, error) { return model.ParseID(r.PathValue("uuid")) }
