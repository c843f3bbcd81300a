"""Run a notebook cell, written to a ``.py`` file, as the ``__main__`` of this worker process.

Used by the ``%%distributed`` cell magic: ``python -m rtxcourse.workers.cell CELL.py [ARGS...]``.
The notebook's folder (the working directory the launcher passes) goes on ``sys.path`` first,
so the cell can import the learner's own modules next to the notebook, as the notebook can.
"""

from __future__ import annotations

import os
import runpy
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        raise SystemExit("usage: python -m rtxcourse.workers.cell CELL.py [ARGS...]")
    path, args = argv[0], argv[1:]
    sys.argv = [path, *args]  # the cell sees its own arguments, like a script would
    sys.path.insert(0, os.getcwd())
    runpy.run_path(path, run_name="__main__")
    # The cell finished. Leave without the interpreter's final clean-up: a cell that destroys its
    # process group while its DDP model is still referenced (the usual, correct order in a
    # script) has that model freed at exit, after the group is gone, and torch 2.13 + gloo then
    # aborts about one run in three ("terminate called without an active exception"), turning a
    # finished job into a crashed rank. Results are already written; flush output and go.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
