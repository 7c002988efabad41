#!/bin/bash
# bench/compare.sh: xmppd, Prosody and ejabberd side by side on loopback.
#
# Builds xmppd and the bench from the last commit (git archive HEAD).
# Starts each server fresh for each group of figures (from a data template
# holding the registered accounts), runs the same cmd/bench workloads
# against each, RUNS times, and writes BENCHMARKS.md (the median of the
# runs per figure and server, the plot bench/results.svg, the machine,
# versions and commands) plus the raw results in bench/results.jsonl.
#
#   bench/compare.sh [--users N] [--runs R] [--sessions S] [--rate MSGS_PER_S] [--rate-high MSGS_PER_S]
#                    [--servers "xmppd prosody ejabberd"] [--shared] [--no-md]
#
# Needs root (Prosody and ejabberd run as their own users, through setpriv),
# Debian's prosody and ejabberd packages, Go. Everything listens on
# 127.0.0.1 only: xmppd 29224, Prosody 29222, ejabberd 29223 (Erlang
# distribution 5211), all below the kernel's ephemeral port range: the
# thousands of client connections the bench opens and closes would
# otherwise, now and then, hold a server's port when it restarts. State
# lives in /tmp/xmppfsm-bench.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$ROOT/bench"
BASE=/tmp/xmppfsm-bench
BIN="$BASE/bin"
OUT="$BASE/out"

USERS=2000
RUNS=3
SESSIONS=10000
RATE=5000
RATE_HIGH=15000
SERVERS="xmppd prosody ejabberd"
SHARED=0
MD=1
while [ $# -gt 0 ]; do
	case "$1" in
	--users) USERS="$2"; shift 2 ;;
	--runs) RUNS="$2"; shift 2 ;;
	--sessions) SESSIONS="$2"; shift 2 ;;
	--rate) RATE="$2"; shift 2 ;;
	--rate-high) RATE_HIGH="$2"; shift 2 ;;
	--servers) SERVERS="$2"; shift 2 ;;
	--shared) SHARED=1; shift ;;
	--no-md) MD=0; shift ;;
	*) echo "usage: $0 [--users N] [--runs R] [--sessions S] [--rate R] [--rate-high R] [--servers LIST] [--shared] [--no-md]" >&2; exit 2 ;;
	esac
done
ARGS="--users $USERS --runs $RUNS --sessions $SESSIONS --rate $RATE --rate-high $RATE_HIGH --servers \"$SERVERS\""
[ "$SHARED" = 1 ] && ARGS="$ARGS --shared"

# Sessions need a descriptor each, in the bench and in the servers.
ulimit -n "$(ulimit -Hn)"

log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

wait_port() { # port timeout_s
	local i
	for i in $(seq 1 $(( $2 * 10 ))); do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1 after $2 s" >&2
	return 1
}

port_free() { # port
	if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
		echo "127.0.0.1:$1 is in use: stop what listens there first" >&2
		exit 1
	fi
}

# ---- the workloads: each group of figures on a freshly started server

RESULTS="$OUT/results.jsonl"
PROBLEMS="$OUT/problems.txt"

# bench LABEL ADDR PIDS FIGURE WORKLOAD ARGS...: one measured workload. A
# run that counted failures or losses (exit 3) or failed (exit 1) is
# recorded in problems.txt; its figures stay in the results.
bench() {
	local label="$1" addr="$2" pids="$3" figure="$4" workload="$5"
	shift 5
	log "$label $figure"
	local rc=0
	"$BIN/bench" "$workload" --addr "$addr" --pid "$pids" --label "$label" --figure "$figure" \
		--json "$RESULTS" --max 10m "$@" >"$OUT/last.log" 2>&1 || rc=$?
	cat "$OUT/last.log" >>"$OUT/bench.log"
	grep -E 'per_sec|per_msg|kib_per|latency|lost|failed|held' "$OUT/last.log" >&2 || true
	if [ "$rc" != 0 ]; then
		echo "$label $figure: bench exited $rc: $(tail -n 1 "$OUT/last.log")" | tee -a "$PROBLEMS" >&2
	fi
}

