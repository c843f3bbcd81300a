"""The grader's kernel: this interpreter's IPython kernel, started under a memory limit.

``rtxcourse grade`` starts each submission's kernel as ``python -m rtxcourse.course.kernel
BYTES -f CONNECTION_FILE``: the limit is set in the kernel's own process before IPython
starts, so it binds the student's code and nothing else. This module imports nothing heavy
(no nbformat, no nbclient): the kernel starts as fast as a plain ``ipykernel_launcher``.

The limit is ``RLIMIT_DATA`` (heap and private writable mappings), not ``RLIMIT_AS``: an
address-space limit counts memory that is only reserved, and TensorFlow's import alone
reserves about 2 GB of address space (CUDA reserves far more), so it breaks them long
before they use memory. An allocation past the limit raises ``MemoryError`` in the notebook,
or kills the kernel when a C library cannot handle a failed allocation.
"""

from __future__ import annotations

import resource
import sys


def apply_limits(memory_bytes: int) -> None:
    """Limit this process (and what it starts) to ``memory_bytes`` of data memory (RLIMIT_DATA)."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))


def main(argv: list[str] | None = None) -> int:
    """Set the limit given as the first argument, then run IPython's kernel with the rest."""
    argv = sys.argv[1:] if argv is None else argv
    apply_limits(int(argv[0]))
    from ipykernel.kernelapp import launch_new_instance

    sys.argv = ["ipykernel_launcher", *argv[1:]]
    launch_new_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main())
