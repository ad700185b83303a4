"""The machine's float64 multiply-add peak, as a BLAS reaches it: the best of five 2000 × 2000 matrix products
(2·n³ flops each) in NumPy's BLAS, on 1 and on 2 threads (each in a fresh interpreter, since the BLAS reads
its thread count at import). Then the fraction of that peak the `minibatch-1000` step reaches, from
MEANFIELD_JSON (`meanfield bench --json`), counting 4 flops per weight update (a multiply-add in the
forward pass, one in the gradient).

usage: peak.py [MEANFIELD_JSON]"""

import json
import os
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


peak = {t: gflops(t) for t in (1, 2)}
print(f"float64 peak (best of 5 dgemm 2000², NumPy's BLAS): {peak[1]:.1f} GFLOP/s on 1 thread, {peak[2]:.1f} on 2")
if len(sys.argv) > 1:
    for r in json.load(open(sys.argv[1])):
        if r["workload"] == "minibatch-1000":
            rate = 4 / r["ns_per_weight_update"]
            threads = min(r["threads"], 2)
            print(f"minibatch-1000 on {r['threads']} threads: {rate:.1f} GFLOP/s, {100 * rate / peak[threads]:.0f} % of the {threads}-thread peak")
