"""`HeteroRule`: a Brian function that applies a heterosynaptic rule to the
variables of the `Synapses` that call it."""

import functools
import numbers
import weakref

import numpy as np
from brian2.core.functions import Function
from brian2.core.preferences import prefs
from brian2.core.variables import Variables
from brian2.devices.device import RuntimeDevice, get_device
from brian2.groups.group import Group
from brian2.groups.subgroup import Subgroup
from brian2.synapses.synapses import Synapses
from brian2.units.allunits import second
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Quantity,
    Unit,
    fail_for_dimension_mismatch,
    get_dimensions,
    get_unit,
)

from . import brian_compat, validation
from .language import RuleCode
from .printer import LANES, c_name, check_renderable, pairwise, print_rule
from .render import render
from .siblings import sibling_index
from .spec import Parameter

__all__ = ["HeteroRule"]

@functools.lru_cache(maxsize=None)
def _numpy_factory(fname, code, params, returns, name, mode):
    printed = print_rule(RuleCode(code, params, returns, name), "numpy", fname)
    namespace = {}
    source = render("numpy", "rule", fname=fname, code=printed, params=params, mode=mode,
                    lanes=LANES, pairwise=pairwise([f"s[:, {k}]" for k in range(LANES)]))
    exec(compile(source, f"<{fname}>", "exec"), namespace)
    return namespace["make_rule"]


