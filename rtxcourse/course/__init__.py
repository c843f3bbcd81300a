"""Everything in rtxcourse that knows notebooks, in one place.

* :mod:`~rtxcourse.course.catalog` — the lesson catalog (``lessons.toml``): each lesson's
  notebook, frameworks, tier, durations and exercise, as validated data.
* :mod:`~rtxcourse.course.notebook` — reading, cleaning and writing notebooks (nbformat's own
  line-split JSON, stable cell ids, no outputs, the course kernel), and cell checksums.
* :mod:`~rtxcourse.course.release` — ``source/`` -> ``exercises/`` + ``solutions/``.
* :mod:`~rtxcourse.course.checks` — questions with points (exercises) and claims (lesson
  self-checks), framework-free.
* :mod:`~rtxcourse.course.plugin` — the pytest plugin that runs the notebooks.
* :mod:`~rtxcourse.course.grade` — ``rtxcourse grade``: submissions -> points, as a chain of
  transforms; :mod:`~rtxcourse.course.kernel_runner` runs one in a fresh, limited kernel
  (:mod:`~rtxcourse.course.kernel`); :mod:`~rtxcourse.course.gradebook` writes the merged
  CSV and the feedback; :mod:`~rtxcourse.course.mutants` proves that checks discriminate.

Importing this package loads no framework.
"""
