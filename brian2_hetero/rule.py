"""`HeteroRule`: a Brian function that applies a heterosynaptic rule to the
variables of the `Synapses` that call it. The rule's parameters and checks
are here; its code for each target is made by `implementations`, its
per-neuron triggers by `triggers`."""

import weakref

import numpy as np
from brian2.core.functions import Function
from brian2.core.variables import DynamicArrayVariable, Variables
from brian2.devices.device import RuntimeDevice, get_device
from brian2.groups.group import Group
from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, Unit, get_dimensions, get_unit

from . import brian_compat, triggers, validation
from .implementations import add_implementations
from .language import RuleCode
from .printer import check_renderable
from .spec import Parameter

__all__ = ["HeteroRule"]


class HeteroRule(Function, Group):
    """
    A heterosynaptic rule, written once in Brian's notation, as a Brian
    function. Called as ``name(i, j)`` in the ``on_pre`` code of a
    `Synapses`, it applies the rule for a spike arriving at synapse (i, j) to
    the variables of that Synapses' synapses onto the same target neuron j
    (``over='post'``) or leaving the same source neuron i (``over='pre'``)
    -- the synapse's "siblings", itself included -- and of that neuron, and
    returns ``returns``.

    Parameters
    ----------
    code : str
        The rule's statements, one per line, in Brian's notation
        (``name = expression``, ``+=``, ``-=``, ``*=``, ``/=``; comments
        after ``#``). ``x`` is the spiking synapse's variable ``x``, ``x_sib``
        the variable ``x`` of each sibling, ``x_post`` the target neuron's
        variable ``x`` and ``x_pre`` the source neuron's (the shared
        neuron's variables can be written, the other neuron's only read);
        ``i``, ``j`` and ``i_sib`` (``over='post'``) or ``j_sib``
        (``over='pre'``, the sibling's other end) are indices; a name that
        is assigned before it is read (and never used as ``x_sib``) is a
        value of the rule's own. A statement that uses a sibling value is
        applied to every sibling; ``sum``, ``max``, ``min``, ``count`` and
        ``argmax`` reduce sibling values to one, with an optional condition as
        second argument. See the user guide for the full notation.
    parameters : dict, optional
        The parameters' names and values (with units). They become
        variables of the rule: ``rule.alpha = 0.2`` between runs, and
        ``run_args`` of a standalone project.
    returns : str, optional
        The expression the function returns, after the rule was applied.
        Defaults to ``'w'``.
    unit : `Unit`, optional
        The units of the value returned. Defaults to dimensionless.
    variables : dict, optional
        Names in ``code`` (without ``_sib``, ``_post`` or ``_pre``) -> the
        names of the variables they stand for, e.g. ``{'w': 'weight'}``.
    nonnegative : iterable of str, optional
        Variables (as named in ``code``) that must stay non-negative; every
        variable the rule acts on must stay finite. Checked at the start and
        end of every run.
    name : str, optional
        A unique name for the rule. Defaults to ``'hetero_rule*'``.
    over : {'post', 'pre'}, optional
        Whose synapses are the siblings: those onto the spiking synapse's
        target neuron (``'post'``, the default) or those leaving its source
        neuron (``'pre'``).

    Notes
    -----
    Spikes that reach one shared neuron in the same time step are applied
    one after the other, in the order Brian delivers them, on every target:
    a spike of source neuron i reaches each of its synapses, so a rule
    ``over='pre'`` called in ``on_pre`` is applied to the synapses leaving i
    once for each of them.

    Examples
    --------
    >>> from brian2 import *
    >>> from brian2_hetero import HeteroRule
    >>> share = HeteroRule('''
    ...     total = sum(w_sib)
    ...     n = count()
    ...     mean = total / n
    ...     w_sib += beta * (mean - w_sib)
    ...     ''', parameters={'beta': 0.1}, name='share')
    >>> share.beta
    <share.beta: 0.1>
    """

    add_to_magic_network = True
    _hetero_rule = True

    def __init__(self, code, parameters=None, returns="w", unit=None, variables=None,
                 nonnegative=(), name="hetero_rule*", over="post", _spec_parameters=None):
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got name = {name!r}.")
        shown = name.rstrip("*")
        parameters = {} if parameters is None else parameters
        if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
            raise TypeError(
                f"Rule '{shown}': parameters must be a dict of names and values, "
                f"got parameters = {parameters!r}."
            )
        for key in parameters:
            if key in _TAKEN:
                raise ValueError(
                    f"Rule '{shown}': a parameter may not be called '{key}', which is a "
                    "variable or attribute every rule has; rename the parameter."
                )
        if unit is not None and not (isinstance(unit, Unit) or (type(unit) is int and unit == 1)):
            raise TypeError(
                f"Rule '{shown}': unit must be a Brian unit (e.g. unit=mV), got unit = {unit!r}."
            )
        specs = {p.name: p for p in (_spec_parameters or ())}
        if unit is None:
            scale = next((parameters[p.name] for p in specs.values() if p.weight_units), 1)
            dim = get_dimensions(scale) if isinstance(scale, Quantity) else DIMENSIONLESS
        else:
            dim = get_dimensions(unit)
        self.parameter_specs = []
        values = {}
        for key, value in parameters.items():
            spec = specs.get(key)
            if spec is None:
                pdim = get_dimensions(value) if isinstance(value, Quantity) else DIMENSIONLESS
                spec = Parameter(key)
            else:
                pdim = dim if spec.weight_units else DIMENSIONLESS
            values[key] = validation.check_parameter(spec, value, pdim, shown)
            self.parameter_specs.append((spec, pdim))
        self.rule_code = RuleCode(code, parameters, returns, shown, over)
        check_renderable(self.rule_code)
        unused = [key for key in parameters if key not in self.rule_code.used()]
        if unused:
            raise ValueError(
                f"Rule '{shown}': the parameter '{unused[0]}' is used neither in its code "
                "nor in returns."
            )
        code = self.rule_code
        used = code.synaptic | code.neuronal | code.other
        variables = {} if variables is None else dict(variables)
        for key, value in variables.items():
            if not (isinstance(value, str) and value.isidentifier()):
                raise TypeError(
                    f"Rule '{shown}': variables must map names to the names of variables, "
                    f"got {key!r}: {value!r}."
                )
            if key not in used:
                raise ValueError(
                    f"Rule '{shown}': variables names '{key}', which its code does not use "
                    f"(it uses {', '.join(sorted(used))})."
                )
        targets = {}
        for kind, keys in (("syn", code.synaptic), ("neuron", code.neuronal), ("other", code.other)):
            for key in sorted(keys):
                other = targets.setdefault((kind, variables.get(key, key)), key)
                if other != key:
                    raise ValueError(
                        f"Rule '{shown}': '{other}' and '{key}' would both be the variable "
                        f"'{variables.get(key, key)}' (variables={variables!r}); a variable can "
                        "have only one name in a rule."
                    )
        self.variable_names = variables
        if not isinstance(nonnegative, (list, tuple, set, frozenset)) or not all(
            isinstance(k, str) for k in nonnegative
        ):
            raise TypeError(
                f"Rule '{shown}': nonnegative must be a list of names, e.g. nonnegative=['w'], "
                f"got nonnegative = {nonnegative!r}."
            )
        nonnegative = tuple(nonnegative)
        for key in nonnegative:
            if key in code.other - code.synaptic - code.neuronal:
                raise ValueError(
                    f"Rule '{shown}': nonnegative names '{key}', which the rule only reads (as "
                    f"'{key}{code.side.other_suffix}', a variable of the other neuron); only "
                    "variables it acts on are kept non-negative."
                )
            if key not in code.synaptic | code.neuronal:
                raise ValueError(
                    f"Rule '{shown}': nonnegative names '{key}', which its code does not use."
                )
        self.nonnegative = nonnegative

        def call_from_python(i, j):
            raise NotImplementedError(
                f"Rule '{self.name}' can only be called in the on_pre code of "
                "Synapses during a run."
            )

        Function.__init__(
            self,
            pyfunc=call_from_python,
            arg_units=[1, 1],
            arg_names=["i", "j"],
            arg_types=["integer", "integer"],
            return_unit=get_unit(dim),
            return_type="float",
            stateless=False,
            auto_vectorise=True,
        )
        Group.__init__(self, name=name)
        self.dim = dim
        self._c_name = f"_hetero_{self.name}"
        self.variables = Variables(self)
        self.variables.add_constant("N", 1)
        for spec, pdim in self.parameter_specs:
            self.variables.add_array(spec.name, size=1, dimensions=pdim, dtype=np.float64, scalar=True)
        self.variables.create_clock_variables(self._clock)
        self.start, self.stop = 0, 1
        self._enable_group_attributes()
        for spec, _ in self.parameter_specs:
            self.variables[spec.name].set_value(values[spec.name])
        # Per calling Synapses (by name): the checked Caller, and on the
        # runtime targets the sibling index of the current run.
        self._callers = {}
        _RULES.add(self)

        add_implementations(self, self, self._c_name)

    def _code_for(self, mode):
        """The statements as compiled for ``mode``: once per neuron, the rule
        returns nothing."""
        if mode == "synapse":
            return self.rule_code
        if self.__dict__.get("_neuron_code") is None:
            self.__dict__["_neuron_code"] = RuleCode(self.rule_code.code, self._parameter_names(), "0", self.name,
                                                     self.rule_code.side.over)
        return self.__dict__["_neuron_code"]

    @property
    def code(self):
        """The rule's statements, as written."""
        return self.rule_code.code

    def __setattr__(self, key, value, level=0):
        # A parameter given a value is checked at once; strings, indexing
        # and run_args are checked when a run starts.
        specs = self.__dict__.get("parameter_specs")
        for spec, pdim in specs or ():
            if key != spec.name:
                continue
            if not isinstance(value, str):
                validation.check_parameter(spec, value, pdim, self.name)
            elif not isinstance(get_device(), RuntimeDevice):
                raise TypeError(
                    f"Rule '{self.name}': {key} cannot be set from a string in standalone "
                    f"mode (Brian computes no scalar variable from a string there), got "
                    f"{key} = {value!r}; give it a value, or give it in run_args."
                )
        Group.__setattr__(self, key, value, level=level + 1)

    def __reduce_ex__(self, protocol):
        raise TypeError(
            f"Rule '{self.name}' cannot be copied or pickled (nor can Brian's groups, whose "
            "variables it acts on); make another rule from the same arguments, e.g. "
            "HeteroRule(rule.code, ...)."
        )

    def __deepcopy__(self, memo):
        self.__reduce_ex__(None)

    def __del__(self):
        # A rule used by Synapses took part in their runs.
        if not self.__dict__.get("_callers"):
            Group.__del__(self)

    # Checks of runs -----------------------------------------------------------

    def _check_after_run(self, network):
        if not isinstance(get_device(), RuntimeDevice):
            return  # a standalone project checks itself, see after_run.cpp.jinja
        for synapses in network.objects:
            caller = self._callers.get(synapses.name)
            # (the caller knows its Synapses through a weak proxy)
            if caller is None or synapses.variables.get("_synaptic_post") is not caller.post_variable:
                continue
            validation.check_after_run(self, caller)

    def _check_run_args(self, run_args):
        """Values for this rule's parameters or variables given as run_args."""
        for key, value in run_args.items():
            var = getattr(key, "variable", None)
            for spec, _ in self.parameter_specs:
                if var is self.variables[spec.name]:
                    validation.check_run_arg(f"{self.name}.{spec.name}", value, var.dim, spec)
            for caller in self._callers.values():
                for name, group, own, nonnegative in caller.all_variables():
                    if var is own:
                        size = None if isinstance(own, DynamicArrayVariable) else own.size
                        validation.check_run_arg(f"{group.name}.{name}", value, var.dim,
                                                 nonnegative=nonnegative, size=size)

    def apply_to(self, synapses, on=None, every=None, when=None, order=0, name=None):
        """
        Apply the rule to the synapses of ``synapses`` of each shared neuron
        (onto each target neuron for a rule ``over='post'``, leaving each
        source neuron for ``over='pre'``) when that neuron spikes
        (``on='post_spike'`` or ``on='pre_spike'``) or every ``every`` (for
        every such neuron), rather than from ``on_pre`` code.

        Parameters
        ----------
        synapses : `Synapses`
            The synapses whose variables (and whose shared neurons'
            variables) the rule acts on.
        on : {'post_spike', 'pre_spike'}, optional
            Once for each spike of a shared neuron: ``'post_spike'`` for a
            rule over='post', ``'pre_spike'`` for a rule over='pre'.
        every : `Quantity`, optional
            The period (a time).
        when : str, optional
            The scheduling slot, one of ``prefs.core.network.default_schedule``
            (e.g. ``'before_end'``). Defaults to ``'synapses'`` for spikes
            (after the ``on_pre`` code of ``synapses``) and ``'end'`` for
            periods. For spikes, a slot before ``'thresholds'`` sees the
            spikes of the previous time step (those of a run's last step are
            not applied), and in ``'thresholds'`` itself the order against
            the neurons' threshold follows the objects' names: use
            ``'after_thresholds'`` or later.
        order : int, optional
            The order within the slot. Defaults to 0.
        name : str, optional
            The name of the Brian object that applies the rule.

        Returns
        -------
        obj : `CodeRunner`
            The object that applies the rule: for spikes, it runs once per
            time step over the shared neurons that spiked, like a group's
            reset (no spike queue); for periods, over every shared neuron on
            a clock of period ``every``. It runs with ``synapses``, which
            contains it.

        Notes
        -----
        There is no spiking synapse: the rule may use sibling values
        (``x_sib``), the shared neuron's variables (``x_post``, or ``x_pre``
        over='pre'), its index (``j``, or ``i`` over='pre') and its
        parameters, but not ``x``, the other index or the other neuron's
        variables. A neuron without synapses is left alone. Every call adds
        one such object: a rule applied twice to the same ``synapses`` acts
        twice per trigger.
        """
        return triggers.apply_to(self, synapses, on=on, every=every, when=when, order=order, name=name)

    def run_regularly(self, *args, **kwds):
        raise NotImplementedError(
            f"The parameters of rule '{self.name}' can only change between runs."
        )

    def _parameter_names(self):
        return tuple(spec.name for spec, _ in self.parameter_specs)


