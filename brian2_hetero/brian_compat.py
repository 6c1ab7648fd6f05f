"""
Everything brian2_hetero needs from Brian beyond its public surface, in one
place: each function says which Brian internal it relies on and why.

Each adjustment is narrow: it changes nothing for code that does not call a
rule, except two repairs of Brian for every model: the loop-counter fix
of Brian's Cython template for every `Synapses` whose code reads ``i``, and
the standalone assignments that Brian turns into programs which read past
an array or do not compile (`_check_standalone_assignments`).
"""

import functools
import logging
import os
import re
import sys
from collections import namedtuple
from collections.abc import Mapping

import jinja2
import numpy as np
from brian2.codegen.permutation_analysis import (
    OrderDependenceError,
    check_for_order_independence,
)
from brian2.codegen.runtime.cython_rt import CythonCodeObject
from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
from brian2.core.variables import DynamicArrayVariable
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.parsing.rendering import CPPNodeRenderer
from brian2.codegen.templates import LazyTemplateLoader
from brian2.core.network import Network
from brian2.groups.group import CodeRunner
from brian2.groups.subgroup import Subgroup
from brian2.synapses.synapses import Synapses
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.utils.logger import get_logger

__all__ = [
    "install",
    "HeteroCompileError",
    "calling_code_object",
    "after_run_hooks",
    "run_args_hooks",
    "RuleRunner",
    "summed_targets",
]

logger = get_logger(__name__)

_LOOP_COUNTER = "_spike_counter"


_UNFIXABLE_HINT = (
    " This Brian version's Cython synapses template may use 'i' as its loop "
    "counter, which breaks any on_pre code that reads i: use "
    "prefs.codegen.target = 'numpy', set_device('cpp_standalone'), or "
    "brian2 < 2.10."
)


class HeteroCompileError(RuntimeError):
    """Brian could not compile code that calls a brian2_hetero rule."""


def _is_rule(value):
    return getattr(value, "_hetero_rule", False) is True


#: What `calling_code_object` returns.
CallSite = namedtuple(
    "CallSite", "owner name template abstract_code variables template_kwds"
)


