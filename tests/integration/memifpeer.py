#!/usr/bin/python3
# A memif 2.0 client that misbehaves, against a fastsock memif server:
#   memifpeer.py SOCKET SERVER_MAC SERVER_IP PORT
#   memifpeer.py SOCKET attach   (only asks to connect; prints the answer)
# (SOCKET: an abstract socket name). It tries a wrong interface id, then
# connects properly and posts, among valid UDP datagrams to SERVER_IP:PORT,
# descriptors that point outside its region, a length past any frame, and
# a chain that never ends. Prints what the server answered to each step;
# the server must refuse the first, count the bad descriptors as drops and
# deliver every valid datagram.
import mmap
import os
import socket
import struct
import sys
import time

ACK, HELLO, INIT, ADD_REGION, ADD_RING, CONNECT, CONNECTED, DISCONNECT = 1, 2, 3, 4, 5, 6, 7, 8
COOKIE = 0x3E31F20
LOG2 = 4
N = 1 << LOG2
BSIZE = 2048
RING = 128 + 16 * N


def msg(fmt, *v):
    b = struct.pack("<" + fmt, *v)
    return b + bytes(128 - len(b))


def recv(s):
    d = s.recv(128)
    if not d:
        return 0, b""
    return struct.unpack_from("<H", d)[0], d


def connect(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect("\0" + name)
    t, _ = recv(s)
    assert t == HELLO, t
    return s


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(dmac, dip, port, payload):
    src_ip = bytes([10, 77, 0, 9])
    dst_ip = socket.inet_aton(dip)
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = dmac + bytes([2, 0xFA, 0x57, 0, 0, 9]) + b"\x08\x00"
    return eth + ip + udp


def attach(name):
    s = connect(name)
    try:
        s.send(msg("HHIB24s32s", INIT, 0x0200, 0, 0, b"", b"memifpeer"))
    except OSError:
        pass  # refused and closed before our INIT
    t, d = recv(s)
    if t == DISCONNECT:
        print("attach: refused", d[6:102].split(b"\0")[0].decode())
    else:
        print("attach: answered type", t)


def main():
    if sys.argv[2] == "attach":
        attach(sys.argv[1])
        return 0
    name, mac, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    dmac = bytes(int(x, 16) for x in mac.split(":"))

    # 1. A wrong interface id: refused with a reason.
    s = connect(name)
    s.send(msg("HHIB24s32s", INIT, 0x0200, 77, 0, b"", b"memifpeer"))
    t, d = recv(s)
    print("wrong id:", "refused" if t == DISCONNECT else "type %d" % t,
          d[6:102].split(b"\0")[0].decode() if t == DISCONNECT else "")
    s.close()

    # 2. A proper connection: one region (two rings, then buffers).
    size = 2 * RING + 2 * N * BSIZE
    fd = os.memfd_create("memifpeer")
    os.ftruncate(fd, size)
    mem = mmap.mmap(fd, size)
    for k in range(2):
        base = k * RING
        struct.pack_into("<IHH", mem, base, COOKIE, 1, 0)
        struct.pack_into("<H", mem, base + 64, 0)
        for j in range(N):
            struct.pack_into("<HHIII", mem, base + 128 + 16 * j, 0, 0, BSIZE,
                             2 * RING + (k * N + j) * BSIZE, 0)
    efds = [os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0, os.EFD_NONBLOCK)]
    s = connect(name)
    steps = [(msg("HHIB24s32s", INIT, 0x0200, 0, 0, b"", b"memifpeer"), None),
             (msg("HHQ", ADD_REGION, 0, size), fd),
             (msg("HHHHIBH", ADD_RING, 1, 0, 0, 0, LOG2, 0), efds[0]),
             (msg("HHHHIBH", ADD_RING, 0, 0, 0, RING, LOG2, 0), efds[1]),
             (msg("H32s", CONNECT, b"memifpeer"), None)]
    for m, f in steps:
        if f is None:
            s.send(m)
        else:
            socket.send_fds(s, [m], [f])
        t, _ = recv(s)
        if t not in (ACK, CONNECTED):
            print("handshake: answered type", t)
            return 1
    print("handshake: connected")

    # 3. Client to server: bad descriptors among valid datagrams.
    head = 0

    def post(flags, region, length, offset, data=None):
        nonlocal head
        slot = head % N
        d = 128 + 16 * slot
        if data is not None:
            off = 2 * RING + slot * BSIZE
            mem[off:off + len(data)] = data
            offset, length = off, len(data)
        struct.pack_into("<HHIII", mem, d, flags, region, length, offset, 0)
        head += 1

    def publish():
        struct.pack_into("<H", mem, 6, head & 0xFFFF)

    post(0, 0, 0, 0, frame(dmac, ip, port, b"valid 1"))
    post(0, 0, 100, size + 4096)          # outside the region
    post(0, 3, 100, 0)                   # a region that does not exist
    post(0, 0, 0xFFFFFF00, 2 * RING)     # a length past any frame
    post(0, 0, 0, 0, frame(dmac, ip, port, b"valid 2"))
    publish()
    time.sleep(0.5)
    # A chain that never ends: its last descriptor says "more" and the ring
    # has no more; then a valid one.
    post(1, 0, 64, 2 * RING)
    publish()
    time.sleep(0.2)
    post(0, 0, 0, 0, frame(dmac, ip, port, b"valid 3"))
    publish()
    time.sleep(0.5)
    tail = struct.unpack_from("<H", mem, 64)[0]
    print("server consumed %d of %d descriptors" % (tail, head))
    try:
        s.send(msg("HI96s", DISCONNECT, 0, b"memifpeer done"))
    except OSError:
        pass  # the server's program has ended (it waits for three datagrams)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
