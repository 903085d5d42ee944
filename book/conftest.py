"""nbval: check the ``# NBVAL_CHECK_OUTPUT`` cells of the clean chapter notebooks.

Chapters are committed without outputs, and nbval never compares a cell whose stored
copy was not run. So the expected output of each ``# NBVAL_CHECK_OUTPUT`` cell is
kept in that cell's metadata, ``metadata["nbval"]["expected_outputs"]`` (recorded at
the quick scale by ``python tests/nbval_record.py book/NN_slug.ipynb``), and this hook
puts it back as the cell's stored output before nbval runs the cell. A changed
number then fails ``make test-notebooks``; a marked cell with nothing recorded fails
too, saying how to record it (``tests/test_notebooks_clean.py`` checks the same
without running anything).
"""

from __future__ import annotations

import nbformat

MARKER = "NBVAL_CHECK_OUTPUT"
_MISSING = (
    "no expected output recorded for this # NBVAL_CHECK_OUTPUT cell: "
    "run `INFOFLOW_SCALE=quick python tests/nbval_record.py {path}`"
)


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        cell = getattr(item, "cell", None)
        options = getattr(item, "options", None)
        if cell is None or options is None or cell.get("cell_type") != "code" or MARKER not in cell.source:
            continue
        expected = cell.get("metadata", {}).get("nbval", {}).get("expected_outputs")
        if expected is None:
            expected = [{"output_type": "stream", "name": "stdout", "text": _MISSING.format(path=item.fspath)}]
        cell.outputs = [nbformat.from_dict(out) for out in expected]
        cell.execution_count = 1  # nbval compares only cells that were run
