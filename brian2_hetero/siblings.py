"""The side of a rule (the neuron whose synapses are siblings) and the
sibling index of a `Synapses` object: the synapses of each such neuron."""

from dataclasses import dataclass

import numpy as np

__all__ = ["Side", "SIDES", "SiblingIndex", "sibling_index"]


@dataclass(frozen=True)
class Side:
    """
    Which neuron a rule is over: ``'post'``, the synapses onto one target
    neuron are siblings; ``'pre'``, the synapses leaving one source neuron.
    In the names of the rule language, the shared neuron's variables end in
    ``suffix`` and the spiking synapse's other neuron's in ``other_suffix``;
    ``index`` is the shared neuron's index (``j`` or ``i``), ``other_index``
    the other end's, ``sibling_index`` the other end of each sibling
    (``i_sib`` or ``j_sib``).
    """

    over: str

    @property
    def other(self):
        return "pre" if self.over == "post" else "post"

    @property
    def suffix(self):
        return "_" + self.over

    @property
    def other_suffix(self):
        return "_" + self.other

    @property
    def index(self):
        return "j" if self.over == "post" else "i"

    @property
    def other_index(self):
        return "i" if self.over == "post" else "j"

    @property
    def sibling_index(self):
        return self.other_index + "_sib"

    @property
    def neuron(self):
        """The shared neuron in words."""
        return "target neuron" if self.over == "post" else "source neuron"

    @property
    def synapses(self):
        """The siblings in words."""
        return "synapses onto" if self.over == "post" else "synapses leaving"


SIDES = {over: Side(over) for over in ("post", "pre")}


class SiblingIndex:
    """
    The synapses of each shared neuron ``t`` (counted from the start of its
    group) are ``siblings[offsets[t]:offsets[t + 1]]``, in synapse order;
    ``strides[t]`` is the constant step between them (1 when they are
    contiguous), or 0 when the steps differ; ``firsts[t]`` is the first of
    them (0 for a neuron without synapses), which the C code reads from
    this small array rather than from ``siblings``, a memory access fewer
    per spike on large networks.
    """

    def __init__(self, offsets, strides, siblings):
        self.offsets = offsets
        self.strides = strides
        self.siblings = siblings
        self.firsts = np.zeros(strides.size, dtype=np.int32)
        nonempty = offsets[:-1] < offsets[1:]
        self.firsts[nonempty] = siblings[offsets[:-1][nonempty]]


def sibling_index(neurons, n_neurons):
    """
    Build the `SiblingIndex` of synapses whose shared neurons are
    ``neurons`` (one entry per synapse, counted from the start of the
    group, each in ``[0, n_neurons)``).
    """
    neurons = np.asarray(neurons, dtype=np.int64)
    siblings = np.argsort(neurons, kind="stable").astype(np.int32)
    counts = np.bincount(neurons, minlength=n_neurons)
    offsets = np.zeros(n_neurons + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    strides = np.ones(n_neurons, dtype=np.int32)
    if siblings.size > 1:
        steps = np.diff(siblings)
        neuron = np.repeat(np.arange(n_neurons), counts)
        within = neuron[:-1] == neuron[1:]
        several = np.flatnonzero(counts > 1)
        strides[several] = steps[offsets[several]]
        irregular = within & (steps != strides[neuron[:-1]])
        strides[neuron[:-1][irregular]] = 0
    return SiblingIndex(offsets, strides, siblings)
