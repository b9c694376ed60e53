#!/usr/bin/env python3
"""Prints the simd_bench bars and a GB/s table as Markdown.

    bench/simd_ratios.py SIMD_BENCH_JSON [--out SUMMARY_MD] [--strict]

SIMD_BENCH_JSON is what `simd_bench --benchmark_format=json --benchmark_out=FILE` wrote,
ideally with --benchmark_repetitions=N --benchmark_report_aggregates_only=true (medians are
used; with one repetition the single run is). Case names are
"<group>/<implementation>/<warm|cold>/<bytes>" and carry bytes_per_second.

--strict exits 1 when a bar that is not informational fails or is missing.
Standard library only. To add a bar, append a Bar to BARS.
"""

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

SIZES_LABEL = {64: "64 B", 1472: "1472 B", 4096: "4 KiB", 65536: "64 KiB", 1048576: "1 MiB"}
YARDSTICK = "memcpy"  # implementation every table row is compared with, same group/cache/size


@dataclass(frozen=True)
class Bar:
    """ours ÷ peer throughput must be at least min_ratio. "{best}" in a case name stands for
    the widest SIMD level in the results (the level dwcp runs at on this machine)."""
    title: str
    ours: str
    peer: str
    min_ratio: float
    info: bool = False  # reported, never fails --strict


@dataclass(frozen=True)
class TimeBar:
    """One call on `size` bytes must take at most max_ns."""
    title: str
    case: str
    size: int
    max_ns: float
    info: bool = False


BARS = [
    Bar("CRC32C wrapper ÷ ISA-L crc32_iscsi direct, 1472 B warm",
        "checksum/crc32c/warm/1472", "checksum/isal_crc32_iscsi/warm/1472", 0.95),
    Bar("CRC32C wrapper ÷ ISA-L crc32_iscsi direct, 1472 B cold",
        "checksum/crc32c/cold/1472", "checksum/isal_crc32_iscsi/cold/1472", 0.95, info=True),
    TimeBar("xor_into of 1 KiB at the active level", "xor_into/{best}/warm/1024", 1024, 30.0),
]
for _pattern in ("clustered", "scattered"):
    for _op in ("encode", "decode"):
        BARS.append(Bar(f"{_op} 4 KiB, 1% {_pattern}, {{best}} ÷ memcpy 4 KiB",
                        f"{_op}:{_pattern}:1%/{{best}}/warm/4096", "copy/memcpy/warm/4096", 0.5))
        BARS.append(Bar(f"{_op} 4 KiB, 1% {_pattern}, {{best}} ÷ scalar variant",
                        f"{_op}:{_pattern}:1%/{{best}}/warm/4096",
                        f"{_op}:{_pattern}:1%/scalar/warm/4096", 5.0))

# Not in the bars, reported to track: the dense scattered case and the no-change scan.
for _op in ("encode", "decode"):
    BARS.append(Bar(f"{_op} 4 KiB, 10% scattered, {{best}} ÷ memcpy 4 KiB",
                    f"{_op}:scattered:10%/{{best}}/warm/4096", "copy/memcpy/warm/4096", 0.5,
                    info=True))
    BARS.append(Bar(f"{_op} 4 KiB, no change, {{best}} ÷ memcpy 4 KiB",
                    f"{_op}:scattered:0%/{{best}}/warm/4096", "copy/memcpy/warm/4096", 0.5,
                    info=True))

LEVELS_WIDEST_FIRST = ("avx512", "avx2", "sse2", "scalar")


def best_level(values):
    present = {name.split("/")[1] for name in values if name.startswith("xor_into/")}
    return next((lvl for lvl in LEVELS_WIDEST_FIRST if lvl in present), "scalar")


