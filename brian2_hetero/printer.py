"""
Per-target printers of a rule's statements (`RuleCode`): each turns the
statements into the lines that the target's templates place in the rule's
function, with Brian's own expression renderers doing the expressions.

There are two printers: C (one function, compiled by Cython and by
cpp_standalone alike) and numpy. Both implement the semantics of the user
guide's "Semantics" page (docs/guide/semantics.md): every value is a
float64, numbers are float64 literals, ``/`` is true division, ``int`` truncates toward zero to a float,
``clip(x, low, high)`` is ``min(max(x, low), high)``, ``**`` is the C
library's ``pow``, NaN in a ``max``, ``min`` or ``argmax`` gives NaN, and
``sum`` adds in eight interleaved running sums (see `LANES`).

Names in the generated code: every name of the rule (a variable ``x`` of the
spiking synapse, ``x_post``, ``x_pre``, ``x_sib``, a parameter, a local
value, an index) is printed as ``_v_<name>``, so that no name a rule may use
can collide with a name of the generated code or of its language; the
templates' own names start with another underscore prefix. Arrays: ``_ptr_x``
(synaptic variable ``x``), ``_ptr_nrn_x`` (variable ``x`` of the shared
neuron, see `siblings.Side`), ``_ptr_oth_x`` (of the spiking synapse's other
neuron), ``_ptr_pre`` and ``_ptr_post`` (each synapse's source and target).
"""

import ast
import math

import numpy as np
from brian2.parsing.rendering import CPPNodeRenderer, NumpyNodeRenderer
from brian2.utils.stringtools import word_substitute

from .language import _names

__all__ = ["print_rule", "check_renderable", "LANES", "c_name", "pairwise"]

#: ``sum`` and ``count`` add the k-th sibling's value to running sum
#: ``k % LANES`` (each in sibling order, from 0.0), then combine the sums
#: pairwise, ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)): a fixed
#: order that numpy reproduces and that lets C overlap eight additions.
LANES = 8
_CONSTANTS = {"pi": float(np.pi), "e": float(np.e), "inf": math.inf, "True": 1.0, "False": 0.0}


def c_name(name):
    """The name of a rule's value ``name`` in generated code."""
    return f"_v_{name}"


class _Generated(ast.NodeTransformer):
    """A rule expression as generated code sees it: names prefixed, numbers
    and constants as floats."""

    def visit_Name(self, node):
        if node.id in _CONSTANTS:
            return ast.copy_location(ast.Constant(_CONSTANTS[node.id]), node)
        return ast.copy_location(ast.Name(id=c_name(node.id), ctx=node.ctx), node)

    def visit_Constant(self, node):
        return ast.copy_location(ast.Constant(float(node.value)), node)

    def visit_Call(self, node):
        node.args = [self.visit(arg) for arg in node.args]
        return node


def _generated(text):
    return _Generated().visit(ast.parse(text, mode="eval")).body


def _render_func(renderer, node):
    return renderer.functions.get(node.id, node.id)


def _render_float(renderer, node):
    # (every number is a float64 literal, see _Generated)
    value = float(node.value)
    if math.isinf(value):
        return renderer.infinity if value > 0 else f"(-{renderer.infinity})"
    return repr(value)


class _CRenderer(CPPNodeRenderer):
    """Brian's C++ renderer, for operands that are all doubles."""

    infinity = "INFINITY"

    def __init__(self, functions):
        super().__init__()
        self.functions = functions

    render_func = _render_func
    render_Constant = _render_float

    def render_Call(self, node):
        # int() of a truth value (0 or 1) is that value; C++ would call
        # trunc() of an integer out of line
        if _is_int_of_truth(node):
            return f"(double){self.render_element_parentheses(node.args[0])}"
        return super().render_Call(node)

    def render_BinOp(self, node):
        name = node.op.__class__.__name__
        if name == "Pow":
            return f"{self.functions['_pow']}({self.render_node(node.left)}, {self.render_node(node.right)})"
        if name == "Div":  # both operands are doubles: a true division
            return f"{self.render_element_parentheses(node.left)} / {self.render_element_parentheses(node.right)}"
        return super().render_BinOp(node)