# figures SERVER ADDR: every group, each on a fresh start of SERVER.
figures() {
	local s="$1" addr="$2" pids run="$3"
	"${s}_start" plain; pids=$("${s}_pids")
	bench "$s" "$addr" "$pids" logins logins --n "$USERS" --c 50
	"${s}_stop"
	"${s}_start" plain; pids=$("${s}_pids")
	bench "$s" "$addr" "$pids" messages messages --pairs 50 --k 1000 --w 10 --c 50
	bench "$s" "$addr" "$pids" messages-rate messages --pairs 50 --k 500 --rate "$RATE" --c 50
	bench "$s" "$addr" "$pids" messages-rate-high messages --pairs 50 --k 1000 --rate "$RATE_HIGH" --c 50
	bench "$s" "$addr" "$pids" presence presence --contacts 200 --changes 50 --c 50
	"${s}_stop"
	"${s}_start" plain; pids=$("${s}_pids")
	bench "$s" "$addr" "$pids" idle idle --n "$USERS" --c 50
	"${s}_stop"
	"${s}_start" hashed; pids=$("${s}_pids")
	bench "$s" "$addr" "$pids" logins-scram logins --n "$USERS" --c 50 --mech SCRAM-SHA-1
	"${s}_stop"
	"${s}_start" tls; pids=$("${s}_pids")
	bench "$s" "$addr" "$pids" idle-tls idle --n "$USERS" --c 50 --starttls
	"${s}_stop"
	if [ "$s" = xmppd ] && [ "$run" = 1 ] && [ "$SESSIONS" -gt 0 ]; then
		"${s}_start" plain; pids=$("${s}_pids")
		bench "$s" "$addr" "$pids" sessions idle --n "$SESSIONS" --accounts "$USERS" --c 50 --settle 5s
		"${s}_stop"
	fi
}

# ---- xmppd (29224)

XMPPD_ADDR=127.0.0.1:29224
XMPPD_PID=
xmppd_template() {
	rm -rf "$BASE/xmppd-template"
	seq 1 "$USERS" | awk '{print "user" $1 "@localhost password"}' |
		"$BIN/xmppd" user add --batch --data "$BASE/xmppd-template" >&2
}
xmppd_start() { # plain | hashed | tls: one server does all three
	port_free 29224
	rm -rf "$BASE/xmppd"
	cp -a "$BASE/xmppd-template" "$BASE/xmppd"
	"$BIN/xmppd" serve --domain localhost --c2s "$XMPPD_ADDR" --data "$BASE/xmppd" \
		--insecure-plain >"$OUT/xmppd.log" 2>&1 </dev/null &
	XMPPD_PID=$!
	wait_port 29224 30
}
xmppd_pids() { echo "$XMPPD_PID"; }
xmppd_stop() {
	kill -TERM "$XMPPD_PID" 2>/dev/null || true
	wait "$XMPPD_PID" || true
}

# ---- Prosody (29222)

