#!/usr/bin/env python3
"""dwcp-send and dwcp-recv as a user runs them, over 127.0.0.1 (docs/tools.md).

    send_recv_test.py DWCP_SEND DWCP_RECV cli-errors|loopback|many-clients|interrupt

Every process runs under a timeout and is killed if the check fails, so nothing is left
running; exit 0 on success, 1 with the reason on stderr otherwise.
"""
import json
import re
import signal
import subprocess
import sys
import time

SEND, RECV = sys.argv[1], sys.argv[2]
TIMEOUT = 20  # seconds, for every process

FIELDS = [
    "role", "id", "peer", "congestion", "streams", "seconds", "bytes", "messages",
    "bits_per_second", "verification_errors", "retransmitted_bytes", "packets_lost",
    "spurious_losses", "packets_sent", "packets_received", "rtt_min_us", "rtt_avg_us",
    "rtt_max_us", "cwnd_bytes", "cpu_seconds", "cpu_percent", "cpu_seconds_per_gb",
    "cpu_cycles_per_byte", "complete", "close_reason",
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

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [RECV, "-B", "127.0.0.1", "-p", "0", "--json", *extra],
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


def summaries(text, role):
    reports = []
    for line in text.splitlines():
        report = json.loads(line)
        missing = [f for f in FIELDS if f not in report]
        if missing:
            fail(f"{role} JSON lacks {missing}: {line}")
        if report["role"] != role:
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


def cli_errors():
    run([SEND], 2, "-c: a host to send to is required")
    run([SEND, "-c", "127.0.0.1", "--bogus"], 2, "--bogus: unknown option")
    run([SEND, "-c", "127.0.0.1", "-t"], 2, "-t: needs a value")
    run([SEND, "-c", "127.0.0.1", "-p", "http"], 2, "'http' is not a port")
    run([SEND, "-c", "127.0.0.1", "-n", "12parsecs"], 2, "unknown unit")
    run([SEND, "-c", "no-such-host.invalid"], 3, "cannot resolve host 'no-such-host.invalid'")
    run([RECV, "--bogus"], 2, "--bogus: unknown option")
    run([RECV, "-B", "192.0.2.1"], 3, "cannot listen on 192.0.2.1:5301")
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


{"cli-errors": cli_errors, "loopback": loopback, "many-clients": many_clients,
 "interrupt": interrupt}[sys.argv[3]]()
