"""rtxcourse grade: the transforms one by one, then a batch of hostile submissions in one run.

The fixtures (tests/fixtures/grading/) are a tiny framework-free exercise and one submission
per kind of bad input; make_fixtures.py writes them and the first test keeps them in sync.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rtxcourse.course import catalog, gradebook, mutants, notebook, release
from rtxcourse.course import grade as g
from rtxcourse.course.kernel_runner import GRADER_KEY

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
SOURCE = FIXTURES / "90_mini_stats.ipynb"
SUBMISSIONS = FIXTURES / "submissions"
NAME = "90_mini_stats"
LIMITS = g.Limits(cell_timeout=5, timeout=15, memory_gb=1.5)
sys.path.insert(0, str(FIXTURES))
import make_fixtures  # noqa: E402


@pytest.fixture(scope="module")
def assignment():
    return g.Assignment.load(NAME, source=SOURCE)


def _solution():
    return release.make_copies(notebook.read(SOURCE), NAME)


def test_fixture_files_are_what_the_script_writes(tmp_path):
    make_fixtures.write_all(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*")
                       if p.is_file() and (p.suffix == ".ipynb" or "submissions" in p.parts))
    assert written == committed
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (FIXTURES / rel).read_bytes(), f"{rel}: run tests/fixtures/grading/make_fixtures.py"


def test_assignment_knows_its_questions_and_hidden_checks(assignment):
    assert assignment.max_points == {"q1": 1.0, "q2": 2.0, "q3": 2.0}
    assert assignment.hidden == {"q3"}
    assert [c.id for c in assignment.checks] == ["cell-003", "cell-005", "cell-006"]


def test_unknown_assignment_is_a_clear_error():
    with pytest.raises(g.GradeError, match="no exercise 'nope' in the catalog"):
        g.Assignment.load("nope")


@pytest.mark.parametrize("name, status, message", [
    ("fred_empty.ipynb", "empty", "the file is empty"),
    ("mia_malformed.ipynb", "malformed json", "not valid JSON (line"),
    ("gina_not_a_notebook.pdf", "not a notebook", "gina_not_a_notebook.pdf is not a notebook"),
])
def test_unreadable_files_get_their_own_status(name, status, message):
    with pytest.raises(g.Unreadable) as e:
        g.read_submission(g.Submission(Path(name).stem, SUBMISSIONS / name))
    assert e.value.status == status and message in e.value.message


def test_json_that_is_not_a_notebook(tmp_path):
    (tmp_path / "x.ipynb").write_text('{"hello": 1}')
    with pytest.raises(g.Unreadable) as e:
        g.read_submission(g.Submission("x", tmp_path / "x.ipynb"))
    assert e.value.status == "not a notebook"


def test_submissions_are_files_or_folders_one_per_student(tmp_path):
    (tmp_path / "ann.ipynb").write_text("{}")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "ben" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "ben" / ".ipynb_checkpoints" / f"{NAME}-checkpoint.ipynb").write_text("{}")
    (tmp_path / "ben" / "work").mkdir()
    (tmp_path / "ben" / "work" / f"{NAME}.ipynb").write_text("{}")
    (tmp_path / "cat").mkdir()
    (tmp_path / "dan").mkdir()
    for n in ("a.ipynb", "b.ipynb"):
        (tmp_path / "dan" / n).write_text("{}")
    subs = {s.student: s for s in g.find_submissions(tmp_path, NAME)}
    assert sorted(subs) == ["ann", "ben", "cat", "dan"]
    assert subs["ben"].path == tmp_path / "ben" / "work" / f"{NAME}.ipynb"
    assert subs["cat"].path is None and "no .ipynb" in subs["cat"].problem
    assert subs["dan"].path is None and "several notebooks" in subs["dan"].problem
    assert [s.student for s in g.find_submissions(tmp_path / "ann.ipynb", NAME)] == ["ann"]


def test_normalise_notes_a_foreign_kernel_and_the_old_format():
    nb, notes = g.read_submission(g.Submission("nick", SUBMISSIONS / "nick_nbformat3.ipynb"))
    assert [n.status for n in notes] == ["converted"]
    nb = g.normalise(nb, notes)
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids) and not set(ids) & {c.id for c in notebook.read(SOURCE).cells}  # never a source id
    nb, notes = g.read_submission(g.Submission("oscar", SUBMISSIONS / "oscar_other_kernel.ipynb"))
    nb = g.normalise(nb, notes)
    assert notes[-1].status == "kernel replaced" and "'python3'" in notes[-1].message
    assert nb.metadata["kernelspec"]["name"] == "rtxcourse"


def test_restore_puts_back_deleted_edited_and_hidden_checks_by_id(assignment):
    student, _ = _solution()
    nb = copy.deepcopy(student)
    nb.cells = [c for c in nb.cells if c.id != "cell-005"]  # a visible check deleted
    q1 = next(c for c in nb.cells if c.id == "cell-003")
    q1.source = q1.source.replace("assert mean([1, 2]) == 1.5", "pass")  # ... and one weakened
    notes: list[g.Note] = []
    restored = g.restore_checks(nb, assignment, notes)
    assert [c.id for c in restored.cells] == [c.id for c in _solution()[1].cells]
    by_id = {c.id: c for c in restored.cells}
    for check in assignment.checks:
        assert by_id[check.id].source == check.source
    assert sorted(n.status for n in notes) == ["check deleted", "check edited"]  # the hidden one: no note


def test_a_check_copied_into_a_new_cell_is_found_by_its_question(assignment):
    student, _ = _solution()
    nb = copy.deepcopy(student)
    q2 = next(c for c in nb.cells if c.id == "cell-005")
    q2["id"] = "pasted-cell"
    notes: list[g.Note] = []
    restored = g.restore_checks(nb, assignment, notes)
    assert notes == [] and [c.id for c in restored.cells].count("cell-005") == 1
    assert "pasted-cell" not in [c.id for c in restored.cells]


def test_instrument_wraps_every_check_with_fresh_nonces(assignment):
    student, _ = _solution()
    nb = g.instrument(g.restore_checks(student, assignment, []))
    roles = [c.metadata.get(GRADER_KEY, {}).get("role") for c in nb.cells]
    assert roles[0] == "preamble" and roles.count("before") == roles.count("report") == 3
    for i, c in enumerate(nb.cells):
        if "rtxcourse" in c.metadata:
            assert roles[i - 1] == "before" and roles[i + 1] == "report"
    nonces = [c.metadata[GRADER_KEY]["nonce"] for c in nb.cells if roles[nb.cells.index(c)] == "report"]
    assert len(set(nonces)) == 3
    nbformat.validate(nb)


def _executed(assignment, report_text: dict[str, str]):
    """An 'executed' notebook whose report cells printed the given text (question -> text)."""
    student, _ = _solution()
    nb = g.instrument(g.restore_checks(student, assignment, []))
    for c in nb.cells:
        meta = c.metadata.get(GRADER_KEY, {})
        if meta.get("role") == "report":
            text = report_text.get(meta["questions"][0], "")
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text.replace("NONCE", meta["nonce"]))]
    return nb


def _report(qid: str, status: str = "passed", tampered=()) -> str:
    result = {"question": qid, "points": 99, "max_points": 99, "status": status, "message": "m", "hint": "h"}
    return "NONCE" + json.dumps({"results": {qid: result}, "tampered": list(tampered)}) + "NONCE"


def test_collect_caps_points_at_the_source_and_reads_each_question_once(assignment):
    run = {"ended": "completed", "notebook_seconds": 0.1}
    nb = _executed(assignment, {"q1": _report("q1"), "q2": _report("q2", "failed"), "q3": "fake" + _report("q3")})
    grade = g.collect(nb, run, assignment, LIMITS, "x")
    assert [grade.questions[q]["points"] for q in ("q1", "q2", "q3")] == [1, 0, 2]
    assert grade.status == "graded"


def test_collect_withholds_points_when_the_report_is_forged(assignment):
    run = {"ended": "completed"}
    twice = _report("q2") + _report("q2")
    for text in ({"q2": twice}, {"q2": _report("q2", tampered=["question"])}):
        grade = g.collect(_executed(assignment, {"q1": _report("q1"), **text}), run, assignment, LIMITS, "x")
        assert grade.status == "tampered" and grade.total == 0


def test_gradebook_merges_rows_and_regrading_is_idempotent(tmp_path):
    path = tmp_path / "gradebook.csv"
    a = g.Grade("ann", "A1", {"q1": {"points": 1.0, "max_points": 1.0}})
    b = g.Grade("ben", "A1", {"q1": {"points": 0.0, "max_points": 1.0}}, [g.Note("cell error", "cell 3 raised X")])
    c = g.Grade("ann", "A2", {"p1": {"points": 2.0, "max_points": 3.0}})
    gradebook.merge(path, [a, b])
    gradebook.merge(path, [c])
    first = path.read_text()
    gradebook.merge(path, [b])
    assert path.read_text() == first
    rows = list(csv.DictReader(first.splitlines()))
    assert [(r["student"], r["assignment"]) for r in rows] == [("ann", "A1"), ("ben", "A1"), ("ann", "A2")]
    assert rows[1]["status"] == "cell error" and rows[1]["q1"] == "0" and rows[2]["p1"] == "2" and rows[2]["q1"] == ""
    assert list(rows[0])[:3] == ["student", "assignment", "q1"] and list(rows[0])[-5:] == gradebook.TAIL


def test_an_interrupted_run_keeps_what_it_graded(tmp_path, monkeypatch, assignment):
    def fake(self, sub):
        return g.Grade(sub.student, NAME, {"q1": {"points": 1.0, "max_points": 1.0, "status": "passed", "message": "", "hint": ""}})

    saved, real_merge = [], gradebook.merge

    def merge(path, grades):  # the instructor presses Ctrl-C while the second grade is being saved
        if saved:
            raise KeyboardInterrupt
        saved.append(grades[0].student)
        return real_merge(path, grades)

    monkeypatch.setattr(g.Batch, "grade", fake)
    monkeypatch.setattr(gradebook, "merge", merge)
    subs = [g.Submission("ann", SOURCE), g.Submission("ben", SOURCE)]
    with pytest.raises(KeyboardInterrupt):
        g.grade_all(subs, assignment, tmp_path, jobs=1, progress=False)
    assert [r["student"] for r in gradebook.read(tmp_path / "gradebook.csv")[1]] == saved
    assert not list(tmp_path.glob(".gradebook.csv.*"))  # no half-written file left


def test_workshop_plan_in_the_instructors_guide_is_current(tmp_path):
    doc = ROOT / "docs" / "instructors.md"
    assert catalog.plan_in(doc.read_text(encoding="utf-8")) == catalog.workshop_plan(), (
        "docs/instructors.md: the workshop plan is stale; run\n  python -c \"from rtxcourse.course import catalog; "
        "catalog.refresh_plan('docs/instructors.md')\"")
    stale = tmp_path / "x.md"
    stale.write_text("intro\n" + catalog.PLAN_MARKERS[0] + "old table" + catalog.PLAN_MARKERS[1] + "\noutro\n")
    assert catalog.refresh_plan(stale) and not catalog.refresh_plan(stale)
    text = stale.read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and catalog.plan_in(text) == catalog.workshop_plan()


def test_mutant_files_are_checked_for_mistakes(tmp_path):
    nb = notebook.read(SOURCE)
    good = mutants.load(FIXTURES / "90_mini_stats_mutants.toml")
    assert [m.question for m in good] == ["q1", "q2", "q3"]
    assert "xs.sort()" in mutants.submission(nb, good[2]).cells[4].source
    for change, match in ((dict(find="xs"), "occurs 3 times"), (dict(find="nowhere"), "occurs 0 times"),
                          (dict(cell="cell-099"), "no cell with id"), (dict(question="q9"), "not a question")):
        bad = mutants.Mutant(**{**good[0].__dict__, **change})
        with pytest.raises(mutants.MutantError, match=match):
            mutants.apply(nb, bad)
    (tmp_path / "m.toml").write_text('[[mutant]]\nname = "x"\nquestion = "q1"\ncell = "c"\nfind = "a"\nreplace = "b"\ntypo = 1\n')
    with pytest.raises(mutants.MutantError, match=r"unknown key\(s\) \['typo'\]"):
        mutants.load(tmp_path / "m.toml")


@pytest.mark.slow
def test_memory_limit_binds_allocations_but_not_framework_imports():
    imports = "import numpy" + ("; import torch" if importlib.util.find_spec("torch") else "")
    code = (f"from rtxcourse.course.kernel import apply_limits; apply_limits(2 << 30); {imports}\n"
            "try:\n    bytearray(3 << 30)\nexcept MemoryError:\n    print('MemoryError')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "MemoryError"


# Every fixture submission: (status, points out of 5, a phrase of the message).
EXPECTED = {
    "alice_good": ("graded", 5, ""),
    "bob_partial": ("graded", 4, ""),
    "carol_unmodified": ("graded", 0, ""),
    "dave_dies": ("kernel died", 1, "exit code 3"),
    "dora_deleted_check": ("check deleted", 3, "check cell of q2 was missing"),
    "ed_edited_check": ("check edited", 3, "check cell of q2 was edited"),
    "erin_exception": ("cell error", 5, "raised ZeroDivisionError: division by zero"),
    "fred_empty": ("empty", 0, "the file is empty"),
    "gina_not_a_notebook": ("not a notebook", 0, "is not a notebook"),
    "hugo_huge_output": ("output truncated", 5, "more than the output limit of 1 MB"),
    "ivan_infinite_loop": ("timeout", 5, "ran longer than the cell timeout of 5 s"),
    "kim_folder": ("graded", 5, ""),
    "mallory_tampers": ("tampered", 0, "changed the checks (question)"),
    "mia_malformed": ("malformed json", 0, "not valid JSON"),
    "mona_memory_hog": ("memory limit", 5, "ran out of memory (MemoryError): the limit is 1.5 GB"),
    "nick_nbformat3": ("converted", 5, "nbformat 3"),
    "oscar_other_kernel": ("kernel replaced", 5, "'python3'"),
    "sam_system_exit": ("system exit", 5, "SystemExit(1)"),
    "stan_stubborn_loop": ("timeout", 1, "total timeout of 15 s"),
    "wanda_writes_elsewhere": ("graded", 5, ""),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, assignment):
    out = tmp_path_factory.mktemp("graded")
    before = {p for p in ROOT.rglob("escaped.txt")}
    subs = g.find_submissions(SUBMISSIONS, NAME)
    grades = g.grade_all(subs, assignment, out, jobs=2, limits=LIMITS, progress=False)
    return out, {gr.student: gr for gr in grades}, before


@pytest.mark.slow
def test_every_bad_submission_gets_its_status_and_the_others_their_points(batch):
    out, grades, _ = batch
    got = {s: (gr.status, gr.total, gr.message) for s, gr in grades.items()}
    assert sorted(got) == sorted(EXPECTED)
    wrong = {s: got[s] for s, (status, points, phrase) in EXPECTED.items()
             if got[s][0] != status or got[s][1] != points or phrase not in got[s][2]}
    assert not wrong, wrong
    carol = grades["carol_unmodified"].questions
    assert {r["status"] for r in carol.values()} == {"not attempted"} and all(r["message"] for r in carol.values())


@pytest.mark.slow
def test_batch_writes_gradebook_feedback_and_log_and_nothing_outside(batch):
    out, grades, before = batch
    _, rows = gradebook.read(out / "gradebook.csv")
    assert sorted(r["student"] for r in rows) == sorted(EXPECTED)
    bob = next(r for r in rows if r["student"] == "bob_partial")
    assert (bob["q1"], bob["q2"], bob["q3"], bob["total"], bob["max"]) == ("0", "2", "2", "4", "5")
    for student in EXPECTED:
        md = (out / "feedback" / NAME / f"{student}.md").read_text()
        html = (out / "feedback" / NAME / f"{student}.html").read_text()
        assert f"Score: {grades[student].total:g}/5" in md and "<table>" in html
        for secret in ("s[mid - 1] + s[mid]", "data = [5, 1, 4]"):  # the solution, the hidden check
            assert secret not in md and secret not in html
    assert "mean([1, 2]) should be 1.5, got 1" in (out / "feedback" / NAME / "bob_partial.md").read_text()
    assert "hint: divide the sum" in (out / "feedback" / NAME / "bob_partial.md").read_text()
    assert "| q3 (hidden check) | 2/2 |" in (out / "feedback" / NAME / "bob_partial.md").read_text()
    assert "ZeroDivisionError" in (out / "feedback" / NAME / "erin_exception.md").read_text()
    assert "stan_stubborn_loop: timeout" in (out / "grade.log").read_text()
    assert (out / "executed" / NAME / "alice_good.ipynb").is_file()
    assert {p for p in ROOT.rglob("escaped.txt")} == before and not list(out.rglob("escaped.txt"))
    summary = gradebook.summary(list(grades.values()))
    assert "alice_good" in summary and "5 graded" in summary.splitlines()[-1]


@pytest.mark.slow
def test_regrading_one_student_changes_only_their_row(batch, assignment):
    out, _, _ = batch
    before = {(r["student"], r["assignment"]): r for r in gradebook.read(out / "gradebook.csv")[1]}
    g.grade_all(g.find_submissions(SUBMISSIONS / "bob_partial.ipynb", NAME), assignment, out, limits=LIMITS, progress=False)
    after = {(r["student"], r["assignment"]): r for r in gradebook.read(out / "gradebook.csv")[1]}
    assert after.keys() == before.keys()
    for key, row in before.items():
        same = {k: v for k, v in row.items() if k != "seconds"}
        assert {k: v for k, v in after[key].items() if k != "seconds"} == same


@pytest.mark.slow
def test_fixture_mutants_lose_points_on_their_question_only(tmp_path, assignment):
    problems = mutants.discriminate(assignment, mutants.load(FIXTURES / "90_mini_stats_mutants.toml"), tmp_path,
                                    jobs=2, limits=LIMITS)
    assert problems == []


def test_cli_usage_errors_are_clear(tmp_path, capsys):
    from rtxcourse import cli

    assert cli.main(["grade", str(SUBMISSIONS)]) == 2
    assert "--assignment and --out are required" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path / "none"), "--assignment", NAME, "--source", str(SOURCE), "--out", str(tmp_path)]) == 2
    assert "no such file or folder of submissions" in capsys.readouterr().err
    assert cli.main(["grade", str(SUBMISSIONS), "--assignment", "nope", "--out", str(tmp_path)]) == 2
    assert "no exercise 'nope'" in capsys.readouterr().err
    assert cli.main(["grade", "--plan"]) == 0 and "| Lesson |" in capsys.readouterr().out


def test_an_exercise_with_framework_checks_is_scored_on_the_best_path(tmp_path):
    """A TF-only learner answers the TF questions and none of torch's: full marks, and the feedback says why."""
    questions = {"shared": {"points": 1.0, "max_points": 1.0, "framework": None},
                 "t1": {"points": 0.0, "max_points": 3.0, "framework": "torch", "status": "not attempted"},
                 "k1": {"points": 3.0, "max_points": 3.0, "framework": "tf"}}
    grade = g.Grade("ann", "A1", {q: {"status": "passed", "message": "", "hint": "", **r} for q, r in questions.items()})
    assert (grade.path, grade.total, grade.max_points) == ("tf", 4.0, 4.0)
    gradebook.merge(tmp_path / "gradebook.csv", [grade])
    row = next(csv.DictReader((tmp_path / "gradebook.csv").read_text().splitlines()))
    assert (row["total"], row["max"], row["t1"], row["k1"]) == ("4", "4", "0", "3")
    assert "the tf questions count" in gradebook.markdown(grade)
    plain = g.Grade("ben", "A1", {"q1": {"points": 1.0, "max_points": 2.0, "status": "failed", "message": "", "hint": ""}})
    assert (plain.path, plain.total, plain.max_points) == (None, 1.0, 2.0)
    assert "count" not in gradebook.markdown(plain)


def test_an_assignment_knows_the_framework_path_of_each_question(tmp_path):
    nb = notebook.read(SOURCE)
    nb.cells.append(nbformat.v4.new_code_cell('%%framework tf\nwith ck.question("k9", points=2):\n    pass', id="cell-k9"))
    path = tmp_path / "x.ipynb"
    path.write_text(notebook.dumps(nb), encoding="utf-8")
    a = g.Assignment.load("x", source=path)
    assert a.frameworks == {"k9": "tf"}
    assert a.paths() == {"tf": sum(a.max_points.values())}  # one framework path: shared questions + k9
