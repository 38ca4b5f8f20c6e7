#!/usr/bin/env python3
"""Writes the seed corpus of http2_codec_fuzz (fuzz/corpus/http2_codec/) in its input format:
the owner's script (fuzz/http2_codec_fuzz.cc: enum Op) with real client sessions in its FEED
ops. Frames and HPACK (literal fields, no Huffman) are built here, so no HTTP/2 library is
needed; each seed is a valid session that gets past the preface and the request checks, with
the owner doing nothing from inside callbacks.

Usage: fuzz/http2_codec_seeds.py   (rewrites the corpus folder's .bin files)
"""
import pathlib
import struct

(FEED, SEND, READ, RESPOND, BODY, TAKE_BODY, FINISH, TRAILERS, RESET, GOAWAY, CONSUME,
 RESUME) = range(12)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY_F, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'


def frame(ftype, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack('>I', stream) + payload


def hpack(fields):
    out = b''
    for name, value in fields:
        out += b'\x00' + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()
    return out


def headers(stream, fields, end_stream=True):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream, hpack(fields))


def request(method, path):
    return [(':method', method), (':scheme', 'https'), (':authority', 'example.com'),
            (':path', path)]


def feed(data):
    assert len(data) < 65536
    return bytes([FEED]) + struct.pack('>H', len(data)) + data


def op(code, *args):
    return bytes([code, *args])


def u16(v):
    return struct.pack('>H', v)


START = PREFACE + frame(SETTINGS, 0, 0) + frame(SETTINGS, ACK, 0)
RESPOND_200_BODY = (0, 1)  # status choice 0 (200), has_body


def serve(pick, size):
    return op(RESPOND, pick, *RESPOND_200_BODY) + op(BODY, pick) + u16(size) + op(FINISH, pick)


SEEDS = {
    'get': feed(START + headers(1, request('GET', '/'))) + serve(0, 100) + op(SEND, 255) +
    op(READ) + u16(0) + op(SEND, 0),
    'post_body': feed(START + headers(1, request('POST', '/up') + [('content-length', '2000')],
                                      False) +
                      frame(DATA, 0, 1, b'a' * 1000) + frame(DATA, END_STREAM, 1, b'b' * 1000)) +
    op(CONSUME, 0) + u16(0xffff) + serve(0, 10) + op(SEND, 255),
    'trailers': feed(START + headers(1, request('POST', '/rpc') + [('te', 'trailers')], False) +
                     frame(DATA, 0, 1, b'x' * 64) +
                     headers(1, [('grpc-timeout', '1S')])) +
    op(RESPOND, 0, *RESPOND_200_BODY) + op(BODY, 0) + u16(64) + op(TRAILERS, 0) + op(SEND, 255),
    'streams': feed(START + b''.join(headers(i, request('GET', '/%d' % i))
                                     for i in (1, 3, 5, 7, 9)) +
                    frame(PING, 0, 0, b'12345678') +
                    frame(WINDOW_UPDATE, 0, 0, struct.pack('>I', 1 << 20))) +
    b''.join(serve(i, 200) for i in range(5)) + op(SEND, 0) + op(READ) + u16(100) +
    op(RESET, 2, 8) + op(SEND, 1) + op(READ) + u16(0) + op(SEND, 255),
    'upload_window': feed(START + headers(1, request('PUT', '/big'), False) +
                          b''.join(frame(DATA, 0, 1, b'u' * 16384) for i in range(3))) +
    feed(frame(DATA, 0, 1, b'u' * 16383)) +
    op(SEND, 255) + op(CONSUME, 0) + u16(0xffff) + op(SEND, 255) +
    feed(frame(DATA, END_STREAM, 1, b'v' * 1000)) + serve(0, 40000) + op(SEND, 16) +
    op(READ) + u16(0) + op(SEND, 255),
    'goaway': feed(START + headers(1, request('GET', '/'))) + op(GOAWAY, 0, 0) + op(SEND, 255) +
    feed(headers(3, request('GET', '/late'))) + serve(0, 5) + op(SEND, 255) +
    feed(frame(GOAWAY_F, 0, 0, struct.pack('>II', 0, 0))),
}


TAPE = 64


def main():
    folder = pathlib.Path(__file__).resolve().parent / 'corpus' / 'http2_codec'
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        # Zeros at the end: the callbacks read their choices from there (0: do nothing), and
        # the script, once past its ops, reads them as empty FEEDs.
        (folder / (name + '.bin')).write_bytes(data + bytes(TAPE))


if __name__ == '__main__':
    main()
