"""nginx as a peer in integration tests (Debian's nginx-light): started on a config the test
writes, in the foreground under the test's own PID, stopped gracefully by that PID."""

import os
import shutil
import signal
import socket
import subprocess

import harness

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def temp_paths(prefix):
    """The *_temp_path directives for a prefix the test owns (nginx's defaults are not)."""
    return "\n".join("    %s_temp_path %s;" % (k if k != "body" else "client_body",
                                                 os.path.join(prefix, k))
                     for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi"))


def start(test, prefix, port, conf_text):
    """Runs nginx on `conf_text` (written to prefix/nginx.conf) until `port` accepts; the test
    stops it at cleanup."""
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    proc = subprocess.Popen([NGINX, "-p", prefix, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    test.addCleanup(stop, proc)

    def listening():
        if proc.poll() is not None:
            raise AssertionError("nginx exited: %s" % proc.stderr.read().decode())
        try:
            socket.create_connection((harness.LOOPBACK, port), timeout=1).close()
            return True
        except OSError:
            return False
    harness.wait_until(listening, 10 * harness.SLOWDOWN, what="nginx listening")
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)  # graceful: the master stops its worker first
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stderr.close()
