"""
The per-target implementations of a rule's function, which Brian asks for
when it generates code that calls the rule: numpy (Python source, made once
per rule and mode), Cython and cpp_standalone (one C function, see
``templates/cpp/function.cpp.jinja``, wrapped for each).

Each implementation checks its call site (`validation.check_call_site`)
and, on the runtime targets, the values and the sibling index of the run
that is about to start; cpp_standalone inserts the same checks and the
index's construction into the project (``before_run.cpp.jinja``).
"""

import collections
import functools

import numpy as np
from brian2.codegen.generators.cpp_generator import c_data_type
from brian2.core.preferences import prefs
from brian2.devices.device import get_device

from . import allocator, brian_compat, validation
from .language import RuleCode
from .printer import LANES, c_name, print_rule
from .render import render
from .siblings import sibling_index

__all__ = ["add_implementations"]

#: The arrays of the sibling index and of the synapses' ends, by key.
_INDEX_ARRAYS = ("pre", "post", "offsets", "strides", "firsts", "siblings")


def add_implementations(function, rule, name, **kwds):
    """
    Give ``function`` (the rule itself, or the function of a trigger that
    applies it once per neuron) its numpy, Cython and C++ implementations,
    under the C name ``name``; ``kwds`` (``caller``, ``mode``, ``fname``)
    are passed to each factory.
    """
    caller = kwds.get("caller")
    function.implementations.add_dynamic_implementation(
        "numpy", functools.partial(numpy_code, rule, function=function, **kwds))
    function.implementations.add_dynamic_implementation(
        "cython", functools.partial(cython_code, rule, **kwds),
        namespace=lambda owner: cython_namespace(rule, owner, caller=caller), name=name)
    function.implementations.add_dynamic_implementation(
        "cpp", functools.partial(cpp_code, rule, **kwds), namespace=lambda owner: {}, name=name)


def _checked_caller(rule, caller=None):
    """The `Caller` of the code being generated (checked at its call site
    unless given), remembered by the rule for its checks after runs."""
    if caller is None:
        caller = validation.check_call_site(rule, brian_compat.calling_code_object())
    rule._callers[caller.synapses.name] = caller
    return caller


def _runtime(rule, caller=None):
    """Check everything for a run on a runtime target; return the `Caller`
    with the sibling index of this run."""
    caller = _checked_caller(rule, caller)
    validation.check_values(rule, caller)
    shared = caller.shared_variable.get_value()
    caller.index = sibling_index(shared - caller.neuron_offset, caller.n_neurons)
    return caller


def _key(rule, name):
    return f"{rule._c_name}_{name}"


# numpy ----------------------------------------------------------------------------

#: How often the numpy code took each of its ways of laying out the siblings
#: of a round of events and of splitting spikes into rounds (see
#: ``numpy/rule.py.jinja``), over all rules of the process.
numpy_paths = collections.Counter()


@functools.lru_cache(maxsize=None)
def _numpy_factory(fname, code, params, returns, name, mode, over):
    printed = print_rule(RuleCode(code, params, returns, name, over), "numpy", fname)
    namespace = {}
    source = render("numpy", "rule", fname=fname, code=printed, params=params, mode=mode,
                    lanes=LANES)
    exec(compile(source, f"<{fname}>", "exec"), namespace)
    return namespace["make_rule"]


def numpy_code(rule, owner, caller=None, mode="synapse", fname=None, function=None):
    caller = _runtime(rule, caller)
    allocator.keep_freed_memory()
    variables = caller.synapses.variables
    code = rule._code_for(mode)
    make_rule = _numpy_factory(fname or rule._c_name, code.code, code.parameters, code.returns,
                               rule.name, mode, code.side.over)
    arrays = {x: var.get_value() for x, (_, var) in caller.synaptic.items()}
    arrays.update({f"nrn_{x}": var.get_value() for x, (_, var) in caller.neuronal.items()})
    arrays.update({f"oth_{x}": var.get_value() for x, (_, var) in caller.other.items()})
    implementation = make_rule(
        arrays,
        variables["_synaptic_pre"].get_value(),
        variables["_synaptic_post"].get_value(),
        caller.index.offsets,
        caller.index.strides,
        caller.index.siblings,
        {name: rule.variables[name].get_value() for name in code.parameters},
        caller.source_offset,
        caller.target_offset,
        numpy_paths,
    )
    implementation._arg_units = function._arg_units
    implementation._return_unit = function._return_unit
    return implementation


# C, for Cython and cpp_standalone ---------------------------------------------------

