#!/usr/bin/env bash
# make bench-pytorch: W1, W2 and W3 (WORKLOADS.md) trained by `nn train` and by PyTorch's CPU
# build (channels-last and default layout), alternated in separate processes, and the ratios.
# With --serving: W2 inference latency at batch 1 instead (issue 17), KernelBench's serving
# rows against scripts/bench-pytorch-serving.py (eval, no_grad), alternated the same way.
#
# PyTorch comes from a virtual environment (.venv-bench/ by default), where torch==2.13.0+cpu
# is pip-installed if missing: pip's configuration here (/etc/pip.conf: find-links = /opt/wheels)
# holds the CPU-only wheel, and its dependencies come from PyPI. The default `torch` wheel
# would bring 5 GB of CUDA libraries.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/bench-pytorch.sh [options]

  --workloads "W1 W2 W3"   which workloads (W1 mlp, W2 cnn, W3 resnet)
  --threads "1 2"          thread counts (nn train --threads, torch.set_num_threads)
  --pairs K                alternations per workload and thread count (default 3)
  --limit N                training images per run for every workload (nn train --limit);
                           default: all 60,000 for W1, 12,800 for W2 and W3
  --full                   all 60,000 training images for every workload
  --epochs E               epochs per run; the last one is compared (default 1; with 2 the
                           compared epoch is a steady one on both sides)
  --warmup S               PyTorch steps left out of its "steady" column (default 50)
  --no-augment             W3 without augmentation (default: flip + crop pad 2, nn train --augment)
  --no-fused               PyTorch's for-loop optimizers instead of fused=True
  --venv DIR               the virtual environment (default .venv-bench)
  --serving                W2 batch-1 inference latency (median, p99) instead of training:
                           KernelBench serving --latency-only against PyTorch in eval mode
                           under no_grad, channels-last and default, --pairs rounds each
  --quick                  one pair at 1 and 2 threads with small limits, to check the script
                           (also QUICK=1 in the environment)
  -h, --help               this text
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WORKLOADS="W1 W2 W3"
THREADS="1 2"
PAIRS=3
LIMIT=""
FULL=0
EPOCHS=1
WARMUP=50
AUGMENT=1
FUSED=1
VENV=".venv-bench"
QUICK="${QUICK:-}"
SERVING=0
TORCH_SPEC="torch==2.13.0+cpu"

while [ $# -gt 0 ]; do
    case "$1" in
        --workloads) WORKLOADS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --pairs) PAIRS="$2"; shift 2 ;;
        --limit) LIMIT="$2"; shift 2 ;;
        --full) FULL=1; shift ;;
        --epochs) EPOCHS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --no-augment) AUGMENT=0; shift ;;
        --no-fused) FUSED=0; shift ;;
        --venv) VENV="$2"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --serving) SERVING=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-pytorch: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [ -n "$QUICK" ] && [ "$QUICK" != 0 ]; then
    PAIRS=1
    WARMUP=5
fi

# ---------------------------------------------------------------- PyTorch
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    echo "bench-pytorch: creating the virtual environment $VENV"
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import sys, torch; sys.exit(torch.__version__ != "2.13.0+cpu")' 2>/dev/null; then
    echo "bench-pytorch: installing $TORCH_SPEC into $VENV (pip: $("$PY" -m pip config list 2>/dev/null | tr '\n' ' '))"
    "$PY" -m pip install --quiet "$TORCH_SPEC" numpy
fi
"$PY" -c 'import numpy' 2>/dev/null || "$PY" -m pip install --quiet numpy  # torch warns at import without it
"$PY" scripts/bench_pytorch.py info

if [ "$SERVING" = 1 ]; then
    # ------------------------------------------------------------ serving latency (issue 17)
    echo "bench-pytorch: swift build -c release --product KernelBench"
    swift build -c release --product KernelBench 2>&1 | tail -1
    BENCH="$(swift build -c release --show-bin-path)/KernelBench"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-pytorch-serving.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    ROWS="$WORK/rows.tsv"
    : > "$ROWS"
    CALLS=3000
    [ -n "$QUICK" ] && [ "$QUICK" != 0 ] && CALLS=300
    echo "bench-pytorch: W2 batch-1 latency, threads $THREADS, $PAIRS round(s), $CALLS timed calls per process"
    for ((round = 0; round < PAIRS; round++)); do
        for threads in $THREADS; do
            sides=(nn torch-cl torch)
            for ((i = 0; i < 3; i++)); do
                # Rotate the order each round so no side always runs first.
                side="${sides[$(((i + round) % 3))]}"
                if [ "$side" = nn ]; then
                    extra=()
                    [ -n "$QUICK" ] && [ "$QUICK" != 0 ] && extra=(--quick)
                    "$BENCH" serving --latency-only --threads "$threads" ${extra[@]+"${extra[@]}"} \
                        --json "$WORK/nn.json" > "$WORK/nn.out"
                    grep 'latency median' "$WORK/nn.out" | sed 's/^ */  /'
                    "$PY" - "$WORK/nn.json" "$threads" "$round" >> "$ROWS" <<'PYEOF'
import json, sys
records = {r["name"]: r["median"] for r in json.load(open(sys.argv[1]))}
print(f"nn\t{sys.argv[2]}\t{sys.argv[3]}\t{records['W2 batch-1 latency median'] * 1e6:.2f}\t"
      f"{records['W2 batch-1 latency p99'] * 1e6:.2f}")
