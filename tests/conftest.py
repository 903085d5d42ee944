"""Shared test fixtures: the devices to test on (CPU, plus CUDA when present), and the
test data folder (``../shared/data`` beside this checkout unless ``INFOFLOW_DATA_DIR``
is set; the library never looks there by itself)."""

import os
from pathlib import Path

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not os.environ.get("INFOFLOW_DATA_DIR") and _SHARED_DATA.is_dir():
    os.environ["INFOFLOW_DATA_DIR"] = str(_SHARED_DATA)


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def make_generator(device, seed: int = 0) -> torch.Generator:
    """A seeded generator on ``device``."""
    return torch.Generator(device=device).manual_seed(seed)
