#!/usr/bin/env python3
"""Writes the seed corpus of request_path_fuzz (fuzz/corpus/request_path/) in its input format:
8 knob bytes, then actions (see fuzz/request_path_fuzz.cc: Knobs, Shape, Op). Each seed walks
one path of the request path, so the fuzzer starts from inputs that get past the parsers.

Usage: fuzz/request_path_seeds.py   (rewrites the corpus folder's .bin files)
"""
import pathlib

# Op codes, in the order of enum Op.
(CLIENT_SEND, CLIENT_CANNED, CLIENT_BULK, CLIENT_SHUT_WR, CLIENT_CLOSE, CLIENT_PAUSE,
 BACKEND_SEND, BACKEND_CANNED, BACKEND_BULK, BACKEND_CLOSE, BACKEND_PAUSE, RUN, SLEEP, RELOAD,
 DRAIN, CONTROL_TICK) = range(16)

# kRequests / kResponses indices.
GET, HEAD, POST_CL, POST_CHUNKED, WS, STICKY, HTTP10, PUT_BIG, API_CLOSE, POST_OPEN, BARE_LF, \
    H2C_WS = range(12)
OK_CL, OK_CHUNKED, OK_CLOSE, NO_CONTENT, CONTINUE, SWITCHING, UNAVAILABLE, OK_10, \
    NOT_MODIFIED, OK_BIG, OK_CHUNKED_OPEN, BAD_GATEWAY = range(12)

# Shape: listeners (0 web; 1 other, web; 2 web, other; 3 other) | backends << 2 (A 1, B 2, dead 4).
A, B, DEAD = 1, 2, 4


def shape(listeners=0, backends=A):
    return listeners | backends << 2


def knobs(pool=0, reuse=0, breaker=0, timeouts=0, route=0, shape_byte=shape()):
    return bytes([pool, reuse, breaker, timeouts, route, shape_byte, 0, 0])


def send(op, target, data):
    data = data.encode() if isinstance(data, str) else data
    assert len(data) < 256
    return bytes([op, target, len(data)]) + data


def op(*args):
    return bytes(args)


