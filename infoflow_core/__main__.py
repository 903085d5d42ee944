"""Command line: ``python -m infoflow_core {szt,mnist} --scale {quick,book,full} --out DIR``.

Runs an experiment family with a progress bar and writes its arrays and a
``summary.json`` (configuration, version, device, wall time, headline numbers).
"""

from __future__ import annotations

import importlib
import sys

EXPERIMENTS = {"szt": "infoflow_core.experiments.szt", "mnist": "infoflow_core.experiments.mnist"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in EXPERIMENTS:
        print(__doc__.strip())
        print("\nexperiments: " + ", ".join(EXPERIMENTS))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(EXPERIMENTS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