def _c_function(rule, caller, mode, fname):
    """The C function shared by Cython and cpp_standalone, and its
    arguments ((C type, name), in order)."""
    code = rule._code_for(mode)
    printed = print_rule(code, "c", fname)
    arguments = (
        [("double *", f"_ptr_{x}") for x in caller.synaptic]
        + [("double *", f"_ptr_nrn_{x}") for x in caller.neuronal]
        + [("double *", f"_ptr_oth_{x}") for x in caller.other]
        + [("int32_t *", name) for name in ("_ptr_pre", "_ptr_post", "_offsets", "_strides", "_firsts",
                                            "_siblings")]
        + [("double", c_name(name)) for name in code.parameters]
        + [("int32_t", name) for name in ("_source_offset", "_target_offset", "_n_neurons", "_n_other")]
        + [("size_t", "_s") if mode == "synapse" else ("int32_t", "_index")]
    )
    function = render("cpp", "function", fname=fname, code=printed, arguments=arguments, mode=mode)
    return function, arguments


def _values(caller, mode, arrays, params, sizes):
    """The values of the shared C function's arguments: ``arrays`` maps
    'syn_x', 'nrn_x', 'oth_x', 'pre', 'post', 'offsets', 'strides',
    'firsts', 'siblings' to the target's expression of each array, ``params`` the
    parameters' names to their values, ``sizes`` gives the source offset,
    target offset, number of shared neurons and size of the other group."""
    return (
        [arrays["syn_" + x] for x in caller.synaptic]
        + [arrays["nrn_" + x] for x in caller.neuronal]
        + [arrays["oth_" + x] for x in caller.other]
        + [arrays[name] for name in _INDEX_ARRAYS]
        + list(params.values())
        + list(sizes)
        + ["_s" if mode == "synapse" else "_index"]
    )


def _sizes(caller):
    return [caller.source_offset, caller.target_offset, caller.n_neurons, caller.n_other]


def _array_keys(caller):
    """Keys of the arrays (see `_values`) -> (namespace key suffix, `Variable` or None)."""
    keys = {"syn_" + x: var for x, (_, var) in caller.synaptic.items()}
    keys.update({"nrn_" + x: var for x, (_, var) in caller.neuronal.items()})
    keys.update({"oth_" + x: var for x, (_, var) in caller.other.items()})
    return keys


# Cython ---------------------------------------------------------------------------

def cython_code(rule, owner, caller=None, mode="synapse", fname=None):
    caller = _runtime(rule, caller)
    fname = fname or rule._c_name
    function, arguments = _c_function(rule, caller, mode, fname)
    keys = {k: _key(rule, k) for k in list(_array_keys(caller)) + list(_INDEX_ARRAYS)}
    # (sizes and offsets from the namespace: one module serves every size)
    values = _values(
        caller, mode, {k: f"_namespace{key}" for k, key in keys.items()},
        {name: f"_namespace{_key(rule, name)}[0]" for name in rule._code_for(mode).parameters},
        [f"_namespace{_key(rule, 'sizes')}[{k}]" for k in range(4)],
    )
    return render("cython", "rule", fname=fname, mode=mode, function=function,
                  arguments=arguments, values=values)


def cython_namespace(rule, owner, caller=None):
    if caller is None:
        caller = rule._callers[getattr(owner, "synapses", owner).name]
    index = caller.index
    variables = caller.synapses.variables
    namespace = {
        _key(rule, "pre"): variables["_synaptic_pre"].get_value(),
        _key(rule, "post"): variables["_synaptic_post"].get_value(),
        _key(rule, "offsets"): index.offsets,
        _key(rule, "strides"): index.strides,
        _key(rule, "firsts"): index.firsts,
        _key(rule, "siblings"): index.siblings,
        _key(rule, "sizes"): np.array(_sizes(caller), dtype=np.int32),
    }
    for k, var in _array_keys(caller).items():
        namespace[_key(rule, k)] = var.get_value()
    for name in rule.rule_code.parameters:
        namespace[_key(rule, name)] = rule.variables[name].get_value()
    return namespace


# cpp_standalone -------------------------------------------------------------------

def _index_variable(rule, synapses, what):
    """An array of the sibling index of ``synapses`` in the standalone
    project, which the rule's code in main() fills before each run."""
    name = f"_{what}_{synapses.name}"
    if name not in rule.variables:
        rule.variables.add_dynamic_array(name, size=0, dtype=np.int32, read_only=True)
    return rule.variables[name]