SEEDS = {
    "get_200": knobs() + op(CLIENT_CANNED, 0, GET, RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "keepalive_reuse": knobs(reuse=2 << 2) + op(
        CLIENT_CANNED, 0, POST_CL, RUN, 2, BACKEND_CANNED, 0, OK_CHUNKED, RUN, 2,
        CLIENT_CANNED, 0, GET, RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "pipelined_dead_backend": knobs(shape_byte=shape(0, DEAD)) + send(
        CLIENT_SEND, 0, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n") +
    op(RUN, 8),
    "websocket_tunnel": knobs() + op(CLIENT_CANNED, 0, WS, RUN, 2, BACKEND_CANNED, 0, SWITCHING,
                                     RUN, 2) + send(CLIENT_SEND, 0, b"\x81\x02hi") +
    send(BACKEND_SEND, 0, b"\x81\x02yo") + op(CLIENT_SHUT_WR, 0, RUN, 4),
    "retry_after_reset": knobs(reuse=2, shape_byte=shape(0, A | B)) + op(
        CLIENT_CANNED, 0, GET, RUN, 2, BACKEND_CLOSE, 128, RUN, 2, BACKEND_CANNED, 0, OK_CL,
        RUN, 4),
    "head_404_other_listener": knobs(shape_byte=shape(2, A)) + op(
        CLIENT_CANNED, 4, HEAD, RUN, 2, CLIENT_CANNED, 4, API_CLOSE, RUN, 2, BACKEND_CANNED, 0,
        OK_CLOSE, RUN, 2, BACKEND_CLOSE, 0, RUN, 4),
    "reload_adds_listener_above": knobs() + op(
        CLIENT_CANNED, 0, GET, RUN, 2, RELOAD, shape(1, A), RUN, 2, BACKEND_CANNED, 0, OK_CL,
        RUN, 4),
    "reload_removes_busy_listener": knobs(shape_byte=shape(2, A)) + op(
        CLIENT_CANNED, 4, API_CLOSE, RUN, 2, RELOAD, shape(0, A), RUN, 2, BACKEND_CANNED, 0,
        OK_CL, RUN, 4),
    "slow_upload_read_timeout": knobs(timeouts=4) + op(CLIENT_CANNED, 0, POST_OPEN, RUN, 2) +
    send(CLIENT_SEND, 0, "3\r\nabc\r\n") + op(SLEEP, 2) + send(CLIENT_SEND, 0, "3\r\nabc\r\n") +
    op(SLEEP, 2) + send(CLIENT_SEND, 0, "3\r\nabc\r\n0\r\n\r\n") + op(
        RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "bulk_upload_backpressure": knobs(route=3) + op(
        CLIENT_CANNED, 0, PUT_BIG, RUN, 2, BACKEND_PAUSE, 0, CLIENT_BULK, 0, 15, RUN, 8,
        BACKEND_PAUSE, 0, RUN, 8, CLIENT_BULK, 0, 3, RUN, 8, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "bulk_download_client_paused": knobs() + op(
        CLIENT_CANNED, 0, GET, RUN, 2, CLIENT_PAUSE, 0, BACKEND_CANNED, 0, OK_BIG, BACKEND_BULK,
        0, 15, RUN, 8, CLIENT_PAUSE, 0, BACKEND_BULK, 0, 3, RUN, 8),
    "ip_hash_header_retry": knobs(pool=2 | 1 << 3, reuse=2, shape_byte=shape(0, A | B)) + op(
        CLIENT_CANNED, 0, STICKY, RUN, 2, BACKEND_CANNED, 0, UNAVAILABLE, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "trusted_xff_cookie": knobs(pool=2 | 2 << 3, route=8) + op(
        CLIENT_CANNED, 0, STICKY, RUN, 2, BACKEND_CANNED, 0, OK_10, RUN, 4),
    "bare_lf_header_timeout": knobs(timeouts=1) + op(CLIENT_CANNED, 0, BARE_LF, SLEEP, 7,
                                                     RUN, 2),
    "continue_then_ok_http10": knobs() + op(
        CLIENT_CANNED, 0, HTTP10, RUN, 2, BACKEND_CANNED, 0, CONTINUE, BACKEND_CANNED, 0,
        OK_CHUNKED, RUN, 4),
    "circuit_open_half_open": knobs(breaker=64, reuse=1, shape_byte=shape(0, A | DEAD)) + op(
        CLIENT_CANNED, 0, GET, RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 2, CLIENT_CANNED, 0, GET,
        RUN, 2, BACKEND_CANNED, 0, OK_CL, SLEEP, 3, CONTROL_TICK, 1, CLIENT_CANNED, 0, GET,
        RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "pending_slot_then_drain": knobs(breaker=1 << 2 | 2 << 4, timeouts=8) + op(
        CLIENT_CANNED, 0, GET, CLIENT_CANNED, 1, GET, RUN, 2, SLEEP, 5, BACKEND_CANNED, 0, OK_CL,
        RUN, 2, DRAIN, SLEEP, 5, RUN, 4),
    "upgrade_list_h2c": knobs(route=4) + op(CLIENT_CANNED, 0, H2C_WS, RUN, 2, BACKEND_CANNED, 0,
                                            SWITCHING, RUN, 4),
    # Found by the fuzzer (as it found it): a HEAD answered 504 by the read timeout in the loop
    # pass where the client's stale header timer fell due; the kept-alive connection stopped
    # watching its socket (net::Stream's Watch, fixed).
    "found_stale_header_timer": bytes.fromhex("007e000d0000040800040001000d0a6762630d02677e697005"),
    # Found by the fuzzer in CI: a snapshot swap while draining left connections numbered for
    # the old listeners; Retire then indexed the new shard with it (Worker::MoveConnections).
    "found_reload_while_draining": bytes.fromhex(
        "000800677a69706200000000000200776562736f636b6574a21d7f6e736665722d00000100000000000000006504"),
    # Found by the fuzzer in CI: a client half-closed with a request cut short behind the one
    # being served; the connection then waited for ever for bytes that could not come
    # (Http1Session::AwaitNextRequest and TryReadHead close it now).
    "found_half_close_cut_request": bytes.fromhex("000200000c00f80001000200000c0000010000000b04"),
}


def main():
    folder = pathlib.Path(__file__).resolve().parent / "corpus" / "request_path"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    for name, data in SEEDS.items():
        (folder / f"{name}.bin").write_bytes(data)


if __name__ == "__main__":
    main()
