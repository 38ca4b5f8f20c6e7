#!/usr/bin/python3
"""Helpers for scripts/bench: a deterministic sequential client, an idle-connection holder and
the report that turns raw runs into medians, ranges and ratios. Standard library only; every
socket goes to 127.0.0.1.

  bench_tool.py seq --port P --requests N [--warmup W] [--path /] [--perf-pid PID --perf-out F]
                    [--callgrind-pid PID] [--tls]
  bench_tool.py idle --port P --connections N --pid PID [--tls]  (KiB of RSS per connection)

--tls: the connections speak TLS (no verification: the bench's own certificate).
  bench_tool.py report [--bases nginx,haproxy] [--latency 'p50 ms,p99 ms'] RESULTS.tsv
                                                       (markdown table on stdout)
  bench_tool.py profile --requests N CALLGRIND_FILE...          (where the instructions go)
"""

import argparse
import collections
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"


def request_bytes(port, path):
    # What wrk sends, so the sequential client and the load runs exercise the same request.
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()


class Conn:
    """One keep-alive connection reading Content-Length framed responses."""

    def __init__(self, port, tls=None):
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="bench.test")
        self.buf = b""

    def exchange(self, req):
        self.sock.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            sys.exit(f"bench_tool: response without Content-Length: {lines[0]!r}")
        while len(self.buf) < length:
            self._fill()
        self.buf = self.buf[length:]
        if status != 200:
            sys.exit(f"bench_tool: status {status}")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            sys.exit("bench_tool: connection closed by the server")
        self.buf += chunk


def tls_context(args):
    if not args.tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cmd_seq(args):
    req = request_bytes(args.port, args.path)
    conn = Conn(args.port, tls_context(args))
    for _ in range(args.warmup):
        conn.exchange(req)
    perf = None
    if args.perf_pid:
        perf = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(args.perf_pid),
             "-o", args.perf_out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # perf attaches asynchronously; an idle loop makes ~no syscalls meanwhile
    if args.callgrind_pid:
        subprocess.run(["callgrind_control", "-z", str(args.callgrind_pid)], check=True,
                       stdout=subprocess.DEVNULL)
    for _ in range(args.requests):
        conn.exchange(req)
    if args.callgrind_pid:
        subprocess.run(["callgrind_control", "-d", str(args.callgrind_pid)], check=True,
                       stdout=subprocess.DEVNULL)
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=30)
    conn.sock.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cmd_idle(args):
    # Each connection makes one request and then stays open, idle: the state a proxy keeps
    # for a browser between page loads. Requests are sequential so that the proxy never
    # needs more than one upstream connection.
    req = request_bytes(args.port, args.path)
    tls = tls_context(args)
    warm = [Conn(args.port, tls) for _ in range(20)]
    for c in warm:
        c.exchange(req)
    for c in warm:
        c.sock.close()
    time.sleep(0.5)
    before = rss_kib(args.pid)
    conns = []
    for _ in range(args.connections):
        c = Conn(args.port, tls)
        c.exchange(req)
        conns.append(c)
    time.sleep(1.0)
    after = rss_kib(args.pid)
    print(f"{(after - before) / args.connections:.2f} {before} {after}")
    for c in conns:
        c.sock.close()


