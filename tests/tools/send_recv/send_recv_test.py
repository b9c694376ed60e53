#!/usr/bin/env python3
"""dwcp-send and dwcp-recv as a user runs them, over 127.0.0.1 (docs/tools.md).

    send_recv_test.py DWCP_SEND DWCP_RECV SCENARIO

SCENARIO: cli-errors, loopback, many-clients, interrupt, files, stdin-stdout, hostile-path,
reverse, bidir, node-flags.

Every process runs under a timeout and is killed if the check fails, so nothing is left
running; exit 0 on success, 1 with the reason on stderr otherwise.
"""
import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SEND, RECV = sys.argv[1], sys.argv[2]
TIMEOUT = 20  # seconds, for every process

FIELDS = [
    "role", "id", "peer", "congestion", "streams", "seconds", "bytes", "messages",
    "bits_per_second", "verification_errors", "files", "files_written", "verified", "xxh3_128",
    "rejected_paths", "malformed_frames", "retransmitted_bytes", "packets_lost",
    "spurious_losses", "packets_sent", "packets_received", "wire_bytes_sent",
    "wire_bytes_received", "rtt_min_us", "rtt_avg_us",
    "rtt_max_us", "cwnd_bytes", "cpu_seconds", "cpu_percent", "cpu_seconds_per_gb",
    "cpu_cycles_per_byte", "complete", "close_reason", "reverse", "io",
]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(args, expect_code, expect_message=None, within=None):
    """Runs a command that must fail with one line on stderr naming the problem."""
    start = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    took = time.monotonic() - start
    lines = done.stderr.splitlines()
    if done.returncode != expect_code:
        fail(f"{args}: exit {done.returncode}, expected {expect_code}; stderr {done.stderr!r}")
    if len(lines) != 1:
        fail(f"{args}: expected one line on stderr, got {done.stderr!r}")
    if expect_message and expect_message not in lines[0]:
        fail(f"{args}: {lines[0]!r} does not say {expect_message!r}")
    if within is not None and took > within:
        fail(f"{args}: took {took:.1f} s, more than {within} s")
    print(f"ok  exit {done.returncode} in {took:.2f} s: {lines[0]}")


