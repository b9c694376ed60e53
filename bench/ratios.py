#!/usr/bin/env python3
"""Reads the Google Benchmark JSON files bench/run wrote and prints the bars as Markdown.

    bench/ratios.py OUT_DIR

Reads OUT_DIR/lockfree_bench.json and OUT_DIR/mempool_bench.json, prints a table of
medians, ratios and PASS/FAIL against each bar, and writes the same to OUT_DIR/summary.md.
Standard library only.
"""

import json
import statistics
import sys
from pathlib import Path

SKIPPED_BOOST = "skipped (libboost-dev missing)"


def load_medians(path):
    """Maps case name -> {metric: median} and case name -> error message."""
    values, errors = {}, {}
    if not path.exists():
        return values, errors, False
    data = json.loads(path.read_text())
    iterations = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if name.endswith("/real_time") or name.endswith("/manual_time"):
            name = name.rsplit("/", 1)[0]
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        metrics = {k: v for k, v in b.items() if isinstance(v, (int, float))
                   and not isinstance(v, bool)}
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                values[name] = metrics
        else:
            iterations.setdefault(name, []).append(metrics)
    # With one repetition benchmark writes no aggregates: take the median of the runs.
    for name, runs in iterations.items():
        if name not in values:
            keys = set.intersection(*(set(r) for r in runs))
            values[name] = {k: statistics.median(r[k] for r in runs) for k in keys}
    return values, errors, True


def fmt_rate(v):
    return f"{v / 1e6:.1f} M/s"


def fmt_ns(v):
    return f"{v:.1f} ns"


