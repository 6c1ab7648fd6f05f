"""
Triggers that apply a rule once per shared neuron rather than per spiking
synapse (`HeteroRule.apply_to`): a spike of the neuron, or a period.
"""

import numbers

import numpy as np
from brian2.core.functions import Function
from brian2.core.preferences import prefs
from brian2.synapses.synapses import Synapses
from brian2.units.allunits import second
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch

from . import brian_compat, validation
from .implementations import add_implementations

__all__ = ["apply_to"]

#: The spike trigger of each side.
SPIKES = {"post": "post_spike", "pre": "pre_spike"}


class _NeuronRule(Function):
    """The function a rule is called through when it is applied once per
    shared neuron: ``f(i)`` with ``i`` the neuron's index in its group (the
    calling Synapses' target or source)."""

    _hetero_rule = False

    def __init__(self, rule, caller):
        self.rule = rule
        self.c_name = f"_hetero_{rule.name}_{caller.synapses.name}_neuron"
        Function.__init__(
            self,
            pyfunc=lambda i: None,
            arg_units=[1],
            arg_names=["i"],
            arg_types=["integer"],
            return_unit=1,
            return_type="float",
            stateless=False,
        )
        add_implementations(self, rule, self.c_name, caller=caller, mode="neuron", fname=self.c_name)


def _check_slot(rule, when):
    slots = list(prefs["core.network.default_schedule"])
    if when is not None and not (
        isinstance(when, str)
        and (when in slots or any(when == f"{pre}_{slot}" for pre in ("before", "after") for slot in slots))
    ):
        raise ValueError(
            f"Rule '{rule.name}': when must be a slot of Brian's schedule ({', '.join(slots)}, "
            f"each also with 'before_' or 'after_'), got when={when!r}."
        )


def _check_every(rule, every):
    if not isinstance(every, Quantity) or np.ndim(every) != 0:
        raise TypeError(f"Rule '{rule.name}': every must be a time, got every={every!r}.")
    fail_for_dimension_mismatch(every, second, f"Rule '{rule.name}': every must be a time, got every={every!r}")
    if not float(every) > 0 or not np.isfinite(float(every)):
        raise ValueError(f"Rule '{rule.name}': every must be a positive, finite time, got every={every!r}.")


def apply_to(rule, synapses, on=None, every=None, when=None, order=0, name=None):
    """See `HeteroRule.apply_to`."""
    side = rule.rule_code.side
    spike = SPIKES[side.over]
    if not isinstance(synapses, Synapses):
        raise TypeError(f"Rule '{rule.name}': apply_to needs a Synapses object, got {synapses!r}.")
    if (on is None) == (every is None):
        raise TypeError(
            f"Rule '{rule.name}': give apply_to one trigger, on='{spike}' or every=<time>, "
            f"got on={on!r}, every={every!r}."
        )
    if on is not None and on != spike:
        if on in SPIKES.values():
            raise ValueError(
                f"Rule '{rule.name}' is over='{side.over}': it acts on the {side.synapses} "
                f"one neuron, so it is applied on that neuron's spikes, on='{spike}', "
                f"got on={on!r}; a rule over the {'source' if side.over == 'post' else 'target'} "
                f"neuron's synapses is made with over='{side.other}'."
            )
        raise ValueError(f"Rule '{rule.name}': on must be '{spike}', got on={on!r}.")
    if every is not None:
        _check_every(rule, every)
    _check_slot(rule, when)
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise TypeError(f"Rule '{rule.name}': order must be an integer, got order={order!r}.")
    code = rule._code_for("neuron")
    needs = (sorted(code.trigger) + sorted(code.uses & {side.other_index})
             + sorted(x + side.other_suffix for x in code.other))
    if needs:
        allowed = f"x_sib, x{side.suffix} and {side.index}"
        raise ValueError(
            f"Rule '{rule.name}' uses {', '.join(repr(n) for n in needs)}, values of a spiking "
            f"synapse, which {('a ' + side.neuron.split()[0] + ' spike') if on else 'a periodic trigger'} does not "
            f"have; call the rule in on_pre code instead, or write it with {allowed} only."
        )
    caller = validation.Caller(rule, synapses)
    group = synapses.target if side.over == "post" else synapses.source
    if on is not None and "spike" not in getattr(group, "events", {}):
        raise ValueError(
            f"Rule '{rule.name}': the {'target' if side.over == 'post' else 'source'} of "
            f"Synapses '{synapses.name}' ('{group.name}') has no threshold, so its neurons "
            "never spike."
        )
    bound = _NeuronRule(rule, caller)
    obj = brian_compat.RuleRunner(
        group, bound.c_name, bound, every=every,
        when=when or ("synapses" if on else "end"), order=order,
        name=name or f"{rule.name}_{synapses.name}_{spike if on else 'every'}*",
    )
    synapses.contained_objects.append(obj)
    return obj
