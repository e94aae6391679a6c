package rest

import (
	"encoding/json"
	"net/http"

	"accountd/model"
)

// session is the Session object of REST.md §3.
type session struct {
	UUID      string    `json:"uuid"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	IsUsing   bool      `json:"is_using"`
	LastUsed  timestamp `json:"last_used"`
	Created   timestamp `json:"created"`
}

type sessionsBody struct {
	Sessions pageBody[session] `json:"sessions"`
}

// listSessions is GET /api/client/account/sessions.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	lq, err := listQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.Service.ListSessions(r.Context(), actor, lq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := newPageBody(r, lq, page, func(s *model.Session) session {
		return session{UUID: s.ID.String(), IP: s.IP, UserAgent: s.UserAgent, IsUsing: actor.UsesSession(s.ID),
			LastUsed: timestamp(s.LastUsed), Created: timestamp(s.Created)}
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, sessionsBody{Sessions: body})
}

type deletedBody struct {
	Deleted int `json:"deleted"`
}

// deleteOtherSessions is DELETE /api/client/account/sessions.
func (h *Handler) deleteOtherSessions(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	n, err := h.Service.RevokeOtherSessions(r.Context(), actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, deletedBody{Deleted: n})
}

// deleteSession is DELETE /api/client/account/sessions/{uuid}. Ending the
// session the request itself uses also clears its cookie, as logout does.
func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	own, err := h.Service.RevokeSession(r.Context(), actor, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if own {
		h.Cookie.Clear(w.Header())
	}
	h.ok(w, r, empty)
}

// activity is the Activity object of REST.md §3.
type activity struct {
	Impersonator *string         `json:"impersonator"`
	Event        string          `json:"event"`
	IP           *string         `json:"ip"`
	Data         json.RawMessage `json:"data"`
	IsAPI        bool            `json:"is_api"`
	Created      timestamp       `json:"created"`
}

func newActivity(a *model.Activity) activity {
	out := activity{Event: a.Event, IP: a.IP, Data: a.Data, IsAPI: a.IsAPI(), Created: timestamp(a.Created)}
	if a.Impersonator != nil {
		s := a.Impersonator.String()
		out.Impersonator = &s
	}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("{}")
	}
	return out
}

type activitiesBody struct {
	Activities pageBody[activity] `json:"activities"`
}

// listActivity is GET /api/client/account/activity.
func (h *Handler) listActivity(w http.ResponseWriter, r *http.Request, actor *model.Actor) {
	lq, err := listQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.Service.ListActivity(r.Context(), actor, lq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := newPageBody(r, lq, page, newActivity)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, r, activitiesBody{Activities: body})
}
