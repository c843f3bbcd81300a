"""Worker scripts that the launchers in :mod:`rtxcourse.distributed` start as separate processes.

Workers are real files so every process can import them (a function defined in a notebook
cell cannot be pickled to another process). Each one also runs on its own, by hand or on a
cluster, e.g. ``torchrun --nproc-per-node 4 -m rtxcourse.workers.ddp_train``.

* :mod:`~rtxcourse.workers.ddp_train` - PyTorch DistributedDataParallel training.
* :mod:`~rtxcourse.workers.fsdp_train` - PyTorch FSDP2 (fully_shard) training.
* :mod:`~rtxcourse.workers.tf_multiworker` - TensorFlow MultiWorkerMirroredStrategy training.
* :mod:`~rtxcourse.workers.resumable_train` - DDP training that resumes from its checkpoint after
  torchrun restarts it (``--max-restarts``).
* :mod:`~rtxcourse.workers.tf_backup_restore` - multi-worker TensorFlow training that backs up
  and restores itself when the job is restarted.
* :mod:`~rtxcourse.workers.cell` - runs a notebook cell written to a file (``%%distributed``).
"""
