"""`HeteroRule`: a Brian function that applies a heterosynaptic rule to the
variables of the `Synapses` that call it."""

import functools
import weakref

import numpy as np
from brian2.core.functions import Function
from brian2.core.preferences import prefs
from brian2.core.variables import Variables
from brian2.devices.device import RuntimeDevice, get_device
from brian2.groups.group import Group
from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, get_dimensions, get_unit

from . import brian_compat, validation
from .render import render
from .siblings import sibling_index
from .spec import BUGMANN2012

__all__ = ["HeteroRule", "bugmann2012"]

_CPP_CONDITIONS = {
    # (low_inclusive, has high) -> condition on the value v, see before_run.cpp.jinja
    (False, False): "v > {low} && v <= _max",
    (True, False): "v >= {low} && v <= _max",
    (False, True): "v > {low} && v <= {high}",
    (True, True): "v >= {low} && v <= {high}",
}


@functools.lru_cache(maxsize=None)
def _numpy_factory(fname, rule, params, neuronal):
    namespace = {}
    source = render("numpy", "rule", fname=fname, body=rule, params=params, neuronal=neuronal)
    exec(compile(source, f"<{fname}>", "exec"), namespace)
    return namespace["make_rule"]


class HeteroRule(Function, Group):
    """
    A heterosynaptic rule as a Brian function. Called as ``name(i, j)`` in the
    ``on_pre`` code of a `Synapses`, it applies the rule for a spike arriving
    at synapse (i, j) to that Synapses' own per-synapse variable and to the
    target group's per-neuron variable, and returns the synapse's new value.
    Create rules with the functions of this package (e.g. `bugmann2012`).

    The rule's parameters are variables of this object (``rule.W0``): they
    can be changed between runs, recorded and passed as ``run_args`` of a
    standalone project like any Brian variable.
    """

    add_to_magic_network = True
    _hetero_rule = True

    def __init__(self, spec, parameters, w, pool, name):
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got name = {name!r}.")
        scale = parameters[next(p.name for p in spec.parameters if p.weight_units)]
        dim = get_dimensions(scale) if isinstance(scale, Quantity) else DIMENSIONLESS
        values = {
            p.name: validation.check_parameter(p, parameters[p.name], dim, name.rstrip("*"))
            for p in spec.parameters
        }
        for role, value in ((spec.synaptic, w), (spec.neuronal, pool)):
            if not (isinstance(value, str) and value.isidentifier()):
                raise TypeError(f"{role} must be the name of a variable, got {role} = {value!r}.")

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
        self.spec = spec
        self.dim = dim
        self.variable_names = (w, pool)
        self._c_name = f"_hetero_{self.name}"
        self.variables = Variables(self)
        self.variables.add_constant("N", 1)
        for p in spec.parameters:
            self.variables.add_array(
                p.name,
                size=1,
                dimensions=dim if p.weight_units else DIMENSIONLESS,
                dtype=np.float64,
                scalar=True,
            )
        self.variables.create_clock_variables(self._clock)
        self.start, self.stop = 0, 1
        self._enable_group_attributes()
        for p in spec.parameters:
            self.variables[p.name].set_value(values[p.name])
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

    def __setattr__(self, key, value, level=0):
        # A parameter given a value is checked at once; strings, indexing
        # and run_args are checked when a run starts.
        spec = self.__dict__.get("spec")
        if spec is not None and not isinstance(value, str):
            for p in spec.parameters:
                if key == p.name:
                    validation.check_parameter(p, value, self.dim, self.name)
        Group.__setattr__(self, key, value, level=level + 1)

    def __del__(self):
        # A rule used by Synapses took part in their runs.
        if not self.__dict__.get("_callers"):
            Group.__del__(self)

    # Checks when code calling the rule is generated ------------------------

    def _caller(self):
        caller = validation.check_call_site(self, brian_compat.calling_code_object())
        self._callers[caller.synapses.name] = caller
        return caller

    def _runtime(self):
        """Check everything for a run on a runtime target; return the `Caller`
        with the sibling index of this run."""
        caller = self._caller()
        validation.check_values(self, caller)
        post = caller.synapses.variables["_synaptic_post"].get_value()
        caller.index = sibling_index(post - caller.target_offset, caller.n_targets)
        return caller

    def _check_after_run(self, network):
        if not isinstance(get_device(), RuntimeDevice):
            return  # a standalone project checks itself, see after_run.cpp.jinja
        for synapses in network.objects:
            caller = self._callers.get(synapses.name)
            if caller is None or synapses.variables.get(caller.w_name) is not caller.w:
                continue
            validation.check_after_run(
                caller.w.get_value(),
                lambda s, v: (
                    f"After the run, Synapses '{synapses.name}' has {caller.w_name} = {v!r} "
                    f"at synapse {s}, which rule '{self.name}' acts on: weights must stay "
                    "finite and non-negative during a run."
                ),
            )
            stop = caller.target_offset + caller.n_targets
            validation.check_after_run(
                caller.pool.get_value()[caller.target_offset : stop],
                lambda k, v: (
                    f"After the run, '{caller.group.name}' has {caller.pool_name} = {v!r} "
                    f"at neuron {k + caller.target_offset}, which rule '{self.name}' acts "
                    "on: it must stay finite and non-negative during a run."
                ),
            )

    def _check_run_args(self, run_args):
        """Values for this rule's parameters, weights or pools given as run_args."""
        for key, value in run_args.items():
            var = getattr(key, "variable", None)
            for p in self.spec.parameters:
                if var is self.variables[p.name]:
                    validation.check_run_arg(f"{self.name}.{p.name}", value, var.dim, p)
            for caller in self._callers.values():
                for name, group, own in ((caller.w_name, caller.synapses, caller.w),
                                         (caller.pool_name, caller.group, caller.pool)):
                    if var is own:
                        validation.check_run_arg(f"{group.name}.{name}", value, var.dim)

    def run_regularly(self, *args, **kwds):
        raise NotImplementedError(
            f"The parameters of rule '{self.name}' can only change between runs."
        )

    # Code generation, one factory per target --------------------------------

    def _numpy_code(self, owner):
        caller = self._runtime()
        variables = caller.synapses.variables
        make_rule = _numpy_factory(
            self._c_name,
            self.spec.name,
            tuple(p.name for p in self.spec.parameters),
            self.spec.neuronal,
        )
        function = make_rule(
            caller.w.get_value(),
            variables["_synaptic_pre"].get_value(),
            variables["_synaptic_post"].get_value(),
            caller.index.offsets,
            caller.index.strides,
            caller.index.siblings,
            caller.pool.get_value(),
            {p.name: self.variables[p.name].get_value() for p in self.spec.parameters},
            caller.target_offset,
        )
        function._arg_units = self._arg_units
        function._return_unit = self._return_unit
        return function

    def _key(self, name):
        return f"{self._c_name}_{name}"

    def _cython_code(self, owner):
        self._runtime()
        return render(
            "cython",
            "rule",
            fname=self._c_name,
            body=self.spec.name,
            neuronal=self.spec.neuronal,
            params={p.name: self._key(p.name) for p in self.spec.parameters},
            **{
                key: self._key(key)
                for key in ("w", "post", "offsets", "strides", "siblings", "pool", "target_offset")
            },
        )

    def _cython_namespace(self, owner):
        caller = self._callers[getattr(owner, "synapses", owner).name]
        index = caller.index
        namespace = {
            self._key("w"): caller.w.get_value(),
            self._key("post"): caller.synapses.variables["_synaptic_post"].get_value(),
            self._key("offsets"): index.offsets,
            self._key("strides"): index.strides,
            self._key("siblings"): index.siblings,
            self._key("pool"): caller.pool.get_value(),
            self._key("target_offset"): np.array([caller.target_offset], dtype=np.int32),
        }
        for p in self.spec.parameters:
            namespace[self._key(p.name)] = self.variables[p.name].get_value()
        return namespace

    def _index_variable(self, synapses, what):
        name = f"_{what}_{synapses.name}"
        if name not in self.variables:
            self.variables.add_dynamic_array(name, size=0, dtype=np.int32, read_only=True)
        return self.variables[name]

    def _cpp_code(self, owner):
        caller = self._caller()
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
            w=name(caller.w),
            post=name(synapses.variables["_synaptic_post"]),
            pool=device.get_array_name(caller.pool),
            w_name=caller.w_name,
            pool_name=caller.pool_name,
            target_offset=caller.target_offset,
            n_targets=caller.n_targets,
            **{what: name(self._index_variable(synapses, what)) for what in ("offsets", "strides", "siblings")},
        )
        params = {p.name: device.get_array_name(self.variables[p.name]) for p in self.spec.parameters}
        before = render(
            "cpp",
            "before_run",
            pre=name(synapses.variables["_synaptic_pre"]),
            source_offset=caller.source_offset,
            n_sources=caller.n_sources,
            params=[
                (
                    p.name,
                    params[p.name],
                    _CPP_CONDITIONS[(p.low_inclusive, p.high is not None)].format(
                        low=repr(float(p.low)), high=repr(float(p.high or 0))
                    ),
                    p.admissible(),
                )
                for p in self.spec.parameters
            ],
            **names,
        )
        after = render("cpp", "after_run", **names)
        for slot, code in (("before_network_run", before), ("after_network_run", after)):
            if code not in device.code_lines[slot]:
                device.insert_code(slot, code)
        # run_args must be applied before the checks above, not after them
        # as Brian would do on a first run.
        if not device.run_args_applied:
            device.apply_run_args()
        # The rule writes these arrays behind Brian's back.
        for var in (caller.w, caller.pool):
            if var in device.array_cache:
                device.array_cache[var] = None
        return render(
            "cpp",
            "rule",
            fname=self._c_name,
            body=self.spec.name,
            neuronal=self.spec.neuronal,
            params=params,
            **{k: names[k] for k in ("rule", "w", "post", "offsets", "strides", "siblings", "pool", "target_offset")},
        )


