"""The workloads of `meanfield bench`, written the obvious vectorised way, shared by the NumPy and PyTorch peers.

Every workload: yhat = (1/N) sum_i c_i tanh(w_i . x), teacher y = tanh(w* . x), w* ~ N(0, I/d), x ~ N(0, I_d),
w_i ~ N(0, I/d), c_i ~ N(0, 1), float64, Fixed(0.5) steps:
    c_i += eta * mean_b(err_b * h_bi)
    w_i += eta * mean_b(err_b * c_i * (1 - h_bi^2) * x_b)
with err = y - yhat. Sampling the batch is inside the timed loop, as in meanfield's.
The figure of merit: ns per weight update = loop seconds / (N * d * steps * batch * replicas).
"""

WORKLOADS = {
    "online-100": dict(width=100, dim=20, batch=1, steps=2000, replicas=1),
    "online-1000": dict(width=1000, dim=20, batch=1, steps=2000, replicas=1),
    "online-10000": dict(width=10000, dim=20, batch=1, steps=2000, replicas=1),
    "minibatch-1000": dict(width=1000, dim=20, batch=64, steps=500, replicas=1),
    "ensemble-64": dict(width=100, dim=10, batch=1, steps=2000, replicas=64),
}
ETA = 0.5
RISK_SAMPLES = 1000


def weight_updates(w):
    return w["width"] * w["dim"] * w["steps"] * w["batch"] * w["replicas"]
