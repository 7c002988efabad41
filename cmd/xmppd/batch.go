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
// standard input (blank lines and lines starting with # skipped), derives
// every account's credentials in parallel (PBKDF2 dominates), then creates
// the accounts in order. Any bad line fails the whole batch before an
// account is created; an account that exists stops it there, with the
// accounts before it created.
func addBatch(e *env, data string) error {
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
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		j, pw, ok := strings.Cut(line, " ")
		pw = strings.TrimSpace(pw)
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
	defer st.Close()
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
	return st.Close()
}