_RULES = weakref.WeakSet()


def _check_rules_after_run(network):
    for rule in list(_RULES):
        rule._check_after_run(network)


def _check_rules_run_args(run_args):
    for rule in list(_RULES):
        rule._check_run_args(run_args)


brian_compat.after_run_hooks.append(_check_rules_after_run)
brian_compat.run_args_hooks.append(_check_rules_run_args)


def bugmann2012(W0, eta, w="w", pool="pool", name="bugmann2012*"):
    """
    Bugmann's (2012) heterosynaptic rule, with a weight pool per neuron.

    Returns a Brian function: call it as ``getw(i, j)`` (any name will do) in
    the ``on_pre`` code of a `Synapses`. For a spike arriving at synapse
    (i, j), with ``x`` the synapse's weight before the spike, every synapse
    ``k`` of the same `Synapses` onto the same neuron ``j`` whose weight
    ``w_k`` is larger than ``x`` gives ``d = w_k * (w_k - x) / (W0 + w_k)``
    to synapse (i, j), which also takes ``eta * pool`` from the neuron's
    pool; the call returns the synapse's new weight. The sum of the weights
    onto a neuron plus its pool is conserved.

    Parameters
    ----------
    W0 : `Quantity` or float
        The positive scale of the transfer between synapses. Its units are
        those of the weights, the pools and of what the function returns.
    eta : float
        The fraction of a neuron's pool that a spike moves to its synapse,
        in [0, 1].
    w : str, optional
        The name of the calling `Synapses`' per-synapse variable holding the
        weights. Defaults to ``'w'``.
    pool : str, optional
        The name of the target group's per-neuron variable holding the pool.
        Defaults to ``'pool'``. Several `Synapses` onto one group that name
        the same variable share that pool.
    name : str, optional
        A unique name for the rule, see `Nameable`. Defaults to
        ``'bugmann2012*'``.

    Returns
    -------
    rule : `HeteroRule`
        The function; ``rule.W0`` and ``rule.eta`` are its parameters, which
        can be changed between runs.

    Notes
    -----
    Spikes that reach one neuron in the same time step are applied one after
    the other, in the order Brian delivers them, on every target. Weights and
    pools must be finite and non-negative; each run checks that first.

    References
    ----------
    G. Bugmann (2012). Modeling fast stimulus-response association learning
    along the occipito-parieto-frontal pathway following rule instructions.
    Brain Research 1434, 73-89, rule (10).

    Examples
    --------
    >>> from brian2 import *
    >>> from brian2_hetero import bugmann2012
    >>> P = PoissonGroup(3, 100*Hz)
    >>> G = NeuronGroup(1, '''dv/dt = -v/(50*ms) : 1
    ...                       pool : 1''', method='exact')
    >>> getw = bugmann2012(W0=3, eta=0.8)
    >>> S = Synapses(P, G, 'w : 1', on_pre='v_post += getw(i, j)')
    >>> S.connect()
    >>> getw.W0
    <bugmann2012.W0: 3.0>
    """
    return HeteroRule(BUGMANN2012, {"W0": W0, "eta": eta}, w, pool, name)
