package stream_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xmppfsm/xmppfsm/fsm"
	"github.com/xmppfsm/xmppfsm/impl/stream"
)

// writes counts the Write calls that reach the connection.
type writes struct {
	bytes.Buffer
	calls int
}

func (w *writes) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

func TestWriterHeader(t *testing.T) {
	var out writes
	w := stream.NewWriter(&out)
	w.WriteHeader(&fsm.OutHeader{ID: "c2s_1", From: "im.example.com", To: "juliet@im.example.com", Version: "1.0", Lang: "en"})
	w.Flush()
	want := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='c2s_1' from='im.example.com' to='juliet@im.example.com' version='1.0' xml:lang='en'>`
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}

	out.Reset()
	w.WriteHeader(&fsm.OutHeader{ID: "a'b", From: "x&y"})
	w.Flush()
	if got := out.String(); !strings.HasSuffix(got, ` id='a&apos;b' from='x&amp;y'>`) {
		t.Errorf("escaped header: %s", got)
	}
}

func TestWriterElement(t *testing.T) {
	msg := etree.NewElement("message")
	msg.CreateAttr("type", "chat")
	msg.CreateAttr("to", "romeo@example.net")
	msg.CreateAttr("from", "spoofed@example.org")
	msg.CreateElement("body").SetText("hi")
	pres := etree.NewElement("presence")
	withNS := etree.NewElement("stream:features")
	withNS.CreateElement("bind").CreateAttr("xmlns", fsm.NSBind)

	for _, tc := range []struct {
		name     string
		el       *etree.Element
		from, to string
		want     string
	}{
		{"as it is", msg, "", "", `<message type='chat' to='romeo@example.net' from='spoofed@example.org'><body>hi</body></message>`},
		{"from replaced in place", msg, "juliet@example.com/balcony", "", `<message type='chat' to='romeo@example.net' from='juliet@example.com/balcony'><body>hi</body></message>`},
		{"both replaced", msg, "a@b/c", "d@e/f", `<message type='chat' to='d@e/f' from='a@b/c'><body>hi</body></message>`},
		{"added when missing", pres, "a@b/c", "d@e", `<presence from='a@b/c' to='d@e'/>`},
		{"only to added", pres, "", "d@e", `<presence to='d@e'/>`},
		{"prefixes as they are", withNS, "", "", `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`},
	} {
		var out bytes.Buffer
		w := stream.NewWriter(&out)
		if err := w.WriteElement(tc.el, tc.from, tc.to); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if out.String() != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, out.String(), tc.want)
		}
	}
	// The element itself is not changed.
	if got := fsm.XML(msg); got != `<message type='chat' to='romeo@example.net' from='spoofed@example.org'><body>hi</body></message>` {
		t.Errorf("element changed: %s", got)
	}
	if len(pres.Attr) != 0 {
		t.Errorf("presence changed: %s", fsm.XML(pres))
	}
}

func TestWriterEscaping(t *testing.T) {
	el := etree.NewElement("message")
	el.CreateAttr("id", `a'b"c<d>e&f`+"\t\n\r")
	el.CreateAttr("bad", "x\x00y\xffz\uFFFE")
	body := el.CreateElement("body")
	body.SetText(`<tag> & 'single' "double" ]]> ` + "\r\n\t\x01")
	el.CreateElement("c").CreateCData("<raw> & ]]> end")
	el.CreateElement("n").AddChild(etree.NewComment("a comment"))
	el.CreateElement("p").AddChild(etree.NewProcInst("pi", "x"))

	var out bytes.Buffer
	w := stream.NewWriter(&out)
	w.WriteElement(el, "", "")
	w.Flush()
	want := `<message id='a&apos;b&quot;c&lt;d&gt;e&amp;f&#x9;&#xA;&#xD;' bad='x` + "\uFFFD" + `y` + "\uFFFD" + `z` + "\uFFFD" + `'>` +
		`<body>&lt;tag&gt; &amp; 'single' "double" ]]&gt; &#xD;` + "\n\t\uFFFD" + `</body>` +
		`<c>&lt;raw&gt; &amp; ]]&gt; end</c><n/><p/></message>`
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}

	// Read back, the values are the ones written (bar the characters XML
	// cannot carry).
	back := roundTrip(t, []*etree.Element{el})[0]
	if got := back.SelectAttrValue("id", ""); got != el.SelectAttrValue("id", "") {
		t.Errorf("id read back as %q", got)
	}
	if got := back.SelectElement("body").Text(); got != `<tag> & 'single' "double" ]]> `+"\r\n\t\uFFFD" {
		t.Errorf("body read back as %q", got)
	}
	if got := back.SelectElement("c").Text(); got != "<raw> & ]]> end" {
		t.Errorf("CDATA read back as %q", got)
	}
}

