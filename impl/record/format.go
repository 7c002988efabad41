package record

import (
	"strconv"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// This file renders a log's events and effects as one line each, as fsm's
// Event.String and Effect.String do, with the log's redacted text as it is
// and a SASL payload as its length.

// String renders the event: its kind, its fields and its element.
func (e Event) String() string {
	ev, err := DecodeEvent(e)
	if err != nil {
		return e.Kind + " (" + err.Error() + ")"
	}
	ev.Elem, ev.Data = parseRedacted(e.Elem), nil
	return ev.String() + dataNote(e.DataBytes)
}

// String renders the effect: its kind, its fields and its element.
func (e Effect) String() string {
	eff := fsm.Effect{Kind: effectKinds[e.Kind], From: e.From, To: e.To, Mechanism: e.Mechanism,
		Username: e.Username, Resource: e.Resource, Replace: e.Replace, Initial: e.Initial,
		Directed: e.Directed, Elem: parseRedacted(e.Elem)}
	if h := e.Header; h != nil {
		eff.Header = &fsm.OutHeader{ID: h.ID, From: h.From, To: h.To, Version: h.Version, Lang: h.Lang}
	}
	eff.Timer, _ = decodeTimer(e.Timer)
	return eff.String() + dataNote(e.DataBytes)
}

// parseRedacted parses a log's element as it is (nil when it does not
// parse: Read refuses such logs).
func parseRedacted(s string) *etree.Element {
	if s == "" {
		return nil
	}
	doc := etree.NewDocument()
	if doc.ReadFromString(s) != nil {
		return nil
	}
	return doc.Root()
}

func dataNote(n *int) string {
	if n == nil {
		return ""
	}
	return " data=<" + strconv.Itoa(*n) + " bytes, redacted>"
}

// String renders the user event as fsm renders it, with the log's redacted
// text as it is.
func (e UserEvent) String() string {
	ev, err := DecodeUserEvent(&e)
	if err != nil {
		return e.Kind + " (" + err.Error() + ")"
	}
	ev.Elem = parseRedacted(e.Elem)
	for i, m := range e.Offline {
		ev.Offline[i].Elem = parseRedacted(m.Elem)
	}
	return ev.String()
}

// String renders the user effect as fsm renders it.
func (e UserEffect) String() string {
	eff := fsm.UserEffect{Kind: userEffectKinds[e.Kind], From: e.From, To: e.To, Target: e.Target,
		Elem: parseRedacted(e.Elem), Directed: e.Directed, Version: e.Version, Count: e.Count}
	if e.Item != nil {
		eff.Item = e.Item.decode()
	}
	return eff.String()
}
