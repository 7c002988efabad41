package fsm_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// The tables of RFC 6121 Appendix A, one row per row of the RFC, with the
// cells written as the RFC writes them (footnote markers included). The
// only liberty is the kind column, which the RFC puts in each table's
// heading. spec/subscriptions.md renders the same tables.

// appendixRow is a row of a table of Appendix A.2 or A.3.
type appendixRow struct {
	state string // EXISTING STATE
	kind  string // the table: "subscribe", "unsubscribe", "subscribed", "unsubscribed"
	act   string // ROUTE? (A.2) or DELIVER? (A.3)
	next  string // NEW STATE
}

// appendixA2 is Appendix A.2, Tables 2 to 5.
var appendixA2 = []appendixRow{
	// A.2.1, Table 2: Processing of outbound "subscribe" stanzas
	{"None", "subscribe", "MUST [1]", "None + Pending Out"},
	{"None + Pending Out", "subscribe", "MUST", "no state change"},
	{"None + Pending In", "subscribe", "MUST [1]", "None + Pending Out+In"},
	{"None + Pending Out+In", "subscribe", "MUST", "no state change"},
	{"To", "subscribe", "MUST", "no state change"},
	{"To + Pending In", "subscribe", "MUST", "no state change"},
	{"From", "subscribe", "MUST [1]", "From + Pending Out"},
	{"From + Pending Out", "subscribe", "MUST", "no state change"},
	{"Both", "subscribe", "MUST", "no state change"},

	// A.2.2, Table 3: Processing of outbound "unsubscribe" stanzas
	{"None", "unsubscribe", "MUST", "no state change"},
	{"None + Pending Out", "unsubscribe", "MUST", "None"},
	{"None + Pending In", "unsubscribe", "MUST", "no state change"},
	{"None + Pending Out+In", "unsubscribe", "MUST", "None + Pending In"},
	{"To", "unsubscribe", "MUST", "None"},
	{"To + Pending In", "unsubscribe", "MUST", "None + Pending In"},
	{"From", "unsubscribe", "MUST", "no state change"},
	{"From + Pending Out", "unsubscribe", "MUST", "From"},
	{"Both", "unsubscribe", "MUST", "From"},

	// A.2.3, Table 4: Processing of outbound "subscribed" stanzas
	{"None", "subscribed", "M.N.", "pre-approval [1]"},
	{"None + Pending Out", "subscribed", "M.N.", "pre-approval [1]"},
	{"None + Pending In", "subscribed", "MUST", "From"},
	{"None + Pending Out+In", "subscribed", "MUST", "From + Pending Out"},
	{"To", "subscribed", "M.N.", "pre-approval [1]"},
	{"To + Pending In", "subscribed", "MUST", "Both"},
	{"From", "subscribed", "M.N.", "no state change"},
	{"From + Pending Out", "subscribed", "M.N.", "no state change"},
	{"Both", "subscribed", "M.N.", "no state change"},

	// A.2.4, Table 5: Processing of outbound "unsubscribed" stanzas
	{"None", "unsubscribed", "S.N.", "no state change [1]"},
	{"None + Pending Out", "unsubscribed", "S.N.", "no state change [1]"},
	{"None + Pending In", "unsubscribed", "MUST", "None"},
	{"None + Pending Out+In", "unsubscribed", "MUST", "None + Pending Out"},
	{"To", "unsubscribed", "S.N.", "no state change [1]"},
	{"To + Pending In", "unsubscribed", "MUST", "To"},
	{"From", "unsubscribed", "MUST", "None"},
	{"From + Pending Out", "unsubscribed", "MUST", "None + Pending Out"},
	{"Both", "unsubscribed", "MUST", "To"},
}