func TestWriterBatches(t *testing.T) {
	var out writes
	w := stream.NewWriter(&out)
	w.WriteHeader(&fsm.OutHeader{ID: "1", From: "localhost", Version: "1.0", Lang: "en"})
	feat := etree.NewElement("stream:features")
	feat.CreateElement("bind").CreateAttr("xmlns", fsm.NSBind)
	w.WriteElement(feat, "", "")
	w.WriteKeepalive()
	w.WriteClose()
	if out.calls != 0 {
		t.Errorf("%d writes before Flush", out.calls)
	}
	if w.Buffered() == 0 {
		t.Errorf("nothing buffered")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.calls != 1 {
		t.Errorf("%d writes for one batch", out.calls)
	}
	// What was written is a stream a Reader accepts.
	got := read(t, strings.NewReader(out.String()), stream.ReaderOptions{}).lines
	want := []string{open, `elem <stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`, "end"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back: %q", got)
	}

	// Reset moves to another connection.
	var tls writes
	w.Reset(&tls)
	w.WriteClose()
	w.Flush()
	if tls.String() != "</stream:stream>" || out.calls != 1 {
		t.Errorf("after Reset: %q, %d", tls.String(), out.calls)
	}
}

type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriterError(t *testing.T) {
	w := stream.NewWriter(failWriter{})
	if err := w.WriteClose(); err != nil {
		t.Errorf("buffered write failed: %v", err)
	}
	if err := w.Flush(); err != errWrite {
		t.Errorf("Flush: %v", err)
	}
	if err := w.WriteElement(etree.NewElement("presence"), "", ""); err != errWrite {
		t.Errorf("write after a failure: %v", err)
	}
}

// A Writer into a bytes.Buffer (an output queue in memory) writes straight
// into it: nothing is held in between, and Flush has nothing to do.
func TestWriterIntoBuffer(t *testing.T) {
	var out bytes.Buffer
	w := stream.NewWriter(&out)
	w.WriteHeader(&fsm.OutHeader{ID: "1", From: "localhost", Version: "1.0"})
	msg := etree.NewElement("message")
	msg.CreateAttr("type", "chat")
	msg.CreateElement("body").SetText("a < b")
	if err := w.WriteElement(msg, "romeo@localhost/r", "juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 {
		t.Errorf("%d bytes held in between", w.Buffered())
	}
	want := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' from='localhost' version='1.0'>" +
		"<message from='romeo@localhost/r' to='juliet@localhost' type='chat'><body>a &lt; b</body></message>"
	if out.String() != want {
		t.Errorf("before Flush: %q, want %q", out.String(), want)
	}
	if err := w.Flush(); err != nil || out.String() != want {
		t.Errorf("Flush: %v, %q", err, out.String())
	}
	// Reset to a connection buffers again.
	var conn writes
	w.Reset(&conn)
	w.WriteClose()
	if conn.calls != 0 || w.Buffered() != len("</stream:stream>") {
		t.Errorf("after Reset: %d writes, %d buffered", conn.calls, w.Buffered())
	}
	w.Flush()
	if conn.String() != "</stream:stream>" || out.String() != want {
		t.Errorf("after Reset and Flush: %q, %q", conn.String(), out.String())
	}
}
