"""The lesson catalog and the notebooks it lists: present, clean, self-checking."""

import json
import re
from pathlib import Path

import pytest

from rtxcourse.course import catalog
from rtxcourse.course.notebook import KERNELSPEC

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STORED = NOTEBOOKS + sorted((ROOT / "exercises").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def test_every_notebook_is_listed_and_every_entry_exists():
    listed = {lesson.notebook for lesson in catalog.lessons()}
    on_disk = {str(p.relative_to(ROOT)) for p in NOTEBOOKS}
    assert on_disk - listed == set(), f"notebooks missing from rtxcourse/lessons.toml: {sorted(on_disk - listed)}"
    assert listed - on_disk == set(), f"lessons.toml names missing notebooks: {sorted(listed - on_disk)}"


def test_lessons_are_numbered_in_order():
    lessons = catalog.lessons()
    ids = [lesson.id for lesson in lessons]
    assert ids == sorted(ids)
    for lesson in lessons:
        assert Path(lesson.notebook).name.startswith(f"{lesson.id}_"), lesson.notebook


@pytest.mark.parametrize("path", STORED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_stored_clean_with_course_kernel(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts (clear them before committing)"
    assert nb["metadata"].get("kernelspec", {}).get("name") == KERNELSPEC["name"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_starts_with_setup_and_ends_with_self_check(path):
    code = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell: it would run nothing"
    assert "rc.setup(" in code[0], f"{path.name}: the first code cell must call rc.setup(...)"
    # The self-check: the lesson's checks live in rtxcourse/selfchecks/lessonNN.py, so the tests can
    # show that each of them fails on broken evidence (tests/test_selfcheck_NN.py).
    lesson_id = path.name[:2]
    assert f"lesson{lesson_id}.check(" in code[-1] or "assert " in code[-1], (
        f"{path.name}: the last code cell must be the self-check (rtxcourse.selfchecks.lesson{lesson_id}.check(...))")


def test_can_run_explains_why_not():
    lesson = catalog.Lesson(id="99", notebook="notebooks/99_x.ipynb", title="x", frameworks=("torch", "tf"), min_tier="multi-gpu")
    ok, reason = lesson.can_run("cpu", {"torch"})
    assert not ok and "tf" in reason and "'.[tf]'" in reason
    ok, reason = lesson.can_run("1-gpu", {"torch", "tf"})
    assert not ok and "multi-gpu" in reason
    assert lesson.can_run("multi-gpu", {"torch", "tf"}) == (True, "")
    assert lesson.full_size_on("cpu")
    assert not catalog.Lesson(id="1", notebook="n", title="t", full_size_tier="1-gpu").full_size_on("cpu")


@pytest.mark.parametrize(
    "body, message",
    [
        ('[[lesson]]\nid = "01"\nnotebook = "n.ipynb"\n', "'title' must be a non-empty string"),
        ('[[lesson]]\nid = "01"\nnotebook = "n"\ntitle = "t"\nframeworks = ["jax"]\n', "unknown framework"),
        ('[[lesson]]\nid = "01"\nnotebook = "n"\ntitle = "t"\nmin_tier = "tpu"\n', "min_tier must be one of"),
        ('[[lesson]]\nid = "01"\nnotebook = "n"\ntitle = "t"\nquick_second = 5\n', "unknown key\\(s\\) \\['quick_second'\\]"),
        ('[[lesson]]\nid = "01"\nnotebook = "a"\ntitle = "t"\n[[lesson]]\nid = "01"\nnotebook = "b"\ntitle = "t"\n', "duplicate lesson ids"),
    ],
)
def test_malformed_catalog_is_a_clear_error(tmp_path, body, message):
    p = tmp_path / "lessons.toml"
    p.write_text(body)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.lessons(str(p))


# A cell that loads a framework: imports it, imports a course module built on it, or asks for TF.
_FRAMEWORK_USE = {
    "torch": re.compile(r"^\s*(?:import|from)\s+(?:torch|torchvision)\b|\brtxcourse\.\w+_torch\b|\bfrom rtxcourse import .*\b\w+_torch\b", re.M),
    "tf": re.compile(r"^\s*(?:import|from)\s+(?:tensorflow|keras)\b|\brtxcourse\.\w+_tf\b|\bfrom rtxcourse import .*\b\w+_tf\b|import_tensorflow\(", re.M),
}


def _lesson_notebooks():
    for lesson in catalog.lessons():
        paths = [ROOT / lesson.notebook]
        if lesson.exercise:
            paths += [ROOT / "source" / f"{lesson.exercise}.ipynb"]
        yield from ((lesson, p) for p in paths if p.is_file())


@pytest.mark.parametrize("lesson, path", list(_lesson_notebooks()), ids=lambda x: getattr(x, "name", ""))
def test_cells_of_optional_frameworks_are_marked_sections(lesson, path):
    """What lessons.toml says a lesson needs, its cells obey: a one-framework learner runs the rest."""
    bad = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        first = src.lstrip().split("\n", 1)[0].split()
        # A section: `%%framework NAME`, or another course cell magic with `--framework NAME` (%%seed).
        section = (first[1] if first[:1] == ["%%framework"] and len(first) > 1 else
                   first[first.index("--framework") + 1] if first[:1] and first[0].startswith("%%")
                   and "--framework" in first[:-1] else
                   ("tf" if "--tf" in first else "torch") if first[:1] == ["%%distributed"] else None)
        for fw, pattern in _FRAMEWORK_USE.items():
            if pattern.search(src) and fw not in lesson.required and section != fw:
                bad.append(f"cell {cell.get('id')} uses {fw} but does not start with '%%framework {fw}'")
            if fw not in lesson.frameworks and pattern.search(src):
                bad.append(f"cell {cell.get('id')} uses {fw}, which lessons.toml does not list for lesson {lesson.id}")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def test_needs_must_be_listed_frameworks(tmp_path):
    p = tmp_path / "lessons.toml"
    p.write_text('[[lesson]]\nid = "01"\nnotebook = "n"\ntitle = "t"\nframeworks = ["torch"]\nneeds = ["tf"]\n')
    with pytest.raises(catalog.CatalogError, match="'needs' \\['tf'\\] must be a subset"):
        catalog.lessons(str(p))


def test_a_lesson_runs_in_part_without_an_optional_framework(tmp_path, monkeypatch):
    p = tmp_path / "lessons.toml"
    p.write_text('[[lesson]]\nid = "01"\nnotebook = "n"\ntitle = "t"\nframeworks = ["torch", "tf"]\nneeds = []\n'
                 '[[lesson]]\nid = "02"\nnotebook = "m"\ntitle = "t"\nframeworks = ["tf"]\n'
                 '[[lesson]]\nid = "03"\nnotebook = "k"\ntitle = "t"\nframeworks = ["torch"]\nfull_size_tier = "1-gpu"\n')
    monkeypatch.setenv("RTXCOURSE_LESSONS", str(p))
    catalog.lessons.cache_clear()
    try:
        one = catalog.lessons()[0]
        assert one.can_run("cpu", {"torch"}) == (True, "") and one.missing_sections({"torch"}) == ["tf"]
        plan = catalog.lesson_plan("cpu", {"torch"})
        assert plan["full_size"] == ["01"] and plan["reduced_size"] == ["03"]
        assert plan["in_part"] == ["01 (skips its TensorFlow sections: pip install -e '.[tf]')"]
        assert plan["cannot_run"] == ["02 (lesson 02 needs tf (pip install -e '.[tf]'))"]
        assert catalog.lesson_plan("cpu", {"torch", "tf"})["in_part"] == []
    finally:
        catalog.lessons.cache_clear()
