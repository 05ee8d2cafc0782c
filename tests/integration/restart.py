#!/usr/bin/python3
# A memif peer that dies and comes back (issue 22, peer failure).
#   restart.py server ADDR PORT        an echo server: a line in, "echo:" it back
#   restart.py client ADDR PORT FLAG   asks once, then waits for the file FLAG
#                                      (the server was killed and started again)
#                                      and asks on the old and on a new connection
# The client must carry on without a restart of its own: its link comes back,
# the old connection ends with an error (the new server never knew it) and a
# new connection is answered.
import os
import socket
import sys
import threading
import time


def server(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    def serve(c):
        with c:
            for line in c.makefile("rb"):
                c.sendall(b"echo:" + line)

    while True:  # a connection whose peer died blocks only its thread
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def ask(c, what):
    c.sendall(what + b"\n")
    return c.recv(100).strip().decode()


def client(addr, port, flag):
    old = socket.create_connection((addr, port), timeout=5)
    print("before:", ask(old, b"one"), flush=True)
    for _ in range(300):
        if os.path.exists(flag):
            break
        time.sleep(0.1)
    else:
        print("no restart seen")
        return 1
    # The old connection: the new server knows nothing of it.
    try:
        got = ask(old, b"two")
        print("old connection:", "answered" if got else "ended")
    except OSError as e:
        print("old connection:", type(e).__name__)
    t0 = time.monotonic()
    for _ in range(100):  # the link comes back within about 100 ms
        try:
            new = socket.create_connection((addr, port), timeout=5)
            print("new connection:", ask(new, b"three"))
            break
        except OSError as e:
            last = e
            time.sleep(0.1)
    else:
        print("new connection failed:", last)
        return 1
    print("back within 10 s:", time.monotonic() - t0 < 10)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
