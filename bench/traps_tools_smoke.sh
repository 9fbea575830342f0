#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke tests of the trap tools (traps_tools_smoke.cmake); one tool a run:
#   traps_tools_smoke.sh trapsink    path/to/duet-trapsink
#   traps_tools_smoke.sh trapgen     path/to/duet-trapgen
#   traps_tools_smoke.sh snmp-decode path/to/bench-snmp-decode
# The driver is the Python below (sockets and JSON are simpler there).
# Loopback only, ports from the kernel, so runs may overlap. Nothing waits
# on a clock: a test waits for a port file, a closed connection or a process
# exit, each with a deadline that only turns a hang into a failure.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 trapsink|trapgen|snmp-decode BINARY" >&2; exit 2; }
exec python3 - "$@" <<'PY'
import json, os, re, select, shutil, signal, socket, subprocess, sys, tempfile, time

MODE, BIN = sys.argv[1], sys.argv[2]
DEADLINE_S = 30 * int(os.environ.get("DUET_SLOW", "1"))
started = []  # processes this script started: only these are ever killed


def fail(msg):
    print(f"FAIL ({MODE}): {msg}", file=sys.stderr)
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def start(args, **kw):
    print("+ " + " ".join(args), file=sys.stderr)
    p = subprocess.Popen(args, **kw)
    started.append(p)
    return p


def wait_exit(p, what):
    try:
        return p.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        fail(f"{what} (pid {p.pid}) still running after {DEADLINE_S} s")


def wait_port_file(p, path):
    """The sink writes its port file (atomically) once it listens."""
    end = time.monotonic() + DEADLINE_S
    while not os.path.exists(path):
        check(p.poll() is None, f"duet-trapsink exited with {p.returncode} before listening")
        check(time.monotonic() < end, f"no port file {path} within {DEADLINE_S} s")
        time.sleep(0.01)  # polling the file, not waiting for an event to happen
    with open(path) as f:
        text = f.read()
    check(re.fullmatch(r"[1-9][0-9]*\n", text) is not None, f"port file holds {text!r}")
    return int(text)


