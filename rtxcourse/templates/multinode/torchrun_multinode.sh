#!/usr/bin/env bash
# Data-parallel PyTorch training on several machines: torchrun with a c10d rendezvous.
#
# Run this same script on EVERY node (ssh, pdsh, your scheduler). Each node starts one
# process per GPU; the rendezvous on RDZV_HOST:RDZV_PORT assigns the global ranks.
#
#   RDZV_HOST=node0.example NNODES=2 ./torchrun_multinode.sh --epochs 20
#
# Settings (environment variables):
#   RDZV_HOST       required: an address of one node that every node can reach (e.g. node 0)
#   RDZV_PORT       a free TCP port on RDZV_HOST (default 29500)
#   NNODES          number of nodes, or a range MIN:MAX for elastic jobs (default 2)
#   NPROC_PER_NODE  processes per node: "gpu" = one per visible GPU (default), or a number
#   JOB_ID          any id shared by all nodes of one job (default rtxcourse-ddp)
#   MODULE          the training module (default rtxcourse.workers.ddp_train)
#   PYTHON          the interpreter of the course's environment (default: python)
#   DRY_RUN=1       print the command instead of running it
# Everything after the script name goes to the training module.
#
# Network: NCCL picks an interface by itself; if it picks the wrong one (a docker bridge,
# a slow management NIC), name the right one: export NCCL_SOCKET_IFNAME=ib0 (or eth0).
# For a first run, export NCCL_DEBUG=INFO shows the topology and transport NCCL chose.
set -euo pipefail

: "${RDZV_HOST:?set RDZV_HOST to an address of node 0 that every node can reach}"
cmd=(
    "${PYTHON:-python}" -m torch.distributed.run
    --nnodes "${NNODES:-2}"
    --nproc-per-node "${NPROC_PER_NODE:-gpu}"
    --rdzv-backend c10d
    --rdzv-endpoint "${RDZV_HOST}:${RDZV_PORT:-29500}"
    --rdzv-id "${JOB_ID:-rtxcourse-ddp}"
    --max-restarts 0
    -m "${MODULE:-rtxcourse.workers.ddp_train}" "$@"
)
if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
else
    exec "${cmd[@]}"
fi
