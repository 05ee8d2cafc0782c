"""An epoll set of many accelerated sockets: what epoll_wait reports
after datagrams reach a few of them, level-triggered, edge-triggered and
one-shot members mixed, as the kernel reports it. fastsock looks only at
the members the stack's news names (preload/poll.c); a member it missed
would be reported late by its 100 ms check, with a warning on stderr that
the test looks for. Run on the kernel and under fastsock; outputs compared.

    epollmany.py ADDRESS FIRST_PORT COUNT
"""
import select
import socket
import sys
import time

addr, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MODES = [("lt", 0), ("et", select.EPOLLET), ("oneshot", select.EPOLLONESHOT)]

ep = select.epoll()
socks = {}
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, first + i))
    s.setblocking(False)
    socks[s.fileno()] = (i, s)
    ep.register(s.fileno(), select.EPOLLIN | MODES[i % 3][1])
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind((addr, 0))


def send(*idx):
    for i in idx:
        tx.sendto(b"x%d" % i, (addr, first + i))


def wait(want, limit=2.0):
    """epoll_wait until `want` distinct members reported (or the time is
    up): who reported what; then what one more epoll_wait that does not
    wait reports (level-triggered members that are still ready)."""
    got, end = {}, time.monotonic() + limit
    while len(got) < want and time.monotonic() < end:
        for fd, ev in ep.poll(0.2):
            got[socks[fd][0]] = got.get(socks[fd][0], 0) | ev
    again = sorted(socks[fd][0] for fd, _ in ep.poll(0))
    return (" ".join(f"{i}{MODES[i % 3][0]}:{e}" for i, e in sorted(got.items())) +
            f"; then {again}")


def drain(*idx):
    n = 0
    for i in idx:
        s = next(s for j, s in socks.values() if j == i)
        while True:
            try:
                s.recv(100)
                n += 1
            except BlockingIOError:
                break
    return n


hot = [0, 1, 2, count // 2, count // 2 + 1, count // 2 + 2, count - 3, count - 2, count - 1]
send(*hot)
print("after one each:", wait(len(hot)), flush=True)
print("again, nothing new:", wait(0, 0), flush=True)
send(1, count - 2, 2)
print("a second datagram to three:", wait(3, 1.0), flush=True)
print("read all:", drain(*hot), "datagrams;", "then:", wait(0, 0), flush=True)
for i in (2, count - 1):  # re-arm two one-shot members, one with data waiting
    s = next(s for j, s in socks.values() if j == i)
    ep.modify(s.fileno(), select.EPOLLIN | select.EPOLLONESHOT)
send(count - 1)
print("re-armed one-shots:", wait(1, 1.0), flush=True)
# A burst wider than fastsock's news log (1024 entries) between two looks.
burst = list(range(0, count, 1))[:1500]
send(*burst)
time.sleep(0.3)
r = wait(len(burst))
print("after a burst to", len(burst), "members:", len(r.split(";")[0].split()), "reported", flush=True)
drain(*range(count))
# Closed without EPOLL_CTL_DEL: the kernel drops them from the set.
for i in (0, 1):
    s = next(s for j, s in socks.values() if j == i)
    s.close()
send(3, 4)
print("after closing two members:", wait(2, 1.0), flush=True)
print("done", flush=True)
