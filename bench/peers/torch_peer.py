"""PyTorch (CPU, float64) peer of `meanfield bench` (see workloads.py), the same arithmetic as numpy_peer.py with
torch tensors; torch uses all cores for its kernels (torch.get_num_threads()). Prints one JSON object per
workload."""

import json
import sys
import time

import torch

from workloads import ETA, RISK_SAMPLES, WORKLOADS, weight_updates

torch.set_default_dtype(torch.float64)


@torch.no_grad()
def run(name, w, seed=1):
    gen = torch.Generator().manual_seed(seed)
    R, N, d, B, steps = w["replicas"], w["width"], w["dim"], w["batch"], w["steps"]
    wstar = torch.randn(R, d, generator=gen) / d**0.5
    W = torch.randn(R, N, d, generator=gen) / d**0.5
    c = torch.randn(R, N, generator=gen)
    start = time.perf_counter()
    for _ in range(steps):
        x = torch.randn(R, B, d, generator=gen)
        y = torch.tanh(torch.einsum("rbd,rd->rb", x, wstar))
        h = torch.tanh(torch.bmm(x, W.transpose(1, 2)))  # (R, B, N)
        err = y - torch.einsum("rbn,rn->rb", h, c) / N
        gc = torch.einsum("rb,rbn->rn", err, h) / B
        coef = err[:, :, None] * (1.0 - h * h) * c[:, None, :]
        gW = torch.bmm(coef.transpose(1, 2), x) / B
        c += ETA * gc
        W += ETA * gW
    seconds = time.perf_counter() - start
    x = torch.randn(R, RISK_SAMPLES, d, generator=gen)
    y = torch.tanh(torch.einsum("rbd,rd->rb", x, wstar))
    yhat = torch.einsum("rbn,rn->rb", torch.tanh(torch.bmm(x, W.transpose(1, 2))), c) / N
    risk = float(torch.mean(0.5 * (y - yhat) ** 2))
    return dict(workload=name, peer="torch", threads=torch.get_num_threads(), seconds=seconds,
                ns_per_weight_update=seconds * 1e9 / weight_updates(w), final_risk=risk)


if __name__ == "__main__":
    names = sys.argv[1:] or list(WORKLOADS)
    for name in names:
        print(json.dumps(run(name, WORKLOADS[name])), flush=True)
