package record

import (
	"fmt"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// UsersFormat identifies the log of a server's user machines (Dir's
// users-<time>.jsonl): a UsersHeader, then one UserLine per line, the lines
// of all users interleaved, each user's in order.
const UsersFormat = "xmppfsm-users-log"

// UsersHeader is a users log's first line.
type UsersHeader struct {
	Format    string     `json:"format"`
	Version   int        `json:"version"`
	Started   string     `json:"started,omitempty"`
	Policy    fsm.Policy `json:"policy"`
	Redaction string     `json:"redaction"`
}

// UserLine is one line of a users log: a user machine loaded from the
// store (Load), or one of its steps (N, Event, Effects).
type UserLine struct {
	// User is the machine's bare JID.
	User string `json:"user"`
	// Load is the machine as the store gave it; a load starts the user's
	// history again (after an eviction).
	Load *UserState `json:"load,omitempty"`
	// N counts the user's steps from 1, across loads.
	N       int          `json:"n,omitempty"`
	Event   *UserEvent   `json:"event,omitempty"`
	Effects []UserEffect `json:"effects,omitempty"`
	// Line is the line in the file it was read from (ReadUsers).
	Line int `json:"-"`
}

// UserState is what fsm.NewUser makes a user machine from.
type UserState struct {
	Exists  bool           `json:"exists"`
	Version uint64         `json:"roster_version,omitempty"`
	Items   []RosterItem   `json:"roster,omitempty"`
	Pending []PendingEntry `json:"pending,omitempty"`
}

// RosterItem is an fsm.RosterItem; Sub is the subscription's value.
type RosterItem struct {
	JID      string   `json:"jid"`
	Name     string   `json:"name,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Sub      uint8    `json:"sub,omitempty"`
	Ask      bool     `json:"ask,omitempty"`
	Approved bool     `json:"approved,omitempty"`
}

// PendingEntry is an fsm.PendingRequest.
type PendingEntry struct {
	From string `json:"from"`
	Elem string `json:"elem"`
}

// UserEvent is an fsm.UserEvent as a log holds it.
type UserEvent struct {
	Kind     string          `json:"kind"`
	From     string          `json:"from,omitempty"`
	To       string          `json:"to,omitempty"`
	Elem     string          `json:"elem,omitempty"`
	Initial  bool            `json:"initial,omitempty"`
	Directed []string        `json:"directed,omitempty"`
	Offline  []StoredMessage `json:"offline,omitempty"`
	Cause    string          `json:"cause,omitempty"`
}

// StoredMessage is an fsm.StoredMessage.
type StoredMessage struct {
	Elem  string `json:"elem"`
	Stamp string `json:"stamp"`
}

// UserEffect is an fsm.UserEffect as a log holds it.
type UserEffect struct {
	Kind     string      `json:"kind"`
	From     string      `json:"from,omitempty"`
	To       string      `json:"to,omitempty"`
	Target   string      `json:"target,omitempty"`
	Elem     string      `json:"elem,omitempty"`
	Directed []string    `json:"directed,omitempty"`
	Item     *RosterItem `json:"item,omitempty"`
	Version  uint64      `json:"version,omitempty"`
	Count    int         `json:"count,omitempty"`
}

func encodeItem(it fsm.RosterItem) RosterItem {
	return RosterItem{JID: it.JID, Name: it.Name, Groups: append([]string(nil), it.Groups...),
		Sub: uint8(it.Sub), Ask: it.Ask, Approved: it.Approved}
}

func (it RosterItem) decode() fsm.RosterItem {
	return fsm.RosterItem{JID: it.JID, Name: it.Name, Groups: append([]string(nil), it.Groups...),
		Sub: fsm.Subscription(it.Sub), Ask: it.Ask, Approved: it.Approved}
}

// EncodeUserState returns what a log keeps of a freshly loaded machine.
func EncodeUserState(u fsm.User) *UserState {
	st := &UserState{Exists: u.Exists, Version: u.Roster.Version}
	for _, it := range u.Roster.Items {
		st.Items = append(st.Items, encodeItem(it))
	}
	for _, p := range u.Pending {
		st.Pending = append(st.Pending, PendingEntry{From: p.From, Elem: encodeElem(p.Elem)})
	}
	return st
}

// DecodeUserState makes the machine of user under p that st describes.
func DecodeUserState(p *fsm.Policy, user string, st *UserState) (fsm.User, error) {
	roster := fsm.Roster{Version: st.Version}
	for _, it := range st.Items {
		roster.Items = append(roster.Items, it.decode())
	}
	var pending []fsm.PendingRequest
	for _, e := range st.Pending {
		el, err := decodeElem(e.Elem)
		if err != nil {
			return fsm.User{}, fmt.Errorf("pending request: %v", err)
		}
		pending = append(pending, fsm.PendingRequest{From: e.From, Elem: el})
	}
	return fsm.NewUser(p, user, st.Exists, roster, pending), nil
}

// EncodeUserEvent returns ev as a log holds it, redacted.
func EncodeUserEvent(ev fsm.UserEvent) *UserEvent {
	out := &UserEvent{Kind: ev.Kind.String(), From: ev.From, To: ev.To, Elem: encodeElem(ev.Elem),
		Initial: ev.Initial, Directed: append([]string(nil), ev.Directed...)}
	for _, m := range ev.Offline {
		out.Offline = append(out.Offline, StoredMessage{Elem: encodeElem(m.Elem), Stamp: m.Stamp})
	}
	if ev.Kind == fsm.UEvStoreFailed {
		out.Cause = ev.Cause.String()
	}
	return out
}

// DecodeUserEvent returns the event a log's UserEvent stands for.
func DecodeUserEvent(e *UserEvent) (fsm.UserEvent, error) {
	kind, ok := userEventKinds[e.Kind]
	if !ok {
		return fsm.UserEvent{}, fmt.Errorf("unknown user event kind %q", e.Kind)
	}
	ev := fsm.UserEvent{Kind: kind, From: e.From, To: e.To, Initial: e.Initial, Directed: e.Directed}
	var err error
	if ev.Elem, err = decodeElem(e.Elem); err != nil {
		return fsm.UserEvent{}, err
	}
	for _, m := range e.Offline {
		el, err := decodeElem(m.Elem)
		if err != nil {
			return fsm.UserEvent{}, fmt.Errorf("offline message: %v", err)
		}
		ev.Offline = append(ev.Offline, fsm.StoredMessage{Elem: el, Stamp: m.Stamp})
	}
	if e.Cause != "" {
		if ev.Cause, ok = userEventKinds[e.Cause]; !ok {
			return fsm.UserEvent{}, fmt.Errorf("unknown cause %q", e.Cause)
		}
	}
	return ev, nil
}

// EncodeUserEffects returns effects as a log holds them, redacted.
func EncodeUserEffects(effects []fsm.UserEffect) []UserEffect {
	out := make([]UserEffect, len(effects))
	for i, e := range effects {
		out[i] = UserEffect{Kind: e.Kind.String(), From: e.From, To: e.To, Target: e.Target,
			Elem: encodeElem(e.Elem), Directed: append([]string(nil), e.Directed...),
			Version: e.Version, Count: e.Count}
		if it := e.Item; it.JID != "" || it.Name != "" || len(it.Groups) > 0 || it.Sub != 0 || it.Ask || it.Approved {
			it := encodeItem(e.Item)
			out[i].Item = &it
		}
	}
	return out
}

// kinds maps the names a String method gives to the values below 255.
func kinds[K ~uint8](name func(K) string) map[string]K {
	m := map[string]K{}
	for k := K(0); k < 255; k++ {
		n := name(k)
		if _, dup := m[n]; dup {
			delete(m, n) // the name of the values past the last kind
			break
		}
		m[n] = k
	}
	return m
}

var (
	userEventKinds  = kinds(fsm.UserEventKind.String)
	userEffectKinds = kinds(fsm.UserEffectKind.String)
)