def load_medians(path):
    """Maps case name -> {metric: median}, and case name -> error message."""
    data = json.loads(Path(path).read_text())
    values, errors, runs = {}, {}, {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        metrics = {k: v for k, v in b.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                values[name] = metrics
        else:
            runs.setdefault(name, []).append(metrics)
    for name, rs in runs.items():  # no aggregates (one repetition): median of the runs
        if name not in values:
            keys = set.intersection(*(set(r) for r in rs))
            values[name] = {k: statistics.median(r[k] for r in rs) for k in keys}
    return values, errors


def split_name(name):
    """(group, implementation, cache, bytes) or None for a name of another shape."""
    parts = name.split("/")
    if len(parts) != 4 or not parts[3].isdigit():
        return None
    return parts[0], parts[1], parts[2], int(parts[3])


def gbps(values, name):
    v = values.get(name, {}).get("bytes_per_second")
    return None if v is None else v / 1e9


def bar_rows(values, errors):
    rows, failed = [], False
    best = best_level(values)
    for bar in BARS:
        title = bar.title.replace("{best}", best)
        if isinstance(bar, TimeBar):
            case = bar.case.replace("{best}", best)
            rate = values.get(case, {}).get("bytes_per_second")
            target = f"≤ {bar.max_ns:.0f} ns"
            if rate is None:
                rows.append((title, "—", "—", "—", target, errors.get(case, f"missing {case}")))
                failed = failed or not bar.info
                continue
            ns = bar.size / rate * 1e9
            ok = ns <= bar.max_ns
            failed = failed or (not ok and not bar.info)
            rows.append((title, f"{ns:.1f} ns", "—", "—", target,
                         ("PASS" if ok else "FAIL") + (" (info)" if bar.info else "")))
            continue
        ours_name, peer_name = bar.ours.replace("{best}", best), bar.peer.replace("{best}", best)
        ours, peer = gbps(values, ours_name), gbps(values, peer_name)
        target = f"≥ {bar.min_ratio:.2f}×"
        if ours is None or peer is None:
            missing = next(n for n in (ours_name, peer_name) if gbps(values, n) is None)
            why = f"error: {errors[missing]}" if missing in errors else f"missing {missing}"
            rows.append((title, "—", "—", "—", target, why))
            failed = failed or not bar.info
            continue
        ratio = ours / peer
        ok = ratio >= bar.min_ratio
        result = ("PASS" if ok else "FAIL") + (" (info)" if bar.info else "")
        failed = failed or (not ok and not bar.info)
        rows.append((title, f"{ours:.2f} GB/s", f"{peer:.2f} GB/s", f"{ratio:.3f}×", target,
                     result))
    head = ("bar", "ours (median)", "peer (median)", "ratio", "target", "result")
    return markdown(head, rows), failed


def throughput_tables(values, errors):
    """One table per group: a row per implementation and cache, a column per size."""
    cases = {}
    for name in set(values) | set(errors):
        parsed = split_name(name)
        if parsed:
            group, impl, cache, size = parsed
            cases.setdefault(group, {}).setdefault((impl, cache), {})[size] = name
    out = []
    for group in sorted(cases):
        rows_by_key = cases[group]
        sizes = sorted({s for row in rows_by_key.values() for s in row})
        head = ["implementation", "cache"] + [SIZES_LABEL.get(s, f"{s} B") for s in sizes]
        order = sorted(rows_by_key, key=lambda k: (k[1] != "warm", k[0] == YARDSTICK, k[0]))
        rows = []
        for impl, cache in order:
            cells = [impl, cache]
            for size in sizes:
                name = rows_by_key[(impl, cache)].get(size)
                v = gbps(values, name) if name else None
                if name in errors:
                    cells.append(f"error: {errors[name]}")
                elif v is None:
                    cells.append("—")
                else:
                    base = (gbps(values, f"{group}/{YARDSTICK}/{cache}/{size}") or
                            gbps(values, f"copy/{YARDSTICK}/{cache}/{size}"))
                    cells.append(f"{v:.2f}" if impl == YARDSTICK or not base
                                 else f"{v:.2f} ({v / base:.2f}×)")
            rows.append(cells)
        out.append(f"### {group}: GB/s (× {YARDSTICK} of the same size and cache)\n\n" +
                   markdown(head, rows))
    return "\n\n".join(out)


def markdown(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="simd_bench JSON output")
    parser.add_argument("--out", help="also write the Markdown here")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 if a non-informational bar fails or is missing")
    args = parser.parse_args()
    try:
        values, errors = load_medians(args.json)
    except (OSError, ValueError) as e:
        sys.exit(f"simd_ratios.py: cannot read {args.json}: {e}")

    bars, failed = bar_rows(values, errors)
    text = ("## dwcp simd bench: bars\n\n" + bars + "\n\n## Throughput (medians)\n\n" +
            throughput_tables(values, errors) + "\n")
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    if args.strict and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
