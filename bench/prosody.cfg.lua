-- Prosody for bench/compare.sh: loopback only, port 29222, no s2s, no
-- offline storage; adapted from ../shared/peers/prosody.cfg.lua.
-- compare.sh sets the environment: BENCH_PROSODY_BASE (data, pid, log),
-- BENCH_PROSODY_AUTH (internal_plain or internal_hashed),
-- BENCH_PROSODY_TLS=1 to offer STARTTLS with a self-signed certificate.
local base = ENV_BENCH_PROSODY_BASE or "/tmp/xmppfsm-bench/prosody"

data_path = base .. "/data"
pidfile = base .. "/prosody.pid"
certificates = base .. "/certs"

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { 29222 }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }

log = {
	{ levels = { min = "info" }, to = "file", filename = base .. "/prosody.log" };
}

admins = { }

local mods = { "roster"; "saslauth"; "disco"; "ping" }
if ENV_BENCH_PROSODY_TLS == "1" then
	table.insert(mods, "tls")
end
modules_enabled = mods
modules_disabled = { "s2s"; "s2s_auth_certs"; "offline" }

c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true

authentication = ENV_BENCH_PROSODY_AUTH or "internal_plain"
storage = "internal"

prosody_user = "prosody"
prosody_group = "prosody"

VirtualHost "localhost"
