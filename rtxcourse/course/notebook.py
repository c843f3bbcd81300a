"""One model of a notebook for lessons, release and grading: read, clean, write, checksum.

Notebooks are stored the way nbformat writes them (JSON with one list entry per source line,
sorted keys, one-space indent), so a lesson's diff is readable and line-based tools see its
code. Every cell keeps a stable ``id``: release copies it from ``source/`` into ``exercises/``
and ``solutions/`` and the grader finds check cells by it. Writing goes through a temporary
file and a rename, so an interrupted write never leaves half a notebook.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import nbformat

from rtxcourse.files import atomic_write

KERNELSPEC = {"name": "rtxcourse", "display_name": "Python (rtxcourse)", "language": "python"}
# Cell metadata worth keeping in a stored notebook (everything else is per-run noise).
KEPT_CELL_METADATA = ("tags", "editable", "deletable", "rtxcourse")


class NotebookError(ValueError):
    """A file is not a readable notebook; the message says which file and why.

    ``kind`` names the problem for programs (the grader's status): ``"empty"``, ``"json"``
    (not valid JSON), ``"not a notebook"`` (JSON of something else, or not text at all) or
    ``"invalid"`` (a notebook that fails nbformat's schema).
    """

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


def source(cell) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def reads(text: str, where: str = "notebook"):
    """Parse notebook JSON into a version-4 NotebookNode; older versions are upgraded.

    Raises :class:`NotebookError` naming ``where`` for an empty file, text that is not JSON,
    JSON that is not a notebook, or a notebook that fails nbformat's schema.
    """
    if not text.strip():
        raise NotebookError(f"{where}: the file is empty", "empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"{where}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})", "json") from None
    if not isinstance(raw, dict) or "nbformat" not in raw or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise NotebookError(f"{where}: JSON, but not a Jupyter notebook (no 'nbformat' and 'cells')", "not a notebook")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises several types for schema problems
        raise NotebookError(f"{where}: not a valid notebook ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return nb


def read(path: str | Path):
    """Read the notebook at ``path`` (see :func:`reads`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise NotebookError(f"{path}: cannot be read as UTF-8 text ({type(e).__name__}: {e})", "not a notebook") from None
    return reads(text, str(path))


def format_version(path: str | Path) -> int | None:
    """The nbformat major version a file declares, without converting it (None if unreadable)."""
    try:
        return int(json.loads(Path(path).read_text(encoding="utf-8")).get("nbformat"))
    except Exception:
        return None


def clean(nb):
    """Return a copy without outputs, execution counts or per-run metadata, with the course kernel.

    Cell ids are kept; a cell without one (an old notebook) gets ``cell-NNN`` by position.
    """
    nb = copy.deepcopy(nb)
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        cid = cell.get("id")
        if not cid or cid in seen:
            cid = f"cell-{i:03d}"
            while cid in seen:
                cid += "x"
            cell["id"] = cid
        seen.add(cid)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
    return nb


def dumps(nb) -> str:
    """Stable text for a notebook in nbformat's own line-split form: same input, same bytes."""
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def write(nb, path: str | Path) -> Path:
    """Store ``nb`` at ``path`` cleaned (:func:`clean`) and atomically."""
    return atomic_write(Path(path), dumps(clean(nb)))


def checksum(cell) -> str:
    """A short fingerprint of a cell's source, blind to line endings and trailing whitespace.

    Release stores it in each check cell's metadata; the grader compares it with what a
    student handed in to tell an intact check cell from an edited one.
    """
    text = "\n".join(line.rstrip() for line in source(cell).replace("\r\n", "\n").strip().split("\n"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