def calling_code_object():
    """
    The code object that Brian is generating while it asks a function for its
    implementation, or None.

    Brian hands a function's implementation only the owner of the code
    object, which does not say which code (on_pre, on_post, a reset, a summed
    variable, ...) calls the function, nor with which arguments. Both are
    arguments of ``Device.code_object(owner, name, abstract_code, variables,
    template_name, variable_indices, codeobj_class, template_kwds, ...)``
    (the same in brian2 2.6 to 2.11), which is on the stack whenever an
    implementation is asked for its code, on every target.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "code_object":
            local = frame.f_locals
            # f_locals is a proxy whose keys() is a list from Python 3.13 on
            if all(k in local for k in ("owner", "abstract_code", "variables", "template_name")):
                code = local["abstract_code"]
                if isinstance(code, str):
                    code = {"run": code}
                return CallSite(
                    owner=local["owner"],
                    name=local.get("name", ""),
                    template=local["template_name"],
                    abstract_code=dict(code),
                    variables=local["variables"],
                    template_kwds=local.get("template_kwds") or {},
                )
        frame = frame.f_back
    return None


#: Callables ``hook(network)`` run after every run of every runtime
#: `Network`; see `_run_after_run_hooks`.
after_run_hooks = []


def _run_after_run_hooks():
    """
    Brian has no public hook that runs after every run of a network, and
    objects that a user leaves out of an explicit `Network` never see its
    runs; wrap ``Network.after_run`` (the same in brian2 2.6 to 2.11) so that
    values a run left behind can be checked.
    """
    original = Network.after_run
    if getattr(original, "_brian2_hetero", False):
        return

    def after_run(self):
        original(self)
        for hook in list(after_run_hooks):
            hook(self)

    after_run._brian2_hetero = True
    Network.after_run = after_run


class RuleRunner(CodeRunner):
    """
    Calls a rule's function once per target neuron: ``function(i)`` with
    ``i`` the neuron's index in ``target``, either for each neuron of
    ``target`` that spiked in the current time step (``every=None``) or for
    every neuron of ``target`` every ``every``.

    Spikes use Brian's own ``reset`` template (the code object of a
    `NeuronGroup`'s reset, which loops over the neurons in the group's
    ``_spikespace`` and takes that variable as the template keyword
    ``eventspace_variable``, brian2 2.6 to 2.11), without a spike queue. Brian
    allows one reset per event and group, and the group's reset is the
    user's: hence a `CodeRunner` of its own rather than ``run_on_event``. A
    `Subgroup` has no spike space of its own: the code runs on its parent
    group and passes ``i`` minus the subgroup's start (the function leaves
    neurons outside the target alone). Periods use the ``stateupdate``
    template, as ``Group.run_regularly`` does, on ``target`` itself.

    The function is added to the namespace of every run under ``fname`` (or
    ``fname`` with a number, if the group's own namespace or variables have
    that name), so that the group's namespace is left alone. On the numpy
    target, Brian runs a numpy code object by executing its code in a
    namespace, which costs about 10 µs per time step even when no neuron
    spiked; there the runner
    calls the function that Brian's code object holds (its ``namespace``
    maps the function's name to its numpy implementation, brian2 2.6 to 2.11)
    directly with the neurons, and only when there are any. On the Cython
    target, the code object runs only in time steps with spikes.
    """

    def __init__(self, target, fname, function, every=None, when="synapses", order=0, name=None):
        root = target.source if isinstance(target, Subgroup) else target
        self.target = target  # a subgroup is referenced weakly by the code runner
        self.fname = fname
        self.function = function
        self.offset = int(target.start) if isinstance(target, Subgroup) else 0
        self.direct = None
        # (the spike code runs on the parent group of a subgroup)
        self.index = f"i - {self.offset}" if every is None and self.offset else "i"
        if every is None:
            CodeRunner.__init__(
                self,
                root,
                "reset",
                code="",  # see before_run
                clock=root.clock,
                when=when,
                order=order,
                name=name,
                needed_variables=["_spikespace"],
                template_kwds={"eventspace_variable": root.variables["_spikespace"]},
            )
        else:
            CodeRunner.__init__(
                self,
                target,
                "stateupdate",
                code="",  # see before_run
                dt=every,
                when=when,
                order=order,
                name=name,
            )
        self.every = every

    def before_run(self, run_namespace):
        # The function's name must not be one the group's own namespace or
        # variables define (Brian prefers those to the run's namespace), and
        # the value it returns goes to a name no user variable can have.
        group = self.group
        taken = set(getattr(group, "namespace", None) or {}) | set(group.variables)
        name, k = self.fname, 0
        while name in taken:
            k += 1
            name = f"{self.fname}_{k}"
        self.abstract_code = f"_hetero_returned = {name}({self.index})"
        CodeRunner.before_run(self, {**run_namespace, name: self.function})
        self.direct = None
        if not isinstance(self.codeobj, NumpyCodeObject):  # standalone
            return
        if self.every is None:
            spikespace = self.group.variables["_spikespace"].get_value()
        # (CythonCodeObject is a subclass of NumpyCodeObject)
        if type(self.codeobj) is NumpyCodeObject:
            function = self.codeobj.namespace[name]
            if self.every is not None:
                neurons = np.arange(len(self.target))

                def direct():
                    function(neurons)

            else:
                offset = self.offset

                def direct():
                    n = spikespace[-1]
                    if n:
                        function(spikespace[:n] - offset)

            self.direct = direct
        elif self.every is None:
            codeobj = self.codeobj

            def direct():
                if spikespace[-1]:
                    codeobj()

            self.direct = direct

    def run(self):
        if self.direct is not None:
            self.direct()
        else:
            CodeRunner.run(self)


def _with_template(templater, name, source, env_globals=None):
    """
    A copy of Brian's `Templater` ``templater`` whose template ``name`` (with
    its extension) is ``source``, the others unchanged, with
    ``env_globals`` added to what its templates see. Brian's `Templater`
    keeps a jinja2 environment (``env``) and a ``LazyTemplateLoader`` of it
    (``templates``), the same in brian2 2.6 to 2.11.
    """
    # Templater answers unknown attributes with templates, so copy.copy
    # cannot be used.
    fixed = object.__new__(type(templater))
    fixed.__dict__.update(templater.__dict__)
    fixed.env = templater.env.overlay(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader({name: source}), templater.env.loader])
    )
    # (an overlay shares its globals with the original environment)
    fixed.env.globals = {**templater.env.globals, **(env_globals or {})}
    fixed.templates = LazyTemplateLoader(fixed.env, templater.extension)
    return fixed


def _fix_cython_loop_counter():
    """
    Some Brian versions (2.10, 2.11) count spikes in the Cython ``synapses``
    template with a variable named ``i``, which clashes with the presynaptic
    index ``i`` of the user's code: such code fails to compile and Brian runs
    nothing in its place. Rename the counter in that template.

    Returns
    -------
    state : str
        ``'unaffected'``, ``'fixed'`` or ``'unfixable'``.
    """
    templater = CythonCodeObject.templater
    name = "synapses" + templater.extension
    source = templater.env.loader.get_source(templater.env, name)[0]
    declaration = re.compile(r"^\s*cdef\s+\w+\s+i\b", re.M)
    if not declaration.search(source):
        return "unaffected"
    lines = []
    for line in source.splitlines(keepends=True):
        code = line.strip()
        if code.startswith("#") or "{{" in code or "{%" in code:
            lines.append(line)
        else:
            lines.append(re.sub(r"\bi\b", _LOOP_COUNTER, line))
    fixed = "".join(lines)
    if declaration.search(fixed) or _LOOP_COUNTER not in fixed:
        return "unfixable"
    CythonCodeObject.templater = _with_template(templater, name, fixed)
    logger.debug(
        "Renamed the spike loop counter 'i' of Brian's Cython synapses template."
    )
    return "fixed"


#: The condition of Brian's standalone ``synapses`` template that chooses
#: between its two loops over the spiking synapses; see `_serial_rule_code`.
_NON_SYNAPTIC = "{% if _non_synaptic %}"


def _serial_rule_code():
    """
    With OpenMP, Brian's standalone ``synapses`` template (brian2 2.6 to
    2.11) runs the code of a pathway in one of two loops over the spiking
    synapses: in an ``omp master`` section, in delivery order, if the code
    uses a variable not indexed by the synapse (``_non_synaptic``: its
    ``variable_indices`` other than ``'_idx'`` and ``'0'``), or else split
    among the threads (``omp for``). A rule reads and writes the siblings of
    the spiking synapse and its neuron's variables, but Brian sees only a
    function: ``w = rule(i, j)`` alone would run in parallel, coincident
    spikes onto one neuron concurrently and in any order. Make the template
    take the ordered loop for code that calls a rule, whatever else the code
    contains. (Brian's spike queues of such a pathway, one per thread, are
    rearranged in C++ so that spikes arrive in the order of one thread:
    see ``templates/cpp/one_queue.cpp.jinja``, which relies on Brian's
    ``SynapticPathway`` and ``CSpikeQueue``, the same in brian2 2.6 to
    2.11.)

    Returns
    -------
    state : str
        ``'fixed'`` or ``'unfixable'`` (the template does not have the
        condition: rules are then refused with OpenMP).
    """
    templater = CPPStandaloneCodeObject.templater
    name = "synapses" + templater.extension
    source = templater.env.loader.get_source(templater.env, name)[0]
    if source.count(_NON_SYNAPTIC) != 1 or "openmp_pragma('master')" not in source:
        return "unfixable"
    fixed = source.replace(_NON_SYNAPTIC, "{% if _non_synaptic or _hetero_calls_rule(variables) %}")
    CPPStandaloneCodeObject.templater = _with_template(
        templater, name, fixed,
        {"_hetero_calls_rule": lambda variables: any(_is_rule(v) for v in variables.values())},
    )
    logger.debug("Code calling a rule takes the ordered loop of Brian's standalone synapses template.")
    return "fixed"


def _check_standalone_assignments():
    """
    Two ways of setting a variable in standalone that Brian turns into
    broken programs:

    - an array for all synapses (``S.w[:] = values``, ``S.w = values``,
      queued by ``CPPStandaloneDevice.fill_with_array(var, arr)`` in
      ``main_queue``, brian2 2.6 to 2.11) is copied by a loop over the
      synapses that the program has, reading past the values when there are
      fewer of them, and ignoring the extra ones; the program now checks the
      number first, and stops with a message that names the variable;
    - a NaN (``S.w[3] = nan``, ``G.v = nan``, or ``nan`` from the namespace
      in a string expression) is written into the program by
      ``CPPNodeRenderer().render_expr(repr(value))``, i.e. as ``nan``, which
      does not compile, or becomes ``const double nan = nan;`` (zero, or
      anything); the renderer now writes C's ``NAN`` for it, so that the
      value is set as on the runtime targets (a rule then refuses it before
      the run, naming the variable and the synapse).
    """
    original_fill = CPPStandaloneDevice.fill_with_array
    if getattr(original_fill, "_brian2_hetero", False):
        return
    original_render = CPPNodeRenderer.render_expr

    def render_expr(self, expr, *args, **kwds):
        if isinstance(expr, str) and expr.strip() == "nan":
            return "NAN"
        return original_render(self, expr, *args, **kwds)

    def fill_with_array(self, var, arr):
        size = np.asarray(arr).size
        if size > 1 and isinstance(var, DynamicArrayVariable) and isinstance(var.owner, Synapses):
            array = self.get_array_name(var, access_data=False)
            ran = any(func == "run_network" for func, _ in self.main_queue)
            self.main_queue.append(("insert_code", (
                f"if ({array}.size() != {size})\n"
                "{\n"
                f'    std::cerr << "brian2_hetero: {var.owner.name}.{var.name} was given {size} values, but '
                f"Synapses '{var.owner.name}' has \" << {array}.size() << \" synapses (one value per synapse, "
                f'in synapse order). {"The program stopped before its next run." if ran else "Nothing was run."}'
                '" << std::endl;\n'
                "    std::exit(1);\n"
                "}"
            )))
        original_fill(self, var, arr)

    fill_with_array._brian2_hetero = True
    CPPNodeRenderer.render_expr = render_expr
    CPPStandaloneDevice.fill_with_array = fill_with_array


def _report_swallowed_compile_errors():
    """
    Brian prints a Cython compilation error and then runs nothing for that
    code object. For code that calls a rule, raise instead.
    """
    original = CythonCodeObject.compile_block
    if getattr(original, "_brian2_hetero", False):
        return

    def compile_block(self, block):
        module = original(self, block)
        code = getattr(self.code, block, "").strip()
        if (
            module is None
            and code
            and "EMPTY_CODE_BLOCK" not in code
            and any(_is_rule(v) for v in self.variables.values())
        ):
            rules = sorted(v.name for v in self.variables.values() if _is_rule(v))
            raise HeteroCompileError(
                f"Cython could not compile the '{block}' code of '{self.owner.name}', "
                f"which calls rule {', '.join(map(repr, rules))}; the "
                "compiler's message is printed above. Nothing was run."
                + _UNFIXABLE_HINT * (cython_loop_counter == "unfixable")
            )
        return module

    compile_block._brian2_hetero = True
    CythonCodeObject.compile_block = compile_block


#: Callables ``hook(synapses)`` run before synapses are added to a
#: `Synapses` while a network runs; see `_check_resize_during_run`.
resize_during_run_hooks = []


def _check_resize_during_run():
    """
    Brian lets a `network_operation` add synapses in the middle of a run
    (``S.connect(...)``), which resizes the arrays the rule's compiled code
    holds. Wrap ``Synapses.connect`` (the public way of creating synapses)
    and ``Synapses._resize(number)`` (which the numpy templates and the
    Cython templates of brian2 2.6 to 2.9 call to create them; those of
    2.10 and 2.11 resize the arrays in C++) so that synapses created while
    a ``Network.run`` is on the stack can be refused first.
    """
    original_resize, original_connect = Synapses._resize, Synapses.connect
    if getattr(original_resize, "_brian2_hetero", False):
        return

    def running(synapses):
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == "run" and isinstance(frame.f_locals.get("self"), Network):
                for hook in list(resize_during_run_hooks):
                    hook(synapses)
                return
            frame = frame.f_back

    def _resize(self, number):
        running(self)
        return original_resize(self, number)

    @functools.wraps(original_connect)
    def connect(self, *args, **kwds):
        running(self)
        return original_connect(self, *args, **kwds)

    _resize._brian2_hetero = True
    Synapses._resize = _resize
    Synapses.connect = connect


def summed_targets():
    """
    The `Variable` objects that a summed variable of some `Synapses`
    overwrites every time step. Brian does not say this of a variable; each
    `Synapses` knows its ``summed_updaters`` (name -> updater with the
    ``target_var`` it writes), and ``Synapses.__instances__()`` (Brian's
    instance tracking, brian2 2.6 to 2.11) lists every `Synapses`.
    """
    found = []
    for ref in Synapses.__instances__():
        synapses = ref()
        for updater in getattr(synapses, "summed_updaters", {}).values():
            found.append((updater.target_var, synapses))
    return found


#: Callables ``hook(run_args)`` run with the mapping a standalone project is
#: run with; see `_wrap_standalone_run`.
run_args_hooks = []

#: The file in which a standalone program reports values that left their
#: range during a run (see templates/cpp/after_run.cpp.jinja).
STANDALONE_REPORT = "brian2_hetero_errors.txt"


def _wrap_standalone_run():
    """
    Brian's standalone program prints an error for a value of ``run_args`` it
    cannot read and runs on with the old value; and a program that stops
    with an error leaves Brian no results to read. Wrap
    ``CPPStandaloneDevice.run(directory, results_directory, with_output,
    run_args)`` (the same in brian2 2.6 to 2.11) so that values meant for a
    rule's variables are checked before the program starts, and values that
    left their range during the run (which the program reports in a file of
    its results directory, ``device.results_dir``, and goes on) raise a
    `FloatingPointError` after Brian has read the results, as on the runtime
    targets.
    """
    original = CPPStandaloneDevice.run
    if getattr(original, "_brian2_hetero", False):
        return

    def run(self, directory=None, results_directory=None, with_output=True, run_args=None):
        if isinstance(run_args, Mapping):
            for hook in list(run_args_hooks):
                hook(run_args)
        result = original(self, directory, results_directory, with_output, run_args)
        report = os.path.join(self.results_dir or "", STANDALONE_REPORT)
        if os.path.isfile(report):
            with open(report) as f:
                found = [line.strip() for line in f if line.strip()]
            if found:
                more = f" ({len(found) - 1} more in {report})" if len(found) > 1 else ""
                raise FloatingPointError(found[0] + more)
        return result

    run._brian2_hetero = True
    CPPStandaloneDevice.run = run


class _RuleOrderFilter(logging.Filter):
    """
    A rule is declared stateful so that Brian never drops or reorders its
    calls; Brian then warns that code calling it "may not be well-defined".
    The order of calls to a rule is defined (delivery order, on every target),
    so this filter drops that warning when the code block would pass Brian's
    order check with the rules left out. Any other order dependence is still
    reported. It finds the statements in the frame of Brian's
    ``CodeGenerator.translate`` (locals ``self`` and ``vs``); if a Brian
    version changes that, the warning simply shows again.
    """

    message = "may not be well-defined"

    def filter(self, record):
        if self.message not in record.getMessage():
            return True
        frame = sys._getframe(1)
        while frame is not None:
            generator = frame.f_locals.get("self")
            statements = frame.f_locals.get("vs")
            if (
                frame.f_code.co_name == "translate"
                and statements is not None
                and hasattr(generator, "variable_indices")
            ):
                break
            frame = frame.f_back
        if frame is None:
            return True
        variables = generator.variables
        if not any(_is_rule(v) for v in variables.values()):
            return True
        others = {k: v for k, v in variables.items() if not _is_rule(v)}
        try:
            check_for_order_independence(
                statements, others, generator.variable_indices
            )
        except OrderDependenceError:
            return True
        return False


def _filter_rule_order_warning():
    target = logging.getLogger("brian2.codegen.generators.base")
    if not any(isinstance(f, _RuleOrderFilter) for f in target.filters):
        target.addFilter(_RuleOrderFilter())


#: What `install` found for the Cython loop counter of this Brian version.
cython_loop_counter = None

#: What `install` found for Brian's standalone synapses template
#: (see `_serial_rule_code`).
standalone_serial = None


def _state(fix, what):
    """What ``fix()`` found, or 'unfixable' if Brian's layout is unforeseen
    (reported on use)."""
    try:
        return fix()
    except Exception as exc:
        logger.debug(f"Cannot check Brian's {what}: {exc}")
        return "unfixable"


def install():
    """Apply the adjustments (once per process)."""
    global cython_loop_counter, standalone_serial
    if cython_loop_counter is None:
        cython_loop_counter = _state(_fix_cython_loop_counter, "Cython synapses template")
    if standalone_serial is None:
        # (unfixable: rules refuse OpenMP)
        standalone_serial = _state(_serial_rule_code, "standalone synapses template")
    _check_standalone_assignments()
    _report_swallowed_compile_errors()
    _filter_rule_order_warning()
    _run_after_run_hooks()
    _wrap_standalone_run()
    _check_resize_during_run()
