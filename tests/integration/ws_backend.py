#!/usr/bin/env python3
"""A WebSocket echo backend (python3-websockets) for Outrigger's upgrade/tunnel tests.

    ws_backend.py --port 0 --name ws [--greet] [--verbose]

Prints "ready HOST:PORT" once it listens (with --port 0 the kernel picks the port, and that
line says which), like backend.py, so harness.Backend(script=WS_BACKEND_PY) can start it.

Every message comes back as it was sent, with text messages prefixed by "NAME: " (so the
text "hi" answers "a: hi" and tells the client which backend it reached); binary messages
come back byte for byte. Messages of any size are accepted (max_size=None), so 1 MiB
echoes work. The server never pings first, so an idle tunnel stays silent unless the
client speaks. With --greet it sends the text "backend:NAME" as soon as a client connects.

A plain HTTP request (no Upgrade) gets 426, except GET /health/live and /health/ready → 200.
Every plain answer carries X-Backend: NAME. --delay and --idle-timeout are accepted (so
harness.Backend's options do not break it) and ignored.
"""

import argparse
import asyncio
import http
import sys

import websockets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="0: let the kernel pick")
    ap.add_argument("--name", default="ws")
    ap.add_argument("--greet", action="store_true", help='send "backend:NAME" on connect')
    ap.add_argument("--verbose", action="store_true", help="log connections to stderr")
    ap.add_argument("--delay", type=float, default=0.0, help="ignored")
    ap.add_argument("--idle-timeout", type=float, default=None, help="ignored")
    args = ap.parse_args()

    def log(msg):
        if args.verbose:
            sys.stderr.write("[%s] %s\n" % (args.name, msg))
            sys.stderr.flush()

    async def echo(ws, path=None):
        peer = ws.remote_address
        log("open %s %s" % (peer, path))
        try:
            if args.greet:
                await ws.send("backend:" + args.name)
            async for message in ws:
                if isinstance(message, str):
                    await ws.send("%s: %s" % (args.name, message))
                else:
                    await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            log("closed %s" % (peer,))

    async def not_websocket(path, headers):
        if "upgrade" in headers.get("Connection", "").lower():
            return None  # go on with the WebSocket handshake
        fields = [("X-Backend", args.name), ("Content-Type", "text/plain")]
        if path.split("?", 1)[0] in ("/health/live", "/health/ready"):
            return http.HTTPStatus.OK, fields, path.rsplit("/", 1)[1].encode() + b"\n"
        return http.HTTPStatus.UPGRADE_REQUIRED, fields, b"websocket only\n"

    async def serve():
        async with websockets.serve(echo, args.host, args.port, max_size=None, max_queue=None,
                                    ping_interval=None, close_timeout=2,
                                    process_request=not_websocket) as server:
            host, port = server.sockets[0].getsockname()[:2]
            print("ready %s:%d" % (host, port), flush=True)
            await asyncio.Future()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
