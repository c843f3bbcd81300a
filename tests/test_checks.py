"""Learner checks: questions record points and never stop the notebook; claims fail loudly."""

import linecache

import pytest

from rtxcourse.course import checks as ck


@pytest.fixture(autouse=True)
def _fresh():
    ck.reset()
    yield
    ck.reset()


def test_question_outcomes_and_points(capsys):
    with ck.question("q1", points=2):
        assert 1 + 1 == 2
    with ck.question("q2", points=3, hint="sum the list"):
        assert sum([1, 2]) == 4, "sum is wrong"
    with ck.question("q3", points=1):
        raise NotImplementedError("Exercise: replace this line with your code")
    with ck.question("q4", points=1, hint="h4"):
        {}["missing"]
    r = ck.results()
    assert [r[q]["status"] for q in ("q1", "q2", "q3", "q4")] == ["passed", "failed", "not attempted", "error"]
    assert [r[q]["points"] for q in ("q1", "q2", "q3", "q4")] == [2, 0, 0, 0]
    assert r["q2"]["message"].startswith("sum is wrong") and "KeyError" in r["q4"]["message"]
    out = capsys.readouterr().out
    assert "✓ q1: 2/2 points" in out and "✗ q2: 0/3 points" in out and "hint: sum the list" in out
    assert ck.summary() == {"points": 2, "max_points": 7}


def test_bare_assert_reports_the_failing_line():
    # As in a notebook cell: not rewritten by pytest, source known to linecache (IPython does this).
    src = "with ck.question('q1'):\n    x = 3\n    assert x == 4\n"
    linecache.cache["<cell-7>"] = (len(src), None, src.splitlines(True), "<cell-7>")
    exec(compile(src, "<cell-7>", "exec"), {"ck": ck})
    assert ck.results()["q1"]["message"] == "assertion failed: assert x == 4"


def test_rerunning_a_check_replaces_its_result():
    with ck.question("q1"):
        assert False
    with ck.question("q1"):
        pass
    assert ck.results()["q1"]["status"] == "passed" and len(ck.results()) == 1


def test_interrupts_are_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        with ck.question("q1"):
            raise KeyboardInterrupt
    with pytest.raises(SystemExit):
        with ck.question("q2"):
            raise SystemExit(0)


@pytest.mark.parametrize("qid, points", [("", 1), ("q", 0), ("q", -1), ("q", True), (3, 1)])
def test_bad_question_arguments_are_clear_errors(qid, points):
    with pytest.raises(ValueError, match="question|points"):
        ck.question(qid, points=points)


def test_claims_fail_naming_every_failed_claim(capsys):
    with pytest.raises(AssertionError, match=r"2 of 3 claims .*bf16 tracks fp32 \(0.9 vs 0.3\); speed-up \(1.0x\)"):
        with ck.Claims("Lesson X") as c:
            c.check(True, "shapes agree")
            c.check(False, "bf16 tracks fp32", "0.9 vs 0.3")
            c.check(0, "speed-up", "1.0x")
    out = capsys.readouterr().out
    assert "✓ shapes agree" in out and "✗ bf16 tracks fp32 (0.9 vs 0.3)" in out


def test_claims_that_check_nothing_fail():
    with pytest.raises(AssertionError, match="checked nothing"):
        with ck.Claims("Lesson X"):
            pass


def test_claims_pass_and_let_errors_through(capsys):
    with ck.Claims("Lesson X") as c:
        c.check(True, "a")
    assert "all 1 claims hold" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError):
        with ck.Claims("Lesson X") as c:
            c.check(1 / 0, "never reached")


def _q(points, max_points, framework=None):
    return {"points": points, "max_points": max_points, "framework": framework}


def test_framework_paths_count_shared_questions_on_every_path():
    questions = {"shared": _q(2, 2), "t1": _q(3, 3, "torch"), "t2": _q(0, 1, "torch"), "k1": _q(4, 4, "tf")}
    assert ck.paths(questions) == {"tf": (6, 6), "torch": (5, 6)}
    assert ck.best_path(questions) == ("tf", 6, 6)  # a TF-only learner's full marks count, torch's gaps do not
    assert ck.paths({"a": _q(1, 2), "b": _q(0, 3)}) == {None: (1, 5)}  # no framework checks: one path, everything
    assert ck.best_path({"a": _q(1, 2), "b": _q(0, 3)}) == (None, 1, 5)


def test_best_path_is_the_largest_share_then_the_most_points_then_the_first_name():
    assert ck.best_path({"t": _q(2, 4, "torch"), "k": _q(2, 2, "tf")})[0] == "tf"  # share 1.0 beats 0.5
    assert ck.best_path({"t": _q(4, 4, "torch"), "k": _q(2, 2, "tf")})[0] == "torch"  # equal share: more points
    assert ck.best_path({"t": _q(0, 4, "torch"), "k": _q(0, 4, "tf")}) == ("tf", 0, 4)  # nothing earned: stable
    both = {"t": _q(4, 4, "torch"), "k": _q(4, 4, "tf")}
    assert ck.best_path(both) == ("tf", 4, 4)  # answering both paths earns no more than one


def test_a_question_records_the_framework_section_it_ran_in(monkeypatch, capsys):
    from rtxcourse import sections

    monkeypatch.setattr(sections, "_current", ["tf"])
    with ck.question("k1", points=3):
        pass
    monkeypatch.setattr(sections, "_current", [])
    with ck.question("shared", points=1):
        pass
    with ck.question("t1", points=3):
        raise NotImplementedError  # as a torch section would, if it had run here
    ck._results["t1"].framework = "torch"
    assert ck.results()["k1"]["framework"] == "tf" and ck.results()["shared"]["framework"] is None
    capsys.readouterr()
    assert ck.summary() == {"points": 4, "max_points": 4}
    out = capsys.readouterr().out
    assert "on the tf path (paths: tf: 4/4, torch: 1/4; the best one counts)" in out
