"""``rtxcourse grade``: run each student's notebook in a fresh kernel and score its checks.

    rtxcourse grade SUBMISSIONS --assignment NAME --out DIR [-j N] [--timeout S]
                    [--cell-timeout S] [--memory GB] [--source FILE]

SUBMISSIONS is one notebook, or a folder with one file or one folder per student (the student
id is the file's stem or the folder's name). NAME is an exercise of the catalog; its
instructor source is ``source/NAME.ipynb`` (``--source`` grades against another file).

Grading one submission is a chain of small transforms over the notebook model, each of which
may add a note that ends up in the status and the feedback:

1. :func:`read_submission` — the file, or a status saying why it cannot be graded (empty,
   malformed JSON, not a notebook, invalid notebook, no notebook in the folder);
2. :func:`normalise` — nbformat 3 upgraded, a foreign kernel name replaced by the course
   kernel, cell ids made unique;
3. :func:`restore_checks` — every check cell of the source (visible and hidden) put back by
   cell id: a deleted one re-inserted where the source has it, an edited one (its checksum
   differs) restored;
4. :func:`instrument` — the grader's own cells around each check (see below);
5. :mod:`~rtxcourse.course.kernel_runner` — execution in its own process and kernel, under a
   per-cell and a total timeout and a memory limit, outputs capped;
6. :func:`collect` — points per question from the grader's cells, statuses from the errors;
   an exercise with ``%%framework`` checks is scored on the learner's best framework path
   (:func:`rtxcourse.course.checks.best_path`), so a one-framework learner can earn full marks.

The side channel: before any student code runs, a grader cell keeps references to the genuine
checks module and its result store. Before each check cell another rebinds ``ck`` to that
module and forgets earlier results of the cell's questions; after it, a third prints that
cell's results between two random markers (a new nonce per cell, unknown before the cell runs).
Only those cells' outputs are read, each question only from the cell right after its own
check, and points are capped at the source's. docs/instructors.md says what a hostile
submission can still do.

Results go to DIR: ``gradebook.csv`` (merged, see :mod:`~rtxcourse.course.gradebook`),
``feedback/NAME/STUDENT.md`` and ``.html`` (for the student), ``executed/NAME/STUDENT.ipynb``
(for the instructor: it contains the hidden checks) and ``grade.log``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from rtxcourse.course import checks, gradebook, notebook, release
from rtxcourse.course.kernel_runner import GRADER_KEY, kill_group, with_this_package

# Statuses, most important first: a submission gets the first that applies, and every note.
GRADER_ERROR = "grader error"
UNREADABLE = ("empty", "malformed json", "not a notebook", "invalid notebook", "no notebook")
TAMPERED, KERNEL_DIED, MEMORY, TIMEOUT = "tampered", "kernel died", "memory limit", "timeout"
SYSTEM_EXIT, CELL_ERROR, TRUNCATED = "system exit", "cell error", "output truncated"
CHECK_EDITED, CHECK_DELETED, CONVERTED, KERNEL_REPLACED, GRADED = (
    "check edited", "check deleted", "converted", "kernel replaced", "graded")
STATUS_ORDER = (GRADER_ERROR, *UNREADABLE, TAMPERED, KERNEL_DIED, MEMORY, TIMEOUT, SYSTEM_EXIT, CELL_ERROR,
                TRUNCATED, CHECK_EDITED, CHECK_DELETED, CONVERTED, KERNEL_REPLACED, GRADED)
_READ_STATUS = {"empty": "empty", "json": "malformed json", "not a notebook": "not a notebook", "invalid": "invalid notebook"}
SKIPPED_NAMES = ("__MACOSX", ".ipynb_checkpoints")
HARD_KILL_GRACE_S = 90  # the runner's own kernel start-up and shutdown, beyond --timeout

log = logging.getLogger("rtxcourse.grade")


class GradeError(ValueError):
    """The grading run itself cannot start (unknown assignment, missing source): the message says why."""


@dataclass
class Limits:
    cell_timeout: float = 120.0
    timeout: float = 600.0
    memory_gb: float = 4.0
    output_limit: int = 1 << 20


@dataclass
class Submission:
    student: str
    path: Path | None  # None: nothing gradeable (the reason is in problem)
    problem: str = ""


@dataclass
class Note:
    status: str
    message: str


@dataclass
class Grade:
    student: str
    assignment: str
    questions: dict[str, dict]  # id -> {"points", "max_points", "status", "message", "hint", "hidden"}
    notes: list[Note] = field(default_factory=list)
    cell_errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # the whole submission, as the grader saw it
    notebook_seconds: float = 0.0  # the notebook's own cells (the rest is the grader's overhead)
    kernel_start_seconds: float = 0.0

    @property
    def path(self) -> str | None:
        """The framework path the score counts (None: the exercise has one path), see :func:`checks.best_path`."""
        return checks.best_path(self.questions)[0] if self.questions else None

    @property
    def total(self) -> float:
        return checks.best_path(self.questions)[1] if self.questions else 0.0

    @property
    def max_points(self) -> float:
        return checks.best_path(self.questions)[2] if self.questions else 0.0

    @property
    def status(self) -> str:
        present = {n.status for n in self.notes}
        return next((s for s in STATUS_ORDER if s in present), GRADED)

    @property
    def message(self) -> str:
        return "; ".join(n.message for n in sorted(self.notes, key=lambda n: STATUS_ORDER.index(n.status)))


@dataclass
class Assignment:
    """An exercise's checks as the grader needs them, from its instructor source."""

    name: str
    source: Path
    checks: list  # the stamped check cells, in source order
    order: list[str]  # every cell id of the solution copy, in order (to place re-inserted checks)
    max_points: dict[str, float]
    hidden: set[str]  # question ids checked only in hidden cells
    frameworks: dict[str, str] = field(default_factory=dict)  # question id -> its framework path (absent: every path)

    @classmethod
    def load(cls, name: str, source: str | Path | None = None) -> "Assignment":
        """The assignment ``name``: a catalog exercise, or any instructor notebook given as ``source``."""
        if source is None:
            from rtxcourse.course import catalog

            if name not in [lesson.exercise for lesson in catalog.lessons()]:
                known = ", ".join(lesson.exercise for lesson in catalog.lessons() if lesson.exercise)
                raise GradeError(f"no exercise {name!r} in the catalog (lessons.toml); known: {known}")
            try:
                base = release.find_root()
            except release.ReleaseError as e:
                raise GradeError(f"{e}; run from the course repository or pass --source") from None
            source = base / "source" / f"{name}.ipynb"
        source = Path(source)
        try:
            nb = notebook.read(source)
            _, solution = release.make_copies(nb, str(source))
        except (notebook.NotebookError, release.ReleaseError) as e:
            raise GradeError(f"instructor source: {e}") from None
        checks = [c for c in solution.cells if "rtxcourse" in c.metadata]
        max_points, hidden, frameworks = {}, set(), {}
        for c in checks:
            for q in c.metadata["rtxcourse"]["questions"]:
                max_points[q["id"]] = float(q["points"])
                if c.metadata["rtxcourse"]["hidden"]:
                    hidden.add(q["id"])
                if c.metadata["rtxcourse"].get("framework"):
                    frameworks[q["id"]] = c.metadata["rtxcourse"]["framework"]
        return cls(name, source, checks, [c.id for c in solution.cells], max_points, hidden, frameworks)

    def paths(self) -> dict[str | None, float]:
        """The points each framework path offers (None: the one path of an exercise without framework checks)."""
        questions = {q: {"points": 0.0, "max_points": m, "framework": self.frameworks.get(q)} for q, m in self.max_points.items()}
        return {name: available for name, (_, available) in checks.paths(questions).items()}


