#!/usr/bin/env python3
"""The torture test: seeded random schedules against the real binary (issue 13).

Each schedule starts one proxy (2 workers) in front of misbehaving backends
(torture_backend.py: slow, reset, close mid-body, bad framing, extra responses, WebSocket)
and runs steps. A step starts a few concurrent client actions (torture_clients.py:
keep-alive sequences, pipelining, half-close, trickled and aborted bodies, HEAD, POST with
plain and chunked bodies, upgrades, bad requests) and, while they run, one proxy event:
SIGHUP with listeners and backends added, removed and reordered, a backend dying or coming
back, a DNS change. After every step: no sanitizer report; every request answered once or
its connection closed, in bounded time, with its own response and nothing extra; gauges back
to zero; pool counters consistent with the answers clients got. At the end: a drain
(SIGTERM with a request in flight, which must be answered, and a clean exit), and no POST
delivered to the backends twice.

A failure prints the seed and the schedule; TORTURE_SEED=N replays one seed,
TORTURE_SCHEDULES=N runs N seeds from TORTURE_FIRST_SEED (default: a new one every run).
Seeds that once found a defect are kept in FOUND and run every time.
"""

import json
import os
import random
import signal
import socket
import sys
import threading
import time

import dns_server
import harness
import metrics_util
import torture_clients as tc

TORTURE_BACKEND_PY = os.path.join(harness.HERE, "torture_backend.py")
DNS_NAME = "torture.outrigger.test"
DNS_IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
READ_TIMEOUT_S = 2
HEADER_TIMEOUT_S = 4
# Seeds that found a defect (before its fix was merged), run in every sanitizer run next to
# the random ones: 60 and 65, a reload inserting a listener above `web` under a request in
# flight (13.2, heap overflow in Shard::OnDownstreamResponse).
FOUND = [60, 65] if harness.SANITIZER == "asan" else []
# Random schedules per run (about 25 s each): the ASan stage allows the torture test 3
# minutes, the plain build (CI's main run) 60 s, TSan (5x slower) one schedule.
SCHEDULES = int(os.environ.get("TORTURE_SCHEDULES", {"asan": "3", "tsan": "1"}.get(harness.SANITIZER, "2")))
STEPS = int(os.environ.get("TORTURE_STEPS", "8" if harness.SANITIZER == "asan" else "6"))

# For development only: TORTURE_KNOWN=13.7,13.9 leaves out the behaviours that hit those
# known issue items (NEW.2: a bodiless POST resent when its backend resets or dies under it
# on a reused connection). CI runs with none left out.
KNOWN = set(filter(None, os.environ.get("TORTURE_KNOWN", "").split(",")))
DRAIN_EXIT_S = 1.5
ERROR_KINDS = ("slowlong", "badframe", "midbody", "reset", "status503", "nope")

KINDS = ["ok", "ok", "echo", "slowshort", "slowlong", "chunked", "drip", "status503", "status404",
         "close", "reset", "midbody", "badframe", "extra", "nope"]


# --- the schedule ------------------------------------------------------------------------------

