"""launch_torch / launch_tf with max_restarts: a crashed worker restarts the whole job."""

import textwrap

import pytest

from rtxcourse import distributed
from rtxcourse.distributed import DistributedJobError

# Dies on the first attempt, succeeds on the next; reads the attempt from either launcher.
FLAKY = """
import os, sys
attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or os.environ["RTXCOURSE_RESTART_COUNT"])
rank = int(os.environ.get("RANK") or os.environ["RTXCOURSE_RANK"])
print(f"rank {rank} attempt {attempt}", flush=True)
if rank == 1 and attempt < int(sys.argv[1]):
    raise SystemExit(7)
from rtxcourse.distributed import save_result
save_result(attempt)
"""


def flaky(tmp_path):
    path = tmp_path / "flaky.py"
    path.write_text(textwrap.dedent(FLAKY))
    return path


@pytest.mark.parametrize("bad", [-1, 1.0, True, "2"])
def test_max_restarts_is_validated(tmp_path, bad):
    for launch in (distributed.launch_torch, distributed.launch_tf):
        with pytest.raises(ValueError, match="max_restarts must be a non-negative int"):
            launch(flaky(tmp_path), device="cpu", max_restarts=bad)


def test_tf_job_restarts_every_worker_and_keeps_the_lines_of_each_attempt(tmp_path):
    seen = []
    job = distributed.launch_tf(flaky(tmp_path), nworkers=2, args=["2"], device="cpu", timeout=60,
                                max_restarts=2, echo=seen.append)
    assert job.result(0) == job.result(1) == 2
    assert job.output(1).splitlines() == ["rank 1 attempt 0", "rank 1 attempt 1", "rank 1 attempt 2"]
    assert job.launcher_log == [f"worker 1 crashed: restarting all 2 workers (restart {i} of 2)" for i in (1, 2)]
    assert "[launcher] worker 1 crashed: restarting all 2 workers (restart 1 of 2)" in seen


def test_tf_job_fails_once_the_restarts_are_used_up(tmp_path):
    with pytest.raises(DistributedJobError) as info:
        distributed.launch_tf(flaky(tmp_path), nworkers=2, args=["5"], device="cpu", timeout=60,
                              max_restarts=1, echo=False)
    assert info.value.rank == 1 and "exited with code 7" in str(info.value)


@pytest.mark.slow
def test_torchrun_restarts_every_worker(tmp_path):
    job = distributed.launch_torch(flaky(tmp_path), nprocs=2, args=["1"], device="cpu", timeout=120,
                                   max_restarts=1, echo=False)
    assert job.result(0) == job.result(1) == 1
    assert "--max-restarts" in job.command and job.command[job.command.index("--max-restarts") + 1] == "1"
    assert job.output(0).splitlines() == ["rank 0 attempt 0", "rank 0 attempt 1"]