PROSODY_BASE="$BASE/prosody"
PROSODY_CFG="$HERE/prosody.cfg.lua"
PROSODY_PID=
prosody_template() {
	local t="$BASE/prosody-template"
	rm -rf "$t" "$BASE/prosody-scratch"
	mkdir -p "$t/plain/data/localhost/accounts" "$t/hashed/data/localhost/accounts" "$t/certs" "$BASE/prosody-scratch"
	# internal_plain keeps the password in the account file: write them.
	for i in $(seq 1 "$USERS"); do
		printf 'return {\n\t["password"] = "password";\n};\n' >"$t/plain/data/localhost/accounts/user$i.dat"
	done
	# internal_hashed: one account registered by prosodyctl, its file
	# copied to every user (the SCRAM keys depend on the password and the
	# salt, not on the name).
	chown -R prosody:prosody "$BASE/prosody-scratch"
	BENCH_PROSODY_BASE="$BASE/prosody-scratch" BENCH_PROSODY_AUTH=internal_hashed \
		prosodyctl --config "$PROSODY_CFG" register template localhost password
	local f="$BASE/prosody-scratch/data/localhost/accounts/template.dat"
	grep -q stored_key "$f"
	for i in $(seq 1 "$USERS"); do cp "$f" "$t/hashed/data/localhost/accounts/user$i.dat"; done
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost \
		-keyout "$t/certs/localhost.key" -out "$t/certs/localhost.crt" 2>/dev/null
	chmod 600 "$t/certs/localhost.key"
}
prosody_start() { # plain | hashed | tls
	port_free 29222
	local t="$BASE/prosody-template" creds=plain
	[ "$1" = hashed ] && creds=hashed
	rm -rf "$PROSODY_BASE"
	mkdir -p "$PROSODY_BASE"
	cp -a "$t/$creds/data" "$PROSODY_BASE/data"
	cp -a "$t/certs" "$PROSODY_BASE/certs"
	chown -R prosody:prosody "$PROSODY_BASE"
	local auth=internal_plain tls=0
	[ "$1" = hashed ] && auth=internal_hashed
	[ "$1" = tls ] && tls=1
	BENCH_PROSODY_BASE="$PROSODY_BASE" BENCH_PROSODY_AUTH=$auth BENCH_PROSODY_TLS=$tls \
		setpriv --reuid=prosody --regid=prosody --init-groups -- \
		/usr/bin/prosody --config "$PROSODY_CFG" -F >"$OUT/prosody.out" 2>&1 </dev/null &
	PROSODY_PID=$!
	wait_port 29222 30
}
prosody_pids() { echo "$PROSODY_PID"; }
prosody_stop() {
	kill -TERM "$PROSODY_PID" 2>/dev/null || true
	wait "$PROSODY_PID" || true
}

# ---- ejabberd (29223)

