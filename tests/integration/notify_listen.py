#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# notify_listen.py SOCKET OUT - what systemd's side of sd_notify(3) sees: a
# datagram socket at SOCKET; every message received, one field a line,
# appended to OUT (flushed at once) until the process is killed.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    print("listening", file=f)
    while True:
        data = s.recv(4096)
        for field in data.decode("utf-8", "replace").split("\n"):
            if field:
                print(field, file=f)
