#!/usr/bin/env bash
# Runs `meanfield bench` and the NumPy and PyTorch peers on the same workloads, in ROUNDS rounds (default 5)
# of meanfield, then NumPy, then PyTorch, and prints the median speed-ups: on a shared machine whose speed
# drifts over minutes, interleaved rounds expose every side to the same phases, and the median of each side
# discards the odd slow round of either. Peers whose library is missing are skipped with a message
# (pip install numpy torch). Usage: [ROUNDS=K] bench/peers/run.sh [WORKLOAD...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/target/bench"
rounds="${ROUNDS:-5}"
mkdir -p "$out"
rm -f "$out"/round-*
cd "$root"
cargo build --release --quiet
peers=()
for peer in numpy torch; do
    if python3 -c "import $peer" 2>/dev/null; then
        peers+=("$peer")
    else
        echo "skipping the $peer peer: python3 cannot import $peer"
    fi
done
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds"
    target/release/meanfield bench "$@" --json "$out/round-$round-meanfield.json"
    for peer in "${peers[@]}"; do
        python3 "bench/peers/${peer}_peer.py" "$@" | tee "$out/round-$round-$peer.jsonl"
    done
done
python3 bench/peers/compare.py "$out"/round-*
if python3 -c "import numpy" 2>/dev/null; then
    python3 bench/peers/peak.py "$out"/round-*-meanfield.json
fi