EJ_BASE="$BASE/ejabberd"
EJ_NODE=benchpeer@localhost
EJ_COOKIE=xmppfsmbenchcookie
EJ_CFG="$HERE/ejabberd.yml"
as_ejabberd() { env HOME="$EJ_BASE" setpriv --reuid=ejabberd --regid=ejabberd --init-groups -- "$@"; }
ejctl() { # CONFIG ARGS...
	local cfg="$1"; shift
	as_ejabberd /usr/sbin/ejabberdctl --config "$cfg" --ctl-config "$HERE/ejabberdctl.cfg" \
		--logs "$EJ_BASE/log" --spool "$EJ_BASE/db" "$@"
}
ejabberd_pid() { cat "$EJ_BASE/ejabberd.pid"; }
ejabberd_pids() { # beam.smp and its children (erl_child_setup, inet_gethost)
	local p; p=$(ejabberd_pid)
	echo "$p$(cat /proc/"$p"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sed 's/^/,/' | tr -d '\n')"
}
ejabberd_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -keyout "$BASE/ej.key" -out "$BASE/ej.crt" 2>/dev/null
	cat "$BASE/ej.crt" "$BASE/ej.key" >"$BASE/ejabberd-cert.pem"
}
ejabberd_up() { # CONFIG
	port_free 29223
	mkdir -p "$EJ_BASE/log" "$EJ_BASE/db"
	cp "$BASE/ejabberd-cert.pem" "$EJ_BASE/cert.pem"
	chown -R ejabberd:ejabberd "$EJ_BASE"
	chmod 600 "$EJ_BASE/cert.pem"
	ejctl "$1" start
	timeout 120 bash -c "$(declare -f as_ejabberd ejctl); EJ_BASE='$EJ_BASE' HERE='$HERE'; ejctl '$1' started"
	wait_port 29223 60
}
ejabberd_down() { # CONFIG
	local p; p=$(ejabberd_pid)
	ejctl "$1" stop >/dev/null 2>&1 || true
	for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$p" 2>/dev/null; then kill -KILL "$p"; fi
	rm -f "$EJ_BASE/ejabberd.pid"
}
ejabberd_register() { # one hidden Erlang node calls ejabberd_admin:register/3 for every user
	(cd "$EJ_BASE" && as_ejabberd /bin/sh -c "/usr/bin/erl -sname reg\$\$@localhost -setcookie $EJ_COOKIE \
		-erl_epmd_port 5211 -start_epmd false -dist_listen false -hidden -noshell -eval '
		Bad = lists:foldl(fun(I, Acc) ->
			U = list_to_binary(\"user\" ++ integer_to_list(I)),
			case rpc:call('\''$EJ_NODE'\'', ejabberd_admin, register, [U, <<\"localhost\">>, <<\"password\">>]) of
				{ok, _} -> Acc;
				Other -> io:format(\"register ~s failed: ~p~n\", [U, Other]), Acc + 1
			end end, 0, lists:seq(1, $USERS)),
		halt(if Bad =:= 0 -> 0; true -> 1 end).'")
}
ejabberd_template() { # a Mnesia spool with the users, per password format
	ejabberd_cert
	local v
	for v in plain scram; do
		local cfg="$EJ_CFG"
		[ "$v" = scram ] && cfg="$HERE/ejabberd-scram.yml"
		rm -rf "$EJ_BASE" "$BASE/ejabberd-template-$v"
		ejabberd_up "$cfg"
		ejabberd_register
		ejabberd_down "$cfg"
		cp -a "$EJ_BASE/db" "$BASE/ejabberd-template-$v"
	done
}
EJ_RUNNING_CFG=
ejabberd_start() { # plain | hashed | tls
	local v=plain cfg="$EJ_CFG"
	[ "$1" = hashed ] && { v=scram; cfg="$HERE/ejabberd-scram.yml"; }
	[ "$1" = tls ] && cfg="$HERE/ejabberd-tls.yml"
	rm -rf "$EJ_BASE"
	mkdir -p "$EJ_BASE"
	cp -a "$BASE/ejabberd-template-$v" "$EJ_BASE/db"
	ejabberd_up "$cfg"
	EJ_RUNNING_CFG="$cfg"
}
ejabberd_stop() { ejabberd_down "$EJ_RUNNING_CFG"; }

# ---- main

cleanup() {
	[ -n "$XMPPD_PID" ] && kill "$XMPPD_PID" 2>/dev/null || true
	[ -n "$PROSODY_PID" ] && kill "$PROSODY_PID" 2>/dev/null || true
	[ -n "$EJ_RUNNING_CFG" ] && [ -f "$EJ_BASE/ejabberd.pid" ] && ejabberd_stop || true
}
trap cleanup EXIT

mkdir -p "$BIN" "$OUT"
rm -f "$RESULTS" "$PROBLEMS" "$OUT/bench.log"
touch "$PROBLEMS"
chmod 755 "$BASE"
# Build from the last commit, not the working tree: the figures are those of
# a commit, whatever is being edited.
log "building the last commit"
COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD)
rm -rf "$BASE/src"
mkdir -p "$BASE/src"
(cd "$ROOT" && git archive HEAD) | tar -x -C "$BASE/src"
(cd "$BASE/src" && go build -o "$BIN/xmppd" ./cmd/xmppd && go build -o "$BIN/bench" ./cmd/bench)
START=$(date -u +"%Y-%m-%d %H:%M UTC")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

for s in $SERVERS; do
	log "registering $USERS users on $s"
	"${s}_template"
done
for run in $(seq 1 "$RUNS"); do
	for s in $SERVERS; do
		case "$s" in
		xmppd) addr=$XMPPD_ADDR ;;
		prosody) addr=127.0.0.1:29222 ;;
		ejabberd) addr=127.0.0.1:29223 ;;
		esac
		log "run $run/$RUNS: $s"
		figures "$s" "$addr" "$run"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
log "done; problems:"
cat "$PROBLEMS" >&2

cp "$RESULTS" "$HERE/results.jsonl"
"$BIN/bench" report --in "$RESULTS" --md "$OUT/table.md" --svg "$HERE/results.svg"
[ "$MD" = 1 ] || exit 0

{
	echo "# Benchmarks: xmppd, Prosody and ejabberd side by side"
	echo
	echo "Generated by \`bench/compare.sh $ARGS\` on $START; the analysis at the end"
	echo "is kept by hand in \`bench/analysis.md\`. Medians of $RUNS runs, plaintext TCP on"
	echo "loopback (\`idle-tls\` with STARTTLS), each group of figures on a freshly started"
	echo "server, $USERS registered users."
	if [ "$SHARED" = 1 ]; then
		echo
		echo "**This run shared the machine with other work** (load average $LOAD_BEFORE before,"
		echo "$LOAD_AFTER after, on $(nproc) cores): the figures are noisier and lower than on an idle"
		echo "machine, for every server alike. Rerun on an idle machine for reference figures."
	fi
	echo
	cat "$OUT/table.md"
	echo
	echo "Failures and losses are counted in every figure (a login that failed at any step, a"
	echo "message or broadcast not delivered within the grace period, a held session that did not"
	echo "answer a ping) and shown beside the figure when there were any."
	if [ -s "$PROBLEMS" ]; then
		echo
		echo "Workloads that counted failures or losses in this run:"
		echo
		sed 's/^/- /' "$PROBLEMS"
	fi
	echo
	echo "![xmppd, Prosody and ejabberd, medians per figure](bench/results.svg)"
	echo
	echo "## Machine and versions"
	echo
	echo "- \`nproc\`: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); kernel $(uname -r)"
	echo "- xmppd: commit $COMMIT, $(go version | cut -d' ' -f3-)"
	echo "- Prosody: $(dpkg-query -W -f '${Version}' prosody) (Debian), $(lua5.4 -v 2>&1 | cut -d' ' -f1-2), network backend $(prosodyctl about 2>/dev/null | awk '/^Backend:/ {print $2; exit}')"
	echo "- ejabberd: $(dpkg-query -W -f '${Version}' ejabberd) (Debian), Erlang/OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null)"
	echo
	echo "## Workloads and commands"
	echo
	echo "Each line is a \`bench\` invocation (\`go run ./cmd/bench CMD -h\` for the flags);"
	echo "\`--addr\`, \`--pid\` (the server's processes, for CPU from /proc/PID/stat and RSS from"
	echo "/proc/PID/status), \`--label\`, \`--figure\` and \`--json\` are added by the script."
	echo
	echo '```'
	echo "logins        bench logins   --n $USERS --c 50                      # stream, PLAIN, bind, roster get, initial presence echoed"
	echo "messages      bench messages --pairs 50 --k 1000 --w 10 --c 50      # both of a pair send 1000 chats to the other's full JID, 10 in flight each"
	echo "messages-rate bench messages --pairs 50 --k 500 --rate $RATE --c 50   # the same, paced at $RATE msgs/s in all; latency from each write"
	echo "messages-rate-high bench messages --pairs 50 --k 1000 --rate $RATE_HIGH --c 50   # and at $RATE_HIGH msgs/s"
	echo "presence      bench presence --contacts 200 --changes 50 --c 50     # 200 subscribed contacts online, 50 presence changes each must reach"
	echo "idle          bench idle     --n $USERS --c 50                      # RSS delta / sessions after a 2 s settle, then a ping per session"
	echo "logins-scram  bench logins   --n $USERS --c 50 --mech SCRAM-SHA-1   # hashed credentials; an untimed first pass fills the client's key cache"
	echo "idle-tls      bench idle     --n $USERS --c 50 --starttls"
	echo "sessions      bench idle     --n $SESSIONS --accounts $USERS --c 50 --settle 5s   # xmppd, first run only"
	echo '```'
	echo
	echo "Servers: \`xmppd serve --insecure-plain\` (STARTTLS offered, not required; accounts"
	echo "from \`xmppd user add --batch\`), Prosody with \`bench/prosody.cfg.lua\` (\`internal_plain\`,"
	echo "\`internal_hashed\` for logins-scram, \`mod_tls\` for idle-tls), ejabberd with"
	echo "\`bench/ejabberd.yml\`, \`ejabberd-scram.yml\`, \`ejabberd-tls.yml\`. The raw results of"
	echo "every run are in \`bench/results.jsonl\`."
	if [ -f "$HERE/analysis.md" ]; then
		echo
		cat "$HERE/analysis.md"
	fi
} >"$ROOT/BENCHMARKS.md"
log "wrote BENCHMARKS.md"
