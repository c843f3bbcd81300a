"""One source -> exercises/ + solutions/: markers, hidden checks, errors, --check."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rtxcourse.course import notebook, release

ROOT = Path(__file__).resolve().parent.parent


def test_committed_copies_match_their_source():
    assert release.main(check=True, root=ROOT) == 0, "run `rtxcourse release` and commit exercises/ and solutions/"


def _source():
    hidden = new_code_cell("assert area(2, 3) == 6  # grader")
    hidden.metadata["tags"] = ["hidden-check"]
    return new_notebook(cells=[
        new_markdown_cell("Explain:\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
        new_code_cell("def area(w, h):\n    ### BEGIN SOLUTION\n    return w * h\n    ### END SOLUTION"),
        new_code_cell("assert area(1, 1) == 1"),
        hidden,
    ])


def test_student_and_solution_copies():
    student, solution = release.make_copies(_source(), "src")
    s_code = [c.source for c in student.cells if c.cell_type == "code"]
    assert s_code[0] == f"def area(w, h):\n    {release.STUB}"
    assert "return w * h" not in "".join(s_code)
    assert "grader" not in "".join(s_code), "hidden checks must not reach the student copy"
    assert "assert area(1, 1) == 1" in s_code  # visible self-check stays
    assert release.MD_STUB in student.cells[0].source and "Because" not in student.cells[0].source
    sol = [c.source for c in solution.cells]
    assert sol[1] == "def area(w, h):\n    return w * h"
    assert "BEGIN SOLUTION" not in "".join(sol) and "grader" in sol[3]
    for nb in (student, solution):
        assert nb.metadata["kernelspec"]["name"] == "rtxcourse"
        nbformat.validate(nb)


def test_student_stub_raises_and_solution_runs():
    student, solution = release.make_copies(_source(), "src")
    ns = {}
    exec(solution.cells[1].source, ns)
    assert ns["area"](2, 3) == 6
    ns = {}
    exec(student.cells[1].source, ns)
    with pytest.raises(NotImplementedError):
        ns["area"](2, 3)


@pytest.mark.parametrize(
    "src, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION", "nested"),
        ("x = 1  ### BEGIN SOLUTION", "must stand alone"),
        ("x = 1", "no '### BEGIN SOLUTION' block"),
    ],
)
def test_malformed_markers_name_file_and_cell(src, message):
    with pytest.raises(release.ReleaseError, match=message) as e:
        release.make_copies(new_notebook(cells=[new_markdown_cell("intro"), new_code_cell(src)]), "source/99_x.ipynb")
    assert "source/99_x.ipynb" in str(e.value)


def test_output_is_deterministic():
    src = _source()
    a = release.make_copies(src, "s")
    b = release.make_copies(notebook.reads(notebook.dumps(src)), "s")  # also through a round trip on disk
    assert notebook.dumps(a[0]) == notebook.dumps(b[0]) and notebook.dumps(a[1]) == notebook.dumps(b[1])


def test_cells_keep_their_source_ids_when_hidden_cells_are_removed():
    src = _source()
    src.cells.insert(1, src.cells.pop(3))  # a hidden check before the other cells
    student, solution = release.make_copies(src, "s")
    ids = [c.id for c in src.cells]
    assert [c.id for c in solution.cells] == ids
    assert [c.id for c in student.cells] == [i for i in ids if i != ids[1]]


def _graded_source(*checks):
    cells = [new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION")]
    for src, tags in checks:
        cells.append(new_code_cell(src))
        cells[-1].metadata["tags"] = tags
    return new_notebook(cells=cells)


def test_check_cells_carry_their_questions_and_a_checksum():
    nb = _graded_source(('with ck.question("q1", points=2, hint="h"):\n    assert f(1) == 2', []),
                        ('with ck.question("q1-hidden", points=1):\n    assert f(3) == 6', ["hidden-check"]))
    student, solution = release.make_copies(nb, "s")
    meta = [c.metadata.get("rtxcourse") for c in solution.cells]
    assert meta[0] is None
    assert meta[1]["questions"] == [{"id": "q1", "points": 2}] and meta[1]["hidden"] is False
    assert meta[2]["questions"] == [{"id": "q1-hidden", "points": 1}] and meta[2]["hidden"] is True
    assert meta[1]["checksum"] == notebook.checksum(nb.cells[1]) != meta[2]["checksum"]
    assert student.cells[1].metadata["rtxcourse"] == meta[1] and len(student.cells) == 2


def test_questions_are_found_in_framework_sections():
    nb = _graded_source(('%%framework torch\nwith ck.question("q2", points=3):\n    assert f(1) == 2', []))
    _, solution = release.make_copies(nb, "s")
    assert solution.cells[1].metadata["rtxcourse"]["questions"] == [{"id": "q2", "points": 3}]


def test_a_question_id_used_twice_is_an_error():
    nb = _graded_source(('with ck.question("q1"):\n    pass', []), ('with ck.question("q1", points=3):\n    pass', []))
    with pytest.raises(release.ReleaseError, match="question id 'q1' is used in cells"):
        release.make_copies(nb, "source/99_x.ipynb")


@pytest.fixture
def course_copy(tmp_path):
    for d in ("source", "exercises", "solutions"):
        shutil.copytree(ROOT / d, tmp_path / d)
    (tmp_path / "pyproject.toml").write_text("")
    return tmp_path


def test_check_detects_drift_and_release_repairs_it(course_copy, capsys):
    victim = sorted((course_copy / "solutions").glob("*.ipynb"))[0]
    nb = json.loads(victim.read_text())
    nb["cells"][0]["source"] = "tampered"
    victim.write_text(json.dumps(nb))
    stray = course_copy / "exercises" / "99_stray.ipynb"
    stray.write_text("{}")
    assert release.main(check=True, root=course_copy) == 1
    err = capsys.readouterr().err
    assert victim.name in err and "99_stray.ipynb (no source" in err
    stray.unlink()
    assert release.main(root=course_copy) == 0
    assert release.main(check=True, root=course_copy) == 0


def test_malformed_source_notebook_is_reported_not_written(course_copy, capsys):
    src = sorted((course_copy / "source").glob("*.ipynb"))[0]
    before = {p: p.read_bytes() for p in (course_copy / "exercises").glob("*.ipynb")}
    src.write_text("{ not json")
    assert release.main(root=course_copy) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and src.name in err
    assert before == {p: p.read_bytes() for p in (course_copy / "exercises").glob("*.ipynb")}


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "nb.ipynb"
    release.atomic_write(target, "one")
    release.atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["nb.ipynb"]


# That every unsolved exercise scores 0 and every solution full marks is checked by grading them
# for real, with the mutants, in tests/test_grade_mutants.py.


def test_check_cells_of_a_framework_section_are_stamped_with_it():
    nb = _graded_source(('%%framework tf\nwith ck.question("q2", points=3):\n    assert f(1) == 2', []),
                        ('with ck.question("q3"):\n    assert f(1) == 2', []))
    _, solution = release.make_copies(nb, "s")
    assert solution.cells[1].metadata["rtxcourse"]["framework"] == "tf"
    assert "framework" not in solution.cells[2].metadata["rtxcourse"]  # outside any section: every path
