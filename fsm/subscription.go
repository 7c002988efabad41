package fsm

import "strconv"

// This file holds RFC 6121 Appendix A (subscription states) as data: the nine
// states of A.1 and the eight tables of A.2 (outbound) and A.3 (inbound), one
// map entry per row of the RFC, in the RFC's order, so that each line can be
// read against the RFC. spec/subscriptions.md renders the same tables and
// says where they came from, where the RFC's prose disagrees with them and
// where Prosody does something else.
//
// States are seen from the user's side, as in the RFC: the user's roster
// item for the contact plus whether a subscription request from the contact
// is waiting for the user's answer.

// Subscription is a roster item's subscription (RFC 6121 §2.1.2.5).
type Subscription uint8

// The values of the roster item's 'subscription' attribute.
const (
	SubNone Subscription = iota // neither has a subscription to the other
	SubTo                       // the user has a subscription to the contact's presence
	SubFrom                     // the contact has a subscription to the user's presence
	SubBoth                     // both, the union of to and from
)

// String returns the attribute value: "none", "to", "from" or "both".
func (s Subscription) String() string {
	switch s {
	case SubNone:
		return "none"
	case SubTo:
		return "to"
	case SubFrom:
		return "from"
	case SubBoth:
		return "both"
	}
	return "Subscription(" + strconv.Itoa(int(s)) + ")"
}

// SubState is a contact's subscription state as Appendix A.1 defines it:
// the subscription and the pending flags. PendingOut is the roster item's
// ask='subscribe' (the user asked the contact and has no answer yet);
// PendingIn is a subscription request from the contact that the user has
// not answered. The zero value is "None", which also stands for a contact
// that is not in the roster at all (A.1, Implementation Note).
type SubState struct {
	Sub        Subscription
	PendingOut bool
	PendingIn  bool
}

// The nine states of Appendix A.1, named as the RFC names them.
var (
	stNone      = SubState{Sub: SubNone}                                    // "None"
	stNoneOut   = SubState{Sub: SubNone, PendingOut: true}                  // "None + Pending Out"
	stNoneIn    = SubState{Sub: SubNone, PendingIn: true}                   // "None + Pending In"
	stNoneOutIn = SubState{Sub: SubNone, PendingOut: true, PendingIn: true} // "None + Pending Out+In"
	stTo        = SubState{Sub: SubTo}                                      // "To"
	stToIn      = SubState{Sub: SubTo, PendingIn: true}                     // "To + Pending In"
	stFrom      = SubState{Sub: SubFrom}                                    // "From"
	stFromOut   = SubState{Sub: SubFrom, PendingOut: true}                  // "From + Pending Out"
	stBoth      = SubState{Sub: SubBoth}                                    // "Both"
)

// States lists the nine states of Appendix A.1 in the RFC's order.
var States = []SubState{
	stNone, stNoneOut, stNoneIn, stNoneOutIn,
	stTo, stToIn,
	stFrom, stFromOut,
	stBoth,
}

// String returns the state's name as RFC 6121 Appendix A.1 writes it:
// "None", "None + Pending Out", "None + Pending In", "None + Pending Out+In",
// "To", "To + Pending In", "From", "From + Pending Out" or "Both". (RFC 3921
// §9 wrote the fourth one "None + Pending Out/In".) A state that is not
// [SubState.Valid] gets a name of the same shape marked "(invalid)".
func (s SubState) String() string {
	switch s {
	case stNone:
		return "None"
	case stNoneOut:
		return "None + Pending Out"
	case stNoneIn:
		return "None + Pending In"
	case stNoneOutIn:
		return "None + Pending Out+In"
	case stTo:
		return "To"
	case stToIn:
		return "To + Pending In"
	case stFrom:
		return "From"
	case stFromOut:
		return "From + Pending Out"
	case stBoth:
		return "Both"
	}
	name := s.Sub.String()
	if s.Sub <= SubBoth {
		name = [...]string{"None", "To", "From", "Both"}[s.Sub]
	}
	switch {
	case s.PendingOut && s.PendingIn:
		name += " + Pending Out+In"
	case s.PendingOut:
		name += " + Pending Out"
	case s.PendingIn:
		name += " + Pending In"
	}
	return name + " (invalid)"
}

