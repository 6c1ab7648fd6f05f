"""
Checks of everything a user can get wrong, each raising before anything runs
and naming the offending value or call: a rule's parameters, where and how
the rule is called, the variables it acts on, and their values.
"""

import ast
import numbers

import numpy as np
from brian2.codegen.translation import get_identifiers_recursively
from brian2.utils.stringtools import get_identifiers
from brian2.core.functions import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS
from brian2.core.variables import ArrayVariable, Constant, DynamicArrayVariable, Variable
from brian2.parsing.expressions import parse_expression_dimensions
from brian2.groups.subgroup import Subgroup
from brian2.synapses.synapses import Synapses
from . import brian_compat
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    DimensionMismatchError,
    fail_for_dimension_mismatch,
    get_dimensions,
    get_unit,
)

__all__ = [
    "check_parameter",
    "check_call_site",
    "Caller",
    "check_values",
    "check_after_run",
    "check_run_arg",
    "unit_name",
]

# Where else a function can be called from, in words, by Brian template.
_TEMPLATES = {
    "reset": "the reset code",
    "threshold": "the threshold condition",
    "stateupdate": "the equations or run_regularly code",
    "summed_variable": "a summed variable",
    "group_variable_set": "a string assigned to a variable",
    "group_variable_set_conditional": "a string assigned to a variable",
    "group_get_indices": "a string index",
    "synapses_create_generator": "the arguments of connect()",
}


def unit_name(dim):
    """The units of ``dim`` in words, 'dimensionless' for none."""
    return "dimensionless" if dim is DIMENSIONLESS else str(get_unit(dim))


def _scalar(value, name):
    if (
        isinstance(value, (bool, np.bool_, str, complex, np.complexfloating))
        or not isinstance(value, (numbers.Real, np.ndarray))
        or np.ndim(value) != 0
        or np.iscomplexobj(value)
    ):
        raise TypeError(f"{name} must be a real scalar number, got {name} = {value!r}.")
    try:
        return float(np.asarray(value))
    except OverflowError:
        raise ValueError(f"{name} is too large for a float64, got {name} = {value!r}.") from None


def check_parameter(parameter, value, dim, rule):
    """
    Check a value for ``parameter`` (a `Parameter`) of ``rule`` (its name),
    which must have dimensions ``dim``.

    Returns
    -------
    value : float
        Without units.
    """
    number = _scalar(value, parameter.name)
    fail_for_dimension_mismatch(
        value,
        dim,
        f"Rule '{rule}': {parameter.name} must "
        + (f"have units of {unit_name(dim)}" if dim is not DIMENSIONLESS else "be dimensionless")
        + f", got {parameter.name} = {value!r}",
    )
    if not (np.isfinite(number) and parameter.accepts(number)):
        raise ValueError(
            f"Rule '{rule}': {parameter.name} must be {parameter.admissible()}, "
            f"got {parameter.name} = {value!r}."
        )
    return number


def _describe(site):
    pathway = site.template_kwds.get("pathway")
    if site.template == "synapses" and pathway is not None:
        return f"the on_post code of '{pathway.synapses.name}'"
    where = _TEMPLATES.get(site.template, f"the '{site.template}' code")
    return f"{where} of '{site.owner.name}'"


