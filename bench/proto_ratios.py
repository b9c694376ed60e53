#!/usr/bin/env python3
"""Prints the proto_bench bar and a table of ns per packet as Markdown.

    bench/proto_ratios.py PROTO_BENCH_JSON [--out SUMMARY_MD]

PROTO_BENCH_JSON is what `proto_bench --benchmark_format=json --benchmark_out=FILE` wrote,
ideally with repetitions and --benchmark_report_aggregates_only=true (medians are used;
with one repetition, the median of the runs). Every case does one packet per iteration, so
real_time (in ns) is the time per packet. Standard library only.
"""

import argparse
import sys
from pathlib import Path

from ratios import load_medians

BAR_CASE, BAR_LIMIT_NS = "parse/verify", 60.0
YARDSTICK = "yardstick/crc32c"


def ns(values, name, key="real_time"):
    """Every proto_bench case reports in ns (benchmark's default unit)."""
    return values.get(name, {}).get(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="proto_bench JSON output")
    parser.add_argument("--out", help="also write the Markdown here")
    args = parser.parse_args()
    values, errors, found = load_medians(Path(args.json))
    if not found:
        sys.exit(f"proto_ratios.py: no {args.json}")

    ours, crc = ns(values, BAR_CASE), ns(values, YARDSTICK)
    head = "| bar | median | crc32c 1472 B alone | ratio | target | result |\n|---|---|---|---|---|---|"
    title = "parse+verify 1472 B (parse_packet + FrameReader)"
    if ours is None:
        row = f"| {title} | — | — | — | ≤ {BAR_LIMIT_NS:.0f} ns | " \
              f"{errors.get(BAR_CASE, 'missing ' + BAR_CASE)} |"
    else:
        ratio = f"{ours / crc:.2f}×" if crc else "—"
        crc_text = f"{crc:.1f} ns" if crc else "missing"
        result = "PASS" if ours <= BAR_LIMIT_NS else "FAIL"
        row = (f"| {title} | {ours:.1f} ns | {crc_text} | {ratio} | ≤ {BAR_LIMIT_NS:.0f} ns | "
               f"{result} |")

    lines = ["| case | ns per packet (real, median) | CPU | × crc32c |", "|---|---|---|---|"]
    for name in sorted(set(values) | set(errors)):
        if name in errors:
            lines.append(f"| {name} | error: {errors[name]} | — | — |")
            continue
        real, cpu = ns(values, name), ns(values, name, "cpu_time")
        times = f"{real / crc:.2f}×" if crc and real is not None else "—"
        lines.append(f"| {name} | {real:.1f} | {cpu:.1f} | {times} |")

    text = ("## dwcp proto bench: bar\n\n" + head + "\n" + row + "\n\n## All cases\n\n" +
            "\n".join(lines) + "\n")
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