// Valid reports whether s is one of the nine states of Appendix A.1. A
// pending outbound request needs a user who is not yet subscribed to the
// contact (so there is no "To + Pending Out"), a pending inbound request
// needs a contact who is not yet subscribed to the user (no "From + Pending
// In"), and "Both" has nothing pending.
func (s SubState) Valid() bool {
	switch s {
	case stNone, stNoneOut, stNoneIn, stNoneOutIn,
		stTo, stToIn,
		stFrom, stFromOut,
		stBoth:
		return true
	}
	return false
}

// SubKind is a subscription stanza type: a presence stanza's 'type'
// attribute (RFC 6121 §4.7.1) when it manages a subscription.
type SubKind uint8

// The four subscription stanza types, in the order of Appendix A.2.
const (
	Subscribe    SubKind = iota + 1 // type='subscribe': ask for a subscription
	Subscribed                      // type='subscribed': approve (or pre-approve) one
	Unsubscribe                     // type='unsubscribe': end one's own subscription
	Unsubscribed                    // type='unsubscribed': deny or cancel the other's
)

// String returns the 'type' attribute value, e.g. "subscribe".
func (k SubKind) String() string {
	switch k {
	case Subscribe:
		return "subscribe"
	case Subscribed:
		return "subscribed"
	case Unsubscribe:
		return "unsubscribe"
	case Unsubscribed:
		return "unsubscribed"
	}
	return "SubKind(" + strconv.Itoa(int(k)) + ")"
}

// Requirement is a cell of the ROUTE? column of Appendix A.2 or the
// DELIVER? column of Appendix A.3: how strongly the RFC asks the server to
// route (or deliver) the stanza.
type Requirement uint8

// The values the RFC's tables use.
const (
	Must      Requirement = iota + 1 // "MUST": route (deliver) the stanza
	ShouldNot                        // "S.N.": SHOULD NOT route (deliver) it
	MustNot                          // "M.N.": MUST NOT route (deliver) it
)

// String returns the cell as the RFC writes it: "MUST", "S.N." or "M.N.".
func (r Requirement) String() string {
	switch r {
	case Must:
		return "MUST"
	case ShouldNot:
		return "S.N."
	case MustNot:
		return "M.N."
	}
	return "Requirement(" + strconv.Itoa(int(r)) + ")"
}

// SubRow is one row of a table of Appendix A.2 or A.3, resolved: Next is
// always a state, where the RFC's NEW STATE column may say "no state change"
// or "pre-approval".
type SubRow struct {
	// Act is the ROUTE? (A.2) or DELIVER? (A.3) column.
	Act Requirement
	// Next is the NEW STATE column; the existing state where the RFC
	// says "no state change" or "pre-approval".
	Next SubState
	// PreApproval reports that the NEW STATE column says "pre-approval"
	// (A.2.3 only): the state does not change, the server records a
	// pre-approval instead (§3.4; see PreApprove).
	PreApproval bool
	// Note is the number of the footnote the row refers to ("[1]" is
	// 1), 0 for none. The footnotes are listed with the tables below.
	Note uint8
}

// subKey addresses a row: the existing state and the stanza's type.
type subKey struct {
	st SubState
	k  SubKind
}

// subCell is a row as the RFC writes it. In next, the two markers stand for
// the RFC's words "no state change" and "pre-approval".
type subCell struct {
	act  Requirement
	next SubState
	note uint8
}

// The words of the NEW STATE column that are not states. Neither is Valid.
var (
	noStateChange = SubState{Sub: 0xfe}
	preApproval   = SubState{Sub: 0xff}
)

