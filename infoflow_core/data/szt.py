"""The SZT data set (Shwartz-Ziv & Tishby, 2017), used in Section 5.1 of the paper.

All ``2¹² = 4096`` binary patterns of length 12 with a binary label. The file
``var_u.mat`` ships inside the package (1003 bytes; provenance in ``data/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validation import check_positive_int

__all__ = ["SZT_FILE", "SZTData", "load_szt", "split_szt"]

#: The shipped copy of ``var_u.mat`` (MD5 29b51a6cb3eaa73ee0c652fd3feec3e4).
SZT_FILE = Path(__file__).resolve().parent / "var_u.mat"

#: Sizes of the paper's 80/20 split of the 4096 inputs.
N_TRAIN, N_TEST = 3277, 819


@dataclass
class SZTData:
    """The SZT inputs and labels, with a train/test split.

    Attributes
    ----------
    x : Tensor, shape (4096, 12), float32
        Row ``i`` is the binary expansion of ``i`` (most significant bit first), values {0, 1}.
    y : Tensor, shape (4096,), int64
        The label ``y`` of the file, used directly (2118 ones).
    train_idx, test_idx : Tensor, shape (3277,) and (819,), int64
        Disjoint indices into ``x`` covering all 4096 inputs.
    """

    x: torch.Tensor
    y: torch.Tensor
    train_idx: torch.Tensor
    test_idx: torch.Tensor

    def to(self, device) -> "SZTData":
        """The same data on ``device``."""
        return SZTData(*(t.to(device) for t in (self.x, self.y, self.train_idx, self.test_idx)))


def load_szt(path=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Read ``var_u.mat``: the 4096 binary inputs and their labels.

    Parameters
    ----------
    path : str or Path, optional
        The ``.mat`` file; default the copy shipped with the package.

    Returns
    -------
    x : Tensor, shape (4096, 12), float32, values {0, 1}
    y : Tensor, shape (4096,), int64, values {0, 1}
        The file's ``y`` as is. Several public codebases one-hot encode it as
        ``[y, 1 - y]``, so that their class index 0 means ``y = 1``; we do not.

    Examples
    --------
    >>> x, y = load_szt()
    >>> tuple(x.shape), int(y.sum())
    ((4096, 12), 2118)
    """
    import scipy.io

    path = SZT_FILE if path is None else Path(path)
    if not path.exists():
        raise ValueError(f"path {str(path)!r} does not exist")
    mat = scipy.io.loadmat(str(path))
    if "F" not in mat or "y" not in mat:
        raise ValueError(f"path {str(path)!r} lacks the fields 'F' and 'y' of the SZT set")
    f = np.asarray(mat["F"], dtype=np.float32)  # (4096, 12)
    y = np.asarray(mat["y"], dtype=np.int64).reshape(-1)  # (1, 4096) -> (4096,)
    if f.ndim != 2 or f.shape[0] != y.shape[0]:
        raise ValueError(f"path {str(path)!r}: F of shape {f.shape} does not match y of shape {y.shape}")
    return torch.from_numpy(f), torch.from_numpy(y)


def split_szt(n: int = 4096, n_train: int = N_TRAIN, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random train/test split of ``range(n)`` (the paper's 80/20: 3277/819).

    Parameters
    ----------
    n : int
        Number of inputs.
    n_train : int
        Size of the training set, ``1 <= n_train < n``.
    generator : torch.Generator
        A CPU generator; the split depends only on its seed.

    Returns
    -------
    train_idx : Tensor, shape (n_train,), int64, sorted
    test_idx : Tensor, shape (n - n_train,), int64, sorted
    """
    n = check_positive_int(n, "n", minimum=2)
    n_train = check_positive_int(n_train, "n_train")
    if n_train >= n:
        raise ValueError(f"n_train must be smaller than n = {n}, got {n_train}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    perm = torch.randperm(n, generator=generator)  # (n,)
    return perm[:n_train].sort().values, perm[n_train:].sort().values


def szt_data(seed: int = 0) -> SZTData:
    """The SZT set with the paper's 80/20 split drawn from ``torch.Generator().manual_seed(seed)``."""
    x, y = load_szt()
    train_idx, test_idx = split_szt(x.shape[0], generator=torch.Generator().manual_seed(seed))
    return SZTData(x, y, train_idx, test_idx)


__all__.append("szt_data")
