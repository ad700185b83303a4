"""NumPy peer of `meanfield bench` (see workloads.py). Replicas are a leading array axis (batched matmuls), the
obvious vectorisation of an ensemble. Prints one JSON object per workload."""

import json
import sys
import time

import numpy as np

from workloads import ETA, RISK_SAMPLES, WORKLOADS, weight_updates


def run(name, w, seed=1):
    rng = np.random.default_rng(seed)
    R, N, d, B, steps = w["replicas"], w["width"], w["dim"], w["batch"], w["steps"]
    wstar = rng.standard_normal((R, d)) / np.sqrt(d)
    W = rng.standard_normal((R, N, d)) / np.sqrt(d)
    c = rng.standard_normal((R, N))
    start = time.perf_counter()
    for _ in range(steps):
        x = rng.standard_normal((R, B, d))
        y = np.tanh(np.einsum("rbd,rd->rb", x, wstar))
        h = np.tanh(np.matmul(x, W.transpose(0, 2, 1)))  # (R, B, N)
        err = y - np.einsum("rbn,rn->rb", h, c) / N  # (R, B)
        gc = np.einsum("rb,rbn->rn", err, h) / B
        coef = err[:, :, None] * (1.0 - h * h) * c[:, None, :]  # (R, B, N)
        gW = np.matmul(coef.transpose(0, 2, 1), x) / B  # (R, N, d)
        c += ETA * gc
        W += ETA * gW
    seconds = time.perf_counter() - start
    x = rng.standard_normal((R, RISK_SAMPLES, d))
    y = np.tanh(np.einsum("rbd,rd->rb", x, wstar))
    yhat = np.einsum("rbn,rn->rb", np.tanh(np.matmul(x, W.transpose(0, 2, 1))), c) / N
    risk = float(np.mean(0.5 * (y - yhat) ** 2))
    return dict(workload=name, peer="numpy", seconds=seconds,
                ns_per_weight_update=seconds * 1e9 / weight_updates(w), final_risk=risk)


if __name__ == "__main__":
    names = sys.argv[1:] or list(WORKLOADS)
    for name in names:
        print(json.dumps(run(name, WORKLOADS[name])), flush=True)
