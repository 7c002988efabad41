package hub

import (
	"fmt"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Header returns the event of a client's stream header to host.
func Header(host string) fsm.Event {
	return fsm.Event{Kind: fsm.EvStreamOpen, Header: &fsm.StreamHeader{
		Space: fsm.NSStreams, Local: "stream", Default: fsm.NSClient, To: host, Version: "1.0"}}
}

// Element parses XML text into an element event.
func Element(text string) (fsm.Event, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(text); err != nil {
		return fsm.Event{}, err
	}
	root := doc.Root()
	if root == nil {
		return fsm.Event{}, fmt.Errorf("no element in %q", text)
	}
	doc.RemoveChild(root)
	return fsm.Event{Kind: fsm.EvElement, Elem: root}, nil
}

// SendXML feeds a client's element, given as XML text, to conn.
func (h *Hub) SendXML(conn, text string) error {
	ev, err := Element(text)
	if err != nil {
		return err
	}
	h.Send(conn, ev)
	return nil
}

// Login connects conn and logs user in on host with SASL PLAIN, binding
// resource (a generated one when empty). It returns the bound full JID, or
// an error naming the phase the session stopped in.
func (h *Hub) Login(conn, host, user, password, resource string) (string, error) {
	h.Connect(conn)
	h.Send(conn, Header(host))
	auth := fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", fsm.NSSASL, PlainAuth(user, password))
	if err := h.SendXML(conn, auth); err != nil {
		return "", err
	}
	h.Send(conn, Header(host))
	res := ""
	if resource != "" {
		res = "<resource>" + resource + "</resource>"
	}
	if err := h.SendXML(conn, fmt.Sprintf("<iq type='set' id='bind'><bind xmlns='%s'>%s</bind></iq>", fsm.NSBind, res)); err != nil {
		return "", err
	}
	s, _ := h.Session(conn)
	if s.Phase != fsm.Established {
		return "", fmt.Errorf("login of %s on %s stopped in %v", user, conn, s.Phase)
	}
	return s.FullJID, nil
}