class _NumpyRenderer(NumpyNodeRenderer):
    """Brian's numpy renderer, with float64 truth values (C's 0 and 1): a
    comparison, ``and``, ``or`` and ``not`` give 1.0 or 0.0, so that
    ``(a > b) + (c > d)`` is 2.0 as in C, not a logical or."""

    functions = {
        "abs": "_np.abs", "sqrt": "_np.sqrt", "exp": "_np.exp", "log": "_np.log",
        "floor": "_np.floor", "ceil": "_np.ceil", "clip": "_clip", "int": "_int",
    }

    infinity = "_np.inf"
    render_func = _render_func
    render_Constant = _render_float

    def render_BinOp(self, node):
        if node.op.__class__.__name__ == "Pow":
            return f"_pow({self.render_node(node.left)}, {self.render_node(node.right)})"
        return super().render_BinOp(node)

    def render_Compare(self, node):
        return f"_truth({super().render_Compare(node)})"

    def render_Call(self, node):
        # int() of a truth value (0.0 or 1.0) is that value
        if _is_int_of_truth(node):
            return self.render_node(node.args[0])
        return super().render_Call(node)

    def render_BoolOp(self, node):
        values = ", ".join(self.render_node(v) for v in node.values)
        kind = "and" if isinstance(node.op, ast.And) else "or"
        return f"_{kind}({values})"

    def render_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            return f"_truth(_np.logical_not({self.render_node(node.operand)}))"
        return super().render_UnaryOp(node)


def _is_int_of_truth(node):
    """Whether the call ``node`` is int() of a truth value (a comparison,
    and, or, not), which is that value."""
    if not (isinstance(node.func, ast.Name) and node.func.id == "int" and len(node.args) == 1):
        return False
    arg = node.args[0]
    return isinstance(arg, (ast.Compare, ast.BoolOp)) or (
        isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.Not))


class _Printer:
    def __init__(self, code, fname):
        self.code = code
        self.fname = fname

    def expr(self, text, spread=()):
        """Render an expression of the rule for this target; names in
        ``spread`` are per-event values read per sibling."""
        rendered = self.renderer.render_node(_generated(text))
        if spread:
            rendered = word_substitute(rendered, {c_name(n): f"_spread{c_name(n)}" for n in spread})
        return rendered

    def blocks(self):
        """The printed blocks; afterwards ``unstored`` lists the variables of
        the spiking synapse whose new values are still to be stored."""
        out = []
        self._unstored = set()
        for block in self.code.blocks:
            if block.kind == "scalar":
                out.append(dict(kind="scalar", lines=[self.assign(c_name(st.name), self.expr(st.expr))
                                                      for st in block.statements]))
                self._unstored |= {st.name for st in block.statements} & self.code.trigger
            else:
                out.append(self.pass_(block))
        return out

    def store_before_pass(self):
        """The spiking synapse's variables changed since they were last
        stored: a pass reads them as siblings, so they are stored first."""
        names, self._unstored = sorted(self._unstored), set()
        return names

    @property
    def unstored(self):
        return sorted(self._unstored)


