"""Many TCP connections, and connection churn, for the memif scale test.
  tcpscale.py server ADDR PORT        epoll echo server (one byte back per byte)
  tcpscale.py client ADDR PORT N M    N concurrent connections, each echoed
                                      once; then M connect/echo/close rounds
The client prints what it saw and its memory before and after the churn."""
import os
import resource
import select
import socket
import sys
import time


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def server(addr, port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(4096)
    l.setblocking(False)
    ep = select.epoll()
    ep.register(l.fileno(), select.EPOLLIN)
    conns = {}
    while True:
        for fd, ev in ep.poll(1.0):
            if fd == l.fileno():
                while True:
                    try:
                        c, _ = l.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    conns[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN)
                continue
            c = conns[fd]
            try:
                d = c.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionError:
                d = b""
            if d:
                c.send(d)
            else:
                ep.unregister(fd)
                del conns[fd]
                c.close()


def client(addr, port, n, m):
    socks = []
    t0 = time.time()
    for i in range(n):
        s = socket.socket()
        s.settimeout(10)
        s.connect((addr, port))
        socks.append(s)
    ok = 0
    for s in socks:
        s.send(b"x")
    for s in socks:
        if s.recv(1) == b"x":
            ok += 1
    print(f"concurrent: {len(socks)} connected, {ok} echoed", flush=True)
    print(f"concurrent set-up took {time.time() - t0:.1f} s", file=sys.stderr)
    for s in socks:
        s.close()
    time.sleep(0.5)
    before = rss_kib()
    fails = 0
    t0 = time.time()
    for i in range(m):
        if i == m // 10:
            before = rss_kib()  # after the first tenth: caches warmed
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect((addr, port))
            s.send(b"y")
            if s.recv(1) != b"y":
                fails += 1
        except OSError as e:
            fails += 1
            if fails < 5:
                print(f"round {i}: {e}", file=sys.stderr)
        s.close()
    after = rss_kib()
    print(f"churn: {m} rounds, {fails} failed", flush=True)
    print(f"churn took {time.time() - t0:.1f} s; rss {before} -> {after} KiB", file=sys.stderr)
    print(f"rss growth under 32 MiB: {after - before < 32768}", flush=True)


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