// appendixA3 is Appendix A.3, Tables 6 to 9.
var appendixA3 = []appendixRow{
	// A.3.1, Table 6: Processing of inbound "subscribe" stanzas
	{"None", "subscribe", "MUST [1]", "None + Pending In"},
	{"None + Pending Out", "subscribe", "MUST", "None + Pending Out+In"},
	{"None + Pending In", "subscribe", "S.N.", "no state change"},
	{"None + Pending Out+In", "subscribe", "S.N.", "no state change"},
	{"To", "subscribe", "MUST", "To + Pending In"},
	{"To + Pending In", "subscribe", "S.N.", "no state change"},
	{"From", "subscribe", "S.N. [2]", "no state change"},
	{"From + Pending Out", "subscribe", "S.N. [2]", "no state change"},
	{"Both", "subscribe", "S.N. [2]", "no state change"},

	// A.3.2, Table 7: Processing of inbound "unsubscribe" stanzas
	{"None", "unsubscribe", "S.N.", "no state change"},
	{"None + Pending Out", "unsubscribe", "S.N.", "no state change"},
	{"None + Pending In", "unsubscribe", "MUST [1]", "None"},
	{"None + Pending Out+In", "unsubscribe", "MUST [1]", "None + Pending Out"},
	{"To", "unsubscribe", "S.N.", "no state change"},
	{"To + Pending In", "unsubscribe", "MUST [1]", "To"},
	{"From", "unsubscribe", "MUST [1]", "None"},
	{"From + Pending Out", "unsubscribe", "MUST [1]", "None + Pending Out"},
	{"Both", "unsubscribe", "MUST [1]", "To"},

	// A.3.3, Table 8: Processing of inbound "subscribed" stanzas
	{"None", "subscribed", "S.N.", "no state change"},
	{"None + Pending Out", "subscribed", "MUST", "To"},
	{"None + Pending In", "subscribed", "S.N.", "no state change"},
	{"None + Pending Out+In", "subscribed", "MUST", "To + Pending In"},
	{"To", "subscribed", "S.N.", "no state change"},
	{"To + Pending In", "subscribed", "S.N.", "no state change"},
	{"From", "subscribed", "S.N.", "no state change"},
	{"From + Pending Out", "subscribed", "MUST", "Both"},
	{"Both", "subscribed", "S.N.", "no state change"},

	// A.3.4, Table 9: Processing of inbound "unsubscribed" stanzas
	{"None", "unsubscribed", "S.N.", "no state change"},
	{"None + Pending Out", "unsubscribed", "MUST", "None"},
	{"None + Pending In", "unsubscribed", "S.N.", "no state change"},
	{"None + Pending Out+In", "unsubscribed", "MUST", "None + Pending In"},
	{"To", "unsubscribed", "MUST", "None"},
	{"To + Pending In", "unsubscribed", "MUST", "None + Pending In"},
	{"From", "unsubscribed", "S.N.", "no state change"},
	{"From + Pending Out", "unsubscribed", "MUST", "From"},
	{"Both", "unsubscribed", "MUST", "From"},
}

// subStateNames maps the names of Appendix A.1 to states. It is written out
// here, not derived from SubState.String, so that the tests do not trust
// the code they check.
var subStateNames = map[string]fsm.SubState{
	"None":                  {Sub: fsm.SubNone},
	"None + Pending Out":    {Sub: fsm.SubNone, PendingOut: true},
	"None + Pending In":     {Sub: fsm.SubNone, PendingIn: true},
	"None + Pending Out+In": {Sub: fsm.SubNone, PendingOut: true, PendingIn: true},
	"To":                    {Sub: fsm.SubTo},
	"To + Pending In":       {Sub: fsm.SubTo, PendingIn: true},
	"From":                  {Sub: fsm.SubFrom},
	"From + Pending Out":    {Sub: fsm.SubFrom, PendingOut: true},
	"Both":                  {Sub: fsm.SubBoth},
}

// subKindNames maps the stanza types to kinds.
var subKindNames = map[string]fsm.SubKind{
	"subscribe":    fsm.Subscribe,
	"subscribed":   fsm.Subscribed,
	"unsubscribe":  fsm.Unsubscribe,
	"unsubscribed": fsm.Unsubscribed,
}

// footnoteRE matches a cell with a footnote marker, "MUST [1]".
var footnoteRE = regexp.MustCompile(`^(.*) \[([0-9])\]$`)

