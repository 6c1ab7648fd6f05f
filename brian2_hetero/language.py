"""
The rule language: statements in Brian's notation, sorted into the scalar
statements of an event and the passes over its sibling synapses.

A rule is a multi-line string of statements ``name = expression`` (or
``+=``, ``-=``, ``*=``, ``/=``), comments after ``#``. Names are read as:

- ``x_sib``: variable ``x`` of each sibling synapse: every synapse of the
  calling `Synapses` onto the same target neuron (a rule ``over='post'``,
  the default) or leaving the same source neuron (``over='pre'``), the
  spiking one included; ``i_sib`` (``over='post'``) or ``j_sib``
  (``over='pre'``) is the sibling's other end;
- ``x_post`` (``over='post'``) or ``x_pre`` (``over='pre'``): variable ``x``
  of that shared neuron; the other one (``x_pre`` or ``x_post``) is the
  variable of the spiking synapse's other neuron, which a rule only reads;
- ``i``, ``j``: the indices of the spiking synapse;
- a parameter of the rule, or a name the rule assigns (a local value);
- any other name: a variable of the spiking synapse.

A statement that uses a sibling value is applied to every sibling; the
reductions ``sum(expr)``, ``max(expr)``, ``min(expr)``, ``count(cond)`` and
``argmax(expr)`` (each with an optional condition as second argument, which
selects the siblings taking part; ``argmax`` gives the other end, ``i_sib``
or ``j_sib``, of the first sibling with the largest value, -1 if there is
none) turn sibling values into
one value. Consecutive sibling statements and reductions run in one loop over
the siblings (a pass); a statement that needs a reduction of the current pass
starts a new one.
"""

import ast
import keyword
from dataclasses import dataclass, field

from brian2.core.namespace import DEFAULT_UNITS
from brian2.parsing.statements import parse_statement

from .siblings import SIDES

__all__ = ["RuleCode", "Statement", "Block", "REDUCTIONS", "FUNCTIONS", "RuleSyntaxError"]

#: Reductions over the siblings: name -> (least, most) arguments.
REDUCTIONS = {"sum": (1, 2), "max": (1, 2), "min": (1, 2), "count": (0, 1), "argmax": (1, 2)}
#: Functions that rule expressions may call, on every target.
FUNCTIONS = ("abs", "sqrt", "exp", "log", "floor", "ceil", "clip", "int")
CONSTANTS = ("pi", "e", "inf", "True", "False")
INDICES = ("i", "j")
SIBLING, POST, PRE = "_sib", "_post", "_pre"
#: The other end of each sibling, for rules over='post' and over='pre'.
SIBLING_INDICES = ("i" + SIBLING, "j" + SIBLING)
# Names a rule may not use for its own values: the language's own. (Every
# name of a rule is prefixed in generated code, see printer.c_name, so no
# name of C, Cython or numpy can collide with it.)
_RESERVED = set(keyword.kwlist) | set(REDUCTIONS) | set(FUNCTIONS) | set(CONSTANTS)
_OPERATORS = {"=": None, "+=": "+", "-=": "-", "*=": "*", "/=": "/"}


class RuleSyntaxError(SyntaxError):
    """A rule's statements cannot be compiled; the message names the statement."""


@dataclass
class Statement:
    """
    One statement: ``line`` as written, the assigned ``name``, its ``kind``
    ('scalar', 'sibling' or 'reduction'), the ``expr`` assigned (augmented
    assignments written out as ``name = name op (expr)``); for reductions
    the ``reduction`` and its ``condition`` (an expression or None).
    """

    line: str
    name: str
    kind: str
    expr: str
    reduction: str = None
    condition: str = None


@dataclass
class Block:
    """Scalar statements (``kind='scalar'``) or one pass over the siblings (``'pass'``)."""

    kind: str
    statements: list = field(default_factory=list)

    def names(self):
        """Every name the block reads or writes."""
        found = set()
        for st in self.statements:
            found.add(st.name)
            for text in (st.expr, st.condition):
                if text:
                    found |= _names(ast.parse(text, mode="eval"))
        return found


#: How deeply a rule's expressions may nest (Brian's renderers recurse once
#: per level, and a compiler has limits too).
MAX_DEPTH = 100


