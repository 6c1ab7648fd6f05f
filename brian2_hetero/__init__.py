"""
brian2_hetero: heterosynaptic plasticity for Brian2.

A rule, written once in Brian's notation (`HeteroRule`) or taken from the
built-in library (`bugmann2012`, `normalise_multiplicative`,
`normalise_subtractive`, `field2020`, `redistribution`), is a Brian function:
called as ``getw(i, j)`` in the ``on_pre`` code of a `Synapses`, it reads and
rewrites that Synapses' own variables of all synapses onto the postsynaptic
neuron, and the neuron's own variables, and returns a value of the synapse
that received the spike, on the numpy, Cython and cpp_standalone targets
alike.
"""

from . import brian_compat
from .brian_compat import HeteroCompileError
from .language import RuleSyntaxError
from .library import (
    bugmann2012,
    field2020,
    normalise_multiplicative,
    normalise_subtractive,
    redistribution,
)
from .rule import HeteroRule

__all__ = [
    "HeteroRule",
    "bugmann2012",
    "normalise_multiplicative",
    "normalise_subtractive",
    "field2020",
    "redistribution",
    "HeteroCompileError",
    "RuleSyntaxError",
]
__version__ = "0.4.0"

brian_compat.install()
