// Package router is the production hub: it carries events and effects
// between the sessions of many connections and the user machines of
// package fsm, concurrently, as impl/README.md plans. Like package hub it
// decides nothing: fsm.Step, fsm.StepUser and fsm.AnswerServer make every
// protocol decision; the router looks up the addressee and hands the
// effect over as an event. It starts no goroutine: all work is done by the
// goroutines that call Conn.Step (one reader per connection) and
// Router.Shutdown.
//
// # Locks
//
//   - Conn.mu guards one session (and the full JIDs the registry maps to
//     it). It is held while fsm.Step runs and while that step's writes go
//     to the connection's output function, and for nothing else: the
//     step's other effects are carried out after it is released.
//   - cell.mu guards one user machine. It is held while fsm.StepUser runs
//     and while its store effects and its deliveries are carried out, so
//     that a user's writes and deliveries keep their order. A delivery
//     (UEffDeliver → EvRouted) steps the target session from the
//     delivering goroutine, under the cell. A user's deliveries go only to
//     its own sessions (fsm addresses UEffDeliver to one of the user's
//     resources), so the writes made under a cell are to the cell's user.
//     Routes to users (other ones, or the same one again) are queued in the
//     goroutine's local FIFO and carried out after the cell is released, in
//     order; so is whatever a routed step asks of a user machine (S-81).
//   - Conn.order is held by the goroutine that steps a session for the
//     session's own sake (its Step, or EvReplaced / EvShutdown, which end
//     it) from before fsm.Step until the step's user events (UEvBound,
//     UEvBroadcast, UEvOutbound, UEvUnbound) have been given to the user
//     machine. Without it a replacing connection or Shutdown could give the
//     user machine a session's UEvUnbound before the UEvBound or presence
//     the session's own goroutine is about to carry out, and the user
//     machine would keep a resource no session holds. Routed stanzas do not
//     take it.
//   - Shard mutexes of the three sharded maps (users, the resource registry
//     full JID → *Conn with each user's count, attached connections) are
//     leaves: held only for one map operation.
//   - The store's own locks are leaves too.
//
// The lock order is Conn.order → cell.mu → Conn.mu → shard mutex (and the
// output function, the store). Every path takes locks in that order and at
// most one of each kind, so no cycle can form:
//
//   - no goroutine holds two cells: a user's routes wait in the FIFO, and
//     an answer a user machine needs at once (UEffLoadOffline) steps the
//     same cell again without unlocking it;
//   - no goroutine holds two Conn.order: a replaced holder is stepped by
//     the replacing connection after it released its own Conn.order, and a
//     goroutine holding Conn.order only steps user machines and delivers
//     stanzas, which never wait for a Conn.order;
//   - a session is stepped under a cell, never a cell under a session.
//
// The output function is called under Conn.mu and often under a cell: it
// must not block (append to the connection's capped buffer, impl/README.md
// "Output") and must not call into the router.
//
// # Order
//
// One goroutine carries out everything a connection's step causes before
// the next step, so the stanzas of one session reach a user, and its
// sessions, in the order sent; nothing orders stanzas from different
// sources. A user's store writes and deliveries happen in the order its
// machine asked for them. A resource's UEvUnbound reaches its user before
// the UEvBound of a connection that replaced it.
//
// # The registry
//
// A reservation maps the full JID to the connection (under Conn.mu, only
// while the session still waits for the answer, so a session closed
// meanwhile cannot leak an entry); EffReleaseResource and the close of a
// session remove the entries that still map to it. Under ConflictReplace
// the registry is taken over first and the holder is stepped with
// EvReplaced afterwards, outside every lock; stanzas routed to the full JID
// in between reach the new session, which answers them as a session that
// is not yet bound does (S-81).
//
// The registry is sharded by bare JID and keeps each user's count of full
// JIDs in the same shard, so that a grant and the count it reports (S-99)
// are one critical section, taken before any previous holder is stepped. A
// grant that adds a full JID is pending until its session has stepped it
// (kept or handed back); a takeover of a settled full JID reports the count
// without the pending grants, so a concurrent bind of one resource too many
// cannot make it look over the limit after its holder was told to go.
//
// # Store failures
//
// Store effects are carried out, and complete, before the effects that
// follow. The writes of one user step (roster items, pending requests) are
// committed first, in one store.Store.Commit; when it fails (counted in
// Stats.StoreErrors) the step's new machine and all its effects are
// dropped and the machine from before it is stepped with
// fsm.UEvStoreFailed, which answers the stanza with resource-constraint
// (I-56): nobody hears of a change the store does not hold. A failed
// deletion of delivered offline messages is only counted (they may be
// delivered again); messages whose delivery was not handed over (the
// session closed during the flush, S-98) are not deleted
// (fsm.UEffDeleteOffline). A user machine that cannot be loaded answers EffLoadRoster with
// EvRosterFailed and loses the events addressed to it. A stored message
// refused (store.ErrQuotaExceeded, counted in Stats.OfflineDropped, or any
// write error) is handed back to the user machine as UEvOfflineRefused,
// which bounces it with service-unavailable (I-27, RFC 6121 §8.5.2.1.1).
//
// # Memory
//
// A user machine left with no connected resource after a step is kept
// among the idle ones, at most Options.IdleUsers (1,024 by default), the
// most recently stepped; the least recently stepped beyond that number is
// dropped from memory (evicted), after the cell of the step that pushed it
// out is released, unless it was stepped again meanwhile. A cell whose
// machine could not be loaded is dropped at once. Everything a machine
// without a resource holds (roster, pending requests, whether the account
// exists) is in the store, written before the cell was released, and the
// next event for an evicted user loads it again. So memory follows the
// connected users and a bounded number of idle ones, not every address
// ever used, and an offline user who gets stanzas often (a contact's
// presence fanned out to a thousand offline contacts) is not read and
// decoded from the store for each. A goroutine that found a cell before it
// was dropped sees it marked gone once it holds it and looks the user up
// again. (Since a step whose writes fail is dropped whole (I-56), the
// store and the machine agree; only a failed deletion of delivered offline
// messages leaves more in the store than the machine believes, and those
// are delivered again.) A cell loaded for a bind (EffLoadRoster) whose
// session closed before it was bound stays without a resource until the
// user's next event.
package router
