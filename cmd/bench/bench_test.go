package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmppfsm/xmppfsm/impl/sasl"
	"github.com/xmppfsm/xmppfsm/impl/server"
	"github.com/xmppfsm/xmppfsm/impl/server/servertest"
)

// startServer runs impl/server on loopback, plaintext with PLAIN allowed,
// with accounts user1..userN (password "password"), and returns a target
// for it.
func startServer(t *testing.T, users int) *target {
	t.Helper()
	accounts := map[string]string{}
	for i := 1; i <= users; i++ {
		accounts["user"+strconv.Itoa(i)] = "password"
	}
	srv := servertest.Start(t, server.Config{InsecurePlain: true, Iterations: sasl.DefaultIterations}, accounts)
	return &target{
		addr: srv.Addr, domain: "localhost", prefix: "user", first: 1,
		creds:   &credentials{mech: "PLAIN", password: "password"},
		pids:    pidList{os.Getpid()},
		timeout: 10 * time.Second,
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLogins(t *testing.T) {
	tg := startServer(t, 6)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"} {
		t.Run(mech, func(t *testing.T) {
			tg.creds = &credentials{mech: mech, password: "password"}
			r := runLogins(testCtx(t), tg, 6, 3)
			if r.OK != 6 || r.Failed != 0 {
				t.Fatalf("ok %d failed %v, want 6 and none", r.OK, r.FailedBy)
			}
			if r.Latency.P99ms <= 0 || r.PerSec <= 0 {
				t.Errorf("no figures: %+v", r)
			}
		})
	}
}

func TestLoginFailureCounted(t *testing.T) {
	tg := startServer(t, 2)
	tg.creds.password = "wrong"
	r := runLogins(testCtx(t), tg, 2, 2)
	if r.OK != 0 || r.Failed != 2 || r.FailedBy["auth"] != 2 {
		t.Fatalf("ok %d failed %d by %v, want 2 failures at auth", r.OK, r.Failed, r.FailedBy)
	}
	// A login beyond the accounts that exist fails too.
	tg.creds.password = "password"
	r = runLogins(testCtx(t), tg, 3, 1)
	if r.OK != 2 || r.FailedBy["auth"] != 1 {
		t.Fatalf("ok %d failed %v, want 2 ok and 1 failure at auth", r.OK, r.FailedBy)
	}
}

func TestMessages(t *testing.T) {
	tg := startServer(t, 4)
	r := runMessages(testCtx(t), tg, msgOptions{pairs: 2, perSender: 50, window: 5, conc: 4, grace: 10 * time.Second})
	if r.Sent != 200 || r.Delivered != 200 || r.Lost != 0 || r.Duplicates != 0 || r.Unexpected != 0 {
		t.Fatalf("%+v, want 200 sent and delivered, none lost", r)
	}
	if r.Latency.P50ms <= 0 || r.ServerCPUsec < 0 {
		t.Errorf("no figures: %+v", r)
	}
}

func TestMessagesAtRate(t *testing.T) {
	tg := startServer(t, 2)
	r := runMessages(testCtx(t), tg, msgOptions{pairs: 1, perSender: 20, rate: 2000, conc: 2, grace: 10 * time.Second})
	if r.Delivered != 40 || r.Lost != 0 {
		t.Fatalf("%+v, want 40 delivered", r)
	}
	if r.OfferedRate != 2000 || r.Window != 0 {
		t.Errorf("mode not reported: %+v", r)
	}
}

// A message that never reaches the server is reported lost: the bench
// does not wait forever for it, nor count it delivered.
func TestLostMessageCounted(t *testing.T) {
	tg := startServer(t, 2)
	r := runMessages(testCtx(t), tg, msgOptions{
		pairs: 1, perSender: 20, window: 4, conc: 2, grace: 300 * time.Millisecond,
		drop: func(seq int) bool { return seq == 7 },
	})
	if r.Lost != 2 || r.Delivered != 38 || r.Sent != 40 {
		t.Fatalf("sent %d delivered %d lost %d, want 40, 38, 2", r.Sent, r.Delivered, r.Lost)
	}
}

func TestPresence(t *testing.T) {
	tg := startServer(t, 4)
	r := runPresence(testCtx(t), tg, 3, 4, 4, 10*time.Second)
	if r.SubscribeErr != 0 || r.Expected != 12 || r.Delivered != 12 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("%+v, want 12 broadcasts delivered", r)
	}
}

