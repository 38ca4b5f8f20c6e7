#!/usr/bin/python3
"""Writes the seed corpus of http2_session_fuzz (fuzz/corpus/http2_session/) in its input
format: 8 knob bytes, then actions (fuzz/worker_harness.h: Knobs, Shape, Op; fuzz/
http2_session_fuzz.cc: H2Op, kBlocks). Each seed walks one path of an HTTP/2 client's
session through the worker, so the fuzzer starts from inputs that get past the preface.

Usage: fuzz/http2_session_seeds.py   (rewrites the corpus folder's .bin files; needs the
system python3-hpack, hence /usr/bin/python3)
"""
import pathlib
import struct

import hpack

# Op codes: the harness's (enum Op; CLIENT_CANNED is the preface here), then enum H2Op.
(CLIENT_SEND, PREFACE, CLIENT_BULK, CLIENT_SHUT_WR, CLIENT_CLOSE, CLIENT_PAUSE,
 BACKEND_SEND, BACKEND_CANNED, BACKEND_BULK, BACKEND_CLOSE, BACKEND_PAUSE, RUN, SLEEP, RELOAD,
 DRAIN, CONTROL_TICK, HEADERS, DATA, RST, WINDOW_UPDATE, PING, GOAWAY, SETTINGS, PRIORITY,
 FRAME, REQUEST) = range(26)

# kBlocks indices.
(B_GET, B_POST_CL, B_POST_OPEN, B_HEAD, B_SIDE, B_CONNECT, B_CONNECTION, B_TRAILERS,
 B_NO_PATH, B_UPPER, B_PUT_BIG, B_DYNAMIC, B_BIG, B_API, B_UPGRADE, B_TABLE_ZERO, B_TE,
 B_STATUS) = range(18)
# kResponses indices.
OK_CL, OK_CHUNKED, OK_CLOSE, NO_CONTENT, CONTINUE, SWITCHING, UNAVAILABLE, OK_10, \
    NOT_MODIFIED, OK_BIG, OK_CHUNKED_OPEN, BAD_GATEWAY = range(12)
# Stream selectors: a new stream, the newest opened, the connection (raw id 0).
NEW, NEWEST, CONN = 0, 1, 0x80
# HEADERS flags (fuzz: Headers), DATA flags and length codes.
END, SPLIT, OPEN, PADDED, PRIO = 1, 2, 4, 8, 16
BODY_NONE, BODY_END, BODY_TRAILERS = 0, 1, 2
A, B, DEAD = 1, 2, 4


def shape(listeners=0, backends=A):
    return listeners | backends << 2


def knobs(pool=0, reuse=0, breaker=0, timeouts=0, route=0, shape_byte=shape()):
    return bytes([pool, reuse, breaker, timeouts, route, shape_byte, 0, 0])


def send(target, data):
    assert len(data) < 256
    return bytes([CLIENT_SEND, target, len(data)]) + data


def op(*args):
    return bytes(args)


