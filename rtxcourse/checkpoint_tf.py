"""Keras pieces for runs that resume exactly (imports TensorFlow and Keras).

``keras.callbacks.BackupAndRestore`` saves the weights, the optimizer's variables and the epoch,
and ``fit`` with ``shuffle=True`` draws the same batches in a resumed run, but on keras 3.15 it
does *not* save the state of the layers' random generators (each ``Dropout`` has a
``SeedGenerator`` whose counter moves on every call): a resumed run draws different dropout
masks from the uninterrupted one. :class:`EpochSeeds` makes those masks a function of the
epoch alone, so a run resumed at an epoch boundary is bit-identical::

    callbacks = [checkpoint_tf.EpochSeeds(), keras.callbacks.BackupAndRestore(backup_dir)]
    model.fit(x, y, epochs=10, callbacks=callbacks)   # killed at epoch 4? run the same line again
"""

from __future__ import annotations

import numpy as np

from rtxcourse.runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

_EPOCH_SHIFT = 20  # counter = epoch << 20: about a million random calls per epoch before two epochs overlap


def seed_states(model: keras.Model) -> list:
    """The state variables of every ``SeedGenerator`` in ``model`` (one per Dropout and other random layers)."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


class EpochSeeds(keras.callbacks.Callback):
    """At the start of each epoch, set every layer's random counter to a value fixed by the epoch.

    A ``SeedGenerator`` state is ``[seed, counter]`` and the counter grows by one per random
    call, so without this the masks of epoch 5 depend on everything drawn before it,
    including draws a crashed run made and a resumed run never repeats. With it they depend
    only on (layer seed, epoch, step in the epoch).
    """

    def on_epoch_begin(self, epoch, logs=None):
        for state in seed_states(self.model):
            seed = int(np.asarray(state.numpy())[0])
            state.assign(np.array([seed, epoch << _EPOCH_SHIFT], dtype=state.dtype))
