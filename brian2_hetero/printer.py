"""
Per-target printers of a rule's statements (`RuleCode`): each turns the
statements into the lines that the target's ``rule`` template places in its
function, with Brian's own expression renderers doing the expressions.

Names in the generated code: a variable ``x`` of the spiking synapse, ``x_post``
of the target and ``x_sib`` of a sibling, the parameters, the local values and
the indices keep the names they have in the rule (none starts with an
underscore); the template's own names all start with one. Arrays: ``_ptr_x``
(synaptic variable ``x``), ``_ptr_post_x`` (target variable ``x``).
"""

import ast

import numpy as np
from brian2.codegen.generators.cython_generator import CythonNodeRenderer
from brian2.parsing.rendering import CPPNodeRenderer, NumpyNodeRenderer
from brian2.utils.stringtools import word_substitute

from .language import POST, SIBLING, _names

__all__ = ["print_rule"]

_NUMBERS = {"pi": repr(float(np.pi)), "e": repr(float(np.e))}


class _Printer:
    renderer = None
    functions = {}

    def __init__(self, code, fname):
        self.code = code
        self.fname = fname

    def expr(self, text, sibling=False):
        """Render an expression of the rule for this target."""
        text = word_substitute(text, _NUMBERS)
        rendered = self.renderer.render_expr(text)
        names = {k: v.format(fname=self.fname) for k, v in self.functions.items()}
        if sibling:
            names.update(self.sibling_names())
        return word_substitute(rendered, names)

    def sibling_names(self):
        return {}

    # the parts of the function --------------------------------------------

    def blocks(self):
        """The printed blocks; afterwards ``unstored`` lists the variables of
        the spiking synapse whose new values are still to be stored."""
        out = []
        self._unstored = set()
        for block in self.code.blocks:
            if block.kind == "scalar":
                out.append(dict(kind="scalar", lines=[self.assign(st.name, self.expr(st.expr)) for st in block.statements]))
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

    def written_post(self):
        return sorted(n[: -len(POST)] for n in self.code.written if n.endswith(POST))


class _CLike(_Printer):
    """C++ and Cython share their structure; they differ in syntax."""

    def pass_(self, block):
        code = self.code
        before = [self.store(f"_ptr_{x}", "_s", x) for x in self.store_before_pass()]
        body, after = [], []
        if _needs_i_sib(block):
            body.append(self.assign("i" + SIBLING, f"_ptr_pre[_sk] - _source_offset"))
        for x in code.sibling_reads(block):
            body.append(self.assign(x + SIBLING, f"_ptr_{x}[_sk]"))
        for st in block.statements:
            if st.kind != "reduction":
                body.append(self.assign(st.name, self.expr(st.expr, sibling=True)))
                continue
            value = self.expr(st.expr, sibling=True)
            cond = self.expr(st.condition, sibling=True) if st.condition else None
            n = st.name
            if st.reduction in ("sum", "count"):
                before.append(self.assign(n, "0.0"))
                body += self.when(cond, [self.assign(n, f"{n} + ({value})")])
            elif st.reduction in ("max", "min"):
                before.append(self.assign(n, ("-" if st.reduction == "max" else "") + self.inf))
                op = ">" if st.reduction == "max" else "<"
                body += self.when(cond, [self.assign(f"_v_{n}", value)]
                                  + self.when(f"_v_{n} {op} {n}", [self.assign(n, f"_v_{n}")]))
            else:  # argmax: the i of the first sibling with the largest value
                before += [self.assign(n, "-1.0"), self.assign(f"_v_{n}", "-" + self.inf)]
                body += self.when(cond, [self.assign(f"_u_{n}", value)] + self.when(
                    f"_u_{n} > _v_{n}", [self.assign(f"_v_{n}", f"_u_{n}"), self.assign(n, "i" + SIBLING)]))
        for x in code.sibling_writes(block):
            body.append(self.store(f"_ptr_{x}", "_sk", x + SIBLING))
        for x in sorted(code.trigger & set(code.sibling_writes(block))):
            after.append(self.assign(x, f"_ptr_{x}[_s]"))
        return dict(kind="pass", before=before, body=body, after=after)

    def reductions(self):
        """Temporaries of the reductions, for declarations."""
        out = []
        for block in self.code.passes():
            for st in block.statements:
                if st.reduction in ("max", "min"):
                    out.append(f"_v_{st.name}")
                elif st.reduction == "argmax":
                    out += [f"_v_{st.name}", f"_u_{st.name}"]
        return out


class _CPP(_CLike):
    renderer = CPPNodeRenderer()
    functions = {"abs": "fabs", "clip": "{fname}_clip", "_brian_pow": "pow"}
    inf = "INFINITY"

    def assign(self, name, value):
        return f"{name} = {value};"

    def store(self, array, index, value):
        return f"{array}[{index}] = {value};"

    def when(self, cond, lines):
        if cond is None:
            return lines
        return [f"if ({cond})", "{"] + ["    " + line for line in lines] + ["}"]


class _Cython(_CLike):
    renderer = CythonNodeRenderer()
    functions = {"abs": "fabs", "clip": "{fname}_clip", "int": "{fname}_int", "inf": "INFINITY"}
    inf = "INFINITY"

    def assign(self, name, value):
        return f"{name} = {value}"

    def store(self, array, index, value):
        return f"{array}[{index}] = {value}"

    def when(self, cond, lines):
        if cond is None:
            return lines
        return [f"if {cond}:"] + ["    " + line for line in lines]


