#!/usr/bin/python3
"""Seeds for fuzz_config (tests/fuzz/fuzz_config.c), one file each, into
DIR: the first byte picks the way in (0 environment lines, 1 FASTSOCK_CONF
file, 2 FASTSOCK_ACCEL rule list), the rest is the text.

    seeds_config.py DIR
"""
import os
import sys

ENV = [
    "FASTSOCK_DEV=net_memif0,role=server,socket=/tmp/m.sock,socket-abstract=no\n"
    "FASTSOCK_IP=10.77.0.1/24\nFASTSOCK_GW=10.77.0.254\nFASTSOCK_MAC=02:fa:57:00:00:01",
    "FASTSOCK_MTU=9000\nFASTSOCK_MBUFS=8192\nFASTSOCK_RX_BURST=32\nFASTSOCK_SPIN_US=50",
    "FASTSOCK_EAL_ARGS=--no-huge -m 512 --no-shconf\nFASTSOCK_PROGRESS_CPU=1\n"
    "FASTSOCK_TCP_RTO_MIN_MS=10\nFASTSOCK_TCP_EXIT_LINGER_MS=200\nFASTSOCK_MEMIF=dpdk",
    "FASTSOCK_ACCEL=kernel proto=tcp remote=*:22; accel proto=udp local=*:5000-5999\n"
    "FASTSOCK_LOG=error\nFASTSOCK_IPP=1",
    "FASTSOCK_IP=300.1.1.1/33\nFASTSOCK_MTU=-1\nFASTSOCK_MAC=zz",
]
RULES = [
    "kernel proto=tcp remote=*:22; accel proto=udp local=*:5000-5999",
    "accel role=server local=10.77.0.1/32:80; kernel role=client remote=10.0.0.0/8",
    "kernel proto=any role=any local=*:1-65535 remote=*",
    "accel local=10.77.0.1:0-0;;kernel proto=sctp",
]
CONF = [
    "# fastsock rules\nkernel proto=tcp remote=*:22\naccel proto=udp local=*:5000-5999 # feed\n",
    "accel role=server local=10.77.0.1/24:8080\n\n   \nkernel\n",
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for way, texts in ((0, ENV), (1, CONF), (2, RULES)):
        for t in texts:
            with open(os.path.join(out, "seed-%02d" % n), "wb") as f:
                f.write(bytes([way]) + t.encode())
            n += 1


if __name__ == "__main__":
    main()
