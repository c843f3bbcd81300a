"""Worker scripts that the launchers in :mod:`rtxcourse.distributed` start as separate processes.

Workers are real files so every process can import them (a function defined in a notebook
cell cannot be pickled to another process). Each one also runs on its own, by hand or on a
cluster, e.g. ``torchrun --nproc-per-node 4 -m rtxcourse.workers.ddp_train``.

* :mod:`~rtxcourse.workers.ddp_train` - PyTorch DistributedDataParallel training.
* :mod:`~rtxcourse.workers.fsdp_train` - PyTorch FSDP2 (fully_shard) training.
* :mod:`~rtxcourse.workers.tf_multiworker` - TensorFlow MultiWorkerMirroredStrategy training.
* :mod:`~rtxcourse.workers.cell` - runs a notebook cell written to a file (``%%distributed``).
"""
