"""
brian2_hetero: heterosynaptic plasticity for Brian2.

A rule such as `bugmann2012` is a Brian function: called as ``getw(i, j)`` in
the ``on_pre`` code of a `Synapses`, it reads and rewrites that Synapses' own
weights of all synapses onto the postsynaptic neuron, and the neuron's own
variables, and returns the new weight of the synapse that received the
spike, on the numpy, Cython and cpp_standalone targets alike.
"""

from . import brian_compat
from .brian_compat import HeteroCompileError
from .rule import HeteroRule, bugmann2012

__all__ = ["bugmann2012", "HeteroRule", "HeteroCompileError"]
__version__ = "0.2.0"

brian_compat.install()
