#!/usr/bin/python3
# Servers that fork, and a client that checks what they answer. Every
# server creates its socket before it forks; the forked processes serve.
#   forks.py server MODE HOST PORT
#   forks.py client MODE HOST PORT COUNT
# MODE: forking (accept in the parent, serve in a forked child, as
# socketserver.ForkingTCPServer), prefork (4 children block in accept on
# the one inherited listener), daemon (the parent exits at once after the
# fork; the child serves), udp (parent and child both receive on one
# socket and answer), killed (prefork, 2 children; a child that reads
# "die" is killed with SIGKILL and the parent forks another, as nginx's
# master replaces a worker: the peer must see the connection end as the
# kernel ends it, and the others served), socat (socat TCP-LISTEN,fork
# EXEC:cat: 20 clients at once each send 10 MB and get it back). The client prints one line per
# mode, the same on the kernel and under fastsock when the semantics are
# the kernel's.
import os
import signal
import socket
import socketserver
import sys
import time


def recv_all(c):
    """Everything c receives until the peer's FIN."""
    data = b""
    while True:
        d = c.recv(65536)
        if not d:
            return data
        data += d


def serve_conn(c, tag):
    data = recv_all(c)
    c.sendall(tag + b":" + data)
    c.close()


def server(mode, host, port):
    if mode == "socat":
        os.execvp("socat", ["socat", "TCP-LISTEN:%d,bind=%s,reuseaddr,fork,backlog=64" % (port, host),
                            "EXEC:cat"])
    if mode == "forking":
        class H(socketserver.BaseRequestHandler):
            def handle(self):
                serve_conn(self.request, b"child")

        class S(socketserver.ForkingTCPServer):
            allow_reuse_address = True

        S((host, port), H).serve_forever()
    if mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, port))
        tag = b"parent"
        if os.fork() == 0:
            tag = b"child"
        while True:
            d, a = s.recvfrom(2048)
            s.sendto(tag + b":" + d, a)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(128)
    if mode == "daemon":
        if os.fork() != 0:
            os._exit(0)  # as daemon(): the parent leaves at once
        while True:
            c, _ = s.accept()
            serve_conn(c, b"child")
    if mode == "killed":
        def child():
            while True:
                c, _ = s.accept()
                req = b""
                while not req.endswith(b"\n"):
                    d = c.recv(100)
                    if not d:
                        break
                    req += d
                if req == b"die\n":
                    os.kill(os.getpid(), signal.SIGKILL)
                c.sendall(b"served:" + req)
                c.close()

        for i in range(2):
            if os.fork() == 0:
                child()
        while True:
            os.wait()
            if os.fork() == 0:
                child()
    if mode == "prefork":
        for i in range(4):
            if os.fork() == 0:
                while True:
                    c, _ = s.accept()
                    serve_conn(c, b"child%d" % i)
        s.close()
        while True:
            time.sleep(60)


def client(mode, host, port, n):
    if mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        got = {}
        for i in range(n):
            s.sendto(b"d%d" % i, (host, port))
            deadline = time.time() + 2
            while time.time() < deadline:
                try:
                    d, _ = s.recvfrom(2048)
                except socket.timeout:
                    break
                k = d.partition(b":")[2]
                got[k] = got.get(k, 0) + 1
                if k == b"d%d" % i:
                    break
        # Late duplicates, if any.
        s.settimeout(0.3)
        try:
            while True:
                d, _ = s.recvfrom(2048)
                k = d.partition(b":")[2]
                got[k] = got.get(k, 0) + 1
        except socket.timeout:
            pass
        once = sum(1 for i in range(n) if got.get(b"d%d" % i) == 1)
        print("udp: %d of %d datagrams answered exactly once" % (once, n))
        return
    if mode == "socat":
        import hashlib
        import threading

        def one(results):
            data = os.urandom(10 << 20)
            c = socket.create_connection((host, port), timeout=30)
            t = threading.Thread(target=c.sendall, args=(data,))
            t.start()
            got = bytearray()
            try:
                while len(got) < len(data):
                    d = c.recv(1 << 20)
                    if not d:
                        break
                    got += d
            except socket.timeout:
                pass
            t.join()
            c.close()
            results.append(hashlib.sha256(got).digest() == hashlib.sha256(data).digest())

        results = []
        threads = [threading.Thread(target=one, args=(results,)) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("socat: %d of %d clients got their 10 MB back intact" % (sum(results), n))
        return
    if mode == "killed":
        seen = {"served": 0, "eof": 0, "reset": 0, "timeout": 0}
        for i in range(n):
            req = b"die\n" if i % 4 == 1 else b"req%d\n" % i
            c = socket.create_connection((host, port), timeout=10)
            c.sendall(req)
            try:
                got = recv_all(c)
                seen["served" if got == b"served:" + req else "eof"] += 1
            except ConnectionResetError:
                seen["reset"] += 1
            except socket.timeout:
                seen["timeout"] += 1
            c.close()
        print("killed: %d served, %d ended by the server's death with a FIN, "
              "%d with a reset, %d not at all" %
              (seen["served"], seen["eof"], seen["reset"], seen["timeout"]))
        return
    ok = 0
    for i in range(n):
        data = os.urandom(1000 + 97 * (i % 100))
        for attempt in range(50):  # the daemon's child may not listen yet
            try:
                c = socket.create_connection((host, port), timeout=10)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        got = recv_all(c)
        c.close()
        ok += got.partition(b":")[2] == data
    print("%s: %d of %d connections served, data intact" % (mode, ok, n))


if __name__ == "__main__":
    role, mode, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if role == "server":
        server(mode, host, port)
    else:
        client(mode, host, port, int(sys.argv[5]))
