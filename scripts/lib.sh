# Shared helpers for scripts/*: sourced, not run.

# Repository root and the build the scripts use.
FS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FS_BUILD=$FS_ROOT/build
FS_LIB=${FS_LIB:-$FS_BUILD/preload/libfastsock.so}

# fs_build: install dependencies and build once (quick when up to date).
fs_build() {
	"$FS_ROOT/scripts/install-deps" >/dev/null || return 1
	[ -f "$FS_BUILD/build.ninja" ] || meson setup "$FS_BUILD" "$FS_ROOT" >/dev/null || return 1
	ninja -C "$FS_BUILD" >/dev/null || { ninja -C "$FS_BUILD"; return 1; }
}

# fs_free_port: an unused TCP/UDP port on 127.0.0.1.
fs_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# fs_median N...: the median of the numbers given.
fs_median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}

# fs_ratio A B: A/B with three decimals ("nan" when B is 0 or not a number).
fs_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b+0 == 0) print "nan"; else printf "%.3f\n", a/b }'
}

# fs_sockperf_pp MODE PROTO SECONDS SIZE [sockperf client options]: one
# sockperf ping-pong over 127.0.0.1, server on core 0 and client on core 1,
# both preloaded when MODE is fastsock. Prints "p50 p99 p999 avg" in usec.
# FS_PP_SERVER_OPTS: sockperf server options (--nonblocked: it spins too).
# Every ping-pong passes FS_PP_MPS: sockperf sizes its table of send times
# for (1 + seconds) x about 600,000 round trips unless told a rate, and a memif
# pair goes faster than that ("ERROR: _seqN > m_maxSequenceNo"). A rate
# no ping-pong reaches keeps it unpaced.
FS_PP_MPS="--mps 10000000"
fs_sockperf_pp() {
	local mode=$1 proto=$2 secs=$3 size=$4 port pre=() out spid
	shift 4
	port=$(fs_free_port)
	[ "$mode" = fastsock ] && pre=(env LD_PRELOAD="$FS_LIB")
	"${pre[@]}" taskset -c 0 sockperf server -i 127.0.0.1 -p "$port" $proto ${FS_PP_SERVER_OPTS:-} \
		>/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	out=$("${pre[@]}" taskset -c 1 sockperf ping-pong -i 127.0.0.1 -p "$port" $proto $FS_PP_MPS \
		-t "$secs" -m "$size" ${FS_FULL_LOG:+--full-log "$FS_FULL_LOG"} "$@" 2>&1)
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	awk '/percentile 50.000/ {p50=$NF} /percentile 99.000/ {p99=$NF}
	     /percentile 99.900/ {p999=$NF} /avg-latency=/ {sub(/.*avg-latency=/,""); sub(/ .*/,""); avg=$0}
	     END {print (p50==""?"nan":p50), (p99==""?"nan":p99), (p999==""?"nan":p999), (avg==""?"nan":avg)}' <<<"$out"
}

# fs_sockperf_tp MODE PROTO SECONDS SIZE: sockperf throughput; prints msg/s.
fs_sockperf_tp() {
	local mode=$1 proto=$2 secs=$3 size=$4 port pre=() out spid
	port=$(fs_free_port)
	[ "$mode" = fastsock ] && pre=(env LD_PRELOAD="$FS_LIB")
	"${pre[@]}" taskset -c 0 sockperf server -i 127.0.0.1 -p "$port" $proto >/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	out=$("${pre[@]}" taskset -c 1 sockperf throughput -i 127.0.0.1 -p "$port" $proto \
		-t "$secs" -m "$size" 2>&1)
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	awk '/Summary: Message Rate is/ {for (i=1;i<=NF;i++) if ($i=="is") {print $(i+1); found=1}}
	     END {if (!found) print "nan"}' <<<"$out"
}

