"""The sibling index of a `Synapses` object: the synapses onto each neuron."""

import numpy as np

__all__ = ["SiblingIndex", "sibling_index"]


class SiblingIndex:
    """
    The synapses onto each target neuron ``t`` (counted from the start of the
    target group) are ``siblings[offsets[t]:offsets[t + 1]]``, in synapse
    order; ``strides[t]`` is the constant step between them (1 when they are
    contiguous), or 0 when the steps differ.
    """

    def __init__(self, offsets, strides, siblings):
        self.offsets = offsets
        self.strides = strides
        self.siblings = siblings


def sibling_index(targets, n_targets):
    """
    Build the `SiblingIndex` of synapses onto ``targets`` (one entry per
    synapse, counted from the start of the target group, each in
    ``[0, n_targets)``).
    """
    targets = np.asarray(targets, dtype=np.int64)
    siblings = np.argsort(targets, kind="stable").astype(np.int32)
    counts = np.bincount(targets, minlength=n_targets)
    offsets = np.zeros(n_targets + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    strides = np.ones(n_targets, dtype=np.int32)
    if siblings.size > 1:
        steps = np.diff(siblings)
        neuron = np.repeat(np.arange(n_targets), counts)
        within = neuron[:-1] == neuron[1:]
        several = np.flatnonzero(counts > 1)
        strides[several] = steps[offsets[several]]
        irregular = within & (steps != strides[neuron[:-1]])
        strides[neuron[:-1][irregular]] = 0
    return SiblingIndex(offsets, strides, siblings)
