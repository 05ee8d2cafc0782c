"""Many TCP connections, and connection churn, for the memif scale test.
  tcpscale.py server ADDR PORT        epoll echo server (one byte back per byte)
  tcpscale.py client ADDR PORT N M    N concurrent connections, each echoed
                                      once; then M connect/echo/close rounds
  tcpscale.py stuff-server ADDR PORT N
  tcpscale.py stuff ADDR PORT N       N connections the server does not read:
                                      the client writes until no more goes,
                                      a new connection is echoed meanwhile,
                                      then the server reads and checks every
                                      byte
The client prints what it saw and its memory before and after the churn.
With FS_STAT (fastsock-stat) and FS_STAT_PIDS (a file naming the server's
pid) the stuff client samples both stacks (idle, connected, stuffed, closed)
into FS_STAT_OUT."""
import json
import os
import resource
import select
import socket
import sys
import time

# Connection i's byte at offset k is (k + 7 i) mod 251: a slice of BLOCK.
CHUNK = 65536
BLOCK = bytes(k % 251 for k in range(CHUNK + 251))


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


def stuff_server(addr, port, n):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(4096)
    conns = [l.accept()[0] for _ in range(n)]
    f, _ = l.accept()  # the new connection while the others are full
    f.send(f.recv(1))
    f.close()
    ctl, _ = l.accept()
    ctl.recv(2)
    ep = select.epoll()
    pos = {}
    for i, c in enumerate(conns):
        c.setblocking(False)
        ep.register(c.fileno(), select.EPOLLIN)
        pos[c.fileno()] = [i, 0, c]
    total = bad = 0
    end = time.time() + 120
    while pos and time.time() < end:
        for fd, _ in ep.poll(1.0):
            i, off, c = pos[fd]
            try:
                d = c.recv(CHUNK)
            except BlockingIOError:
                continue
            if not d:
                ep.unregister(fd)
                del pos[fd]
                c.close()
                continue
            k = (off + 7 * i) % 251
            bad += d != BLOCK[k:k + len(d)]
            pos[fd][1] = off + len(d)
            total += len(d)
    ctl.sendall(f"{total} {bad} {len(pos)}\n".encode())
    ctl.close()
    time.sleep(30)  # sampled after the close; the client ends us


def sample(what):
    stat, pids, out = os.environ.get("FS_STAT"), os.environ.get("FS_STAT_PIDS"), os.environ.get("FS_STAT_OUT")
    if not stat:
        return
    with open(pids) as f:
        server = int(f.read())
    time.sleep(0.6)  # each stack publishes every 250 ms
    for side, pid in (("server", server), ("client", os.getpid())):
        # posix_spawn, not fork: the sample must not make this process a
        # family of two (fork with 10,000 connections: see the notes).
        tmp = out + ".json"
        child = os.posix_spawn(stat, [stat, "-p", str(pid), "--json"], os.environ,
                               file_actions=[(os.POSIX_SPAWN_OPEN, 1, tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)])
        os.waitpid(child, 0)
        with open(tmp) as f:
            d = json.load(f)
        if not d:
            continue  # no stack yet: the client's starts at its first connect
        d = d[0]
        with open(out, "a") as f:
            print(what, side, d["buffers_total"] - d["buffers_free"], d["heap_used"],
                  sum(d["drops"].values()), {k: v for k, v in d["drops"].items() if v}, file=f)


def stuff(addr, port, n):
    sample("idle")
    socks = []
    for i in range(n):
        s = socket.socket()
        s.settimeout(10)
        s.connect((addr, port))
        s.setblocking(False)
        socks.append(s)
    sample("connected")
    sent = [0] * n
    t0 = time.time()
    idle = 0
    while idle < 3 and time.time() - t0 < 90:  # three passes with nothing taken
        moved = 0
        for i in range(n):
            while True:
                k = (sent[i] + 7 * i) % 251
                try:
                    m = socks[i].send(BLOCK[k:k + CHUNK])
                except BlockingIOError:
                    break
                sent[i] += m
                moved += m
        idle = 0 if moved else idle + 1
        time.sleep(0.2)
    print(f"stuffed {sum(sent) >> 20} MiB, {sum(sent) // n >> 10} KiB a connection, in {time.time() - t0:.1f} s",
          file=sys.stderr)
    sample("stuffed")
    f = socket.socket()
    f.settimeout(10)
    f.connect((addr, port))
    f.send(b"z")
    print(f"a new connection while {n} are full: echoed {f.recv(1) == b'z'}", flush=True)
    f.close()
    ctl = socket.socket()
    ctl.settimeout(150)
    ctl.connect((addr, port))
    ctl.send(b"go")
    for s in socks:
        s.shutdown(socket.SHUT_WR)
    total, bad, left = (int(x) for x in ctl.makefile().readline().split())
    print(f"stuffed: {n} connections, every byte arrived in order: {total == sum(sent) and bad == 0 and left == 0}",
          flush=True)
    print(f"server read {total} of {sum(sent)} bytes, {bad} chunks wrong, {left} connections unfinished",
          file=sys.stderr)
    for s in socks:
        s.close()
    ctl.close()
    time.sleep(2)
    sample("closed")


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "stuff-server":
        stuff_server(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "stuff":
        stuff(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
