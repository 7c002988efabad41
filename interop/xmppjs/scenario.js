// xmpp.js against xmppd: the scenario of the interop tests (interop/doc.go).
//
// Run by interop/xmppjs_test.go with @xmpp/client from this directory's
// package-lock.json (npm ci). Parameters come from the environment
// (XMPP_ADDR host:port, XMPP_DOMAIN, ALICE_JID, ALICE_PASSWORD, BOB_JID,
// BOB_PASSWORD, NONCE); the test sets NODE_EXTRA_CA_CERTS to xmppd's
// generated certificate, which is how Node trusts it (@xmpp/starttls takes
// no CA option). Prints one line "RESULT {json}" (the fields of interop's
// scenarioResult) and exits 0; a step that fails or times out ends the
// script with exit status 1 after printing what it had.

import { client, xml } from "@xmpp/client";

const env = process.env;
const DOMAIN = env.XMPP_DOMAIN;
const NONCE = env.NONCE;
const STEP = 10000; // milliseconds for any one step
// The only SCRAM mechanism @xmpp/client 0.14.0 implements.
const MECHANISM = "SCRAM-SHA-1";

// connect returns a client of jid (not yet started) whose incoming stanzas
// wait in a queue, and which records the SASL mechanism it chooses.
function connect(jid, password) {
  const c = client({
    service: "xmpp://" + env.XMPP_ADDR,
    domain: DOMAIN,
    timeout: STEP,
    credentials: async (authenticate, mechanisms) => {
      if (!mechanisms.includes(MECHANISM)) {
        throw new Error(`${MECHANISM} not offered (${mechanisms})`);
      }
      c.mechanism = MECHANISM;
      await authenticate({ username: jid.split("@")[0], password }, MECHANISM);
    },
  });
  c.reconnect.stop(); // a lost connection is a failure here, not retried
  c.mechanism = "";
  c.queue = [];
  c.waiters = [];
  c.on("stanza", (st) => {
    const i = c.waiters.findIndex((w) => w.match(st));
    if (i >= 0) {
      c.waiters.splice(i, 1)[0].resolve(st);
    } else {
      c.queue.push(st);
    }
  });
  c.on("error", () => {}); // errors reach the awaited promises
  return c;
}

// waitFor resolves with the first stanza (queued or to come) that match
// accepts.
function waitFor(c, what, match) {
  const i = c.queue.findIndex(match);
  if (i >= 0) {
    return Promise.resolve(c.queue.splice(i, 1)[0]);
  }
  return new Promise((resolve, reject) => {
    const w = { match, resolve };
    c.waiters.push(w);
    setTimeout(() => {
      const j = c.waiters.indexOf(w);
      if (j >= 0) {
        c.waiters.splice(j, 1);
        reject(new Error("timed out waiting for " + what));
      }
    }, STEP);
  });
}

const bare = (j) => (j || "").split("/")[0];

// fetchRoster gets the whole roster: a get without a version.
async function fetchRoster(c) {
  const query = await c.iqCaller.get(xml("query", "jabber:iq:roster"), undefined, STEP);
  return query
    .getChildren("item")
    .map((it) => ({ jid: it.attrs.jid, subscription: it.attrs.subscription || "none", ask: it.attrs.ask || "" }))
    .sort((a, b) => a.jid.localeCompare(b.jid));
}

// close closes the stream: true when xmppd closed its own in return. It
// watches the stream's parser for the end of xmppd's stream itself: stop()
// resolves with that only when it comes after stop() has begun to wait for
// it, and xmppd can answer faster (xmpp.js 0.14.0 then reports a TypeError
// to itself and resolves with nothing).
async function close(c) {
  const ended = new Promise((resolve) => {
    c.parser.once("end", () => resolve(true));
    setTimeout(() => resolve(false), STEP);
  });
  await c.stop();
  return ended;
}

async function scenario(res) {
  const aliceJID = env.ALICE_JID;
  const bobJID = env.BOB_JID;
  const alice = connect(aliceJID, env.ALICE_PASSWORD);
  await alice.start();
  res.secure = alice.isSecure();
  res.mechanism = alice.mechanism;
  res.roster_before = await fetchRoster(alice);
  await alice.send(xml("presence")); // initial presence
  const bob = connect(bobJID, env.BOB_PASSWORD);
  await bob.start();
  await fetchRoster(bob);
  await bob.send(xml("presence"));

  // alice subscribes to bob's presence; bob approves in-protocol.
  await alice.send(xml("presence", { to: bobJID, type: "subscribe" }));
  await waitFor(bob, "alice's subscribe", (p) => p.is("presence") && p.attrs.type === "subscribe" && bare(p.attrs.from) === aliceJID);
  await bob.send(xml("presence", { to: aliceJID, type: "subscribed" }));
  // bob's next broadcast reaches his new subscriber.
  await bob.send(xml("presence", {}, xml("show", {}, "away"), xml("status", {}, NONCE)));
  const p = await waitFor(alice, "bob's presence", (p) => p.is("presence") && bare(p.attrs.from) === bobJID && p.getChildText("status") === NONCE);
  res.presence = p.getChildText("status");

  await alice.send(xml("message", { to: bobJID, type: "chat" }, xml("body", {}, "hello " + NONCE)));
  const m = await waitFor(bob, "alice's message", (m) => m.is("message") && bare(m.attrs.from) === aliceJID && m.getChildText("body"));
  res.message = m.getChildText("body");

  res.alice_roster = await fetchRoster(alice);
  res.bob_roster = await fetchRoster(bob);
  // bob leaves first: his subscriber sees him go.
  res.bob_closed = await close(bob);
  await waitFor(alice, "bob's unavailable presence", (p) => p.is("presence") && bare(p.attrs.from) === bobJID && p.attrs.type === "unavailable");
  res.unavailable = true;
  res.alice_closed = await close(alice);

  // A wrong password: not-authorized; the stream stays open for another
  // try (RFC 6120 6.4.5), so the client closes it.
  const wrong = connect(aliceJID, "not " + env.ALICE_PASSWORD);
  try {
    await wrong.start();
    res.wrong_password = "success";
  } catch (err) {
    res.wrong_password = err.condition || String(err);
  }
  res.wrong_closed = await close(wrong);
}

const { default: pkg } = await import("@xmpp/client/package.json", { with: { type: "json" } });
const res = { client: "xmpp.js " + pkg.version };
let code = 0;
try {
  await scenario(res);
} catch (err) {
  res.error = String(err && err.stack ? err.stack : err);
  code = 1;
}
console.log("RESULT " + JSON.stringify(res));
process.exit(code);
