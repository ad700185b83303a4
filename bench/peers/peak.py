"""The machine's float64 multiply-add peak, as a BLAS reaches it: the best of five 2000 × 2000 matrix products
(2·n³ flops each) in NumPy's BLAS, on 1 and on 2 threads (each in a fresh interpreter, since the BLAS reads
its thread count at import). Then the fraction of that peak the `minibatch-1000` step reaches, the median
over the MEANFIELD_JSON files given (`meanfield bench --json`, one per round), counting 4 flops per weight update (a
multiply-add in the forward pass, one in the gradient).

usage: peak.py [--json OUT] [MEANFIELD_JSON...]   (--json: also write the peaks as JSON, for compare.py)"""

import json
import os
import statistics
import subprocess
import sys

MEASURE = """
import time, numpy as np
n = 2000
a, b = np.random.default_rng(0).standard_normal((2, n, n))
best = float("inf")
for _ in range(5):
    start = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - start)
print(2 * n**3 / best / 1e9)
"""


def gflops(threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return float(subprocess.run([sys.executable, "-c", MEASURE], env=env, capture_output=True, text=True, check=True).stdout)


args = sys.argv[1:]
out = None
if args[:1] == ["--json"]:
    out, args = args[1], args[2:]
peak = {t: gflops(t) for t in (1, 2)}
if out:
    json.dump({"gflops_1_thread": peak[1], "gflops_2_threads": peak[2]}, open(out, "w"))
print(f"float64 peak (best of 5 dgemm 2000², NumPy's BLAS): {peak[1]:.1f} GFLOP/s on 1 thread, {peak[2]:.1f} on 2")
runs = [r for path in args for r in json.load(open(path)) if r["workload"] == "minibatch-1000"]
if runs:
    rate = 4 / statistics.median(r["ns_per_weight_update"] for r in runs)
    used = max(r["threads"] for r in runs)
    threads = min(used, 2)
    print(f"minibatch-1000 on {used} threads (median of {len(runs)} rounds): {rate:.1f} GFLOP/s, "
          f"{100 * rate / peak[threads]:.0f} % of the {threads}-thread peak")
