"""MNIST (LeCun et al., 1999) from its four original IDX files, without torchvision.

Where the files are looked for, in order:

1. the ``data_dir`` argument, when given (a folder holding the four ``.gz`` files);
2. ``$INFOFLOW_DATA_DIR/mnist/``, when the environment variable is set;
3. the user cache folder ``~/.cache/infoflow/mnist/`` (``$XDG_CACHE_HOME`` respected).

The library never guesses other places (such as a folder beside its own source). When
the first candidate folder does not hold all four files and ``download=True``, they
are downloaded from the usual mirrors into it, each checked against its well-known MD5
sum. Otherwise, or when the download fails, one ``FileNotFoundError`` says where to
put them and how to download them (:func:`how_to_get_mnist`); a failed download leaves
no empty folder behind.

>>> sorted(MNIST_FILES)
['test_images', 'test_labels', 'train_images', 'train_labels']
>>> MNIST.pixels(torch.tensor([[0, 255]], dtype=torch.uint8)).tolist()
[[0.0, 1.0]]
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["MNIST", "MNIST_FILES", "MIRRORS", "read_idx", "mnist_folder", "download_mnist", "load_mnist",
           "how_to_get_mnist", "PIXEL_MEAN", "PIXEL_STD", "random_shift"]

#: File name and MD5 sum of each of the four original files.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}

#: Mirrors tried in order (the original yann.lecun.com site often refuses downloads).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Mean and standard deviation of the training pixels scaled to [0, 1].
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081

_ENV = "INFOFLOW_DATA_DIR"
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    The format: a big-endian magic number ``0x0000TTDD`` (``TT`` the element type,
    ``0x08`` for unsigned bytes; ``DD`` the number of dimensions), then each dimension
    as a big-endian uint32, then the data. MNIST's images have magic ``0x803``
    (``(n, 28, 28)``), its labels ``0x801`` (``(n,)``).

    Raises
    ------
    ValueError
        A bad magic number, or a data size that does not match the header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4:
        raise ValueError(f"path {str(path)!r} is too short to be an IDX file ({len(raw)} bytes)")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        magic = int.from_bytes(raw[:4], "big")
        raise ValueError(f"path {str(path)!r}: bad IDX magic number 0x{magic:08x} "
                         "(expected 0x00000801 for labels or 0x00000803 for images)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"path {str(path)!r}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"path {str(path)!r}: header says shape {shape} ({expected} bytes of data) "
                         f"but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cache_folder() -> Path:
    """``~/.cache/infoflow/mnist`` (or under ``$XDG_CACHE_HOME``)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or (Path.home() / ".cache")
    return Path(base) / "infoflow" / "mnist"


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name, _ in MNIST_FILES.values())


def _candidates(data_dir) -> list[Path]:
    """The folders searched, in order (see the module docstring)."""
    if data_dir is not None:
        return [Path(data_dir)]
    out = []
    env = os.environ.get(_ENV, "").strip()
    if env:
        out.append(Path(env) / "mnist")
    out.append(_cache_folder())
    return out


def mnist_folder(data_dir=None) -> Path | None:
    """The first folder (in the order of the module docstring) that holds all four
    files, or None.

    Parameters
    ----------
    data_dir : path, optional
        Search only this folder (it must hold the four ``.gz`` files).
    """
    for folder in _candidates(data_dir):
        if _complete(folder):
            return folder
    return None


