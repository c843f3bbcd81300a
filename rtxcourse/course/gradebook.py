"""What ``rtxcourse grade`` writes: the merged gradebook CSV, feedback files, the summary table.

The gradebook has one row per (student, assignment): ``student, assignment``, one column per
question (the ids of every assignment in it, first seen first), then ``total, max, status,
message, seconds``; ``total`` and ``max`` are those of the framework path that counts (see
:mod:`rtxcourse.course.checks`), the question columns hold every question's points. :func:`merge` reads the file, replaces the rows of the grades it is given,
keeps every other row, and writes it atomically, so grading again is idempotent and a run
that is interrupted loses nothing already graded (the grader merges after each submission).

Feedback (Markdown and HTML, one of each per student) says what passed, what failed and why,
with the check's hint, and the errors of the student's own cells. It never shows a cell of
the instructor's source, so neither solutions nor hidden checks reach students.
"""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

from rtxcourse.files import atomic_write

HEAD, TAIL = ["student", "assignment"], ["total", "max", "status", "message", "seconds"]
MARKS = {"passed": "✓", "failed": "✗", "error": "✗", "not attempted": "·", "not run": "–"}


def _num(x: float) -> str:
    return f"{x:g}"


def safe_name(student: str) -> str:
    """A file name for a student id (anything but letters, digits, ``._-`` becomes ``_``)."""
    return re.sub(r"[^\w.-]", "_", student).strip(".") or "_"


def read(path: str | Path) -> tuple[list[str], list[dict]]:
    """The question columns and rows of a gradebook (none when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        return [c for c in fields if c not in HEAD + TAIL], list(reader)


def merge(path: str | Path, grades) -> Path:
    """Put ``grades`` into the gradebook at ``path`` (replacing their earlier rows), atomically."""
    questions, rows = read(path)
    by_key = {(r["student"], r["assignment"]): r for r in rows}
    for g in grades:
        questions += [q for q in g.questions if q not in questions]
        row = {"student": g.student, "assignment": g.assignment, "total": _num(g.total), "max": _num(g.max_points),
               "status": g.status, "message": g.message, "seconds": f"{g.seconds:.1f}"}
        row.update({q: _num(r["points"]) for q, r in g.questions.items()})
        by_key[(g.student, g.assignment)] = row
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEAD + questions + TAIL, restval="", lineterminator="\n")
    writer.writeheader()
    for key in sorted(by_key, key=lambda k: (k[1], k[0])):
        writer.writerow({k: v for k, v in by_key[key].items() if k in writer.fieldnames})
    return atomic_write(path, buf.getvalue())


def _blocks(grade) -> dict:
    """The feedback's content, once, for both renderings."""
    rows = []
    for qid, r in grade.questions.items():
        detail = r["message"] if r["status"] != "passed" else ""
        if r["hint"] and r["status"] in ("failed", "error"):
            detail += f" — hint: {r['hint']}"
        label = f"{qid} (hidden check)" if r.get("hidden") else qid
        rows.append((label, f"{_num(r['points'])}/{_num(r['max_points'])}", f"{MARKS.get(r['status'], '✗')} {r['status']}", detail))
    notes = [n.message for n in sorted(grade.notes, key=lambda n: n.message)] if grade.notes else []
    path = getattr(grade, "path", None)
    counted = (f"; the {path} questions count: your best framework path, the other framework's questions are optional"
               if path else "")
    return {"title": f"Feedback: {grade.assignment}, {grade.student}",
            "score": f"Score: {_num(grade.total)}/{_num(grade.max_points)} points (status: {grade.status}{counted})",
            "notes": notes, "rows": rows, "errors": grade.cell_errors}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(grade) -> str:
    """The student's feedback as Markdown."""
    b = _blocks(grade)
    out = [f"# {b['title']}", "", f"**{b['score']}**", ""]
    if b["notes"]:
        out += ["What the grader noticed:", ""] + [f"- {n}" for n in b["notes"]] + [""]
    out += ["| Question | Points | Result | Why, and a hint |", "|---|---|---|---|"]
    out += [f"| {' | '.join(_md_cell(x) for x in row)} |" for row in b["rows"]]
    if b["errors"]:
        out += ["", "## Errors in your cells", ""]
        for e in b["errors"]:
            out += [f"### {e['where']}: {e['ename']}: {_md_cell(str(e['evalue']))}", "", "```", e["traceback"], "```", ""]
    return "\n".join(out).rstrip() + "\n"


def html_page(grade) -> str:
    """The student's feedback as a standalone HTML page."""
    b, esc = _blocks(grade), html.escape
    out = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{esc(b['title'])}</title>",
           "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;"
           "padding:.3em .6em;text-align:left}table{border-collapse:collapse}pre{background:#f6f6f6;padding:.5em}</style>",
           "</head><body>", f"<h1>{esc(b['title'])}</h1>", f"<p><strong>{esc(b['score'])}</strong></p>"]
    if b["notes"]:
        out += ["<p>What the grader noticed:</p><ul>"] + [f"<li>{esc(n)}</li>" for n in b["notes"]] + ["</ul>"]
    out += ["<table><tr><th>Question</th><th>Points</th><th>Result</th><th>Why, and a hint</th></tr>"]
    out += ["<tr>" + "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>" for row in b["rows"]]
    out += ["</table>"]
    if b["errors"]:
        out += ["<h2>Errors in your cells</h2>"]
        for e in b["errors"]:
            out += [f"<h3>{esc(e['where'])}: {esc(str(e['ename']))}: {esc(str(e['evalue']))}</h3>", f"<pre>{esc(e['traceback'])}</pre>"]
    return "\n".join(out + ["</body></html>"]) + "\n"


def write_feedback(folder: str | Path, grade) -> tuple[Path, Path]:
    """Write ``STUDENT.md`` and ``STUDENT.html`` into ``folder``; return both paths."""
    base = Path(folder) / safe_name(grade.student)
    return (atomic_write(base.with_suffix(".md"), markdown(grade)),
            atomic_write(base.with_suffix(".html"), html_page(grade)))


def summary(grades) -> str:
    """The end-of-run table: one line per student, then the count of each status."""
    lines = [f"{'student':<24} {'points':>10}  {'seconds':>7}  status", "-" * 60]
    for g in grades:
        lines.append(f"{g.student[:24]:<24} {_num(g.total) + '/' + _num(g.max_points):>10}  {g.seconds:7.1f}  {g.status}")
    counts: dict[str, int] = {}
    for g in grades:
        counts[g.status] = counts.get(g.status, 0) + 1
    lines += ["-" * 60, ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "nothing graded"]
    return "\n".join(lines)
