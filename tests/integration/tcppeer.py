#!/usr/bin/env python3
"""A misbehaving TCP peer and its victim, for tests/integration/xdp tcp-peer.

    tcppeer.py server CASE ADDR PORT   the victim (run on the kernel, then on fastsock)
    tcppeer.py client CASE ADDR PORT   the peer (always a stock kernel program)

The victim prints what its program saw; the test compares those lines
between the kernel and fastsock. Cases:
  rst-recv     the peer sends 32 KiB, then resets while the victim has not read
  rst-send     the peer reads a little, then resets while the victim sends
  zero-window  the peer does not read for 3 s while the victim fills the window
  syn-flood    5,000 SYNs from addresses that never answer, then 20 real
               connections, each echoed
  vanish       the peer's host vanishes (its address removed: no RST, no
               ACK) while the victim, with TCP_USER_TIMEOUT 300 ms, sends
               and waits in recv: ETIMEDOUT in time, then EPIPE
"""
import errno
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time


def linger_reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()


def pattern(n):
    return bytes(i % 251 for i in range(n))


def listener(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(128)
    return ls


def server(case, addr, port):
    ls = listener(addr, port)
    ls.settimeout(30)
    if case == 'syn-flood':
        # Echo every connection until the test stops us.
        while True:
            c, _ = ls.accept()
            c.settimeout(5)
            try:
                c.sendall(c.recv(100))
            except OSError:
                pass
            c.close()
    c, _ = ls.accept()
    if case == 'rst-recv':
        time.sleep(1)  # the reset is in before the first read
        got = 0
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    print('victim: received %d bytes, then end of file' % got)
                    break
                got += len(d)
        except OSError as e:
            print('victim: received %d bytes, then %s' % (got, errno.errorcode[e.errno]))
        try:
            c.send(b'x')
            print('victim: send after the reset succeeded')
        except OSError as e:
            print('victim: send after the reset: %s' % errno.errorcode[e.errno])
    elif case == 'rst-send':
        chunk = b'y' * 65536
        try:
            for _ in range(1024):  # 64 MiB, far more than the peer reads
                c.sendall(chunk)
            print('victim: sent everything (the reset was not seen)')
        except OSError as e:
            print('victim: send failed with %s' % errno.errorcode[e.errno])
        try:
            c.recv(10)
            print('victim: recv after the reset succeeded')
        except OSError as e:
            print('victim: recv after the reset: %s' % errno.errorcode[e.errno])
    elif case == 'vanish':
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 300)
        c.sendall(b'go')  # the peer removes its address when it reads this
        time.sleep(0.5)
        c.settimeout(10)
        start = time.monotonic()
        c.sendall(b'anyone there?')
        try:
            c.recv(100)
            print('victim: recv returned')
        except OSError as e:
            ms = (time.monotonic() - start) * 1000
            # Linux: 300 ms after its first retransmission, which comes
            # one RTO (200 ms here) after the send, or later when its timer
            # is not clamped (docs/benchmarks.md, 2026-12-07 12:40).
            print('victim: recv: %s %s' % (errno.errorcode.get(e.errno, e),
                                           'in time' if 450 <= ms < 2000 else 'after %.0f ms' % ms))
        try:
            c.send(b'x')
        except OSError as e:
            print('victim: send after it: %s' % errno.errorcode.get(e.errno, e))
    elif case == 'zero-window':
        c.setblocking(False)
        data = pattern(1 << 26)
        sent = 0
        try:
            while sent < len(data):
                sent += c.send(data[sent:sent + 65536])
            print('victim: the peer took 64 MiB without reading')
        except BlockingIOError:
            print('victim: EAGAIN once the peer stopped reading')
        _, w, _ = select.select([], [c], [], 3)
        print('victim: writable while the peer does not read: %s' % ('yes' if w else 'no'))
        c.setblocking(True)
        c.sendall(data[sent:sent + 1000] + b'END')
        c.shutdown(socket.SHUT_WR)
        c.settimeout(20)
        print('victim: the peer closed after reading: %s' % ('yes' if c.recv(10) == b'' else 'no'))
    c.close()


def syn_flood(addr, port, n):
    """n SYNs to addr:port from random hosts of its /24 that do not exist."""
    route = json.loads(subprocess.run(['ip', '-j', 'route', 'get', addr],
                                      capture_output=True, text=True).stdout)[0]
    dev, src = route['dev'], route['prefsrc']
    neigh = json.loads(subprocess.run(['ip', '-j', 'neigh', 'show', addr, 'dev', dev],
                                      capture_output=True, text=True).stdout)
    dmac = bytes.fromhex(neigh[0]['lladdr'].replace(':', ''))
    smac = bytes.fromhex(open('/sys/class/net/%s/address' % dev).read().strip().replace(':', ''))
    net = addr.rsplit('.', 1)[0]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))

    def csum(b):
        if len(b) % 2:
            b += b'\0'
        t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
        while t >> 16:
            t = (t & 0xffff) + (t >> 16)
        return ~t & 0xffff

    dst = socket.inet_aton(addr)
    for i in range(n):
        spoof = socket.inet_aton('%s.%d' % (net, random.randint(100, 250)))
        if spoof == socket.inet_aton(src):
            continue
        tcp = struct.pack('!HHIIBBHHH', random.randint(1024, 65535), port,
                          random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        tcp = tcp[:16] + struct.pack('!H', csum(spoof + dst + struct.pack('!BBH', 0, 6, 20) + tcp)) + tcp[18:]
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, i & 0xffff, 0, 64, 6, 0, spoof, dst)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        s.send(dmac + smac + b'\x08\x00' + ip + tcp)


def client(case, addr, port):
    c = socket.create_connection((addr, port), timeout=20)
    if case == 'rst-recv':
        c.sendall(pattern(32768))
        time.sleep(0.3)
        linger_reset(c)
    elif case == 'rst-send':
        got = 0
        while got < 100000:
            got += len(c.recv(65536))
        linger_reset(c)
        time.sleep(1)
    elif case == 'vanish':
        c.recv(10)
        dev = 'fsl1' if addr.startswith('10.99.') else 'fsl3'
        me = c.getsockname()[0]
        subprocess.run(['ip', 'addr', 'del', me + '/24', 'dev', dev], check=True)
        print('peer: gone')
        time.sleep(3)
    elif case == 'zero-window':
        time.sleep(4)
        buf = bytearray()
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            buf += d
        body = bytes(buf[:-3])
        ok = buf.endswith(b'END') and body == pattern(len(body))
        print('peer: the stream arrived intact and in order: %s' % ('yes' if ok else 'no'))
        c.close()
    elif case == 'syn-flood':
        c.sendall(b'hello')  # also puts the victim in our neighbour table
        c.recv(100)
        c.close()
        start = time.time()
        syn_flood(addr, port, 5000)
        ok = 0
        for i in range(20):
            try:
                t = socket.create_connection((addr, port), timeout=5)
                t.settimeout(5)
                t.sendall(b'ping %d' % i)
                ok += t.recv(100) == b'ping %d' % i
                t.close()
            except OSError as e:
                print('peer: connection %d: %s' % (i, e))
        print('peer: real connections echoed during the flood: %d of 20' % ok)
        print('peer: took %.1f s' % (time.time() - start), file=sys.stderr)


if __name__ == '__main__':
    role, case, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    (server if role == 'server' else client)(case, addr, port)
    sys.stdout.flush()
    if role == 'client':
        time.sleep(2)  # the victim finishes and prints before the lab stops it