def _calls(code):
    """The calls of names in ``code`` (abstract code), or None if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]


def check_call_site(rule, site):
    """
    Check that ``site`` (a `CallSite`) calls ``rule`` as ``name(i, j)``, once,
    in the on_pre code of a `Synapses`, in a code block that leaves the
    variables the rule changes to the rule.

    Returns
    -------
    caller : `Caller`
        The checked variables the rule acts on for this `Synapses`.
    """
    if site is None:
        raise RuntimeError(
            f"Rule '{rule.name}': cannot find the code that calls it; this "
            "version of Brian is not supported by brian2_hetero."
        )
    pathway = site.template_kwds.get("pathway")
    if not (
        site.template == "synapses"
        and pathway is not None
        and pathway.prepost == "pre"
        and isinstance(site.owner, Synapses)
    ):
        raise TypeError(
            f"Rule '{rule.name}' can only be called in the on_pre code of Synapses, "
            f"not in {_describe(site)}."
        )
    synapses = site.owner
    where = f"the on_pre code of '{pathway.name}'"
    rules = {name for name, var in site.variables.items() if getattr(var, "_hetero_rule", False)}
    mine = {name for name in rules if site.variables[name] is rule}
    for block, code in site.abstract_code.items():
        calls = _calls(code)
        if calls is None:
            continue
        rule_calls = [c for c in calls if c.func.id in rules]
        if len(rule_calls) > 1:
            _check_rules_apart(rule, mine, rule_calls, site, where)
        for call in rule_calls:
            args = [a.id if isinstance(a, ast.Name) else None for a in call.args]
            if call.func.id in mine and (args != ["i", "j"] or call.keywords):
                raise ValueError(
                    f"Rule '{rule.name}' must be called as {call.func.id}(i, j), "
                    f"with the synapse's own indices, but {where} calls "
                    f"{ast.unparse(call)}."
                )
        if not any(c.func.id in mine for c in rule_calls) and any(
            name in mine for name in get_identifiers_recursively([code], site.variables)
        ):
            raise ValueError(
                f"Rule '{rule.name}' must be called directly in on_pre code, not "
                f"through a subexpression, in {where}."
            )
    caller = Caller(rule, synapses)
    for code in site.abstract_code.values():
        for name in sorted(get_identifiers(code)):
            used = get_identifiers_recursively([name], site.variables)
            if any(site.variables.get(n) is var for n in used for var in caller.written()):
                raise ValueError(
                    f"{where.capitalize()} calls rule '{rule.name}' and also uses "
                    f"'{name}', which the rule changes: Brian would read it before "
                    "the call and write it back after it. Use the value the rule "
                    "returns, or put that statement in another pathway, e.g. "
                    "on_pre={'pre': ..., 'other': ...}."
                )
    for code in site.abstract_code.values():
        calls = _calls(code)
        if calls and any(c.func.id in mine for c in calls):
            _check_block_writes(rule, caller, code, site, where)
    return caller


def _check_rules_apart(rule, mine, rule_calls, site, where):
    """
    Several rules called in one code block are applied synapse by synapse
    in C, rule by rule over all spiking synapses in numpy: the same results
    only if each rule is called once and acts on variables that no other
    rule of the block touches (nor the block's statements, see
    `_check_block_writes`).
    """
    names = [c.func.id for c in rule_calls]
    if len(set(names)) < len(names) or sum(name in mine for name in names) != 1:
        raise ValueError(
            f"{where.capitalize()} calls rules {len(rule_calls)} times "
            f"({', '.join(ast.unparse(c) for c in rule_calls)}); call each rule once "
            "per code block, or one per pathway: on_pre={'pre': ..., 'other': ...}."
        )
    synapses = site.owner
    mine_caller = Caller(rule, synapses)
    acted = {id(v): n for n, _, v, _ in mine_caller.all_variables()}
    read = {id(v): n for n, _, v, _ in mine_caller.read_variables()}
    written = {id(v) for v in mine_caller.written()}
    for name in names:
        other = site.variables[name]
        if other is rule:
            continue
        theirs = Caller(other, synapses)
        # (both act on it, or one writes what the other reads)
        shared = sorted({acted[id(v)] for _, _, v, _ in theirs.all_variables() if id(v) in acted}
                        | {read[id(v)] for v in theirs.written() if id(v) in read}
                        | {n for n, _, v, _ in theirs.read_variables() if id(v) in written})
        if shared:
            raise ValueError(
                f"{where.capitalize()} calls rules '{rule.name}' and '{other.name}', which "
                f"both act on '{shared[0]}': call them in pathways of their own, e.g. "
                "on_pre={'pre': ..., 'other': ...}."
            )


def _check_block_writes(rule, caller, code, site, where):
    """
    A statement of the block that calls the rule must not write a variable
    the rule reads: C runs the block synapse by synapse, so that the rule
    sees the writes for the synapses before, numpy runs the rule for every
    spiking synapse before the block's writes.
    """
    written = set()
    for node in ast.walk(ast.parse(code)):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AugAssign) else [])
        for target in targets:
            if isinstance(target, ast.Name) and target.id in site.variables:
                written.add(id(site.variables[target.id]))
    for name, _, var, _ in caller.read_variables():
        if id(var) in written:
            raise ValueError(
                f"{where.capitalize()} calls rule '{rule.name}' and also writes "
                f"'{name}', which the rule reads: in C the rule would see the writes "
                "for the synapses before it, in numpy not. Put the statement in a "
                "pathway of its own, e.g. on_pre={'pre': ..., 'other': ...}."
            )


class Caller:
    """
    The variables ``rule`` acts on for a calling ``synapses``, checked:
    ``synaptic``, ``neuronal`` and ``other`` map the names in the rule's
    code to (name, `Variable`) of the Synapses, of the shared neuron's group
    (``group``: the target's for a rule over='post', the source's for
    over='pre') and of the other neuron's group (``other_group``, read
    only); with the group sizes and index offsets: ``neuron_offset`` and
    ``n_neurons`` of the shared neurons (the calling Synapses' source or
    target, maybe a subgroup), ``n_other`` of the other full group.
    """

    def __init__(self, rule, synapses):
        self.rule = rule
        self.synapses = synapses
        code = rule.rule_code
        side = self.side = code.side
        self.post_variable = synapses.variables["_synaptic_post"]
        self.shared_variable = synapses.variables["_synaptic_" + side.over]
        source, target = synapses.source, synapses.target
        if isinstance(target, Synapses) or isinstance(getattr(target, "source", None), Synapses):
            raise TypeError(
                f"Rule '{rule.name}' acts on the neurons that Synapses "
                f"'{synapses.name}' targets, but its target '{target.name}' is a "
                "Synapses object."
            )
        self.source_offset = source.start if isinstance(source, Subgroup) else 0
        self.target_offset = target.start if isinstance(target, Subgroup) else 0
        source_group = source.source if isinstance(source, Subgroup) else source
        target_group = target.source if isinstance(target, Subgroup) else target
        self.n_sources = len(source_group)
        if side.over == "post":
            self.group, self.other_group = target_group, source_group
            self.neuron_offset, self.n_neurons = self.target_offset, len(target)
            shared, other = target, source
        else:
            self.group, self.other_group = source_group, target_group
            self.neuron_offset, self.n_neurons = self.source_offset, len(source)
            shared, other = source, target
        self.n_other = len(self.other_group)
        renamed = rule.variable_names
        self.synaptic = {}
        event_driven = getattr(synapses, "event_driven", None)
        for x in sorted(code.synaptic):
            name = renamed.get(x, x)
            if event_driven is not None and name in event_driven.eq_names:
                raise TypeError(
                    f"Rule '{rule.name}' acts on '{name}' of Synapses '{synapses.name}', "
                    "which is (event-driven): Brian updates it in the on_pre and on_post "
                    "code itself, around the rule's call. Make it a variable of its own "
                    f"('{name} : ...') and update it in a pathway of its own."
                )
            writes = x in code.written
            self.synaptic[x] = (name, self._variable(rule, synapses, name, "per-synapse", synapses, writes, x))
        self.neuronal = {}
        for x in sorted(code.neuronal):
            name = renamed.get(x, x)
            writes = code.writes_neuron(x)
            self.neuronal[x] = (name, self._variable(rule, self.group, name, "per-neuron", shared, writes, x))
        self.other = {}
        for x in sorted(code.other):
            name = renamed.get(x, x)
            var = self._variable(rule, self.other_group, name, "per-neuron", other, False, x)
            for y, (written, mine) in self.neuronal.items():
                if mine is var and code.writes_neuron(y):
                    raise ValueError(
                        f"Rule '{rule.name}' reads '{x}{side.other_suffix}' and writes "
                        f"'{y}{side.suffix}', which with Synapses '{synapses.name}' are both "
                        f"the variable '{name}' of '{self.group.name}': a spike would read "
                        "what the spikes before it wrote in C, but not in numpy. Read a "
                        "copy of it that the rule does not write."
                    )
            self.other[x] = (name, var)
        for target_var, summing in brian_compat.summed_targets():
            for x, (name, var) in self.neuronal.items():
                if var is target_var and code.writes_neuron(x):
                    raise TypeError(
                        f"Rule '{rule.name}' writes '{name}' of '{self.group.name}', but "
                        f"Synapses '{summing.name}' makes it a (summed) variable, which "
                        "Brian overwrites every time step: the rule's changes would be lost."
                    )
        for local in sorted(code.locals):
            if local in synapses.variables and not local.startswith("_") and local not in ("i", "j", "N"):
                raise ValueError(
                    f"Rule '{rule.name}' assigns '{local}' before reading it, so '{local}' "
                    f"is a value of the rule's own, but Synapses '{synapses.name}' has a "
                    f"variable '{local}': rename the value in the rule."
                )
        check_units(rule, self)

    def written(self):
        """The `Variable` objects the rule writes."""
        code = self.rule.rule_code
        return [var for x, (_, var) in self.synaptic.items() if x in code.written] + [
            var for x, (_, var) in self.neuronal.items() if code.writes_neuron(x)
        ]

    def all_variables(self):
        """(name, group, `Variable`, must be non-negative) of every variable acted on."""
        nonneg = self.rule.nonnegative
        return [(n, self.synapses, v, x in nonneg) for x, (n, v) in self.synaptic.items()] + [
            (n, self.group, v, x in nonneg) for x, (n, v) in self.neuronal.items()
        ]

    def read_variables(self):
        """`all_variables` and (name, group, `Variable`, False) of each
        variable of the other neuron that the rule reads."""
        return self.all_variables() + [(n, self.other_group, v, False) for n, v in self.other.values()]

    @staticmethod
    def _variable(rule, group, name, kind, shown, writes, x):
        var = group.variables.get(name)
        what = f"Rule '{rule.name}' acts on the {kind} variable '{name}' of '{shown.name}'"
        if var is None:
            # (a built-in rule names its variables with arguments of its own)
            function, arguments = getattr(rule, "_renaming", (None, ()))
            other = (f"{function}(..., {x}='...')" if x in arguments
                     else "variables={" + repr(x) + ": '...'}")
            raise KeyError(
                f"{what}, which has no variable '{name}'. Add it to its equations "
                f"(e.g. '{name} : {get_unit(rule.dim) if rule.dim is not DIMENSIONLESS else 1}') "
                f"or name another one with {other}."
            )
        per_item = (
            isinstance(var, DynamicArrayVariable)
            if kind == "per-synapse"
            else isinstance(var, ArrayVariable) and var.size == len(group)
        )
        if not per_item or var.scalar or getattr(var.owner, "name", None) != group.name:
            raise TypeError(f"{what}, but '{name}' is not a {kind} variable of it.")
        if (writes and (var.read_only or var.constant)) or var.dtype != np.float64:
            raise TypeError(
                f"{what}, but '{name}' is "
                + ("constant" if var.dtype == np.float64 else f"of type {np.dtype(var.dtype).name}")
                + ": it must be a " + ("writable " if writes else "")
                + "floating point (float64) variable."
                + (" Brian makes floating point variables float32 when "
                   "prefs.core.default_float_dtype = float32; set it to float64 before "
                   "creating the groups." if var.dtype == np.float32 else "")
            )
        return var


def _unit_free(node):
    """Whether ``node`` is 0, inf or -inf, which have every unit."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value == 0) or (
        isinstance(node, ast.Name) and node.id == "inf"
    )


