#!/bin/bash
# Start/stop Debian's Prosody on 127.0.0.1:$XMPPFSM_PROSODY_PORT (default
# 5322) with the config beside this script, as the prosody user (setpriv,
# not su: su applies pam_limits). Data, log and pid under
# $XMPPFSM_PROSODY_BASE (default /tmp/xmppfsm-prosody). No systemd. Needs root.
#   prosody.sh start | stop | restart | status
# start registers the conformance scripts' accounts (password "password");
# restart keeps them and drops everything else (rosters, offline messages
# are in memory), which gives each script a fresh server.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CFG="$HERE/prosody.cfg.lua"
export XMPPFSM_PROSODY_BASE="${XMPPFSM_PROSODY_BASE:-/tmp/xmppfsm-prosody}"
export XMPPFSM_PROSODY_PORT="${XMPPFSM_PROSODY_PORT:-5322}"
BASE="$XMPPFSM_PROSODY_BASE"
PORT="$XMPPFSM_PROSODY_PORT"
OURPID="$BASE/started.pid" # the PID we launched
DOMAIN=localhost
# Every account the corpus and Prosody's scripts declare.
ACCOUNTS="romeo juliet nurse tybalt user user2 blocker blockee pars-a pars-b preappove-a preapprove-b"

# alive PID: running and not a zombie (the launching shell is gone, so the
# process is reaped by whatever PID 1 is, maybe late).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

pid() {
	[ -f "$OURPID" ] || return 1
	local p; p=$(cat "$OURPID")
	alive "$p" || return 1
	echo "$p"
}

register() {
	# The marker holds the account list registered, so that a new account
	# in ACCOUNTS is registered on an existing data directory too.
	[ "$(cat "$BASE/registered" 2>/dev/null)" = "$ACCOUNTS" ] && return 0
	local u
	for u in $ACCOUNTS; do
		# prosodyctl setuids to prosody_user itself when run as root.
		prosodyctl --config "$CFG" register "$u" "$DOMAIN" password >/dev/null ||
			{ echo "prosody.sh: register $u failed" >&2; return 1; }
	done
	echo "$ACCOUNTS" >"$BASE/registered"
}

start() {
	if p=$(pid); then echo "prosody already running pid $p"; return 0; fi
	if port_open; then echo "prosody.sh: 127.0.0.1:$PORT is already in use" >&2; return 1; fi
	mkdir -p "$BASE/data" "$BASE/certs"
	chown -R prosody:prosody "$BASE"
	register
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	nohup setpriv --reuid=prosody --regid=prosody --init-groups -- \
		/usr/bin/prosody --config "$CFG" -F >"$BASE/stdout.log" 2>&1 </dev/null &
	echo $! >"$OURPID"
	local i
	for i in $(seq 1 150); do # 15 s
		if port_open; then echo "prosody started pid $(cat "$OURPID") on 127.0.0.1:$PORT"; return 0; fi
		alive "$(cat "$OURPID")" || break
		sleep 0.1
	done
	echo "prosody.sh: prosody did not open 127.0.0.1:$PORT" >&2
	tail -20 "$BASE/prosody.log" "$BASE/stdout.log" >&2 || true
	stop >/dev/null || true
	return 1
}

stop() { # [KILL]: no graceful shutdown (restart: nothing on disk to save)
	if p=$(pid); then
		kill "-${1:-TERM}" "$p"
		local i
		for i in $(seq 1 100); do alive "$p" || break; sleep 0.05; done
		if alive "$p"; then kill -KILL "$p"; fi
		echo "prosody stopped (pid $p)"
	else
		echo "prosody not running"
	fi
	rm -f "$OURPID"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop KILL >/dev/null; start >/dev/null ;;
status) if p=$(pid); then echo "running pid $p"; else echo "stopped"; exit 1; fi ;;
*) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
