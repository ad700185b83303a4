"""Prints meanfield's ns per weight update next to the peers' and the speed-up (peer / meanfield).

usage: compare.py MEANFIELD_JSON PEER_JSONL...   (as written by `meanfield bench --json` and the peers)"""

import json
import sys

ours = {r["workload"]: r for r in json.load(open(sys.argv[1]))}
peers = {}
for path in sys.argv[2:]:
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            peers.setdefault(r["workload"], {})[r["peer"]] = r

names = sorted({p for rows in peers.values() for p in rows})
header = f"{'workload':<16}{'meanfield ns':>14}" + "".join(f"{p + ' ns':>14}{p + ' ×':>10}" for p in names)
print(header)
for workload, r in ours.items():
    line = f"{workload:<16}{r['ns_per_weight_update']:>14.3f}"
    for p in names:
        peer = peers.get(workload, {}).get(p)
        if peer is None:
            line += f"{'-':>14}{'-':>10}"
        else:
            line += f"{peer['ns_per_weight_update']:>14.3f}{peer['ns_per_weight_update'] / r['ns_per_weight_update']:>10.2f}"
    print(line)
print("× = peer time / meanfield time (above 1: meanfield is faster); final risks:")
for workload, r in ours.items():
    risks = ", ".join(f"{p} {peers[workload][p]['final_risk']:.5f}" for p in names if p in peers.get(workload, {}))
    print(f"  {workload:<16} meanfield {r['final_risk']:.5f}, {risks}")