def _depth(tree):
    """The depth of an expression's tree, or None if it is deeper than
    Python can walk."""
    try:
        return 1 + max((_depth(child) for child in ast.iter_child_nodes(tree)), default=0)
    except RecursionError:
        return None


def _fits(number):
    try:
        float(number)
    except OverflowError:
        return False
    return True


def _constant_zero(node):
    """Whether ``node`` is an expression of numbers only whose value is zero."""
    if any(isinstance(n, (ast.Name, ast.Call)) for n in ast.walk(node)):
        return False
    try:
        return eval(compile(ast.Expression(node), "<rule>", "eval"), {"__builtins__": {}}) == 0
    except Exception:  # e.g. a division by zero inside it, found on its own
        return False


def _names(tree):
    """The names an expression reads (not the functions it calls)."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in called}


class RuleCode:
    """
    The statements of a rule, checked and sorted into blocks.

    Parameters
    ----------
    code : str
        The statements.
    parameters : iterable of str
        The names of the rule's parameters.
    returns : str
        An expression of the spiking synapse's values, the value the rule's
        function returns.
    name : str
        The rule's name, for messages.
    over : {'post', 'pre'}
        The neuron whose synapses are the siblings: the spiking synapse's
        target (``'post'``) or its source (``'pre'``).

    Attributes
    ----------
    blocks : list of `Block`
    synaptic : set of str
        The variables of the synapses the rule reads or writes (of the
        spiking synapse or of the siblings).
    neuronal : set of str
        The variables of the shared neuron (see ``side``) it reads or writes.
    other : set of str
        The variables of the spiking synapse's other neuron it reads.
    written : set of str
        Of the synaptic and shared neuron's variables, the ones it writes
        (``x``, ``x_sib`` and ``x_post`` as ``x``, ``x`` and ``x_post``;
        ``x_pre`` for a rule over='pre').
    side : `Side`
    locals : dict
        Local name -> 'scalar' or 'sibling'.
    """

    def __init__(self, code, parameters, returns, name, over="post"):
        if not isinstance(code, str):
            raise TypeError(f"Rule '{name}': code must be a string of statements, got {code!r}.")
        if not (isinstance(returns, str) and returns.strip()):
            raise TypeError(f"Rule '{name}': returns must be an expression, got returns = {returns!r}.")
        if not isinstance(over, str) or over not in SIDES:
            raise ValueError(f"Rule '{name}': over must be 'post' or 'pre', got over = {over!r}.")
        self.name = name
        self.code = code
        self.side = SIDES[over]
        self.parameters = tuple(parameters)
        self.locals = {}
        self.synaptic, self.neuronal, self.other, self.written = set(), set(), set(), set()
        self.trigger = set()  # variables of the spiking synapse read or written
        self.uses = set()  # i, j, i_sib or j_sib where used
        self.blocks = []
        for p in self.parameters:
            self._check_own_name(p, "a parameter")
            if p.endswith((SIBLING, POST, PRE)):
                raise RuleSyntaxError(
                    f"Rule '{name}': a parameter may not be called '{p}': in a rule, a name "
                    f"ending in '{SIBLING}', '{POST}' or '{PRE}' is a variable of the siblings "
                    "or of a neuron."
                )
        statements = [
            self._statement(line.strip())
            for line in code.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        # x is a variable of the synapses wherever x_sib appears
        for st in statements:
            for text in (st.name, st.expr, st.condition):
                for used in _names(self._parse(text, st.line)) if text else ():
                    if self._role(used) == "sibling" and used not in SIBLING_INDICES:
                        self.synaptic.add(used[: -len(SIBLING)])
        for st in statements:
            self._add(st)
        if not self.blocks:
            raise RuleSyntaxError(f"Rule '{name}' has no statements.")
        self.returns = returns.strip()
        tree = self._parse(self.returns, f"returns = {returns!r}")
        if self._level(tree, f"returns = {returns!r}") != "scalar":
            raise RuleSyntaxError(
                f"Rule '{name}': returns = {returns!r} uses a sibling value; return a "
                "value of the spiking synapse or a reduction."
            )
        # A parameter named like a variable the rule acts on would hide it.
        for p in self.parameters:
            if p in self.synaptic or p in self.neuronal or p in self.other:
                what = (f"'{p}{SIBLING}'" if p in self.synaptic else
                        f"'{p}{self.side.suffix}'" if p in self.neuronal else f"'{p}{self.side.other_suffix}'")
                raise RuleSyntaxError(
                    f"Rule '{name}': the parameter '{p}' has the name of a variable the "
                    f"rule acts on ({what}), so '{p}' could mean either; rename the parameter."
                )

    # Parsing -----------------------------------------------------------------

    def _fail(self, line, message):
        raise RuleSyntaxError(f"Rule '{self.name}', statement '{line}': {message}")

    def _check_own_name(self, name, what):
        if name in DEFAULT_UNITS:
            raise RuleSyntaxError(
                f"Rule '{self.name}': {what} may not be called '{name}', the name of a unit "
                f"(a rule's statements take no units; values with units are its parameters, "
                f"e.g. parameters={{'step': 0.5*{name}}})."
            )
        if name.startswith("_") or name in _RESERVED or name in INDICES or name in SIBLING_INDICES:
            raise RuleSyntaxError(
                f"Rule '{self.name}': {what} may not be called '{name}' (reserved, or "
                "starting with an underscore)."
            )

    def _parse(self, text, line):
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            self._fail(line, f"'{text}' is not an expression ({exc.msg}).")
        except RecursionError:
            tree = None
        depth = _depth(tree) if tree is not None else None
        if depth is None or depth > MAX_DEPTH:
            self._fail(
                line,
                f"the expression is nested more than {MAX_DEPTH} levels deep (a sum of "
                f"{MAX_DEPTH} terms is that deep); split it into several statements.",
            )
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _constant_zero(node.right):
                # (C compilers may turn a constant division by zero into a crash)
                self._fail(line, f"'{ast.unparse(node)}' divides by zero.")
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.MatMult)):
                self._fail(line, f"the operator in '{ast.unparse(node)}' is not supported in rules.")
            if isinstance(node, (ast.IfExp, ast.Lambda, ast.Attribute, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.GeneratorExp, ast.Starred, ast.JoinedStr)):
                self._fail(line, f"'{ast.unparse(node)}' is not an expression Brian can compile.")
            if isinstance(node, ast.Compare) and len(node.ops) > 1:
                self._fail(line, f"write the chained comparison '{ast.unparse(node)}' with 'and'.")
            if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, bool)):
                self._fail(line, f"{node.value!r} is not a number.")
            if isinstance(node, ast.Constant) and isinstance(node.value, int) and not _fits(node.value):
                self._fail(line, f"{node.value} is too large for a float64.")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name):
                    self._fail(line, f"'{ast.unparse(node)}' is not a function call a rule can make.")
                if node.keywords:
                    self._fail(line, f"'{ast.unparse(node)}': rule functions take no keyword arguments.")
                fname = node.func.id
                if fname not in FUNCTIONS and fname not in REDUCTIONS:
                    self._fail(
                        line,
                        f"unknown function '{fname}'; rules may call {', '.join(FUNCTIONS)} and "
                        f"the reductions {', '.join(REDUCTIONS)}.",
                    )
        return tree

    def _statement(self, line):
        if not line.isascii():
            self._fail(line, "names and operators must be ASCII characters.")
        try:
            var, op, expr, _ = parse_statement(line)
        except (ValueError, SyntaxError, RecursionError):
            self._fail(line, "not a statement of the form 'name = expression' that Brian can parse.")
        if op not in _OPERATORS:
            self._fail(line, f"the operator '{op}' is not supported; use =, +=, -=, *= or /=.")
        expr = expr.strip()
        tree = self._parse(expr, line)
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.func.id in REDUCTIONS]
        if calls:
            top = tree.body
            if not (isinstance(top, ast.Call) and top.func.id in REDUCTIONS) or op != "=":
                self._fail(
                    line,
                    f"a reduction ({ast.unparse(calls[0])}) must be the whole right-hand side "
                    f"of an assignment to a new value, e.g. 'total = {ast.unparse(calls[0])}'.",
                )
            if len(calls) > 1:
                self._fail(line, f"reductions cannot be nested ({ast.unparse(top)}).")
            least, most = REDUCTIONS[top.func.id]
            if not least <= len(top.args) <= most:
                self._fail(
                    line,
                    f"{top.func.id}() takes {least} to {most} arguments, got {len(top.args)}.",
                )
            args = [ast.unparse(a) for a in top.args]
            if top.func.id == "count":
                value, condition = "1", (args[0] if args else None)
            else:
                value, condition = args[0], (args[1] if len(args) > 1 else None)
            return Statement(line, var, "reduction", value, reduction=top.func.id, condition=condition)
        if _OPERATORS[op]:
            expr = f"{var} {_OPERATORS[op]} ({expr})"
        return Statement(line, var, None, expr)

    # Classification ------------------------------------------------------------

    def _role(self, name):
        """What a name stands for: 'parameter', 'local', 'index', 'sibling',
        'neuron' (of the shared neuron), 'other' (of the spiking synapse's other
        neuron), 'constant', 'synaptic' (of the spiking synapse) or
        'wrong_index' (the sibling index of the other side)."""
        if name in self.parameters:
            return "parameter"
        if name in self.locals:
            return "local"
        if name in INDICES:
            return "index"
        if name in SIBLING_INDICES:
            return "sibling" if name == self.side.sibling_index else "wrong_index"
        if name.endswith(SIBLING) and len(name) > len(SIBLING):
            return "sibling"
        if name.endswith(self.side.suffix) and len(name) > len(self.side.suffix):
            return "neuron"
        if name.endswith(self.side.other_suffix) and len(name) > len(self.side.other_suffix):
            return "other"
        if name in CONSTANTS:
            return "constant"
        return "synaptic"

    def _level(self, tree, line, reading=True):
        """'sibling' if the expression uses a sibling value, else 'scalar';
        records the variables it reads."""
        level = "scalar"
        for name in _names(tree):
            role = self._role(name)
            if role == "wrong_index":
                self._wrong_index(line, name)
            if role == "sibling":
                level = "sibling"
                if name == self.side.sibling_index:
                    self.uses.add(name)
                else:
                    self.synaptic.add(name[: -len(SIBLING)])
            elif role == "local" and self.locals[name] == "sibling":
                if name not in self._pass_locals:
                    self._fail(
                        line,
                        f"'{name}' is a sibling value of an earlier pass over the "
                        "siblings; compute it again in this one.",
                    )
                level = "sibling"
            elif role == "neuron":
                self.neuronal.add(name[: -len(self.side.suffix)])
            elif role == "other":
                self.other.add(name[: -len(self.side.other_suffix)])
            elif role == "index":
                self.uses.add(name)
            elif role == "synaptic":
                self._check_own_name(name, f"statement '{line}': the variable")
                self.synaptic.add(name)
                self.trigger.add(name)
        return level

    def _wrong_index(self, line, name):
        side = self.side
        self._fail(
            line,
            f"'{name}' is the same for every sibling of a rule over='{side.over}' (the "
            f"{side.synapses} one neuron); the other end of each sibling is "
            f"'{side.sibling_index}'.",
        )

    def _add(self, st):
        line = st.line
        reduced_here = self._current_pass_reductions()
        trees = [self._parse(st.expr, line)] + ([self._parse(st.condition, line)] if st.condition else [])
        used = set().union(*(_names(t) for t in trees))
        # a statement that reads a reduction of the current pass starts a new
        # pass, in which the sibling values of this one are gone
        self._pass_locals = set() if used & reduced_here else self._current_pass_locals()
        level = "scalar"
        for tree in trees:
            if self._level(tree, line) == "sibling":
                level = "sibling"
        role = self._role(st.name)
        if role == "wrong_index":
            self._wrong_index(line, st.name)
        if role == "other":
            side = self.side
            self._fail(
                line,
                f"'{st.name}' is a variable of the spiking synapse's "
                f"{'source' if side.over == 'post' else 'target'} neuron, which a rule "
                f"over='{side.over}' reads but cannot write (it acts on the {side.synapses} "
                f"one neuron and on that neuron's variables, '..{side.suffix}').",
            )
        if role in ("parameter", "index", "constant") or st.name == self.side.sibling_index:
            self._fail(line, f"'{st.name}' cannot be written: it is {'a parameter' if role == 'parameter' else 'an index' if role != 'constant' else 'a constant'} of the rule.")
        if st.kind == "reduction":
            if role != "synaptic" and not (role == "local" and self.locals[st.name] == "scalar"):
                self._fail(line, f"a reduction must be assigned to a value of its own, not to '{st.name}'.")
            if role == "synaptic" and st.name not in self.trigger:
                self._check_own_name(st.name, f"statement '{line}': the value")
                self.locals[st.name] = "scalar"
            elif role == "synaptic":
                self._fail(line, f"'{st.name}' is a variable of the spiking synapse; assign the reduction to a value of its own.")
            kind = "pass"
        elif role == "sibling":
            self.synaptic.add(st.name[: -len(SIBLING)])
            self.written.add(st.name[: -len(SIBLING)])
            st.kind, kind = "sibling", "pass"
        elif role == "neuron":
            if level == "sibling":
                self._fail(
                    line,
                    f"'{st.name}' is a value of the {self.side.neuron} and cannot take a "
                    "sibling value; reduce the siblings first, e.g. 'total = sum(...)'.",
                )
            self.neuronal.add(st.name[: -len(self.side.suffix)])
            self.written.add(st.name)
            st.kind, kind = "scalar", "scalar"
        elif role == "local":
            if self.locals[st.name] != level:
                self._fail(
                    line,
                    f"'{st.name}' was a {self.locals[st.name]} value and cannot take a "
                    f"{level} value; a sum over the siblings is written 'total = sum(...)'.",
                )
            st.kind = kind = "sibling" if level == "sibling" else "scalar"
            kind = "pass" if level == "sibling" else "scalar"
        else:  # a variable of the spiking synapse, or a new local value
            if st.name in self.trigger or st.name in self.synaptic:
                if level == "sibling":
                    self._fail(
                        line,
                        f"'{st.name}' is a variable of the spiking synapse and cannot take a "
                        f"sibling value; write '{st.name}{SIBLING} = ...' to change every "
                        "sibling, or reduce them first, e.g. 'total = sum(...)'.",
                    )
                self.synaptic.add(st.name)
                self.trigger.add(st.name)
                self.written.add(st.name)
                st.kind, kind = "scalar", "scalar"
            else:
                self._check_own_name(st.name, f"statement '{line}': the value")
                self.locals[st.name] = level
                st.kind = "sibling" if level == "sibling" else "scalar"
                kind = "pass" if level == "sibling" else "scalar"
        # A pass ends at a scalar statement, or where a statement needs a
        # reduction computed in it.
        current = self.blocks[-1] if self.blocks else None
        if current is None or current.kind != kind or (kind == "pass" and used & reduced_here):
            current = Block(kind)
            self.blocks.append(current)
        current.statements.append(st)

    def _current_pass(self):
        return self.blocks[-1] if self.blocks and self.blocks[-1].kind == "pass" else None

    def _current_pass_locals(self):
        current = self._current_pass()
        return {st.name for st in current.statements if st.kind == "sibling"} if current else set()

    def _current_pass_reductions(self):
        current = self._current_pass()
        return {st.name for st in current.statements if st.kind == "reduction"} if current else set()

    # Summaries -------------------------------------------------------------------

    def used(self):
        """Every name the statements and ``returns`` read or write."""
        found = set().union(*(block.names() for block in self.blocks))
        return found | _names(ast.parse(self.returns, mode="eval"))

    def passes(self):
        return [b for b in self.blocks if b.kind == "pass"]

    def sibling_reads(self, block):
        """The sibling variables a pass reads or writes (without the suffix)."""
        names = block.names()
        return sorted(n[: -len(SIBLING)] for n in names if n.endswith(SIBLING) and n not in SIBLING_INDICES)

    def sibling_writes(self, block):
        return sorted({st.name[: -len(SIBLING)] for st in block.statements if st.kind == "sibling" and st.name.endswith(SIBLING)})

    def is_sibling(self, name):
        """Whether ``name`` is a sibling value (``x_sib``, ``i_sib``/``j_sib`` or a local of a pass)."""
        role = self._role(name)
        return role == "sibling" or (role == "local" and self.locals[name] == "sibling")

    def is_scalar(self, name):
        """Whether ``name`` is one value per event, not a parameter or a constant."""
        role = self._role(name)
        return role in ("synaptic", "neuron", "other", "index") or (
            role == "local" and self.locals[name] == "scalar")

    def writes_neuron(self, x):
        """Whether the rule writes the shared neuron's variable ``x``."""
        return x + self.side.suffix in self.written
