"""
What a heterosynaptic rule is made of, independent of any target: its
parameters and their admissible values, and the variables it reads and writes.

A rule acts, on a presynaptic spike at one synapse, on one variable of every
synapse of the calling `Synapses` onto the same target neuron (its
"siblings", the synapse itself included) and on one variable of that target
neuron. The per-target code of the rule's body lives in the templates named
after the rule.
"""

from dataclasses import dataclass

__all__ = ["Parameter", "RuleSpec", "BUGMANN2012"]


@dataclass(frozen=True)
class Parameter:
    """
    A scalar parameter of a rule.

    ``weight_units`` says whether it has the units of the weights (else it is
    dimensionless). Its value must lie above ``low`` (or at it, when
    ``low_inclusive``) and, if ``high`` is given, at or below ``high``.
    """

    name: str
    weight_units: bool
    low: float
    low_inclusive: bool
    high: float = None

    def admissible(self):
        """The admissible values in words, e.g. 'positive' or 'in [0, 1]'."""
        if self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.low == 0:
            return "non-negative" if self.low_inclusive else "positive"
        return (">= " if self.low_inclusive else "> ") + f"{self.low:g}"

    def accepts(self, value):
        """Whether the (unitless, finite) ``value`` is admissible."""
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class RuleSpec:
    """
    A rule: its name (which names its body templates), its parameters, and
    the names of its roles: ``synaptic`` (the per-synapse variable it reads
    and writes) and ``neuronal`` (the per-neuron variable of the target).
    """

    name: str
    parameters: tuple
    synaptic: str
    neuronal: str


#: Bugmann (2012), rule (10), with a weight pool per target neuron.
BUGMANN2012 = RuleSpec(
    name="bugmann2012",
    parameters=(
        Parameter("W0", weight_units=True, low=0.0, low_inclusive=False),
        Parameter("eta", weight_units=False, low=0.0, low_inclusive=True, high=1.0),
    ),
    synaptic="w",
    neuronal="pool",
)
