#!/usr/bin/env python3
"""Print corio's median-time ratios against Tokio, async-executor and OS threads.

Reads criterion's output (<dir>/**/new/estimates.json and the benchmark.json beside it),
pairs the functions of each group (`corio`, `tokio`, `async-executor`, `threads`; see
benches/benches/common/mod.rs) and prints corio's median time divided by each other's:
below 1.0 means corio is faster.

    cargo bench -p corio-benches
    python3 benches/ratios.py                      # target/criterion of this workspace
    python3 benches/ratios.py RUN1 RUN2 RUN3       # copies of target/criterion, one per run:
                                                   # per-run ratios, their median and spread
    python3 benches/ratios.py --markdown RUN1 ...  # the same as a markdown table

Targets (issues 3 and 7): corio/tokio <= 1.0 on every rt_multi_threaded and sync workload;
corio/threads <= 0.02 on spawn/join_10000_units (spawn + join >= 50x faster than threads).
The verdict column judges the median over runs. Python 3 standard library only.
"""

import json
import os
import statistics
import sys

BASELINE = "corio"
OTHERS = ["tokio", "async-executor", "threads"]


def load(root):
    """{group: {function: median ns}} for one criterion output directory."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        group = bench["group_id"]
        function = bench.get("function_id") or bench.get("value_str") or "?"
        out.setdefault(group, {})[function] = est["median"]["point_estimate"]
    return out


def target(group, other):
    """The highest acceptable corio/other ratio, or None when there is no target."""
    if other == "threads":
        # spawn + join must be at least 50x faster than OS threads; other thread
        # comparisons (tcp_echo's thread per connection) are reported without a target.
        return 1 / 50 if group.startswith("spawn/") else None
    if other == "tokio" and (
        group.startswith("rt_multi_threaded/")
        or group.startswith("sync_")
        or group.startswith("timer/")
        or group == "tcp_echo"
    ):
        return 1.0
    return None


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main(argv):
    markdown = "--markdown" in argv
    dirs = [a for a in argv if a != "--markdown"]
    if not dirs:
        here = os.path.dirname(os.path.abspath(__file__))
        dirs = [os.path.join(here, "..", "target", "criterion")]
    runs = []
    for d in dirs:
        if not os.path.isdir(d):
            sys.exit(f"{d}: no such directory; run `cargo bench -p corio-benches` first")
        runs.append(load(d))

    groups = sorted({g for r in runs for g in r}, key=group_order)
    rows = []
    for g in groups:
        for other in OTHERS:
            ratios, corio_ns = [], []
            for r in runs:
                times = r.get(g, {})
                if BASELINE in times and other in times:
                    ratios.append(times[BASELINE] / times[other])
                    corio_ns.append(times[BASELINE])
            if not ratios:
                continue
            med = statistics.median(ratios)
            limit = target(g, other)
            verdict = "" if limit is None else ("ok" if med <= limit else "MISS")
            if other == "threads" and med < 1:
                verdict += f" ({1 / med:.1f}x faster)"
            rows.append((g, other, statistics.median(corio_ns), ratios, med, verdict))

    n = len(runs)
    head = ["workload", "vs", "corio median"] + [f"run {i + 1}" for i in range(n)]
    if n > 1:
        head += ["median", "spread"]
    head += ["target"]
    table = []
    for g, other, corio_ns, ratios, med, verdict in rows:
        line = [g, other, fmt_time(corio_ns)] + [f"{x:.3f}" for x in ratios]
        line += [""] * (n - len(ratios))
        if n > 1:
            line += [f"{med:.3f}", f"{max(ratios) - min(ratios):.3f}"]
        line += [verdict.strip()]
        table.append(line)

    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(" --- " for _ in head) + "|")
        for line in table:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
        for line in [head] + table:
            print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    print()
    print(f"ratio = corio median time / other median time (< 1 means corio is faster); "
          f"{n} run(s)" + ("; spread = max - min over runs" if n > 1 else ""))
    misses = [r for r in rows if r[5].startswith("MISS")]
    if misses:
        print("missed targets: " + ", ".join(f"{g} vs {o} ({m:.3f})" for g, o, _, _, m, _ in misses))


def group_order(group):
    """rt_multi_threaded first, then spawn, then sync, each in criterion's order of names."""
    for i, prefix in enumerate(("rt_multi_threaded/", "spawn/", "sync_mpsc/", "sync_semaphore/",
                                "sync_notify/")):
        if group.startswith(prefix):
            rest = group[len(prefix):]
            # notify_one_10 < notify_one_50 < ... numerically.
            stem, _, num = rest.rpartition("_")
            key = (stem, int(num)) if num.isdigit() else (rest, 0)
            return (i, ORDER.get(rest, 99), key)
    return (9, 0, (group, 0))


# Tokio's order of the scheduler workloads, then the small spawn benchmark before the big one.
ORDER = {name: i for i, name in enumerate([
    "spawn_many_local", "spawn_many_remote_idle", "spawn_many_remote_busy1",
    "spawn_many_remote_busy2", "ping_pong", "yield_many", "chained_spawn",
    "join_1000_current_thread", "join_10000_units"])}


if __name__ == "__main__":
    main(sys.argv[1:])
