package fsm

import "github.com/beevik/etree"

// UserEventKind says what happened to a user. Each kind documents the
// UserEvent fields it uses.
type UserEventKind uint8

// The events a hub feeds to StepUser.
const (
	// UEvBound: the session with full JID From became a connected resource.
	UEvBound UserEventKind = iota
	// UEvUnbound: the session with full JID From released its resource
	// (EffReleaseResource). Elem is its implicit unavailable presence, if
	// any, and Directed its directed-presence targets.
	UEvUnbound
	// UEvBroadcast: the resource From broadcast presence Elem (EffBroadcast):
	// Initial for its first available presence; Directed, for unavailable,
	// its directed-presence targets.
	UEvBroadcast
	// UEvOutbound: the resource From sent Elem to To (EffRoute).
	UEvOutbound
	// UEvInbound: Elem arrives from From (another entity) addressed to To,
	// the user's bare JID or one of its full JIDs. For presence to the bare
	// JID, Directed lists full JIDs of the user that get it even if not
	// available (the sender's directed-presence targets).
	UEvInbound
	// UEvOfflineLoaded: the stored offline messages asked for by
	// UEffLoadOffline, for resource To, oldest first.
	UEvOfflineLoaded
	// UEvOfflineRefused: the store would not keep the message Elem (from
	// From to To) that UEffStoreOffline asked it to (the user's offline
	// quota is full, or the write failed).
	UEvOfflineRefused
	// UEvStoreFailed: the store refused the writes (IsWrite) of the step on
	// the event of kind Cause, with that event's From, To and Elem. The hub
	// steps the User it had before that step, whose writes and other
	// effects it did not carry out (I-56).
	UEvStoreFailed

	numUserEventKinds
)

var userEventNames = [numUserEventKinds]string{
	"bound", "unbound", "broadcast", "outbound", "inbound", "offline-loaded", "offline-refused",
	"store-failed",
}

// String returns the event kind's name.
func (k UserEventKind) String() string {
	if k < numUserEventKinds {
		return userEventNames[k]
	}
	return "user-event(?)"
}

// UserEvent is one input to StepUser. Kind says which fields matter.
type UserEvent struct {
	Kind     UserEventKind
	From, To string
	Elem     *etree.Element
	Initial  bool
	Directed []string
	Offline  []StoredMessage // UEvOfflineLoaded
	Cause    UserEventKind   // UEvStoreFailed
}

// StoreFailed returns the UEvStoreFailed event that tells the machine, as
// it was before ev, that the store refused the writes of its step on ev
// (I-56).
func (ev UserEvent) StoreFailed() UserEvent {
	return UserEvent{Kind: UEvStoreFailed, Cause: ev.Kind, From: ev.From, To: ev.To, Elem: ev.Elem}
}

// StoredMessage is a message kept in offline storage: the element with its
// final from and to, and when the server received it (XEP-0082 date-time,
// from the adapter's clock).
type StoredMessage struct {
	Elem  *etree.Element
	Stamp string
}

// UserEffectKind says what the hub must do for a user machine.
type UserEffectKind uint8

// The effects StepUser asks for. Store effects are carried out, durably,
// before the effects that follow them. The writes of one step (the effects
// for which IsWrite is true) are carried out before any other effect of
// that step, all at once: all or none. When they fail, the hub carries out
// none of the step's effects, keeps the User it stepped and steps it with
// UEvStoreFailed (I-56).
const (
	// UEffDeliver: give Elem to the session of the user's resource Target
	// as EvRouted, with From and To written over the element's own.
	UEffDeliver UserEffectKind = iota
	// UEffRoute: hand Elem from From to To, an entity of this server: the
	// user machine of To's bare JID (UEvInbound), or the server's own
	// answers (AnswerServer) when To is a served domain.
	UEffRoute
	// UEffSaveItem: store roster item Item and the roster version Version.
	UEffSaveItem
	// UEffRemoveItem: remove the roster item of Item.JID and store the
	// roster version Version.
	UEffRemoveItem
	// UEffSavePending: store the pending subscription request Elem from From.
	UEffSavePending
	// UEffDeletePending: forget the pending request from From.
	UEffDeletePending
	// UEffStoreOffline: keep message Elem (from From to To) for later, with
	// the time of storage.
	UEffStoreOffline
	// UEffLoadOffline: load the stored messages and answer with
	// UEvOfflineLoaded for resource To.
	UEffLoadOffline
	// UEffDeleteOffline: delete stored messages that were just delivered,
	// oldest first. It ends the step that flushes them (I-27), whose Count
	// UEffDeliver effects before it carry the Count oldest stored messages
	// in order. The hub deletes as many of them as it handed over, counted
	// from the first of those deliveries up to the first it did not hand
	// over: a delivery is handed over when the target session was open when
	// stepped with it (EvRouted), the connection's output refused none of
	// that step's writes (S-98 closes a session whose output is full) and
	// the adapter had not found the connection dead (a write failed).
	// Handed over means appended to the connection's output, not read by the
	// client: without XEP-0198 the server cannot know that. A message not
	// handed over, and every one after it, stays stored for the next flush.
	UEffDeleteOffline

	numUserEffectKinds
)

var userEffectNames = [numUserEffectKinds]string{
	"deliver", "route", "save-item", "remove-item", "save-pending",
	"delete-pending", "store-offline", "load-offline", "delete-offline",
}

// IsWrite reports whether the effect kind changes the user's stored roster
// or pending requests: the writes a hub commits at once for each step.
// Offline storage is not among them: a refused message has an answer of its
// own (UEvOfflineRefused).
func (k UserEffectKind) IsWrite() bool {
	return k == UEffSaveItem || k == UEffRemoveItem || k == UEffSavePending || k == UEffDeletePending
}

// String returns the effect kind's name.
func (k UserEffectKind) String() string {
	if k < numUserEffectKinds {
		return userEffectNames[k]
	}
	return "user-effect(?)"
}

// UserEffect is one thing the hub must do for a user machine.
type UserEffect struct {
	Kind     UserEffectKind
	From, To string
	Target   string // UEffDeliver: the full JID of the session
	Elem     *etree.Element
	// Directed, for UEffRoute of presence to a bare JID: full JIDs of that
	// user that must get it even if not available (UEvInbound.Directed).
	Directed []string
	Item     RosterItem // UEffSaveItem, UEffRemoveItem
	Version  uint64     // UEffSaveItem, UEffRemoveItem
	Count    int        // UEffDeleteOffline: at most this many
}