// outboundTable is Appendix A.2: the user's server processing a
// subscription stanza that the user sends to the contact. Columns: EXISTING
// STATE, then ROUTE?, NEW STATE and footnote.
//
// Footnotes:
//   - Table 2 [1]: a change to "pending out" sets the roster item's ask
//     attribute to "subscribe".
//   - Table 4 [1]: pre-approval is described in §3.4.
//   - Table 5 [1]: the stanza can cancel a subscription pre-approval (§3.4).
var outboundTable = map[subKey]subCell{
	// A.2.1 Subscribe, Table 2: Processing of outbound "subscribe" stanzas
	{stNone, Subscribe}:      {Must, stNoneOut, 1},
	{stNoneOut, Subscribe}:   {Must, noStateChange, 0},
	{stNoneIn, Subscribe}:    {Must, stNoneOutIn, 1},
	{stNoneOutIn, Subscribe}: {Must, noStateChange, 0},
	{stTo, Subscribe}:        {Must, noStateChange, 0},
	{stToIn, Subscribe}:      {Must, noStateChange, 0},
	{stFrom, Subscribe}:      {Must, stFromOut, 1},
	{stFromOut, Subscribe}:   {Must, noStateChange, 0},
	{stBoth, Subscribe}:      {Must, noStateChange, 0},

	// A.2.2 Unsubscribe, Table 3: Processing of outbound "unsubscribe" stanzas
	{stNone, Unsubscribe}:      {Must, noStateChange, 0},
	{stNoneOut, Unsubscribe}:   {Must, stNone, 0},
	{stNoneIn, Unsubscribe}:    {Must, noStateChange, 0},
	{stNoneOutIn, Unsubscribe}: {Must, stNoneIn, 0},
	{stTo, Unsubscribe}:        {Must, stNone, 0},
	{stToIn, Unsubscribe}:      {Must, stNoneIn, 0},
	{stFrom, Unsubscribe}:      {Must, noStateChange, 0},
	{stFromOut, Unsubscribe}:   {Must, stFrom, 0},
	{stBoth, Unsubscribe}:      {Must, stFrom, 0},

	// A.2.3 Subscribed, Table 4: Processing of outbound "subscribed" stanzas
	{stNone, Subscribed}:      {MustNot, preApproval, 1},
	{stNoneOut, Subscribed}:   {MustNot, preApproval, 1},
	{stNoneIn, Subscribed}:    {Must, stFrom, 0},
	{stNoneOutIn, Subscribed}: {Must, stFromOut, 0},
	{stTo, Subscribed}:        {MustNot, preApproval, 1},
	{stToIn, Subscribed}:      {Must, stBoth, 0},
	{stFrom, Subscribed}:      {MustNot, noStateChange, 0},
	{stFromOut, Subscribed}:   {MustNot, noStateChange, 0},
	{stBoth, Subscribed}:      {MustNot, noStateChange, 0},

	// A.2.4 Unsubscribed, Table 5: Processing of outbound "unsubscribed" stanzas
	{stNone, Unsubscribed}:      {ShouldNot, noStateChange, 1},
	{stNoneOut, Unsubscribed}:   {ShouldNot, noStateChange, 1},
	{stNoneIn, Unsubscribed}:    {Must, stNone, 0},
	{stNoneOutIn, Unsubscribed}: {Must, stNoneOut, 0},
	{stTo, Unsubscribed}:        {ShouldNot, noStateChange, 1},
	{stToIn, Unsubscribed}:      {Must, stTo, 0},
	{stFrom, Unsubscribed}:      {Must, stNone, 0},
	{stFromOut, Unsubscribed}:   {Must, stNoneOut, 0},
	{stBoth, Unsubscribed}:      {Must, stTo, 0},
}

