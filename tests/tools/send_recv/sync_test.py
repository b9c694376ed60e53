#!/usr/bin/env python3
"""dwcp-send --sync and dwcp-recv --sync-dir as a user runs them, over 127.0.0.1
(docs/tools.md, "Sync").

    sync_test.py DWCP_SEND DWCP_RECV SCENARIO

SCENARIO: cli-errors, rounds, fresh, interrupt.

The file changes only after dwcp-send reported the round before (its --json lines are read
as they come), so no step waits on a timer. Every process runs under a timeout and is
killed if a check fails (or the script ends with it still running); exit 0 on success, 1
with the reason on stderr otherwise.
"""
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

SEND, RECV = sys.argv[1], sys.argv[2]
TIMEOUT = 20  # seconds, for every process and every wait
BLOCK = 4096
running = []  # every process started here, killed on the way out if still running


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def kill_running():
    for proc in running:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Receiver:
    """dwcp-recv with --sync-dir on a free 127.0.0.1 port (-p 0; it says which)."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [RECV, "-B", "127.0.0.1", "-p", "0", "--json", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        running.append(self.proc)
        line = self.proc.stderr.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            fail(f"dwcp-recv did not say where it listens: {line!r}")
        self.address = f"127.0.0.1:{match.group(1)}"

    def stop(self):
        """SIGINT, as a user stops it: exit 0 and a summary per client."""
        self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            fail("dwcp-recv did not exit in time")
        if self.proc.returncode != 0:
            fail(f"dwcp-recv exit {self.proc.returncode}: {err}")
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


class Sender:
    """dwcp-send --sync --json, its stdout read line by line as it comes."""

    def __init__(self, args):
        self.proc = subprocess.Popen([SEND, *args, "--json"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        running.append(self.proc)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_report(self):
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            fail("dwcp-send printed nothing in time")
        if line is None:
            fail(f"dwcp-send ended early: exit {self.proc.wait()}, {self.proc.stderr.read()}")
        return json.loads(line)

    def finish(self, expect_code=0):
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("dwcp-send did not exit in time")
        err = self.proc.stderr.read()
        if self.proc.returncode != expect_code:
            fail(f"dwcp-send exit {self.proc.returncode}, expected {expect_code}: {err}")
        rest = []
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            if line is None:
                return rest, err
            rest.append(json.loads(line))


def change_blocks(path, blocks, rng):
    """Overwrites 8..64 bytes inside each of `blocks` (block indices)."""
    with open(path, "r+b") as f:
        for index in blocks:
            size = rng.randrange(8, 65)
            f.seek(index * BLOCK + rng.randrange(0, BLOCK - size))
            f.write(rng.randbytes(size))


def check_round(report, number, file_path, changed=None, whole=None, delta=None):
    if report.get("type") != "sync_round" or report["round"] != number:
        fail(f"expected round {number}, got {report}")
    if not report["verified"] or report["verdict"] != "verified":
        fail(f"round {number} not verified: {report}")
    size = os.path.getsize(file_path)
    if report["length"] != size or report["blocks"] != (size + BLOCK - 1) // BLOCK:
        fail(f"round {number}: length {report['length']}, blocks {report['blocks']}; file {size}")
    for key, want in (("blocks_changed", changed), ("blocks_sent_whole", whole),
                      ("blocks_sent_delta", delta)):
        if want is not None and report[key] != want:
            fail(f"round {number}: {key} {report[key]}, expected {want}: {report}")
    print(f"ok  round {number}: {report['blocks_changed']} of {report['blocks']} blocks changed, "
          f"{report['blocks_sent_whole']} whole, {report['blocks_sent_delta']} delta, "
          f"wire {report['wire_bytes']} B, {report['seconds']:.3f} s")


def check_replica(source, replica):
    with open(source, "rb") as a, open(replica, "rb") as b:
        if a.read() != b.read():
            fail(f"{replica} differs from {source}")


def check_summary(summary, rounds):
    if summary.get("role") != "sender" or not summary["verified"] or not summary["complete"]:
        fail(f"summary not verified and complete: {summary}")
    if summary["sync_rounds"] != rounds or summary["sync_rounds_verified"] != rounds:
        fail(f"summary: {summary['sync_rounds']} rounds, expected {rounds}")


def cli_errors(work):
    def refused(args, code, message):
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        lines = done.stderr.splitlines()
        if done.returncode != code or len(lines) != 1 or message not in lines[0]:
            fail(f"{args}: exit {done.returncode}, stderr {done.stderr!r}; expected {code}, "
                 f"{message!r}")
        print(f"ok  exit {code}: {lines[0]}")

    path = os.path.join(work, "f")
    with open(path, "wb") as f:
        f.write(b"x" * 10000)
    refused([SEND, "-c", "127.0.0.1", "--watch"], 2, "--watch: needs --sync")
    refused([SEND, "--sync", path, "-c", "127.0.0.1", "-F", path], 2,
            "-F: cannot be combined with --sync")
    refused([SEND, "--sync", path, "127.0.0.1", "--block-size", "1"], 2,
            "--block-size: must be 64 bytes .. 1M")
    refused([SEND, "--sync", os.path.join(work, "missing"), "127.0.0.1"], 6, "cannot read")
    refused([SEND, "--sync", work, "127.0.0.1"], 6, "not a regular file")
    blocker = os.path.join(work, "blocker")
    with open(blocker, "w") as f:
        f.write("a file where a directory should be")
    refused([RECV, "-B", "127.0.0.1", "-p", "0", "--sync-dir", os.path.join(blocker, "d")], 6,
            "cannot create")
    # A receiver without --sync-dir refuses, and says so in the verdict.
    receiver = Receiver()
    refused([SEND, "--sync", path, receiver.address], 5, "refuses the sync: refused")
    summaries = receiver.stop()
    if len(summaries) != 1 or summaries[0]["verified"]:
        fail(f"dwcp-recv should report one unverified client: {summaries}")


def rounds(work):
    rng = random.Random(9)
    source = os.path.join(work, "disk.img")
    with open(source, "wb") as f:
        f.write(rng.randbytes(4 << 20))
    replicas = os.path.join(work, "replicas")
    replica = os.path.join(replicas, "disk.img")
    receiver = Receiver("--sync-dir", replicas)
    sender = Sender(["--sync", source, receiver.address, "--watch", "-i", "0.02",
                     "--rounds", "5"])
    first = sender.next_report()
    check_round(first, 1, source, changed=1024, whole=1024, delta=0)
    check_replica(source, replica)

    # Ten pages get a small change: ten deltas, a small fraction of the file on the wire.
    change_blocks(source, rng.sample(range(1024), 10), rng)
    second = sender.next_report()
    check_round(second, 2, source, changed=10, delta=10, whole=0)
    check_replica(source, replica)
    if second["wire_bytes"] * 50 > os.path.getsize(source):
        fail(f"round 2 moved {second['wire_bytes']} B for ten small changes")

    # Growth: three new blocks, the last one short.
    with open(source, "ab") as f:
        f.write(rng.randbytes(2 * BLOCK + 100))
    check_round(sender.next_report(), 3, source, changed=3)
    check_replica(source, replica)

    # Shrinking cuts the replica; the block that is now the last one (short) changed.
    with open(source, "r+b") as f:
        f.truncate(3 * BLOCK * 100 + 1000)
    check_round(sender.next_report(), 4, source, changed=1)
    check_replica(source, replica)

    # Emptied: no blocks at all.
    with open(source, "r+b") as f:
        f.truncate(0)
    check_round(sender.next_report(), 5, source, changed=0)
    check_replica(source, replica)
    rest, _ = sender.finish()
    if len(rest) != 1:
        fail(f"expected the summary alone after round 5, got {rest}")
    check_summary(rest[0], 5)
    summaries = receiver.stop()
    if len(summaries) != 1 or not summaries[0]["verified"] or summaries[0]["sync_rounds"] != 5:
        fail(f"dwcp-recv's summary: {summaries}")


def fresh(work):
    rng = random.Random(11)
    source = os.path.join(work, "db.pages")
    with open(source, "wb") as f:
        f.write(rng.randbytes((3 << 20) + 123))
    replicas = os.path.join(work, "replicas")
    replica = os.path.join(replicas, "db.pages")
    receiver = Receiver("--sync-dir", replicas)
    blocks = (os.path.getsize(source) + BLOCK - 1) // BLOCK
    first = Sender(["--sync", source, receiver.address])
    check_round(first.next_report(), 1, source, changed=blocks)
    check_summary(first.finish()[0][0], 1)
    check_replica(source, replica)

    # A new process: it learns what the replica holds and sends only what differs, whole
    # (it has no earlier version to take a delta against).
    changed = sorted(rng.sample(range(blocks), 7))
    change_blocks(source, changed, rng)
    second = Sender(["--sync", source, receiver.address])
    report = second.next_report()
    check_round(report, 1, source, changed=7, whole=7, delta=0)
    check_summary(second.finish()[0][0], 1)
    check_replica(source, replica)
    if report["wire_bytes"] * 4 > os.path.getsize(source):
        fail(f"a fresh sync of 7 changed blocks moved {report['wire_bytes']} B")

    # Nothing changed: nothing but the manifest and the round's end.
    third = Sender(["--sync", source, receiver.address])
    check_round(third.next_report(), 1, source, changed=0)
    third.finish()
    check_replica(source, replica)
    summaries = receiver.stop()
    if len(summaries) != 3 or not all(s["verified"] for s in summaries):
        fail(f"dwcp-recv's summaries: {summaries}")


def interrupt(work):
    rng = random.Random(13)
    source = os.path.join(work, "state")
    with open(source, "wb") as f:
        f.write(rng.randbytes(1 << 20))
    replicas = os.path.join(work, "replicas")
    receiver = Receiver("--sync-dir", replicas)
    # --watch without a bound: SIGINT between rounds ends it, verified, exit 0.
    sender = Sender(["--sync", source, receiver.address, "--watch", "-i", "0.05"])
    check_round(sender.next_report(), 1, source, changed=256)
    sender.proc.send_signal(signal.SIGINT)
    rest, _ = sender.finish(expect_code=0)
    if len(rest) != 1:
        fail(f"expected the summary alone, got {rest}")
    check_summary(rest[0], 1)
    check_replica(source, os.path.join(replicas, "state"))
    receiver.stop()


def main():
    scenario = sys.argv[3]
    scenarios = {"cli-errors": cli_errors, "rounds": rounds, "fresh": fresh,
                 "interrupt": interrupt}
    if scenario not in scenarios:
        fail(f"unknown scenario {scenario!r}")
    work = tempfile.mkdtemp(prefix="dwcp-sync-test-")
    try:
        scenarios[scenario](work)
    finally:
        kill_running()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{scenario}: passed")


if __name__ == "__main__":
    main()
