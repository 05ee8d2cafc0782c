"""UDP datagrams around and past the fragment boundaries, up to the largest
IPv4 carries (65,507 bytes), echoed:
    udplarge.py server ADDR PORT   echoes until 5 s pass with nothing
    udplarge.py client ADDR PORT   prints, per size, whether the echo matched
Printed lines hold no addresses or timings, so a kernel-to-kernel run and a
run with fastsock on either side print the same."""
import socket
import sys

SIZES = [1, 1472, 1473, 8972, 8973, 30000, 65507, 65507]

mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "server":
    s.bind((ip, port))
    s.settimeout(5)
    try:
        while True:
            d, a = s.recvfrom(65535)
            s.sendto(d, a)
    except socket.timeout:
        pass
else:
    s.settimeout(3)
    for n in SIZES:
        data = bytes((i * 7 + n) & 255 for i in range(n))
        s.sendto(data, (ip, port))
        try:
            got = s.recv(65535)
            print(n, "echoed" if got == data else "wrong: %d bytes" % len(got))
        except socket.timeout:
            print(n, "lost")
