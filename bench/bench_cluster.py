#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_cluster.py - the figures of bench-cluster (run through the
build/bin/bench-cluster driver, launcher.c).

Three real processes on 127.0.0.1 with mutual TLS, set up exactly like
tests/integration/cluster_test.sh: `duetctl gencerts`, three configs on free
ports with default timeouts, two duetd and one duet-witness, a data-node
leader with the lease. Then, through the admin sockets:
  commit_latency_p50_us / _p99_us   --latency-n probes of n=1, 256 bytes, one
                                    at a time on the leader; the latency is
                                    the daemon's elapsed_us (propose ->
                                    applied on the leader)
  throughput_entries_per_s          one probe of --entries entries, 256 bytes
  election_after_kill_ms_p50 / _p99 --runs times: kill -9 of the leader, time
                                    until the other data node leads with a
                                    valid lease (polled every 10 ms); the
                                    killed node is restarted and caught up
                                    before the next run
  witness_rss_kib                   VmRSS of duet-witness after the runs
                                    (and its RssAnon / RssFile split)
  elections_under_stress, leader_changes_under_stress
                                    with --stress-minutes M > 0: a fresh idle
                                    cluster next to `stress-ng --cpu 2` for M
                                    minutes
One "name: value" a line on stdout; progress on stderr. Processes are
killed by PID and the temp dir removed on exit, error and SIGINT (--keep
keeps the dir).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

NAMES = ["node-a", "node-b", "witness"]
IDS = {"node-a": 1, "node-b": 2, "witness": 3}
DATA = ["node-a", "node-b"]
STARTED = []  # every Popen this program started (killed by PID at exit)