def send_and_sync(port, data):
    """Sends data on a new connection, half-closes it and waits until the sink
    closes its side: it does so only after reading (and counting) everything.
    What the sink writes back must be acknowledgements ({"ack":"<id>"} lines,
    traps_sink.h) of ids that were sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    back = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            back += chunk
    except socket.timeout:
        fail("the sink did not close a finished connection")
    check(back == b"" or back.endswith(b"\n"), f"an unterminated ack: {back[-80:]!r}")
    for line in back.splitlines():
        ack = json.loads(line)
        check(isinstance(ack, dict) and list(ack) == ["ack"] and isinstance(ack["ack"], str),
              f"the sink wrote {line[:80]!r}, not an acknowledgement")
        check(json.dumps(ack["ack"]).encode() in data or ack["ack"].encode() in data,
              f"the sink acknowledged {ack['ack']!r}, which was never sent")
    s.close()


def report_of(path):
    with open(path) as f:
        text = f.read()
    check(text.endswith("\n") and text.count("\n") == 1, f"report is not one line: {text!r}")
    return json.loads(text)


def expect(report, want):
    for key, value in want.items():
        check(report.get(key) == value, f"report {key} = {report.get(key)!r}, want {value!r}; "
              f"report: {json.dumps(report)}")


# ---- duet-trapsink --------------------------------------------------------------

def line(ident, seq, tag, sent_ns, variant):
    """One line as the daemon's sink writes it; the variants move "id" around,
    nest decoy "id" keys inside "trap" and escape quotes, none of which may
    change what the sink counts."""
    msg = f"duetbench seq={seq} sent_ns={sent_ns} tag={tag}"
    trap = {"kind": "syslog", "facility": 16, "severity": 5, "host": "duet-trapgen",
            "app": "duetbench", "msg": msg}
    # an escaped quote before "}]": misread, it would end the object early
    head = [("kind", "syslog"), ("sender", "127.0.0.1"), ("receiver", 'node "a}]'),
            ("recv_ms", sent_ns // 1000000), ("ordinal", 1), ("identity", "ab" * 32)]
    if variant % 3 == 1:
        # one decoy id for all: taking it would merge ids (repeated_ids > 1)
        trap = {"nested": {"id": "decoy", "recv_ms": 1}, "id": "decoy", "recv_ms": 1,
                "note": 'say "id":"x" here', **trap}
    obj = dict(head[:variant % 4] + [("id", ident)] + head[variant % 4:])
    if variant % 5 == 4:  # "trap" (and its decoys) before the top-level keys
        obj = {"trap": trap, **obj}
    else:
        obj["trap"] = trap
    sep = (", ", ": ") if variant % 2 else (",", ":")
    return (json.dumps(obj, separators=sep) + "\n").encode()


def test_trapsink(tmp):
    now = time.time_ns()

    # 1000 lines: seqs 1..998 without 7 (997 lines), seq 5 again under a new
    # id (a duplicate), seq 10's line again (a repeated id: a redelivery) and
    # seq 3 under another tag (not counted as a seq), seq 998 last.
    lines = [line(f"id-{q}", q, "smoke", now - 2000000, q) for q in range(1, 998) if q != 7]
    lines.append(line("id-5-again", 5, "smoke", now - 2000000, 1))
    lines.append(line("id-10", 10, "smoke", now - 2000000, 10))
    lines.append(line("id-other", 3, "other", now - 2000000, 2))
    lines.append(line("id-998", 998, "smoke", now - 2000000, 3))
    check(len(lines) == 1000, f"{len(lines)} lines built")

    port_file, report = os.path.join(tmp, "sink.port"), os.path.join(tmp, "sink.json")
    p = start([BIN, "--listen", "127.0.0.1:0", "--port-file", port_file, "--tag", "smoke",
               "--expect-first", "1", "--expect-last", "998", "--until-count", "997",
               "--timeout-s", str(DEADLINE_S), "--report", report])
    port = wait_port_file(p, port_file)
    # two connections, the first finished before the second starts (a sink
    # that reconnects); the last line reaches --until-count
    send_and_sync(port, b"".join(lines[:600]))
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    s.sendall(b"".join(lines[600:]))
    check(wait_exit(p, "duet-trapsink") == 0, f"duet-trapsink exited with {p.returncode}")
    s.close()
    r = report_of(report)
    expect(r, {"lines": 1000, "distinct_ids": 999, "repeated_ids": 1, "seqs_expected": 998,
               "seqs_seen": 997, "lost": 1, "duplicated": 1, "first_lost": [7],
               "first_duplicated": [5], "lines_other_tag": 1, "lines_without_id": 0,
               "id_seq_conflicts": 0, "connections": 2, "stop": "count",
               "expect_from": "args", "seqs_unexpected": 0})
    for k in ("latency_p50_ms", "latency_p99_ms", "latency_max_ms"):
        # sent 2 ms before the lines were built: at least that, and sane
        check(isinstance(r[k], (int, float)) and 2 <= r[k] < 1000 * DEADLINE_S,
              f"{k} = {r[k]!r}")
    check(r["latency_p50_ms"] <= r["latency_p99_ms"] <= r["latency_max_ms"], "percentiles order")
    # recv_ms is sent_ns in whole ms: 0 exactly, unless a decoy "recv_ms" was read
    expect(r, {"recv_latency_p50_ms": 0, "recv_latency_p99_ms": 0, "recv_latency_max_ms": 0})

    # SIGTERM: the report holds what was read; no range given, so the seqs
    # seen define it; a line over 1 MiB is dropped without losing the next,
    # lines without id or seq are counted apart, the last line has no LF
    body = [line(f"t2-{q}", q, "t2", now, q) for q in range(100, 150)]
    body.insert(10, b'{"id":"' + b"x" * (1200 * 1024) + b'"}\n')
    body.insert(20, b'{"kind":"syslog","trap":{"msg":"duetbench seq=120 tag=t2"}}\n')
    body.insert(30, b'{"id":"no-seq","trap":{"msg":"hello"}}\n')
    body.insert(40, b"\n")
    data = b"".join(body).rstrip(b"\n")
    port_file, report = os.path.join(tmp, "sink2.port"), os.path.join(tmp, "sink2.json")
    p = start([BIN, "--listen", "127.0.0.1:0", "--port-file", port_file, "--report", report,
               "--stats-interval-ms", "20", "--timeout-s", str(DEADLINE_S)])
    port = wait_port_file(p, port_file)
    send_and_sync(port, data)
    p.send_signal(signal.SIGTERM)
    check(wait_exit(p, "duet-trapsink") == 0, f"duet-trapsink exited with {p.returncode}")
    r = report_of(report)
    expect(r, {"lines": 52, "distinct_ids": 51, "repeated_ids": 0, "seqs_expected": 50,
               "seqs_seen": 50, "lost": 0, "duplicated": 0, "first_lost": [],
               "first_duplicated": [], "oversized_lines": 1, "lines_without_id": 1,
               "lines_without_seq": 1, "expect_first": 100, "expect_last": 149,
               "expect_from": "seen", "stop": "signal", "connections": 1})

    # --timeout-s with nothing received: a report, exit 0, no latency
    p = start([BIN, "--listen", "127.0.0.1:0", "--timeout-s", "0.05"], stdout=subprocess.PIPE)
    out, _ = p.communicate(timeout=DEADLINE_S)
    check(p.returncode == 0, f"duet-trapsink exited with {p.returncode}")
    r = json.loads(out)
    expect(r, {"lines": 0, "seqs_expected": 0, "lost": 0, "latency_p50_ms": None,
               "stop": "timeout"})

    # usage errors are refused with status 2
    for bad in (["--listen", "nohost:1"], ["--listen", "127.0.0.1:0", "--expect-first", "1"],
                ["--listen", "127.0.0.1:0", "--tag", "a b"]):
        p = start([BIN] + bad, stderr=subprocess.DEVNULL)
        check(wait_exit(p, "duet-trapsink") == 2, f"{bad}: status {p.returncode}, want 2")


# ---- duet-trapgen ---------------------------------------------------------------

SYSLOG_RE = re.compile(rb"<133>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z duet-trapgen duetbench "
                       rb"\d+ - - duetbench seq=(\d+) sent_ns=(\d+) tag=([A-Za-z0-9._:-]+)")


def udp_listener(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # as root: past rmem_max, so no datagram is dropped while we are slow
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, 0))
    s.setblocking(False)
    return s


def judge(copies, first, count, tag, t0, t1, what):
    """copies: message bytes one destination received. Each seq once, each a
    well-formed RFC 5424 message with a plausible sent_ns."""
    seqs = {}
    for m in copies:
        g = SYSLOG_RE.fullmatch(m)
        check(g is not None, f"{what}: malformed message {m[:200]!r}")
        seq, sent, t = int(g[1]), int(g[2]), g[3].decode()
        check(t == tag, f"{what}: tag {t!r}, want {tag!r}")
        check(t0 <= sent <= t1, f"{what}: sent_ns {sent} outside the run [{t0}, {t1}]")
        check(seq not in seqs, f"{what}: seq {seq} twice")
        seqs[seq] = m
    check(sorted(seqs) == list(range(first, first + count)),
          f"{what}: {len(seqs)} seqs, want {first}..{first + count - 1}; missing "
          f"{sorted(set(range(first, first + count)) - set(seqs))[:10]}")
    return seqs


def summary_of(out, what):
    lines = out.decode().splitlines()
    check(len(lines) == 1, f"{what}: stdout is not one line: {out!r}")
    return json.loads(lines[0])


def test_trapgen_udp(tmp):
    socks = [udp_listener("127.0.0.1"), udp_listener("127.0.0.2")]
    to = []
    for s in socks:
        host, port = s.getsockname()
        to += ["--to", f"{host}:{port}"]
    burst = os.path.join(tmp, "burst.jsonl")
    t0 = time.time_ns()
    p = start([BIN] + to + ["--rate", "20000", "--count", "500", "--start-seq", "1000",
                            "--tag", "smoke-gen", "--burst-report", burst],
              stdout=subprocess.PIPE)
    got = [[], []]

    def drain_once(timeout):
        ready, _, _ = select.select(socks, [], [], timeout)
        for s in ready:
            while True:
                try:
                    got[socks.index(s)].append(s.recv(65536))
                except BlockingIOError:
                    break

    end = time.monotonic() + DEADLINE_S
    while p.poll() is None:
        check(time.monotonic() < end, f"duet-trapgen still running after {DEADLINE_S} s")
        drain_once(0.05)
    out = p.stdout.read()
    t1 = time.time_ns()
    check(p.returncode == 0, f"duet-trapgen exited with {p.returncode}")
    # loopback queues a datagram before sendmmsg() returns: all are here now
    drain_once(0)
    a = judge(got[0], 1000, 500, "smoke-gen", t0, t1, "127.0.0.1")
    b = judge(got[1], 1000, 500, "smoke-gen", t0, t1, "127.0.0.2")
    check(a == b, "the two destinations did not get the same message text per seq")
    r = summary_of(out, "duet-trapgen")
    expect(r, {"sent": 500, "first_seq": 1000, "last_seq": 1499, "send_errors": 0,
               "destinations": 2, "copies_sent": 1000, "kind": "syslog-udp"})
    # pacing: 500 messages at 20000/s cannot take less than 499/20000 s (a
    # lower bound only: tests never judge speed)
    check(r["seconds"] >= 0.0249, f"500 messages at 20000/s took only {r['seconds']} s")
    check(r["rate_achieved"] > 0, "rate_achieved")
    with open(burst) as f:
        per_second = [json.loads(x) for x in f]
    check(sum(x["sent"] for x in per_second) == 500, f"burst report: {per_second}")
    for s in socks:
        s.close()


def test_trapgen_tcp():
    listeners = []
    for host in ("127.0.0.1", "127.0.0.2"):
        l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        l.bind((host, 0))
        l.listen(4)
        listeners.append(l)
    to = []
    for l in listeners:
        host, port = l.getsockname()
        to += ["--to", f"{host}:{port}"]
    t0 = time.time_ns()
    p = start([BIN] + to + ["--kind", "syslog-tcp", "--rate", "50000", "--seconds", "0.006",
                            "--start-seq", "7", "--tag", "tcp"], stdout=subprocess.PIPE)
    conns = []
    for l in listeners:
        l.settimeout(DEADLINE_S)
        c, _ = l.accept()
        c.settimeout(DEADLINE_S)
        conns.append(c)
    streams = []
    for c in conns:  # the generator closes each connection at exit: read to EOF
        chunks = []
        while True:
            d = c.recv(65536)
            if not d:
                break
            chunks.append(d)
        streams.append(b"".join(chunks))
    check(wait_exit(p, "duet-trapgen") == 0, f"duet-trapgen exited with {p.returncode}")
    t1 = time.time_ns()
    seqs = []
    for k, data in enumerate(streams):
        msgs, i = [], 0
        while i < len(data):  # octet counting: "LEN SP MSG", nothing between frames
            sp = data.index(b" ", i)
            n = int(data[i:sp])
            check(data[i:sp] == str(n).encode() and n > 0, f"bad frame length {data[i:sp]!r}")
            msgs.append(data[sp + 1:sp + 1 + n])
            i = sp + 1 + n
        check(i == len(data), "a frame runs past the end of the stream")
        seqs.append(judge(msgs, 7, 300, "tcp", t0, t1, f"tcp destination {k}"))
    check(seqs[0] == seqs[1], "the two TCP destinations did not get the same text per seq")
    r = summary_of(p.stdout.read(), "duet-trapgen")
    expect(r, {"sent": 300, "first_seq": 7, "last_seq": 306, "send_errors": 0,
               "copies_sent": 600, "kind": "syslog-tcp"})
    for c in conns + listeners:
        c.close()


def test_trapgen(tmp):
    test_trapgen_udp(tmp)
    test_trapgen_tcp()
    for bad in (["--rate", "10", "--count", "1"], ["--to", "127.0.0.1:1", "--count", "1"],
                ["--to", "127.0.0.1:0", "--rate", "1", "--count", "1"],
                ["--to", "127.0.0.1:1", "--rate", "1", "--count", "1", "--seconds", "1"],
                ["--to", "127.0.0.1:1", "--rate", "1", "--count", "1", "--tag", 'a"b']):
        p = start([BIN] + bad, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        check(wait_exit(p, "duet-trapgen") == 2, f"{bad}: status {p.returncode}, want 2")


# ---- bench-snmp-decode ------------------------------------------------------------

def test_snmp_decode(tmp):
    p = start([BIN, "--seconds", "0.2"], stdout=subprocess.PIPE)
    out, _ = p.communicate(timeout=DEADLINE_S)
    check(p.returncode == 0, f"bench-snmp-decode exited with {p.returncode}")
    text = out.decode()
    print(text, end="")
    for name in ("snmp_v2c_decode_per_s", "snmp_v2c_decode_only_per_s",
                 "snmp_v3_authpriv_decode_per_s", "snmp_v3_authpriv_decode_only_per_s",
                 "snmp_v2c_datagram_bytes", "snmp_json_bytes"):
        m = re.search(rf"^{name}: ([0-9]+)$", text, re.M)
        check(m is not None, f"no '{name}: N' line")
        check(int(m[1]) > 0, f"{name} is {m[1]}")


tmp = tempfile.mkdtemp(prefix="duet-traps-tools-")
try:
    {"trapsink": test_trapsink, "trapgen": test_trapgen, "snmp-decode": test_snmp_decode}[MODE](tmp)
finally:
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
print(f"traps_tools {MODE}: ok")
PY
