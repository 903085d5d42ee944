"""Check the Triton kernel's logic on a CPU with Triton's interpreter (no GPU needed).

    pip install "triton==3.6.*"      # in a scratch environment beside torch
    TRITON_INTERPRET=1 python benchmarks/check_triton_interpreter.py

Runs ``infoflow_core._triton._lse_kernel`` on CPU tensors for d ∈ {1, 3, 12, 40}
(unrolled and runtime loops over coordinates), two mixtures per launch, query and
centre counts that are not multiples of the tile sizes, and one query far from
every centre; prints the maximum relative error against the float64 dense path
and exits non-zero above 1e-5. (Triton 3.6's interpreter calls ``int()`` on
1-element arrays, which NumPy 2 rejects; with NumPy 2 patch
``triton/runtime/interpreter.py``'s ``__index__`` to ``int(self.handle.data.reshape(-1)[0])``.)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import triton  # noqa: E402

from infoflow_core import _triton as T  # noqa: E402
from infoflow_core._kernels import _log_kernel_sums_dense  # noqa: E402


def main() -> int:
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for d, beta, n in [(1, 0.05, 150), (3, 0.05, 200), (12, 0.01, 130), (40, 0.3, 100)]:
        B, m = 2, 70
        c = torch.rand(B, n, d, generator=g) * 2 - 1  # (B, n, d)
        x = c[:, :m] + beta * torch.randn(B, m, d, generator=g)  # (B, m, d)
        x[:, 0] = 50.0
        out = torch.empty(B, m, dtype=torch.float32)
        grid = (triton.cdiv(m, T.BLOCK_M), B)
        T._lse_kernel[grid](x, c, out, m, n, d, x.stride(0), x.stride(1), x.stride(2),
                            c.stride(0), c.stride(1), c.stride(2), out.stride(0), out.stride(1),
                            -T._LOG2E / (2 * beta * beta), BLOCK_M=T.BLOCK_M, BLOCK_N=T.BLOCK_N,
                            D_STATIC=d if d <= T.MAX_STATIC_DIM else 0)
        ref = _log_kernel_sums_dense(x.double(), c.double(), beta, "auto")
        err = ((out.double() - ref).abs() / ref.abs().clamp_min(1)).max().item()
        worst = max(worst, err)
        print(f"d={d:3d} β={beta:<5g} n={n}: max relative error {err:.2e}")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
