"""A real DNS server for the DNS discovery tests: dnsmasq (Debian's dnsmasq-base) on a
loopback port, answering only from a hosts file the test edits, plus a minimal A query to
know what it answers.

dnsmasq rereads its --addn-hosts file on SIGHUP, which is how a test adds and removes
records. It is stopped by PID in a cleanup like every other process a test starts.
"""

import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import unittest

import harness

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def query_a(port, name, timeout=1.0):
    """The IPv4 addresses 127.0.0.1:port answers for `name` (A): [] for an error answer
    (dnsmasq refuses names it does not know), None when nothing answers."""
    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout * harness.SLOWDOWN)
        try:
            s.sendto(packet, (harness.LOOPBACK, port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return None
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    if rid != qid:
        return None
    if flags & 0x000F != 0:
        return []
    pos = 12
    for _ in range(qd):
        while data[pos] != 0:
            pos += 1 + data[pos]
        pos += 5
    found = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos] != 0:
                pos += 1 + data[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            found.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += rdlen
    return sorted(found)


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<free port>, authoritative for the names in its hosts file."""

    def __init__(self, log_dir, records):
        if not os.access(DNSMASQ, os.X_OK):
            raise unittest.SkipTest("dnsmasq is not installed (scripts/install-deps --dns)")
        self.hosts_path = os.path.join(log_dir, "dns-hosts")
        self.log_path = os.path.join(log_dir, "dnsmasq.log")
        self.write(records)
        self.port = harness.free_port()
        self.log = open(self.log_path, "wb")
        args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
                "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--addn-hosts=" + self.hosts_path, "--no-negcache",
                "--local-ttl=0", "--log-facility=-", "--user=" + pwd.getpwuid(os.getuid()).pw_name]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, close_fds=True)
        try:
            harness.wait_until(lambda: self.proc.poll() is not None or query_a(self.port, "probe.test")
                               is not None, timeout=10, what="dnsmasq to answer")
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited: %s" % open(self.log_path).read()[-2000:])
        except BaseException:
            self.stop()
            raise

    def write(self, records):
        """records: {name: [ip, ...]}. Takes effect at the next reload()."""
        lines = ["%s %s" % (ip, name) for name, ips in records.items() for ip in ips]
        with open(self.hosts_path + ".new", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(self.hosts_path + ".new", self.hosts_path)

    def reload(self, records, name):
        """Rewrites the records, sends SIGHUP and waits until dnsmasq answers the new set."""
        self.write(records)
        self.proc.send_signal(signal.SIGHUP)
        want = sorted(records.get(name, []))
        harness.wait_until(lambda: (query_a(self.port, name) or []) == want, timeout=5,
                           what="dnsmasq to answer %s for %s" % (want, name))

    def stop(self):
        status = harness.stop_process(self.proc)
        self.log.close()
        return status
