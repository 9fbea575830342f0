#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""master_stub.py - stands in for the data nodes' GET /master (DESIGN.md 8)
in the agent snippet's test, on loopback addresses that share one port:

  127.0.0.1  503 (a standby)
  127.0.0.2  200 (the master)
  127.0.0.4  accepts and never answers (a hung node)
  127.0.0.3  nothing listens (a node that is down)

Binds 127.0.0.1 on a free port, the others on the same port, prints the
port on stdout, then serves until killed. Any path but /master is 404.
"""
import http.server
import socket
import socketserver
import sys
import threading
import time

STATUS = {"127.0.0.1": 503, "127.0.0.2": 200}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        here = self.connection.getsockname()[0]
        if here == "127.0.0.4":
            time.sleep(30)  # the client's timeout fires first
            return
        code = STATUS[here] if self.path == "/master" else 404
        body = b"master\n" if code == 200 else b"not master\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    for _ in range(20):
        first = Server(("127.0.0.1", 0), Handler)
        port = first.server_address[1]
        try:
            others = [Server((a, port), Handler) for a in ("127.0.0.2", "127.0.0.4")]
        except OSError:  # the port is taken on another address: try another
            first.server_close()
            continue
        break
    else:
        sys.exit("master_stub: no port free on 127.0.0.1, .2 and .4")
    # nothing may listen on 127.0.0.3:port (the "down" node)
    probe = socket.socket()
    probe.settimeout(1)
    if probe.connect_ex(("127.0.0.3", port)) == 0:
        sys.exit("master_stub: something listens on 127.0.0.3:%d" % port)
    probe.close()
    for s in others:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(port, flush=True)
    first.serve_forever()


if __name__ == "__main__":
    main()