// inboundTable is Appendix A.3: the user's server processing a
// subscription stanza that the contact sends to the user. Columns: EXISTING
// STATE, then DELIVER?, NEW STATE and footnote.
//
// Footnotes:
//   - Table 6 [1]: if the user pre-approved the contact (A.2.3, §3.4), the
//     server MAY answer "subscribed" itself and go to "From" instead.
//   - Table 6 [2]: the server SHOULD answer "subscribed" itself.
//   - Table 7 [1]: the server SHOULD answer "unsubscribed" itself.
var inboundTable = map[subKey]subCell{
	// A.3.1 Subscribe, Table 6: Processing of inbound "subscribe" stanzas
	{stNone, Subscribe}:      {Must, stNoneIn, 1},
	{stNoneOut, Subscribe}:   {Must, stNoneOutIn, 0},
	{stNoneIn, Subscribe}:    {ShouldNot, noStateChange, 0},
	{stNoneOutIn, Subscribe}: {ShouldNot, noStateChange, 0},
	{stTo, Subscribe}:        {Must, stToIn, 0},
	{stToIn, Subscribe}:      {ShouldNot, noStateChange, 0},
	{stFrom, Subscribe}:      {ShouldNot, noStateChange, 2},
	{stFromOut, Subscribe}:   {ShouldNot, noStateChange, 2},
	{stBoth, Subscribe}:      {ShouldNot, noStateChange, 2},

	// A.3.2 Unsubscribe, Table 7: Processing of inbound "unsubscribe" stanzas
	{stNone, Unsubscribe}:      {ShouldNot, noStateChange, 0},
	{stNoneOut, Unsubscribe}:   {ShouldNot, noStateChange, 0},
	{stNoneIn, Unsubscribe}:    {Must, stNone, 1},
	{stNoneOutIn, Unsubscribe}: {Must, stNoneOut, 1},
	{stTo, Unsubscribe}:        {ShouldNot, noStateChange, 0},
	{stToIn, Unsubscribe}:      {Must, stTo, 1},
	{stFrom, Unsubscribe}:      {Must, stNone, 1},
	{stFromOut, Unsubscribe}:   {Must, stNoneOut, 1},
	{stBoth, Unsubscribe}:      {Must, stTo, 1},

	// A.3.3 Subscribed, Table 8: Processing of inbound "subscribed" stanzas
	{stNone, Subscribed}:      {ShouldNot, noStateChange, 0},
	{stNoneOut, Subscribed}:   {Must, stTo, 0},
	{stNoneIn, Subscribed}:    {ShouldNot, noStateChange, 0},
	{stNoneOutIn, Subscribed}: {Must, stToIn, 0},
	{stTo, Subscribed}:        {ShouldNot, noStateChange, 0},
	{stToIn, Subscribed}:      {ShouldNot, noStateChange, 0},
	{stFrom, Subscribed}:      {ShouldNot, noStateChange, 0},
	{stFromOut, Subscribed}:   {Must, stBoth, 0},
	{stBoth, Subscribed}:      {ShouldNot, noStateChange, 0},

	// A.3.4 Unsubscribed, Table 9: Processing of inbound "unsubscribed" stanzas
	{stNone, Unsubscribed}:      {ShouldNot, noStateChange, 0},
	{stNoneOut, Unsubscribed}:   {Must, stNone, 0},
	{stNoneIn, Unsubscribed}:    {ShouldNot, noStateChange, 0},
	{stNoneOutIn, Unsubscribed}: {Must, stNoneIn, 0},
	{stTo, Unsubscribed}:        {Must, stNone, 0},
	{stToIn, Unsubscribed}:      {Must, stNoneIn, 0},
	{stFrom, Unsubscribed}:      {ShouldNot, noStateChange, 0},
	{stFromOut, Unsubscribed}:   {Must, stFrom, 0},
	{stBoth, Unsubscribed}:      {Must, stFrom, 0},
}

