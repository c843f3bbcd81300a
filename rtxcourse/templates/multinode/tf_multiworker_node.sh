#!/usr/bin/env bash
# One TensorFlow MultiWorkerMirroredStrategy worker: builds this node's TF_CONFIG, then trains.
#
# Run on every node, with the same WORKER_HOSTS and each node's own TASK_INDEX (0 = chief):
#
#   node0$ WORKER_HOSTS=node0:12345,node1:12345 TASK_INDEX=0 ./tf_multiworker_node.sh --steps 1000
#   node1$ WORKER_HOSTS=node0:12345,node1:12345 TASK_INDEX=1 ./tf_multiworker_node.sh --steps 1000
#
# The resulting TF_CONFIG on node 1:
#   {"cluster": {"worker": ["node0:12345", "node1:12345"]}, "task": {"type": "worker", "index": 1}}
#
# Settings: WORKER_HOSTS (required, host:port of every worker, in the same order everywhere),
# TASK_INDEX (this node's position in that list; defaults to SLURM_PROCID under srun),
# MODULE (default rtxcourse.workers.tf_multiworker), PYTHON (default python),
# PRINT_ONLY=1 (print TF_CONFIG and exit). Each worker uses every GPU of its node.
set -euo pipefail

: "${WORKER_HOSTS:?set WORKER_HOSTS=host0:port,host1:port,... (the same on every node)}"
export TASK_INDEX="${TASK_INDEX:-${SLURM_PROCID:?set TASK_INDEX to the position of this node in WORKER_HOSTS}}"
PYTHON="${PYTHON:-python}"
TF_CONFIG=$("$PYTHON" -c '
import json, os
workers = [w.strip() for w in os.environ["WORKER_HOSTS"].split(",") if w.strip()]
index = int(os.environ["TASK_INDEX"])
if not 0 <= index < len(workers):
    raise SystemExit(f"TASK_INDEX={index} but WORKER_HOSTS lists {len(workers)} workers")
print(json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
')
export TF_CONFIG
if [ "${PRINT_ONLY:-0}" = 1 ]; then
    echo "$TF_CONFIG"
    exit 0
fi
exec "$PYTHON" -m "${MODULE:-rtxcourse.workers.tf_multiworker}" "$@"
