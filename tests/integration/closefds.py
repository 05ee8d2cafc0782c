"""Forked children that close every fd behind the library's back
(os.closerange: close_range(2), as python's subprocess and daemons do
before an exec), in the server and in the client, while the two keep
talking over TCP (with TCP sockets each process of the family runs its
progress thread, which looks after the memif link).
  closefds.py server ADDR PORT    echo server; b"fork" forks such a child
  closefds.py client ADDR PORT    asks for the server's child, forks its
                                  own, then echoes for 3 s
The client prints whether every echo came back."""
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
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    c, _ = l.accept()
    while True:
        d = c.recv(64)
        if not d:
            return
        if d == b"fork":
            child()
        c.sendall(d)


def client(addr, port):
    s = socket.create_connection((addr, port), timeout=5)
    s.settimeout(1)
    s.sendall(b"fork")
    s.recv(64)
    child()
    n = ok = 0
    end = time.time() + 3
    while time.time() < end:
        n += 1
        m = b"%d" % n
        s.sendall(m)
        try:
            ok += s.recv(64) == m
        except socket.timeout:
            break
        time.sleep(0.01)
    print(f"echoes while forked children closed every fd: all back {ok == n}", flush=True)
    print(f"{ok} of {n}", file=sys.stderr)
    os.wait()


if __name__ == "__main__":
    (server if sys.argv[1] == "server" else client)(sys.argv[2], int(sys.argv[3]))
