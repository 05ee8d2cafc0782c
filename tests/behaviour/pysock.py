"""Python's socket module over loopback: a threaded TCP echo server with a
client, UDP, timeouts, errors and selectors. Prints only timing-free facts."""
import ctypes
import os
import selectors
import socket
import sys
import threading

print("fastsock loaded:",
      "yes" if hasattr(ctypes.CDLL(None), "fastsock_version") else "no",
      file=sys.stderr)

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen()
port = srv.getsockname()[1]


def serve():
    for _ in range(3):
        conn, _ = srv.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data.upper())


t = threading.Thread(target=serve)
t.start()
for size in (1, 1000, 300000):
    with socket.create_connection(("127.0.0.1", port)) as c:
        payload = bytes((i % 26) + 97 for i in range(size))
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        print("tcp", size, got == payload.upper())
t.join()
srv.close()

u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u1.bind(("127.0.0.1", 0))
u2.bind(("127.0.0.1", 0))
u1.sendto(b"datagram", u2.getsockname())
data, addr = u2.recvfrom(100)
print("udp", data, addr == u1.getsockname())
u2.settimeout(0.05)
try:
    u2.recvfrom(100)
except socket.timeout:
    print("udp timeout raised")
u2.setblocking(False)
try:
    u2.recv(10)
except BlockingIOError as e:
    print("nonblocking", e.errno == 11)

sel = selectors.DefaultSelector()
sel.register(u2, selectors.EVENT_READ)
print("select idle", len(sel.select(timeout=0.01)))
u1.sendto(b"x", u2.getsockname())
print("select ready", len(sel.select(timeout=1)))
sel.close()
u1.close()
u2.close()

dead = socket.socket()
dead.bind(("127.0.0.1", 0))
dport = dead.getsockname()[1]
dead.close()
try:
    socket.create_connection(("127.0.0.1", dport), timeout=2)
except ConnectionRefusedError:
    print("connection refused")

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"from child")
    os._exit(0)
os.waitpid(pid, 0)
print("pipe", os.read(r, 100))
a, b = socket.socketpair()
a.sendall(b"pair")
print("socketpair", b.recv(10))
