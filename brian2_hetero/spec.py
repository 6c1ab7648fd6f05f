"""
What a heterosynaptic rule is made of, independent of any target: its
statements (in the language of `language`), its parameters and their
admissible values, and the built-in rules written in that language.
"""

import math
from dataclasses import dataclass

__all__ = ["Parameter", "RuleSpec", "LIBRARY"]


@dataclass(frozen=True)
class Parameter:
    """
    A scalar parameter of a rule.

    ``weight_units`` says whether it has the units of the values the rule
    returns (else it is dimensionless; None: the units of its first value).
    Its value must lie above ``low`` (or at it, when ``low_inclusive``) and,
    if ``high`` is given, at or below ``high``.
    """

    name: str
    weight_units: bool = None
    low: float = -math.inf
    low_inclusive: bool = True
    high: float = None

    def admissible(self):
        """The admissible values in words, e.g. 'positive' or 'in [0, 1]'."""
        if self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.low == -math.inf:
            return "finite"
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
    A rule: its default ``name``, its ``code`` (statements, for a rule
    over='post'), the expression it ``returns``, its ``parameters``
    (`Parameter` objects), the variables (as named in the code) that must
    stay ``nonnegative``, and ``code_pre``, the statements of the rule
    over='pre' (None: the rule exists over='post' only).
    """

    name: str
    code: str
    returns: str
    parameters: tuple
    nonnegative: tuple = ()
    code_pre: str = None

    def code_for(self, over):
        """The statements of the rule over ``over``, or None."""
        return self.code if over == "post" else self.code_pre


_WEIGHTS = ("w",)
# (rules that read no index and no neuron's variable mean the same over
# either side)
_MULTIPLICATIVE = """
            total = sum(w_sib)
            w_sib *= 1 + eta * (W_total / total - 1)
            """
_SUBTRACTIVE = """
            total = sum(w_sib)
            n = count()
            w_sib = clip(w_sib - (total - W_total) / n, 0, inf)
            """
_REDISTRIBUTION = """
            taken = sum(alpha * w_sib)
            w_sib -= alpha * w_sib
            w += taken
            """

#: The built-in rules, by name.
LIBRARY = {
    spec.name: spec
    for spec in (
        RuleSpec(
            name="bugmann2012",
            code="""
            # every stronger sibling gives part of its weight to the spiking synapse
            d = int(w_sib > w) * w_sib * ((w_sib - w) / (W0 + w_sib))
            gain = sum(d)
            w_sib -= d
            # which also takes a fraction of the neuron's pool
            from_pool = eta * pool_post
            w = w + gain + from_pool
            pool_post -= from_pool
            """,
            returns="w",
            parameters=(
                Parameter("W0", weight_units=True, low=0.0, low_inclusive=False),
                Parameter("eta", weight_units=False, low=0.0, high=1.0),
            ),
            nonnegative=("w", "pool"),
        ),
        RuleSpec(
            name="normalise_multiplicative",
            code=_MULTIPLICATIVE,
            returns="w",
            parameters=(
                Parameter("W_total", weight_units=True, low=0.0, low_inclusive=False),
                Parameter("eta", weight_units=False, low=0.0, high=1.0),
            ),
            nonnegative=_WEIGHTS,
            code_pre=_MULTIPLICATIVE,
        ),
        RuleSpec(
            name="normalise_subtractive",
            code=_SUBTRACTIVE,
            returns="w",
            parameters=(Parameter("W_total", weight_units=True, low=0.0),),
            nonnegative=_WEIGHTS,
            code_pre=_SUBTRACTIVE,
        ),
        RuleSpec(
            name="field2020",
            code="""
            # the strongest other synapse onto the neuron (the first one on ties)
            strongest = argmax(w_sib, i_sib != i)
            w_sib *= 1 + (b - 1) * int(i_sib == strongest)
            w *= a
            """,
            returns="w",
            parameters=(
                Parameter("a", weight_units=False, low=0.0),
                Parameter("b", weight_units=False, low=0.0),
            ),
            nonnegative=_WEIGHTS,
            code_pre="""
            # the strongest other synapse leaving the neuron (the first one on ties)
            strongest = argmax(w_sib, j_sib != j)
            w_sib *= 1 + (b - 1) * int(j_sib == strongest)
            w *= a
            """,
        ),
        RuleSpec(
            name="redistribution",
            code=_REDISTRIBUTION,
            returns="w",
            parameters=(Parameter("alpha", weight_units=False, low=0.0, high=1.0),),
            nonnegative=_WEIGHTS,
            code_pre=_REDISTRIBUTION,
        ),
    )
}