// splitNote splits a cell into its text and its footnote number (0 for
// none).
func splitNote(cell string) (string, uint8) {
	m := footnoteRE.FindStringSubmatch(cell)
	if m == nil {
		return cell, 0
	}
	n, _ := strconv.Atoi(m[2])
	return m[1], uint8(n)
}

// parseState returns the state an RFC name stands for.
func parseState(t *testing.T, name string) fsm.SubState {
	t.Helper()
	st, ok := subStateNames[name]
	if !ok {
		t.Fatalf("%q is not a state of RFC 6121 A.1", name)
	}
	return st
}

// parseKind returns the kind a stanza type stands for.
func parseKind(t *testing.T, name string) fsm.SubKind {
	t.Helper()
	k, ok := subKindNames[name]
	if !ok {
		t.Fatalf("%q is not a subscription stanza type", name)
	}
	return k
}

// wantRow is what an RFC row says, parsed.
type wantRow struct {
	st          fsm.SubState
	k           fsm.SubKind
	act         string // "MUST", "S.N." or "M.N."
	next        fsm.SubState
	preApproval bool
	note        uint8
}

// parseRow parses a row of the RFC. A footnote marker may sit in either
// column; no RFC row has two.
func parseRow(t *testing.T, r appendixRow) wantRow {
	t.Helper()
	w := wantRow{st: parseState(t, r.state), k: parseKind(t, r.kind)}
	act, n1 := splitNote(r.act)
	next, n2 := splitNote(r.next)
	if n1 != 0 && n2 != 0 {
		t.Fatalf("row %v has two footnotes", r)
	}
	w.act, w.note = act, n1+n2
	switch next {
	case "no state change":
		w.next = w.st
	case "pre-approval":
		w.next, w.preApproval = w.st, true
	default:
		w.next = parseState(t, next)
	}
	return w
}

// checkTable checks every row of an RFC table against the function that
// applies it and the one that returns its row.
func checkTable(t *testing.T, rows []appendixRow,
	apply func(fsm.SubState, fsm.SubKind) (fsm.SubState, bool),
	row func(fsm.SubState, fsm.SubKind) (fsm.SubRow, bool)) {
	t.Helper()
	for _, r := range rows {
		w := parseRow(t, r)
		name := r.kind + " in " + r.state
		next, act := apply(w.st, w.k)
		if next != w.next || act != (w.act == "MUST") {
			t.Errorf("%s: got (%v, %v), RFC row says (%v, %v): %v", name, next, act, w.next, w.act == "MUST", r)
		}
		got, ok := row(w.st, w.k)
		if !ok {
			t.Errorf("%s: no row", name)
			continue
		}
		if got.Act.String() != w.act || got.Next != w.next || got.PreApproval != w.preApproval || got.Note != w.note {
			t.Errorf("%s: row {%v %v pre-approval=%v note=%d}, RFC row says {%s %v pre-approval=%v note=%d}",
				name, got.Act, got.Next, got.PreApproval, got.Note, w.act, w.next, w.preApproval, w.note)
		}
	}
}

// TestAppendixA2 checks every row of RFC 6121 Appendix A.2 (outbound).
func TestAppendixA2(t *testing.T) {
	checkTable(t, appendixA2, fsm.Outbound, fsm.OutboundRow)
}

// TestAppendixA3 checks every row of RFC 6121 Appendix A.3 (inbound).
func TestAppendixA3(t *testing.T) {
	checkTable(t, appendixA3, fsm.Inbound, fsm.InboundRow)
}

