"""The lesson catalog and the notebooks it lists: present, clean, self-checking."""

import json
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
