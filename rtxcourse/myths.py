"""Run the seed posts' code exactly as written and record what it does (lesson 13).

The course is built from two blog posts whose code mostly does not run. Lesson 13 shows each
snippet failing for real on the pinned stack, not paraphrased. In a notebook::

    %load_ext rtxcourse.myths

    %%seed dlss --framework tf
    model.fit(image, np.random.randint(0, 10, (1, 10)), epochs=10)

runs the cell's code in the notebook's namespace and, instead of stopping the notebook, prints
what it raised (or that it ran). With ``--framework`` the cell is a framework section: where
that framework is not installed it prints the one-line "needs" message and runs nothing, like
``%%framework`` (:mod:`rtxcourse.sections`). :func:`outcomes` hands everything recorded to the
lesson's self-check, which knows how each snippet is supposed to fail: a framework release
that changes the behaviour turns the check red instead of leaving a stale sentence.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

from rtxcourse import sections
from rtxcourse.hardware import FRAMEWORKS


@dataclass(frozen=True)
class Outcome:
    """What one snippet did: ``error`` is the exception's type name, None if it ran."""

    name: str
    error: str | None
    message: str = ""

    @property
    def ran(self) -> bool:
        return self.error is None


_outcomes: dict[str, Outcome] = {}


def attempt(name: str, code: str, namespace: dict) -> Outcome:
    """Execute ``code`` in ``namespace``; record and return what happened (never raises ``Exception``)."""
    if not name.isidentifier():
        raise ValueError(f"a snippet name must be an identifier, got {name!r}")
    try:
        exec(compile(code, f"<seed snippet {name}>", "exec"), namespace)
    except Exception as e:  # the point: show the failure, keep the lesson going
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        outcome = Outcome(name, type(e).__name__, first[:300])
    else:
        outcome = Outcome(name, None)
    _outcomes[name] = outcome
    return outcome


def describe(outcome: Outcome) -> str:
    """One line for the learner."""
    if outcome.ran:
        return f"seed snippet '{outcome.name}': ran without an exception"
    return f"seed snippet '{outcome.name}' fails here: {outcome.error}: {outcome.message}"


def outcomes() -> dict[str, Outcome]:
    """Every snippet attempted in this kernel, by name."""
    return dict(_outcomes)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%%seed", add_help=False)
    p.add_argument("name")
    p.add_argument("--framework", choices=sorted(FRAMEWORKS))
    return p


def seed_cell(line: str, cell: str, namespace: dict) -> Outcome | None:
    """The body of ``%%seed NAME [--framework tf|torch]``."""
    try:
        args = _parser().parse_args(shlex.split(line))
    except SystemExit:
        raise ValueError(f"usage: %%seed NAME [--framework {'|'.join(sorted(FRAMEWORKS))}], got {line!r}") from None
    if args.framework and not sections.enter(args.framework):
        return None
    outcome = attempt(args.name, cell, namespace)
    print(describe(outcome))
    return outcome


def load_ipython_extension(ipython) -> None:
    """Register ``%%seed`` (``%load_ext rtxcourse.myths``)."""

    def seed(line, cell):
        seed_cell(line, cell, ipython.user_ns)

    seed.__doc__ = __doc__
    ipython.register_magic_function(seed, magic_kind="cell", magic_name="seed")
