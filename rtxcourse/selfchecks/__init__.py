"""Lesson self-checks: ``lessonNN.check(...)`` is called by the last cell of lesson NN.

Each function takes the lesson's measured evidence (numbers, arrays, observed dtypes, not
conclusions), checks every claim the lesson makes with :class:`rtxcourse.course.checks.Claims`
and raises ``AssertionError`` naming the claims that do not hold. They import no framework, so
``tests/test_selfcheck_NN.py`` can feed them broken evidence and show that each claim fails.
"""