def log(msg):
    print("bench-cluster: " + msg, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


def free_ports(n):
    ss = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ss.append(s)
    ports = [s.getsockname()[1] for s in ss]
    for s in ss:
        s.close()
    return ports


def percentile(values, p):
    v = sorted(values)
    if not v:
        return 0
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


class Admin:
    """One connection to a member's admin socket: one JSON line each way."""

    def __init__(self, path, timeout):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def ask(self, req):
        self.s.sendall((json.dumps(req) + "\n").encode())
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("admin socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.s.close()


class Cluster:
    def __init__(self, bindir, tmp):
        self.bin = bindir
        self.tmp = tmp
        self.proc = {}
        os.makedirs(tmp, exist_ok=True)
        ports = free_ports(3)
        self.port = dict(zip(NAMES, ports))
        certs = os.path.join(tmp, "certs")
        subprocess.run([os.path.join(bindir, "duetctl"), "gencerts", "--dir", certs,
                        "--names", ",".join(NAMES)], check=True,
                       stdout=subprocess.DEVNULL)
        for n in NAMES:
            with open(self.ini(n), "w") as f:
                f.write(self.config(n, certs))
        # a new cluster's stores are made on purpose: a daemon without one
        # rejoins instead of creating one (duetctl init)
        for n in NAMES:
            subprocess.run([os.path.join(bindir, "duetctl"), "init", "--config", self.ini(n)],
                           check=True, stdout=subprocess.DEVNULL)

    def ini(self, n):
        return os.path.join(self.tmp, n + ".ini")

    def sock(self, n):
        return os.path.join(self.tmp, n, "admin.sock")

    def config(self, name, certs):
        out = ["[cluster]", "name = bench", "id = 00000000cafe0002", "",
               "[node]", "name = " + name, "data_dir = " + os.path.join(self.tmp, name),
               "log_level = info", ""]
        for n in NAMES:
            out += ["[member %s]" % n, "id = %d" % IDS[n],
                    "kind = " + ("witness" if n == "witness" else "data"),
                    "address = 127.0.0.1:%d" % self.port[n], ""]
        out += ["[tls]", "ca = %s/ca.pem" % certs, "cert = %s/%s.pem" % (certs, name),
                "key = %s/%s.key" % (certs, name), "",
                "[pg]", "conninfo ="]  # the consensus layer alone: no PostgreSQL
        return "\n".join(out) + "\n"

    def start(self, n):
        exe = "duet-witness" if n == "witness" else "duetd"
        logf = open(os.path.join(self.tmp, n + ".log"), "ab")
        p = subprocess.Popen([os.path.join(self.bin, exe), "--config", self.ini(n)],
                             stdout=subprocess.DEVNULL, stderr=logf)
        logf.close()
        self.proc[n] = p
        STARTED.append(p)

    def start_all(self):
        for n in NAMES:
            self.start(n)

    def kill9(self, n):
        p = self.proc.pop(n)
        os.kill(p.pid, signal.SIGKILL)
        return p

    def status(self, n):
        try:
            a = Admin(self.sock(n), 2)
            try:
                return a.ask({"cmd": "status"})
            finally:
                a.close()
        except (OSError, ValueError):
            return None

    def leader_with_lease(self, among=DATA):
        for n in among:
            st = self.status(n)
            if st and st.get("role") == "leader" and st["lease"]["valid"]:
                return n
        return None

    def wait(self, secs, what, fn, step=0.05):
        deadline = now() + secs
        while now() < deadline:
            r = fn()
            if r:
                return r
            time.sleep(step)
        raise RuntimeError("not within %ds: %s" % (secs, what))


def caught_up(c, n, leader):
    st, lt = c.status(n), c.status(leader)
    return bool(st and lt and st["role"] == "follower" and st["leader_id"] == IDS[leader]
                and st["fsm_applied_index"] >= lt["commit_index"])


def bench_latency(c, leader, count):
    a = Admin(c.sock(leader), 30)
    lat = []
    try:
        for _ in range(count):
            r = a.ask({"cmd": "probe", "n": 1, "bytes": 256})
            if not r.get("ok"):
                raise RuntimeError("probe: %s" % r.get("error"))
            lat.append(r["elapsed_us"])
    finally:
        a.close()
    return lat


def bench_throughput(c, leader, entries):
    a = Admin(c.sock(leader), 600)
    try:
        r = a.ask({"cmd": "probe", "n": entries, "bytes": 256})
    finally:
        a.close()
    if not r.get("ok"):
        raise RuntimeError("probe: %s" % r.get("error"))
    return entries / (r["elapsed_us"] / 1e6), r


def bench_elections(c, leader, runs):
    times = []
    for i in range(runs):
        other = "node-b" if leader == "node-a" else "node-a"
        p = c.kill9(leader)
        t0 = now()
        p.wait()

        def new_leader():
            st = c.status(other)
            return bool(st and st["role"] == "leader" and st["lease"]["valid"])

        c.wait(30, "%s leads after kill -9 of %s" % (other, leader), new_leader, step=0.01)
        dt = (now() - t0) * 1000.0
        times.append(dt)
        log("run %d: kill -9 %s -> %s leads with the lease in %.0f ms" % (i + 1, leader, other, dt))
        c.start(leader)

        def settled():
            # the restarted node may get leadership back: without
            # PostgreSQL the log still names it master (daemon/ctl.c)
            for a, b in (("node-a", "node-b"), ("node-b", "node-a")):
                st = c.status(a)
                if st and st["role"] == "leader" and st["lease"]["valid"] and \
                        caught_up(c, b, a):
                    return a
            return None

        c.wait(60, "the cluster settles after %s restarts" % leader, settled)
        leader = settled() or other
    return times, leader


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def stress(bindir, tmp, minutes):
    c = Cluster(bindir, tmp)
    c.start_all()
    c.wait(10, "a data node leads with the lease", c.leader_with_lease)

    def elections():
        total = 0
        for n in NAMES:
            st = c.status(n)
            if not st:
                raise RuntimeError("%s does not answer its status" % n)
            total += st["raft"]["elections"]
        return total

    e0 = elections()
    seen = c.leader_with_lease()
    changes = 0
    sp = subprocess.Popen(["stress-ng", "--cpu", "2", "--timeout", "%dm" % minutes],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    STARTED.append(sp)
    log("stress-ng --cpu 2 for %d min (pid %d), polling the cluster every 0.5 s" %
        (minutes, sp.pid))
    end = now() + minutes * 60
    while now() < end:
        cur = c.leader_with_lease()
        if cur and cur != seen:
            changes += 1
            log("leader changed: %s -> %s" % (seen, cur))
            seen = cur
        time.sleep(0.5)
    e1 = elections()
    os.kill(sp.pid, signal.SIGKILL)
    sp.wait()
    return e1 - e0, changes


def cleanup(keep, tmp):
    for p in STARTED:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in STARTED:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    if tmp and os.path.isdir(tmp):
        if keep:
            log("kept " + tmp)
        else:
            subprocess.run(["rm", "-rf", tmp])


def main():
    ap = argparse.ArgumentParser(prog="bench-cluster",
                                 description="Figures of three real duet processes on "
                                 "127.0.0.1 with TLS, one 'name: value' a line.")
    ap.add_argument("--bin", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=10, help="kill -9 runs (default 10)")
    ap.add_argument("--latency-n", type=int, default=2000,
                    help="n=1 probes for the latency (default 2000)")
    ap.add_argument("--entries", type=int, default=200000,
                    help="entries of the throughput probe (default 200000)")
    ap.add_argument("--stress-minutes", type=int, default=0,
                    help="minutes next to stress-ng --cpu 2 (default 0: skip)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    if a.runs < 1 or a.latency_n < 1 or a.entries < 1 or a.stress_minutes < 0:
        ap.error("sizes must be positive")

    tmp = tempfile.mkdtemp(prefix="duet-bench.")

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        c = Cluster(a.bin, os.path.join(tmp, "main"))
        c.start_all()
        leader = c.wait(10, "a data node leads with the lease", c.leader_with_lease)
        # the first leader commits MASTER(self) before the figures
        c.wait(10, "MASTER committed", lambda: (c.status(leader) or {}).get(
            "master", {}).get("node") == leader)
        log("%s leads; %d latency probes" % (leader, a.latency_n))
        lat = bench_latency(c, leader, a.latency_n)
        print("commit_latency_p50_us: %d" % percentile(lat, 50), flush=True)
        print("commit_latency_p99_us: %d" % percentile(lat, 99), flush=True)
        log("throughput probe of %d entries" % a.entries)
        tput, _ = bench_throughput(c, leader, a.entries)
        print("throughput_entries_per_s: %d" % tput, flush=True)
        other = "node-b" if leader == "node-a" else "node-a"
        c.wait(120, "%s caught up" % other, lambda: caught_up(c, other, leader))
        times, leader = bench_elections(c, leader, a.runs)
        print("election_after_kill_ms_p50: %d" % round(percentile(times, 50)), flush=True)
        print("election_after_kill_ms_p99: %d" % round(percentile(times, 99)), flush=True)
        wpid = c.proc["witness"].pid
        print("witness_rss_kib: %d" % rss_kib(wpid), flush=True)
        # the split: anonymous memory vs pages of the LMDB map (file-backed)
        print("witness_rss_anon_kib: %d" % rss_kib(wpid, "RssAnon"), flush=True)
        print("witness_rss_file_kib: %d" % rss_kib(wpid, "RssFile"), flush=True)
        if a.stress_minutes > 0:
            for p in list(c.proc.values()):
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
            c.proc.clear()
            elections, changes = stress(a.bin, os.path.join(tmp, "stress"),
                                               a.stress_minutes)
            print("elections_under_stress: %d" % elections, flush=True)
            print("leader_changes_under_stress: %d" % changes, flush=True)
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        log("error: %s (logs under %s with --keep)" % (e, tmp))
        return 1
    finally:
        cleanup(a.keep, tmp)


if __name__ == "__main__":
    sys.exit(main())
