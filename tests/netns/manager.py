#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""manager.py - a stand-in for the management server that duet keeps running.

  manager.py --listen ADDR:PORT --pidfile FILE [--daemon] [--log FILE]
      serve HTTP on ADDR:PORT: GET /health -> 200 "ok", GET / -> 200 with the
      pid; everything else 404. The pidfile is written once the socket
      listens and removed on SIGTERM. With --daemon the command returns (0)
      only when the server listens and the pidfile is written, its output
      going to --log (default FILE.log) so a caller waiting for EOF on stdout
      is not held; if a manager of that pidfile runs already, it exits 0.
  manager.py --stop --pidfile FILE [--timeout SECONDS]
      SIGTERM to the pid in FILE (only if that process is a manager.py), wait
      until it is gone (SIGKILL after the timeout, default 5 s); exits 0 when
      none was running.
"""
import argparse
import http.server
import os
import signal
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def _reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._reply(200, "ok\n")
        elif self.path == "/":
            self._reply(200, "manager pid %d\n" % os.getpid())
        else:
            self._reply(404, "not found\n")

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        sys.stderr.write("%s manager: %s\n" % (time.strftime("%H:%M:%S"), fmt % args))


def running_pid(pidfile):
    """The pid in pidfile if that process is alive and is a manager.py."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError):
        return None
    if b"manager.py" not in cmd or state in ("Z", "X"):
        return None
    return pid


def write_pidfile(path):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path)


def stop(args):
    pid = running_pid(args.pidfile)
    if pid is None:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while running_pid(args.pidfile) == pid and time.monotonic() < deadline:
        time.sleep(0.02)
    if running_pid(args.pidfile) == pid:
        sys.stderr.write("manager: pid %d ignored SIGTERM: SIGKILL\n" % pid)
        os.kill(pid, signal.SIGKILL)
        while running_pid(args.pidfile) == pid:
            time.sleep(0.02)
    try:
        os.unlink(args.pidfile)
    except OSError:
        pass
    return 0


def serve(args):
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        sys.stderr.write("manager: --listen wants ADDR:PORT\n")
        return 2
    if args.daemon and running_pid(args.pidfile) is not None:
        return 0
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    if args.daemon:
        log = args.log or args.pidfile + ".log"
        rfd, wfd = os.pipe()
        if os.fork() > 0:
            # the caller: wait for "ready" from the daemon
            os.close(wfd)
            ok = os.read(rfd, 1) == b"1"
            return 0 if ok else 1
        os.close(rfd)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
    mypid = os.getpid()

    def on_term(signum, frame):
        if running_pid(args.pidfile) == mypid:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_pidfile(args.pidfile)
    sys.stderr.write("%s manager: pid %d listening on %s\n"
                     % (time.strftime("%H:%M:%S"), mypid, args.listen))
    if args.daemon:
        os.write(wfd, b"1")
        os.close(wfd)
    server.serve_forever()
    return 0


def main():
    p = argparse.ArgumentParser(description="HTTP stand-in for the managed server")
    p.add_argument("--listen", help="ADDR:PORT to serve on")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--daemon", action="store_true", help="detach once listening")
    p.add_argument("--log", help="daemon output (default PIDFILE.log)")
    p.add_argument("--stop", action="store_true", help="stop the manager of PIDFILE")
    p.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args()
    if args.stop:
        return stop(args)
    if not args.listen:
        p.error("--listen is required unless --stop")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
