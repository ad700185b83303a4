"""Prints, per workload, the median ns per weight update of meanfield and of each other side over the rounds
given, the median speed-up (other / meanfield, from the two medians), the range of each side, and whether the
speed target for the workload is met; with --markdown, writes this machine's table into that file.

usage: compare.py [--markdown FILE] [--peak PEAK_JSON] RESULT...
  RESULT: `meanfield bench --json` arrays and the peers' JSON lines, any number of rounds. A file named
          round-K-<side>.json(l) is that side's (meanfield, baseline, numpy, torch); the peers also name
          themselves in their rows.
  --markdown FILE: replace this machine's section of FILE (a Markdown page with one table per machine,
          headed by the CPU, its vector ISA and the thread count) with this run's table; other sections stay.
  --peak PEAK_JSON: peak.py's measured float64 peak, shown in the section."""

import json
import os
import platform
import re
import statistics
import sys

# Issue 8's targets: the peer ("best" = the faster peer) and the speed-up meanfield must reach.
TARGETS = {"online-1000": ("numpy", 10), "online-10000": ("numpy", 10), "minibatch-1000": ("torch", 2),
           "ensemble-64": ("best", 20)}


def rows(path):
    text = open(path).read().strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


args = sys.argv[1:]
markdown = peak_file = None
while args and args[0] in ("--markdown", "--peak"):
    if args[0] == "--markdown":
        markdown = args[1]
    else:
        peak_file = args[1]
    args = args[2:]


def side_of(path):
    match = re.search(r"round-\d+-(\w+)\.jsonl?$", os.path.basename(path))
    return match.group(1) if match else "meanfield"


times = {}  # (workload, side) -> [ns per weight update, one per round]
risks = {}
threads = {}
order = []
for path in args:
    for r in rows(path):
        side = r.get("peer", side_of(path))
        if "threads" in r and side == "meanfield":
            threads[r["workload"]] = r["threads"]
        if r["workload"] not in order:
            order.append(r["workload"])
        times.setdefault((r["workload"], side), []).append(r["ns_per_weight_update"])
        risks[(r["workload"], side)] = r["final_risk"]

peers = sorted({side for (_, side) in times if side != "meanfield"})
verdicts = {}
median = {key: statistics.median(values) for key, values in times.items()}
rounds = max(len(v) for v in times.values())
print(f"medians over {rounds} rounds, ns per weight update (range over the rounds); × = peer median / meanfield median")
header = f"{'workload':<16}{'meanfield ns':>22}" + "".join(f"{p + ' ns':>22}{p + ' ×':>11}" for p in peers)
print(header + "  target")
for workload in order:
    ours = times.get((workload, "meanfield"))
    if ours is None:
        continue
    line = f"{workload:<16}{median[(workload, 'meanfield')]:>8.3f} ({min(ours):.3f}–{max(ours):.3f})"
    ratios = {}
    for p in peers:
        theirs = times.get((workload, p))
        if theirs is None:
            line += f"{'-':>22}{'-':>11}"
            continue
        ratios[p] = median[(workload, p)] / median[(workload, "meanfield")]
        line += f"{median[(workload, p)]:>8.3f} ({min(theirs):.3f}–{max(theirs):.3f}){ratios[p]:>11.2f}"
    peer_ratios = {p: r for p, r in ratios.items() if p != "baseline"}
    if workload in TARGETS and peer_ratios:
        peer, factor = TARGETS[workload]
        ratio = min(peer_ratios.values()) if peer == "best" else peer_ratios.get(peer)
        if ratio is not None:
            verdict = "met" if ratio >= factor else "missed"
            line += f"  {factor}× {'the best peer' if peer == 'best' else peer}: {ratio:.1f}×, {verdict}"
            verdicts[workload] = f"{factor}× {'the best peer' if peer == 'best' else peer}: {verdict}"
    print(line)
print("final risks (the same workload and seed give the same risk every round):")
for workload in order:
    shown = ", ".join(f"{side} {risks[(workload, side)]:.5f}" for side in ["meanfield"] + peers if (workload, side) in risks)
    print(f"  {workload:<16} {shown}")


def machine():
    """The CPU model, its widest vector ISA among those meanfield's kernels are compiled for, and its cores."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    if {"avx512f", "avx512vl"} <= flags:
        isa = "AVX-512 (F + VL)"
    elif {"avx2", "fma"} <= flags:
        isa = "AVX2 + FMA"
    else:
        isa = "baseline x86-64" if platform.machine() == "x86_64" else platform.machine()
    return model, isa, os.cpu_count()


def write_markdown(path):
    model, isa, cores = machine()
    used = sorted(set(threads.values()))
    heading = f"## {model}, {isa}, {cores} cores ({'/'.join(map(str, used)) or '?'} threads)"
    shown = [p for p in peers if p != "baseline"]
    lines = [heading, ""]
    if peak_file:
        peak = json.load(open(peak_file))
        lines += [f"float64 peak (NumPy's BLAS, best of five 2000² matrix products): {peak['gflops_1_thread']:.1f} "
                  f"GFLOP/s on 1 thread, {peak['gflops_2_threads']:.1f} on 2.", ""]
    lines += [f"Medians over {rounds} interleaved rounds of `bench/peers/run.sh`; ns per weight update (range "
              "over the rounds); × = the peer's median over meanfield's.", ""]
    header = "| workload | meanfield ns |" + "".join(f" {p} ns | {p} × |" for p in shown) + " target |"
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for workload in order:
        ours = times.get((workload, "meanfield"))
        if ours is None:
            continue
        cells = [workload, f"{median[(workload, 'meanfield')]:.3f} ({min(ours):.3f}–{max(ours):.3f})"]
        for p in shown:
            theirs = times.get((workload, p))
            if theirs is None:
                cells += ["–", "–"]
            else:
                ratio = median[(workload, p)] / median[(workload, "meanfield")]
                cells += [f"{median[(workload, p)]:.3f} ({min(theirs):.3f}–{max(theirs):.3f})", f"{ratio:.2f}"]
        cells.append(verdicts.get(workload, "–"))
        lines.append("| " + " | ".join(cells) + " |")
    section = "\n".join(lines) + "\n"
    intro = ("# Performance\n\nWritten by `bench/peers/run.sh` (see [the guide](guide/performance.md)): one table per "
             "machine measured, replaced when the script runs again there. Targets are ratios to the NumPy and "
             "PyTorch peers measured in the same run.\n\n")
    text = open(path).read() if os.path.exists(path) else intro
    sections = re.split(r"(?m)^(?=## )", text)
    head, rest = sections[0], [s for s in sections[1:] if not s.startswith(heading + "\n")]
    body = head.rstrip("\n") + "\n\n" + "\n".join(s.rstrip("\n") + "\n" for s in rest + [section])
    open(path, "w").write(body.rstrip("\n") + "\n")
    print(f"{path}: this machine's table written ({heading[3:]})")


if markdown:
    write_markdown(markdown)