_RULES = weakref.WeakSet()

# Names a parameter cannot have: the variables every Group has, and the
# attributes of a rule (a parameter so named could not be read or set as
# rule.name).
_TAKEN = frozenset(
    {"N", "t", "dt", "t_in_timesteps", "timestep"}
    | {name for name in dir(HeteroRule) if not name.startswith("_")}
    | {
        "auto_vectorise", "codeobj_class", "dim", "implementations", "indices", "namespace",
        "nonnegative", "order", "parameter_specs", "pyfunc", "rule_code", "start", "stateless",
        "stop", "sympy_func", "variable_names", "variables", "when",
    }
)


def _check_rules_after_run(network):
    for rule in list(_RULES):
        rule._check_after_run(network)


def _check_rules_run_args(run_args):
    for rule in list(_RULES):
        rule._check_run_args(run_args)


def _refuse_synapses_added_during_run(synapses):
    for rule in list(_RULES):
        if synapses.name in rule._callers:
            raise RuntimeError(
                f"Synapses '{synapses.name}' cannot get new synapses during a run: rule "
                f"'{rule.name}' acts on them with the synapses they had when the run "
                "started. Call connect() before run(), or between runs."
            )


brian_compat.after_run_hooks.append(_check_rules_after_run)
brian_compat.resize_during_run_hooks.append(_refuse_synapses_added_during_run)
brian_compat.run_args_hooks.append(_check_rules_run_args)