def fmt(values, digits):
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def cmd_report(args):
    # RESULTS.tsv: case target rps p50_ms p99_ms cpu_us_per_req syscalls_per_req sys_percent
    runs = {}
    order = []
    with open(args.results) as f:
        for line in f:
            case, target, *vals = line.rstrip("\n").split("\t")
            key = (case, target)
            if key not in runs:
                runs[key] = []
                order.append(key)
            runs[key].append([float(v) if v not in ("", "nan") else float("nan") for v in vals])
    bases = args.bases.split(",")
    label = {"nginx": "nginx", "haproxy": "HAProxy"}
    lat = args.latency.split(",")
    print(f"| case | target | req/s | {lat[0]} | {lat[1]} | CPU µs/req | sys % | syscalls/req | "
          + " | ".join(f"CPU ×{label.get(b, b)}" for b in bases)
          + f" | req/s ×{label.get(bases[-1], bases[-1])} |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * (len(bases) + 1))

    def med(case, target, col):
        rows = runs.get((case, target))
        return statistics.median(r[col] for r in rows) if rows else float("nan")

    def ratio(case, target, col, base):
        b = med(case, base, col)
        if target in (base, "origin") or b != b:
            return ""
        return f"{med(case, target, col) / b:.2f}"

    for case, target in order:
        cols = list(zip(*runs[(case, target)]))
        sc = [v for v in cols[4] if v == v]
        cells = [fmt(cols[0], 0), fmt(cols[1], 2), fmt(cols[2], 2), fmt(cols[3], 1),
                 f"{statistics.median(cols[5]):.0f}", fmt(sc, 2) if sc else "–"]
        cells += [ratio(case, target, 3, b) for b in bases]
        cells.append(ratio(case, target, 0, bases[-1]))
        print(f"| {case} | {target} | " + " | ".join(cells) + " |")

def annotate(files, inclusive):
    """(Ir, function, object) rows of callgrind_annotate, summed over FILES (one per thread:
    callgrind_annotate reads only one)."""
    summed = collections.Counter()
    for path in files:
        out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                              "--threshold=100", path], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[(.*)\])?$", line)
            if m and "PROGRAM TOTALS" not in line:
                summed[(m.group(2), m.group(3) or "")] += int(m.group(1).replace(",", ""))
    return [(ir, fn, obj) for (fn, obj), ir in summed.items()]


def short(fn):
    fn = re.sub(r"^[^:\s]*:", "", fn, count=1)  # the file part
    fn = fn.replace("(anonymous namespace)::", "")
    fn = re.sub(r"\(.*$", "", fn)               # the argument list
    return fn.replace("outrigger::", "")


def cmd_profile(args):
    # Self cost by object and the top functions, per request, for one callgrind dump.
    n = args.requests
    self_rows = [r for r in annotate(args.files, False)
                 if not re.search(r"_M_run|clone|start_thread|0x00000000000d4490", r[1])]
    total = sum(r[0] for r in self_rows)
    by_obj = collections.Counter()
    for ir, fn, obj in self_rows:
        by_obj[os.path.basename(obj) or "?"] += ir
    print(f"{total / n:,.0f} instructions per request, by object (self cost):")
    for obj, ir in by_obj.most_common(6):
        print(f"  {ir / n:8,.0f}  {100 * ir / total:5.1f}%  {obj}")
    print(f"top {args.top} functions, self cost per request:")
    for ir, fn, _ in sorted(self_rows, reverse=True)[:args.top]:
        print(f"  {ir / n:8,.0f}  {100 * ir / total:5.1f}%  {short(fn)}")
    print(f"top {args.top} functions, inclusive cost per request:")
    incl = [r for r in annotate(args.files, True)
            if not re.search(r"_M_run|clone|start_thread|0x0000|event_base_loop|_invoke", r[1])]
    for ir, fn, _ in sorted(incl, reverse=True)[:args.top]:
        print(f"  {ir / n:8,.0f}  {100 * ir / total:5.1f}%  {short(fn)}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seq")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--path", default="/")
    s.add_argument("--requests", type=int, default=2000)
    s.add_argument("--warmup", type=int, default=100)
    s.add_argument("--perf-pid", type=int)
    s.add_argument("--perf-out")
    s.add_argument("--callgrind-pid", type=int)
    s.add_argument("--tls", action="store_true")
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--path", default="/")
    i.add_argument("--connections", type=int, default=10000)
    i.add_argument("--pid", type=int, required=True)
    i.add_argument("--tls", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("--bases", default="nginx,haproxy")
    r.add_argument("--latency", default="p50 ms,p99 ms", help="names of the two latency columns")
    r.add_argument("results")
    f = sub.add_parser("profile")
    f.add_argument("--requests", type=int, required=True)
    f.add_argument("--top", type=int, default=15)
    f.add_argument("files", nargs="+")
    args = p.parse_args()
    {"seq": cmd_seq, "idle": cmd_idle, "report": cmd_report,
     "profile": cmd_profile}[args.cmd](args)


if __name__ == "__main__":
    main()