class _Numpy(_Printer):
    """Vectorised over the spikes of a chunk (onto distinct neurons): scalar
    values are arrays with one entry per spike, sibling values flat arrays of
    the siblings of all of them (``_counts`` per spike)."""

    renderer = NumpyNodeRenderer()
    functions = {
        "abs": "_np.abs", "sqrt": "_np.sqrt", "exp": "_np.exp", "log": "_np.log",
        "floor": "_np.floor", "ceil": "_np.ceil", "clip": "_np.clip", "int": "_int",
        "logical_not": "_np.logical_not", "inf": "_np.inf",
    }

    def assign(self, name, value):
        return f"{name} = {value}"

    def sibling_names(self):
        return {name: f"_spread_{name}" for name in self._spread}

    def blocks(self):
        # sibling arrays that still hold the values of the variables' arrays
        self._loaded = set()
        return super().blocks()

    def pass_(self, block):
        code = self.code
        stored = self.store_before_pass()
        self._loaded -= set(stored)
        before = [f"_ptr_{x}[_s] = {x}" for x in stored]
        # Sub-expressions without sibling values are computed once per
        # spike, not once per sibling, and then spread over the siblings.
        hoisted, texts = {}, []
        for st in block.statements:
            texts.append((st, _hoist(code, st.expr, hoisted),
                          _hoist(code, st.condition, hoisted) if st.condition else None))
        for name, text in hoisted.items():
            before.append(self.assign(name, self.expr(text)))
        used = set().union(*(_names(ast.parse(t, mode="eval")) for _, e, c in texts for t in (e, c) if t))
        per_event = {n for n, text in hoisted.items()
                     if any(code.is_scalar(m) for m in _names(ast.parse(text, mode="eval")))}
        self._spread = sorted(n for n in used if n in per_event or code.is_scalar(n))
        before += [f"_spread_{n} = _spread(_g, {n})" for n in self._spread]
        if _needs_i_sib(block) and "i" + SIBLING not in self._loaded:
            before.append(f"i{SIBLING} = _ptr_pre[_k] - _source_offset")
            self._loaded.add("i" + SIBLING)  # the same in every pass
        for x in code.sibling_reads(block):
            if x not in self._loaded:
                before.append(f"{x}{SIBLING} = _gather(_ptr_{x}, _k)")
        for st, expr, condition in texts:
            value = self.expr(expr, sibling=True)
            if st.kind != "reduction":
                before.append(self.assign(st.name, value))
                continue
            cond = self.expr(condition, sibling=True) if condition else "None"
            if st.reduction == "argmax":
                before.append(f"{st.name} = _argmax(_g, {value}, {cond}, i{SIBLING})")
            else:
                before.append(f"{st.name} = _reduce(_g, '{st.reduction}', {value}, {cond})")
        for x in code.sibling_writes(block):
            # (a value the same for every sibling is broadcast by numpy)
            before.append(f"_ptr_{x}[_k] = {x}{SIBLING}")
        for x in sorted(code.trigger & set(code.sibling_writes(block))):
            before.append(f"{x} = _ptr_{x}[_s]")
        # after the pass its sibling arrays hold what the arrays hold
        self._loaded |= set(code.sibling_reads(block))
        self._spread = ()
        return dict(kind="pass", before=before, body=[], after=[])

    _spread = ()


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


def _needs_i_sib(block):
    return "i" + SIBLING in block.names() or any(st.reduction == "argmax" for st in block.statements)


_PRINTERS = {"cpp": _CPP, "cython": _Cython, "numpy": _Numpy}


def print_rule(code, target, fname):
    """
    The parts of a rule's function for ``target``: ``blocks`` (dicts with
    ``kind`` 'scalar' and ``lines``, or 'pass' and ``before``, ``body`` (the
    loop over the siblings, with the sibling's index ``_sk``) and
    ``after``), ``returns`` (an expression), the names to declare
    (``doubles``, ``ints``), and what to load and store: ``trigger``
    (variables of the spiking synapse), ``post`` (of the target),
    ``written_trigger``, ``written_post``, ``uses_i``, ``uses_j``,
    ``uses_i_sib``.
    """
    printer = _PRINTERS[target](code, fname)
    blocks = printer.blocks()
    sib_vars = sorted({x for b in code.passes() for x in code.sibling_reads(b)})
    doubles = (
        sorted(code.locals)
        + [x + SIBLING for x in sib_vars]
        + (printer.reductions() if target != "numpy" else [])
    )
    return dict(
        blocks=blocks,
        returns=printer.expr(code.returns),
        doubles=doubles,
        trigger=sorted(code.trigger),
        post=sorted(code.neuronal),
        written_trigger=printer.unstored,
        written_post=printer.written_post(),
        uses_i="i" in code.uses,
        uses_j="j" in code.uses,
        uses_i_sib=any(_needs_i_sib(b) for b in code.passes()),
        synaptic=sorted(code.synaptic),
    )


def check_renderable(code):
    """Render every statement for every target once, so that an expression
    Brian cannot render fails when the rule is created."""
    for target in _PRINTERS:
        print_rule(code, target, "_check")
    return True