# fs_lab_sockperf LAB MODE SECONDS SIZE [client options]: sockperf through
# scripts/lab. LAB is memif (two preloaded programs), xdp-client (a
# preloaded client on AF_XDP against a kernel server in another namespace)
# or xdp-none (kernel to kernel across the namespaces). MODE is ping-pong or
# throughput. Prints "p50 p99 p999 avg" (ping-pong) or "msgs_per_s drops"
# (throughput; drops are fastsock's counted drops on both ends). With
# FS_FULL_LOG set, ping-pong writes sockperf's per-message log there.
fs_lab_sockperf() {
	local lab=$1 mode=$2 secs=$3 size=$4 out log how=(memif)
	shift 4
	case $lab in
	xdp-client) how=(xdp --fastsock client) ;;
	xdp-none) how=(xdp --fastsock none) ;;
	esac
	log=$(mktemp -d /tmp/fs-cmp.XXXXXX)
	if [ "$mode" = ping-pong ]; then
		set -- "$@" $FS_PP_MPS
		[ -n "${FS_FULL_LOG:-}" ] && set -- "$@" --full-log "$FS_FULL_LOG"
	fi
	out=$("$FS_ROOT/scripts/lab" "${how[@]}" --timeout $((secs + 30)) --log "$log" \
		"FASTSOCK_LOG=info sockperf server -i \$LAB_SERVER_IP -p 11111 $(grep -o -- --tcp <<<"$*")" \
		"FASTSOCK_LOG=info sockperf $mode -i \$LAB_SERVER_IP -p 11111 -t $secs -m $size $*" 2>&1)
	out+=$'\n'$(cat "$log/server.log" 2>/dev/null)
	rm -rf "$log"
	if [ "$mode" = ping-pong ]; then
		awk '/percentile 50.000/ {p50=$NF} /percentile 99.000/ {p99=$NF}
		     /percentile 99.900/ {p999=$NF} /avg-latency=/ {sub(/.*avg-latency=/,""); sub(/ .*/,""); avg=$0}
		     END {print (p50==""?"nan":p50), (p99==""?"nan":p99), (p999==""?"nan":p999), (avg==""?"nan":avg)}' <<<"$out"
	else
		awk '/Summary: Message Rate is/ {for (i=1;i<=NF;i++) if ($i=="is") rate=$(i+1)}
		     /drops:/ {sub(/.*drops: /, ""); n=split($0, f, /, /); for (i=1;i<=n;i++) {k=split(f[i], w, / /); d+=w[k]}}
		     END {print (rate==""?"nan":rate), d+0}' <<<"$out"
	fi
}

# fs_recv_empty MODE: ns per nonblocking recvfrom() on an empty UDP socket
# (median of 9 rounds) and user-space instructions per call (callgrind:
# the inclusive cost of recvfrom over its calls), as "ns instructions".
# MODE kernel: a kernel socket on 127.0.0.1; fastsock: an accelerated
# socket of the lab's memif client, its peer up and idle.
fs_recv_empty() {
	local mode=$1 bench=$FS_BUILD/tests/bench/bench_calls cg ns ir
	cg=$(mktemp /tmp/fs-cg.XXXXXX)
	if [ "$mode" = fastsock ]; then
		local idle='python3 -c "import socket,os,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((os.environ[\"LAB_SERVER_IP\"],9)); time.sleep(120)"'
		ns=$("$FS_ROOT/scripts/lab" memif --timeout 60 "$idle" \
			"$bench -o recvfrom -r 9 -a \$LAB_CLIENT_IP" 2>/dev/null | awk '{print $2}')
		"$FS_ROOT/scripts/lab" memif --timeout 120 "$idle" \
			"valgrind --tool=callgrind --callgrind-out-file=$cg $bench -o recvfrom -r 1 -n 40000 -a \$LAB_CLIENT_IP" >/dev/null 2>&1
	else
		ns=$(taskset -c 1 "$bench" -o recvfrom -r 9 | awk '{print $2}')
		valgrind --tool=callgrind --callgrind-out-file="$cg" "$bench" -o recvfrom -r 1 -n 40000 >/dev/null 2>&1
	fi
	ir=$(callgrind_annotate --inclusive=yes "$cg" 2>/dev/null |
		awk '/:recvfrom( |$)/ {gsub(",", "", $1); print $1 / 40000; exit}')
	rm -f "$cg"
	echo "${ns:-nan} ${ir:-nan}"
}

