package server

import "github.com/xmppfsm/xmppfsm/fsm"

// Recorder records every step of every session (Config.Record): the event
// each connection's session machine was stepped with and the effects it
// produced, in order, and likewise for the user machines. impl/record's Dir
// writes them to a file per connection and one for the users, with the
// credentials left out.
type Recorder interface {
	// Open starts the log of connection conn, whose session runs under
	// policy p, before its first step; it returns where the log goes. A
	// connection whose log cannot be opened is served unrecorded.
	Open(conn string, p *fsm.Policy) (string, error)
	// Step records one step of conn's session. It is called with the
	// session's lock held, one step at a time for each session, and must
	// not block for long (see router.Options.Observe).
	Step(conn string, ev fsm.Event, effects []fsm.Effect)
	// Close ends conn's log once its connection has ended; its error is
	// logged.
	Close(conn string) error
	// UserLoaded records a user machine as the store gave it, and
	// UserStep each step of it (see router.Options.ObserveUser).
	UserLoaded(user string, u fsm.User)
	UserStep(user string, ev fsm.UserEvent, effects []fsm.UserEffect)
}
