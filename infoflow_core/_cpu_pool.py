"""Independent CPU tasks on single-threaded workers: speed that a busy machine does not halve.

torch parallelises each CPU operation over its intra-op threads, and every
operation ends at a barrier. When another process holds a core, one of those
threads is descheduled and the others wait at every barrier for it, so a 2-thread
kernel sum can run slower than a 1-thread one (measured in
``benchmarks/results/gm_entropy_cpu-2cores-*_load-*.md``).

:func:`run_tasks` instead runs independent tasks (slices of the queries of a
kernel sum) on ``torch.get_num_threads()`` worker threads, each task with one
intra-op thread. Workers take the next task when they finish one, so a worker that
the OS deschedules delays only its own task, never the others. The split into
tasks depends on the problem's sizes only, never on the thread count or the load,
and every task computes its slice with one thread: results are the same, bit for
bit, whatever ``torch.set_num_threads`` or ``OMP_NUM_THREADS`` says.

>>> out = [0] * 4
>>> run_tasks([lambda i=i: out.__setitem__(i, i * i) for i in range(4)])
>>> out
[0, 1, 4, 9]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

__all__: list[str] = []

_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}  # (process id, workers) -> pool
_LOCK = threading.Lock()
_LOCAL = threading.local()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The pool of this process (a forked child has none of its parent's threads)."""
    key = (os.getpid(), workers)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infoflow-cpu",
                                                        initializer=_mark_worker)
        return pool


def _mark_worker() -> None:
    _LOCAL.worker = True


@contextlib.contextmanager
def task_runner(device: torch.device | str | None = None):
    """A block in which torch's intra-op thread count is 1; yields ``run(tasks)``.

    ``run`` runs ``tasks`` (callables that write their own results) to completion:
    on ``torch.get_num_threads()`` worker threads (as counted on entering the
    block), in submission order; here, one after another, on a GPU ``device``, with
    one thread, or when called from inside a task. The first exception a task
    raises is re-raised after every task has finished. The preparation done in the
    block between runs (partitions, probes) is single-threaded too, so that no
    operation waits at a barrier for a descheduled thread.
    """
    workers = torch.get_num_threads()
    on_cpu = device is None or torch.device(device).type == "cpu"
    if not on_cpu or workers <= 1 or getattr(_LOCAL, "worker", False):
        yield _run_here
        return
    torch.set_num_threads(1)
    try:
        yield lambda tasks: _run_on(_pool(workers), tasks)
    finally:
        torch.set_num_threads(workers)


def run_tasks(tasks: list[Callable[[], None]], device: torch.device | str | None = None) -> None:
    """Run ``tasks`` as :func:`task_runner`'s ``run`` does."""
    with task_runner(device) as run:
        run(tasks)


def _run_here(tasks: list[Callable[[], None]]) -> None:
    for task in tasks:
        task()


def _run_on(pool: ThreadPoolExecutor, tasks: list[Callable[[], None]]) -> None:
    if len(tasks) <= 1:
        return _run_here(tasks)
    futures = [pool.submit(task) for task in tasks]
    errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
