"""The course's pytest plugin lives in the package (rtxcourse/course/plugin.py): it sets quick
mode, skips notebooks this machine cannot run (with the reason) and fails a notebook that ran
nothing or ran far past its catalog duration."""

pytest_plugins = ["rtxcourse.course.plugin"]