class HeteroRule(Function, Group):
    """
    A heterosynaptic rule, written once in Brian's notation, as a Brian
    function. Called as ``name(i, j)`` in the ``on_pre`` code of a
    `Synapses`, it applies the rule for a spike arriving at synapse (i, j) to
    the variables of that Synapses' synapses onto the same target neuron (the
    synapse's "siblings", itself included) and of the target neuron, and
    returns ``returns``.

    Parameters
    ----------
    code : str
        The rule's statements, one per line, in Brian's notation
        (``name = expression``, ``+=``, ``-=``, ``*=``, ``/=``; comments
        after ``#``). ``x`` is the spiking synapse's variable ``x``, ``x_sib``
        the variable ``x`` of each sibling, ``x_post`` the target neuron's
        variable ``x``; ``i``, ``j`` and ``i_sib`` are indices; a name that
        is assigned before it is read (and never used as ``x_sib``) is a
        value of the rule's own. A statement that uses a sibling value is
        applied to every sibling; ``sum``, ``max``, ``min``, ``count`` and
        ``argmax`` reduce sibling values to one, with an optional condition as
        second argument. See the README for the full notation.
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
        Names in ``code`` (without ``_sib``/``_post``) -> the names of the
        variables they stand for, e.g. ``{'w': 'weight'}``.
    nonnegative : iterable of str, optional
        Variables (as named in ``code``) that must stay non-negative; every
        variable the rule acts on must stay finite. Checked at the start and
        end of every run.
    name : str, optional
        A unique name for the rule. Defaults to ``'hetero_rule*'``.

    Notes
    -----
    Spikes that reach one neuron in the same time step are applied one after
    the other, in the order Brian delivers them, on every target.

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
                 nonnegative=(), name="hetero_rule*", _spec_parameters=None):
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
        self.rule_code = RuleCode(code, parameters, returns, shown)
        check_renderable(self.rule_code)
        unused = [key for key in parameters if key not in self.rule_code.used()]
        if unused:
            raise ValueError(
                f"Rule '{shown}': the parameter '{unused[0]}' is used neither in its code "
                "nor in returns."
            )
        variables = {} if variables is None else dict(variables)
        for key, value in variables.items():
            if not (isinstance(value, str) and value.isidentifier()):
                raise TypeError(
                    f"Rule '{shown}': variables must map names to the names of variables, "
                    f"got {key!r}: {value!r}."
                )
            if key not in self.rule_code.synaptic | self.rule_code.neuronal:
                raise ValueError(
                    f"Rule '{shown}': variables names '{key}', which its code does not use "
                    f"(it uses {', '.join(sorted(self.rule_code.synaptic | self.rule_code.neuronal))})."
                )
        targets = {}
        for key in sorted(self.rule_code.synaptic | self.rule_code.neuronal):
            side = "post" if key in self.rule_code.neuronal else "syn"
            other = targets.setdefault((side, variables.get(key, key)), key)
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
            if key not in self.rule_code.synaptic | self.rule_code.neuronal:
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

        self.implementations.add_dynamic_implementation("numpy", self._numpy_code)
        self.implementations.add_dynamic_implementation(
            "cython", self._cython_code, namespace=self._cython_namespace, name=self._c_name
        )
        self.implementations.add_dynamic_implementation(
            "cpp", self._cpp_code, namespace=lambda owner: {}, name=self._c_name
        )

    def _code_for(self, mode):
        """The statements as compiled for ``mode``: once per neuron, the rule
        returns nothing."""
        if mode == "synapse":
            return self.rule_code
        if self.__dict__.get("_neuron_code") is None:
            self.__dict__["_neuron_code"] = RuleCode(self.rule_code.code, self._parameter_names(), "0", self.name)
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

    # Checks when code calling the rule is generated ------------------------

    def _caller(self):
        caller = validation.check_call_site(self, brian_compat.calling_code_object())
        self._callers[caller.synapses.name] = caller
        return caller

    def _runtime(self, caller=None):
        """Check everything for a run on a runtime target; return the `Caller`
        with the sibling index of this run."""
        if caller is None:
            caller = self._caller()
        self._callers[caller.synapses.name] = caller
        validation.check_values(self, caller)
        post = caller.synapses.variables["_synaptic_post"].get_value()
        caller.index = sibling_index(post - caller.target_offset, caller.n_targets)
        return caller

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
                        validation.check_run_arg(f"{group.name}.{name}", value, var.dim,
                                                 nonnegative=nonnegative)

    def apply_to(self, synapses, on=None, every=None, when=None, order=0, name=None):
        """
        Apply the rule to the synapses of ``synapses`` onto each target
        neuron when that neuron spikes (``on='post_spike'``) or every
        ``every`` (for every target neuron), rather than from ``on_pre``
        code.

        Parameters
        ----------
        synapses : `Synapses`
            The synapses whose variables (and whose target's variables) the
            rule acts on.
        on : {'post_spike'}, optional
            Once for each spike of a target neuron.
        every : `Quantity`, optional
            The period (a time).
        when : str, optional
            The scheduling slot, one of ``prefs.core.network.default_schedule``
            (e.g. ``'before_end'``). Defaults to ``'synapses'`` for spikes
            (after the ``on_pre`` code of ``synapses``) and ``'end'`` for
            periods. For spikes, a slot before ``'thresholds'`` sees the
            spikes of the previous time step (those of a run's last step are
            not applied), and in ``'thresholds'`` itself the order against
            the target's threshold follows the objects' names: use
            ``'after_thresholds'`` or later.
        order : int, optional
            The order within the slot. Defaults to 0.
        name : str, optional
            The name of the Brian object that applies the rule.

        Returns
        -------
        obj : `CodeRunner`
            The object that applies the rule: for spikes, it runs once per
            time step over the target neurons that spiked, like the target's
            reset (no spike queue); for periods, over every target neuron on
            a clock of period ``every``. It runs with ``synapses``, which
            contains it.

        Notes
        -----
        There is no spiking synapse: the rule may use sibling values
        (``x_sib``), the target's variables (``x_post``), ``j`` and its
        parameters, but not ``x`` or ``i``. A neuron without synapses is left
        alone. Every call adds one such object: a rule applied twice to the
        same ``synapses`` acts twice per trigger.
        """
        if not isinstance(synapses, Synapses):
            raise TypeError(f"Rule '{self.name}': apply_to needs a Synapses object, got {synapses!r}.")
        if (on is None) == (every is None):
            raise TypeError(
                f"Rule '{self.name}': give apply_to one trigger, on='post_spike' or every=<time>, "
                f"got on={on!r}, every={every!r}."
            )
        if on is not None and on != "post_spike":
            raise ValueError(f"Rule '{self.name}': on must be 'post_spike', got on={on!r}.")
        if every is not None:
            if not isinstance(every, Quantity) or np.ndim(every) != 0:
                raise TypeError(f"Rule '{self.name}': every must be a time, got every={every!r}.")
            fail_for_dimension_mismatch(every, second, f"Rule '{self.name}': every must be a time, got every={every!r}")
            if not float(every) > 0 or not np.isfinite(float(every)):
                raise ValueError(f"Rule '{self.name}': every must be a positive, finite time, got every={every!r}.")
        slots = list(prefs["core.network.default_schedule"])
        if when is not None and not (
            isinstance(when, str)
            and (when in slots or any(when == f"{pre}_{slot}" for pre in ("before", "after") for slot in slots))
        ):
            raise ValueError(
                f"Rule '{self.name}': when must be a slot of Brian's schedule ({', '.join(slots)}, "
                f"each also with 'before_' or 'after_'), got when={when!r}."
            )
        if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
            raise TypeError(f"Rule '{self.name}': order must be an integer, got order={order!r}.")
        code = self._code_for("neuron")
        needs = sorted(code.trigger) + sorted(code.uses & {"i"})
        if needs:
            raise ValueError(
                f"Rule '{self.name}' uses {', '.join(repr(n) for n in needs)}, values of a spiking "
                f"synapse, which {'a target spike' if on else 'a periodic trigger'} does not have; "
                "call the rule in on_pre code instead, or write it with x_sib, x_post and j only."
            )
        caller = validation.Caller(self, synapses)
        target = synapses.target
        if on == "post_spike" and "spike" not in getattr(target, "events", {}):
            raise ValueError(
                f"Rule '{self.name}': the target of Synapses '{synapses.name}' ('{target.name}') "
                "has no threshold, so its neurons never spike."
            )
        bound = _NeuronRule(self, caller)
        obj = brian_compat.RuleRunner(
            target, bound.c_name, bound, every=every,
            when=when or ("synapses" if on else "end"), order=order,
            name=name or f"{self.name}_{synapses.name}_{'post_spike' if on else 'every'}*",
        )
        synapses.contained_objects.append(obj)
        return obj

    def run_regularly(self, *args, **kwds):
        raise NotImplementedError(
            f"The parameters of rule '{self.name}' can only change between runs."
        )

    # Code generation, one factory per target --------------------------------

    def _parameter_names(self):
        return tuple(spec.name for spec, _ in self.parameter_specs)

    def _numpy_code(self, owner, caller=None, mode="synapse", fname=None):
        caller = self._runtime(caller)
        variables = caller.synapses.variables
        make_rule = _numpy_factory(
            fname or self._c_name, self.rule_code.code, self._parameter_names(),
            self._code_for(mode).returns, self.name, mode,
        )
        arrays = {x: var.get_value() for x, (_, var) in caller.synaptic.items()}
        arrays.update({f"post_{x}": var.get_value() for x, (_, var) in caller.neuronal.items()})
        function = make_rule(
            arrays,
            variables["_synaptic_pre"].get_value(),
            variables["_synaptic_post"].get_value(),
            caller.index.offsets,
            caller.index.siblings,
            {name: self.variables[name].get_value() for name in self._parameter_names()},
            caller.source_offset,
            caller.target_offset,
        )
        function._arg_units = self._arg_units
        function._return_unit = self._return_unit
        return function

    def _key(self, name):
        return f"{self._c_name}_{name}"

    def _c_function(self, caller, mode, fname):
        """The C function shared by Cython and cpp_standalone, and its
        arguments ((C type, name), in order)."""
        printed = print_rule(self._code_for(mode), "c", fname)
        arguments = (
            [("double *", f"_ptr_{x}") for x in caller.synaptic]
            + [("double *", f"_ptr_post_{x}") for x in caller.neuronal]
            + [("int32_t *", name) for name in ("_ptr_pre", "_ptr_post", "_offsets", "_strides", "_siblings")]
            + [("double", c_name(name)) for name in self._parameter_names()]
            + [("int32_t", "_source_offset"), ("int32_t", "_target_offset"), ("int32_t", "_n_targets")]
            + [("size_t", "_s") if mode == "synapse" else ("int32_t", "_j")]
        )
        function = render("cpp", "function", fname=fname, code=printed, arguments=arguments, mode=mode)
        return function, arguments

    @staticmethod
    def _values(caller, mode, arrays, params, sizes):
        """The values of the shared C function's arguments: ``arrays`` maps
        'syn_x', 'post_x', 'pre', 'post', 'offsets', 'strides', 'siblings' to
        the target's expression of each array, ``params`` the parameters'
        names to their values, ``sizes`` gives the source offset, target
        offset and number of targets."""
        return (
            [arrays["syn_" + x] for x in caller.synaptic]
            + [arrays["post_" + x] for x in caller.neuronal]
            + [arrays[name] for name in ("pre", "post", "offsets", "strides", "siblings")]
            + list(params.values())
            + list(sizes)
            + ["_s" if mode == "synapse" else "_j"]
        )

    def _cython_code(self, owner, caller=None, mode="synapse", fname=None):
        caller = self._runtime(caller)
        fname = fname or self._c_name
        function, arguments = self._c_function(caller, mode, fname)
        keys = {"syn_" + x: self._key("syn_" + x) for x in caller.synaptic}
        keys.update({"post_" + x: self._key("post_" + x) for x in caller.neuronal})
        keys.update({name: self._key(name) for name in ("pre", "post", "offsets", "strides", "siblings")})
        # (sizes and offsets from the namespace: one module serves every size)
        values = self._values(
            caller, mode, {k: f"_namespace{key}" for k, key in keys.items()},
            {name: f"_namespace{self._key(name)}[0]" for name in self._parameter_names()},
            [f"_namespace{self._key('sizes')}[{k}]" for k in range(3)],
        )
        return render("cython", "rule", fname=fname, mode=mode, function=function,
                      arguments=arguments, values=values)

    def _cython_namespace(self, owner, caller=None):
        if caller is None:
            caller = self._callers[getattr(owner, "synapses", owner).name]
        index = caller.index
        variables = caller.synapses.variables
        namespace = {
            self._key("pre"): variables["_synaptic_pre"].get_value(),
            self._key("post"): variables["_synaptic_post"].get_value(),
            self._key("offsets"): index.offsets,
            self._key("strides"): index.strides,
            self._key("siblings"): index.siblings,
            self._key("sizes"): np.array([caller.source_offset, caller.target_offset, caller.n_targets],
                                         dtype=np.int32),
        }
        for x, (_, var) in caller.synaptic.items():
            namespace[self._key("syn_" + x)] = var.get_value()
        for x, (_, var) in caller.neuronal.items():
            namespace[self._key("post_" + x)] = var.get_value()
        for name in self._parameter_names():
            namespace[self._key(name)] = self.variables[name].get_value()
        return namespace

    def _index_variable(self, synapses, what):
        name = f"_{what}_{synapses.name}"
        if name not in self.variables:
            self.variables.add_dynamic_array(name, size=0, dtype=np.int32, read_only=True)
        return self.variables[name]

    def _cpp_code(self, owner, caller=None, mode="synapse", fname=None):
        if caller is None:
            caller = self._caller()
        self._callers[caller.synapses.name] = caller
        fname = fname or self._c_name
        threads = prefs["devices.cpp_standalone.openmp_threads"]
        if threads:
            raise NotImplementedError(
                f"Rule '{self.name}' cannot run with OpenMP "
                f"(prefs.devices.cpp_standalone.openmp_threads = {threads}): spikes "
                "onto one neuron must be applied one after the other. Set "
                "openmp_threads = 0."
            )
        device = get_device()
        synapses = caller.synapses

        def name(var):
            return device.get_array_name(var, access_data=False)

        names = dict(
            rule=self.name,
            synapses=synapses.name,
            group=caller.group.name,
            pre=name(synapses.variables["_synaptic_pre"]),
            post=name(synapses.variables["_synaptic_post"]),
            source_offset=caller.source_offset,
            target_offset=caller.target_offset,
            n_targets=caller.n_targets,
            n_sources=caller.n_sources,
            **{what: name(self._index_variable(synapses, what)) for what in ("offsets", "strides", "siblings")},
        )
        # (shown name, device name, must be non-negative)
        checked_synaptic = [(shown, name(var), x in self.nonnegative) for x, (shown, var) in caller.synaptic.items()]
        checked_neuronal = [(shown, device.get_array_name(var), x in self.nonnegative)
                            for x, (shown, var) in caller.neuronal.items()]
        params = {n: device.get_array_name(self.variables[n]) for n in self._parameter_names()}
        before = render(
            "cpp",
            "before_run",
            params=[
                (
                    spec.name,
                    params[spec.name],
                    _cpp_condition(spec),
                    spec.admissible(),
                )
                for spec, _ in self.parameter_specs
            ],
            synaptic=checked_synaptic,
            neuronal=checked_neuronal,
            **names,
        )
        after = render("cpp", "after_run", synaptic=checked_synaptic, neuronal=checked_neuronal, **names)
        for slot, code in (("before_network_run", before), ("after_network_run", after)):
            if code not in device.code_lines[slot]:
                device.insert_code(slot, code)
        # run_args must be applied before the checks above, not after them
        # as Brian would do on a first run.
        if not device.run_args_applied:
            device.apply_run_args()
        # The rule writes these arrays behind Brian's back.
        for _, var in list(caller.synaptic.values()) + list(caller.neuronal.values()):
            if var in device.array_cache:
                device.array_cache[var] = None
        function, _ = self._c_function(caller, mode, fname)
        arrays = {"syn_" + x: f"brian::{name(var)}.data()" for x, (_, var) in caller.synaptic.items()}
        arrays.update({"post_" + x: f"brian::{device.get_array_name(var)}"
                       for x, (_, var) in caller.neuronal.items()})
        arrays.update({key: f"brian::{names[key]}.data()" for key in ("pre", "post", "offsets", "strides", "siblings")})
        values = self._values(caller, mode, arrays, {n: f"brian::{array}[0]" for n, array in params.items()},
                              [str(caller.source_offset), str(caller.target_offset), str(caller.n_targets)])
        return render("cpp", "rule", fname=fname, rule=self.name, function=function, values=values, mode=mode)


class _NeuronRule(Function):
    """The function a rule is called through when it is applied once per
    target neuron (see `HeteroRule.apply_to`): ``f(i)`` with ``i`` the
    neuron's index in the target group."""

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
        kwds = dict(caller=caller, mode="neuron", fname=self.c_name)
        self.implementations.add_dynamic_implementation(
            "numpy", functools.partial(self._numpy, **kwds)
        )
        self.implementations.add_dynamic_implementation(
            "cython",
            functools.partial(rule._cython_code, **kwds),
            namespace=lambda owner: rule._cython_namespace(owner, caller=caller),
            name=self.c_name,
        )
        self.implementations.add_dynamic_implementation(
            "cpp", functools.partial(rule._cpp_code, **kwds), namespace=lambda owner: {}, name=self.c_name
        )

    def _numpy(self, owner, **kwds):
        function = self.rule._numpy_code(owner, **kwds)
        function._arg_units = self._arg_units
        function._return_unit = self._return_unit
        return function


def _cpp_condition(spec):
    """The admissible values of a parameter as a C++ condition on v."""
    low = "-_max" if spec.low == -np.inf else repr(float(spec.low))
    parts = [f"v {'>=' if spec.low_inclusive else '>'} {low}"]
    parts.append(f"v <= {repr(float(spec.high))}" if spec.high is not None else "v <= _max")
    return " && ".join(parts)


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