class _UnitsOfContext(ast.NodeTransformer):
    """For the unit check: 0 and inf take the units of what they are added
    to, compared with, or of the value they clip (``clip(w, 0, inf)`` with
    ``w`` in siemens), as a rule's statements carry no units."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            if _unit_free(node.right) and not _unit_free(node.left):
                node.right = node.left
            elif _unit_free(node.left) and not _unit_free(node.right):
                node.left = node.right
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.comparators) == 1:
            if _unit_free(node.comparators[0]) and not _unit_free(node.left):
                node.comparators = [node.left]
            elif _unit_free(node.left) and not _unit_free(node.comparators[0]):
                node.left = node.comparators[0]
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if node.func.id == "clip" and len(node.args) == 3:
            node.args = [node.args[0]] + [node.args[0] if _unit_free(a) else a for a in node.args[1:]]
        return node


def _with_context_units(text):
    return ast.unparse(_UnitsOfContext().visit(ast.parse(text, mode="eval")))


def check_units(rule, caller):
    """
    Check the units of every statement of ``rule`` with the variables of
    ``caller``, with Brian's own unit checks; raise a `DimensionMismatchError`
    naming the statement.
    """
    code = rule.rule_code
    known = {}
    for x, (_, var) in caller.synaptic.items():
        known[x] = known[x + "_sib"] = Variable(x, dimensions=var.dim)
    side = code.side
    for x, (_, var) in caller.neuronal.items():
        known[x + side.suffix] = Variable(x, dimensions=var.dim)
    for x, (_, var) in caller.other.items():
        known[x + side.other_suffix] = Variable(x, dimensions=var.dim)
    for name in ("i", "j", side.sibling_index):
        known[name] = Variable(name, dtype=np.int32)
    for spec, pdim in rule.parameter_specs:
        known[spec.name] = Variable(spec.name, dimensions=pdim)
    for name in ("pi", "e", "inf", "True", "False"):
        known[name] = Constant(name, value=DEFAULT_CONSTANTS[name].value if name in DEFAULT_CONSTANTS else name == "True")
    for name in ("abs", "sqrt", "exp", "log", "floor", "ceil", "clip", "int"):
        known[name] = DEFAULT_FUNCTIONS[name]
    for block in code.blocks:
        for st in block.statements:
            try:
                if st.condition is not None:
                    parse_expression_dimensions(_with_context_units(st.condition), known)
                value = parse_expression_dimensions(_with_context_units(st.expr), known)
                if st.reduction in ("count",):
                    value = DIMENSIONLESS
                elif st.reduction == "argmax":
                    value = DIMENSIONLESS
                if st.name in known:
                    fail_for_dimension_mismatch(value, known[st.name].dim, "")
                else:
                    known[st.name] = Variable(st.name, dimensions=get_dimensions(value))
            except (DimensionMismatchError, SyntaxError, KeyError, TypeError, ValueError) as exc:
                raise DimensionMismatchError(
                    f"Rule '{rule.name}', statement '{st.line}', with the variables of "
                    f"Synapses '{caller.synapses.name}': inconsistent units "
                    f"({str(exc).strip() or type(exc).__name__})"
                ) from None
    try:
        returned = parse_expression_dimensions(_with_context_units(code.returns), known)
        fail_for_dimension_mismatch(returned, rule.dim, "")
    except DimensionMismatchError:
        raise DimensionMismatchError(
            f"Rule '{rule.name}' returns '{code.returns}', which with the variables of "
            f"Synapses '{caller.synapses.name}' has units of {unit_name(get_dimensions(returned))}, "
            f"but the rule was declared with units of {unit_name(rule.dim)} (unit=...)."
        ) from None


def _first_bad(values, nonnegative=True):
    bad = ~np.isfinite(values)
    if nonnegative:
        bad |= ~(values >= 0)
    return int(np.argmax(bad)) if bad.any() else None


def _must(nonnegative):
    return "finite and non-negative" if nonnegative else "finite"


def _checked_values(caller):
    """(name, group, values, first index, must be non-negative) of every variable acted on."""
    start = caller.neuron_offset
    for name, group, var, nonnegative in caller.all_variables():
        values = var.get_value()
        if group is not caller.synapses:
            yield name, group, values[start : start + caller.n_neurons], start, nonnegative
        else:
            yield name, group, values, 0, nonnegative


def check_after_run(rule, caller):
    """Raise a FloatingPointError naming the first value that left its range during a run."""
    for name, group, values, offset, nonnegative in _checked_values(caller):
        k = _first_bad(values, nonnegative)
        if k is not None:
            where = "synapse" if group is caller.synapses else "neuron"
            raise FloatingPointError(
                f"After the run, {'Synapses ' if where == 'synapse' else ''}'{group.name}' has {name} = {float(values[k])!r} at {where} "
                f"{k + offset}, which rule '{rule.name}' acts on: it must stay "
                f"{_must(nonnegative)} during a run."
            )


def check_values(rule, caller):
    """
    At the start of a run: the rule's parameters are admissible, the
    variables it acts on finite (and non-negative where the rule says so),
    and no (i, j) pair has more than one synapse.
    """
    for parameter, _ in rule.parameter_specs:
        value = float(rule.variables[parameter.name].get_value()[0])
        if not (np.isfinite(value) and parameter.accepts(value)):
            raise ValueError(
                f"Rule '{rule.name}': {parameter.name} must be "
                f"{parameter.admissible()}, got {parameter.name} = {value!r}. "
                "Nothing was run."
            )
    synapses = caller.synapses
    pre = synapses.variables["_synaptic_pre"].get_value()
    post = synapses.variables["_synaptic_post"].get_value()
    for name, group, values, offset, nonnegative in _checked_values(caller):
        k = _first_bad(values, nonnegative)
        if k is None:
            continue
        if group is synapses:
            raise ValueError(
                f"Rule '{rule.name}' needs {_must(nonnegative)} values of {name}, but Synapses "
                f"'{synapses.name}' has {name} = {float(values[k])!r} at synapse {k} "
                f"(i = {pre[k] - caller.source_offset}, j = {post[k] - caller.target_offset}). "
                "Nothing was run."
            )
        raise ValueError(
            f"Rule '{rule.name}' needs {_must(nonnegative)} values of {name}, but "
            f"'{group.name}' has {name} = {float(values[k])!r} at neuron {k + offset}. "
            "Nothing was run."
        )
    pairs = (post.astype(np.int64) - caller.target_offset) * caller.n_sources + pre
    pairs.sort()
    repeated = np.flatnonzero(pairs[1:] == pairs[:-1])
    if repeated.size:
        pair = int(pairs[repeated[0]])
        raise ValueError(
            f"Rule '{rule.name}' needs at most one synapse per (i, j) pair, but "
            f"Synapses '{synapses.name}' has more than one from "
            f"i = {pair % caller.n_sources - caller.source_offset} to "
            f"j = {pair // caller.n_sources} (e.g. connect(n=2)), so that "
            f"{rule.name}(i, j) would be ambiguous. Nothing was run."
        )


def check_run_arg(name, values, dim, parameter=None, nonnegative=True, size=None):
    """
    Check values given as ``run_args`` for the variable ``name`` (of
    dimensions ``dim``): admissible values of ``parameter`` if given, else
    finite (and non-negative) ones; one value or ``size`` values if ``size``
    is given (the program checks the number of values of a synaptic
    variable, see before_run.cpp.jinja).
    """
    if isinstance(values, (str, bool, np.bool_)) or np.iscomplexobj(values) or np.asarray(values).dtype.kind not in "iuf":
        raise TypeError(f"run_args: {name} must be given numbers, got {values!r}. Nothing was run.")
    if size is not None and np.size(values) not in (1, size):
        raise ValueError(
            f"run_args: {name} must be given one value or {size} (one per neuron), got "
            f"{np.size(values)} values. Nothing was run."
        )
    fail_for_dimension_mismatch(values, dim, f"run_args: {name} must " + (
        f"have units of {unit_name(dim)}" if dim is not DIMENSIONLESS else "be dimensionless"))
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    unit = "" if dim is DIMENSIONLESS else f" {get_unit(dim)}"
    if parameter is not None:
        bad = [float(v) for v in values if not (np.isfinite(v) and parameter.accepts(v))]
        if bad:
            raise ValueError(
                f"run_args: {name} must be {parameter.admissible()}, got {bad[0]!r}{unit}. "
                "Nothing was run."
            )
        return
    k = _first_bad(values, nonnegative)
    if k is not None:
        raise ValueError(
            f"run_args: {name} must be {_must(nonnegative)}, got {float(values[k])!r}{unit} "
            f"at index {k}. Nothing was run."
        )
