#!/usr/bin/env bash
# Runs `meanfield bench` and the NumPy and PyTorch peers on the same workloads, one after the other on this
# machine, and prints the speed-ups. Peers whose library is missing are skipped with a message
# (pip install numpy torch). Usage: bench/peers/run.sh [WORKLOAD...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/target/bench"
mkdir -p "$out"
cd "$root"
cargo build --release --quiet
target/release/meanfield bench "$@" --json "$out/meanfield.json"
peers=()
for peer in numpy torch; do
    if python3 -c "import $peer" 2>/dev/null; then
        python3 "bench/peers/${peer}_peer.py" "$@" | tee "$out/$peer.jsonl"
        peers+=("$out/$peer.jsonl")
    else
        echo "skipping the $peer peer: python3 cannot import $peer"
    fi
done
python3 bench/peers/compare.py "$out/meanfield.json" "${peers[@]}"
if python3 -c "import numpy" 2>/dev/null; then
    python3 bench/peers/peak.py "$out/meanfield.json"
fi