def _urlopen_fetch(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as fh:
        shutil.copyfileobj(response, fh)


def download_mnist(folder, *, mirrors: Sequence[str] = MIRRORS,
                   fetch: Callable[[str, Path], None] | None = None) -> Path:
    """Download the four files into ``folder``, checking each MD5 sum.

    Parameters
    ----------
    folder : path
        Created if needed (and removed again, with the parents this call created, when
        the download fails and leaves it empty). Files already there with the right
        MD5 are kept.
    mirrors : sequence of str
        Base URLs (ending in ``/``), tried in order for each file.
    fetch : callable ``(url, dest_path) -> None``, optional
        How to fetch one URL into a file (default: ``urllib``). Tests pass their own.

    Raises
    ------
    RuntimeError
        When no mirror gave a file with the right MD5 sum.
    """
    folder = Path(folder)
    created = _missing_parents(folder)  # removed again if the download fails
    folder.mkdir(parents=True, exist_ok=True)
    fetch = _urlopen_fetch if fetch is None else fetch
    try:
        _download_files(folder, mirrors, fetch)
    except BaseException:
        for path in created:  # deepest first; only folders this call made, and only if empty
            try:
                path.rmdir()
            except OSError:
                break
        raise
    return folder


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    path = folder.absolute()
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _download_files(folder: Path, mirrors: Sequence[str], fetch: Callable[[str, Path], None]) -> None:
    """Fetch each file missing from ``folder`` (or with a wrong MD5) from ``mirrors``."""
    for name, md5 in MNIST_FILES.values():
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as tmp:
                part = Path(tmp.name)
            try:
                fetch(url, part)
                got = _md5(part)
                if got != md5:
                    raise RuntimeError(f"MD5 {got} differs from the expected {md5}")
                part.replace(target)
                break
            except Exception as exc:  # try the next mirror
                errors.append(f"{url}: {exc}")
            finally:
                part.unlink(missing_ok=True)
        else:
            raise RuntimeError(f"could not download {name}:\n  " + "\n  ".join(errors))


@dataclass
class MNIST:
    """The MNIST training and validation (t10k) sets as tensors.

    Attributes
    ----------
    train_images : Tensor, shape (60000, 28, 28), uint8
    train_labels : Tensor, shape (60000,), int64
    test_images : Tensor, shape (10000, 28, 28), uint8
        The paper's "validation set" of 10,000 images.
    test_labels : Tensor, shape (10000,), int64
    folder : Path
        Where the files were read from.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    folder: Path

    @staticmethod
    def pixels(images: torch.Tensor, *, dtype=torch.float32) -> torch.Tensor:
        """Images scaled to [0, 1] (the "pixel space" of Fig. 8)."""
        return images.to(dtype) / 255.0

    @staticmethod
    def normalise(images: torch.Tensor, *, dtype=torch.float32) -> torch.Tensor:
        """Network inputs: pixels in [0, 1] standardised with :data:`PIXEL_MEAN`, :data:`PIXEL_STD`."""
        return (images.to(dtype) / 255.0 - PIXEL_MEAN) / PIXEL_STD


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator, *,
                 fill: float | None = None) -> torch.Tensor:
    """Translate every image by its own random offset of up to ``max_shift`` pixels in
    each direction (training-time augmentation); pixels shifted in take the value ``fill``.

    Parameters
    ----------
    images : Tensor, shape (..., H, W)
        Images, in any float dtype and on any device (network inputs or pixels).
    max_shift : int
        Largest shift in pixels; offsets are uniform on {−max_shift, …, max_shift} in each
        direction, independently per image. 0 returns ``images`` unchanged.
    generator : torch.Generator
        Draws the offsets (on the CPU); its state advances by one draw of shape (..., 2).
    fill : float, optional
        The value of the background (default: that of a black pixel after
        :meth:`MNIST.normalise` in the images' dtype, −PIXEL_MEAN / PIXEL_STD).

    Returns
    -------
    Tensor, shape (..., H, W)
        Same dtype and device as ``images``.

    Examples
    --------
    >>> x = torch.arange(9.0).reshape(1, 3, 3)
    >>> y = random_shift(x, 1, torch.Generator().manual_seed(0), fill=-1.0)
    >>> bool(((y == -1) | torch.isin(y, x)).all())
    True
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be an integer >= 0, got {max_shift!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if images.dim() < 2:
        raise ValueError(f"images must have shape (..., H, W), got {tuple(images.shape)}")
    if max_shift == 0:
        return images
    if fill is None:  # a black pixel, normalised in the images' own dtype (exactly its value)
        fill = float(MNIST.normalise(torch.zeros((), dtype=torch.uint8), dtype=images.dtype))
    *batch, h, w = images.shape
    flat = images.reshape(-1, h, w)  # (B, H, W)
    s = max_shift
    padded = torch.nn.functional.pad(flat, (s, s, s, s), value=fill)  # (B, H + 2s, W + 2s)
    offsets = torch.randint(0, 2 * s + 1, (flat.shape[0], 2), generator=generator).to(images.device)  # (B, 2)
    rows = offsets[:, :1] + torch.arange(h, device=images.device)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(w, device=images.device)  # (B, W)
    b = torch.arange(flat.shape[0], device=images.device)[:, None, None]
    return padded[b, rows[:, :, None], cols[:, None, :]].reshape(*batch, h, w)


def how_to_get_mnist(data_dir=None) -> str:
    """How to get the four files: the folders searched (in order) and a command that
    downloads them (MD5-checked) into the first, for messages that report them missing.

    >>> "download_mnist(" in how_to_get_mnist("/data/mnist")
    True
    """
    candidates = _candidates(data_dir)
    where = "\n  ".join(str(p) for p in candidates)
    names = ", ".join(name for name, _ in MNIST_FILES.values())
    return (f"Put the four files ({names}) in one of:\n  {where}\n"
            f"or set {_ENV} to a folder whose mnist/ subfolder holds them, or pass data_dir. "
            f"To download them (11 MB, from {MIRRORS[0]}) on a machine with network access:\n"
            f"  python -c \"from infoflow_core.data.mnist import download_mnist; "
            f"download_mnist({str(candidates[0])!r})\"")


def load_mnist(data_dir=None, *, download: bool = True, mirrors: Sequence[str] = MIRRORS,
               fetch: Callable[[str, Path], None] | None = None) -> MNIST:
    """Load MNIST's four IDX files (see the module docstring for where they are looked for).

    Parameters
    ----------
    data_dir : path, optional
        A folder holding the four ``.gz`` files (replaces the search).
    download : bool
        Download from ``mirrors`` (MD5-checked) when no folder holds the files.
    mirrors, fetch
        Passed to :func:`download_mnist`.

    Returns
    -------
    MNIST

    Raises
    ------
    FileNotFoundError
        No folder holds the files and ``download`` is False or failed.
    ValueError
        A file is not a valid IDX file or has the wrong shape.
    """
    folder = mnist_folder(data_dir)
    if folder is None:
        target = _candidates(data_dir)[0]
        message = "MNIST files not found. " + how_to_get_mnist(data_dir)
        if not download:
            raise FileNotFoundError(message + " (download=False: nothing was downloaded)")
        try:
            folder = download_mnist(target, mirrors=mirrors, fetch=fetch)
        except (OSError, RuntimeError) as exc:
            raise FileNotFoundError(f"{message}\nDownloading into {target} failed: {exc}") from None
    arrays = {key: read_idx(folder / name) for key, (name, _) in MNIST_FILES.items()}
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (n, 28, 28) or labels.shape != (n,):
            raise ValueError(f"{split} files in {folder} have shapes {images.shape} and {labels.shape}, "
                             f"expected ({n}, 28, 28) and ({n},)")
    return MNIST(
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        folder=folder,
    )
