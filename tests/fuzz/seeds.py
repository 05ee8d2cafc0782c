#!/usr/bin/python3
"""Seed frames for fuzz_frames: what a peer at 10.77.0.2 sends to the stack
at 10.77.0.1 (tests/fuzz/fuzz_frames.c), one file each, into DIR.

    seeds.py DIR
"""
import os
import struct
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from memifpeer import checksum as csum  # noqa: E402  (one Internet checksum for the tests)

US = bytes.fromhex("020000000001")      # the in-memory device (memdev.h)
PEER = bytes.fromhex("02fa57000002")
IP_US, IP_PEER = bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2])


def eth(typ, payload):
    return US + PEER + struct.pack("!H", typ) + payload


def ip(proto, payload, ident=1, frag=0x4000, options=b""):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), ident, frag,
                    64, proto, 0, IP_PEER, IP_US) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return eth(0x0800, h + payload)


def l4sum(proto, seg):
    return csum(IP_PEER + IP_US + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def udp(dport, data, sport=4000):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return seg[:6] + struct.pack("!H", l4sum(17, seg) or 0xFFFF) + seg[8:]


def tcp(dport, flags, seq=1000, ack=0, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", 5000, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts + data
    return seg[:16] + struct.pack("!H", l4sum(6, seg)) + seg[18:]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    big = udp(7, bytes(range(256)) * 8)
    seeds = {
        "arp-request": eth(0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER, IP_PEER,
                                                bytes(6), IP_US)),
        "icmp-echo": ip(1, (lambda m: m[:2] + struct.pack("!H", csum(m)) + m[4:])(
            struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8)),
        "udp-echo-port": ip(17, udp(7, b"hello")),
        "udp-closed-port": ip(17, udp(9, b"nobody")),
        "udp-fragment-1": ip(17, big[:1000], ident=9, frag=0x2000),
        "udp-fragment-2": ip(17, big[1000:], ident=9, frag=1000 // 8),
        "ip-options": ip(17, udp(7, b"opts"), options=bytes([7, 7, 4, 0, 0, 0, 0, 1])),
        "tcp-syn": ip(6, tcp(80, 0x02, opts=bytes([2, 4, 0x05, 0xb4, 4, 2, 8, 10]) + bytes(8) +
                              bytes([1, 3, 3, 7]))),
        "tcp-ack-data": ip(6, tcp(80, 0x18, seq=1001, ack=1, data=b"GET / HTTP/1.0\r\n\r\n")),
        "tcp-rst": ip(6, tcp(80, 0x04, seq=1001)),
    }
    # Segments for fuzz_frames' live connection: 'L', then records of
    # flags, sequence and acknowledgement offsets (signed 16 bits), window,
    # options (words), payload length, what our end does after (1 send,
    # 2 read), then options and payload.
    def rec(flags, seq=0, ack=0, win=65535, opts=b"", data=b"", act=3):
        return struct.pack("!BhhHBHB", flags, seq, ack, win, len(opts) // 4, len(data), act) + opts + data

    sack = bytes([1, 1, 5, 10]) + bytes(8)
    seeds.update({
        "live-data": b"L" + rec(0x18, data=b"GET / HTTP/1.1\r\n\r\n"),
        "live-ack": b"L" + rec(0x10, act=1) + rec(0x10),
        "live-out-of-order": b"L" + rec(0x18, seq=1000, data=b"later" * 20, act=1) + rec(0x18, data=b"now"),
        "live-zero-window": b"L" + rec(0x10, win=0, act=1) + rec(0x10, win=1000, act=1),
        "live-dup-ack-sack": b"L" + rec(0x10, act=1) + rec(0x10, ack=-300, opts=sack) * 3,
        "live-fin": b"L" + rec(0x18, data=b"bye") + rec(0x11),
        "live-rst": b"L" + rec(0x10, act=1) + rec(0x04),
        "live-timestamps": b"L" + rec(0x18, opts=bytes([1, 1, 8, 10]) + bytes(8), data=b"ts"),
        "live-late-mss": b"L" + rec(0x10, act=1) + rec(0x10, win=0, opts=bytes([2, 4, 0, 16]), act=1) +
                         rec(0x10, act=1),
    })
    for name, frame in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(frame)
    print("%d seeds in %s" % (len(seeds), out))


main()