// TestAppendixTablesCoverGrid checks that each table above has exactly one
// row for every pair of a state of A.1 and a stanza type, so that a missing
// or doubled row cannot go unnoticed, and that the rows come in the RFC's
// order: state by state within each kind, kinds in the order of A.2.
func TestAppendixTablesCoverGrid(t *testing.T) {
	kinds := []string{"subscribe", "unsubscribe", "subscribed", "unsubscribed"}
	for name, rows := range map[string][]appendixRow{"A.2": appendixA2, "A.3": appendixA3} {
		if len(rows) != len(fsm.States)*len(kinds) {
			t.Errorf("%s has %d rows, want %d", name, len(rows), len(fsm.States)*len(kinds))
		}
		seen := map[[2]string]int{}
		for _, r := range rows {
			parseState(t, r.state)
			parseKind(t, r.kind)
			seen[[2]string{r.state, r.kind}]++
		}
		for _, k := range kinds {
			for st := range subStateNames {
				if n := seen[[2]string{st, k}]; n != 1 {
					t.Errorf("%s has %d rows for %s in %q, want 1", name, n, k, st)
				}
			}
		}
		for i, r := range rows {
			if i >= len(fsm.States)*len(kinds) {
				break
			}
			wantState := fsm.States[i%len(fsm.States)]
			wantKind := kinds[i/len(fsm.States)]
			if parseState(t, r.state) != wantState || r.kind != wantKind {
				t.Errorf("%s row %d is %s in %q, the RFC's row %d is %s in %q", name, i+1, r.kind, r.state, i+1, wantKind, wantState)
			}
		}
	}
	// The code's tables have no other rows than the RFC's: outside the
	// grid, there is no row.
	for _, st := range allSubStates() {
		for k := fsm.SubKind(0); k <= fsm.Unsubscribed+1; k++ {
			_, okOut := fsm.OutboundRow(st, k)
			_, okIn := fsm.InboundRow(st, k)
			want := st.Valid() && k >= fsm.Subscribe && k <= fsm.Unsubscribed
			if okOut != want || okIn != want {
				t.Errorf("%v, %v: rows found (out %v, in %v), want %v", st, k, okOut, okIn, want)
			}
		}
	}
}

// allSubStates returns every value of SubState with a known subscription:
// the nine states and the seven combinations that are not states.
func allSubStates() []fsm.SubState {
	var all []fsm.SubState
	for sub := fsm.SubNone; sub <= fsm.SubBoth; sub++ {
		for _, out := range []bool{false, true} {
			for _, in := range []bool{false, true} {
				all = append(all, fsm.SubState{Sub: sub, PendingOut: out, PendingIn: in})
			}
		}
	}
	return all
}

// TestAppendixResultsValid checks that every row of both tables leads to
// one of the nine states.
func TestAppendixResultsValid(t *testing.T) {
	for _, st := range fsm.States {
		for k := fsm.Subscribe; k <= fsm.Unsubscribed; k++ {
			if next, _ := fsm.Outbound(st, k); !next.Valid() {
				t.Errorf("outbound %v in %q leads to %q", k, st, next)
			}
			if next, _ := fsm.Inbound(st, k); !next.Valid() {
				t.Errorf("inbound %v in %q leads to %q", k, st, next)
			}
			if next, _ := fsm.PreApprove(st); !next.Valid() {
				t.Errorf("pre-approval in %q leads to %q", st, next)
			}
		}
	}
}

// TestSubStateValid checks that exactly the nine states of A.1 are valid,
// that States lists them in the RFC's order with the RFC's names, and that
// the names of the others say they are not states.
func TestSubStateValid(t *testing.T) {
	// A.1's numbered list.
	names := []string{
		"None", "None + Pending Out", "None + Pending In", "None + Pending Out+In",
		"To", "To + Pending In", "From", "From + Pending Out", "Both",
	}
	if len(fsm.States) != len(names) {
		t.Fatalf("States has %d states, A.1 has %d", len(fsm.States), len(names))
	}
	for i, name := range names {
		if fsm.States[i] != parseState(t, name) || fsm.States[i].String() != name {
			t.Errorf("States[%d] is %q (%#v), A.1 item %d is %q", i, fsm.States[i], fsm.States[i], i+1, name)
		}
	}
	valid := 0
	for _, st := range allSubStates() {
		_, named := subStateNames[st.String()]
		if st.Valid() {
			valid++
		}
		if st.Valid() != named {
			t.Errorf("%#v: Valid() = %v, but its name %q is a state of A.1: %v", st, st.Valid(), st, named)
		}
	}
	if valid != 9 {
		t.Errorf("%d valid states, want 9", valid)
	}
	// States outside A.1 are named after their parts, and say so.
	for st, want := range map[fsm.SubState]string{
		{Sub: fsm.SubTo, PendingOut: true}:                  "To + Pending Out (invalid)",
		{Sub: fsm.SubTo, PendingOut: true, PendingIn: true}: "To + Pending Out+In (invalid)",
		{Sub: fsm.SubFrom, PendingIn: true}:                 "From + Pending In (invalid)",
		{Sub: fsm.SubBoth, PendingOut: true}:                "Both + Pending Out (invalid)",
	} {
		if got := st.String(); got != want {
			t.Errorf("%#v is named %q, want %q", st, got, want)
		}
	}
}

