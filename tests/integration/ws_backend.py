#!/usr/bin/env python3
"""A WebSocket echo backend (python3-websockets) for Outrigger's upgrade/tunnel tests.

    ws_backend.py --port 0 --name ws

Prints "ready HOST:PORT" once it listens. Every message comes back as it was sent, with
text messages prefixed by "NAME: ". A plain HTTP request (no Upgrade) gets 426.
"""

import argparse
import asyncio
import http

import websockets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="0: let the kernel pick")
    ap.add_argument("--name", default="ws")
    args = ap.parse_args()

    async def echo(ws, path=None):
        try:
            async for message in ws:
                if isinstance(message, str):
                    await ws.send("%s: %s" % (args.name, message))
                else:
                    await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    async def not_websocket(path, headers):
        if "upgrade" not in headers.get("Connection", "").lower():
            return http.HTTPStatus.UPGRADE_REQUIRED, [("X-Backend", args.name)], b"websocket only\n"
        return None

    async def serve():
        async with websockets.serve(echo, args.host, args.port, max_size=None,
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
