#!/usr/bin/env bash
# Runs `meanfield bench` and the NumPy and PyTorch peers on the same workloads, in ROUNDS rounds (default 5)
# of meanfield, then NumPy, then PyTorch, and prints the median speed-ups: on a shared machine whose speed
# drifts over minutes, interleaved rounds expose every side to the same phases, and the median of each side
# discards the odd slow round of either. Then it writes this machine's table into docs/performance.md (the
# tables of other machines stay). Peers whose library is missing are skipped with a message (pip install
# numpy torch).
#
# Usage: [ROUNDS=K] [PYTHON=python3] [BASELINE=path/to/another/meanfield] bench/peers/run.sh [WORKLOAD...]
# PYTHON is the interpreter with the peers' libraries (a venv's). BASELINE adds another meanfield binary
# (an earlier version) to every round, as the side "baseline", to compare two versions on one machine; it is
# left out of docs/performance.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/target/bench"
rounds="${ROUNDS:-5}"
python="${PYTHON:-python3}"
mkdir -p "$out"
rm -f "$out"/round-*
cd "$root"
cargo build --release --quiet
peers=()
for peer in numpy torch; do
    if "$python" -c "import $peer" 2>/dev/null; then
        peers+=("$peer")
    else
        echo "skipping the $peer peer: $python cannot import $peer"
    fi
done
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds"
    target/release/meanfield bench "$@" --json "$out/round-$round-meanfield.json"
    if [ -n "${BASELINE:-}" ]; then
        "$BASELINE" bench "$@" --json "$out/round-$round-baseline.json"
    fi
    for peer in "${peers[@]}"; do
        "$python" "bench/peers/${peer}_peer.py" "$@" | tee "$out/round-$round-$peer.jsonl"
    done
done
peak=()
if "$python" -c "import numpy" 2>/dev/null; then
    "$python" bench/peers/peak.py --json "$out/peak.json" "$out"/round-*-meanfield.json
    peak=(--peak "$out/peak.json")
fi
"$python" bench/peers/compare.py --markdown docs/performance.md "${peak[@]}" "$out"/round-*