class Unreadable(Exception):
    """A submission with nothing to run: ``status`` is its gradebook status, the message says why."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# ---------------------------------------------------------------- finding submissions

def _is_skipped(p: Path) -> bool:
    return p.name.startswith(".") or p.name in SKIPPED_NAMES


def find_submissions(path: str | Path, assignment: str) -> list[Submission]:
    """One :class:`Submission` per student in ``path`` (a notebook, or a folder of them)."""
    path = Path(path)
    if path.is_file():
        return [Submission(path.stem, path)]
    if not path.is_dir():
        raise GradeError(f"{path}: no such file or folder of submissions")
    subs, seen = [], set()
    for entry in sorted(path.iterdir()):
        if _is_skipped(entry):
            continue
        student = entry.stem if entry.is_file() else entry.name
        if student in seen:
            student = entry.name
        seen.add(student)
        if entry.is_file():
            subs.append(Submission(student, entry))
            continue
        found = sorted(p for p in entry.rglob("*.ipynb") if not any(_is_skipped(part) for part in map(Path, p.relative_to(entry).parts)))
        named = [p for p in found if p.stem == assignment]
        if len(named) == 1 or len(found) == 1:
            subs.append(Submission(student, (named or found)[0]))
        elif not found:
            subs.append(Submission(student, None, f"the folder {entry.name}/ holds no .ipynb file"))
        else:
            names = ", ".join(str(p.relative_to(entry)) for p in found)
            subs.append(Submission(student, None, f"the folder {entry.name}/ holds several notebooks ({names}) "
                                                  f"and none is named {assignment}.ipynb"))
    return subs


# ---------------------------------------------------------------- the transforms

def read_submission(sub: Submission) -> tuple[nbformat.NotebookNode, list[Note]]:
    """The submitted notebook (version 4) and the notes reading it gave, or :class:`Unreadable`."""
    if sub.path is None:
        raise Unreadable("no notebook", sub.problem)
    try:
        nb = notebook.read(sub.path)
    except notebook.NotebookError as e:
        message = str(e).replace(str(sub.path), sub.path.name)
        if sub.path.suffix != ".ipynb" and e.kind in ("json", "not a notebook"):
            raise Unreadable("not a notebook", f"{sub.path.name} is not a notebook (expected a .ipynb file)") from None
        raise Unreadable(_READ_STATUS.get(e.kind, "invalid notebook"), message) from None
    notes = []
    version = notebook.format_version(sub.path)
    if version is not None and version < 4:
        notes.append(Note(CONVERTED, f"the notebook was in nbformat {version}; it was converted to version 4"))
    return nb, notes


def normalise(nb, notes: list[Note]):
    """A copy on the course kernel, with unique cell ids (cells without one get ``sub-NNN``)."""
    nb = copy.deepcopy(nb)
    name = nb.metadata.get("kernelspec", {}).get("name")
    if name and name != notebook.KERNELSPEC["name"]:
        notes.append(Note(KERNEL_REPLACED, f"the notebook asked for the kernel {name!r}; it ran on the course kernel "
                                           f"{notebook.KERNELSPEC['name']!r}"))
    nb.metadata["kernelspec"] = dict(notebook.KERNELSPEC)
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"sub-{i:03d}"  # never one of the source's ids, so never taken for a check
        seen.add(cell["id"])
    return nb


def _questions_of(cell) -> set[str]:
    return {q for q, _ in release.question_ids(cell)} if cell.cell_type == "code" else set()


def restore_checks(nb, assignment: Assignment, notes: list[Note]):
    """A copy with every check cell of the assignment exactly as the source has it.

    A check is found by its cell id, or else by the question ids its code declares (a copied
    cell gets a new id). Found and edited (checksum differs): restored, noted. Not found:
    re-inserted after the nearest cell that precedes it in the source; a visible one is noted
    as deleted (hidden ones are never in the student's copy).
    """
    nb = copy.deepcopy(nb)
    cells = list(nb.cells)
    restored: set[int] = set()  # ids of the cell objects already put back (positions shift on insert)
    for check in assignment.checks:
        meta = check.metadata["rtxcourse"]
        qids = {q["id"] for q in meta["questions"]}
        at = next((i for i, c in enumerate(cells) if c.get("id") == check.id), None)
        if at is None:
            at = next((i for i, c in enumerate(cells) if id(c) not in restored and _questions_of(c) & qids), None)
        label = ", ".join(sorted(qids))
        if at is not None:
            if notebook.checksum(cells[at]) != meta["checksum"]:
                notes.append(Note(CHECK_EDITED, f"the check cell of {label} was edited; the instructor's version ran instead"))
            cells[at] = copy.deepcopy(check)
            restored.add(id(cells[at]))
            continue
        if not meta["hidden"]:
            notes.append(Note(CHECK_DELETED, f"the check cell of {label} was missing; the instructor's version was put back"))
        before = assignment.order[: assignment.order.index(check.id)]
        ids = [c.get("id") for c in cells]
        anchor = next((ids.index(cid) for cid in reversed(before) if cid in ids), None)
        cells.insert(len(cells) if anchor is None else anchor + 1, copy.deepcopy(check))
        restored.add(id(cells[len(cells) - 1 if anchor is None else anchor + 1]))
    nb.cells = cells
    return nb


_PREAMBLE = """\
# rtxcourse grade: keep the genuine checks module before any submitted code runs
import rtxcourse.course.checks as _rtxcourse_grader_checks
_rtxcourse_grader_checks.reset()
_rtxcourse_grader = (_rtxcourse_grader_checks, _rtxcourse_grader_checks._results,
                     _rtxcourse_grader_checks.question.__exit__)
del _rtxcourse_grader_checks"""

_BEFORE = """\
# rtxcourse grade: the next check uses the genuine module and records afresh
ck = _rtxcourse_grader[0]
for _rtxcourse_q in {qids!r}:
    _rtxcourse_grader[1].pop(_rtxcourse_q, None)"""

_REPORT = """\
# rtxcourse grade: report the results of the check above
def _rtxcourse_report():
    import dataclasses, json, sys
    module, results, exit_ = _rtxcourse_grader
    tampered = [name for name, ok in (("module", sys.modules.get("rtxcourse.course.checks") is module),
                                      ("results", module._results is results),
                                      ("question", module.question.__exit__ is exit_)) if not ok]
    found = {{q: dataclasses.asdict(results[q]) for q in {qids!r} if q in results}}
    print({nonce!r} + json.dumps({{"results": found, "tampered": tampered}}) + {nonce!r})
_rtxcourse_report()
del _rtxcourse_report"""


def _grader_cell(role: str, code: str, **meta):
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata[GRADER_KEY] = {"role": role, **meta}
    return cell


def instrument(nb):
    """A copy with the grader's cells: a preamble, and before and after each check cell."""
    nb = copy.deepcopy(nb)
    cells = [_grader_cell("preamble", _PREAMBLE)]
    for cell in nb.cells:
        meta = cell.metadata.get("rtxcourse")
        if not meta or cell.cell_type != "code":
            cells.append(cell)
            continue
        qids = [q["id"] for q in meta["questions"]]
        nonce = "@@" + secrets.token_hex(16) + "@@"
        cells += [_grader_cell("before", _BEFORE.format(qids=qids), questions=qids), cell,
                  _grader_cell("report", _REPORT.format(qids=qids, nonce=nonce), questions=qids, nonce=nonce)]
    for i, cell in enumerate(cells):  # nbformat wants unique ids
        if GRADER_KEY in cell.metadata:
            cell["id"] = f"rtxcourse-grader-{i:03d}"
    nb.cells = cells
    return nb


# ---------------------------------------------------------------- reading the executed notebook

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _text(outputs, stream: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == stream)


def _error(outputs):
    return next((o for o in outputs if o.get("output_type") == "error"), None)


def _cell_error_note(err, where: str, limits: Limits) -> Note | None:
    """The note for an error raised by a cell outside any question (None: a stub, not an error)."""
    ename, evalue = err.get("ename", "Error"), str(err.get("evalue", ""))[:300]
    if ename == "NotImplementedError":
        return None
    if ename == "KeyboardInterrupt":
        return Note(TIMEOUT, f"{where} ran longer than the cell timeout of {limits.cell_timeout:g} s and was interrupted")
    if ename == "MemoryError":
        return Note(MEMORY, f"{where} ran out of memory (MemoryError): the limit is {limits.memory_gb:g} GB")
    if ename == "SystemExit":
        return Note(SYSTEM_EXIT, f"{where} called sys.exit() / raised SystemExit({evalue}); the rest of the notebook still ran")
    return Note(CELL_ERROR, f"{where} raised {ename}: {evalue}")


def collect(executed, run: dict, assignment: Assignment, limits: Limits, student: str) -> Grade:
    """Score an executed notebook: points from the grader's report cells, notes from errors."""
    grade = Grade(student, assignment.name, {}, notebook_seconds=run.get("notebook_seconds", 0.0),
                  kernel_start_seconds=run.get("kernel_start_seconds", 0.0))
    reported: dict[str, dict] = {}
    check_errors: dict[str, str] = {}
    position = 0
    for index, cell in enumerate(executed.cells):
        role = cell.metadata.get(GRADER_KEY, {}).get("role")
        outputs = cell.get("outputs", [])
        if role == "report":
            _read_report(cell, reported, grade)
            continue
        if role:
            continue
        position += 1  # as the student counts: every cell of their notebook, markdown too
        if cell.cell_type != "code":
            continue
        err = _error(outputs)
        is_check = "rtxcourse" in cell.metadata
        where = f"cell {position}" + (" (a check cell)" if is_check else "")
        if err is not None:
            note = _cell_error_note(err, where, limits)
            if is_check:
                for q in cell.metadata["rtxcourse"]["questions"]:
                    check_errors[q["id"]] = note.message if note else f"{err.get('ename')}: {err.get('evalue', '')}"
            if note:
                grade.notes.append(note)
                if not is_check:
                    tb = _ANSI.sub("", "\n".join(err.get("traceback", [])[-4:]))
                    grade.cell_errors.append({"where": where, "ename": err.get("ename"), "evalue": err.get("evalue", ""),
                                              "traceback": tb[-1500:]})
        if index in run.get("truncated_cells", []):
            grade.notes.append(Note(TRUNCATED, f"{where} printed more than the output limit of "
                                               f"{limits.output_limit / 2**20:g} MB; the rest was dropped"))
    ended = run.get("ended")
    if ended in ("kernel died", "timeout", "kernel failed"):
        status = {"kernel died": KERNEL_DIED, "timeout": TIMEOUT, "kernel failed": GRADER_ERROR}[ended]
        extra = f"; it may have run out of memory (limit {limits.memory_gb:g} GB)" if status == KERNEL_DIED else ""
        grade.notes.append(Note(status, run.get("message", ended) + extra + "; later checks did not run"))
    not_run = ("the kernel stopped before this check ran" if run.get("ended") != "completed"
               else "this check did not run (a %%framework section this machine skips?)")
    for qid, max_points in assignment.max_points.items():
        r = reported.get(qid)
        hidden = qid in assignment.hidden
        framework = assignment.frameworks.get(qid)  # from the source, never from the submission's kernel
        if r is None:
            grade.questions[qid] = {"points": 0.0, "max_points": max_points, "status": "not run",
                                    "message": check_errors.get(qid, not_run), "hint": "", "hidden": hidden,
                                    "framework": framework}
            continue
        passed = r.get("status") == "passed"
        grade.questions[qid] = {"points": max_points if passed else 0.0, "max_points": max_points,
                                "status": str(r.get("status", "error")), "message": str(r.get("message", ""))[:500],
                                "hint": str(r.get("hint", ""))[:300], "hidden": hidden, "framework": framework}
    if any(n.status == TAMPERED for n in grade.notes):
        for q in grade.questions.values():
            q["points"] = 0.0
    return grade


def _read_report(cell, reported: dict, grade: Grade) -> None:
    meta = cell.metadata[GRADER_KEY]
    nonce, text = meta["nonce"], _text(cell.get("outputs", []))
    found = re.findall(re.escape(nonce) + r"(.*?)" + re.escape(nonce), text, flags=re.S)
    if not found and _error(cell.get("outputs", [])) is None and not text:
        return  # the kernel stopped before this cell: nothing to read
    payload = None
    if len(found) == 1:
        try:
            payload = json.loads(found[0])
        except json.JSONDecodeError:
            payload = None
    if not isinstance(payload, dict) or payload.get("tampered"):
        what = ", ".join(payload["tampered"]) if isinstance(payload, dict) else "the grader's report"
        grade.notes.append(Note(TAMPERED, f"the submission's code changed the checks ({what}) around "
                                          f"{', '.join(meta['questions'])}; all points withheld for review by hand"))
        return
    for q in meta["questions"]:
        if q in payload.get("results", {}):
            reported[q] = payload["results"][q]


# ---------------------------------------------------------------- one submission, the batch

class Batch:
    """Grades submissions of one assignment, each in its own runner process; never raises for one."""

    def __init__(self, assignment: Assignment, limits: Limits, executed_dir: Path | None = None,
                 env: dict[str, str] | None = None):
        self.assignment, self.limits, self.executed_dir = assignment, limits, executed_dir
        self.env = dict(env or {})  # set for the runner and its kernel (RTXCOURSE_FRAMEWORKS=tf: a TF-only learner)
        self._procs: dict[subprocess.Popen, Path] = {}  # runners in flight, and their job folders
        self._lock = threading.Lock()
        self.stopping = False

    def grade(self, sub: Submission) -> Grade:
        t0 = time.monotonic()
        try:
            grade = self._grade(sub)
        except Unreadable as e:
            grade = Grade(sub.student, self.assignment.name, self._zero(f"not graded: {e.status}"), [Note(e.status, e.message)])
        except Exception as e:  # a bug of ours must cost one submission, not the batch
            log.error("grader error on %s:\n%s", sub.student, traceback.format_exc())
            grade = Grade(sub.student, self.assignment.name, self._zero("not graded: grader error"),
                          [Note(GRADER_ERROR, f"{type(e).__name__}: {e} (see grade.log)")])
        grade.seconds = time.monotonic() - t0
        return grade

    def _zero(self, message: str) -> dict[str, dict]:
        return {q: {"points": 0.0, "max_points": m, "status": "not run", "message": message, "hint": "",
                    "framework": self.assignment.frameworks.get(q)} for q, m in self.assignment.max_points.items()}

    def _grade(self, sub: Submission) -> Grade:
        nb, notes = read_submission(sub)
        nb = normalise(nb, notes)
        nb = restore_checks(nb, self.assignment, notes)
        prepared = instrument(nb)
        with tempfile.TemporaryDirectory(prefix="rtxcourse-job-") as job:
            job = Path(job)
            (job / "prepared.ipynb").write_text(nbformat.writes(prepared), encoding="utf-8")
            (job / "job.json").write_text(json.dumps({
                "cell_timeout": self.limits.cell_timeout, "timeout": self.limits.timeout,
                "memory_bytes": int(self.limits.memory_gb * 2**30), "output_limit": self.limits.output_limit}))
            self._run(job, sub.student)
            if not (job / "run.json").exists():
                raise RuntimeError("the kernel runner stopped without a result (see grade.log)")
            run = json.loads((job / "run.json").read_text(encoding="utf-8"))
            executed = nbformat.v4.reads((job / "executed.ipynb").read_text(encoding="utf-8"))
            if self.executed_dir is not None:
                target = self.executed_dir / f"{gradebook.safe_name(sub.student)}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(job / "executed.ipynb", target)
        if run.get("kernel_log_tail"):  # for the instructor: what the kernel printed before it stopped
            log.info("%s: kernel output before it stopped:\n%s", sub.student, run["kernel_log_tail"])
        grade = collect(executed, run, self.assignment, self.limits, sub.student)
        grade.notes[:0] = notes
        return grade

    def _run(self, job: Path, student: str) -> None:
        """Run the kernel runner on ``job``; kill it (and its kernel) past the hard limit."""
        if self.stopping:
            raise RuntimeError("interrupted")
        with open(job / "runner.log", "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "rtxcourse.course.kernel_runner", str(job)],
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=with_this_package({**os.environ, **self.env}))
            with self._lock:
                self._procs[proc] = job
            try:
                proc.wait(timeout=self.limits.timeout + HARD_KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                log.error("%s: the kernel runner hung past %g s; killed", student, self.limits.timeout + HARD_KILL_GRACE_S)
                _kill_runner(proc, job)
                proc.wait()
            finally:
                with self._lock:
                    self._procs.pop(proc, None)
        if proc.returncode != 0:
            log.error("%s: kernel runner exit %s:\n%s", student, proc.returncode,
                      (job / "runner.log").read_text(encoding="utf-8", errors="replace")[-3000:])

    def stop(self) -> None:
        """Kill every runner in flight, and its kernel (Ctrl-C)."""
        self.stopping = True
        with self._lock:
            for proc, job in list(self._procs.items()):
                _kill_runner(proc, job)


def _kill_runner(proc: subprocess.Popen, job: Path) -> None:
    """Kill a runner's process group, then its kernel's (the kernel leads a session of its own)."""
    kill_group(proc.pid)
    pid_file = job / "kernel.pid"
    if pid_file.is_file():
        kill_group(int(pid_file.read_text() or 0))


def grade_all(submissions: list[Submission], assignment: Assignment, out: str | Path, jobs: int = 1,
              limits: Limits | None = None, progress: bool = True) -> list[Grade]:
    """Grade ``submissions`` with ``jobs`` in parallel; after each one, merge it into the gradebook.

    Writes ``out/gradebook.csv``, the feedback files and ``out/grade.log``; returns the grades
    in submission order. An interrupted run (Ctrl-C) keeps everything graded before it.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "grade.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    batch = Batch(assignment, limits or Limits(), out / "executed" / assignment.name)
    done: dict[str, Grade] = {}
    log.info("grading %d submission(s) of %s with %d job(s), %s", len(submissions), assignment.name, jobs, batch.limits)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(batch.grade, s): s for s in submissions}
        with tqdm(total=len(futures), desc=f"grading {assignment.name}", unit="nb", disable=not progress) as bar:
            for fut in as_completed(futures):
                grade = fut.result()
                done[grade.student] = grade
                gradebook.merge(out / "gradebook.csv", [grade])
                gradebook.write_feedback(out / "feedback" / assignment.name, grade)
                log.info("%s: %s, %g/%g points, %.1f s (kernel start %.1f s, notebook cells %.1f s)%s", grade.student,
                         grade.status, grade.total, grade.max_points, grade.seconds, grade.kernel_start_seconds,
                         grade.notebook_seconds, f" ({grade.message})" if grade.message else "")
                bar.update()
    except KeyboardInterrupt:
        batch.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        log.warning("interrupted: %d of %d graded and saved", len(done), len(submissions))
        raise
    finally:
        pool.shutdown(wait=True)
        log.removeHandler(handler)
        handler.close()
    return [done[s.student] for s in submissions if s.student in done]


def main(args) -> int:
    """The ``rtxcourse grade`` command (arguments from :mod:`rtxcourse.cli`)."""
    if args.plan:
        from rtxcourse.course import catalog

        print(catalog.workshop_plan())
        return 0
    if not args.submissions or not args.assignment or not args.out:
        print("rtxcourse grade: SUBMISSIONS, --assignment and --out are required (or --plan)", file=sys.stderr)
        return 2
    try:
        limits = Limits(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_gb=args.memory)
        if min(limits.cell_timeout, limits.timeout, limits.memory_gb) <= 0 or args.jobs < 1:
            raise GradeError("--timeout, --cell-timeout, --memory and -j must be positive")
        assignment = Assignment.load(args.assignment, source=args.source)
        subs = find_submissions(args.submissions, args.assignment)
    except GradeError as e:
        print(f"rtxcourse grade: {e}", file=sys.stderr)
        return 2
    if not subs:
        print(f"rtxcourse grade: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    try:
        grades = grade_all(subs, assignment, args.out, jobs=args.jobs, limits=limits)
    except KeyboardInterrupt:
        print(f"interrupted; what was graded is in {Path(args.out) / 'gradebook.csv'}", file=sys.stderr)
        return 130
    except OSError as e:  # the output folder cannot be written: nothing to grade into
        print(f"rtxcourse grade: cannot write to {args.out}: {e}", file=sys.stderr)
        return 2
    print(gradebook.summary(grades))
    print(f"\ngradebook: {Path(args.out) / 'gradebook.csv'}; feedback: {Path(args.out) / 'feedback' / assignment.name}/")
    return 0
