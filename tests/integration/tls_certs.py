"""What the TLS tests share: certificates made with the openssl CLI in a test's temp dir,
client contexts that trust nothing (the tests check which certificate was served), and
requests over a TLS socket."""

import asyncio
import os
import ssl
import subprocess

import harness

try:
    import websockets
except ImportError:  # Debian's python3-websockets; scripts/install-deps installs it
    websockets = None


def openssl(*args, stdin=None, timeout=20):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=timeout)


class TlsTestCase(harness.ProxyTestCase):
    serial = 0x1000

    def make_cert(self, names, kind="ec", tag=None, days=30):
        """A self-signed certificate for `names` (SANs, the first also CN); returns
        (cert path, key path, serial as openssl prints it)."""
        TlsTestCase.serial += 1
        tag = tag or "%s-%s-%x" % (names[0].replace("*", "star"), kind, TlsTestCase.serial)
        cert = os.path.join(self.tmp, tag + ".crt")
        key = os.path.join(self.tmp, tag + ".key")
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec" \
            else ["-newkey", "rsa:2048"]
        r = openssl("req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=" + names[0], "-set_serial", str(TlsTestCase.serial),
                    "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names))
        self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key, "%X" % TlsTestCase.serial

    def make_expired_cert(self, name):
        """A certificate that expired in 2020 (openssl ca sets any dates)."""
        d = os.path.join(self.tmp, "ca")
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "index.txt"), "w").close()
        conf = os.path.join(d, "ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=c\n[c]\ndir=%s\ndatabase=$dir/index.txt\nnew_certs_dir=$dir\n"
                    "serial=$dir/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n"
                    % d)
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        key, csr, cert = (os.path.join(d, n) for n in ("old.key", "old.csr", "old.crt"))
        r = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = openssl("ca", "-batch", "-config", conf, "-selfsign", "-keyfile", key, "-in", csr,
                    "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key

    def start(self, certs, listener=None, tls_extra=None, backend=None):
        backend = backend or self.start_backend("api")
        tls = {"certificates": [{"cert": c[0], "key": c[1]} for c in certs]}
        tls.update(tls_extra or {})
        lst = {"tls": tls}
        lst.update(listener or {})
        return self.start_proxy(self.config(pools={"api": self.pool(backend)}, listener=lst))

    def served_serial(self, s_client_output):
        """The serial of the certificate s_client printed, in upper-case hex."""
        r = openssl("x509", "-noout", "-serial", stdin=s_client_output.encode())
        return r.stdout.decode().strip().split("=")[-1].lstrip("0").upper()

    def context(self, **kw):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx

    def handshake(self, proxy, sni=None, ctx=None):
        """A TLS connection to the proxy (the caller closes it)."""
        raw = harness.raw_connect(proxy.port)
        try:
            return (ctx or self.context()).wrap_socket(raw, server_hostname=sni)
        except BaseException:
            raw.close()
            raise

    def serial_of(self, tls_sock):
        der = tls_sock.getpeercert(binary_form=True)
        r = openssl("x509", "-inform", "DER", "-noout", "-serial", stdin=der)
        return r.stdout.decode().strip().split("=")[1].lstrip("0")

    def s_client(self, proxy, *args):
        r = openssl("s_client", "-connect", "127.0.0.1:%d" % proxy.port, *args, stdin=b"",
                    timeout=20 * harness.SLOWDOWN)
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def get_over(self, sock, path="/headers", host="a.test"):
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        return harness.read_response(sock.makefile("rb"))

    def make_ca(self, name):
        """A self-signed CA: (cert path, key path)."""
        cert = os.path.join(self.tmp, name + "-ca.crt")
        key = os.path.join(self.tmp, name + "-ca.key")
        r = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj",
                    "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key

    def make_client_cert(self, ca, subject):
        """A client certificate for `subject` ("/CN=alice/O=Example") signed by `ca`:
        (cert path, key path)."""
        TlsTestCase.serial += 1
        base = os.path.join(self.tmp, "client-%x" % TlsTestCase.serial)
        key, csr, cert = base + ".key", base + ".csr", base + ".crt"
        r = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
        self.assertEqual(r.returncode, 0, r.stderr)
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        r = openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-out", cert,
                    "-days", "30", "-set_serial", str(TlsTestCase.serial), "-extfile", ext)
        self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key

    def make_server_cert(self, ca, names, ips=()):
        """A server certificate for DNS `names` and IP `ips` signed by `ca`: (cert, key)."""
        TlsTestCase.serial += 1
        base = os.path.join(self.tmp, "server-%x" % TlsTestCase.serial)
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".crt", base + ".ext"
        r = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(
                ["DNS:" + n for n in names] + ["IP:" + i for i in ips]))
        r = openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-out", cert,
                    "-days", "30", "-set_serial", str(TlsTestCase.serial), "-extfile", ext)
        self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key

    def assert_websocket_echo(self, url, size, **connect):
        """Through `url`, ws_backend.py answers "hello" and echoes `size` random bytes intact."""
        payload = os.urandom(size)

        async def talk():
            async with websockets.connect(url, max_size=None, ping_interval=None,
                                          open_timeout=10 * harness.SLOWDOWN, **connect) as c:
                await c.send("hello")
                text = await c.recv()
                await c.send(payload)
                return text, await c.recv()

        text, binary = asyncio.run(asyncio.wait_for(talk(), 30 * harness.SLOWDOWN))
        self.assertEqual(text, "ws: hello")
        self.assertTrue(binary == payload, "the binary message came back altered")
