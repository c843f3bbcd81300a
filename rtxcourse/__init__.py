"""rtxcourse: the helper package behind the course's notebooks.

Importing it is cheap and loads no framework: TensorFlow and torch are imported only inside
the functions (and the ``*_tf`` / ``*_torch`` modules) that need them.
"""

from rtxcourse.runtime import by_tier, quick_mode, seed_everything, setup, tier

__version__ = "0.1.0"

__all__ = ["__version__", "by_tier", "quick_mode", "seed_everything", "setup", "tier"]
