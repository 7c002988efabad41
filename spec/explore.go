package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xmppfsm/xmppfsm/fsm"
)

// StepFunc is a session machine: fsm.Step, or a broken one in a test.
type StepFunc func(fsm.Session, fsm.Event) (fsm.Session, []fsm.Effect)

// Exploration is what Explore found.
type Exploration struct {
	// States is the number of distinct abstract states reached.
	States int
	// Transitions is the number of (state, input) pairs stepped.
	Transitions int
	// Phases counts the reached states per phase.
	Phases map[fsm.Phase]int
	// Violations lists every failed check, each with the shortest input
	// path from the zero session that shows it.
	Violations []Violation
}

// Violation is one failed check.
type Violation struct {
	Path  []Input
	Check string // which check failed: "invariant", "model", "pure", "closed", "answer", "panic"
	Err   error
}

func (v Violation) String() string {
	names := make([]string, len(v.Path))
	for i, in := range v.Path {
		names[i] = in.String()
	}
	return fmt.Sprintf("%s: %v\n  shortest path: %s", v.Check, v.Err, strings.Join(names, " → "))
}

// Checks names the checks Explore makes after every step.
var Checks = []string{
	"invariant: (fsm.Session).Check() holds (SI-1…SI-14)",
	"model: the abstract state is the one Model.Next predicts",
	"pure: Step leaves its argument unchanged",
	"closed: a closed session produces no effect (S-4)",
	"answer: every element from the client in an open phase gets an effect or a state change",
	"panic: Step does not panic",
}

// Explore runs step breadth-first from the zero session with policy p over
// the whole alphabet until no new abstract state appears, checking every
// transition. Each abstract state is explored from the first concrete
// session that reached it, so every violation comes with a shortest path.
func Explore(p *fsm.Policy, step StepFunc) Exploration {
	model := Model{Policy: p}
	type node struct {
		s    fsm.Session
		path []Input
	}
	start := fsm.New(p)
	seen := map[State]bool{Abstract(start): true}
	queue := []node{{s: start}}
	x := Exploration{Phases: map[fsm.Phase]int{}}
	reported := map[string]bool{}
	report := func(path []Input, check string, err error) {
		// One shortest example per check, phase and input.
		var from fsm.Phase
		if len(path) > 0 {
			from = Abstract(replay(p, step, path[:len(path)-1])).Phase
		}
		key := fmt.Sprint(check, from, path[len(path)-1])
		if reported[key] {
			return // one shortest example per distinct failure
		}
		reported[key] = true
		x.Violations = append(x.Violations, Violation{Path: path, Check: check, Err: err})
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		x.States++
		x.Phases[n.s.Phase]++
		from := Abstract(n.s)
		for _, in := range Inputs {
			x.Transitions++
			path := append(slices.Clip(n.path), in)
			before := n.s.Fields()
			next, effects, err := safeStep(step, n.s, in.Event())
			if err != nil {
				report(path, "panic", err)
				continue
			}
			if err := next.Check(); err != nil {
				report(path, "invariant", err)
			}
			if !slices.Equal(before, n.s.Fields()) {
				report(path, "pure", fmt.Errorf("step changed its argument"))
			}
			if n.s.Phase == fsm.Closed && len(effects) > 0 {
				report(path, "closed", fmt.Errorf("%d effects from a closed session", len(effects)))
			}
			to := Abstract(next)
			if want := model.Next(from, in); to != want {
				report(path, "model", fmt.Errorf("after %v in %+v: fsm reached %+v, the model %+v", in, from, to, want))
			}
			if in.element() && n.s.Phase != fsm.Unconnected && n.s.Phase != fsm.Closed &&
				len(effects) == 0 && Abstract(next) == from && slices.Equal(next.Fields(), n.s.Fields()) {
				report(path, "answer", fmt.Errorf("%v in %v: no effect and no change", in, n.s.Phase))
			}
			if !seen[to] {
				seen[to] = true
				queue = append(queue, node{s: next, path: path})
			}
		}
	}
	return x
}

// safeStep steps and turns a panic into an error.
func safeStep(step StepFunc, s fsm.Session, ev fsm.Event) (next fsm.Session, effects []fsm.Effect, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	next, effects = step(s, ev)
	return next, effects, nil
}

// replay steps the inputs of path from the zero session, ignoring panics.
func replay(p *fsm.Policy, step StepFunc, path []Input) fsm.Session {
	s := fsm.New(p)
	for _, in := range path {
		if next, _, err := safeStep(step, s, in.Event()); err == nil {
			s = next
		}
	}
	return s
}