class _C(_Printer):
    """C, for Cython and cpp_standalone: one loop over the siblings per pass,
    with the sibling's index ``_sk`` and its position ``_k``."""

    def __init__(self, code, fname):
        super().__init__(code, fname)
        self.renderer = _CRenderer({
            "abs": "fabs", "int": "trunc", "clip": f"{fname}_clip", "_pow": f"{fname}_pow",
        })

    @staticmethod
    def assign(name, value):
        return f"{name} = {value};"

    @staticmethod
    def when(cond, lines):
        # (always a block of its own: its declarations stay in it)
        return ([] if cond is None else [f"if ({cond})"]) + ["{"] + ["    " + line for line in lines] + ["}"]

    def pass_(self, block):
        code = self.code
        before = [f"_ptr_{x}[_s] = {c_name(x)};" for x in self.store_before_pass()]
        body, after = [], []
        other_end = f"(double){_other_end(code, '_sk')}"
        if _needs_sibling_index(code, block):
            body.append(self.assign(c_name(code.side.sibling_index), other_end))
        for x in code.sibling_reads(block):
            body.append(self.assign(c_name(x + "_sib"), f"_ptr_{x}[_sk]"))
        for st in block.statements:
            if st.reduction is None:
                body.append(self.assign(c_name(st.name), self.expr(st.expr)))
                continue
            # Reductions collect into _r<name> and assign the value after the
            # loop: statements of the pass read the value the name had before.
            value = self.expr(st.expr)
            cond = self.expr(st.condition) if st.condition else None
            r = f"_r{c_name(st.name)}"
            if st.reduction in ("sum", "count"):
                before.append(f"double {r}[{LANES}] = {{{', '.join(['0.0'] * LANES)}}};")
                # (_lane is _k % LANES; see function.cpp.jinja)
                body += self.when(cond, [f"{r}[_lane] += {value};"])
                after.append(self.assign(c_name(st.name), pairwise([f"{r}[{k}]" for k in range(LANES)])))
            elif st.reduction in ("max", "min"):
                before.append(f"double {r} = {'-' if st.reduction == 'max' else ''}INFINITY;")
                op = ">" if st.reduction == "max" else "<"
                # (NaN compares false: it is taken explicitly, and kept)
                body += self.when(cond, [f"const double _u = {value};",
                                         f"if (_u {op} {r} || _u != _u)", "{", f"    {r} = _u;", "}"])
                # (a zero is +0.0, whichever of 0.0 and -0.0 came first)
                after.append(self.assign(c_name(st.name), f"{r} + 0.0"))
            else:  # argmax: the other end of the first sibling with the largest value
                before += [f"double {r} = -1.0;", f"double {r}_best = -INFINITY;"]
                body += self.when(cond, [
                    f"const double _u = {value};",
                    f"if (_u != _u)", "{", f"    {r}_best = _u;", f"    {r} = _u;", "}",
                    f"else if (_u > {r}_best)", "{", f"    {r}_best = _u;",
                    f"    {r} = {other_end};", "}",
                ])
                after.append(self.assign(c_name(st.name), r))
        for x in code.sibling_writes(block):
            body.append(f"_ptr_{x}[_sk] = {c_name(x + '_sib')};")
        for x in sorted(code.trigger & set(code.sibling_writes(block))):
            after.append(self.assign(c_name(x), f"_ptr_{x}[_s]"))
        lanes = LANES if any(st.reduction in ("sum", "count") for st in block.statements) else 0
        return dict(kind="pass", before=before, body=body, after=after, lanes=lanes)


def pairwise(terms):
    """The sum of ``terms`` (eight) as LANES says: ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7))."""
    while len(terms) > 1:
        terms = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2])]
    return terms[0]


class _Numpy(_Printer):
    """Vectorised over the events of a round (at distinct neurons): values
    per event are arrays with one entry per event, sibling values (events,
    siblings) arrays of the layout ``_g`` (see ``numpy/rule.py.jinja``),
    along whose rows values per event are repeated (``_spread``)."""

    renderer = _NumpyRenderer()

    @staticmethod
    def assign(name, value):
        return f"{name} = {value}"

    def blocks(self):
        # sibling arrays that still hold the values of the variables' arrays
        self._loaded = set()
        return super().blocks()

    def pass_(self, block):
        code = self.code
        stored = self.store_before_pass()
        self._loaded -= set(stored)
        lines = [f"_ptr_{x}[_s] = {c_name(x)}" for x in stored]
        # Sub-expressions without sibling values are computed once per
        # spike, not once per sibling, and then spread over the siblings.
        hoisted, texts = {}, []
        for st in block.statements:
            texts.append((st, _hoist(code, st.expr, hoisted),
                          _hoist(code, st.condition, hoisted) if st.condition else None))
        for name, text in hoisted.items():
            lines.append(self.assign(c_name(name), self.expr(text)))
        used = set().union(*(_names(ast.parse(t, mode="eval")) for _, e, c in texts for t in (e, c) if t))
        per_event = {n for n, text in hoisted.items()
                     if any(code.is_scalar(m) for m in _names(ast.parse(text, mode="eval")))}
        spread = sorted(n for n in used if n in per_event or code.is_scalar(n))
        lines += [f"_spread{c_name(n)} = _spread(_g, {c_name(n)})" for n in spread]
        index = code.side.sibling_index
        if _needs_sibling_index(code, block) and index not in self._loaded:
            other = code.side.other
            offset = "_source_offset" if other == "pre" else "_target_offset"
            lines.append(f"{c_name(index)} = _float(_g.gather('_{other}') - {offset})")
            self._loaded.add(index)  # the same in every pass
        for x in code.sibling_reads(block):
            if x not in self._loaded:
                lines.append(f"{c_name(x + '_sib')} = _g.gather('{x}')")
        # reductions are assigned after the pass (see _C.pass_)
        reduced = []
        for st, expr, condition in texts:
            value = self.expr(expr, spread)
            if st.reduction is None:
                lines.append(self.assign(c_name(st.name), value))
                continue
            cond = self.expr(condition, spread) if condition else "None"
            r = f"_r{c_name(st.name)}"
            if st.reduction == "argmax":
                lines.append(f"{r} = _argmax(_g, {value}, {cond}, {c_name(index)})")
            else:
                lines.append(f"{r} = _reduce(_g, '{st.reduction}', {value}, {cond})")
            reduced.append(self.assign(c_name(st.name), r))
        for x in code.sibling_writes(block):
            # (a value the same for every sibling is broadcast by numpy)
            lines.append(f"_g.scatter('{x}', {c_name(x + '_sib')})")
        lines += reduced
        for x in sorted(code.trigger & set(code.sibling_writes(block))):
            lines.append(f"{c_name(x)} = _ptr_{x}[_s]")
        # after the pass its sibling arrays hold what the arrays hold
        self._loaded |= set(code.sibling_reads(block))
        return dict(kind="pass", before=lines, body=[], after=[])


