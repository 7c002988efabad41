-- Prosody (Debian's 0.12) on loopback for the conformance differential run
-- (conformance/prosody_test.go). Adapted from ../../../shared/peers; not a
-- production config. Started and stopped by prosody.sh, which creates the
-- data directory and registers the scripts' accounts.

local base = ENV_XMPPFSM_PROSODY_BASE or "/tmp/xmppfsm-prosody"
local port = tonumber(ENV_XMPPFSM_PROSODY_PORT or "5322")

data_path = base .. "/data"
pidfile = base .. "/prosody.pid"
certificates = base .. "/certs" -- empty: no TLS

-- Loopback only: c2s on one port, no s2s, no http, no admin socket.
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { port }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }

log = {
	{ levels = { min = "info" }, to = "file", filename = base .. "/prosody.log" };
}

admins = { }

-- The core modules Prosody's own scansion config enables for c2s IM.
-- "presence", "message", "iq", "c2s", "offline" and "posix" are autoloaded.
modules_enabled = {
	"roster";
	"saslauth";
	"disco";
	"ping";
	-- XEP-0191, for Prosody's blocking.scs (run against Prosody only:
	-- xmppd does not serve blocking).
	"blocklist";
}
modules_disabled = { "s2s"; "s2s_auth_certs" }

-- No TLS (no "tls" module, no certificate): PLAIN on the plain stream.
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
-- PLAIN only: the scripts' accounts all use "password"; SCRAM would only
-- add round trips.
disable_sasl_mechanisms = { "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "DIGEST-MD5" }

-- Passwords are checked (unlike Prosody's own test config, "insecure"):
-- prosody.sh registers the scripts' accounts. Accounts live on disk;
-- everything else (rosters, offline messages, pre-approvals) in memory, so
-- a restart (prosody.sh restart) gives every script a fresh server.
authentication = "internal_plain"
default_storage = "memory"
storage = { accounts = "internal" }

prosody_user = "prosody"
prosody_group = "prosody"

VirtualHost "localhost"

-- A MUC service for Prosody's issue505, issue978, issue978-multi and
-- issue1224 scripts (run against Prosody only: xmppd serves no MUC).
Component "conference.localhost" "muc"
	storage = "memory"