class Receiver:
    """dwcp-recv on a free 127.0.0.1 port (it picks one: -p 0 and says which)."""

    def __init__(self, *extra, report="--json"):
        self.proc = subprocess.Popen(
            [RECV, "-B", "127.0.0.1", "-p", "0", report, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            fail(f"dwcp-recv did not say where it listens: {line!r}")
        self.port = match.group(1)

    def finish(self):
        try:
            out, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            fail("dwcp-recv did not exit in time")
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def summaries(text, role=None):
    """Every JSON summary in `text`; each of `role` when given."""
    reports = []
    for line in text.splitlines():
        report = json.loads(line)
        missing = [f for f in FIELDS if f not in report]
        if missing:
            fail(f"{report.get('role')} JSON lacks {missing}: {line}")
        if role is not None and report["role"] != role:
            fail(f"expected role {role}: {line}")
        reports.append(report)
    return reports


def check_transfer(report, size, streams):
    if report["bytes"] != size:
        fail(f"{report['role']} {report['id']}: {report['bytes']} bytes, expected {size}")
    if report["verification_errors"] != 0 or not report["complete"]:
        fail(f"{report['role']} {report['id']} failed: {report}")
    if report["streams"] != streams:
        fail(f"{report['role']} {report['id']}: {report['streams']} streams, expected {streams}")
    if report["bits_per_second"] <= 0 or report["seconds"] <= 0:
        fail(f"{report['role']} {report['id']}: no rate: {report}")
    # The pattern: verified stream by stream (the sender by the receiver's verdicts), no files.
    if not report["verified"] or report["files"] != 0 or report["xxh3_128"] != "":
        fail(f"{report['role']} {report['id']}: pattern not verified, or files: {report}")


def cli_errors():
    run([SEND], 2, "-c: a host to send to is required")
    run([SEND, "-c", "127.0.0.1", "--bogus"], 2, "--bogus: unknown option")
    run([SEND, "-c", "127.0.0.1", "-t"], 2, "-t: needs a value")
    run([SEND, "-c", "127.0.0.1", "-p", "http"], 2, "'http' is not a port")
    run([SEND, "-c", "127.0.0.1", "-n", "12parsecs"], 2, "unknown unit")
    run([SEND, "-c", "no-such-host.invalid"], 3, "cannot resolve host 'no-such-host.invalid'")
    run([RECV, "--bogus"], 2, "--bogus: unknown option")
    run([RECV, "-B", "192.0.2.1"], 3, "cannot listen on 192.0.2.1:5301")
    # Files: the command line, then the local file system, before any traffic.
    run([SEND, "-c", "127.0.0.1", "-F", "x", "-t", "1"], 2, "-F: cannot be combined with -t")
    run([SEND, "-c", "127.0.0.1", "-F", "x", "-n", "1M"], 2, "-F: cannot be combined with -n")
    run([RECV, "--stdout", "-o", "x"], 2, "--stdout: cannot be combined with --output")
    # Direction and node flags: each bad value named, before any traffic.
    run([SEND, "-c", "127.0.0.1", "-R", "-F", "x"], 2, "-R: cannot be combined with -F")
    run([SEND, "-c", "127.0.0.1", "-R", "--bidir"], 2, "--bidir: cannot be combined with -R")
    for tool in (SEND, RECV):
        target = ["-c", "127.0.0.1"] if tool == SEND else []
        run([tool, *target, "--io", "epoll"], 2, "--io: 'epoll' is not auto")
        run([tool, *target, "--zerocopy", "yes"], 2, "--zerocopy: 'yes' is not auto, on or off")
        run([tool, *target, "--threads", "2"], 2, "--threads: '2' is not shared or dedicated")
        run([tool, *target, "--cpus", "0-"], 2, "--cpus: '0-' is not a CPU list")
        run([tool, *target, "--cpus", "4095"], 2, "--cpus: CPU 4095 is not available")
    with tempfile.TemporaryDirectory(prefix="dwcp-cli-") as scratch:
        missing = os.path.join(scratch, "no-such-file")
        run([SEND, "-c", "127.0.0.1", "-F", missing], 6, f"cannot read '{missing}'", within=2)
        run([SEND, "-c", "127.0.0.1", "-F", scratch], 6, "no regular files", within=2)
        blocker = os.path.join(scratch, "plain")
        with open(blocker, "w", encoding="ascii") as f:
            f.write("x")
        run([RECV, "-B", "127.0.0.1", "-p", "0", "-o", os.path.join(blocker, "out")], 6,
            "cannot create", within=2)
    # Nothing listening: the handshake gets no answer; bounded by --connect-timeout.
    receiver = Receiver("--one-off")
    port = receiver.port
    receiver.kill()
    run([SEND, "-c", "127.0.0.1", "-p", port, "--connect-timeout", "1"], 4,
        "cannot connect to 127.0.0.1:" + port, within=5)
    # A port already taken.
    receiver = Receiver()
    try:
        run([RECV, "-B", "127.0.0.1", "-p", receiver.port], 3, "cannot listen")
    finally:
        receiver.kill()


def loopback():
    size = 64 << 20
    receiver = Receiver("--one-off")
    try:
        sent = subprocess.run(
            [SEND, "-c", "127.0.0.1", "-p", receiver.port, "-n", "64M", "-P", "4", "--json"],
            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    finally:
        code, out, err = receiver.finish()
    if sent.returncode != 0:
        fail(f"dwcp-send exit {sent.returncode}: {sent.stderr}")
    if code != 0:
        fail(f"dwcp-recv exit {code}: {err}")
    [send_report] = summaries(sent.stdout, "sender")
    [recv_report] = summaries(out, "receiver")
    check_transfer(send_report, size, 4)
    check_transfer(recv_report, size, 4)
    if send_report["congestion"] != "bbr":
        fail(f"sender congestion {send_report['congestion']}")
    print(f"ok  64 MiB on 4 streams: sender {send_report['bits_per_second'] / 1e9:.2f} Gbit/s, "
          f"receiver {recv_report['bits_per_second'] / 1e9:.2f} Gbit/s, 0 errors")


def many_clients():
    sizes = {"8M": 8 << 20, "12M": 12 << 20, "16M": 16 << 20}
    receiver = Receiver("--idle-timeout", "1")
    try:
        senders = [subprocess.Popen(
            [SEND, "-c", "127.0.0.1", "-p", receiver.port, "-n", n, "-P", "2", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in sizes]
        results = []
        for proc in senders:
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                fail("a dwcp-send did not finish in time")
            if proc.returncode != 0:
                fail(f"dwcp-send exit {proc.returncode}: {err}")
            results.append(summaries(out, "sender")[0])
    finally:
        for proc in senders:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        code, out, err = receiver.finish()
    if code != 0:
        fail(f"dwcp-recv exit {code}: {err}")
    for report, size in zip(results, sizes.values()):
        check_transfer(report, size, 2)
    reports = summaries(out, "receiver")
    if len(reports) != 3:
        fail(f"expected 3 client summaries, got {len(reports)}: {out}")
    if sorted(r["id"] for r in reports) != [1, 2, 3]:
        fail(f"client ids {[r['id'] for r in reports]}")
    if len({r["peer"] for r in reports}) != 3:
        fail("the clients share a peer address")
    if sorted(r["bytes"] for r in reports) != sorted(sizes.values()):
        fail(f"received {[r['bytes'] for r in reports]}, expected {list(sizes.values())}")
    for report in reports:
        check_transfer(report, report["bytes"], 2)
    print("ok  3 clients at once, each reported with its own byte count")


def interrupt():
    """SIGINT stops dwcp-recv at once with the summaries so far, and exit 0."""
    receiver = Receiver()
    sender = subprocess.Popen(
        [SEND, "-c", "127.0.0.1", "-p", receiver.port, "-t", "10", "-b", "200M", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        receiver.proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        code, out, err = receiver.finish()
        took = time.monotonic() - start
        try:
            sent_out, sent_err = sender.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("dwcp-send did not notice that its receiver went away")
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.communicate()
    if code != 0:
        fail(f"dwcp-recv exit {code} after SIGINT: {err}")
    if took > 3:
        fail(f"dwcp-recv took {took:.1f} s to stop after SIGINT")
    [report] = summaries(out, "receiver")
    if report["complete"] or report["close_reason"] != "interrupted" or report["bytes"] == 0:
        fail(f"expected an interrupted summary with data: {report}")
    if report["verification_errors"] != 0:
        fail(f"verification errors: {report}")
    if sender.returncode != 5 or len(sent_err.splitlines()) != 1:
        fail(f"dwcp-send exit {sender.returncode}, stderr {sent_err!r}; expected 5, one line")
    [sent] = summaries(sent_out, "sender")
    if sent["congestion"] != "fixed":
        fail(f"-b should imply the fixed controller: {sent}")
    print(f"ok  SIGINT: dwcp-recv stopped in {took:.2f} s with the summary of "
          f"{report['bytes']} bytes; dwcp-send failed with exit 5")


def write_random(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def send_files(args, receiver_args, expect_send=0, expect_recv=0, stdin=None):
    """One dwcp-send against a --one-off dwcp-recv; both JSON summaries."""
    receiver = Receiver("--one-off", *receiver_args)
    try:
        sent = subprocess.run(
            [SEND, "-c", "127.0.0.1", "-p", receiver.port, "--json", *args], input=stdin,
            capture_output=True, timeout=TIMEOUT, check=False)
    finally:
        code, out, err = receiver.finish()
    if sent.returncode != expect_send:
        fail(f"dwcp-send exit {sent.returncode}, expected {expect_send}: {sent.stderr!r}")
    if code != expect_recv:
        fail(f"dwcp-recv exit {code}, expected {expect_recv}: {err}")
    [send_report] = summaries(sent.stdout.decode(), "sender")
    [recv_report] = summaries(out, "receiver")
    return send_report, recv_report, sent.stderr.decode(), err


def xxh128sum(data):
    """xxh128sum's hash of `data`, or None when the tool is not installed."""
    tool = shutil.which("xxh128sum")
    if not tool:
        return None
    done = subprocess.run([tool, "-"], input=data, capture_output=True, timeout=TIMEOUT,
                          check=True)
    return done.stdout.split()[0].decode()


def check_verified(report, files, size):
    if not report["verified"] or not report["complete"] or report["verification_errors"]:
        fail(f"{report['role']}: not verified: {report}")
    if report["files"] != files or report["bytes"] != size:
        fail(f"{report['role']}: {report['files']} files, {report['bytes']} bytes; "
             f"expected {files}, {size}")
    if report["rejected_paths"] or report["malformed_frames"]:
        fail(f"{report['role']}: refused frames: {report}")
    if not re.fullmatch(r"[0-9a-f]{32}", report["xxh3_128"]):
        fail(f"{report['role']}: xxh3_128 {report['xxh3_128']!r}")


def compare_trees(source, copy):
    """Same files, same bytes, nothing else (no temporary files left behind)."""
    def listing(root):
        found = set()
        for directory, _, names in os.walk(root):
            for name in names:
                found.add(os.path.relpath(os.path.join(directory, name), root))
        return found
    want, got = listing(source), listing(copy)
    if want != got:
        fail(f"received files differ: missing {sorted(want - got)}, extra {sorted(got - want)}")
    for name in want:
        if not filecmp.cmp(os.path.join(source, name), os.path.join(copy, name), shallow=False):
            fail(f"{name}: received content differs")


def files():
    with tempfile.TemporaryDirectory(prefix="dwcp-files-") as scratch:
        # One file of random bytes.
        single = os.path.join(scratch, "src", "random.bin")
        write_random(single, 3 << 20)
        out = os.path.join(scratch, "out1")
        send_report, recv_report, _, _ = send_files(["-F", single], ["-o", out])
        check_verified(send_report, 1, 3 << 20)
        check_verified(recv_report, 1, 3 << 20)
        if recv_report["files_written"] != 1:
            fail(f"files_written {recv_report['files_written']}")
        compare_trees(os.path.dirname(single), out)
        with open(single, "rb") as f:
            expected = xxh128sum(f.read())
        for report in (send_report, recv_report):
            if expected and report["xxh3_128"] != expected:
                fail(f"{report['role']} xxh3_128 {report['xxh3_128']}, xxh128sum says {expected}")
        print(f"ok  3 MiB file byte-exact, xxh3_128 {recv_report['xxh3_128']}"
              f"{' = xxh128sum' if expected else ''}")

        # A tree: nested directories, an empty file, files larger than the 16 KiB messages,
        # spread over 3 streams.
        tree = os.path.join(scratch, "tree")
        layout = {"top.bin": 1 << 20, "a/small.txt": 10, "a/empty": 0,
                  "a/b/c/deep.bin": 100_000, "a/b/other.bin": 40_000, "z/last": 1}
        for name, size in layout.items():
            write_random(os.path.join(tree, name), size)
        out = os.path.join(scratch, "out2")
        send_report, recv_report, _, _ = send_files(
            ["-F", tree, "-P", "3", "-l", "16K"], ["-o", out])
        total = sum(layout.values())
        check_verified(send_report, len(layout), total)
        check_verified(recv_report, len(layout), total)
        if send_report["streams"] != 3 or recv_report["files_written"] != len(layout):
            fail(f"streams {send_report['streams']}, written {recv_report['files_written']}")
        if send_report["xxh3_128"] != recv_report["xxh3_128"]:
            fail(f"digests differ: {send_report['xxh3_128']} {recv_report['xxh3_128']}")
        compare_trees(tree, os.path.join(out, "tree"))
        # The documented digest of several files: the sorted "HEX  PATH" lines, hashed.
        if shutil.which("xxh128sum"):
            lines = []
            for name in sorted(layout, key=lambda n: ("tree/" + n).encode()):
                with open(os.path.join(tree, name), "rb") as f:
                    lines.append(f"{xxh128sum(f.read())}  tree/{name}\n")
            expected = xxh128sum("".join(lines).encode())
            if recv_report["xxh3_128"] != expected:
                fail(f"tree digest {recv_report['xxh3_128']}, expected {expected}")
        print(f"ok  tree of {len(layout)} files on 3 streams byte-exact, "
              f"digest {recv_report['xxh3_128']}")


def stdin_stdout():
    """dwcp-send -F - | ... | dwcp-recv --stdout: stdout carries the bytes and nothing else."""
    data = os.urandom((2 << 20) + 12345)
    sender = None
    receiver = subprocess.Popen(
        [RECV, "-B", "127.0.0.1", "-p", "0", "--one-off", "--stdout", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = receiver.stderr.readline().decode()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            fail(f"dwcp-recv did not say where it listens: {line!r}")
        sender = subprocess.Popen(
            [SEND, "-c", "127.0.0.1", "-p", match.group(1), "-F", "-", "-i", "0.2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Both pipes flow at once: dwcp-recv blocks on a full stdout, and then (by flow
        # control) dwcp-send, as in a real pipeline.
        sent = {}
        feeder = threading.Thread(target=lambda: sent.update(
            zip(("stdout", "stderr"), sender.communicate(data, timeout=TIMEOUT))))
        feeder.start()
        out, err = receiver.communicate(timeout=TIMEOUT)
        feeder.join(TIMEOUT)
    finally:
        for proc in (receiver, sender):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    if sender.returncode != 0 or receiver.returncode != 0 or "stdout" not in sent:
        fail(f"exit {sender.returncode}/{receiver.returncode}: {sent} {err!r}")
    if out != data:
        fail(f"stdout carried {len(out)} bytes, not the {len(data)} sent (or other bytes)")
    [report] = summaries(err.decode().strip(), "receiver")
    check_verified(report, 1, len(data))
    if report["files_written"] != 1:
        fail(f"files_written {report['files_written']}")
    text = sent["stdout"].decode()
    if "verified" not in text or "NOT VERIFIED" in text:
        fail(f"the sender's summary does not say verified: {text}")
    print(f"ok  {len(data)} bytes stdin -> stdout byte-exact, reports on stderr, verified")


def hostile_path():
    """A symlink planted in the output directory does not lead writes out of it."""
    with tempfile.TemporaryDirectory(prefix="dwcp-hostile-") as scratch:
        tree = os.path.join(scratch, "tree")
        write_random(os.path.join(tree, "a.bin"), 1000)
        write_random(os.path.join(tree, "sub", "b.bin"), 1000)
        out = os.path.join(scratch, "out")
        outside = os.path.join(scratch, "outside")
        os.makedirs(out)
        os.makedirs(outside)
        os.symlink(outside, os.path.join(out, "tree"))
        send_report, recv_report, send_err, _ = send_files(
            ["-F", tree], ["-o", out], expect_send=5, expect_recv=5)
        if os.listdir(outside):
            fail(f"written through the symlink: {os.listdir(outside)}")
        if recv_report["rejected_paths"] != 2 or recv_report["files_written"] != 0:
            fail(f"expected 2 rejected paths, nothing written: {recv_report}")
        if recv_report["verified"] or send_report["verified"]:
            fail("a transfer with rejected paths was reported verified")
        if send_report["verification_errors"] != 2:
            fail(f"the sender counted {send_report['verification_errors']} failed files")
        lines = send_err.splitlines()
        if len(lines) != 1 or "not verified" not in lines[0] or "path rejected" not in lines[0]:
            fail(f"expected one line naming the rejected path: {send_err!r}")
        print(f"ok  symlinked output refused: 2 rejected paths; {lines[0]}")


def transfer(send_args, recv_args=()):
    """One dwcp-send against a --one-off dwcp-recv, both with --json: their summaries."""
    receiver = Receiver("--one-off", *recv_args)
    try:
        sent = subprocess.run(
            [SEND, "-c", "127.0.0.1", "-p", receiver.port, "--json", *send_args],
            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    finally:
        code, out, err = receiver.finish()
    if sent.returncode != 0:
        fail(f"dwcp-send {send_args} exit {sent.returncode}: {sent.stderr}")
    if code != 0:
        fail(f"dwcp-recv exit {code}: {err}")
    return summaries(sent.stdout), summaries(out)


def check_direction(report, role, reverse, size, streams, congestion):
    if report["role"] != role or report["reverse"] != reverse:
        fail(f"expected {role}, reverse {reverse}: {report}")
    if report["congestion"] != congestion:
        fail(f"{role}: congestion {report['congestion']!r}, expected {congestion!r}")
    check_transfer(report, size, streams)


def reverse():
    """-R: dwcp-recv sends the pattern, dwcp-send verifies it; -n, -P and -C reach the server."""
    size = 4 << 20
    [got], [gave] = transfer(["-R", "-n", "4M", "-P", "2", "-l", "16K", "-C", "cubic"])
    check_direction(got, "receiver", True, size, 2, "cubic")
    check_direction(gave, "sender", True, size, 2, "cubic")
    if gave["messages"] != size // (16 << 10) or got["messages"] != gave["messages"]:
        fail(f"-l 16K not used: {gave['messages']} and {got['messages']} messages")
    print(f"ok  -R 4 MiB on 2 streams, cubic, 16 KiB messages: "
          f"{got['bits_per_second'] / 1e9:.2f} Gbit/s received and verified")
    # Timed: the client's stop frame (or the time in the request) ends the server's unit;
    # the fixed rate goes with it.
    [got], [gave] = transfer(["-R", "-t", "0.3", "-b", "500M", "-i", "0"])
    check_direction(gave, "sender", True, gave["bytes"], 1, "fixed")
    check_direction(got, "receiver", True, gave["bytes"], 1, "fixed")
    # 500 Mbit/s for 0.3 s, and what the queues (4 MiB in the app, 4 MiB in the
    # connection) held at the stop, which drains after it.
    if not 1 << 20 <= got["bytes"] <= 32 << 20 or got["seconds"] > 3:
        fail(f"-t 0.3 -b 500M moved {got['bytes']} bytes in {got['seconds']:.2f} s")
    print(f"ok  -R -t 0.3 -b 500M: {got['bytes']} bytes in {got['seconds']:.2f} s, verified")


def timed_rate():
    """-t on a path slower than the sender's buffers: the run ends on time, both directions.

    The connection's buffer holds 64 MiB for long fat paths; at 20 Mbit/s that is 27 s of
    data, which a writer that filled it sent after its time was up. The tools write only a
    quarter second (at least 1 MiB) ahead of what the connection has sent."""
    for direction in ([], ["-R"]):
        [sent], [received] = transfer([*direction, "-t", "1", "-b", "20M", "-i", "0"])
        sender = received if direction else sent
        check_direction(sender, "sender", bool(direction), sender["bytes"], 1, "fixed")
        # 2.5 MB in the second, 1 MiB or so still queued at the stop.
        if not 1 << 20 <= sender["bytes"] <= 6 << 20 or sender["seconds"] > 3:
            fail(f"{direction} -t 1 -b 20M: {sender['bytes']} bytes in {sender['seconds']:.2f} s")
        print(f"ok  {' '.join(direction) or 'forward'} -t 1 -b 20M: {sender['bytes']} bytes in "
              f"{sender['seconds']:.2f} s")


def bidir():
    """--bidir: both directions at once on one connection, each verified and reported."""
    size = 4 << 20
    sent, received = transfer(["--bidir", "-n", "4M", "-P", "2"])
    if [r["role"] for r in sent] != ["sender", "receiver"]:
        fail(f"dwcp-send roles {[r['role'] for r in sent]}")
    if sorted(r["role"] for r in received) != ["receiver", "sender"]:
        fail(f"dwcp-recv roles {[r['role'] for r in received]}")
    check_direction(sent[0], "sender", False, size, 2, "bbr")
    check_direction(sent[1], "receiver", True, size, 2, "bbr")
    by_role = {r["role"]: r for r in received}
    check_direction(by_role["receiver"], "receiver", False, size, 2, "")
    check_direction(by_role["sender"], "sender", True, size, 2, "bbr")
    print("ok  --bidir 4 MiB each way on 2 + 2 streams, both verified at both ends")


def node_flags():
    """--io uring --threads dedicated moves data, or fails at once saying uring is missing."""
    flags = ["--io", "uring", "--threads", "dedicated", "--zerocopy", "off", "--cpus", "0"]
    probe = subprocess.run([RECV, "-B", "127.0.0.1", "-p", "0", "--idle-timeout", "0.01", *flags],
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if probe.returncode == 3:
        # No usable io_uring: a named backend does not fall back; it says why, on one line.
        lines = probe.stderr.splitlines()
        if len(lines) != 1 or "with --io uring" not in lines[0]:
            fail(f"unclear failure without io_uring: {probe.stderr!r}")
        print(f"ok  io_uring unavailable, refused clearly: {lines[0]}")
        flags[1] = "plain"
    elif probe.returncode != 0:
        fail(f"dwcp-recv {flags}: exit {probe.returncode}: {probe.stderr}")
    [sent], [received] = transfer(["-n", "8M", "-P", "2", *flags], flags)
    check_transfer(sent, 8 << 20, 2)
    check_transfer(received, 8 << 20, 2)
    for report in (sent, received):
        if not report["io"].startswith(flags[1]) or "zerocopy off" not in report["io"]:
            fail(f"{report['role']}: io {report['io']!r}, expected {flags[1]}, zerocopy off")
    print(f"ok  8 MiB with {' '.join(flags)}: {sent['io'].split(' ')[0]} at both ends")


def events(text, program):
    """--json-stream output: start, at least two intervals, end; the end's summary."""
    lines = [json.loads(line) for line in text.splitlines()]
    kinds = [line["event"] for line in lines]
    if len(kinds) < 4 or kinds[0] != "start" or kinds[-1] != "end" or \
            any(k != "interval" for k in kinds[1:-1]):
        fail(f"{program}: events {kinds}, expected start, intervals, end")
    start, end = lines[0]["data"], lines[-1]["data"]
    if set(start) != {"id", "peer", "io"} or not start["io"]:
        fail(f"{program}: start event {start}")
    missing = [f for f in FIELDS if f not in end]
    if missing:
        fail(f"{program}: end event lacks {missing}")
    interval_fields = {"id", "start", "end", "bytes", "bits_per_second", "retransmitted_bytes",
                      "packets_lost", "cwnd_bytes", "rtt_us", "direction"}
    moved = 0
    previous_end = 0.0
    for line in lines[1:-1]:
        data = line["data"]
        if set(data) != interval_fields:
            fail(f"{program}: interval fields {sorted(data)}")
        if abs(data["start"] - previous_end) > 1e-6 or data["end"] <= data["start"]:
            fail(f"{program}: intervals not contiguous: {data}")
        previous_end = data["end"]
        moved += data["bytes"]
    # The intervals cover the transfer up to a last stretch shorter than a tenth of one.
    if not 0.5 * end["bytes"] <= moved <= end["bytes"]:
        fail(f"{program}: intervals add up to {moved} bytes of {end['bytes']}")
    return lines, end


def json_stream():
    receiver = Receiver("--one-off", "-i", "0.1", report="--json-stream")
    try:
        sent = subprocess.run(
            [SEND, "-c", "127.0.0.1", "-p", receiver.port, "-t", "0.6", "-b", "200M",
             "-i", "0.1", "--json-stream"],
            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    finally:
        code, out, err = receiver.finish()
    if sent.returncode != 0 or code != 0:
        fail(f"exit {sent.returncode} / {code}: {sent.stderr} {err}")
    send_lines, send_end = events(sent.stdout, "dwcp-send")
    recv_lines, recv_end = events(out, "dwcp-recv")
    if send_end["role"] != "sender" or recv_end["role"] != "receiver":
        fail("end events' roles")
    if send_end["bytes"] != recv_end["bytes"] or recv_end["verification_errors"] != 0:
        fail(f"sent {send_end['bytes']}, received {recv_end['bytes']}")
    if {line["data"]["direction"] for line in send_lines[1:-1]} != {"sent"} or \
            {line["data"]["direction"] for line in recv_lines[1:-1]} != {"received"}:
        fail("interval directions")
    for program in (SEND, RECV):
        target = ["-c", "127.0.0.1"] if program == SEND else []
        run([program, *target, "--json", "--json-stream"], 2, "--json-stream")
    print(f"ok  --json-stream: {len(send_lines)} sender and {len(recv_lines)} receiver events, "
          f"{send_end['bytes']} bytes")


{"cli-errors": cli_errors, "json-stream": json_stream, "loopback": loopback, "many-clients": many_clients,
 "interrupt": interrupt, "files": files, "stdin-stdout": stdin_stdout,
 "hostile-path": hostile_path, "reverse": reverse, "timed-rate": timed_rate, "bidir": bidir,
 "node-flags": node_flags}[sys.argv[3]]()
