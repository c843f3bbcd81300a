"""One source, two copies: ``source/NN_x.ipynb`` -> ``exercises/NN_x.ipynb`` + ``solutions/NN_x.ipynb``.

The instructor writes one notebook per exercise in ``source/``. Markers in it say what the
student must write:

* In code cells, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are the
  answer. The student copy gets ``raise NotImplementedError(...)`` at the indentation of the
  BEGIN marker instead; the solution copy keeps the lines and drops the two marker lines.
* In markdown cells, ``<!-- BEGIN SOLUTION -->`` / ``<!-- END SOLUTION -->`` do the same for a
  written answer, which becomes "*Your answer here.*".
* A cell tagged ``hidden-check`` is a grader's check: it stays in the solution copy and is
  removed from the student copy. Untagged assert cells stay in both as self-checks.

Markers that are nested, unclosed or unopened are an error naming the file and cell. Both
copies are written without outputs, with the course kernel, through a temporary file and a
rename (an interrupted release never leaves half a notebook). ``--check`` writes nothing and
fails when a committed copy differs from what would be written: the tests run it, so the
copies can never drift from their source.

Cells keep their ids from the source, and every check cell (one calling
``checks.question("id", points=N)``) carries ``metadata.rtxcourse``: its questions, whether it
is hidden, and a checksum of its text, which the grader uses to restore it by id; a check cell
that is a ``%%framework NAME`` section also carries ``framework: NAME`` (its questions belong
to that framework's path, see :mod:`rtxcourse.course.checks`).
"""

from __future__ import annotations

import ast
import copy
import sys
from pathlib import Path

from rtxcourse.course import notebook
from rtxcourse.files import atomic_write

BEGIN_CODE, END_CODE = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_MD, END_MD = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
HIDDEN_TAG = "hidden-check"
STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'
MD_STUB = "*Your answer here.*"


class ReleaseError(ValueError):
    """A source notebook is malformed; the message names the file and the cell."""


def _strip(cell_src: str, begin: str, end: str, stub: str | None, where: str) -> str:
    """Replace (stub given) or unwrap (stub None) every marked block in one cell's source."""
    out, inside, indent = [], False, ""
    for n, line in enumerate(cell_src.split("\n"), 1):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise ReleaseError(f"{where}, line {n}: '{begin}' inside another solution block (nested markers)")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if stub is not None:
                out.append(indent + stub)
        elif marker == end:
            if not inside:
                raise ReleaseError(f"{where}, line {n}: '{end}' without a '{begin}' before it")
            inside = False
        elif begin in line or end in line:
            raise ReleaseError(f"{where}, line {n}: a solution marker must stand alone on its line")
        elif not inside or stub is None:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: '{begin}' is never closed by '{end}'")
    return "\n".join(out)


def question_ids(cell) -> list[tuple[str, float]]:
    """The ``(id, points)`` of every ``question("id", points=N)`` call in a code cell.

    A cell that starts with a cell magic (``%%framework tf``) is read without that line: its body is Python.
    """
    src = notebook.source(cell).lstrip()
    if src.startswith("%%"):
        src = src.partition("\n")[2]
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "question"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            points = next((k.value.value for k in node.keywords if k.arg == "points" and isinstance(k.value, ast.Constant)), 1)
            out.append((node.args[0].value, points))
    return out


def section_of(cell) -> str | None:
    """The framework of a ``%%framework NAME`` cell, or None for any other cell."""
    words = notebook.source(cell).lstrip().partition("\n")[0].split()
    return words[1] if len(words) == 2 and words[0] == "%%framework" else None


def stamp_checks(nb, where: str) -> None:
    """Mark every check cell with its questions and a checksum; question ids must be unique."""
    seen: dict[str, str] = {}
    for cell in nb.cells:
        qs = question_ids(cell) if cell.cell_type == "code" else []
        if not qs:
            cell.metadata.pop("rtxcourse", None)
            continue
        for qid, _ in qs:
            if qid in seen:
                raise ReleaseError(f"{where}: question id {qid!r} is used in cells {seen[qid]} and {cell.id}")
            seen[qid] = cell.id
        cell.metadata["rtxcourse"] = {
            "questions": [{"id": q, "points": p} for q, p in qs],
            "hidden": HIDDEN_TAG in cell.metadata.get("tags", []),
            "checksum": notebook.checksum(cell),
        }
        if section_of(cell):
            cell.metadata["rtxcourse"]["framework"] = section_of(cell)


