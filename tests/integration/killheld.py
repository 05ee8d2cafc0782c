#!/usr/bin/python3
"""Kills a process of a fastsock family while it holds the stack lock.

    killheld.py LIBFASTSOCK PID...

Stops one of the PIDs at a time (SIGSTOP) and reads from its memory
(/proc/PID/mem; the addresses of fs_stk and fs_family_slot from nm of
LIBFASTSOCK, which must keep its symbol table) the family's lock word and
the process's slot in the family. A lock held by that slot (the word is the
holder's slot + 1) is held by the stopped process: it gets SIGKILL.
Otherwise it goes on (SIGCONT) and the next try comes. Prints the pid
killed. After 300 tries (about a second) without finding the holder, one
of the PIDs is killed anyway: prints "PID (not holding)". Where the
holder's threads were when it was killed goes to stderr (a system call's
name, or the library and offset of user code): a failure after the kill
may depend on it (docs/architecture.md, restart).
"""
import os
import random
import signal
import struct
import subprocess
import sys
import time

LOCK_WAITERS = 0x80000000


def symbol(lib, name):
    out = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    sys.exit(f"killheld: no symbol {name} in {lib}")


def base(pid, lib):
    real = os.path.realpath(lib)
    with open(f"/proc/{pid}/maps") as m:
        for line in m:
            f = line.split()
            if len(f) >= 6 and os.path.realpath(f[5]) == real and int(f[2], 16) == 0:
                return int(f[0].split("-")[0], 16)
    return None


def read(pid, addr, fmt):
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        return struct.unpack(fmt, mem.read(struct.calcsize(fmt)))[0]


def holds(pid, b, stk, slot):
    """Whether the (stopped) process pid holds its family's lock."""
    p = read(pid, b + stk, "<Q")
    return p != 0 and (read(pid, p, "<I") & ~LOCK_WAITERS) == read(pid, b + slot, "<I") + 1


def stopped(pid):
    for _ in range(100):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in "Tt":
                return
        time.sleep(0.001)


SYSCALLS = {0: "read", 1: "write", 7: "poll", 44: "sendto", 45: "recvfrom", 202: "futex",
            232: "epoll_wait", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait"}


def where(pid):
    """Where each thread of the stopped process pid is: from
    /proc/PID/task/TID/syscall (a number, or -1 in user code, then sp and
    pc)."""
    maps = []
    with open(f"/proc/{pid}/maps") as m:
        for line in m:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            maps.append((lo, hi, int(f[2], 16), os.path.basename(f[5]) if len(f) > 5 else "?"))
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                s = f.read().split()
        except OSError:
            continue
        if s[0] == "-1" and len(s) >= 3:
            pc = int(s[-1], 16)
            at = next((f"{n}+{pc - lo + off:#x}" for lo, hi, off, n in maps if lo <= pc < hi),
                      hex(pc))
            out.append(f"{tid} at {at}")
        else:
            out.append(f"{tid} in {SYSCALLS.get(int(s[0]), s[0]) if s[0].isdigit() else s[0]}")
    return ", ".join(out)


def main():
    lib, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
    stk, slot = symbol(lib, "fs_stk"), symbol(lib, "fs_family_slot")
    for _ in range(300):
        pid = random.choice(pids)
        b = base(pid, lib)
        if b is None:
            continue
        held = False
        os.kill(pid, signal.SIGSTOP)
        try:
            stopped(pid)
            held = holds(pid, b, stk, slot)
        finally:
            if held:
                print(f"killheld: {pid} held the lock: {where(pid)}", file=sys.stderr)
                os.kill(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGCONT)
        if held:
            print(pid)
            return 0
        time.sleep(random.uniform(0.001, 0.005))
    pid = random.choice(pids)
    os.kill(pid, signal.SIGKILL)
    print(f"{pid} (not holding)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
