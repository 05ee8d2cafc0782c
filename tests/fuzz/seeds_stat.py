#!/usr/bin/python3
"""Seeds for fuzz_stat: snapshots as a stack publishes them (stack/
publish.h, struct fs_pub's first fields; the rest zero), plain and with
hostile text.  seeds_stat.py DIR"""
import os
import struct
import sys

MAGIC, VERSION = 0x66737374, 5


def head(dev, ip=0x0100000a, prefix=24, link=1, pid=0):
    # magic, version, pid, seq, updated_ns, dev[256], ip, prefix, link_up, mac[6]
    return struct.pack("<IIiIQ256sIBB6s", MAGIC, VERSION, pid, 0, 0, dev, ip, prefix, link,
                       bytes.fromhex("02fa57000001"))


def main():
    d = sys.argv[1]
    seeds = {
        "plain": head(b"net_memif0,role=server,socket=/run/fastsock/m.sock"),
        "escape": head(b"net\x1b[31m\"x\\y\x7f\xff" + b"A" * 200),
        "unterminated": head(b"B" * 256) + b"\xff" * 64,
        "wrong-magic": b"\x01" + head(b"x")[1:],
        "sockets": head(b"net_af_xdp0,iface=fsl0") + b"\x00" * 164 + struct.pack("<II", 300, 40),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
