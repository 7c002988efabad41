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
