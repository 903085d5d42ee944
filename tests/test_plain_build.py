"""A build that never hangs: the book built the plain way, ``jupyter-book build .``,
without the Makefile's ``INFOFLOW_BATCH``.

The cause of the hang this guards against: a live cell (``live_controls``, an ipywidgets
``interact`` whose function prints into an ``Output`` widget) executed by nbclient, which
stands in for the widget's front end and sends each captured output to the kernel on the
shell channel while it waits on that socket for the cell's reply. The wake-up can be lost
(jupyter/nbclient#312): the kernel is idle and the build waits out the cell's whole
timeout (900 s in ``_config.yml``), in a third or more of the runs of chapter 3.
``live_controls`` now takes its batch path under any client that does not allow stdin,
nbclient included (``infoflow_core.plots.in_batch``)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_cache.executors.utils import single_nb_execution

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _plain_env(**extra) -> dict:
    """The environment of someone typing the command: no INFOFLOW_BATCH."""
    env = {k: v for k, v in os.environ.items() if k != "INFOFLOW_BATCH"}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def test_nbclient_execution_takes_the_batch_path_without_the_variable(monkeypatch):
    """A live cell executed as myst-nb executes it (jupyter-cache, nbclient), with
    INFOFLOW_BATCH unset: in_batch() is True in the kernel, the function runs once with
    the controls' values, and no widget is displayed. A few seconds."""
    monkeypatch.delenv("INFOFLOW_BATCH", raising=False)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_code_cell("from infoflow_core.plots import in_batch, live_controls\nprint(in_batch())"),
        nbformat.v4.new_code_cell("import ipywidgets as widgets\n"
                                  "live_controls(lambda k: print('k =', k), k=widgets.IntSlider(value=3, max=9));"),
    ]
    t0 = time.perf_counter()
    result = single_nb_execution(nb, cwd=None, timeout=60, allow_errors=False)
    seconds = time.perf_counter() - t0
    assert result.err is None, result.exc_string
    first, live = (cell.outputs for cell in result.nb.cells)
    assert [o.get("text") for o in first] == ["True\n"]
    assert [o.get("text") for o in live] == ["k = 3\n"]
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in live)
    assert seconds < 50, f"{seconds:.0f} s: a cell waited out its timeout"


@pytest.mark.slow
def test_plain_jupyter_book_build_of_chapter_3(tmp_path):
    """``jupyter-book build`` of a book holding only chapter 3 (the one seen to hang),
    with the repository's own ``_config.yml`` and no INFOFLOW_BATCH. INFOFLOW_SCALE=quick
    only keeps it cheap (the scale has nothing to do with the hang; about 30 s on 2
    cores). The build must finish within 5 minutes (a stall lasts the 900 s of
    ``execute.timeout``), and the live cell must have run its batch path."""
    book = tmp_path / "book_copy"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/03_constellation\n")
    shutil.copy(ROOT / "book" / "03_constellation.ipynb", book / "book")
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([str(JUPYTER_BOOK), "build", str(book)], env=_plain_env(INFOFLOW_SCALE="quick"),
                              capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else err.stdout or ""
        pytest.fail(f"the plain build of chapter 3 did not finish in {err.timeout} s (a hung cell?):\n{out[-3000:]}")
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (book / "_build" / "html" / "book" / "03_constellation.html").is_file()
    executed = nbformat.read(book / "_build" / "jupyter_execute" / "book" / "03_constellation.ipynb", as_version=4)
    live = next(c for c in executed.cells if c.get("id") == "constellation-21")
    assert live.outputs and not any(WIDGET_VIEW in o.get("data", {}) for o in live.outputs)
    assert any("text/html" in o.get("data", {}) for o in live.outputs)  # the figure, drawn once
    assert seconds < 240, f"the plain build of chapter 3 took {seconds:.0f} s"