def _hoist(code, text, hoisted):
    """``text`` with its largest sub-expressions that use no sibling value
    (and are more than a name or a number) replaced by names ``_h<n>``,
    added to ``hoisted`` (name -> sub-expression)."""
    tree = ast.parse(text, mode="eval")

    class Hoist(ast.NodeTransformer):
        def generic_visit(self, node):
            if (isinstance(node, ast.expr) and not isinstance(node, (ast.Name, ast.Constant))
                    and not any(code.is_sibling(n) for n in _names(node))):
                sub = ast.unparse(node)
                name = next((k for k, v in hoisted.items() if v == sub), None)
                if name is None:
                    name = f"_h{len(hoisted)}"
                    hoisted[name] = sub
                return ast.Name(id=name, ctx=ast.Load())
            return super().generic_visit(node)

    return ast.unparse(Hoist().visit(tree))


def _needs_sibling_index(code, block):
    return code.side.sibling_index in block.names() or any(st.reduction == "argmax" for st in block.statements)


def _other_end(code, k):
    """The other end of synapse ``k`` (an index expression), counted from
    the start of its group: its ``i`` in a rule over='post', its ``j`` in a
    rule over='pre'."""
    other = code.side.other
    return f"(_ptr_{other}[{k}] - {'_source_offset' if other == 'pre' else '_target_offset'})"


_PRINTERS = {"c": _C, "numpy": _Numpy}


def print_rule(code, target, fname):
    """
    The parts of a rule's function for ``target`` ('c' or 'numpy'):
    ``blocks`` (dicts with ``kind`` 'scalar' and ``lines``, or 'pass' and
    ``before``, ``body`` (the loop over the siblings, with the sibling's
    index ``_sk`` and position ``_k``) and ``after``), ``returns`` (an
    expression), the names to declare (``doubles``), and what to load and
    store: ``trigger`` (variables of the spiking synapse), ``neuron`` (of
    the shared neuron, named with ``suffix``), ``other`` (of the spiking
    synapse's other neuron, named with ``other_suffix``), ``written_trigger``,
    ``written_neuron``, ``uses_i``, ``uses_j``, ``synaptic``; and the side:
    ``shared`` ('post' or 'pre', the shared neuron's end of a synapse),
    ``shared_offset`` (the name of its group's offset) and ``other_end``.
    """
    printer = _PRINTERS[target](code, fname)
    blocks = printer.blocks()
    side = code.side
    sib_vars = sorted({x for b in code.passes() for x in code.sibling_reads(b)})
    uses_sibling_index = any(_needs_sibling_index(code, b) for b in code.passes())
    return dict(
        blocks=blocks,
        returns=printer.expr(code.returns),
        doubles=[c_name(n) for n in sorted(code.locals) + [x + "_sib" for x in sib_vars]
                 + [side.sibling_index] * uses_sibling_index],
        trigger=sorted(code.trigger),
        neuron=sorted(code.neuronal),
        suffix=side.suffix,
        other=sorted(code.other),
        other_suffix=side.other_suffix,
        written_trigger=printer.unstored,
        written_neuron=sorted(x for x in code.neuronal if code.writes_neuron(x)),
        uses_i="i" in code.uses,
        uses_j="j" in code.uses,
        synaptic=sorted(code.synaptic),
        shared=side.over,
        shared_offset="_target_offset" if side.over == "post" else "_source_offset",
        other_end=side.other,
    )


def check_renderable(code):
    """Render every statement for every target once, so that an expression
    Brian cannot render fails when the rule is created."""
    for target in _PRINTERS:
        print_rule(code, target, "_check")
    return True
