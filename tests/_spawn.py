"""Helpers for tests that start several gloo processes on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest
import torch.multiprocessing as mp

#: Processes per test, and how long the parent waits before killing them.
WORLD = 2
DEADLINE_S = 120.0


def free_port() -> int:
    """A TCP port free on the loopback address (nothing listens beyond it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_and_wait(worker, args: tuple) -> None:
    """``worker(rank, *args)`` in ``WORLD`` spawned processes; fail the test (and kill
    them) when they have not finished within ``DEADLINE_S``."""
    ctx = mp.spawn(worker, args=args, nprocs=WORLD, join=False)
    end = time.monotonic() + DEADLINE_S
    while not ctx.join(timeout=1.0):
        if time.monotonic() > end:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"the {WORLD} gloo processes did not finish within {DEADLINE_S} s")