class Table:
    def __init__(self, values, errors):
        self.values, self.errors = values, errors
        self.rows = []

    def metric(self, name, key):
        """(value, None) or (None, why it is missing)."""
        if name in self.errors:
            return None, f"error: {self.errors[name]}"
        v = self.values.get(name, {}).get(key)
        return (v, None) if v is not None else (None, "missing")

    def best_rate(self, names):
        """Highest items_per_second of `names`, with the variant that achieved it."""
        best, why = None, "missing"
        for n in names:
            v, w = self.metric(n, "items_per_second")
            if v is None:
                why = w
            elif best is None or v > best[0]:
                best = (v, n.rsplit("/", 1)[-1])
        return (best, None) if best else (None, why)

    def add(self, bar, ours, peer, ratio, target, ok, info=False):
        result = "PASS" if ok else "FAIL"
        if info:
            result += " (info)"
        self.rows.append((bar, ours, peer, ratio, target, result))

    def add_missing(self, bar, target, why):
        self.rows.append((bar, "—", "—", "—", target, why))

    def stream_row(self, bar, ours_names, peer_names, target, info=False, boost=False,
                   have_boost=True):
        if boost and not have_boost:
            return self.add_missing(bar, f"≥ {target}×", SKIPPED_BOOST)
        ours, why_o = self.best_rate(ours_names)
        peer, why_p = self.best_rate(peer_names)
        if ours is None or peer is None:
            return self.add_missing(bar, f"≥ {target}×", why_o or why_p)
        ratio = ours[0] / peer[0]
        self.add(bar, f"{fmt_rate(ours[0])} ({ours[1]})", f"{fmt_rate(peer[0])} ({peer[1]})",
                 f"{ratio:.2f}×", f"≥ {target}×", ratio >= target, info)

    def ns_row(self, bar, ours_name, peer_name, limit):
        ours, why_o = self.metric(ours_name, "ns_per_op")
        peer, why_p = self.metric(peer_name, "ns_per_op")
        if ours is None:
            return self.add_missing(bar, f"≤ {limit} ns", why_o)
        ratio = f"{peer / ours:.1f}×" if peer is not None else "—"
        self.add(bar, fmt_ns(ours), fmt_ns(peer) if peer is not None else why_p, ratio,
                 f"≤ {limit} ns", ours <= limit)

    def markdown(self):
        head = ("bar", "dwcp (median)", "peer (median)", "ratio", "target", "result")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ratios.py OUT_DIR")
    out = Path(sys.argv[1])
    lf_values, lf_errors, lf_found = load_medians(out / "lockfree_bench.json")
    mp_values, mp_errors, mp_found = load_medians(out / "mempool_bench.json")
    if not lf_found and not mp_found:
        sys.exit(f"ratios.py: no benchmark JSON in {out}")
    have_boost = any("boost_" in n for n in list(lf_values) + list(lf_errors))

    t = Table({**lf_values, **mp_values}, {**lf_errors, **mp_errors})
    spsc = ["stream_1p1c/spsc_ring/single", "stream_1p1c/spsc_ring/batch64"]
    boost_spsc = ["stream_1p1c/boost_spsc_queue/single", "stream_1p1c/boost_spsc_queue/batch64"]
    t.stream_row("SpscRing stream ÷ boost spsc_queue (best of single/batch)", spsc, boost_spsc,
                  1.5, boost=True, have_boost=have_boost)

    bar = "SpscRing ping-pong RTT vs boost spsc_queue (boost ÷ ours)"
    if not have_boost:
        t.add_missing(bar, "≥ 1.0×", SKIPPED_BOOST)
    else:
        ours, why_o = t.metric("ping_pong/spsc_ring", "rtt_ns")
        peer, why_p = t.metric("ping_pong/boost_spsc_queue", "rtt_ns")
        if ours is None or peer is None:
            t.add_missing(bar, "≥ 1.0×", why_o or why_p)
        else:
            t.add(bar, fmt_ns(ours), fmt_ns(peer), f"{peer / ours:.2f}×", "≥ 1.0×", peer >= ours)

    for shape, info in (("1p1c", False), ("2p2c", True)):
        mpmc = [f"stream_{shape}/mpmc_ring/single", f"stream_{shape}/mpmc_ring/batch64"]
        label = shape.upper()
        t.stream_row(f"MpmcRing {label} ÷ boost::lockfree::queue {label}", mpmc,
                      [f"stream_{shape}/boost_queue/single"], 5, info=info, boost=True,
                      have_boost=have_boost)
        t.stream_row(f"MpmcRing {label} ÷ mutex+deque {label}", mpmc,
                      [f"stream_{shape}/mutex_deque/single"], 1.5, info=info)

    # The cached variant's name carries the cache size.
    cached = next((n.split("/", 1)[1] for n in mp_values
                   if n.startswith("pair/buffer_pool/thread_cache")),
                  "buffer_pool/thread_cache:256")
    t.ns_row(f"BufferPool pair, ns per alloc+free ({cached} vs glibc)", f"pair/{cached}",
             "pair/glibc_malloc", 5)
    t.ns_row(f"BufferPool burst of 256, ns per block ({cached} vs glibc)", f"burst256/{cached}",
             "burst256/glibc_malloc", 10)
    t.ns_row(f"BufferPool cross-thread, ns per block ({cached} vs glibc)",
             f"cross_thread/{cached}", "cross_thread/glibc_malloc", 50)

    # Every case's median, for reading the bars in context.
    detail = ["| case | median |", "|---|---|"]
    for values, errors in ((lf_values, lf_errors), (mp_values, mp_errors)):
        for name in sorted(set(values) | set(errors)):
            if name in errors:
                shown = f"error: {errors[name]}"
            else:
                v = values[name]
                if "rtt_ns" in v:
                    shown = f"{v['rtt_ns']:.1f} ns round trip"
                elif "ns_per_op" in v:
                    shown = f"{v['ns_per_op']:.1f} ns per block"
                elif "items_per_second" in v:
                    shown = f"{fmt_rate(v['items_per_second'])}"
                else:
                    shown = "—"
            detail.append(f"| {name} | {shown} |")

    text = ("## dwcp bench: bars\n\n" + t.markdown() + "\n\n## All cases\n\n" +
            "\n".join(detail) + "\n")
    if not have_boost:
        text += "\nboost::lockfree comparisons skipped because libboost-dev is missing.\n"
    print(text, end="")
    (out / "summary.md").write_text(text)


if __name__ == "__main__":
    main()