PYEOF
                else
                    extra=()
                    [ "$side" = torch-cl ] && extra=(--channels-last)
                    OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" "$PY" scripts/bench-pytorch-serving.py latency \
                        --threads "$threads" --calls "$CALLS" ${extra[@]+"${extra[@]}"} > "$WORK/torch.out"
                    grep '^pytorch ' "$WORK/torch.out" | sed 's/^/  /'
                    awk -F'\t' -v side="$side" -v t="$threads" -v r="$round" \
                        '$1 == "RESULT" {printf "%s\t%s\t%s\t%s\t%s\n", side, t, r, $2, $3}' "$WORK/torch.out" >> "$ROWS"
                fi
            done
        done
    done
    echo
    "$PY" scripts/bench-pytorch-serving.py summarize "$ROWS"
    exit 0
fi

# ---------------------------------------------------------------- swift-nn
echo "bench-pytorch: swift build -c release --product nn"
swift build -c release --product nn 2>&1 | tail -1
NN="$(swift build -c release --show-bin-path)/nn"

# ---------------------------------------------------------------- runs
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-pytorch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROWS="$WORK/rows.tsv"
: > "$ROWS"

model_of() { case "$1" in W1) echo mlp ;; W2) echo cnn ;; W3) echo resnet ;; *) echo "bench-pytorch: unknown workload $1" >&2; exit 2 ;; esac; }

limit_of() {  # QUICK: 6,400 images for W1, 1,280 for W2 and W3 (100, 20 and 10 steps)
    if [ -n "$LIMIT" ]; then echo "$LIMIT"
    elif [ "$FULL" = 1 ]; then echo 60000
    elif [ -n "$QUICK" ] && [ "$QUICK" != 0 ]; then [ "$1" = W1 ] && echo 6400 || echo 1280
    elif [ "$1" = W1 ]; then echo 60000
    else echo 12800
    fi
}

run_nn() {  # workload model threads limit pair
    local log="$WORK/nn.csv" out="$WORK/nn.out" extra=()
    [ "$2" = resnet ] && [ "$AUGMENT" = 1 ] && extra=(--augment)
    "$NN" train --model "$2" --epochs "$EPOCHS" --threads "$3" --limit "$4" ${extra[@]+"${extra[@]}"} --log "$log" > "$out"
    grep '^epoch ' "$out" | tail -1 | sed "s/^/  nn train       $1 ${3}T: /"
    # The CSV log's last row: ...,seconds,images_per_second (one decimal, where the epoch line rounds).
    local ips
    ips="$(tail -1 "$log" | awk -F, '{print $NF}')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" nn "$5" "$ips" nan >> "$ROWS"
}

run_torch() {  # workload model threads limit pair layout
    local out="$WORK/torch.out" extra=()
    [ "$6" = torch-cl ] && extra+=(--channels-last)
    [ "$2" = resnet ] && [ "$AUGMENT" = 1 ] && extra+=(--augment)
    [ "$FUSED" = 0 ] && extra+=(--no-fused)
    OMP_NUM_THREADS="$3" MKL_NUM_THREADS="$3" "$PY" scripts/bench_pytorch.py train --model "$2" --threads "$3" \
        --limit "$4" --epochs "$EPOCHS" --warmup "$WARMUP" ${extra[@]+"${extra[@]}"} > "$out"
    grep '^pytorch ' "$out" | sed "s/^pytorch [a-z]* default: /  torch default  $1 ${3}T: /; s/^pytorch [a-z]* channels_last: /  torch CL       $1 ${3}T: /"
    local ips steady
    ips="$(awk -F'\t' '$1 == "RESULT" {print $2}' "$out")"
    steady="$(awk -F'\t' '$1 == "RESULT" {print $3}' "$out")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$6" "$5" "$ips" "$steady" >> "$ROWS"
}

echo "bench-pytorch: workloads $WORKLOADS, threads $THREADS, $PAIRS pair(s), $EPOCHS epoch(s) per run," \
     "W3 augmentation $([ "$AUGMENT" = 1 ] && echo 'flip + crop pad 2' || echo off)," \
     "PyTorch optimizers $([ "$FUSED" = 1 ] && echo fused || echo for-loop), PyTorch warm-up $WARMUP steps"
for workload in $WORKLOADS; do
    model="$(model_of "$workload")"
    limit="$(limit_of "$workload")"
    sides=(nn torch-cl torch)
    [ "$model" = mlp ] && sides=(nn torch)  # no convolutions: channels-last is the default layout
    for threads in $THREADS; do
        echo "$workload ($model), $threads thread(s), $limit training images per run:"
        for ((pair = 0; pair < PAIRS; pair++)); do
            # Rotate the order each pair so no side always runs first after a build or another workload.
            n=${#sides[@]}
            for ((i = 0; i < n; i++)); do
                side="${sides[$(((i + pair) % n))]}"
                if [ "$side" = nn ]; then run_nn "$workload" "$model" "$threads" "$limit" "$pair"
                else run_torch "$workload" "$model" "$threads" "$limit" "$pair" "$side"
                fi
            done
        done
    done
done

echo
"$PY" scripts/bench_pytorch.py summarize "$ROWS"
