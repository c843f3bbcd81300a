"""Wrong-but-plausible answers as data, to prove that an exercise's checks discriminate.

``tests/fixtures/mutants/NN_name.toml`` (NN_name: the exercise) lists the mistakes learners
really make::

    [[mutant]]
    name = "forgot scaler.update()"
    question = "q2"          # the question that must lose points: its id, or the prefix of
                             # its parts ("q2" covers "q2-visible" and "q2-hidden")
    cell = "cell-005"        # the id of the source cell whose solution text is changed
    find = "scaler.update()" # exact text in that cell; it must occur exactly once
    replace = "pass"

:func:`submission` builds the solution copy of the source with that one change: what a
learner with that mistake would hand in. The tests grade every mutant of an exercise in one
batch and require fewer than full marks on ``question`` and full marks on every other one.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from rtxcourse.course import notebook, release


class MutantError(ValueError):
    """A mutant file or entry is wrong: the message names the file, the mutant and the field."""


@dataclass(frozen=True)
class Mutant:
    name: str
    question: str
    cell: str
    find: str
    replace: str

    def targets(self, qid: str) -> bool:
        """True if question ``qid`` is (a part of) the question this mutant must lose points on."""
        return qid == self.question or qid.startswith(self.question + "-")


def load(path: str | Path) -> list[Mutant]:
    """The mutants of one file, validated (every key present, a string, none unknown)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise MutantError(f"{path.name}: not valid TOML ({e})") from None
    known = [f.name for f in fields(Mutant)]
    out = []
    for i, entry in enumerate(data.get("mutant", [])):
        where = f"{path.name}, mutant {i + 1} ({entry.get('name', 'no name')})"
        unknown = sorted(set(entry) - set(known))
        missing = [k for k in known if not isinstance(entry.get(k), str) or (k != "replace" and not entry[k])]
        if unknown or missing:
            raise MutantError(f"{where}: " + "; ".join(
                ([f"unknown key(s) {unknown}"] if unknown else []) + ([f"'{k}' must be a non-empty string" for k in missing])))
        out.append(Mutant(**entry))
    if not out:
        raise MutantError(f"{path.name}: no [[mutant]] entries")
    return out


def apply(source_nb, mutant: Mutant, where: str = "source"):
    """A copy of the instructor source with the mutant's one replacement made."""
    nb = copy.deepcopy(source_nb)
    label = f"{where}: mutant {mutant.name!r}"
    cell = next((c for c in nb.cells if c.get("id") == mutant.cell), None)
    if cell is None:
        raise MutantError(f"{label}: no cell with id {mutant.cell!r}")
    text = notebook.source(cell)
    count = text.count(mutant.find)
    if count != 1:
        raise MutantError(f"{label}: {mutant.find!r} occurs {count} times in cell {mutant.cell}; it must occur exactly once")
    questions = {q for c in nb.cells if c.cell_type == "code" for q, _ in release.question_ids(c)}
    if not any(mutant.targets(q) for q in questions):
        raise MutantError(f"{label}: question {mutant.question!r} is not a question of this exercise ({sorted(questions)})")
    cell.source = text.replace(mutant.find, mutant.replace)
    return nb


def submission(source_nb, mutant: Mutant, where: str = "source"):
    """What a learner making this mistake hands in: the solution copy of the mutated source."""
    return release.make_copies(apply(source_nb, mutant, where), where)[1]


def discriminate(assignment, mutant_list: list[Mutant], workdir: str | Path, jobs: int = 2, limits=None) -> list[str]:
    """Grade the solution, the untouched exercise and every mutant in one batch; return what is wrong.

    Right means: the solution gets full marks on every question (every framework path) with
    status ``graded``; the exercise as handed out gets 0 points on every question, status
    ``graded`` and a message for every question; each mutant loses points on its question and
    only there. An empty list: the checks discriminate.
    """
    from rtxcourse.course import grade

    workdir = Path(workdir)
    where = assignment.source.name
    source_nb = notebook.read(assignment.source)
    student, solution = release.make_copies(source_nb, where)
    handed_in = {"solution": solution, "exercise": student}
    handed_in.update({f"mutant-{i + 1:02d}": submission(source_nb, m, where) for i, m in enumerate(mutant_list)})
    for name, nb in handed_in.items():
        notebook.write(nb, workdir / "submissions" / f"{name}.ipynb")
    subs = grade.find_submissions(workdir / "submissions", assignment.name)
    grades = {g.student: g for g in grade.grade_all(subs, assignment, workdir / "out", jobs=jobs, limits=limits, progress=False)}

    def lost(g) -> str:
        return ", ".join(f"{q} {r['points']:g}/{r['max_points']:g} ({r['status']}: {r['message'][:120]})"
                         for q, r in g.questions.items() if r["points"] < r["max_points"])

    problems = []
    sol, ex = grades["solution"], grades["exercise"]
    # Every question, not just the total: an exercise with framework paths scores the best path, and
    # a broken TensorFlow part would hide behind a working PyTorch one.
    if sol.status != grade.GRADED or lost(sol):
        problems.append(f"the solution got {sol.total:g}/{sol.max_points:g} ({sol.status}: {sol.message}): {lost(sol)}")
    if ex.status != grade.GRADED or any(r["points"] for r in ex.questions.values()):
        problems.append(f"the unmodified exercise got {ex.total:g}/{ex.max_points:g} ({ex.status}: {ex.message})")
    problems += [f"the unmodified exercise has no feedback for {q}" for q, r in ex.questions.items() if not r["message"]]
    for i, m in enumerate(mutant_list):
        g = grades[f"mutant-{i + 1:02d}"]
        target = [r for q, r in g.questions.items() if m.targets(q)]
        if sum(r["points"] for r in target) >= sum(r["max_points"] for r in target):
            problems.append(f"mutant {m.name!r} kept full marks on {m.question} ({g.status}: {g.message})")
        others = [q for q, r in g.questions.items() if not m.targets(q) and r["points"] < r["max_points"]]
        if others:
            problems.append(f"mutant {m.name!r} also lost points on {', '.join(others)}: {lost(g)}")
    return problems
