# Sourced by scripts/bench and scripts/bench_h2 (not run): the build, the scratch directory and
# the processes started in it, CPU pinning, CPU accounting and the nginx origin they share.
# Expects the caller's cwd to be the repository and `set -euo pipefail`; uses $py and sets
# $binary, $out_dir, $workdir, $pids, $pin_proxy, $pin_load, $clk_tck, $origin_port and
# $origin_pid.

py=/usr/bin/python3
build_dir=${BUILD_DIR:-build-release}

# bench_build: the Release binary in $build_dir (BUILD_DIR overrides), and $out_dir for raw
# results and profiles.
bench_build() {
  scripts/install-deps --bench
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DOUTRIGGER_TESTS=OFF >/dev/null
  ninja -C "$build_dir" -j "$(nproc)" outrigger >&2
  binary=$build_dir/outrigger
  out_dir=$build_dir/bench
  mkdir -p "$out_dir"
}

# bench_workdir: a scratch directory, removed on exit with every process in $pids stopped.
bench_workdir() {
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/outrigger-bench.XXXXXX")
  chmod 755 "$workdir"
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do end_pid "$pid"; done
  rm -rf "$workdir"
}

# Ends PID, a child started here: TERM, up to 10 s to exit, then KILL.
end_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

fail() {
  local f
  echo "bench: FAIL: $*" >&2
  for f in "$workdir"/*.log; do
    [[ -s "$f" ]] && { printf -- '--- %s ---\n' "$(basename "$f")" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}

# Stops one process started here (by PID) and forgets it.
stop() {
  local pid=$1 i keep=()
  end_pid "$pid"
  for i in "${pids[@]}"; do [[ "$i" == "$pid" ]] || keep+=("$i"); done
  pids=("${keep[@]}")
}

# Ports the kernel says are free now (bind to port 0 on 127.0.0.1).
free_ports() {
  "$py" -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# wait_200 URL PID [CURL OPTIONS...]: waits (bounded, 60 s: valgrind is slow to start) until
# URL answers 200 while PID lives.
wait_200() {
  local url=$1 pid=$2 i
  shift 2
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(curl -sk "$@" -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" == 200 ]] &&
      return 0
    sleep 0.1
  done
  return 1
}

# make_cert: one ECDSA P-256 certificate for bench.test: site.crt, site.key and site.pem (the
# two together, HAProxy's crt) in $workdir.
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$workdir/site.key" -out "$workdir/site.crt" -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test 2>/dev/null
  cat "$workdir/site.crt" "$workdir/site.key" >"$workdir/site.pem"
}

# The CPUs: the proxy under test gets cpu0, the load generator and the origin cpu1 (on one
# CPU, no pinning).
if (($(nproc) >= 2)); then
  pin_proxy=(taskset -c 0)
  pin_load=(taskset -c 1)
else
  pin_proxy=()
  pin_load=()
fi

nginx_temp_paths() {
  local dir=$1 module
  echo "    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
  for module in fastcgi uwsgi scgi; do
    nginx -V 2>&1 | grep -q -- "--without-http_${module}_module" ||
      echo "    ${module}_temp_path $dir/$module;"
  done
}

# start_origin [SERVER BLOCKS]: nginx, one worker, in the foreground of its own PID, on cpu1,
# serving / ("ok\n"), /16k, /text (1 MiB of text) and the same under /v1/ on $origin_port;
# SERVER BLOCKS are more server {} blocks for its http {}.
start_origin() {
  read -r origin_port < <(free_ports 1)
  mkdir -p "$workdir/origin" "$workdir/www"
  head -c 16384 /dev/zero | tr '\0' 'x' >"$workdir/www/16k"
  # 1 MiB of text that compresses as pages do (about 4:1 at gzip level 1), the same every run.
  "$py" -c 'import random, sys
r = random.Random(7)
words = [w for w in open(sys.argv[1]).read().split() if w.isalpha()][:2000]
out, size = [], 0
while size < 1 << 20:
    out.append(r.choice(words) + (" " if r.random() < .9 else "\n"))
    size += len(out[-1])
sys.stdout.write("".join(out)[: 1 << 20])' README.md >"$workdir/www/text"
  cat >"$workdir/origin.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 4096;
pid $workdir/origin.pid;
error_log $workdir/origin.log warn;
events { worker_connections 2048; }
http {
    access_log off;
$(nginx_temp_paths "$workdir/origin")
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    sendfile on;
    server {
        listen 127.0.0.1:$origin_port;
        location = / { default_type text/plain; return 200 "ok\n"; }
        location = /16k { default_type application/octet-stream; alias $workdir/www/16k; }
        location = /text { default_type text/plain; alias $workdir/www/text; }
        # The same responses under /v1/, where --plugins' rewrite sends requests.
        location = /v1/ { default_type text/plain; return 200 "ok\n"; }
        location = /v1/16k { default_type application/octet-stream; alias $workdir/www/16k; }
        location = /v1/text { default_type text/plain; alias $workdir/www/text; }
    }
${1:-}
}
EOF
  "${pin_load[@]}" nginx -p "$workdir/origin" -e "$workdir/origin.log" \
    -c "$workdir/origin.conf" </dev/null &
  origin_pid=$!
  pids+=("$origin_pid")
  wait_200 "http://127.0.0.1:$origin_port/" "$origin_pid" || fail "origin did not start"
}

# user and system CPU ticks of a whole process (every thread)
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)

# wrk's and h2load's latency (e.g. 812.00us, 1.23ms, 1.02s) in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else print "nan" }'
}

machine() {
  printf '%s, %s CPUs (%s), %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" \
    "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(uname -r)"
}

# syscall_mix NAME PID REQUESTS COMMAND...: runs COMMAND (REQUESTS requests to PID) under
# `strace -f -c` of PID and prints the calls per request ("writev 2.00, ..."), those made at
# least once per 200 requests; strace's table stays in $out_dir/strace.NAME.txt.
syscall_mix() {
  local name=$1 pid=$2 requests=$3 strace_pid
  shift 3
  "${pin_load[@]}" strace -f -c -o "$workdir/strace.$name" -p "$pid" 2>/dev/null &
  strace_pid=$!
  pids+=("$strace_pid")
  sleep 1
  local rc=0
  "$@" >/dev/null || rc=$?
  kill -INT "$strace_pid" 2>/dev/null || true
  wait "$strace_pid" 2>/dev/null || true
  stop "$strace_pid"
  ((rc == 0)) || return 1
  awk -v n="$requests" '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $4 ~ /^[0-9]+$/ {
      c = $4; if (c / n >= 0.005) printf "%s %.2f, ", $NF, c / n }' "$workdir/strace.$name" |
    sed 's/, $//'
  cp "$workdir/strace.$name" "$out_dir/strace.$name.txt"
}

# callgrind_per_request NAME PID REQUESTS: after a `callgrind_control -d` of PID (started with
# --callgrind-out-file=$out_dir/callgrind.NAME.%p --separate-threads=yes), sets $insn_total
# (instructions per request, all threads), $insn_busiest (the busiest thread's total) and
# $insn_threads ("thread N COUNT, ..."), and writes $out_dir/profile.NAME.txt.
callgrind_per_request() {
  local name=$1 pid=$2 requests=$3 f n total=0
  insn_busiest=0
  insn_threads=
  for f in "$out_dir/callgrind.$name.$pid".1-*; do
    [[ -f "$f" ]] || fail "no callgrind dump for $name"
    n=$(awk '/^summary:/ {print $2; exit}' "$f")
    total=$((total + n))
    ((n <= insn_busiest)) || insn_busiest=$n
    insn_threads+="thread ${f##*-} $(awk -v i="$n" -v r="$requests" \
      'BEGIN {printf "%.0f", i / r}'), "
  done
  insn_total=$(awk -v i="$total" -v n="$requests" 'BEGIN {printf "%.0f", i / n}')
  "$py" scripts/bench_tool.py profile --requests "$requests" "$out_dir/callgrind.$name.$pid".1-* \
    >"$out_dir/profile.$name.txt" || fail "callgrind_annotate failed for $name"
}
