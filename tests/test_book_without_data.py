"""The book builds from what it stores: chapter 6 (MNIST) at the ``book`` scale shows the
stored run without MNIST's image files, and only what really needs images asks for them,
with a message saying how to get them.

Every test here hides the files: ``INFOFLOW_DATA_DIR`` points at an empty folder, ``HOME``
at another (so ``~/.cache/infoflow/mnist`` is empty too) and downloads fail at once (the
in-process fetch is replaced; the chapter's kernel gets a proxy that refuses every
connection). Nothing is ever downloaded."""

import os
import socket
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from infoflow_core.data import mnist as mnist_data
from infoflow_core.experiments.mnist import mnist_results
from infoflow_core.plots import mnist as mnist_plots

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTER = BOOK / "06_mnist.ipynb"
RESULTS = BOOK / "results"
NEEDS_STORED = pytest.mark.skipif(not (RESULTS / "mnist" / "full" / "summary.json").is_file()
                                  and not (RESULTS / "mnist" / "book" / "summary.json").is_file(),
                                  reason="no stored MNIST run in book/results/mnist")


def _closed_port() -> int:
    """A local TCP port nobody listens on (connections to it are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """No MNIST files anywhere the library looks, and no download possible."""
    empty = tmp_path / "data"
    empty.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("INFOFLOW_DATA_DIR", str(empty))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    proxy = f"http://127.0.0.1:{_closed_port()}"  # for the chapter's kernel (another process)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def offline(url, dest):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(mnist_data, "_urlopen_fetch", offline)
    assert mnist_data.mnist_folder() is None
    return tmp_path


@NEEDS_STORED
def test_stored_run_and_its_figures_need_no_images(no_mnist, monkeypatch):
    """What chapter 6 shows from the stored run: loading it, every figure and every
    table it prints, with the image loader made to fail loudly if anything calls it."""
    def no_images(*args, **kwargs):
        raise AssertionError("the stored-result path read MNIST images")

    monkeypatch.setattr("infoflow_core.experiments.mnist.load_mnist", no_images)
    monkeypatch.setattr(mnist_data, "load_mnist", no_images)
    results = mnist_results("book", results_dir=RESULTS, progress=False)
    assert results.config.scale in ("full", "book")
    assert results.describe()
    assert len(results.table1()) == len(results.variants) == 6
    assert results.errors_per_seed() and results.slope_summary()
    assert results.two_bin_ceiling().shape == (4,)
    assert results.distance_overlap().shape == (len(results.config.fig8_epochs), 5)
    for plot in (mnist_plots.plot_table1, mnist_plots.plot_cosine_histograms, mnist_plots.plot_two_bin_entropy,
                 mnist_plots.plot_unit_entropy, mnist_plots.plot_distance_histograms):
        assert plot(results).data
    assert not any(no_mnist.rglob("*.gz"))  # nothing downloaded, nothing created


def test_what_needs_images_says_how_to_get_them(no_mnist):
    """Loading the images, and computing a run (the quick scale always computes), raise
    one FileNotFoundError that names the folders, the variable and a download command."""
    cache = no_mnist / "home" / ".cache" / "infoflow" / "mnist"
    for call in (mnist_data.load_mnist, lambda: mnist_results("quick", results_dir=RESULTS, progress=False)):
        with pytest.raises(FileNotFoundError) as err:
            call()
        message = str(err.value)
        assert "INFOFLOW_DATA_DIR" in message and str(no_mnist / "data" / "mnist") in message
        assert str(cache) in message and "download_mnist(" in message
        assert "train-images-idx3-ubyte.gz" in message and "network unreachable (test)" in message
    assert not (no_mnist / "data" / "mnist").exists() and not cache.exists()


def test_how_to_get_mnist_names_the_first_folder_searched(no_mnist, tmp_path):
    text = mnist_data.how_to_get_mnist()
    assert f"download_mnist({str(no_mnist / 'data' / 'mnist')!r})" in text
    mine = tmp_path / "mine"
    assert f"download_mnist({str(mine)!r})" in mnist_data.how_to_get_mnist(mine)


@NEEDS_STORED
@pytest.mark.slow
def test_chapter_6_builds_from_stored_results_without_images(no_mnist):
    """Chapter 6 executed as the book build does (``INFOFLOW_BATCH=1``, the ``book``
    scale, in book/) without the files: no error; the data cell says what is missing
    and how to get it; the two cells that need images say they are skipped; the
    figures of the stored run are drawn. About 15 s on 2 cores."""
    nb = nbformat.read(CHAPTER, as_version=4)
    env = {"INFOFLOW_BATCH": "1", "INFOFLOW_SCALE": "book", "OMP_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}}).execute()
        seconds = time.perf_counter() - t0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cells = {c.id: c for c in nb.cells}

    def text(cell_id):
        return "".join(o.get("text", "") for o in cells[cell_id].outputs if o.output_type == "stream")

    note = text("3802b75a")
    assert "Not on this page" in note and "MNIST files not found" in note
    assert "INFOFLOW_DATA_DIR" in note and "download_mnist(" in note
    assert "not shown" in text("87fd3a2c") and "Not computed" in text("66e688e4")
    assert "stored run" in text("63260143")
    for cell_id in ("31b3b097", "e3254576", "5f3166d4", "a7e54102", "3282518f"):  # the stored run's figures
        assert any("text/html" in o.get("data", {}) for o in cells[cell_id].outputs), cell_id
    assert seconds < 120, f"chapter 6 from stored results took {seconds:.0f} s"
