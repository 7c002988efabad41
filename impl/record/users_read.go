package record

import (
	"errors"
	"fmt"
	"io"

	"github.com/google/go-cmp/cmp"
	"github.com/xmppfsm/xmppfsm/fsm"
)

// UsersLog is a users log read back.
type UsersLog struct {
	Header UsersHeader
	Lines  []UserLine
}

// ReadUsers reads a users log, as Read reads a session log: its errors name
// the line. Each user's first line must be a load and its steps must count
// from 1 without a gap.
func ReadUsers(r io.Reader) (*UsersLog, error) {
	lg := &UsersLog{}
	h := &lg.Header
	steps := map[string]int{}
	loaded := map[string]bool{}
	err := scanLog(r, "users log", h, func() (string, int) { return h.Format, h.Version }, UsersFormat,
		func(line int, text []byte) error {
			var ul UserLine
			if err := strict(text, &ul); err != nil {
				return fmt.Errorf("not a user's load or step: %v", err)
			}
			if err := checkUserLine(&ul, loaded, steps); err != nil {
				return err
			}
			ul.Line = line
			lg.Lines = append(lg.Lines, ul)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return lg, nil
}

func checkUserLine(ul *UserLine, loaded map[string]bool, steps map[string]int) error {
	switch {
	case ul.User == "":
		return errors.New("no user")
	case (ul.Load == nil) == (ul.Event == nil):
		return fmt.Errorf("%s: a line is a load or a step", ul.User)
	case ul.Load != nil:
		if _, err := DecodeUserState(nil, ul.User, ul.Load); err != nil {
			return fmt.Errorf("%s: load: %v", ul.User, err)
		}
		loaded[ul.User] = true
		return nil
	case !loaded[ul.User]:
		return fmt.Errorf("%s: a step before the machine was loaded", ul.User)
	}
	steps[ul.User]++
	if ul.N != steps[ul.User] {
		return fmt.Errorf("%s: step %d where step %d should be", ul.User, ul.N, steps[ul.User])
	}
	if _, err := DecodeUserEvent(ul.Event); err != nil {
		return fmt.Errorf("%s: step %d: event: %v", ul.User, ul.N, err)
	}
	for i, e := range ul.Effects {
		if _, ok := userEffectKinds[e.Kind]; !ok {
			return fmt.Errorf("%s: step %d: effect %d: unknown user effect kind %q", ul.User, ul.N, i+1, e.Kind)
		}
		if _, err := decodeElem(e.Elem); err != nil {
			return fmt.Errorf("%s: step %d: effect %d: %v", ul.User, ul.N, i+1, err)
		}
	}
	return nil
}

// UserReplayed is the replay of one user's machine.
type UserReplayed struct {
	User string
	// Loads and Steps count the loads and the steps replayed.
	Loads, Steps int
	// Divergence is the user's first step whose effects differ from the
	// log's, nil when none does.
	Divergence *UserDivergence
}

// UserDivergence is a user machine's step whose effects differ.
type UserDivergence struct {
	Step, Line int
	Event      *UserEvent
	Want, Got  []UserEffect
	// Diff is cmp.Diff(Want, Got): - the log, + the machine.
	Diff string
}

// ReplayUsers replays each user of the log, in the order the users first
// appear: at a load, a fresh machine (fsm.NewUser under the header's
// policy) from the state the log holds; at a step, fsm.StepUser, whose
// effects must be the log's, modulo redaction. A user's replay stops at its
// first divergence; the others go on.
func ReplayUsers(lg *UsersLog) (res []UserReplayed, err error) {
	p := lg.Header.Policy
	index := map[string]int{}
	machines := map[string]fsm.User{}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the machine panicked: %v", r)
		}
	}()
	for _, ul := range lg.Lines {
		i, ok := index[ul.User]
		if !ok {
			i = len(res)
			index[ul.User] = i
			res = append(res, UserReplayed{User: ul.User})
		}
		ur := &res[i]
		if ur.Divergence != nil {
			continue
		}
		if ul.Load != nil {
			u, err := DecodeUserState(&p, ul.User, ul.Load)
			if err != nil {
				return res, fmt.Errorf("line %d: %v", ul.Line, err)
			}
			machines[ul.User] = u
			ur.Loads++
			continue
		}
		ev, err := DecodeUserEvent(ul.Event)
		if err != nil {
			return res, fmt.Errorf("line %d: %v", ul.Line, err)
		}
		ur.Steps++
		u, effects := fsm.StepUser(machines[ul.User], ev)
		machines[ul.User] = u
		got := EncodeUserEffects(effects)
		if !cmp.Equal(ul.Effects, got, equateEmpty) {
			ur.Divergence = &UserDivergence{Step: ul.N, Line: ul.Line, Event: ul.Event, Want: ul.Effects, Got: got,
				Diff: cmp.Diff(ul.Effects, got, equateEmpty)}
		}
	}
	return res, nil
}
