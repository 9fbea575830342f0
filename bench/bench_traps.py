#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_traps.py - the figures of bench-traps (run through the
build/bin/bench-traps driver, launcher.c).

The trap pipeline of DESIGN.md 5 with real processes on loopback: for each
step a fresh world of two duetd and one duet-witness (bench_cluster.Cluster:
mutual TLS, free ports, default timeouts, no PostgreSQL) whose data nodes
listen for syslog over UDP on the same port, node-a on 127.0.0.1 and node-b
on 127.0.0.2 (as tests/integration/traps_test.sh), every other [traps] key at
its default (16 MiB receive buffers, batch_max 1000, ...), and deliver to one
duet-trapsink over TCP ([sink] type = tcp). duet-trapgen sends each message
to both nodes (--to 127.0.0.1:P --to 127.0.0.2:P), like a device with two
trap destinations. Each step has its own cluster, sink, --tag and --start-seq
range, so its numbers are its own.

  max_lossless_traps_per_s     the highest rate of --steps (messages/s, each
                               sent to both nodes) that passed, climbing
                               until the first step that did not. A step
                               passes when, --step-seconds at that rate
                               sent: the sink saw every seq exactly once
                               under one record id (lost 0, duplicated 0),
                               neither node's UDP socket had a kernel drop
                               (the daemon's SO_RXQ_OVFL count and the drops
                               column of /proc/net/udp), the pipeline
                               refused nothing (every .traps.drops but
                               duplicate 0, and no syslog copy refused as
                               too large, empty or truncated), the generator
                               had no send error, and it reached at least 90%
                               of the rate (otherwise the step did not test
                               that rate). The sink gets until every seq has
                               arrived or --drain-seconds after the
                               generator ends. 0 if the first step failed.
  traps_per_s_achieved_at_max  the rate the generator achieved at that step
  first_lossy_traps_per_s      the step that did not pass, and why ("none"
  first_lossy_reason           for both when every step passed)
  steps_run, latency_p99_ms_at_max, cpu_ms_per_10k_at_max
                               steps climbed; the passing top step's p99
                               and daemons' CPU per 10k messages
  steps_disturbed              rates of the steps during which more than
                               0.5 cores were busy outside this bench's
                               processes and the kernel's usual share
                               (someone else's load: rerun), or "none"
  latency_p50_ms / _p99_ms     at --latency-rate (the ladder's step at that
  latency_max_ms               rate, or a step of its own; its rate, achieved
                               rate and verdict are latency_rate_traps_per_s,
                               latency_achieved_traps_per_s and
                               latency_step_lossless): per seq, from
                               sent_ns (CLOCK_REALTIME when duet-trapgen
                               built the message) to its first receipt by
                               duet-trapsink (its p50/p99/max). That is
                               generator -> kernel -> receive -> decode ->
                               identity -> TRAPS entry -> commit (persist
                               and a majority's ack) -> sink write -> sink
                               read: on loopback it bounds the daemon's
                               receive -> sink time from above.
  recv_latency_p50_ms / _p99_ms  same step: sent_ns to the record's recv_ms
                               (the daemon's receive stamp, ms resolution)
  cpu_ms_per_10k               same step: CPU time (utime + stime of
                               /proc/PID/stat, every thread) of the three
                               daemons together from the generator's start
                               to the moment the sink saw the last new seq,
                               per 10000 messages sent (each message is two
                               copies, one per node)
  cpu_ms_per_10k_node_a, _node_b, _witness   the split by process
  cpu_ms_per_10k_trapgen, _trapsink          the load tools, for scale
  snmp_v2c_decode_per_s        bench-snmp-decode's figure, passed through
                               (and snmp_v3_authpriv_decode_per_s)

Steps last 35 s by default, longer than the 30 s ordinal window of
DESIGN.md 5, so that a passing rate is one the pipeline sustains with its
window, committed keys and log full (a 5 s step passes rates it cannot
hold); the whole ladder takes about ten minutes.

The per-step table (stderr) has, per step: rate asked and achieved, lost
and duplicated seqs at the sink, kernel drops on node-a/node-b, pipeline
refusals, latency p50/p99, CPU of each process as % of one core over the
step, the machine's busy cores and the part not ours, daemons' CPU ms per
10k, traps per TRAPS entry, traps the standby forwarded, and the peak of
committed-but-undelivered traps.

One "name: value" a line on stdout; progress and the per-step table on
stderr. Only the PIDs this program started are killed, and the temp dir is
removed on exit, error and SIGINT (--keep keeps it, with every log).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import bench_cluster as bc

RXIP = {"node-a": "127.0.0.1", "node-b": "127.0.0.2"}
PROCS = ["node-a", "node-b", "witness"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_STEPS = [5000, 10000, 20000, 30000, 40000, 50000, 60000, 80000, 100000]
RATE_REACHED = 0.90  # a step below this share of its rate did not test it
OTHERS_WARN = 0.5  # cores busy outside our processes: the step was disturbed


def log(msg):
    print("bench-traps: " + msg, file=sys.stderr, flush=True)


def figure(name, value):
    print("%s: %s" % (name, value), flush=True)


def udp_port_both():
    """A UDP port free on both 127.0.0.1 and 127.0.0.2 (released at once)."""
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            b.bind(("127.0.0.2", port))
            return port
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise RuntimeError("no UDP port free on both 127.0.0.1 and 127.0.0.2")


def cpu_ticks(pid):
    """utime + stime of every thread of pid, in clock ticks (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def thread_ticks(pid):
    """{'main' or 'thread-TID': ticks} of each thread of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        fields = s.rsplit(")", 1)[1].split()
        name = "main" if int(tid) == pid else "thread-" + tid
        out[name] = int(fields[11]) + int(fields[12])
    return out


def host_idle_ticks():
    """Idle + iowait clock ticks of the whole machine (every CPU), /proc/stat.
    Idle time is kept precisely by the kernel (nohz), busy time only
    sampled at the tick: busy = CPUs x elapsed - idle is the better sum."""
    with open("/proc/stat") as f:
        cols = [int(x) for x in f.readline().split()[1:]]
    return cols[3] + cols[4]


def proc_udp_drops(ports):
    """Sum of the drops column of /proc/net/udp for sockets on these ports."""
    total = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                cols = line.split()
                if int(cols[1].split(":")[1], 16) in ports:
                    total += int(cols[-1])
    except (OSError, ValueError, IndexError):
        return -1
    return total


def ms(ticks):
    return ticks * 1000.0 / CLK_TCK


class TrapCluster(bc.Cluster):
    """bench_cluster's world, plus [traps] syslog_udp and [sink] on the data
    nodes."""

    def __init__(self, bindir, tmp, udp_port, sink_port):
        self.udp_port = udp_port
        self.sink_port = sink_port
        super().__init__(bindir, tmp)

    def config(self, name, certs):
        text = super().config(name, certs)
        if name == "witness":
            return text
        return text + "\n".join([
            "", "[traps]", "syslog_udp = %s:%d" % (RXIP[name], self.udp_port), "",
            "[sink]", "type = tcp", "address = 127.0.0.1:%d" % self.sink_port, ""])

    def stop(self):
        """kill -9 of this world's processes (by PID)."""
        for n in list(self.proc):
            p = self.proc.pop(n)
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()


class Sink:
    """duet-trapsink for one step; a thread reads its progress lines (one
    every 50 ms) and keeps when seqs_seen last grew."""

    def __init__(self, bindir, d, tag, first, count, deadline_s):
        self.report_path = os.path.join(d, "sink-report.json")
        port_file = os.path.join(d, "sink.port")
        self.logf = open(os.path.join(d, "sink.log"), "w")
        self.p = subprocess.Popen(
            [os.path.join(bindir, "duet-trapsink"), "--listen", "127.0.0.1:0",
             "--port-file", port_file, "--report", self.report_path, "--tag", tag,
             "--expect-first", str(first), "--expect-last", str(first + count - 1),
             "--until-count", str(count), "--linger-ms", "1000",
             "--timeout-s", str(deadline_s), "--stats-interval-ms", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        bc.STARTED.append(self.p)
        self.seen = 0
        self.last_growth = None  # monotonic time seqs_seen last grew
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        deadline = bc.now() + 5
        while not os.path.exists(port_file):
            if self.p.poll() is not None or bc.now() > deadline:
                raise RuntimeError("duet-trapsink does not listen (see %s)" % self.logf.name)
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read().strip())

    def read(self):
        for raw in self.p.stderr:
            line = raw.decode(errors="replace")
            self.logf.write(line)
            k = line.find("seqs_seen=")
            if k >= 0:
                try:
                    seen = int(line[k + 10:].split()[0])
                except ValueError:
                    continue
                if seen > self.seen:
                    self.seen = seen
                    self.last_growth = bc.now()

    def finish(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
        self.p.wait(30)
        self.reader.join(5)
        with open(self.report_path) as f:
            return json.loads(f.read())


def node_figures(st):
    """What a step keeps of one data node's status."""
    t = st.get("traps") or {}
    rx = t.get("receivers") or {}
    udp = rx.get("syslog_udp") or {}
    drops = {k: v for k, v in (t.get("drops") or {}).items() if k != "duplicate" and v}
    for k in ("oversized", "empty", "truncated"):
        if udp.get(k):
            drops["syslog_" + k] = udp[k]
    listeners = rx.get("syslog_udp_listeners") or []
    sink = t.get("sink") or {}
    return {
        "copies": udp.get("copies", 0),
        "datagrams": sum(x.get("datagrams", 0) for x in listeners),
        "kernel_drops": sum(x.get("kernel_drops", 0) for x in listeners),
        "rcvbuf": listeners[0].get("rcvbuf", 0) if listeners else 0,
        "drops": drops,
        "duplicate": (t.get("drops") or {}).get("duplicate", 0),
        "committed": t.get("committed", 0),
        "committed_repeats": t.get("committed_repeats", 0),
        "batches": t.get("batches", 0),
        "forwarded_sent": t.get("forwarded_sent", 0),
        "forwarded_duplicate": t.get("forwarded_duplicate", 0),
        "matched_by_commit": t.get("matched_by_commit", 0),
        "records_sent": sink.get("records_sent", 0),
        "sink_reconnects": sink.get("reconnects", 0),
        "proposing": t.get("proposing", False),
    }


def run_step(a, tmp, i, rate, start_seq):
    """One step on a fresh cluster; returns its record (see the table)."""
    d = os.path.join(tmp, "step-%d-%d" % (i, rate))
    os.makedirs(d)
    count = max(1, int(round(rate * a.step_seconds)))
    tag = "bt%d-%d" % (i, rate)
    expected_s = count / float(rate)
    # the sink's own deadline, a backstop: this program stops it before
    sink = Sink(a.bin, d, tag, start_seq, count, 120 + 3 * expected_s + a.drain_seconds)
    c = TrapCluster(a.bin, os.path.join(d, "cluster"), udp_port_both(), sink.port)
    c.start_all()
    try:
        return drive_step(a, d, c, sink, rate, count, tag, start_seq)
    finally:
        c.stop()
        if sink.p.poll() is None:
            os.kill(sink.p.pid, signal.SIGKILL)
            sink.p.wait()
        sink.logf.close()


def drive_step(a, d, c, sink, rate, count, tag, start_seq):
    leader = c.wait(20, "a data node leads with the lease", c.leader_with_lease)

    def ready():
        st = c.status(leader) or {}
        t = st.get("traps") or {}
        other = c.status("node-b" if leader == "node-a" else "node-a") or {}
        return bool(t.get("proposing") and t.get("delivering") and
                    (t.get("sink") or {}).get("connected") and other.get("traps"))

    c.wait(20, "%s proposes traps and its sink is connected" % leader, ready)
    pids = {n: c.proc[n].pid for n in PROCS}
    pids["trapsink"] = sink.p.pid
    genlog = open(os.path.join(d, "trapgen.log"), "w")
    burst = os.path.join(d, "trapgen-burst.json")
    t_start = bc.now()
    cpu0 = {n: cpu_ticks(p) for n, p in pids.items()}
    cpu0["host"] = host_idle_ticks()
    thr0 = {n: thread_ticks(pids[n]) for n in PROCS}
    gen = subprocess.Popen(
        [os.path.join(a.bin, "duet-trapgen"),
         "--to", "127.0.0.1:%d" % c.udp_port, "--to", "127.0.0.2:%d" % c.udp_port,
         "--rate", str(rate), "--count", str(count), "--start-seq", str(start_seq),
         "--tag", tag, "--burst-report", burst],
        stdout=subprocess.PIPE, stderr=genlog)
    bc.STARTED.append(gen)
    genlog.close()
    samples = []  # (time, {name: ticks})
    gen_end = None
    gen_ticks = 0
    gen_out = b""
    peak = {"outbox": 0, "pending": 0, "undelivered": 0}
    next_status = bc.now() + 0.5
    hard = bc.now() + 3 * count / float(rate) + 120
    while True:
        t = bc.now()
        cur = {n: cpu_ticks(pids[n]) for n in PROCS + ["trapsink"]}
        cur["host"] = host_idle_ticks()
        samples.append((t, cur))
        if gen_end is None:
            pid, status, ru = os.wait4(gen.pid, os.WNOHANG)
            if pid == gen.pid:
                gen_end = bc.now()
                gen.returncode = os.waitstatus_to_exitcode(status)
                gen_ticks = (ru.ru_utime + ru.ru_stime) * CLK_TCK
                gen_out = gen.stdout.read()
                log("  generator done in %.2f s; waiting for the sink (at most %d s)" %
                    (gen_end - t_start, a.drain_seconds))
        if gen_end is not None and (sink.p.poll() is not None or
                                    t > gen_end + a.drain_seconds):
            break
        if t > hard:
            log("  the generator did not finish in time; stopping it")
            os.kill(gen.pid, signal.SIGTERM)
            hard = t + 10
        if t >= next_status:
            # cheap: two status calls every 0.5 s, for the peaks of the table
            for n in ("node-a", "node-b"):
                tr = (c.status(n) or {}).get("traps") or {}
                peak["outbox"] = max(peak["outbox"], tr.get("outbox", 0) + tr.get("inflight", 0))
                peak["pending"] = max(peak["pending"], tr.get("pending", 0))
                peak["undelivered"] = max(peak["undelivered"], tr.get("undelivered", 0))
            next_status = t + 0.5
        time.sleep(0.05)
    thr1 = {n: thread_ticks(pids[n]) for n in PROCS}
    status = {n: c.status(n) or {} for n in ("node-a", "node-b")}
    kdrops_proc = proc_udp_drops({c.udp_port})
    report = sink.finish()
    if gen.returncode != 0:
        raise RuntimeError("duet-trapgen exited %s (see %s)" % (gen.returncode, d))
    g = json.loads(gen_out.decode().strip().splitlines()[-1])
    # the CPU up to the last new seq at the sink (the end of the work)
    t_end = sink.last_growth or gen_end
    t_sample, end = samples[-1]
    for ts, ticks in samples:
        if ts >= t_end:
            t_sample, end = ts, ticks
            break
    cpu = {}
    for n in PROCS + ["trapsink"]:
        cpu[n] = ms((end[n] or 0) - (cpu0[n] or 0)) if end[n] is not None else 0.0
    cpu["trapgen"] = ms(gen_ticks)
    busy_s = max(1e-3, t_sample - t_start)
    # the whole machine over the same span, and what of it was not ours
    # (other people's builds and tests skew the figures: rerun then)
    host_ms = os.cpu_count() * (t_sample - t_start) * 1000.0 - ms(end["host"] - cpu0["host"])
    others_ms = max(0.0, host_ms - sum(cpu.values()))
    threads = {}
    for n in PROCS:
        for th, v in thr1[n].items():
            dv = v - thr0[n].get(th, 0)
            if dv > 0:
                threads["%s:%s" % (n, th)] = ms(dv)
    max_lag = 0
    try:
        with open(burst) as f:
            for line in f:
                max_lag = max(max_lag, json.loads(line).get("max_lag_us", 0))
    except (OSError, ValueError):
        pass
    nodes = {n: node_figures(status[n]) for n in status}
    rec = {
        "rate": rate, "count": count, "sent": g["sent"], "achieved": g["rate_achieved"],
        "send_errors": g["send_errors"], "gen_seconds": g["seconds"], "gen_max_lag_us": max_lag,
        "report": report, "nodes": nodes, "kernel_drops_proc": kdrops_proc,
        "cpu_ms": cpu, "busy_s": busy_s, "host_cores": host_ms / 1000.0 / busy_s,
        "others_cores": others_ms / 1000.0 / busy_s, "threads": threads, "peak": peak,
        "drain_s": max(0.0, t_end - gen_end) if gen_end else 0.0,
    }
    rec["reasons"] = judge(rec)
    return rec


def judge(r):
    """Why a step did not pass ([] when it passed)."""
    why = []
    rep = r["report"]
    if rep.get("lost", 0):
        why.append("sink: %d of %d seqs lost (first %s)" %
                   (rep["lost"], rep.get("seqs_expected", r["count"]), rep.get("first_lost")))
    if rep.get("duplicated", 0):
        why.append("sink: %d seqs under 2+ ids (first %s)" %
                   (rep["duplicated"], rep.get("first_duplicated")))
    for n, f in sorted(r["nodes"].items()):
        if f["kernel_drops"]:
            why.append("%s: %d kernel drops on its UDP socket" % (n, f["kernel_drops"]))
        if f["drops"]:
            why.append("%s: pipeline refused %s" % (n, json.dumps(f["drops"], sort_keys=True)))
    if r["kernel_drops_proc"] > 0 and not any(f["kernel_drops"] for f in r["nodes"].values()):
        why.append("/proc/net/udp: %d drops on the trap port" % r["kernel_drops_proc"])
    if r["send_errors"]:
        why.append("generator: %d copies not sent (send errors)" % r["send_errors"])
    if r["achieved"] < RATE_REACHED * r["rate"]:
        why.append("rate not reached: the generator achieved %.0f/s (< %d%% of %d/s)" %
                   (r["achieved"], RATE_REACHED * 100, r["rate"]))
    return why


def step_line(r):
    rep = r["report"]
    kd = "/".join(str(r["nodes"][n]["kernel_drops"]) for n in ("node-a", "node-b"))
    pd = sum(sum(f["drops"].values()) for f in r["nodes"].values())
    per10k = 10000.0 / max(1, r["sent"])
    return ("%7d %9.0f %6d %5d %9s %7d %8s %8s %6.0f %6.0f %6.0f %6.0f %6.0f %6.2f %6.2f"
            " %6.0f %7.1f %8d %8d  %s" % (
        r["rate"], r["achieved"], rep.get("lost", -1), rep.get("duplicated", -1), kd, pd,
        fmt_ms(rep.get("latency_p50_ms")), fmt_ms(rep.get("latency_p99_ms")),
        100.0 * r["cpu_ms"]["node-a"] / 1000.0 / r["busy_s"],
        100.0 * r["cpu_ms"]["node-b"] / 1000.0 / r["busy_s"],
        100.0 * r["cpu_ms"]["witness"] / 1000.0 / r["busy_s"],
        100.0 * r["cpu_ms"]["trapsink"] / 1000.0 / r["busy_s"],
        100.0 * r["cpu_ms"]["trapgen"] / 1000.0 / r["busy_s"],
        r["host_cores"], r["others_cores"],
        sum(r["cpu_ms"][n] for n in PROCS) * per10k, traps_per_entry(r),
        sum(f["forwarded_sent"] for f in r["nodes"].values()),
        r["peak"]["undelivered"],
        "ok" if not r["reasons"] else "FAIL"))


STEP_HEADER = ("   rate  achieved   lost   dup  kdrop a/b  pdrops  p50(ms)  p99(ms)"
               "  a%cpu  b%cpu  w%cpu  s%cpu g%cpu  host other"
               " ms/10k tr/entr  fwdsent peakundl  verdict")


def traps_per_entry(r):
    """Traps per TRAPS log entry, over the entries of whoever proposed."""
    batches = sum(f["batches"] for f in r["nodes"].values())
    return r["report"].get("seqs_seen", 0) / float(batches) if batches else 0.0


def fmt_ms(v):
    return "-" if v is None else "%.2f" % v


def describe(r):
    """Progress lines after a step."""
    rep = r["report"]
    log("  rate %d: sent %d at %.0f/s (max lag %d us), sink saw %d/%d (lost %d, dup %d, "
        "repeated ids %d), p50 %s ms p99 %s ms max %s ms, drained %.2f s after the generator" % (
            r["rate"], r["sent"], r["achieved"], r["gen_max_lag_us"], rep.get("seqs_seen", 0),
            rep.get("seqs_expected", 0), rep.get("lost", 0), rep.get("duplicated", 0),
            rep.get("repeated_ids", 0), fmt_ms(rep.get("latency_p50_ms")),
            fmt_ms(rep.get("latency_p99_ms")), fmt_ms(rep.get("latency_max_ms")),
            r["drain_s"]))
    for n, f in sorted(r["nodes"].items()):
        log("  %s: %s datagrams %d copies %d kdrops %d rcvbuf %d dup %d committed %d "
            "batches %d fwd_sent %d fwd_dup %d matched %d drops %s" % (
                n, "leader " if f["proposing"] else "standby", f["datagrams"], f["copies"],
                f["kernel_drops"], f["rcvbuf"], f["duplicate"], f["committed"], f["batches"],
                f["forwarded_sent"], f["forwarded_duplicate"], f["matched_by_commit"],
                json.dumps(f["drops"], sort_keys=True)))
    log("  /proc/net/udp: %d drops on the trap port (both sockets; the daemons' "
        "SO_RXQ_OVFL count only moves when a later datagram arrives)" % r["kernel_drops_proc"])
    log("  cpu ms over %.2f s: %s; the machine %.2f of %d cores busy, %.2f not ours "
        "(kernel softirq, other processes); peaks %s" % (
            r["busy_s"], ", ".join("%s %.0f" % (n, v) for n, v in sorted(r["cpu_ms"].items())),
            r["host_cores"], os.cpu_count(), r["others_cores"],
            json.dumps(r["peak"], sort_keys=True)))
    if r["others_cores"] > OTHERS_WARN:
        log("  warning: %.2f cores busy outside this bench's processes during the step: "
            "the machine was not quiet (rerun if it was someone else's load)" %
            r["others_cores"])
    split = []
    for n in PROCS:
        main = r["threads"].get(n + ":main", 0.0)
        rest = [v for k, v in r["threads"].items() if k.startswith(n + ":thread-")]
        split.append("%s main %.0f + %d other threads %.0f" % (n, main, len(rest), sum(rest)))
    log("  threads, cpu ms (the loop; the others are libuv's pool: storage writes): " +
        ", ".join(split))
    if r["reasons"]:
        log("  step %d/s did not pass: %s" % (r["rate"], "; ".join(r["reasons"])))


def snmp_decode(a):
    exe = os.path.join(a.bin, "bench-snmp-decode")
    out = subprocess.run([exe, "--seconds", str(a.decode_seconds)], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    figs = {}
    for line in out.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            figs[k.strip()] = v.strip()
    return figs


def cleanup(keep, tmp):
    bc.cleanup(False, None)  # kills what was started, by PID (bc.STARTED)
    if tmp and os.path.isdir(tmp):
        if keep:
            log("kept " + tmp)
        else:
            subprocess.run(["rm", "-rf", tmp])


def main():
    ap = argparse.ArgumentParser(prog="bench-traps",
                                 description="Figures of the trap pipeline: syslog over UDP "
                                 "to two duetd on loopback, delivered to duet-trapsink; one "
                                 "'name: value' a line.")
    ap.add_argument("--bin", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, nargs="+", default=DEFAULT_STEPS,
                    help="rates to climb, messages/s (default %s)" %
                    " ".join(str(s) for s in DEFAULT_STEPS))
    ap.add_argument("--step-seconds", type=float, default=35.0,
                    help="seconds of sending per step (default 35: past the window)")
    ap.add_argument("--latency-rate", type=int, default=10000,
                    help="rate of the latency and CPU figures (default 10000)")
    ap.add_argument("--drain-seconds", type=int, default=30,
                    help="most the sink waits after the generator ends (default 30)")
    ap.add_argument("--decode-seconds", type=float, default=2.0,
                    help="bench-snmp-decode --seconds (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and its logs")
    a = ap.parse_args()
    if a.step_seconds <= 0 or a.latency_rate < 1 or min(a.steps) < 1 or a.drain_seconds < 1 \
            or a.decode_seconds <= 0:
        ap.error("rates and durations must be positive")
    if a.steps != sorted(a.steps):
        ap.error("--steps must rise")

    tmp = tempfile.mkdtemp(prefix="duet-bench-traps.")

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even when started with SIGINT ignored
    try:
        done = []
        seq = 1
        best = None
        failed = None
        for i, rate in enumerate(a.steps):
            log("step %d/%d: %d traps/s for %g s, to both nodes" %
                (i + 1, len(a.steps), rate, a.step_seconds))
            r = run_step(a, tmp, i, rate, seq)
            seq += r["count"]
            done.append(r)
            describe(r)
            if r["reasons"]:
                failed = r
                break
            best = r
        lat = next((r for r in done if r["rate"] == a.latency_rate), None)
        if lat is None:
            log("latency step: %d traps/s for %g s" % (a.latency_rate, a.step_seconds))
            lat = run_step(a, tmp, len(a.steps), a.latency_rate, seq)
            describe(lat)
            if lat["reasons"]:
                log("  note: the latency step was not lossless; its figures are reported "
                    "as measured")
        log("per step:")
        log(STEP_HEADER)
        for r in done + ([lat] if lat not in done else []):
            log(step_line(r))

        figure("max_lossless_traps_per_s", best["rate"] if best else 0)
        figure("traps_per_s_achieved_at_max", "%.0f" % (best["achieved"] if best else 0))
        if failed:
            figure("first_lossy_traps_per_s", failed["rate"])
            figure("first_lossy_reason", "; ".join(failed["reasons"]))
        else:
            figure("first_lossy_traps_per_s", "none")
            figure("first_lossy_reason", "none")
        figure("steps_run", len(done))
        # steps during which something else kept the machine busy
        busy = [r for r in done + ([lat] if lat not in done else [])
                if r["others_cores"] > OTHERS_WARN]
        figure("steps_disturbed", ",".join("%d" % r["rate"] for r in busy) or "none")
        if best:
            figure("latency_p99_ms_at_max", fmt_ms(best["report"].get("latency_p99_ms")))
            per10k = 10000.0 / max(1, best["sent"])
            figure("cpu_ms_per_10k_at_max", "%.1f" % (sum(best["cpu_ms"][n] for n in PROCS)
                                                    * per10k))
        rep = lat["report"]
        figure("latency_rate_traps_per_s", a.latency_rate)
        figure("latency_achieved_traps_per_s", "%.0f" % lat["achieved"])
        figure("latency_step_lossless", "yes" if not lat["reasons"] else "no")
        figure("latency_p50_ms", fmt_ms(rep.get("latency_p50_ms")))
        figure("latency_p99_ms", fmt_ms(rep.get("latency_p99_ms")))
        figure("latency_max_ms", fmt_ms(rep.get("latency_max_ms")))
        figure("recv_latency_p50_ms", fmt_ms(rep.get("recv_latency_p50_ms")))
        figure("recv_latency_p99_ms", fmt_ms(rep.get("recv_latency_p99_ms")))
        per10k = 10000.0 / max(1, lat["sent"])
        figure("cpu_ms_per_10k", "%.1f" % (sum(lat["cpu_ms"][n] for n in PROCS) * per10k))
        figure("cpu_ms_per_10k_node_a", "%.1f" % (lat["cpu_ms"]["node-a"] * per10k))
        figure("cpu_ms_per_10k_node_b", "%.1f" % (lat["cpu_ms"]["node-b"] * per10k))
        figure("cpu_ms_per_10k_witness", "%.1f" % (lat["cpu_ms"]["witness"] * per10k))
        figure("cpu_ms_per_10k_trapgen", "%.1f" % (lat["cpu_ms"]["trapgen"] * per10k))
        figure("cpu_ms_per_10k_trapsink", "%.1f" % (lat["cpu_ms"]["trapsink"] * per10k))
        log("bench-snmp-decode --seconds %g" % a.decode_seconds)
        dec = snmp_decode(a)
        for k in ("snmp_v2c_decode_per_s", "snmp_v3_authpriv_decode_per_s"):
            if k not in dec:
                raise RuntimeError("bench-snmp-decode printed no %s" % k)
            figure(k, dec[k])
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (RuntimeError, OSError, ValueError, KeyError,
            subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        log("error: %s (logs under %s with --keep)" % (e, tmp))
        return 1
    finally:
        cleanup(a.keep, tmp)


if __name__ == "__main__":
    sys.exit(main())
