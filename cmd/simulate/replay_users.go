package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/xmppfsm/xmppfsm/impl/record"
)

// replayedUser is the replay of one user machine of a users log.
type replayedUser struct {
	User string `json:"user"`
	// Loads and Steps count what was replayed of the user's lines.
	Loads      int               `json:"loads"`
	Steps      int               `json:"steps"`
	Identical  bool              `json:"identical"`
	Divergence *divergenceReport `json:"divergence,omitempty"`
}

// replayUsers replays a users log (record.ReplayUsers): each user machine
// from its loads, step by step.
func replayUsers(file string, lg *record.UsersLog) replayedLog {
	lr := replayedLog{File: file, Kind: "users", Started: lg.Header.Started, Steps: len(lg.Lines), Identical: true, ulog: lg}
	res, err := record.ReplayUsers(lg)
	if err != nil {
		lr.Error, lr.Identical = err.Error(), false
	}
	for _, ur := range res {
		rep := replayedUser{User: ur.User, Loads: ur.Loads, Steps: ur.Steps, Identical: ur.Divergence == nil}
		if d := ur.Divergence; d != nil {
			rep.Divergence = &divergenceReport{Step: d.Step, Line: d.Line, Event: d.Event.String(),
				Expected: strs(d.Want), Got: strs(d.Got), Diff: d.Diff}
			lr.Identical = false
		}
		lr.Replayed += ur.Loads + ur.Steps
		lr.Users = append(lr.Users, rep)
	}
	return lr
}

// writeUsers prints a users log's replay: unless quiet, its lines in order
// (a load, or a step with its event and effects) up to each user's
// divergence; then a verdict per user.
func (lr replayedLog) writeUsers(w io.Writer, quiet bool) {
	h := lr.ulog.Header
	stop := map[string]int{} // the line of each user's divergence
	width := 0
	for _, u := range lr.Users {
		width = max(width, len(u.User))
		if u.Divergence != nil {
			stop[u.User] = u.Divergence.Line
		}
	}
	if !quiet {
		fmt.Fprintf(w, "%s: user machines' log", lr.File)
		if h.Started != "" {
			fmt.Fprintf(w, ", started %s", h.Started)
		}
		fmt.Fprintf(w, "\n  policy: %s\n", describePolicy(h.Policy))
		indent := strings.Repeat(" ", 2+width+2+6+2)
		for _, ul := range lr.ulog.Lines {
			if at, ok := stop[ul.User]; ok && ul.Line >= at {
				continue
			}
			if ul.Load != nil {
				fmt.Fprintf(w, "  %-*s  %-6s  loaded: %s\n", width, ul.User, "", describeLoad(ul.Load))
				continue
			}
			fmt.Fprintf(w, "  %-*s  %-6d  ← %s\n", width, ul.User, ul.N, oneLine(ul.Event.String(), indent+"  "))
			for _, e := range ul.Effects {
				fmt.Fprintf(w, "%s→ %s\n", indent, oneLine(e.String(), indent+"  "))
			}
		}
	}
	if lr.Error != "" {
		fmt.Fprintf(w, "%s: cannot replay: %s\n", lr.File, lr.Error)
	}
	for _, u := range lr.Users {
		d := u.Divergence
		if d == nil {
			fmt.Fprintf(w, "%s: %s: %d %s, %d steps replayed, every effect identical\n", lr.File, u.User,
				u.Loads, plural(u.Loads, "load", "loads"), u.Steps)
			continue
		}
		fmt.Fprintf(w, "%s: %s: DIVERGED at step %d (line %d)\n", lr.File, u.User, d.Step, d.Line)
		d.writeText(w)
	}
}

// describeLoad says what a user machine was loaded with.
func describeLoad(st *record.UserState) string {
	account := "an account"
	if !st.Exists {
		account = "no account"
	}
	return fmt.Sprintf("%s, roster version %d with %d %s, %d pending %s", account, st.Version,
		len(st.Items), plural(len(st.Items), "item", "items"), len(st.Pending), plural(len(st.Pending), "request", "requests"))
}
