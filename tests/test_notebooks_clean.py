"""Every chapter notebook is committed clean: no outputs, no execution counts, no
saved widget state, kernel ``python3`` (what nbval and the book build run); and
every ``# NBVAL_CHECK_OUTPUT`` cell carries the expected output that nbval checks
(in ``metadata["nbval"]["expected_outputs"]``, see ``book/conftest.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb.get("nbformat") == 4, f"{path.name}: nbformat {nb.get('nbformat')}, expected 4"
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    assert kernel == "python3", f"{path.name}: kernelspec name {kernel!r}, expected 'python3'"
    assert "widgets" not in nb.get("metadata", {}), (
        f"{path.name}: saved ipywidgets state in the metadata; clear it "
        "(jupyter nbconvert --clear-output --ClearMetadataPreprocessor.enabled=True --inplace)"
    )
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; "
        "clear them with `jupyter nbconvert --clear-output --inplace`"
    )


def test_chapter_names_follow_the_convention():
    # book/NN_slug.ipynb: two digits, an underscore, a lower-case slug.
    import re

    bad = [p.name for p in NOTEBOOKS if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name)]
    assert not bad, f"notebooks not named book/NN_slug.ipynb: {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_checked_cells_have_recorded_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    missing = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or "NBVAL_CHECK_OUTPUT" not in source:
            continue
        expected = cell.get("metadata", {}).get("nbval", {}).get("expected_outputs")
        if not expected or not any(out.get("text") or out.get("data") for out in expected):
            missing.append(i)
    assert not missing, (
        f"{path.name}: cells {missing} are marked # NBVAL_CHECK_OUTPUT but hold no recorded output; "
        f"run `INFOFLOW_SCALE=quick .venv/bin/python tests/nbval_record.py book/{path.name}`"
    )
