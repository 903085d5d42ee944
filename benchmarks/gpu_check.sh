#!/usr/bin/env bash
# GPU check of the numerical core, for a machine with an NVIDIA GPU, torch and
# (optionally) Triton preinstalled, no network, and this repository copied as a
# working tree without a virtual environment. Run from anywhere:
#
#     bash benchmarks/gpu_check.sh            # about 6–8 minutes on one GPU
#
# Steps (each under its own time limit; a step that cannot run says why and is
# skipped, and the script still exits 0):
#   1. pytest: the CUDA-parametrized and Triton cases of tests/test_kernels.py,
#      tests/test_entropy.py and tests/test_mutual_information.py (-k "cuda or triton")
#   2. the Triton kernel against a float64 brute force (max relative error, and
#      the auto path's choice), d in {1, 3, 7, 12, 40, 128}
#   3. benchmarks/bench_gm_entropy.py on cuda, d in {3, 7, 12, 128}, R <= 10
#   4. benchmarks/bench_szt_epoch.py: one SZT measured epoch at n_x = 1000
# Everything goes to $OUT/benchmarks/results when $OUT is set, else to
# benchmarks/results; the summary is gpu_check_summary.txt there.
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
RESULTS="${OUT:+$OUT/benchmarks/results}"
RESULTS="${RESULTS:-$REPO/benchmarks/results}"
mkdir -p "$RESULTS"
SUMMARY="$RESULTS/gpu_check_summary.txt"
: > "$SUMMARY"
START=$(date +%s)

note() { echo "[gpu_check] $*" | tee -a "$SUMMARY"; }
has() { "$PY" -c "import $1" >/dev/null 2>&1; }
step() {  # step NAME LIMIT_SECONDS LOG COMMAND...
    local name="$1" limit="$2" log="$3"; shift 3
    local t0=$(date +%s)
    note "step $name: start (limit ${limit} s, log $log)"
    timeout --signal=INT --kill-after=10 "$limit" "$@" > "$log" 2>&1
    local rc=$?
    tail -n 40 "$log"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        note "step $name: TIMED OUT after ${limit} s (partial log kept)"
    else
        note "step $name: exit $rc in $(( $(date +%s) - t0 )) s"
    fi
}

note "repo $REPO, results in $RESULTS, python $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>&1)"
if ! has torch; then
    note "torch is not importable with $PY: nothing can run"; exit 0
fi
"$PY" - <<'PY' 2>&1 | tee -a "$SUMMARY"
import importlib, torch
print(f"torch {torch.__version__}, CUDA available {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
for mod in ("triton", "numpy", "scipy", "pytest", "hypothesis", "sklearn"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod} {getattr(m, '__version__', '?')}")
    except ImportError:
        print(f"{mod}: absent")
PY
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
TRITON=0; has triton && TRITON=1
if [ "$CUDA" != 1 ]; then
    note "no CUDA device: every step needs one; skipped"; exit 0
fi
if ! has numpy; then
    note "numpy is absent: infoflow_core cannot be imported; every step skipped"; exit 0
fi
[ "$TRITON" = 1 ] || note "triton is absent: the Triton kernel cases are skipped (method='auto' falls back to dense/pruned)"

# 1. pytest, CUDA-parametrized and Triton cases only.
if has pytest; then
    FILES="tests/test_kernels.py tests/test_mutual_information.py"
    if has hypothesis && has scipy; then
        FILES="$FILES tests/test_entropy.py"
    else
        note "step 1: tests/test_entropy.py needs hypothesis and scipy (absent): not collected"
    fi
    step "1 pytest (cuda)" 120 "$RESULTS/gpu_pytest.log" \
        "$PY" -m pytest -q -p no:cacheprovider -o addopts="" -k "cuda or triton" \
        --junitxml="$RESULTS/gpu_pytest.xml" $FILES
else
    note "step 1: pytest is absent: skipped (step 2 checks the kernel without it)"
fi

# 2. Triton kernel against a float64 brute force.
if [ "$TRITON" = 1 ]; then
    step "2 triton vs float64" 60 "$RESULTS/gpu_triton_check.log" "$PY" - <<'PY'
import time
import torch
from infoflow_core import _kernels
from infoflow_core._triton import log_kernel_sums_triton

dev = torch.device("cuda")
print("self-check (auto uses the kernel only if True):", _kernels.triton_self_check(dev))
g = torch.Generator(device=dev).manual_seed(0)
worst = 0.0
for d in (1, 3, 7, 12, 40, 128):
    for beta, regime in ((0.005, "spread"), (0.05, "clustered")):
        B, n, m = 3, 5000, 700
        c = torch.rand(B, n, d, generator=g, device=dev, dtype=torch.float64) * 2 - 1
        if regime == "clustered":
            c = c[:, :8].repeat(1, n // 8 + 1, 1)[:, :n] + beta * torch.randn(B, n, d, generator=g, device=dev, dtype=torch.float64)
        idx = torch.randint(0, n, (B, m), generator=g, device=dev)
        x = torch.gather(c, 1, idx[..., None].expand(B, m, d)) + beta * torch.randn(B, m, d, generator=g, device=dev, dtype=torch.float64)
        x[:, 0] = 3.0  # a query far from every centre
        x32, c32 = x.float(), c.float()
        ref = torch.stack([torch.logsumexp(-((xb[:, None] - cb[None]) ** 2).sum(-1) / (2 * beta * beta), 1)
                           for xb, cb in zip(x32.double(), c32.double())])  # same float32 inputs, float64 math
        got = log_kernel_sums_triton(x32, c32, beta)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(5):
            log_kernel_sums_triton(x32, c32, beta)
        torch.cuda.synchronize()
        sec = (time.perf_counter() - t) / 5
        err = ((got.double() - ref).abs() / ref.abs().clamp_min(1.0)).max().item()
        worst = max(worst, err)
        print(f"d={d:3d} β={beta:<5g} {regime:9s}: max relative error {err:.2e}, "
              f"{B * n * m / sec:.2e} pairs/s, auto -> "
              f"{'triton' if torch.equal(_kernels.log_kernel_sums(x32, c32, beta), got) else 'not triton'}")
print(f"worst max relative error {worst:.2e} (float32 inputs; the tests ask <= 2e-5)")
raise SystemExit(0 if worst <= 2e-5 else 1)
PY
else
    note "step 2: triton is absent: skipped"
fi

# 3. Kernel benchmark on cuda.
PATHS="auto dense pruned plain-torch"
[ "$TRITON" = 1 ] && PATHS="$PATHS triton"
has sklearn && PATHS="$PATHS sklearn"
step "3 bench_gm_entropy (cuda)" 120 "$RESULTS/gpu_bench_gm_entropy.log" \
    "$PY" benchmarks/bench_gm_entropy.py --device cuda --dims 3 7 12 128 --max-r 10 --budget 5 \
    --paths $PATHS --out-dir "$RESULTS" --note "benchmarks/gpu_check.sh"

# 4. One SZT measured epoch at n_x = 1000.
step "4 bench_szt_epoch (cuda, n_x 1000)" 150 "$RESULTS/gpu_szt_epoch.log" \
    "$PY" benchmarks/bench_szt_epoch.py --device cuda --n-x 1000 --out-dir "$RESULTS"

note "done in $(( $(date +%s) - START )) s; results in $RESULTS:"
ls -l "$RESULTS" | tee -a "$SUMMARY"
exit 0
