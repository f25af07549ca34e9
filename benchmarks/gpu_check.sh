#!/usr/bin/env bash
# One-shot GPU check for issue 13, for a session that has an NVIDIA H100/H200 (about 8 minutes).
#
#   bash benchmarks/gpu_check.sh            # from the repository root; results in $OUT
#
# Steps (each with its own time limit, so one hang cannot eat the device budget):
#   0. environment: nvidia-smi, python, torch/CUDA, triton, numba            -> env.txt
#   1. installs what is missing from local wheels only (no network on the device):
#      WHEELS=dir (default ./wheels) for triton==3.9.0 and kadanoff's dependencies;
#      kadanoff itself runs from ./src (PYTHONPATH), never from an installed copy
#   2. pytest -m gpu: Triton kernel chi-square, Kaufman L = 16, throughput, exact-KL on the
#      device, trainer throughput                                            -> pytest_gpu.txt
#   3. GPU rows of benchmarks/ising.py and benchmarks/rbm.py  -> bench_ising_gpu.txt, bench_rbm_gpu.txt
#   4. kadanoff reproduce --preset paper --device cuda, timed               -> reproduce_paper.txt
# A summary of exit codes and wall times goes to summary.txt. Without CUDA the script still runs
# every step (GPU tests skip, benchmarks say "no CUDA device"), which checks its plumbing.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu_check}"
mkdir -p "$OUT"
WHEELS="${WHEELS:-wheels}"
PY="${PY:-}"
if [ -z "$PY" ]; then
    for cand in .venv/bin/python python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then
            PY="$cand"
            break
        fi
    done
fi
PY="${PY:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

step() {  # step NAME LIMIT_S LOGFILE CMD...
    local name="$1" limit="$2" logname="$3" log="$OUT/$3"
    shift 3
    local t0 rc
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    local dt
    dt=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}")
    printf '%-22s rc=%-3s %8s s  (limit %s s)  %s\n' "$name" "$rc" "$dt" "$limit" "$logname" | tee -a "$SUMMARY"
    return 0
}

# 0. environment
{
    date -u
    nvidia-smi 2>&1 | head -20 || echo "nvidia-smi: not found"
    echo "python: $PY ($("$PY" --version 2>&1))"
    "$PY" - <<'EOF'
import importlib, platform
print("machine:", platform.machine(), platform.processor())
for name in ("torch", "triton", "numba", "numpy", "scipy", "safetensors", "tqdm", "matplotlib"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {getattr(m, '__version__', '?')}")
    except Exception as e:  # noqa: BLE001
        print(f"{name} MISSING ({e})")
try:
    import torch
    print("cuda available:", torch.cuda.is_available(), "torch cuda:", torch.version.cuda)
    if torch.cuda.is_available():
        print("device:", torch.cuda.get_device_name(), torch.cuda.get_device_capability())
except Exception as e:  # noqa: BLE001
    print("torch import failed:", e)
EOF
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1. install what is missing, from local wheels only
missing=$("$PY" - <<'EOF'
import importlib.util
need = ["triton", "numba", "scipy", "safetensors", "tqdm", "matplotlib", "pytest"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
    pkgs=""
    for m in $missing; do
        if [ "$m" = triton ]; then pkgs="$pkgs triton==3.9.0"; else pkgs="$pkgs $m"; fi
    done
    if [ -d "$WHEELS" ]; then
        step install 180 install.txt "$PY" -m pip install --no-index --find-links "$WHEELS" $pkgs
    else
        echo "missing: $missing; no $WHEELS/ folder to install from (set WHEELS=dir)" | tee -a "$SUMMARY"
    fi
fi

# 2. the gpu-marked tests
step "pytest -m gpu" 170 pytest_gpu.txt \
    "$PY" -m pytest -q -p no:cacheprovider -m gpu -rA -s tests
# 3. benchmark GPU rows
step "bench ising --gpu-only" 60 bench_ising_gpu.txt "$PY" benchmarks/ising.py --gpu-only
step "bench rbm --gpu-only" 75 bench_rbm_gpu.txt "$PY" benchmarks/rbm.py --gpu-only
# 4. the paper preset end to end on the GPU (target: under 2 minutes)
rm -rf "$OUT/paper"
step "reproduce paper cuda" 200 reproduce_paper.txt \
    "$PY" -m kadanoff reproduce --preset paper --device cuda --out "$OUT/paper" --quiet
rm -rf "$OUT/paper/"*.npz "$OUT/paper/"*/checkpoint* 2>/dev/null || true

echo "--- $SUMMARY"
cat "$SUMMARY"
grep -hE "flips/ns|samples/s|passed|failed|error" "$OUT"/pytest_gpu.txt "$OUT"/bench_*_gpu.txt 2>/dev/null | tail -40
