package main

import (
	"bufio"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/xmppfsm/xmppfsm/impl/store"
)

// addBatch is 'user add --batch': it reads lines of "JID PASSWORD" from
// standard input (blank lines and lines starting with # skipped): the JID,
// then a run of spaces or tabs, then the password, which is the rest of
// the line exactly (inner and trailing spaces kept; it cannot start with a
// space or a tab). It derives every account's credentials in parallel
// (PBKDF2 dominates), then creates the accounts in order. Any bad line
// fails the whole batch before an account is created; an account that
// exists stops it there, with the accounts before it created.
func addBatch(e *env, data string) (err error) {
	type entry struct {
		line  int
		local string
		pw    string
		creds []byte
		err   error
	}
	var entries []*entry
	sc := bufio.NewScanner(e.stdin)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		j, pw, ok := cutBlank(line)
		if !ok || pw == "" {
			return fmt.Errorf("line %d: want 'JID PASSWORD'", n)
		}
		local, err := localOf(j)
		if err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		entries = append(entries, &entry{line: n, local: local, pw: pw})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading standard input: %v", err)
	}
	work := make(chan *entry)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for en := range work {
				en.creds, en.err = credentials(en.pw)
			}
		})
	}
	for _, en := range entries {
		work <- en
	}
	close(work)
	wg.Wait()
	for _, en := range entries {
		if en.err != nil {
			return fmt.Errorf("line %d: %v", en.line, en.err)
		}
	}
	st, err := openStore(data)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}()
	for _, en := range entries {
		err := st.CreateAccount(en.local, en.creds)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("line %d: user %s already exists", en.line, en.local)
		}
		if err != nil {
			return fmt.Errorf("line %d: %v", en.line, err)
		}
	}
	fmt.Fprintf(e.stdout, "added %d users\n", len(entries))
	return nil
}

// cutBlank cuts s around its first run of spaces and tabs: what comes
// before it and everything after it, unchanged.
func cutBlank(s string) (before, after string, found bool) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), true
}