class Plan:
    """Makes the seeded schedule: pure data, printed on failure."""

    def __init__(self, seed, dns):
        self.rng = random.Random(seed)
        self.seed, self.dns, self.next_id = seed, dns, 0
        self.listeners = ["web"]
        self.backends = ["a", "b"]
        self.dead = set()
        self.dns_set = DNS_IPS[:2]

    def new_id(self):
        self.next_id += 1
        return "s%d-%d" % (self.seed, self.next_id)

    def request(self, method=None, kind=None):
        r = self.rng
        kind = kind or r.choice(KINDS + (["dns"] if self.dns else []))
        method = method or r.choice(["GET", "GET", "HEAD", "POST", "POST"])
        if "13.10" in KNOWN and method == "HEAD":
            method = "GET"
        if "13.4" in KNOWN and method == "POST" and kind == "slowlong":
            method = "GET"
        req = {"id": self.new_id(), "method": method, "kind": kind, "pool": "main"}
        if kind == "nope":
            req.update(path="/nope", pool=None)
        elif kind == "dns":
            req.update(path="/d/ok", pool="dns")
        elif kind == "slowshort":
            req["path"] = "/b/slow?ms=%d" % r.choice([50, 200, 400])
        elif kind == "slowlong":
            req["path"] = "/b/slow?ms=%d" % (READ_TIMEOUT_S * 1000 + 800)
        elif kind == "drip":
            req["path"] = "/b/drip?ms=300"
        elif kind.startswith("status"):
            req["path"] = "/b/status?code=%s" % kind[6:]
        else:
            req["path"] = "/b/" + kind
        if method == "POST":
            req["body"] = bytes(r.randrange(256) for _ in range(r.choice([0, 1, 17, 1000, 3000])))
            req["chunked"] = r.random() < 0.4
        return req

    def action(self):
        r = self.rng
        kind = r.choice(["keepalive", "keepalive", "pipeline", "pipeline", "halfclose", "trickle",
                         "abort", "leave", "websocket"])
        # The listeners a reload may take away (alt1, alt2) get more of the traffic.
        act = {"kind": kind, "listener": r.choice(self.listeners + [l for l in self.listeners if l != "web"])}
        if kind in ("keepalive", "pipeline"):
            act["reqs"] = [self.request() for _ in range(r.randint(2, 5))]
            if "13.9" in KNOWN and kind == "pipeline":
                act["reqs"] = [q for q in act["reqs"][:-1] if q["kind"] not in ERROR_KINDS] \
                    + act["reqs"][-1:]
        elif kind == "halfclose":
            act["reqs"] = [self.request() for _ in range(r.randint(1, 2))]
        elif kind == "trickle":
            # Longer than the read timeout: a body still flowing must not time out (13.7).
            act["req"] = self.request("POST", "echo")
            act["req"]["body"] = bytes(r.randrange(256) for _ in range(600))
            act["pieces"], act["gap"] = 6, READ_TIMEOUT_S / (4.0 if "13.7" not in KNOWN else 8.0)
        elif kind == "abort":
            act["req"] = self.request("POST", r.choice(["ok", "echo", "slowshort"]))
            act["req"]["body"] = b"x" * 2000
            act["req"]["chunked"] = r.random() < 0.5
            act["after"], act["reset"] = r.choice([0.0, 0.1, 0.3]), r.random() < 0.5
        elif kind == "leave":
            act["req"] = self.request(r.choice(["GET", "POST"]), "slowshort")
            act["req"]["path"] = "/b/slow?ms=600"
            act["after"] = r.choice([0.05, 0.3])
        else:
            act["req"] = self.request("GET", "ws")
            act["req"]["ws"] = "websocket"
            act["hold"], act["half_close"] = r.choice([0.0, 0.2, 0.6]), r.random() < 0.5
        return act

    def event(self):
        r = self.rng
        choices = ["none", "reload", "reload", "reload", "kill", "revive"] + (["dns"] if self.dns else [])
        kind = r.choice(choices)
        if kind == "reload":
            alts = [n for n in ("alt1", "alt2") if r.random() < 0.5]
            listeners = alts + ["web"]
            r.shuffle(listeners)
            if "13.1" in KNOWN:  # no listener removed
                listeners += [l for l in self.listeners if l not in listeners]
            if "13.2" in KNOWN:  # no listener moved: new ones go last
                listeners = [l for l in self.listeners if l in listeners] + \
                    [l for l in listeners if l not in self.listeners]
            backends = [b for b in ("a", "b", "c") if r.random() < 0.6] or ["c"]
            r.shuffle(backends)
            if "13.11" in KNOWN:
                backends = ["a", "b", "c"]
                r.shuffle(backends)
            ev = {"kind": "reload", "listeners": listeners, "backends": backends,
                  "weights": [r.randint(1, 3) for _ in backends],
                  "balance": r.choice(["round_robin", "least_conn", "random"]
                                      + ([] if "13.3" in KNOWN else ["ip_hash"])),
                  "keepalive": r.choice([0, 1, 32])}
            self.listeners, self.backends = listeners, backends
            return ev
        if kind == "kill" and len(self.dead) < 2:
            victim = r.choice(["a", "b", "c"])
            self.dead.add(victim)
            return {"kind": "kill", "backend": victim}
        if kind == "revive" and self.dead:
            back = r.choice(sorted(self.dead))
            self.dead.discard(back)
            return {"kind": "revive", "backend": back}
        if kind == "dns" and "13.11" not in KNOWN:
            self.dns_set = sorted(r.sample(DNS_IPS, r.randint(1, 3)))
            return {"kind": "dns", "ips": self.dns_set}
        return {"kind": "none"}

    def long_action(self, i):
        """One action per step still in flight when the event fires (a reload under a busy
        connection, a backend dying under it); every fourth step a POST that outlives the
        read timeout on a keep-alive connection (never resent, 13.4)."""
        r = self.rng
        listener = r.choice(self.listeners)
        if i % 4 == 1:
            reqs = [self.request("GET", "ok"), self.request("POST", "slowlong")]
            reqs[1]["body"] = b""  # a bodiless POST is what a reused connection would resend
            return {"kind": "keepalive", "listener": listener, "reqs": reqs}
        act = self.action()
        if act["kind"] not in ("websocket", "trickle"):
            req = self.request(r.choice(["GET", "POST"]), "slowshort")
            req["path"] = "/b/slow?ms=1200"
            act = {"kind": "keepalive", "listener": listener, "reqs": [req]}
        if act["kind"] == "websocket":
            act["hold"] = 0.8
        return act

    def steps(self, n):
        out = []
        kinds = sorted(tc.GARBAGE)
        self.rng.shuffle(kinds)
        for i in range(n):
            before = list(self.listeners)
            acts = [self.long_action(i)] + [self.action() for _ in range(self.rng.randint(1, 4))]
            bad = self.action_garbage(kinds[i % len(kinds)])
            if bad:
                acts.append(bad)
            ev = self.event()
            stable = [l for l in before if l in self.listeners]
            out.append({"actions": acts, "event": ev, "event_after": self.rng.choice([0.05, 0.2, 0.5]),
                        "stable_listeners": stable})
        return out

    def action_garbage(self, kind):
        """Every schedule sends each kind of bad request once (in 8 steps; 6 of them in 6)."""
        if ("13.13" in KNOWN and kind == "upgrade-list") or ("13.14" in KNOWN and kind == "bare-lf"):
            return None
        req = self.request("GET", "garbage")
        req["pool"] = None
        return {"kind": "garbage", "listener": self.rng.choice(self.listeners), "garbage": kind,
                "req": req}