// TestSubStrings checks the names of subscriptions, kinds and requirements.
func TestSubStrings(t *testing.T) {
	for want, got := range map[string]string{
		"none": fsm.SubNone.String(), "to": fsm.SubTo.String(),
		"from": fsm.SubFrom.String(), "both": fsm.SubBoth.String(),
		"Subscription(4)": fsm.Subscription(4).String(),
		"subscribe":       fsm.Subscribe.String(), "subscribed": fsm.Subscribed.String(),
		"unsubscribe": fsm.Unsubscribe.String(), "unsubscribed": fsm.Unsubscribed.String(),
		"SubKind(0)": fsm.SubKind(0).String(),
		"MUST":       fsm.Must.String(), "S.N.": fsm.ShouldNot.String(), "M.N.": fsm.MustNot.String(),
		"Requirement(0)": fsm.Requirement(0).String(),
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	for name, k := range subKindNames {
		if k.String() != name {
			t.Errorf("%v is named %q, want %q", k, k.String(), name)
		}
	}
}

// TestSubOutsideTables checks that a state that is not one of A.1's, or a
// kind that is not a subscription type, changes nothing and sends nothing.
func TestSubOutsideTables(t *testing.T) {
	bad := fsm.SubState{Sub: fsm.SubBoth, PendingIn: true}
	for k := fsm.Subscribe; k <= fsm.Unsubscribed; k++ {
		if next, route := fsm.Outbound(bad, k); next != bad || route {
			t.Errorf("outbound %v in %q: (%q, %v)", k, bad, next, route)
		}
		if next, deliver := fsm.Inbound(bad, k); next != bad || deliver {
			t.Errorf("inbound %v in %q: (%q, %v)", k, bad, next, deliver)
		}
	}
	for _, st := range fsm.States {
		if next, route := fsm.Outbound(st, 0); next != st || route {
			t.Errorf("outbound kind 0 in %q: (%q, %v)", st, next, route)
		}
		if next, deliver := fsm.Inbound(st, 9); next != st || deliver {
			t.Errorf("inbound kind 9 in %q: (%q, %v)", st, next, deliver)
		}
	}
	if next, ok := fsm.PreApprove(bad); next != bad || ok {
		t.Errorf("pre-approval in %q: (%q, %v)", bad, next, ok)
	}
}

// TestSubPreApprove checks PreApprove against the list of RFC 6121 §3.4.2,
// written out, and against Table 4 (A.2.3): the two must agree.
func TestSubPreApprove(t *testing.T) {
	for _, c := range []struct {
		state, next string
		preApproved bool
		item        int // the item of §3.4.2
	}{
		{"Both", "Both", false, 1},
		{"From", "From", false, 1},
		{"From + Pending Out", "From + Pending Out", false, 1},
		{"To + Pending In", "Both", false, 2},
		{"None + Pending In", "From", false, 2},
		{"None + Pending Out+In", "From + Pending Out", false, 2},
		{"To", "To", true, 3},
		{"None", "None", true, 3}, // also item 4: no roster item yet
		{"None + Pending Out", "None + Pending Out", true, 3},
	} {
		st := parseState(t, c.state)
		next, ok := fsm.PreApprove(st)
		if next != parseState(t, c.next) || ok != c.preApproved {
			t.Errorf("§3.4.2 item %d, %q: got (%q, %v), want (%q, %v)", c.item, c.state, next, ok, c.next, c.preApproved)
		}
	}
	for _, st := range fsm.States {
		next, ok := fsm.PreApprove(st)
		row, _ := fsm.OutboundRow(st, fsm.Subscribed)
		if next != row.Next || ok != row.PreApproval {
			t.Errorf("%q: PreApprove gives (%q, %v), Table 4 gives (%q, pre-approval %v)", st, next, ok, row.Next, row.PreApproval)
		}
		// Routed exactly when it is a normal approval (§3.4.2 item 2).
		if route := row.Act == fsm.Must; route != (next != st) {
			t.Errorf("%q: Table 4 routes %v but the state changes %v", st, route, next != st)
		}
	}
}

// TestAppendixAgreesWithProse checks the rows of Appendix A against the
// prose of RFC 6121 §3 where the two agree; spec/subscriptions.md lists the
// places where they do not.
func TestAppendixAgreesWithProse(t *testing.T) {
	// §3.1.2 and §3.3.2: an outbound subscribe or unsubscribe is always
	// routed (subject to local policy).
	for _, st := range fsm.States {
		for _, k := range []fsm.SubKind{fsm.Subscribe, fsm.Unsubscribe} {
			if _, route := fsm.Outbound(st, k); !route {
				t.Errorf("§3.1.2/§3.3.2: outbound %v in %q is not routed", k, st)
			}
		}
	}
	// §3.1.6: an inbound subscribed changes the state and is delivered
	// exactly in "None + Pending Out", "None + Pending Out+In" and "From +
	// Pending Out", giving "To", "To" (pending in kept) and "Both".
	for _, st := range fsm.States {
		next, deliver := fsm.Inbound(st, fsm.Subscribed)
		check := st.PendingOut && (st.Sub == fsm.SubNone || st.Sub == fsm.SubFrom)
		if deliver != check || (next != st) != check {
			t.Errorf("§3.1.6: inbound subscribed in %q: (%q, %v)", st, next, deliver)
		}
		if check && (next.PendingOut || next.PendingIn != st.PendingIn ||
			next.Sub != map[fsm.Subscription]fsm.Subscription{fsm.SubNone: fsm.SubTo, fsm.SubFrom: fsm.SubBoth}[st.Sub]) {
			t.Errorf("§3.1.6: inbound subscribed in %q leads to %q", st, next)
		}
	}
	// §3.2.2 item 1: an outbound unsubscribed in "None", "None + Pending
	// Out" or "To" is not routed; item 3: otherwise it is.
	for _, st := range fsm.States {
		_, route := fsm.Outbound(st, fsm.Unsubscribed)
		quiet := !st.PendingIn && (st.Sub == fsm.SubNone || st.Sub == fsm.SubTo)
		if route == quiet {
			t.Errorf("§3.2.2: outbound unsubscribed in %q routed: %v", st, route)
		}
	}
	// §3.3.3: an inbound unsubscribe from a contact with a subscription
	// ("From", "From + Pending Out", "Both") is delivered and removes the
	// contact's subscription.
	for _, st := range []fsm.SubState{parseState(t, "From"), parseState(t, "From + Pending Out"), parseState(t, "Both")} {
		next, deliver := fsm.Inbound(st, fsm.Unsubscribe)
		if !deliver || next.Sub == fsm.SubFrom || next.Sub == fsm.SubBoth || next.PendingOut != st.PendingOut {
			t.Errorf("§3.3.3: inbound unsubscribe in %q: (%q, %v)", st, next, deliver)
		}
	}
	// §3.2.3: an inbound unsubscribed to a user with a subscription ("To",
	// "To + Pending In", "Both") is delivered and gives "None", "None"
	// (pending in kept) or "From".
	for _, st := range []fsm.SubState{parseState(t, "To"), parseState(t, "To + Pending In"), parseState(t, "Both")} {
		next, deliver := fsm.Inbound(st, fsm.Unsubscribed)
		want := map[fsm.Subscription]fsm.Subscription{fsm.SubTo: fsm.SubNone, fsm.SubBoth: fsm.SubFrom}[st.Sub]
		if !deliver || next.Sub != want || next.PendingIn != st.PendingIn {
			t.Errorf("§3.2.3: inbound unsubscribed in %q: (%q, %v)", st, next, deliver)
		}
	}
}
