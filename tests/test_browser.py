"""The built book in a real browser, with the network switched off.

Headless Debian Chromium (driven by Playwright's sync API, ``executable_path``
``/usr/bin/chromium``) opens every chapter page listed in ``_toc.yml`` from
``_build/html`` while a route aborts every request that is not ``file://``. On each
page it checks that

* plotly.js is the locally served copy matching the installed plotly package;
* every figure the notebook emitted (``div.plotly-graph-div``) drew: it became a
  ``.js-plotly-plot`` with an ``svg.main-svg`` and at least one trace;
* notebook chapters (``.ipynb``) carry at least one figure;
* for every figure with a slider, a real mouse click on a different step of the
  slider's rail moves the slider and changes what the figure draws (its SVG, slider
  itself excluded);
* no text box of a figure (legend, annotation, slider label or current value, title,
  axis title) overlaps another, no legend or slider label overlaps a plotting area,
  and no title or legend is cut off at the figure's edge (at the first slider step and
  after moving to the last);
* pages with formulas typeset them offline (MathJax from ``_static/mathjax``);
* no script raised (``pageerror``), no console error other than the aborted network
  requests, and no page asked for require.js (which breaks plotly's UMD bundle).

``make test-browser`` builds the book (``make book-quick``) and installs Chromium
first. Without a built book or without Chromium the tests skip, saying why.
``INFOFLOW_BOOK_ROOT`` points at another book folder (with ``_toc.yml`` and
``_build/html``), e.g. a temporary one-chapter build.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _browser import block_requests_except

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
BOOK_ROOT = Path(os.environ.get("INFOFLOW_BOOK_ROOT", REPO))
HTML = BOOK_ROOT / "_build" / "html"
TOC = BOOK_ROOT / "_toc.yml"
CHROMIUM = os.environ.get("INFOFLOW_CHROMIUM", "/usr/bin/chromium")
# The flags that work for Debian's chromium as root here (see shared/STACK.md);
# Playwright adds --headless, --no-sandbox and its own fresh --user-data-dir.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Scripts that must never be requested: with require.js on the page, plotly's UMD
# bundle defines an AMD module instead of window.Plotly and no figure draws.
FORBIDDEN_SCRIPTS = ("require.js", "require.min.js", "embed-amd.js", "plotly-latest", "cdn.plot.ly")


# Console errors that are not bugs: aborted requests (MathJax from its CDN), and
# pydata-sphinx-theme finding no saved light/dark choice in a fresh profile.
BENIGN_CONSOLE_ERRORS = ("Failed to load resource", "net::ERR_FAILED", "Got invalid theme mode")


def _toc_files() -> list[str]:
    """Every ``file:`` entry of the table of contents, root first."""
    import yaml

    toc = yaml.safe_load(TOC.read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return files


def _source_suffix(entry: str) -> str:
    for suffix in (".ipynb", ".md"):
        if (BOOK_ROOT / (entry + suffix)).exists():
            return suffix
    return ""


def _pages() -> list:
    if not TOC.exists():
        return [pytest.param(None, id="no-toc")]
    return [pytest.param(entry, id=entry) for entry in _toc_files()]


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").exists():
        pytest.skip(f"no built book at {HTML}: run `make book-quick` (or `make test-browser`, which builds it)")
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed: run `make chromium` (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _installed_plotlyjs_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


# JavaScript run in the page -------------------------------------------------------

# Per emitted figure: did it draw?
_JS_FIGURES = """() => Array.from(document.querySelectorAll('div.plotly-graph-div')).map(gd => ({
    id: gd.id,
    drawn: gd.classList.contains('js-plotly-plot') && !!gd.querySelector('svg.main-svg'),
    traces: (gd._fullData || []).length,
    sliders: gd._fullLayout ? (gd._fullLayout.sliders || []).filter(s => s.visible !== false).length : 0,
}))"""

# What a figure draws, slider and update menus excluded (they move with the click).
_JS_SIGNATURE = """(id) => {
    const gd = document.getElementById(id);
    return Array.from(gd.querySelectorAll('svg.main-svg')).map(svg => {
        const copy = svg.cloneNode(true);
        copy.querySelectorAll('.slider-container, .updatemenu-container').forEach(n => n.remove());
        return copy.outerHTML;
    }).join('') + JSON.stringify(gd.data.map(t => t.visible));
}"""

_JS_ACTIVE = "(id) => document.getElementById(id)._fullLayout.sliders[0].active"
_JS_NSTEPS = "(id) => document.getElementById(id)._fullLayout.sliders[0].steps.length"


# Per figure: boxes of its text (legend, annotations, slider labels, titles) and of its
# plotting areas, in page coordinates; the checks are done in Python.
_JS_BOXES = """(id) => {
    const gd = document.getElementById(id);
    const r = n => { const b = n.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    const vis = n => { const b = n.getBoundingClientRect(); return b.width > 0.5 && b.height > 0.5
                        && getComputedStyle(n).visibility !== 'hidden' && getComputedStyle(n).display !== 'none'; };
    const out = {fig: r(gd), text: [], areas: []};
    const add = (kind, sel) => gd.querySelectorAll(sel).forEach(n => {
        if (vis(n) && (n.textContent || '').trim() !== '' || (kind === 'legend' && vis(n)))
            out.text.push({kind, label: (n.textContent || '').trim().slice(0, 60), box: r(n)});
    });
    gd.querySelectorAll('.legend').forEach(n => {
        const bg = n.querySelector('rect.bg');
        if (bg && vis(bg) && n.querySelectorAll('.traces').length)
            out.text.push({kind: 'legend', label: (n.textContent || '').trim().slice(0, 60), box: r(bg)});
    });
    gd.querySelectorAll('.slider-container .slider-rail-rect').forEach(n => {
        if (vis(n)) out.text.push({kind: 'slider rail', label: '', box: r(n)});
    });
    add('annotation', '.annotation .annotation-text-g');
    add('slider label', '.slider-container .slider-label');
    add('slider value', '.slider-container .slider-current-value');
    add('title', '.g-gtitle text');
    add('axis title', '[class^="g-"][class$="title"]:not(.g-gtitle) text');
    gd.querySelectorAll('.draglayer .nsewdrag').forEach(n => { if (vis(n)) out.areas.push(r(n)); });
    gd.querySelectorAll('.gl-container > div').forEach(n => { if (vis(n)) out.areas.push(r(n)); });
    return out;
}"""


def _overlap(a, b, tol=1.0) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > tol and min(a[3], b[3]) - max(a[1], b[1]) > tol


def _layout_problems(page, fig_id: str) -> list[str]:
    """Overlapping or cut-off text in one drawn figure (empty when it reads well)."""
    boxes = page.evaluate(_JS_BOXES, fig_id)
    fig, text, areas = boxes["fig"], boxes["text"], boxes["areas"]
    problems = []
    for i, a in enumerate(text):
        for b in text[i + 1:]:
            if {a["kind"], b["kind"]} <= {"slider label", "slider rail"}:
                continue  # tick labels of one rail: plotly spaces them itself
            if _overlap(a["box"], b["box"]):
                problems.append(f"{a['kind']} {a['label']!r} overlaps {b['kind']} {b['label']!r}")
        if a["kind"] in ("legend", "slider label", "slider value", "slider rail", "title"):
            if any(_overlap(a["box"], area, tol=2.0) for area in areas):
                problems.append(f"{a['kind']} {a['label']!r} lies over a plotting area")
        if a["kind"] in ("legend", "title", "annotation", "axis title"):
            x0, y0, x1, y1 = a["box"]
            if x0 < fig[0] - 1 or x1 > fig[2] + 1 or y0 < fig[1] - 1 or y1 > fig[3] + 1:
                problems.append(f"{a['kind']} {a['label']!r} is cut off at the figure's edge")
    # A 2-D figure keeps at least half its width for plotting (a long legend at the side
    # squeezed one to a quarter).
    if areas:
        left, right = min(a[0] for a in areas), max(a[2] for a in areas)
        if right - left < 0.5 * (fig[2] - fig[0]):
            problems.append(f"plotting area only {right - left:.0f} px of the figure's {fig[2] - fig[0]:.0f} px")
    return problems


def _click_slider_step(page, fig_id: str, target: int) -> None:
    """Click the slider rail at step ``target``'s tick, as a reader would."""
    fig = page.locator(f"#{fig_id}")
    fig.scroll_into_view_if_needed()
    slider = fig.locator(".slider-container").first
    ticks = slider.locator(".slider-tick")
    rail = slider.locator(".slider-rail-touch-rect").first
    rail_box = rail.bounding_box()
    assert rail_box is not None, f"figure {fig_id}: slider rail is not visible"
    if ticks.count() > target:
        tick_box = ticks.nth(target).bounding_box()
        x = tick_box["x"] + tick_box["width"] / 2
    else:  # no tick drawn per step: interpolate along the rail
        n = page.evaluate(_JS_NSTEPS, fig_id)
        x = rail_box["x"] + rail_box["width"] * (0.5 + target) / n
    y = rail_box["y"] + rail_box["height"] / 2
    page.mouse.click(x, y)


@pytest.mark.parametrize("entry", _pages())
def test_page_draws_offline_and_sliders_move(browser, entry):
    if entry is None:
        pytest.skip(f"no table of contents at {TOC}")
    html_file = HTML / (entry + ".html")
    assert html_file.exists(), f"{entry} is in {TOC.name} but {html_file} was not built"

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    blocked = block_requests_except(context, "file://")
    page_errors: list[str] = []
    console_errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(html_file.as_uri(), wait_until="load")
        figures = page.evaluate(_JS_FIGURES)
        if figures:
            version = page.evaluate("() => window.Plotly && window.Plotly.version")
            assert version == _installed_plotlyjs_version(), (
                f"{entry}: window.Plotly is {version!r}, not the served plotly.js {_installed_plotlyjs_version()}"
            )
        if _source_suffix(entry) == ".ipynb":
            assert len(figures) > 0, f"{entry}: a notebook chapter with no plotly figure in its HTML"
        for fig in figures:
            assert fig["drawn"], f"{entry}: figure {fig['id']} did not draw (no svg.main-svg)"
            assert fig["traces"] > 0, f"{entry}: figure {fig['id']} drew no trace"

        layout_problems = []
        for fig in figures:
            if page.locator(f"#{fig['id']}").is_visible():
                page.locator(f"#{fig['id']}").scroll_into_view_if_needed()
                layout_problems += [f"figure {fig['id']}: {p}" for p in _layout_problems(page, fig["id"])]
                if os.environ.get("INFOFLOW_SHOTS"):  # for a person to look at every figure
                    shots = Path(os.environ["INFOFLOW_SHOTS"])
                    shots.mkdir(parents=True, exist_ok=True)
                    page.locator(f"#{fig['id']}").screenshot(path=str(shots / f"{Path(entry).name}-{fig['id'][:16]}.png"))

        moved = 0
        for fig in (f for f in figures if f["sliders"]):
            fig_id = fig["id"]
            if not page.locator(f"#{fig_id}").is_visible():
                continue  # inside a collapsed block: a reader has to open it first
            n_steps = page.evaluate(_JS_NSTEPS, fig_id)
            assert n_steps >= 2, f"{entry}: figure {fig_id} has a slider with {n_steps} step"
            active = page.evaluate(_JS_ACTIVE, fig_id) or 0
            target = n_steps - 1 if active != n_steps - 1 else 0
            before = page.evaluate(_JS_SIGNATURE, fig_id)
            _click_slider_step(page, fig_id, target)
            page.wait_for_function(f"() => {_JS_ACTIVE}('{fig_id}') === {target}", timeout=5000)
            page.wait_for_timeout(100)  # let plotly finish redrawing
            after = page.evaluate(_JS_SIGNATURE, fig_id)
            assert after != before, f"{entry}: moving figure {fig_id}'s slider to step {target} changed nothing drawn"
            layout_problems += [f"figure {fig_id} at slider step {target}: {p}" for p in _layout_problems(page, fig_id)]
            moved += 1
        if any(f["sliders"] for f in figures):
            assert moved > 0, f"{entry}: figures with sliders, but none visible to move"

        assert not layout_problems, f"{entry}: text that cannot be read:\n" + "\n".join(dict.fromkeys(layout_problems))

        # Formulas typeset offline: MathJax is served from the book's own static files.
        if page.evaluate("() => document.querySelectorAll('.math').length") > 0:
            page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0", timeout=15000)
    finally:
        context.close()

    assert not page_errors, f"{entry}: JavaScript errors: {page_errors}"
    real = [m for m in console_errors if not any(b in m for b in BENIGN_CONSOLE_ERRORS)]
    assert not real, f"{entry}: console errors: {real}"
    forbidden = [u for u in blocked if any(s in u for s in FORBIDDEN_SCRIPTS)]
    assert not forbidden, f"{entry}: the page asks for scripts that break plotly: {forbidden}"
