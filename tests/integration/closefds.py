"""Forked children that close every fd behind the library's back
(os.closerange: close_range(2), as python's subprocess and daemons do
before an exec), in the server and in the client, while the two keep
talking over UDP.
  closefds.py server ADDR PORT    echo server; b"fork" forks such a child
  closefds.py client ADDR PORT    asks for the server's child, forks its
                                  own, then echoes for 3 s
The client prints how many echoes came back."""
import os
import socket
import sys
import time


def child():
    """Closes every fd, lives on for a while (its progress thread runs),
    ends."""
    if os.fork() == 0:
        os.closerange(3, 1 << 16)
        time.sleep(1.5)
        os._exit(0)


def server(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        d, a = s.recvfrom(64)
        if d == b"fork":
            child()
        s.sendto(d, a)


def client(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"fork", (addr, port))
    s.recv(64)
    child()
    n = ok = 0
    end = time.time() + 3
    while time.time() < end:
        n += 1
        s.sendto(b"%d" % n, (addr, port))
        try:
            while s.recv(64) != b"%d" % n:
                pass
            ok += 1
        except socket.timeout:
            pass
        time.sleep(0.01)
    print(f"echoes while forked children closed every fd: all back {ok == n}", flush=True)
    print(f"{ok} of {n}", file=sys.stderr)
    for _ in range(2):
        os.wait()


if __name__ == "__main__":
    (server if sys.argv[1] == "server" else client)(sys.argv[2], int(sys.argv[3]))
