"""`import rtxcourse` must be fast and load no framework."""

import json
import subprocess
import sys

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax")


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_no_framework_and_is_fast():
    res = _probe(
        # CPU seconds, not wall: what the import costs, whatever else the machine is doing
        "import json, sys, time; t = time.process_time(); import rtxcourse; dt = time.process_time() - t; "
        "print(json.dumps({'dt': dt, 'mods': [m for m in %r if m in sys.modules]}))" % (FRAMEWORKS,)
    )
    assert res["mods"] == [], f"import rtxcourse loaded {res['mods']}"
    assert res["dt"] < 1.0, f"import rtxcourse took {res['dt']:.2f} s of CPU"


def test_tier_and_doctor_summary_load_no_framework():
    res = _probe(
        "import json, sys, rtxcourse; from rtxcourse import hardware, bench, data, sections; from rtxcourse.course import catalog, checks, notebook, release; "
        "rtxcourse.tier(); hardware.summary(); catalog.lessons(); catalog.available_frameworks(); "
        "print(json.dumps({'mods': [m for m in %r if m in sys.modules]}))" % (FRAMEWORKS,)
    )
    assert res["mods"] == []