def describe(steps):
    def short(x):
        if isinstance(x, dict):
            return {k: short(v) for k, v in x.items() if k != "body"} | (
                {"body_len": len(x["body"])} if "body" in x else {})
        if isinstance(x, list):
            return [short(v) for v in x]
        return x
    return "\n".join("step %d: %s" % (i, json.dumps(short(s))) for i, s in enumerate(steps))


# --- the world the schedule runs in ------------------------------------------------------------

class Torture(harness.ProxyTestCase):
    def start_world(self, seed):
        self.id_logs = []
        self.procs = {}
        for name in ("a", "b", "c"):
            self.procs[name] = self.torture_backend(name)
        self.dns = None
        if os.access(dns_server.DNSMASQ, os.X_OK):
            self.dns_backends = self.start_dns_replicas()
            self.dns = dns_server.Dnsmasq(self.tmp, {DNS_NAME: DNS_IPS[:2]})
            self.addCleanup(self.dns.stop)
        self.ports = {"alt1": harness.free_port(), "alt2": harness.free_port()}
        self.state = {"listeners": ["web"], "backends": ["a", "b"], "weights": [1, 1],
                      "balance": "round_robin", "keepalive": 32}
        self.proxy = self.start_proxy(self.render(first=True))
        self.ports["web"] = self.proxy_port
        self.reloads = 0

    def torture_backend(self, name, port=0, host=harness.LOOPBACK):
        log = os.path.join(self.tmp, "ids-%s-%d.log" % (name, len(self.id_logs)))
        self.id_logs.append(log)
        b = harness.Backend(name, port=port, host=host, log_dir=self.tmp, script=TORTURE_BACKEND_PY,
                            extra_args=["--id-log", log])
        self.addCleanup(b.stop)
        return b

    def start_dns_replicas(self):
        for _ in range(5):
            first = self.torture_backend("d2", host=DNS_IPS[0])
            try:
                rest = [self.torture_backend("d%s" % ip[-1], host=ip, port=first.port) for ip in DNS_IPS[1:]]
            except AssertionError:
                continue
            return [first] + rest
        raise AssertionError("no port free on 127.0.0.2-4")

    def render(self, first=False):
        st = self.state
        routes = [{"path_prefix": "/b/", "pool": "main"}]
        pools = {"main": {
            "balance": st["balance"],
            "keepalive": st["keepalive"],
            "timeouts": {"connect": "1s", "read": "%ds" % READ_TIMEOUT_S},
            "retries": {"attempts": 2},
            "circuit_breaker": {"consecutive_failures": 5, "open_for": "1s"},
            "backends": [{"address": self.procs[n].address, "weight": w}
                         for n, w in zip(st["backends"], st["weights"])]}}
        if st["balance"] == "ip_hash":
            pools["main"]["hash_on"] = "header:X-Torture-Id"
        top = {}
        if self.dns:
            routes.append({"path_prefix": "/d/", "pool": "dns"})
            pools["dns"] = {"timeouts": {"read": "%ds" % READ_TIMEOUT_S},
                            "backends": [{"dns": "%s:%d" % (DNS_NAME, self.dns_backends[0].port),
                                          "resolve_every": "1s"}]}
            top["resolver"] = "127.0.0.1:%d" % self.dns.port
        listener = {"timeouts": {"header": "%ds" % HEADER_TIMEOUT_S}}
        text = self.config(pools=pools, routes=routes, listener=listener, workers=2,
                           drain={"delay": "0s", "timeout": "10s"}, top=top) if first else None
        if first:
            self.base = {"admin": self.admin_port, "web": self.proxy_port}
            return text
        cfg = {"workers": 2, "admin": {"listen": "127.0.0.1:%d" % self.base["admin"]},
               "drain": {"delay": "0s", "timeout": "10s"}}
        cfg.update(top)
        cfg["listeners"] = {n: {"listen": "127.0.0.1:%d" % self.ports[n],
                                "timeouts": {"header": "%ds" % HEADER_TIMEOUT_S}, "routes": routes}
                            for n in st["listeners"]}
        cfg["pools"] = pools
        return harness.to_yaml(cfg) + "\n"

    # --- events --------------------------------------------------------------------------------

    def fire(self, ev):
        kind = ev["kind"]
        if kind == "reload":
            for k in ("listeners", "backends", "weights", "balance", "keepalive"):
                self.state[k] = ev[k]
            self.reloads += 1
            self.proxy.reload(self.render())
            self.proxy.wait_log(r"reloaded |reload refused", count=self.reloads, timeout=10)
            if "reload refused" in self.proxy.stderr(tail=100000):
                raise AssertionError("a valid reload was refused")
        elif kind == "kill":
            self.procs[ev["backend"]].proc.kill()
            self.procs[ev["backend"]].proc.wait(10)
        elif kind == "revive":
            old = self.procs[ev["backend"]]
            old.stop()
            for _ in range(20):
                try:
                    self.procs[ev["backend"]] = self.torture_backend(ev["backend"], port=old.port)
                    break
                except AssertionError:  # the port is briefly still held; try again
                    time.sleep(0.1)
        elif kind == "dns":
            self.dns.reload({DNS_NAME: ev["ips"]}, DNS_NAME)

    # --- one step ------------------------------------------------------------------------------

    def run_action(self, act, res):
        port = self.ports[act["listener"]]
        k = act["kind"]
        if k == "keepalive":
            tc.keepalive(res, port, act["reqs"])
        elif k == "pipeline":
            tc.pipeline(res, port, act["reqs"])
        elif k == "halfclose":
            tc.halfclose(res, port, act["reqs"])
        elif k == "trickle":
            tc.trickle(res, port, act["req"], act["pieces"], act["gap"])
        elif k == "abort":
            tc.abort(res, port, act["req"], act["after"], act["reset"])
        elif k == "leave":
            tc.leave_early(res, port, act["req"], act["after"])
        elif k == "websocket":
            tc.websocket(res, port, act["req"], act["hold"], act["half_close"])
        else:
            tc.garbage(res, port, act["garbage"], act["req"])

    def run_step(self, i, step):
        violations = []
        before = metrics_util.scrape(self.proxy)[0]
        results = [tc.Result("step %d action %d (%s on %s)" % (i, j, a["kind"], a["listener"]))
                   for j, a in enumerate(step["actions"])]

        def guarded(act, res):
            try:
                self.run_action(act, res)
            except Exception as e:  # an unexpected client error is a finding too
                res.bad("client raised %r" % e)

        threads = [threading.Thread(target=guarded, args=(a, r), daemon=True)
                   for a, r in zip(step["actions"], results)]
        for t in threads:
            t.start()
        time.sleep(step["event_after"])
        try:
            self.fire(step["event"])
        except Exception as e:  # e.g. the reload never logged: the proxy may be gone
            violations.append("event %s failed: %r" % (step["event"]["kind"], e))
        end = harness.deadline(4 * tc.ANSWER_DEADLINE)
        for t, r in zip(threads, results):
            t.join(max(0.0, end - time.monotonic()))
            if t.is_alive():
                violations.append("%s: client still running at the step's deadline" % r.name)
        for act, r in zip(step["actions"], results):
            violations += r.violations
            if r.refused and act["listener"] in step["stable_listeners"]:
                violations.append("%s: connection refused by a listener that stayed configured" % r.name)
        violations += self.sanitizer_report()
        if self.proxy.proc.poll() is not None:
            violations.append("outrigger exited with status %s" % self.proxy.proc.returncode)
            return violations
        try:
            violations += self.quiet_gauges()
        except OSError as e:
            time.sleep(0.5)
            return violations + ["admin /metrics failed (%r); outrigger status %s; stderr:\n%s"
                                 % (e, self.proxy.proc.poll(), self.proxy.stderr(tail=30))]
        partial = {}
        for act in step["actions"]:
            if act["kind"] in ("abort", "leave"):
                partial[act["req"]["pool"]] = partial.get(act["req"]["pool"], 0) + 1
        violations += self.pool_counts(before, results, partial)
        return violations

    def sanitizer_report(self):
        report = harness.SANITIZER_REPORT.search(self.proxy.stderr(tail=100000))
        if report:
            return ["sanitizer report:\n" + self.proxy.stderr(tail=100000)[report.start():][:6000]]
        return []

    GAUGES = ("outrigger_pool_inflight_requests", "outrigger_pool_pending_requests",
              "outrigger_backend_inflight_requests", "outrigger_backend_tunnels",
              "outrigger_downstream_connections")

    def busy_gauges(self):
        samples = metrics_util.scrape(self.proxy)[0]
        busy = {"%s%s" % (n, dict(l)): v for (n, l), v in samples.items()
                if v and (n in self.GAUGES or (n == "outrigger_backend_connections"
                                                and ("state", "active") in l))}
        return busy

    def quiet_gauges(self):
        """Every client is gone: nothing may stay in flight, open or active."""
        try:
            harness.wait_until(lambda: not self.busy_gauges(), timeout=5, interval=0.1)
        except AssertionError:
            return ["gauges not back to zero with every client gone: %s" % self.busy_gauges()]
        return []

    def pool_counts(self, before, results, partial):
        """outrigger_pool_requests_total counts each client request once, by the status the
        client got: at least the answers clients read whole, at most the heads they sent
        (`partial`: heads of aborted bodies and of clients that left, per pool)."""
        after = metrics_util.scrape(self.proxy)[0]
        out = []
        for pool in ("main", "dns"):
            def delta(cls):
                key = ("outrigger_pool_requests_total", frozenset({("pool", pool), ("code", cls)}))
                return after.get(key, 0) - before.get(key, 0)
            seen = {}
            for r in results:
                for p, status in r.answers:
                    if p == pool:
                        cls = "%dxx" % (status // 100)
                        seen[cls] = seen.get(cls, 0) + 1
            sent = sum(1 for r in results for p, _ in r.sent if p == pool) + partial.get(pool, 0)
            counted = {c: delta(c) for c in ("1xx", "2xx", "3xx", "4xx", "5xx")}
            for cls, n in sorted(seen.items()):
                if counted[cls] < n:
                    out.append("pool %s counted %d %s answers, clients read %d whole"
                               % (pool, counted[cls], cls, n))
            if sum(counted.values()) > sent:
                out.append("pool %s counted %d requests (%s), clients sent %d heads"
                           % (pool, sum(counted.values()), counted, sent))
        return out

    # --- the end -------------------------------------------------------------------------------

    def drain(self):
        """SIGTERM with a slow request in flight: it is answered, then the process exits 0
        soon after, though the client keeps its socket open (13.15: no lingering once every
        response is flushed and no request bytes can still arrive)."""
        out = []
        res = tc.Result("drain")
        pool = self.state["backends"]
        if all(self.procs[n].proc.poll() is not None for n in pool):
            # The schedule may end with every backend of the pool dead; the drain needs one.
            self.fire({"kind": "revive", "backend": pool[0]})
        # The pool's circuit may still be open from the schedule's failures (its 503 is right):
        # ask again, on a fresh connection, until a request is in flight at a backend.
        deadline = time.monotonic() + 10 * harness.TOLERANCE
        refusals = []
        for attempt in range(1000):
            req = {"id": "drain-%d-%d" % (self.seed, attempt), "method": "GET",
                   "path": "/b/slow?ms=700", "kind": "slowshort", "pool": "main"}
            wire = tc.Wire(self.ports["web"])
            wire.sock.sendall(tc.request_bytes(req))
            answer = self.await_delivery(wire, req["id"])
            if answer is None:
                break
            wire.close()
            refusals.append(answer)
            if time.monotonic() > deadline:
                return out + ["drain: no request reached a backend within %.0fs; answers: %s"
                              % (10 * harness.TOLERANCE, sorted(set(refusals)))] + \
                    self.sanitizer_report()
            time.sleep(0.2)
        try:
            self.proxy.signal(signal.SIGTERM)
            tc.read_answers(res, wire, [req])
            answered = time.monotonic()
            out += res.violations
            if not res.answers:
                out.append("drain: the request in flight at SIGTERM was not answered")
            try:
                status = self.proxy.wait(15)
                if status != 0:
                    out.append("drain: outrigger exited with status %s" % status)
                took = time.monotonic() - answered
                if took > DRAIN_EXIT_S * harness.TOLERANCE:
                    out.append("drain: outrigger exited %.2fs after its last answer (want <= %.1fs)"
                               % (took, DRAIN_EXIT_S * harness.TOLERANCE))
            except AssertionError as e:
                out.append("drain: %s" % e)
        finally:
            wire.close()
        out += self.sanitizer_report()
        return out

    def await_delivery(self, wire, tid):
        """None once the request reached a backend; else the status line the proxy answered
        with instead (or a note that nothing came)."""
        end = time.monotonic() + 2 * harness.TOLERANCE
        wire.sock.settimeout(0.05)
        got = b""
        while time.monotonic() < end:
            if self.delivered(tid):
                return None
            try:
                chunk = wire.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                continue
            except OSError as e:
                return "connection error %r" % e
            if not chunk:
                return "closed: %r" % got.split(b"\r\n")[0]
            got += chunk
            if b"\r\n" in got and not self.delivered(tid):
                return got.split(b"\r\n")[0].decode("latin-1")
        return "no answer within %.1fs" % (2 * harness.TOLERANCE)

    def delivered(self, tid):
        for path in self.id_logs:
            if os.path.exists(path):
                with open(path) as f:
                    if any(line.split()[-1:] == [tid] for line in f):
                        return True
        return False

    def duplicates(self):
        """A POST (unique X-Torture-Id) must reach the backends at most once in all."""
        seen = {}
        excused = set()
        if "NEW.2" in KNOWN:  # bodiless requests whose backend reset or died under them
            for step in self.steps:
                for a in step["actions"]:
                    for q in a.get("reqs", [a.get("req")]):
                        if q and (q["kind"] == "reset" or step["event"]["kind"] == "kill"):
                            excused.add(q["id"])
        for path in self.id_logs:
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[1] == "POST" and parts[2] != "-":
                        seen.setdefault(parts[2], []).append(parts[0])
        return ["POST %s delivered %d times (backends %s)" % (k, len(v), v)
                for k, v in sorted(seen.items()) if len(v) > 1 and k not in excused]

    def run_seed(self, seed):
        self.seed = seed
        self.start_world(seed)
        plan = Plan(seed, self.dns is not None)
        steps = self.steps = plan.steps(STEPS)
        violations = []
        started = time.monotonic()
        for i, step in enumerate(steps):
            try:
                found = self.run_step(i, step)
            except Exception as e:
                found = ["the step raised %r" % e]
            if found:
                violations += ["step %d: %s" % (i, v) for v in found]
                break
        if not violations or self.proxy.proc.poll() is None:
            violations += self.drain()
        violations += self.duplicates()
        if violations:
            self.fail("TORTURE_SEED=%d failed after %.1fs:\n  %s\nschedule:\n%s\n"
                      "outrigger stderr (tail):\n%s"
                      % (seed, time.monotonic() - started, "\n  ".join(violations), describe(steps),
                         self.proxy.stderr(tail=40)))


def seeds():
    if os.environ.get("TORTURE_SEED"):
        return [int(os.environ["TORTURE_SEED"])]
    first = int(os.environ.get("TORTURE_FIRST_SEED", str(random.SystemRandom().randrange(1 << 30))))
    return FOUND + [first + i for i in range(SCHEDULES)]


class TortureSchedules(Torture):
    """One test per seed, so each gets its own processes and its own failure report."""


def _add_seed(seed):
    def test(self):
        sys.stderr.write("torture: TORTURE_SEED=%d\n" % seed)
        self.run_seed(seed)
    setattr(TortureSchedules, "test_seed_%d" % seed, test)


for _seed in seeds():
    _add_seed(_seed)


if __name__ == "__main__":
    harness.main()
