"""Record the expected outputs of a chapter's ``# NBVAL_CHECK_OUTPUT`` cells.

Usage (from the repository root)::

    INFOFLOW_SCALE=quick .venv/bin/python tests/nbval_record.py book/01_binning.ipynb [...]

Runs each notebook top to bottom at the quick scale (in its own folder, with the
``python3`` kernel), then stores the text outputs of every cell marked
``# NBVAL_CHECK_OUTPUT`` in that cell's metadata, ``metadata["nbval"]["expected_outputs"]``,
and writes the notebook back *without* outputs or execution counts.
``book/conftest.py`` hands them to nbval, so ``make test-notebooks`` fails when a
checked number changes. Rerun this after changing such a cell or the numbers it
prints on purpose, and commit the notebook.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARKER = "NBVAL_CHECK_OUTPUT"
TEXT_KEYS = ("text/plain",)


def _text_outputs(outputs) -> list[dict]:
    """Stream and text/plain outputs only (figures and widgets are never checked)."""
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream":
            kept.append({"output_type": "stream", "name": out["name"], "text": out["text"]})
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = {k: v for k, v in out.get("data", {}).items() if k in TEXT_KEYS}
            if data:
                kept.append({"output_type": out["output_type"], "data": data, "metadata": {},
                             **({"execution_count": 1} if out["output_type"] == "execute_result" else {})})
    return kept


def record(path: Path, timeout: int = 600) -> int:
    """Execute ``path``, store the marked cells' outputs in their metadata, clear the rest."""
    nb = nbformat.read(path, as_version=4)
    run = nbformat.from_dict(nb)  # the executed copy; ``nb`` stays clean
    NotebookClient(run, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    n = 0
    for cell, done in zip(nb.cells, run.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        if MARKER in cell.source:
            cell.metadata.setdefault("nbval", {})["expected_outputs"] = _text_outputs(done.outputs)
            n += 1
        else:
            cell.metadata.get("nbval", {}).pop("expected_outputs", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return n


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip())
        return 2
    if os.environ.get("INFOFLOW_SCALE", "quick") != "quick":
        print("warning: recording at INFOFLOW_SCALE != quick; CI checks at the quick scale", file=sys.stderr)
    os.environ.setdefault("INFOFLOW_SCALE", "quick")
    for name in argv:
        n = record(Path(name))
        print(f"{name}: recorded {n} checked cell(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
