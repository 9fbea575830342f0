#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""garp.py IFACE ADDR [COUNT] - send gratuitous ARP for ADDR from IFACE.

Each round sends a request and a reply, both with sender = target = ADDR and
IFACE's MAC, to the broadcast address; COUNT rounds (default 3) 100 ms apart.
The netns rig uses it to move the floating IP by hand (duet sends its own).
"""
import socket
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    iface, addr = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    ip = socket.inet_aton(addr)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((iface, 0))
    mac = s.getsockname()[4]
    if len(mac) != 6:
        sys.stderr.write("garp: %s has no Ethernet address\n" % iface)
        return 1
    bcast = b"\xff" * 6
    for i in range(count):
        for op, tha in ((1, b"\x00" * 6), (2, bcast)):
            arp = (b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big")
                   + mac + ip + tha + ip)
            s.send(bcast + mac + b"\x08\x06" + arp)
        if i + 1 < count:
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