// subLookup resolves the row of table for st and k.
func subLookup(table map[subKey]subCell, st SubState, k SubKind) (SubRow, bool) {
	c, ok := table[subKey{st, k}]
	if !ok {
		return SubRow{}, false
	}
	r := SubRow{Act: c.act, Next: c.next, Note: c.note}
	switch c.next {
	case noStateChange:
		r.Next = st
	case preApproval:
		r.Next = st
		r.PreApproval = true
	}
	return r, true
}

// OutboundRow returns the row of Appendix A.2 for an outbound subscription
// stanza of kind k in state st, and false if st is not Valid or k is not one
// of the four kinds.
func OutboundRow(st SubState, k SubKind) (SubRow, bool) {
	return subLookup(outboundTable, st, k)
}

// InboundRow returns the row of Appendix A.3 for an inbound subscription
// stanza of kind k in state st, and false if st is not Valid or k is not one
// of the four kinds.
func InboundRow(st SubState, k SubKind) (SubRow, bool) {
	return subLookup(inboundTable, st, k)
}

// Outbound returns the state after the user's server processes an outbound
// subscription stanza of kind k (Appendix A.2) and whether the stanza is
// routed to the contact: true where the ROUTE? column says MUST, false where
// it says SHOULD NOT or MUST NOT. An outbound "subscribed" where Appendix
// A.2.3 says "pre-approval" leaves the state as it is; [PreApprove] says
// what it records. A state that is not Valid, or a kind that is not one of
// the four, is outside the tables: Outbound returns st and false.
func Outbound(st SubState, k SubKind) (next SubState, route bool) {
	r, ok := OutboundRow(st, k)
	if !ok {
		return st, false
	}
	return r.Next, r.Act == Must
}

// Inbound returns the state after the user's server processes an inbound
// subscription stanza from the contact (Appendix A.3) and whether it is
// delivered to the user's client(s): true where the DELIVER? column says
// MUST, false where it says SHOULD NOT. The automatic replies the footnotes
// ask for are not part of the result (see [InboundRow]). A state that is not
// Valid, or a kind that is not one of the four, is outside the tables:
// Inbound returns st and false.
func Inbound(st SubState, k SubKind) (next SubState, deliver bool) {
	r, ok := InboundRow(st, k)
	if !ok {
		return st, false
	}
	return r.Next, r.Act == Must
}

// PreApprove returns what the user's server does with an outbound
// "subscribed" stanza when it supports pre-approvals, as RFC 6121 §3.4.2
// lists it for each state:
//
//  1. "Both", "From", "From + Pending Out": the stanza is silently
//     ignored; the state does not change and nothing is pre-approved.
//  2. "To + Pending In", "None + Pending In", "None + Pending Out+In": it
//     is a normal approval (§3.1.5); the state becomes "Both", "From" or
//     "From + Pending Out" and the stanza is routed.
//  3. "To", "None", "None + Pending Out": the server sets the roster item's
//     'approved' flag to true and does not route the stanza; the state does
//     not change. With no roster item (item 4) the server creates one in
//     state "None" with the flag set.
//
// preApproved reports case 3. The pre-approval is not part of SubState:
// Appendix A.1 has no state for it. An inbound "subscribe" from a
// pre-approved contact is answered with "subscribed" by the server and not
// delivered (§3.4.2); an outbound "unsubscribed" cancels the pre-approval
// and is not routed (§3.2.2, Table 5 [1]). A state that is not Valid gets
// st and false.
func PreApprove(st SubState) (next SubState, preApproved bool) {
	switch st {
	case stBoth, stFrom, stFromOut: // §3.4.2 item 1
		return st, false
	case stToIn: // §3.4.2 item 2
		return stBoth, false
	case stNoneIn: // §3.4.2 item 2
		return stFrom, false
	case stNoneOutIn: // §3.4.2 item 2
		return stFromOut, false
	case stTo, stNone, stNoneOut: // §3.4.2 items 3 and 4
		return st, true
	}
	return st, false
}