def _cpp_condition(spec):
    """The admissible values of a parameter as a C++ condition on v."""
    low = "-_max" if spec.low == -np.inf else repr(float(spec.low))
    parts = [f"v {'>=' if spec.low_inclusive else '>'} {low}"]
    parts.append(f"v <= {repr(float(spec.high))}" if spec.high is not None else "v <= _max")
    return " && ".join(parts)


def cpp_code(rule, owner, caller=None, mode="synapse", fname=None):
    caller = _checked_caller(rule, caller)
    fname = fname or rule._c_name
    threads = prefs["devices.cpp_standalone.openmp_threads"]
    if threads and brian_compat.standalone_serial != "fixed":
        raise NotImplementedError(
            f"Rule '{rule.name}' cannot run with OpenMP "
            f"(prefs.devices.cpp_standalone.openmp_threads = {threads}) with this "
            "version of Brian, whose standalone synapses template brian2_hetero "
            "cannot make run the code calling a rule on one thread. Set "
            "openmp_threads = 0."
        )
    device = get_device()
    if rule.variables.device is not device:
        raise RuntimeError(
            f"Rule '{rule.name}' was created before set_device('cpp_standalone'), so "
            "its parameters live on the previous device; create the rule after "
            "set_device()."
        )
    synapses = caller.synapses

    def name(var, data=False):
        return device.get_array_name(var, access_data=data)

    side = caller.side
    names = dict(
        rule=rule.name,
        synapses=synapses.name,
        group=caller.group.name,
        pre=name(synapses.variables["_synaptic_pre"]),
        post=name(synapses.variables["_synaptic_post"]),
        shared=side.over,
        source_offset=caller.source_offset,
        target_offset=caller.target_offset,
        n_source_neurons=len(synapses.source),
        n_target_neurons=len(synapses.target),
        neuron_offset=caller.neuron_offset,
        n_neurons=caller.n_neurons,
        n_other=caller.n_other,
        **{what: name(_index_variable(rule, synapses, what)) for what in ("offsets", "strides", "firsts", "siblings")},
    )
    # (shown name, device name, must be non-negative)
    checked_synaptic = [(shown, name(var), x in rule.nonnegative) for x, (shown, var) in caller.synaptic.items()]
    checked_neuronal = [(shown, name(var, True), x in rule.nonnegative)
                        for x, (shown, var) in caller.neuronal.items()]
    params = {n: name(rule.variables[n], True) for n in rule.rule_code.parameters}
    before = render(
        "cpp", "before_run",
        params=[(spec.name, params[spec.name], _cpp_condition(spec), spec.admissible())
                for spec, _ in rule.parameter_specs],
        synaptic=checked_synaptic, neuronal=checked_neuronal,
        run_args=[(f"{var.owner.name}.{var.name}", name(var)) for _, var in caller.synaptic.values()],
        **names,
    )
    after = render("cpp", "after_run", synaptic=checked_synaptic, neuronal=checked_neuronal, **names)
    inserted = [("before_network_run", before), ("after_network_run", after)]
    if threads and mode == "synapse":
        inserted.append(("before_network_run", _one_queue(device)))
    for slot, code in inserted:
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
    function, _ = _c_function(rule, caller, mode, fname)
    arrays = {"syn_" + x: f"brian::{name(var)}.data()" for x, (_, var) in caller.synaptic.items()}
    arrays.update({"nrn_" + x: f"brian::{name(var, True)}" for x, (_, var) in caller.neuronal.items()})
    arrays.update({"oth_" + x: f"brian::{name(var, True)}" for x, (_, var) in caller.other.items()})
    arrays.update({key: f"brian::{names[key]}.data()" for key in _INDEX_ARRAYS})
    values = _values(caller, mode, arrays, {n: f"brian::{array}[0]" for n, array in params.items()},
                     [str(v) for v in _sizes(caller)])
    return render("cpp", "rule", fname=fname, rule=rule.name, function=function, values=values, mode=mode,
                  threads=threads)


def _one_queue(device):
    """The code giving all synapses of the pathway whose code is being
    generated to one spike queue (see one_queue.cpp.jinja), the same for
    every rule the code calls."""
    pathway = brian_compat.calling_code_object().template_kwds["pathway"]
    delays = pathway.variables["delay"]
    return render(
        "cpp", "one_queue", pathway=pathway.name,
        delays=device.get_array_name(delays, access_data=False), scalar=c_data_type(delays.dtype),
        dt=f"brian::{device.get_array_name(pathway.variables['_source_dt'])}[0]",
    )
