#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""raw_client.py - hostile clients for the integration tests (127.0.0.1 only).

  raw_client.py garbage PORT             random bytes over plain TCP
  raw_client.py plain-oversized PORT     a frame header with a huge length, plain TCP
  raw_client.py tls-oversized PORT CA CERT KEY
                                          mutual TLS with a member certificate, then
                                          a frame header announcing 2 GiB of payload
  raw_client.py tls PORT CA CERT KEY     mutual TLS handshake and a little wait
                                          (with a certificate of another CA: refused)
  raw_client.py admin SOCKET_PATH        bad requests to the admin socket: not
                                          JSON, unknown command, NUL, over 4 KiB;
                                          prints one line per answer
Every mode exits 0 whatever the server does: the test reads the server's counters.
"""
import os
import socket
import ssl
import struct
import sys
import time

HOST = "127.0.0.1"


def header(length):
    # magic "DUET", version 1, type 1, flags 0, u32 len (transport.h)
    return b"DUET" + struct.pack("<BBHI", 1, 1, 0, length)


def tls_connect(port, ca, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we want to reach the server's judgement of OUR cert
    ctx.load_cert_chain(cert, key)
    s = socket.create_connection((HOST, port), timeout=3)
    return ctx.wrap_socket(s)


def drain(s):
    try:
        s.settimeout(1.0)
        while s.recv(4096):
            pass
    except Exception:
        pass


def main():
    mode = sys.argv[1]
    port = int(sys.argv[2]) if mode != "admin" else 0
    try:
        if mode == "garbage":
            s = socket.create_connection((HOST, port), timeout=3)
            s.sendall(os.urandom(8192))
            drain(s)
        elif mode == "plain-oversized":
            s = socket.create_connection((HOST, port), timeout=3)
            s.sendall(header(0x7FFFFFF0) + os.urandom(64))
            drain(s)
        elif mode == "tls-oversized":
            s = tls_connect(port, *sys.argv[3:6])
            time.sleep(0.2)
            s.sendall(header(0x7FFFFFF0) + os.urandom(64))
            drain(s)
        elif mode == "tls":
            s = tls_connect(port, *sys.argv[3:6])
            s.sendall(b"\0" * 16)
            drain(s)
        elif mode == "admin":
            path = sys.argv[2]
            for req in [b"hello\n", b'{"cmd":"frobnicate"}\n', b'{"cmd":"st\x00"}\n',
                        b'{"cmd":' + b"x" * 10000 + b"\n"]:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(3)
                s.connect(path)
                try:
                    s.sendall(req)
                    print(s.recv(65536).split(b"\n")[0].decode())
                except Exception as e:
                    print("closed:", type(e).__name__)
                s.close()
        else:
            print("unknown mode", mode, file=sys.stderr)
            return 2
    except Exception as e:  # refused connections are the point
        print("client:", type(e).__name__, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