def frame(ftype, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack('>I', stream) + payload


def huffman_request():
    """A preface and a GET whose HPACK block is Huffman-coded and indexed, as a browser's."""
    block = hpack.Encoder().encode([(':method', 'GET'), (':scheme', 'http'),
                                    (':authority', 'a'), (':path', '/b/x'),
                                    ('user-agent', 'seed'), ('accept', '*/*')], huffman=True)
    return b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + frame(4, 0, 0) + frame(1, 5, 1, block)


GET_OK = op(PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, BACKEND_CANNED, 0, OK_CL,
            RUN, 4)

SEEDS = {
    "get_200": knobs() + GET_OK,
    "post_length_chunked_answer": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_POST_CL, BODY_END, RUN, 2, BACKEND_CANNED, 0, OK_CHUNKED,
        RUN, 4),
    "post_streamed_trailers": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_POST_OPEN, BODY_TRAILERS, RUN, 2, BACKEND_CANNED, 0, OK_CL,
        RUN, 4),
    "two_streams_two_pools": knobs(shape_byte=shape(0, A | B)) + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, REQUEST, 0, B_SIDE, BODY_NONE, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, BACKEND_CANNED, 1, OK_CHUNKED, RUN, 4),
    "reset_stream_midway": knobs() + op(
        PREFACE, 0, 0, HEADERS, 0, NEW, B_POST_OPEN, 0, DATA, 0, NEWEST, 10, 0, RUN, 2,
        RST, 0, NEWEST, 8, RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "zero_window_download": knobs() + op(
        PREFACE, 0, 1, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, BACKEND_CANNED, 0, OK_BIG,
        BACKEND_BULK, 0, 3, RUN, 8, WINDOW_UPDATE, 0, NEWEST, 3, WINDOW_UPDATE, 0, CONN, 3,
        RUN, 8, BACKEND_BULK, 0, 15, RUN, 8, WINDOW_UPDATE, 0, NEWEST, 4, RUN, 8),
    "bulk_upload_backpressure": knobs(route=3) + op(
        PREFACE, 0, 0, HEADERS, 0, NEW, B_PUT_BIG, 0, RUN, 2, BACKEND_PAUSE, 0,
        DATA, 0, NEWEST, 0x87, 0, RUN, 8, BACKEND_PAUSE, 0, RUN, 8, DATA, 0, NEWEST, 0x83, 0,
        RUN, 8, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "big_header_continuation": knobs() + op(
        PREFACE, 0, 0, HEADERS, 0, NEW, B_BIG, END | SPLIT | PADDED | PRIO, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "dynamic_table_reuse": knobs() + op(
        PREFACE, 0, 3, REQUEST, 0, B_GET, BODY_NONE, REQUEST, 0, B_DYNAMIC, BODY_NONE,
        REQUEST, 0, B_TABLE_ZERO, BODY_NONE, RUN, 2, BACKEND_CANNED, 0, OK_CL,
        BACKEND_CANNED, 1, OK_CL, BACKEND_CANNED, 2, OK_CL, RUN, 4),
    "malformed_requests": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_CONNECTION, BODY_NONE, REQUEST, 0, B_NO_PATH, BODY_NONE,
        REQUEST, 0, B_UPPER, BODY_NONE, REQUEST, 0, B_UPGRADE, BODY_NONE, REQUEST, 0, B_STATUS,
        BODY_NONE, REQUEST, 0, B_CONNECT, BODY_NONE, REQUEST, 0, B_TE, BODY_NONE, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "control_frames": knobs() + op(
        PREFACE, 0, 2, PING, 0, 0, SETTINGS, 0, 4, 2, SETTINGS, 0, 0x80, 0, PRIORITY, 0, NEW,
        NEWEST, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 2,
        GOAWAY, 0, NEWEST, 0, RUN, 4),
    "other_listener_api_and_404": knobs(shape_byte=shape(2, A)) + op(
        PREFACE, 4, 4, REQUEST, 4, B_API, BODY_NONE, REQUEST, 4, B_HEAD, BODY_NONE, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "drain_with_open_stream": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, DRAIN, RUN, 2, BACKEND_CANNED, 0,
        OK_CL, RUN, 4),
    "reload_while_streaming": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, RELOAD, shape(1, A), RUN, 2,
        BACKEND_CANNED, 0, OK_CHUNKED_OPEN, RUN, 2, BACKEND_SEND, 0, 10) + b"5\r\nhello\r\n" +
    op(RELOAD, shape(3, B), RUN, 2, BACKEND_SEND, 0, 5) + b"0\r\n\r\n" + op(RUN, 4),
    "read_timeout_504": knobs(timeouts=4) + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, SLEEP, 7, RUN, 2),
    "http1_on_h2c_listener": knobs() + send(0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") +
    op(RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "huffman_browser_get": knobs(shape_byte=shape(0, A | B)) + send(0, huffman_request()) +
    op(RUN, 2, BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "retry_after_backend_reset": knobs(reuse=2, shape_byte=shape(0, A | B)) + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, BACKEND_CLOSE, 128, RUN, 2,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "client_reset_mid_upload": knobs() + op(
        PREFACE, 0, 0, HEADERS, 0, NEW, B_POST_OPEN, 0, DATA, 0, NEWEST, 100, 0, RUN, 2,
        CLIENT_CLOSE, 8, RUN, 4),
    "headers_left_open": knobs() + op(
        PREFACE, 0, 0, HEADERS, 0, NEW, B_GET, OPEN, PING, 0, 0, RUN, 4),
    "continue_then_ok": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_POST_CL, BODY_END, RUN, 2, BACKEND_CANNED, 0, CONTINUE,
        BACKEND_CANNED, 0, OK_CL, RUN, 4),
    "backend_switching_on_h2": knobs() + op(
        PREFACE, 0, 0, REQUEST, 0, B_GET, BODY_NONE, RUN, 2, BACKEND_CANNED, 0, SWITCHING,
        RUN, 4),
    "raw_frames": knobs() + op(
        PREFACE, 0, 0, FRAME, 0, 10, 0, CONN, 4) + b"abcd" + op(
        FRAME, 0, 5, 4, NEW, 4, 0, 0, 0, 3, WINDOW_UPDATE, 0, CONN, 5, RUN, 4),
}


def main():
    folder = pathlib.Path(__file__).resolve().parent / "corpus" / "http2_session"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    for name, data in SEEDS.items():
        (folder / f"{name}.bin").write_bytes(data)


if __name__ == "__main__":
    main()
