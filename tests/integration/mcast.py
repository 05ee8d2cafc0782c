"""Multicast across memif: the receiver joins a group on its fastsock
address, the sender picks its fastsock address with IP_MULTICAST_IF.
    mcast.py recv IFADDR     prints the 3 datagrams it receives
    mcast.py send IFADDR     sends 3 datagrams to the group"""
import socket
import struct
import sys
import time

GROUP, PORT = "239.77.0.1", 15353
role, ifaddr = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if role == "recv":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", PORT))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(ifaddr)))
    s.settimeout(10)
    for _ in range(3):
        data, _ = s.recvfrom(100)
        print("got", data.decode(), flush=True)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP,
                 struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(ifaddr)))
    print("left group", flush=True)
    time.sleep(30)  # stay up until the lab stops us
else:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    time.sleep(0.3)  # the receiver's join has reached the stack
    for i in range(3):
        print("sent", s.sendto(f"tick-{i}".encode(), (GROUP, PORT)), flush=True)
        time.sleep(0.05)
