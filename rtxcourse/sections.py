"""Framework sections of a lesson: ``%%framework tf`` / ``%%framework torch`` cells.

A lesson that teaches a topic in both frameworks marks each cell that needs one of them::

    %%framework tf
    import keras
    ...

When that framework is installed the cell runs as usual. When it is not (or is hidden with
``RTXCOURSE_FRAMEWORKS``), the cell prints one line naming the extra to install and runs
nothing, so a torch-only or a TensorFlow-only learner runs every other section. :func:`ran`
tells a self-check which frameworks' sections ran. ``rc.setup()`` registers the magic and,
when ``RTXCOURSE_FRAMEWORKS`` hides a framework, makes importing it fail the way a missing
install does, so the tests can prove each one-framework install from one environment.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

from rtxcourse.hardware import FRAMEWORKS, available_frameworks, hidden_frameworks

_ran: dict[str, int] = {}
_skipped: dict[str, int] = {}
_current: list[str] = []  # the framework of the %%framework section running now (a stack: sections may nest)


class SectionFailed(Exception):
    """The section's own error was already shown; this only marks the cell as failed."""

    def _render_traceback_(self):  # IPython shows this instead of a second traceback
        return [str(self)]


def needs_line(framework: str) -> str:
    """The one line shown in place of a section whose framework is not installed."""
    _, pretty, _ = FRAMEWORKS[framework]
    return f"⏭ This section needs {pretty}: pip install -e '.[{framework}]' (skipped here)"


def enter(framework: str) -> bool:
    """Start a section of ``framework``: True if it may run; else print the one line and record the skip.

    Other course cell magics that are framework sections (``%%seed --framework``,
    ``%%distributed``) call this too, so :func:`ran` and :func:`skipped` see every section.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"a section's framework must be one of {sorted(FRAMEWORKS)}, got {framework!r}")
    if framework not in available_frameworks():
        _skipped[framework] = _skipped.get(framework, 0) + 1
        print(needs_line(framework))
        return False
    _ran[framework] = _ran.get(framework, 0) + 1
    return True


def run_section(line: str, cell: str, ipython) -> None:
    """The body of ``%%framework NAME``: run ``cell`` in the notebook if NAME is available."""
    name = line.strip()
    if name not in FRAMEWORKS:
        raise ValueError(f"%%framework takes one of {sorted(FRAMEWORKS)}, got {name!r}")
    if not enter(name):
        return
    _current.append(name)
    try:
        result = ipython.run_cell(cell, store_history=False)
    finally:
        _current.pop()
    if not result.success:
        raise SectionFailed(f"the {name} section above failed (its error is shown above)")


def current() -> str | None:
    """The framework of the ``%%framework`` section running now, or None outside any section.

    ``checks.question`` records it, so a learner's summary can score each framework's questions apart.
    """
    return _current[-1] if _current else None


def ran() -> set[str]:
    """The frameworks whose sections ran in this kernel."""
    return set(_ran)


def skipped() -> set[str]:
    """The frameworks whose sections were skipped in this kernel."""
    return set(_skipped)


class _RefusingLoader(importlib.abc.Loader):
    """Loader of a hidden framework: importing it fails the way a missing install does."""

    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r} (hidden by RTXCOURSE_FRAMEWORKS)", name=spec.name)

    def exec_module(self, module):  # never reached: create_module raises
        raise ModuleNotFoundError(f"No module named {module.__name__!r}", name=module.__name__)


class _HiddenFinder(importlib.abc.MetaPathFinder):
    """Refuse to import a hidden framework, as if it were not installed.

    ``find_spec`` itself must not raise: libraries probe for optional packages with
    ``importlib.util.find_spec`` (torch's dynamo, imported by ``torch.optim``, probes for
    TensorFlow). The spec it returns has no origin, which such probes read as "nothing to
    trace", and a loader that fails the import with ``ModuleNotFoundError``.
    """

    def __init__(self, modules: set[str]):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.modules:
            return importlib.machinery.ModuleSpec(fullname, _RefusingLoader(), origin=None)
        return None


def hide_frameworks() -> set[str]:
    """Make imports of the frameworks hidden by ``RTXCOURSE_FRAMEWORKS`` fail; return the hidden ones."""
    hidden = hidden_frameworks()
    modules = {m for fw in hidden for m in FRAMEWORKS[fw][2]}
    if modules and not any(isinstance(f, _HiddenFinder) for f in sys.meta_path):
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in modules)
        if loaded:
            raise RuntimeError(f"RTXCOURSE_FRAMEWORKS hides {sorted(hidden)}, but {loaded[0]} is already imported")
        sys.meta_path.insert(0, _HiddenFinder(modules))
    return hidden


def register(ipython) -> None:
    """Register the ``%%framework`` cell magic in an IPython shell."""

    def framework(line, cell):
        return run_section(line, cell, ipython)

    framework.__doc__ = __doc__
    ipython.register_magic_function(framework, magic_kind="cell", magic_name="framework")