func TestIdle(t *testing.T) {
	tg := startServer(t, 3)
	r := runIdle(testCtx(t), tg, 3, 3, 3, 0)
	if r.Held != 3 || r.PingFailed != 0 || len(r.LoginFailed) != 0 {
		t.Fatalf("%+v, want 3 held", r)
	}
	// More sessions than accounts: several resources per account.
	r = runIdle(testCtx(t), tg, 7, 3, 4, 0)
	if r.Held != 7 || r.PingFailed != 0 || len(r.LoginFailed) != 0 {
		t.Fatalf("%+v, want 7 held over 3 accounts", r)
	}
	if r.RSSBeforeKiB <= 0 || r.RSSAfterKiB <= 0 {
		t.Errorf("memory not read: %+v", r)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, a := range []string{"127.0.0.1:5222", "[::1]:5222", "localhost:5222"} {
		if err := loopbackOnly(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"10.1.2.3:5222", "192.0.2.1:5222", "nohost"} {
		if err := loopbackOnly(a); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
	err := run([]string{"logins", "--addr", "192.0.2.1:5222"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("run against a non-loopback address: %v", err)
	}
}

func TestScan(t *testing.T) {
	in := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='a>b'>" +
		"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>\n " +
		"<message from='a@b/c' id=\"m1\"><body>x &lt; y</body><x/></message></stream:stream>"
	type got struct {
		u    unit
		name string
	}
	want := []got{{unitDecl, "?xml"}, {unitHeader, "stream:stream"}, {unitElement, "stream:features"}, {unitElement, "message"}, {unitEnd, "/stream:stream"}}
	// Every split of the input into two reads gives the same units.
	for cut := 0; cut <= len(in); cut++ {
		b := []byte(in[:cut])
		rest := in[cut:]
		var units []got
		inStr := false
		for {
			u, n, err := scan(b, inStr)
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			if u == unitNone {
				if rest == "" {
					break
				}
				b = append(b, rest...)
				rest = ""
				continue
			}
			units = append(units, got{u, string(name(b[:n]))})
			inStr = inStr || u == unitHeader
			b = b[n:]
		}
		if len(units) != len(want) {
			t.Fatalf("cut %d: %v, want %v", cut, units, want)
		}
		for i := range want {
			if units[i] != want[i] {
				t.Fatalf("cut %d: unit %d is %v, want %v", cut, i, units[i], want[i])
			}
		}
	}
	msg := []byte(`<message from='a@b/c' id="m1" type='chat'><body>hi</body></message>`)
	if v, _ := attr(msg, "id"); string(v) != "m1" {
		t.Errorf("id = %q", v)
	}
	if v, _ := attr(msg, "type"); string(v) != "chat" {
		t.Errorf("type = %q", v)
	}
	if _, ok := attr(msg, "to"); ok {
		t.Error("to found")
	}
	if v, ok := child(msg, "body"); !ok || string(v) != "hi" {
		t.Errorf("body = %q %v", v, ok)
	}
	if _, _, err := scan([]byte("<!-- c -->"), true); err == nil {
		t.Error("a comment was accepted")
	}
}

func TestReport(t *testing.T) {
	lines := `{"label":"xmppd","figure":"logins","result":{"logins_per_sec":3000,"failed":0,"latency":{"p99_ms":4}}}
{"label":"xmppd","figure":"logins","result":{"logins_per_sec":2000,"failed":1,"latency":{"p99_ms":5}}}
{"label":"xmppd","figure":"logins","result":{"logins_per_sec":4000,"failed":0,"latency":{"p99_ms":6}}}
{"label":"prosody","figure":"logins","result":{"logins_per_sec":500,"failed":0,"latency":{"p99_ms":30}}}
{"label":"xmppd","figure":"idle","result":{"kib_per_session":9.5,"ping_failed":0}}
`
	res, err := readResults(strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	res.markdown(&sb)
	md := sb.String()
	for _, want := range []string{
		"| logins/s (PLAIN, bind, roster, presence) | 3,000 (1 failed/lost) | 500 | – | ≥ 5× Prosody (2,500) | yes |",
		"| RSS per idle available session, plaintext | 9.50 KiB | – | – | ≤ 8 KiB | **no** |",
		"| server CPU per delivered message | – | – | – | ≤ 5 µs | not measured |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	var svg strings.Builder
	res.plot(&svg)
	if !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), ">3,000<") {
		t.Errorf("plot: %.300s", svg.String())
	}
}
