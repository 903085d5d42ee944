"""The book's chapters in a real JupyterLab, in headless Chromium.

A JupyterLab server (this venv's ``jupyter lab``, ``--allow-root``) starts on
127.0.0.1 at a free port with a random token, with its own temporary config, data,
runtime and settings folders and a temporary root folder holding a copy of one
chapter (the tracked notebook is never opened, so nothing autosaves into it).
Playwright drives Debian's Chromium (``executable_path``), every request that is not
to this server aborted. The test checks that the ``jupyterlab-myst`` extension
renders the chapter's MyST markup as the book does:

* the "Live in JupyterLab" admonition is a box with its title, not raw
  ``:class: tip`` text;
* every exercise solution is a closed dropdown (its text hidden until clicked), and
  opening one shows it;
* no rendered Markdown cell shows raw directive text (``:class:``, ```` ```{ ````,
  ``{ref}``, ``(label)=``).

A second test runs a live cell (``live_controls`` with a slider) in a kernel, moves
the slider with the mouse and sees the output change.

The server is stopped (its whole process group) whatever happens; every wait has a
timeout. Without Chromium, Playwright or JupyterLab the tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _browser import block_requests_except

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("INFOFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CHAPTER = "03_constellation.ipynb"  # an admonition, a live box, four dropdown solutions, a {ref}
JUPYTER = Path(sys.executable).with_name("jupyter")
START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 60_000
KERNEL_TIMEOUT_MS = 240_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer {url} within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels (own process group)
        proc.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token, root folder) of a running JupyterLab; stopped at the end."""
    if not JUPYTER.exists():
        pytest.skip(f"no {JUPYTER}: run `make setup`")
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed: run `make chromium`")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    pytest.importorskip("jupyterlab_myst", reason="jupyterlab-myst is not installed: run `make setup`")

    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    shutil.copy(REPO / "book" / CHAPTER, root / CHAPTER)
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell in the DOM (no windowing), so off-screen cells can be checked too.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               IPYTHONDIR=str(tmp / "ipython"), OMP_NUM_THREADS="1")
    env.pop("INFOFLOW_BATCH", None)  # live cells build their widgets, as for a student
    log = tmp / "lab.log"
    cmd = [str(JUPYTER), "lab", "--allow-root", "--no-browser", "--ServerApp.open_browser=False",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        _stop(proc)


@pytest.fixture
def page(lab):
    from playwright.sync_api import sync_playwright

    base, _, _ = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.set_default_timeout(UI_TIMEOUT_MS)
            blocked = block_requests_except(context, base, base.replace("http", "ws"))
            pg = context.new_page()
            pg.blocked = blocked
            yield pg
        finally:
            browser.close()


def _open(page, lab, name: str) -> None:
    base, token, _ = lab
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", state="attached")
    # Markdown cells render once attached: wait for the last exercise's solution.
    page.wait_for_function("() => document.querySelectorAll('.jp-MarkdownCell details').length >= 4")


def test_chapter_markup_renders_in_jupyterlab(lab, page):
    _open(page, lab, CHAPTER)
    shots = os.environ.get("INFOFLOW_SHOTS")

    # Raw directive text nowhere in the rendered Markdown cells.
    rendered = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .jp-MystMarkdown, .jp-MarkdownCell [class*=myst]'))
        .map(n => n.innerText).join('\\n')""")
    assert rendered.strip(), "no rendered Markdown cell found"
    for raw in (":class:", "```{", "{admonition}", "{ref}`", "(awgn-constellation)="):
        assert raw not in rendered, f"raw MyST markup {raw!r} shows in JupyterLab"

    # The live box: an admonition box with its title.
    box = page.locator(".jp-MarkdownCell aside, .jp-MarkdownCell .admonition").filter(
        has_text="Live in JupyterLab").first
    box.scroll_into_view_if_needed()
    bb = box.bounding_box()
    assert bb and bb["height"] > 30 and bb["width"] > 200, f"the live admonition is not a box: {bb}"
    border = box.evaluate("n => getComputedStyle(n).borderLeftWidth + ' ' + getComputedStyle(n).borderTopWidth")
    assert any(float(w.rstrip("px") or 0) > 0 for w in border.split()), "the live admonition has no border"
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        box.screenshot(path=f"{shots}/lab_live_box.png")

    # Solutions: closed dropdowns, hidden until opened.
    n = page.locator(".jp-MarkdownCell details").count()
    assert n == 4, f"{CHAPTER} has 4 exercises, JupyterLab shows {n} dropdowns"
    assert page.evaluate("() => Array.from(document.querySelectorAll('.jp-MarkdownCell details')).every(d => !d.open)")
    first = page.locator(".jp-MarkdownCell details").first
    first.scroll_into_view_if_needed()
    assert "Solution 1" in first.locator("summary").inner_text()
    body = first.locator(":scope > :not(summary)").first
    assert not body.is_visible(), "solution 1 is visible before it is opened"
    if shots:
        first.screenshot(path=f"{shots}/lab_solution_closed.png")
    first.locator("summary").click()
    page.wait_for_function("() => document.querySelector('.jp-MarkdownCell details').open")
    assert body.is_visible(), "solution 1 does not show after a click"
    if shots:
        first.screenshot(path=f"{shots}/lab_solution_open.png")

    assert not page.blocked or all("127.0.0.1" not in u for u in page.blocked)


def test_live_cell_recomputes_when_a_widget_moves(lab, page):
    """A live cell as the chapters write them: run it, move its slider, see the output change."""
    _, _, root = lab
    cell = ("import ipywidgets as widgets\n"
            "from infoflow_core.plots import live_controls\n"
            "live_controls(lambda n: print(f'squared: {n * n}'), n=widgets.IntSlider(value=3, min=0, max=9))")
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "live", "metadata": {}, "outputs": [],
                     "source": cell}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "live.ipynb").write_text(json.dumps(nb))
    base, token, _ = lab
    # A workspace of its own: the chapter opened by the other test stays closed here.
    page.goto(f"{base}/lab/workspaces/live/tree/live.ipynb?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    # Run the cell (Ctrl+Enter) until its output shows: a run requested before the
    # kernel is connected can be dropped, so retry; the kernel imports torch (slow).
    out = page.locator(".jp-CodeCell .jp-OutputArea").first
    has_output = "() => (document.querySelector('.jp-CodeCell .jp-OutputArea') || {}).innerText?.includes('squared: 9')"
    deadline = time.monotonic() + KERNEL_TIMEOUT_MS / 1000
    while True:
        page.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function(has_output, timeout=20_000)
            break
        except Exception:
            if time.monotonic() > deadline:
                if os.environ.get("INFOFLOW_SHOTS"):
                    page.screenshot(path=os.environ["INFOFLOW_SHOTS"] + "/lab_live_failed.png")
                raise
    slider = page.locator(".jp-CodeCell .widget-slider").first
    assert "n" in page.locator(".jp-CodeCell .widget-label").first.inner_text()
    # A reader's mouse: click the slider's rail near its right end.
    rail = page.locator(".jp-CodeCell .widget-slider .noUi-target, .jp-CodeCell .widget-slider .slider").first
    box = rail.bounding_box()
    assert box, "the live slider has no rail on screen"
    page.mouse.click(box["x"] + 0.95 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.querySelector('.jp-CodeCell .jp-OutputArea').innerText"
                           ".includes('squared: 81')")
    text = out.inner_text()
    assert slider.is_visible() and "squared: 81" in text, f"moving the slider to 9 gave: {text!r}"
