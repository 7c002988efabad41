package fsm

import "github.com/beevik/etree"

// This file answers stanzas addressed to the server itself (a served domain
// with no localpart; RFC 6120 §10.3, §10.5): service discovery (XEP-0030)
// and ping (XEP-0199); everything else that asks for an answer gets
// service-unavailable.

// Namespaces the server answers, and the feature of offline storage.
const (
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSPing       = "urn:xmpp:ping"
	// FeatureOffline is listed when offline messages are stored (XEP-0160
	// §4).
	FeatureOffline = "msgoffline"
)

// ServerFeatures returns the features the server lists in disco#info
// under policy p (nil: DefaultPolicy).
func ServerFeatures(p *Policy) []string {
	fs := []string{NSDiscoInfo, NSDiscoItems, NSPing}
	if p == nil {
		p = &DefaultPolicy
	}
	if p.offline() {
		fs = append(fs, FeatureOffline)
	}
	return fs
}

// AnswerServer returns what the server does with el, sent from from to its
// domain host (I-50) under policy p (nil: DefaultPolicy): the answers are
// routed back to from.
func AnswerServer(p *Policy, host, from string, el *etree.Element) []UserEffect {
	typ := attr(el, "type")
	answer := func(e *etree.Element) []UserEffect {
		return []UserEffect{{Kind: UEffRoute, From: host, To: from, Elem: e}}
	}
	switch Classify(el) {
	case ClassIQ:
		if typ != "get" && typ != "set" {
			return nil
		}
		n, child := childElements(el)
		if n == 1 && typ == "get" {
			switch ns := namespace(child); {
			case ns == NSPing && child.Tag == "ping":
				return answer(iqResult(attr(el, "id"), "", nil))
			case ns == NSDiscoInfo && child.Tag == "query" && attr(child, "node") == "":
				q := nsElement("query", NSDiscoInfo)
				id := q.CreateElement("identity")
				id.CreateAttr("category", "server")
				id.CreateAttr("type", "im")
				for _, f := range ServerFeatures(p) {
					q.CreateElement("feature").CreateAttr("var", f)
				}
				return answer(iqResult(attr(el, "id"), "", q))
			case ns == NSDiscoItems && child.Tag == "query" && attr(child, "node") == "":
				return answer(iqResult(attr(el, "id"), "", nsElement("query", NSDiscoItems)))
			case (ns == NSDiscoInfo || ns == NSDiscoItems) && child.Tag == "query":
				e := stanzaError(el, "", errCancel, "item-not-found", "") // XEP-0030 §7
				e.RemoveAttr("from")
				return answer(e)
			}
		}
	case ClassPresence:
		return nil
	}
	if typ == "error" {
		return nil
	}
	e := stanzaError(el, "", errCancel, "service-unavailable", "")
	e.RemoveAttr("from")
	return answer(e)
}
