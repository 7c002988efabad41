#!/usr/bin/python3
"""slixmpp against xmppd: the scenario of the interop tests (interop/doc.go).

Run by interop/slixmpp_test.go with Debian's python3-slixmpp. Parameters come
from the environment (XMPP_ADDR host:port, XMPP_DOMAIN, XMPP_CA the server's
certificate file, ALICE_JID, ALICE_PASSWORD, BOB_JID, BOB_PASSWORD, NONCE,
and STOCK=1 to run slixmpp as it comes: its own choice of mechanism and its
own channel binding, for an xmppd started with --channel-binding=false).
Prints one line "RESULT {json}" (the fields of interop's scenarioResult)
and exits 0; a step that fails or times out ends the script with exit
status 1 after printing what it had.
"""

import asyncio
import json
import os
import sys

import slixmpp

ENV = os.environ
HOST, PORT = ENV["XMPP_ADDR"].rsplit(":", 1)
DOMAIN = ENV["XMPP_DOMAIN"]
NONCE = ENV["NONCE"]
STEP = 10  # seconds for any one step
MECHANISM = "SCRAM-SHA-256"
STOCK = ENV.get("STOCK") == "1"


class Client(slixmpp.ClientXMPP):
    """One user's connection; its events go to futures and queues."""

    def __init__(self, jid, password):
        super().__init__(jid, password, sasl_mech=None if STOCK else MECHANISM)
        self.ca_certs = ENV["XMPP_CA"]  # trust xmppd's generated certificate
        self.auto_authorize = None  # subscription requests are answered below
        self.auto_subscribe = False
        if not STOCK:
            self.without_channel_binding()
        loop = asyncio.get_running_loop()
        self.started = loop.create_future()
        self.auth_failed = loop.create_future()
        self.stream_ended = loop.create_future()
        self.presences = asyncio.Queue()
        self.messages = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: settle(self.started, True))
        self.add_event_handler("failed_auth", lambda s: settle(self.auth_failed, s["condition"]))
        self.add_event_handler("disconnected", lambda reason: settle(self.stream_ended, reason))
        self.add_event_handler("presence", self.presences.put_nowait)
        self.add_event_handler("message", self.messages.put_nowait)

    def without_channel_binding(self):
        """Withhold the channel binding data from slixmpp's SCRAM."""
        # slixmpp 1.8.3 knows only the tls-unique channel binding, which
        # is undefined for TLS 1.3 (RFC 9266; xmppd binds with
        # tls-exporter), and with binding data at hand it sends the gs2
        # flag "y" even though -PLUS is advertised: a downgrade RFC 5802
        # section 6 makes the server refuse. Without binding data it sends
        # "n", as a client without channel binding should.
        mechanisms = self["feature_mechanisms"]
        default_credentials = mechanisms.sasl_callback

        def credentials(required, optional):
            creds = default_credentials(required, optional)
            if "channel_binding" in creds:
                creds["channel_binding"] = None
            return creds

        mechanisms.sasl_callback = credentials

    def secure(self):
        """Whether the stream runs under TLS."""
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    def mechanism(self):
        mech = self["feature_mechanisms"].mech
        return mech.name if mech else ""

    async def fetch_roster(self):
        """The whole roster: a get without a version (RFC 6121 2.1.3)."""
        iq = self.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        result = await iq.send(timeout=STEP)
        items = result["roster"]["items"]
        return sorted(
            ({"jid": str(j), "subscription": it["subscription"], "ask": it["ask"] or ""} for j, it in items.items()),
            key=lambda i: i["jid"],
        )

    async def close(self):
        """Close the stream; True when xmppd closed its own in return."""
        self.disconnect(wait=STEP)
        return await self.ended()

    async def ended(self):
        """Wait for the connection to end; True when it ended with xmppd's
        </stream:stream>."""
        reason = await asyncio.wait_for(self.stream_ended, STEP + 1)
        return reason == "End of stream"


def settle(fut, value):
    if not fut.done():
        fut.set_result(value)


async def wait_for(queue, match):
    """The first stanza of queue that match accepts."""
    async def loop():
        while True:
            st = await queue.get()
            if match(st):
                return st
    return await asyncio.wait_for(loop(), STEP)


async def login(jid, password):
    c = Client(jid, password)
    c.connect((HOST, int(PORT)))
    await asyncio.wait_for(c.started, STEP)
    return c


async def scenario(res):
    alice_jid, bob_jid = ENV["ALICE_JID"], ENV["BOB_JID"]
    alice = await login(alice_jid, ENV["ALICE_PASSWORD"])
    res["secure"] = alice.secure()
    res["mechanism"] = alice.mechanism()
    res["roster_before"] = await alice.fetch_roster()
    alice.send_presence()  # initial presence
    bob = await login(bob_jid, ENV["BOB_PASSWORD"])
    await bob.fetch_roster()
    bob.send_presence()

    # alice subscribes to bob's presence; bob approves in-protocol.
    alice.send_presence(pto=bob_jid, ptype="subscribe")
    await wait_for(bob.presences, lambda p: p["type"] == "subscribe" and p["from"].bare == alice_jid)
    bob.send_presence(pto=alice_jid, ptype="subscribed")
    # bob's next broadcast reaches his new subscriber.
    bob.send_presence(pstatus=NONCE, pshow="away")
    p = await wait_for(alice.presences, lambda p: p["from"].bare == bob_jid and p["status"] == NONCE)
    res["presence"] = p["status"]

    alice.send_message(mto=bob_jid, mbody="hello " + NONCE, mtype="chat")
    m = await wait_for(bob.messages, lambda m: m["from"].bare == alice_jid and m["body"])
    res["message"] = m["body"]

    res["alice_roster"] = await alice.fetch_roster()
    res["bob_roster"] = await bob.fetch_roster()
    # bob leaves first: his subscriber sees him go.
    res["bob_closed"] = await bob.close()
    await wait_for(alice.presences, lambda p: p["from"].bare == bob_jid and p["type"] == "unavailable")
    res["unavailable"] = True
    res["alice_closed"] = await alice.close()

    # A wrong password: not-authorized.
    wrong = Client(alice_jid, "not " + ENV["ALICE_PASSWORD"])
    wrong.connect((HOST, int(PORT)))
    res["wrong_password"] = await asyncio.wait_for(wrong.auth_failed, STEP)
    # Limited to one mechanism, slixmpp has none left to try and closes the
    # stream itself; as it comes (STOCK) it tries each one offered, and
    # xmppd closes the stream after the third failure (S-38).
    res["wrong_closed"] = await wrong.ended()


async def main():
    res = {"client": "slixmpp " + slixmpp.__version__}
    try:
        await scenario(res)
    except Exception as e:  # report what was reached, then fail
        res["error"] = "%s: %s" % (type(e).__name__, e)
        print("RESULT " + json.dumps(res), flush=True)
        return 1
    print("RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
