"""Sockets served on both paths (bound to the wildcard address) seen from
the process itself: a connection or datagram that this process sends over
the kernel's loopback is there when the call returns, so the next poll,
select, epoll_wait, accept or recv that does not wait must see it, as the
kernel shows it. Run on the kernel and under fastsock; outputs compared.

    dualself.py PORT
"""
import errno
import os
import select
import socket
import subprocess
import sys
import time

port = int(sys.argv[1])


def show(what, value):
    print(f"{what}: {value}", flush=True)


def try_(what, f):
    try:
        show(what, f())
    except OSError as e:
        show(what, errno.errorcode[e.errno])


def polled(s):
    p = select.poll()
    p.register(s, select.POLLIN)
    return [ev for _, ev in p.poll(0)]


# TCP: a wildcard listener and connections from this very process.
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(16)
l.setblocking(False)
ep = select.epoll()
ep.register(l.fileno(), select.EPOLLIN)
show("tcp poll before", polled(l))
show("tcp epoll before", ep.poll(0))
try_("tcp accept before", lambda: l.accept()[0] is not None)
keep = []
for i in range(3):
    keep.append(socket.create_connection(("127.0.0.1", port)))
    show(f"tcp poll after connect {i}", polled(l))
    show(f"tcp epoll after connect {i}", [ev for _, ev in ep.poll(0)])
    show(f"tcp select after connect {i}", len(select.select([l], [], [], 0)[0]))
    a, _ = l.accept()
    a.sendall(b"hi")
    show(f"tcp accepted {i}, client got", keep[-1].recv(2))
    keep.append(a)
    try_(f"tcp accept again {i}", lambda: l.accept()[0] is not None)
    show(f"tcp poll after accept {i}", polled(l))
# Two at once: both queued, the second still there after the first accept.
keep += [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
show("tcp epoll with two queued", [ev for _, ev in ep.poll(0)])
keep.append(l.accept()[0])
show("tcp poll with one left", polled(l))
keep.append(l.accept()[0])
show("tcp poll with none left", polled(l))

# UDP: a wildcard socket and datagrams from this very process.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", port))
u.setblocking(False)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try_("udp recv before", lambda: u.recv(16))
show("udp poll before", polled(u))
for i in range(3):
    s.sendto(b"self%d" % i, ("127.0.0.1", port))
    show(f"udp poll after send {i}", polled(u))
    show(f"udp select after send {i}", len(select.select([u], [], [], 0)[0]))
    try_(f"udp recv {i}", lambda: u.recv(16))
    try_(f"udp recv again {i}", lambda: u.recv(16))
s.sendto(b"a", ("127.0.0.1", port))
s.sendmsg([b"b"], [], 0, ("127.0.0.1", port))
try_("udp recv first of two", lambda: u.recv(16))
try_("udp recv second of two", lambda: u.recv(16))
try_("udp recv none left", lambda: u.recv(16))
print("done", flush=True)

# Under fastsock, what the stack serves (fastsock-stat's view of this
# process), so the test knows the sockets above were the stack's.
stat = os.environ.get("DUALSELF_STAT")
if stat:
    time.sleep(0.6)  # the stack publishes every 250 ms
    r = subprocess.run([stat, "-p", str(os.getpid()), "--json"], capture_output=True, text=True)
    open(os.environ["DUALSELF_OUT"], "w").write(r.stdout)
