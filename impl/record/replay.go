package record

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// Divergence is the first step at which a replayed session's effects
// differ from its log's.
type Divergence struct {
	// Step is the step's number (Step.N).
	Step int
	// Event is the step's event, as the log holds it.
	Event Event
	// Want are the effects the log holds, Got those the machine produced
	// (encoded and redacted as the log's were).
	Want, Got []Effect
	// Diff is cmp.Diff(Want, Got): - the log, + the machine.
	Diff string
}

// Replayed is the outcome of Replay.
type Replayed struct {
	// Steps is the number of steps replayed (up to and including a
	// divergence).
	Steps int
	// Divergence is the first step whose effects differ, nil when every
	// step produced the effects of the log.
	Divergence *Divergence
	// Session is the machine's session after the last step replayed.
	Session fsm.Session
}

// equateEmpty makes no effects and no directed addresses equal however
// they were decoded.
var equateEmpty = cmpopts.EquateEmpty()

// Replay runs the log's events, in order, through a fresh session machine
// under the log's policy (fsm.New, fsm.Step: no server, no network) and
// compares each step's effects with the log's, modulo redaction: the
// machine's effects are encoded and redacted as the recorder did. It stops
// at the first divergence. An error means the log cannot be replayed (an
// event that does not decode, which Read already refuses, or a machine that
// panicked).
func Replay(lg *Log) (res Replayed, err error) {
	p := lg.Header.Policy
	s := fsm.New(&p)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step %d: the machine panicked: %v", res.Steps, r)
		}
	}()
	for _, st := range lg.Steps {
		ev, err := DecodeEvent(st.Event)
		if err != nil {
			return res, fmt.Errorf("step %d: event: %v", st.N, err)
		}
		res.Steps++
		var effects []fsm.Effect
		s, effects = fsm.Step(s, ev)
		res.Session = s
		got := EncodeEffects(effects)
		if !cmp.Equal(st.Effects, got, equateEmpty) {
			res.Divergence = &Divergence{Step: st.N, Event: st.Event, Want: st.Effects, Got: got,
				Diff: cmp.Diff(st.Effects, got, equateEmpty)}
			return res, nil
		}
	}
	return res, nil
}
