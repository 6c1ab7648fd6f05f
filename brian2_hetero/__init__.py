"""
brian2_hetero: heterosynaptic plasticity for Brian2.

`HeteroWeights` is a Brian function, ``getw(i, j)``, backed by an M×N weight
store: called in a Synapses' ``on_pre`` code, it redistributes the weights of
all synapses onto the postsynaptic neuron (Bugmann 2012) and returns the new
weight of the synapse that received the spike, on the numpy, Cython and
cpp_standalone targets alike.
"""

from . import brian_compat
from .brian_compat import HeteroCompileError
from .store import HeteroWeights

__all__ = ["HeteroWeights", "HeteroCompileError"]
__version__ = "0.1.0"

brian_compat.install()