# fs_iperf3 WHERE SECONDS: TCP Gbit/s of one iperf3 stream, kernel to
# kernel, over 127.0.0.1 (WHERE lo) or across the namespaces (ns).
fs_iperf3() {
	local where=$1 secs=$2 port out
	[ "$where" = ns ] && where=none
	port=$(fs_free_port)
	if [ "$where" = lo ]; then
		taskset -c 0 iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
		sleep 0.3
		out=$(taskset -c 1 iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -J 2>/dev/null)
	else
		out=$("$FS_ROOT/scripts/lab" xdp --fastsock "$where" --timeout $((secs + 20)) \
			"iperf3 -s -1 -B \$LAB_SERVER_IP -p $port" \
			"iperf3 -c \$LAB_SERVER_IP -p $port -t $secs -J" 2>/dev/null)
	fi
	wait 2>/dev/null
	python3 -c 'import json,sys
try: print("%.2f" % (json.loads(sys.stdin.read())["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("nan")' <<<"$out"
}

# fs_cdf FULL_LOG OUT: a latency CDF (usec, fraction) from sockperf's
# per-message log, thinned to at most 2000 points.
fs_cdf() {
	awk -F', ' '/^[0-9]+, / {print $4}' "$1" | sort -g |
		awk '{v[NR]=$1} END {step = NR > 2000 ? NR / 2000 : 1;
			for (i = step; i <= NR; i += step) printf "%s %.5f\n", v[int(i)], int(i) / NR}' >"$2"
}

# fs_nginx_conf DIR ADDR PORT [WORKERS]: an nginx configuration, logs and
# temporary files under DIR, and two files to serve: /20b (20 bytes) and
# /11k (11 KiB). Without WORKERS one process (master_process off, no
# daemon); with it nginx's stock shape: daemon on, a master and WORKERS
# workers (a number or auto) running as nginx's default user (DIR must be
# readable to it). Prints the configuration file's path.
fs_nginx_conf() {
	local dir=$1 addr=$2 port=$3 workers=${4:-}
	local shape="master_process off;
daemon off;
worker_processes 1;"
	[ -n "$workers" ] && shape="master_process on;
daemon on;
worker_processes $workers;"
	mkdir -p "$dir/www" "$dir/tmp"
	head -c 20 /dev/zero | tr '\0' a >"$dir/www/20b"
	head -c 11264 /dev/zero | tr '\0' b >"$dir/www/11k"
	cat >"$dir/nginx.conf" <<NGINX
$shape
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	keepalive_requests 1000000;
	open_file_cache max=64 inactive=60s;
	server {
		listen $addr:$port;
		root $dir/www;
	}
}
NGINX
	echo "$dir/nginx.conf"
}

# fs_nginx_load CONF DIR URL [KILL]: the client's commands (a shell
# script) that load nginx in its stock shape (fs_nginx_conf DIR ...
# WORKERS) with wrk -c64: a 20 B and an 11 KiB file (10 s each, as issue
# 20 asks), `nginx -s reload` under load, kill -9 of a worker under load
# (KILL, a command given the workers' pids; default: kill -9 the first),
# then `nginx -s quit`. The nginx commands run without the library (they
# only signal the master).
fs_nginx_load() {
	local conf=$1 dir=$2 url=$3 kill=${4:-"sh -c 'kill -9 \$0'"} ngx="env -u LD_PRELOAD nginx -c $1"
	cat <<LOAD
for f in 20b 11k; do echo "== \$f"; wrk -t1 -c64 -d10s $url/\$f; done
echo '== reload'; (sleep 1; $ngx -s reload) & wrk -t1 -c64 -d3s $url/20b; wait
sleep 1; echo '== after reload'; wrk -t1 -c64 -d2s $url/20b
echo '== kill'; (sleep 1; $kill \$(pgrep -P \$(cat $dir/nginx.pid))) & wrk -t1 -c64 -d3s $url/20b; wait
sleep 1; echo '== after kill'; wrk -t1 -c64 -d2s $url/20b
$ngx -s quit
for i in \$(seq 100); do [ -e $dir/nginx.pid ] || break; sleep 0.1; done
[ -e $dir/nginx.pid ] && echo 'nginx still running after quit' || echo '== quit: gone'
LOAD
}

# fs_nginx_judge OUT DIR WHAT: judges fs_nginx_load's output OUT (nginx's
# files in DIR, fastsock's log in DIR/fastsock.log); ends a master left
# behind. Prints one line; returns 1 after printing why it fails.
fs_nginx_judge() {
	local out=$1 dir=$2 what=$3 m phase after
	# A master that did not end (or died): it and its workers, all in the
	# session it made (setsid), even if it is gone.
	if [ -e "$dir/nginx.pid" ]; then
		m=$(cat "$dir/nginx.pid")
		pkill -9 -s "$m" 2>/dev/null
		kill -9 "$m" 2>/dev/null
	fi
	# Every phase reported, and no phase without errors had any.
	[ "$(grep -c '^Requests/sec' "$out")" = 6 ] || { cat "$out"; echo "$what: wrk did not report every phase"; return 1; }
	# Plain load, a reload and the load after a kill -9 (issue 20's
	# terms: the dead worker's connections end, nothing hangs, the
	# replacement serves): no error at all. During the kill, errors are
	# shown, not judged: the dead worker's connections are reset, and when
	# it held the stack lock the stack restarts and resets every
	# connection (docs/architecture.md).
	for phase in 20b 11k "after reload" "after kill"; do
		sed -n "/^== $phase\$/,/^Transfer/p" "$out" | grep -qE 'Socket errors|Non-2xx' &&
			{ cat "$out"; grep -v 'libbpf\|libxdp' "$dir/fastsock.log" | grep -v ': info: rx' | tail -5
			  tail -5 "$dir/error.log"; echo "$what: errors in phase $phase"; return 1; }
	done
	after=$(sed -n '/^== after kill$/,/^Transfer/p' "$out")
	sed -n '/^== kill$/,/^Transfer/p;/^== after kill$/,/^Transfer/p' "$out" | grep -qE 'timeout [1-9]' &&
		{ cat "$out"; echo "$what: requests hung after kill -9 of a worker"; return 1; }
	grep -qE '^ *[1-9][0-9]* requests in' <<<"$after" ||
		{ cat "$out"; echo "$what: nothing served after the kill"; return 1; }
	! grep -q 'lwIP assertion' "$dir/fastsock.log" 2>/dev/null ||
		{ grep 'lwIP assertion' "$dir/fastsock.log"; echo "$what: lwIP failed an assertion"; return 1; }
	grep -q '^== quit: gone' "$out" || { cat "$out"; echo "$what: nginx -s quit did not end it"; return 1; }
	grep -q 'died holding the stack lock' "$dir/fastsock.log" 2>/dev/null &&
		echo "$what: the killed worker held the stack lock: $(grep -o 'the stack started again.*' "$dir/fastsock.log" | head -1)"
	echo "$what: $(grep '^Requests/sec' "$out" | awk '{printf "%s ", $2}')requests/s (20b, 11k, reload, after, kill, after); reload and kill: $(sed -n '/^== reload$/,/^Transfer/p;/^== kill$/,/^Transfer/p' "$out" | grep -o 'Socket errors.*' | paste -sd' ' || true)"
}

# fs_redis_judge OUT WHAT: judges the output OUT of a redis-benchmark run
# (-t set,get) with a BGSAVE during it, a key set before and read after.
# Prints one line; returns 1 after printing why it fails.
fs_redis_judge() {
	local out=$1 what=$2
	grep -q 'Background saving started' "$out" || { cat "$out"; echo "$what: BGSAVE did not start"; return 1; }
	grep -q 'rdb_last_bgsave_status:ok' "$out" || { cat "$out"; echo "$what: BGSAVE did not end well"; return 1; }
	[ "$(grep -c 'requests per second' "$out")" = 2 ] || { cat "$out"; echo "$what: redis-benchmark did not finish"; return 1; }
	grep -qi 'error' "$out" && { cat "$out"; echo "$what: redis-benchmark saw errors"; return 1; }
	grep -q '^v' "$out" || { cat "$out"; echo "$what: the key set before the run is gone"; return 1; }
	echo "$what: $(grep -o '^ *[A-Z]*: [0-9.]* requests per second' "$out" | tr -s ' ' | paste -sd, ), BGSAVE ok"
}

# fs_prog MODE SERVER CLIENT [SECONDS]: runs a server and a client command
# (which use $ADDR for the server's address), kernel (MODE kernel: both on
# 127.0.0.1, server on core 0, client on core 1) or through scripts/lab
# memif (both preloaded, at FASTSOCK_MTU=$FS_PROG_MTU, 9000 unless set: the
# kernel's loopback runs at 65536). Prints the client's output.
fs_prog() {
	local mode=$1 server=$2 client=$3 secs=${4:-60} spid out
	if [ "$mode" = kernel ]; then
		ADDR=127.0.0.1 setsid taskset -c 0 bash -c "$server" >/dev/null 2>&1 &
		spid=$!
		sleep 0.5
		ADDR=127.0.0.1 timeout "$secs" taskset -c 1 bash -c "$client" 2>&1
		kill -- -"$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	else
		FASTSOCK_MTU=${FS_PROG_MTU:-9000} "$FS_ROOT/scripts/lab" memif --timeout "$secs" \
			"ADDR=\$LAB_SERVER_IP; $server" \
			"ADDR=\$LAB_SERVER_IP; sleep 0.5; $client" 2>&1
	fi
}

# fs_redis MODE: redis-benchmark against redis-server (one client
# connection), SET and GET with -P 1 and -P 16. Prints requests/s as
# "set1 get1 set16 get16".
fs_redis() {
	local port=6390 out
	out=$(fs_prog "$1" "exec redis-server --bind \$ADDR --port $port --save '' --appendonly no --protected-mode no" \
		"redis-benchmark -h \$ADDR -p $port -c 1 -P 1 -n 40000 -t set,get -q; redis-benchmark -h \$ADDR -p $port -c 1 -P 16 -n 400000 -t set,get -q" 120)
	tr '\r' '\n' <<<"$out" | awk '/requests per second/ {v[n++]=$2} END {printf "%s %s %s %s\n", v[0]==""?"nan":v[0], v[1]==""?"nan":v[1], v[2]==""?"nan":v[2], v[3]==""?"nan":v[3]}'
}

# fs_nginx MODE SECONDS: wrk (one thread) against nginx; the 20-byte and
# the 11 KiB file with 1, 8 and 64 keep-alive connections. Prints
# requests/s as "20b/1 20b/8 20b/64 11k/1 11k/8 11k/64".
fs_nginx() {
	local mode=$1 secs=$2 workers=${3:-} dir conf out addr=127.0.0.1 server stop=""
	dir=$(mktemp -d /tmp/fs-nginx.XXXXXX)
	[ "$mode" = kernel ] || addr=10.77.0.1
	conf=$(fs_nginx_conf "$dir" "$addr" 8080 $workers)
	server="exec nginx -c $conf"
	if [ -n "$workers" ]; then
		# The stock shape: the master daemonises (its own session), the
		# workers run as nginx's default user.
		chmod -R a+rX "$dir"
		server="nginx -c $conf; sleep 200"
		stop="; env -u LD_PRELOAD nginx -c $conf -s stop"
	fi
	out=$(fs_prog "$mode" "$server" \
		"for f in 20b 11k; do for c in 1 8 64; do wrk -t1 -c\$c -d${secs}s http://\$ADDR:8080/\$f; done; done$stop" 120)
	sleep 0.5
	if [ -e "$dir/nginx.pid" ]; then # a master that did not stop
		pkill -9 -s "$(cat "$dir/nginx.pid")" 2>/dev/null
		kill -9 "$(cat "$dir/nginx.pid")" 2>/dev/null
	fi
	rm -rf "$dir"
	awk '/^Requests\/sec:/ {v[n++]=$2} END {for (i=0;i<6;i++) printf "%s%s", (v[i]==""?"nan":v[i]), (i<5?" ":"\n")}' <<<"$out"
}

# fs_iperf3_prog MODE SECONDS: iperf3 with one stream and with -P 4.
# Prints Gbit/s as "p1 p4".
fs_iperf3_prog() {
	local secs=$2 out
	out=$(fs_prog "$1" "exec iperf3 -s -B \$ADDR -p 5201" \
		"iperf3 -c \$ADDR -p 5201 -t $secs -f g; iperf3 -c \$ADDR -p 5201 -t $secs -P 4 -f g" 120)
	awk '/receiver/ && !/SUM/ && !p1 {p1=$(NF-2)} /SUM.*receiver/ {p4=$(NF-2)}
	     END {print (p1==""?"nan":p1), (p4==""?"nan":p4)}' <<<"$out"
}

# The fault wire (scripts/lab xdp --faults): fsl1, the kernel's end of
# fastsock's veth, moves into a third namespace, fsl-wire, where
# build/tools/faultwire joins it to a new pair fsl4 (fsl-wire) - fsl5
# (fsl-kn), which takes the kernel's address 10.99.0.1. Every frame between
# fastsock and the kernel then crosses faultwire, which applies the faults.
#   fs_wire_up 'loss=5 delay=1000 ...' LOGFILE: returns once it forwards.
# rto_min=MS in the spec is for the TCP ends, not the wire: the kernel's
# route to fastsock gets rto_min MS (ip route), and FS_WIRE_ENV holds
# FASTSOCK_TCP_RTO_MIN_MS=MS for the fastsock side.
#   fs_wire_down: stops it (its counters go to LOGFILE) and puts fsl1 back.
FS_WIRE_PID=
FS_WIRE_ENV=
fs_wire_up() {
	local spec=$1 log=$2 faults= rto= f
	for f in $spec; do
		case $f in
		rto_min=*) rto=${f#rto_min=} ;;
		*) faults="$faults $f" ;;
		esac
	done
	fs_wire_down
	ip netns add fsl-wire || return 1
	ip -n fsl-kn link set fsl1 netns fsl-wire || return 1
	ip link add fsl4 netns fsl-wire type veth peer name fsl5 netns fsl-kn || return 1
	ip -n fsl-wire link set lo up
	ip -n fsl-wire link set fsl1 up
	ip -n fsl-wire link set fsl4 up
	ip -n fsl-kn link set fsl5 up
	ip -n fsl-kn addr replace 10.99.0.1/24 dev fsl5
	FS_WIRE_ENV=
	if [ -n "$rto" ]; then
		ip -n fsl-kn route replace 10.99.0.0/24 dev fsl5 src 10.99.0.1 rto_min "${rto}ms" || return 1
		FS_WIRE_ENV=FASTSOCK_TCP_RTO_MIN_MS=$rto
	fi
	# Whole frames with full checksums, as on a wire: no offloads.
	ip netns exec fsl-kn ethtool -K fsl5 tx off gso off gro off >/dev/null 2>&1
	ip netns exec fsl-wire ethtool -K fsl1 tx off gso off gro off >/dev/null 2>&1
	ip netns exec fsl-wire ethtool -K fsl4 tx off gso off gro off >/dev/null 2>&1
	ip netns exec fsl-wire "$FS_BUILD/tools/faultwire" fsl1 fsl4 $faults >"$log" 2>&1 &
	FS_WIRE_PID=$!
	for _ in $(seq 50); do
		grep -q ' up$' "$log" 2>/dev/null && return 0
		kill -0 "$FS_WIRE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "lab: faultwire did not start: $(cat "$log")" >&2
	return 1
}

fs_wire_down() {
	if [ -n "$FS_WIRE_PID" ]; then
		kill -INT "$FS_WIRE_PID" 2>/dev/null
		wait "$FS_WIRE_PID" 2>/dev/null
		FS_WIRE_PID=
	fi
	ip netns list | grep -qw fsl-wire || return 0
	ip -n fsl-wire link set fsl1 netns fsl-kn 2>/dev/null
	ip -n fsl-kn link del fsl5 2>/dev/null
	ip netns del fsl-wire
	ip -n fsl-kn link set fsl1 up
	ip -n fsl-kn addr replace 10.99.0.1/24 dev fsl1
	ip netns exec fsl-kn ethtool -K fsl1 tx off >/dev/null 2>&1
	return 0
}