def make_copies(source_nb, where: str):
    """Return (exercise, solution) notebooks built from one parsed source notebook.

    Cells keep their source ids in both copies, so the grader can put a hidden check back,
    or restore an edited one, by id.
    """
    student, solution = copy.deepcopy(source_nb), copy.deepcopy(source_nb)
    student.cells = [c for c in student.cells if HIDDEN_TAG not in c.metadata.get("tags", [])]
    n_blocks = 0
    for nb, is_student in ((student, True), (solution, False)):
        for i, cell in enumerate(nb.cells):
            cw = f"{where}, cell {cell.get('id') or i + 1}"
            if cell.cell_type == "code":
                n_blocks += is_student and cell.source.count(BEGIN_CODE)
                cell.source = _strip(cell.source, BEGIN_CODE, END_CODE, STUB if is_student else None, cw)
            elif cell.cell_type == "markdown":
                cell.source = _strip(cell.source, BEGIN_MD, END_MD, MD_STUB if is_student else None, cw)
        stamp_checks(nb, where)
    if n_blocks == 0:
        raise ReleaseError(f"{where}: no '{BEGIN_CODE}' block, so the exercise would have nothing to do")
    return notebook.clean(student), notebook.clean(solution)


def find_root(start: Path | None = None) -> Path:
    """The course repository root: the nearest folder up from ``start`` holding source/."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "source").is_dir() and (d / "pyproject.toml").is_file():
            return d
    pkg_root = Path(__file__).resolve().parents[2]  # an editable install: the checkout (rtxcourse/course/ is two down)
    if (pkg_root / "source").is_dir():
        return pkg_root
    raise ReleaseError(f"no course repository (a folder with source/ and pyproject.toml) at or above {here}")


def plan(root: Path) -> dict[Path, str]:
    """Every file ``release`` would write, with its text, from the catalog's exercise sources."""
    from rtxcourse.course import catalog

    out: dict[Path, str] = {}
    names = [lesson.exercise for lesson in catalog.lessons() if lesson.exercise]
    for name in names:
        src = root / "source" / f"{name}.ipynb"
        where = f"source/{src.name}"
        if not src.is_file():
            raise ReleaseError(f"{where}: named as an exercise in lessons.toml but missing")
        try:
            nb = notebook.read(src)
        except notebook.NotebookError as e:
            raise ReleaseError(str(e)) from None
        student, solution = make_copies(nb, where)
        out[root / "exercises" / src.name] = notebook.dumps(student)
        out[root / "solutions" / src.name] = notebook.dumps(solution)
    unlisted = sorted({p.name for p in (root / "source").glob("*.ipynb")} - {f"{n}.ipynb" for n in names})
    if unlisted:
        raise ReleaseError(f"source/ has notebooks no lesson names as its exercise: {', '.join(unlisted)}")
    return out


def stale(root: Path, files: dict[Path, str]) -> list[str]:
    """Generated files that differ from ``files``, and strays in exercises/ or solutions/."""
    diffs = [str(p.relative_to(root)) for p, text in files.items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]
    for folder in ("exercises", "solutions"):
        for p in sorted((root / folder).glob("*.ipynb")):
            if p not in files:
                diffs.append(f"{folder}/{p.name} (no source: remove it)")
    return diffs


def main(check: bool = False, root: str | Path | None = None) -> int:
    """Regenerate (or with ``check`` verify) exercises/ and solutions/; return an exit code."""
    try:
        base = Path(root).resolve() if root else find_root()
        files = plan(base)
    except ReleaseError as e:
        print(f"rtxcourse release: {e}", file=sys.stderr)
        return 2
    diffs = stale(base, files)
    if check:
        if diffs:
            print("rtxcourse release --check: these files differ from their source; run `rtxcourse release`:\n  "
                  + "\n  ".join(diffs), file=sys.stderr)
            return 1
        print(f"rtxcourse release --check: {len(files)} files up to date")
        return 0
    for path, text in files.items():
        atomic_write(path, text)
    for d in diffs:
        if d.endswith("(no source: remove it)"):
            print(f"warning: {d}", file=sys.stderr)
    print(f"rtxcourse release: wrote {len(files)} files ({len(diffs)} changed)")
    return 0

