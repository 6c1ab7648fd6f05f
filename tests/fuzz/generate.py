"""
Random rules of the rule language, and the small networks they run in, for
the differential fuzzer (`run`).

`generate_case(seed, index)` draws one case from ``random.Random(f"{seed}:{index}")``
alone: a rule (its statements, parameters, ``returns``, trigger and
``nonnegative``) and its network (sizes, connectivity, initial values). The
same seed and index give the same case in every process, so that every target
runs the same rules and a finding can be drawn again. `generate_spikes` draws
the input spikes the rules of one batch share.

The statements follow the grammar of the language (README, "Notation"):
scalar statements (of the rule's own values, of the spiking synapse's ``w``
and ``c``, of the target's ``u_post``), sibling statements (``w_sib``,
``c_sib``, values of the rule's own per sibling), the reductions ``sum``,
``max``, ``min``, ``count`` and ``argmax`` (with and without a condition), and
passes: the generator keeps the state the language keeps (which reductions
the current pass computed, which sibling values it holds) so that a
statement that reads a reduction of the current pass starts a new pass and
reads no sibling value of the old one. A few rules (``cheat``) read sibling
values of earlier passes anyway, which the language must refuse.

Two choices keep the comparison meaningful:

- Values stay small (updates are scaled by small factors, ``sqrt`` and ``log``
  mostly see ``abs(...)``, divisions mostly have denominators away from 0),
  so that most rules end with finite values and a minority with NaN or inf
  (the ``nan`` rules use ``sqrt(-x - 1)``, ``inf - inf``, ...).
- ``exp``, ``log`` and ``**`` (but for exact powers of two) may differ by one
  ulp between numpy's SIMD loops and the C library, and a one-ulp difference
  fed into ``floor``, ``ceil``, ``int``, a comparison, a condition or
  ``argmax`` may change a result entirely, also in a later call through a
  stored value. So every rule has a ``style``: 'discrete' rules use those
  operations and no ``exp``, ``log`` or inexact ``**``; 'smooth' rules use
  ``exp``, ``log`` and ``**`` and none of them. Everything else (``+ - * /``,
  ``sqrt``, ``abs``, ``clip``, ``max``, ``min``, ``sum``) must agree bit for bit on
  every target.

A share of the rules (``over='pre'``) act on the synapses leaving a neuron:
such a rule is written as one over the target neuron and then mirrored
(`mirror`), which keeps it inside the grammar. A share of the rules called in
``on_pre`` read the other neuron of the spiking synapse (``u_pre`` over
'post', ``u_post`` once mirrored) where they would read a literal.

Run ``python -m tests.fuzz.generate --rules 1000 --seed 1`` (from the
repository's root) to print a few rules and the share the language refuses.
"""

import argparse
import ast
import random
import re

__all__ = ["N_INPUTS", "N_STEPS", "generate_case", "generate_spikes", "refusal", "acts_on", "mirror",
           "reads_other"]

#: Inputs shared by the rules of a batch (a rule's synapses come from up to 6 of them).
N_INPUTS = 8
#: Time steps a batch runs.
N_STEPS = 30

PARAMETERS = ("alpha", "beta", "eta", "rho", "kappa")
SCALAR_LOCALS = ("a", "b", "q", "h")
SIBLING_LOCALS = ("d", "f", "y")
REDUCED = ("total", "top", "low", "n", "best", "m2", "s2")
SMALL = ("0.5", "0.1", "0.05", "0.2", "0.01", "0.3", "0.25")
LITERALS = ("0.1", "0.2", "0.5", "2", "3", "1", "0.25", "1.5", "0.05", "4", "0.3", "1e-3",
            "2.5", ".5", "10", "0", "7", "0.75")
NONZERO = ("2", "3", "4", "0.5", "7", "1.5", "10", "0.25")
# index expressions: integer arithmetic that must come out as true division
INDEX_EXPRESSIONS = {
    # (needs the spiking synapse (i), needs a sibling (i_sib))
    "(i_sib + 1)/3": (False, True),
    "(i_sib - i)/4": (True, True),
    "i_sib/2": (False, True),
    "0.5 ** (i_sib + 1)": (False, True),
    "2 ** (-(i + 1))": (True, False),
    "2 ** (-j)": (False, False),
    "1/3": (False, False),
    "1/2": (False, False),
    "2/3 * 3": (False, False),
    "j/2": (False, False),
    "(j + 1)/3": (False, False),
    "i/3": (True, False),
    "(i - j)/2": (True, False),
    "2 ** 3": (False, False),
    "7/2": (False, False),
}


def _atom(text):
    """``text`` in parentheses unless it is a name, a number or a call."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return f"({text})"
    if isinstance(node, (ast.Name, ast.Constant, ast.Call)):
        return text
    return f"({text})"


def _names(text):
    """The names an expression reads (without the functions it calls)."""
    tree = ast.parse(text, mode="eval")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def _parts(line):
    """(assigned name, operator, right-hand side) of a statement."""
    target, op, rhs = line.partition("=")
    op = (target.rstrip()[-1] + "=") if target.rstrip()[-1:] in "+-*/" else "="
    return target.rstrip().rstrip("+-*/").strip(), op, rhs.strip()


def _is_sibling(name, sibling_locals):
    return name.endswith("_sib") or name in sibling_locals


class _RuleWriter:
    """Writes one rule statement by statement, keeping the language's state
    of passes (see the module's docstring)."""

    def __init__(self, rng, on_pre, other=None):
        self.rng = rng
        self.on_pre = on_pre  # may use i, w and c
        # ``other`` (a Random of its own, so that the rest of the rule is
        # drawn as without it): the share of literals that become ``u_pre``,
        # the other neuron of the spiking synapse (on_pre rules only)
        self.other_rng = other
        self.other_share = 0.0
        if on_pre and other is not None and other.random() < 0.6:
            self.other_share = other.choice((0.3, 0.5, 0.8))
        self.style = "discrete" if rng.random() < 0.7 else "smooth"
        self.nan = rng.random() < 0.15  # may use operations that give NaN
        self.cheat = rng.random() < 0.03  # reads sibling values of earlier passes
        self.lines = []
        self.parameters = {}
        self.scalars = []  # the rule's own scalar values and reductions, once assigned
        self.unbounded = set()  # reductions that may be +-inf (max/min with a condition)
        self.sibling_locals = {}  # name -> the pass that last assigned it
        self.pass_no = 0
        self.in_pass = False
        self.pass_reductions = set()
        self.writes = False
        # for one statement: what it may read
        self._scalars, self._locals = [], []

    @property
    def discrete(self):
        return self.style == "discrete"

    def pick(self, weighted):
        """One key of {key: weight} (weights 0 are left out)."""
        keys = [k for k, wt in weighted.items() if wt > 0]
        return self.rng.choices(keys, weights=[weighted[k] for k in keys])[0]

    # leaves --------------------------------------------------------------------

    def parameter(self):
        name = self.rng.choice(PARAMETERS)
        if name not in self.parameters:
            r = self.rng.random()
            if r < 0.5:
                value = float(self.rng.choice(SMALL))
            elif r < 0.8:
                value = self.rng.uniform(0, 1)
            elif r < 0.9:
                value = float(self.rng.choice(("1.0", "2.0", "3.0")))
            else:
                value = -self.rng.uniform(0, 1)
            self.parameters[name] = value
        return name

    def scalar_leaf(self):
        which = self.pick({
            "literal": 3, "parameter": 2, "w": 2 * self.on_pre, "c": self.on_pre,
            "u_post": 1, "local": 2.5 * bool(self._scalars), "i": 0.4 * self.on_pre,
            "j": 0.4, "constant": 0.2,
        })
        if which == "literal":
            literal = self.rng.choice(LITERALS)
            if self.other_share and self.other_rng.random() < self.other_share:
                return "u_pre"
            return literal
        if which == "parameter":
            return self.parameter()
        if which == "local":
            name = self.rng.choice(self._scalars)
            # a max or min over no sibling is -inf or inf: mostly bounded
            if name in self.unbounded and self.rng.random() < 0.85:
                return f"clip({name}, -10, 10)"
            return name
        if which == "constant":
            return self.rng.choice(("pi", "e"))
        return which

    def sibling_leaf(self):
        which = self.pick({"w_sib": 4, "c_sib": 2, "i_sib": 1, "local": 2.5 * bool(self._locals)})
        return self.rng.choice(self._locals) if which == "local" else which

    def leaf(self, sib):
        if sib and self.rng.random() < 0.6:
            return self.sibling_leaf()
        return self.scalar_leaf()

    # expressions -----------------------------------------------------------------

    def expr(self, depth, sib):
        """An expression; ``sib``: it may use sibling values."""
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf(sib)
        sub = lambda: self.expr(depth - 1, sib)  # noqa: E731
        index = [e for e, (needs_i, needs_sib) in INDEX_EXPRESSIONS.items()
                 if (self.on_pre or not needs_i) and (sib or not needs_sib)]
        which = self.pick({
            "add": 3, "sub": 2.5, "mul": 3, "div": 2, "neg": 0.7, "abs": 1, "sqrt": 1,
            "clip": 1, "index": 1, "floor": 1 * self.discrete, "int": 0.8 * self.discrete,
            "ceil": 0.6 * self.discrete, "cond": 1.5 * self.discrete, "exp": 1.5 * (not self.discrete),
            "log": 1.2 * (not self.discrete), "pow": 1.2 * (not self.discrete),
            "nan": 2.0 * self.nan, "big": 0.15 * self.discrete,
        })
        if which == "add":
            return f"{_atom(sub())} + {_atom(sub())}"
        if which == "sub":
            return f"{_atom(sub())} - {_atom(sub())}"
        if which == "mul":
            return f"{_atom(sub())} * {_atom(sub())}"
        if which == "div":
            return f"{_atom(sub())} / {self.denominator(depth - 1, sib)}"
        if which == "neg":
            return f"-{_atom(sub())}"
        if which == "abs":
            return f"abs({sub()})"
        if which == "sqrt":
            return self.rng.choice((f"sqrt(abs({sub()}))", f"sqrt(abs({sub()}) + 1)"))
        if which == "clip":
            return f"clip({sub()}, {self.bounds()})"
        if which == "index":
            return _atom(self.rng.choice(index))
        if which in ("floor", "ceil", "int"):
            return f"{which}({sub()})"
        if which == "big":  # int() of values beyond 32 bits
            return self.rng.choice((f"int({_atom(sub())} * 1e10) * 1e-10", f"int({_atom(sub())} * 2 ** 40)",
                                    f"floor({_atom(sub())} * 1e300) * 1e-300"))
        if which == "cond":
            c = self.condition(depth - 1, sib)
            return self.rng.choice((f"int({c})", f"({c}) * {_atom(sub())}"))
        if which == "exp":
            return self.rng.choice((f"exp(-abs({sub()}))", f"exp(clip({sub()}, -3, 3))",
                                    f"exp({_atom(self.leaf(sib))})"))
        if which == "log":
            return self.rng.choice((f"log(1 + abs({sub()}))", f"log(abs({sub()}) + 0.5)",
                                    f"log({sub()} ** 2 + 1)"))
        if which == "pow":
            return self.rng.choice((
                f"abs({sub()}) ** {self.rng.choice(('0.5', '1.5', '2', '3', '0.25'))}",
                f"{_atom(sub())} ** 2",
                f"(1 + abs({sub()})) ** clip({sub()}, -2, 2)",
                f"{_atom(self.parameter())} ** {_atom(self.leaf(sib))}",
            ))
        # nan: operations that give NaN (or inf) whatever their operands
        x = _atom(self.leaf(sib))
        return self.rng.choice((f"sqrt(-{x} * {x} - 1)", f"log({x} - {x} - 1)", "(inf - inf)",
                                "0 * inf", f"sqrt(-abs({x}) - 1)"))

    def denominator(self, depth, sib):
        r = self.rng.random()
        if r < 0.35:
            return self.rng.choice(NONZERO)
        if r < 0.85:
            return f"(1 + abs({self.expr(depth, sib)}))"
        if r < 0.93:
            return f"({_atom(self.expr(depth, sib))} ** 2 + 0.5)" if not self.discrete else \
                f"(2 + {_atom(self.leaf(sib))} * {_atom(self.leaf(sib))})"
        return _atom(self.expr(depth, sib))  # may be zero: inf or NaN

    def bounds(self):
        def bound():
            return self.rng.choice(("0", "1", "-1", "0.5", "2", "-0.5", "10")) \
                if self.rng.random() < 0.75 else self.parameter()
        r = self.rng.random()
        if r < 0.08:
            return f"-inf, {bound()}" if self.rng.random() < 0.5 else f"{bound()}, inf"
        low, high = bound(), bound()
        if self.rng.random() < 0.85:  # low > high now and then
            if _value(low, self.parameters) > _value(high, self.parameters):
                low, high = high, low
        return f"{low}, {high}"

    def condition(self, depth, sib):
        if depth > 0 and self.rng.random() < 0.25:
            which = self.pick({"and": 2, "or": 2, "not": 1})
            c1 = self.condition(depth - 1, sib)
            if which == "not":
                return f"not ({c1})"
            return f"({c1}) {which} ({self.condition(depth - 1, sib)})"
        op = self.rng.choice(("<", ">", "<=", ">=", "==", "!="))
        r = self.rng.random()
        if sib and r < 0.3:
            left, right = self.sibling_leaf(), self.scalar_leaf()
        elif sib and r < 0.4:
            left, right = "i_sib", self.rng.choice(("i", "1", "2")) if self.on_pre else "1"
        elif r < 0.45:
            left, right = self.leaf(sib), self.rng.choice(("inf", "-inf"))
        else:
            left, right = self.expr(min(depth, 1), sib), self.expr(min(depth, 1), sib)
        return f"{_atom(left)} {op} {_atom(right)}"

    # statements ------------------------------------------------------------------

    def statement(self):
        which = self.pick({
            "sibling": 4, "sibling_local": 2, "reduction": 3, "scalar_local": 1.5,
            "scalar": 2,
        })
        if which in ("sibling", "sibling_local", "reduction"):
            self.pass_statement(which)
        else:
            self.scalar_statement(which)

    def _readable(self, fresh):
        """What a statement of a pass may read: all scalars when it starts a
        new pass (and no sibling value of the old one), else the scalars but
        the current pass's reductions, and the pass's sibling values."""
        if fresh:
            self._scalars = list(self.scalars)
            self._locals = []
        else:
            self._scalars = [s for s in self.scalars if s not in self.pass_reductions]
            self._locals = [n for n, p in self.sibling_locals.items() if p == self.pass_no]
        if self.cheat:
            self._locals = list(self.sibling_locals)

    def _with_reduction(self, text):
        """``text`` combined with a reduction of the current pass (so that the
        statement starts a new pass)."""
        red = self.rng.choice(sorted(self.pass_reductions))
        if red in self.unbounded:
            red = f"clip({red}, -10, 10)"
        return self.rng.choice((f"{_atom(text)} - {red}", f"{_atom(text)} + {red}",
                                f"{_atom(text)} / (1 + abs({red}))", f"{red} - {_atom(text)}"))

    def update(self, target, sib):
        """The operator and right-hand side of a statement that changes ``target``."""
        e = self.expr(self.rng.randint(1, 3), sib)
        k = self.rng.choice(SMALL) if self.rng.random() < 0.7 else self.parameter()
        op = self.pick({"+=": 4, "-=": 2, "*=": 2, "/=": 1, "=": 3})
        if op in ("+=", "-="):
            rhs = self.rng.choice((f"{k} * {_atom(e)}", f"{k} * clip({e}, -1, 1)"))
        elif op == "*=":
            rhs = self.rng.choice((f"1 + {k} * clip({e}, -1, 1)", f"{self.rng.choice(('0.9', '1.1', '0.5'))}"))
        elif op == "/=":
            rhs = self.rng.choice((f"1 + abs({e})", "2", f"1 + {k}"))
        else:
            rhs = self.rng.choice((e, f"{target} + {k} * {_atom(e)}", f"clip({e}, -3, 3)"))
        return op, rhs

    def pass_statement(self, which):
        fresh = not self.in_pass
        by_reduction = bool(self.pass_reductions) and self.in_pass and self.rng.random() < 0.35
        self._readable(fresh or by_reduction)
        if which == "sibling":
            target = self.rng.choice(("w_sib", "w_sib", "c_sib"))
            op, rhs = self.update(target, True)
            if by_reduction:
                rhs = self._with_reduction(rhs)
                op = "+=" if op in ("*=", "/=") and self.rng.random() < 0.5 else op
            line, assigned, cond = f"{target} {op} {rhs}", None, None
            self.writes = True
        elif which == "sibling_local":
            free = [n for n in SIBLING_LOCALS if n not in self.scalars]
            name = self.rng.choice(free)
            rhs = self.expr(self.rng.randint(1, 3), True)
            if by_reduction:
                rhs = self._with_reduction(rhs)
            if not any(_is_sibling(n, self._locals) for n in _names(rhs)):
                leaf = self.sibling_leaf()
                rhs = self.rng.choice((f"{leaf} * {_atom(rhs)}", f"{_atom(rhs)} + {leaf}"))
            line, assigned, cond = f"{name} = {rhs}", ("sibling", name), None
        else:
            kinds = {"sum": 3, "max": 2, "min": 2, "count": 2, "argmax": 1 * self.discrete}
            kind = self.pick(kinds)
            fresh_names = [n for n in REDUCED if n not in self.scalars]
            name = self.rng.choice(fresh_names or [n for n in REDUCED])
            value = self.expr(self.rng.randint(0, 2), True)
            if by_reduction:
                value = self._with_reduction(value)
            cond = None
            if self.discrete and self.rng.random() < (0.6 if kind == "count" else 0.4):
                cond = self.condition(1, True)
            if kind == "count":
                line = f"{name} = count({cond or ''})"
                if by_reduction and cond is None:
                    # count() reads nothing: give it a condition that reads the reduction
                    line = f"{name} = count({value} > 0)" if self.discrete else f"{name} = count()"
            else:
                line = f"{name} = {kind}({value}{', ' + cond if cond else ''})"
            assigned = ("reduction", name)
            # a max or min over no sibling (all left out by the condition) is -inf or inf
            if kind in ("max", "min") and cond is not None:
                self.unbounded.add(name)
            else:
                self.unbounded.discard(name)
        self._after(line, "pass", assigned)

    def scalar_statement(self, which):
        self._readable(True)
        self._locals = []  # a scalar statement reads no sibling value
        if which == "scalar_local":
            name = self.rng.choice([n for n in SCALAR_LOCALS])
            if name in self.scalars and self.rng.random() < 0.5:
                op, rhs = self.update(name, False)
                op = "+=" if op == "=" else op
            else:
                op, rhs = "=", self.expr(self.rng.randint(1, 3), False)
            self.unbounded.discard(name)
            self._after(f"{name} {op} {rhs}", "scalar", ("scalar", name))
            return
        target = self.pick({"w": 2 * self.on_pre, "c": self.on_pre, "u_post": 1.5})
        op, rhs = self.update(target, False)
        if op == "=" and target in ("w", "c") and not self._mentioned(target) and self.rng.random() < 0.95:
            # a name assigned before it is read (and never used as x_sib) is a
            # value of the rule's own, which Synapses with a variable of that
            # name refuse: mostly read the variable first
            rhs = f"{target} + {rhs}" if self.rng.random() < 0.5 else f"{target} * {_atom(rhs)}"
        self.writes = True
        self._after(f"{target} {op} {rhs}", "scalar", None)

    def _mentioned(self, name):
        """Whether the statements so far read ``name`` or use ``name_sib``."""
        return any(name in _names(_parts(line)[2]) or name + "_sib" in line.replace(" ", "")
                   or (_parts(line)[0] == name + "_sib") for line in self.lines)

    def _after(self, line, kind, assigned):
        """Record the statement and the language's state after it."""
        read = _names(_parts(line)[2])
        if kind == "pass":
            if not self.in_pass or read & self.pass_reductions:
                self.pass_no += 1
                self.pass_reductions = set()
            self.in_pass = True
        else:
            self.in_pass = False
            self.pass_reductions = set()
        if assigned:
            what, name = assigned
            if what == "sibling":
                self.sibling_locals[name] = self.pass_no
            else:
                if name not in self.scalars:
                    self.scalars.append(name)
                if what == "reduction":
                    self.pass_reductions.add(name)
        self.lines.append(line)

    def rule(self):
        for _ in range(self.rng.randint(1, 6)):
            self.statement()
        if not self.writes:
            (self.pass_statement if self.rng.random() < 0.7 else self.scalar_statement)(
                "sibling" if self.rng.random() < 0.7 else "scalar")
            if not self.writes:
                self.pass_statement("sibling")
        used = set().union(*(_names(_parts(line)[2]) | {_parts(line)[0]} for line in self.lines))
        return "\n".join(self.lines), {k: v for k, v in self.parameters.items() if k in used}


def _value(text, parameters):
    return parameters[text] if text in parameters else float(text)


def _initial(rng, n, nonnegative=False):
    """n initial values in one of a few styles: ties, tenths, small integers, random."""
    style = rng.choice(("tenths", "integers", "uniform", "equal", "signed"))
    if style == "tenths":
        values = [round(0.1 * (k + 1), 1) for k in range(n)]
        if rng.random() < 0.5:
            rng.shuffle(values)
    elif style == "integers":
        values = [float(rng.randint(0, 3)) for _ in range(n)]
    elif style == "uniform":
        values = [rng.uniform(0, 1) for _ in range(n)]
    elif style == "equal":
        values = [rng.choice((0.5, 1.0, 0.0, 0.3))] * n
    else:
        values = [rng.uniform(-1, 1) for _ in range(n)]
        if nonnegative:
            values = [abs(v) for v in values]
    return values


_MIRRORED = {"i_sib": "j_sib", "i": "j", "j": "i", "u_post": "u_pre", "u_pre": "u_post"}


def mirror(text):
    """A rule's text over the target neuron as the same rule over the source
    neuron: ``i_sib``, ``i``, ``j``, ``u_post`` and ``u_pre`` become
    ``j_sib``, ``j``, ``i``, ``u_pre`` and ``u_post``."""
    return re.sub(r"\b(i_sib|i|j|u_post|u_pre)\b", lambda m: _MIRRORED[m.group(1)], text)


def reads_other(code, parameters=(), returns="w", over="post"):
    """The other neuron's variables a rule reads (``x_pre`` over 'post',
    ``x_post`` over 'pre'), as the language sees them; [] if it refuses the
    rule."""
    from brian2_hetero.language import RuleCode

    try:
        return sorted(RuleCode(code, list(parameters), returns, "fuzz", over).other)
    except Exception:  # noqa: BLE001 - refused: it will be refused when run too
        return []


def acts_on(code, parameters=(), returns="w", over="post"):
    """The variables a rule acts on, as the language sees them: (synaptic,
    neuronal), e.g. (['c', 'w'], ['u']); ([], []) if it refuses the rule. A
    name first assigned and never used as ``x_sib`` is a value of the rule's
    own, not a variable."""
    from brian2_hetero.language import RuleCode

    try:
        code = RuleCode(code, list(parameters), returns, "fuzz", over)
    except Exception:  # noqa: BLE001 - refused: it will be refused when run too
        return [], []
    return sorted(code.synaptic), sorted(code.neuronal)


def generate_case(seed, index, shared=1):
    """
    One random rule and its network.

    Parameters
    ----------
    seed : int or str
        The run's seed.
    index : int
        The rule's number in the run.
    shared : int, optional
        With ``shared > 1``, the rules ``index // shared`` alike share one
        network (sizes, offsets and synapses, drawn from
        ``random.Random(f"{seed}:net:{index // shared}")``; the initial values
        stay the rule's own), so that `run` can apply those of them applied
        in ``on_pre`` from one `Synapses`, which Cython compiles once.

    Returns
    -------
    case : dict
        ``code``, ``parameters`` (name -> float), ``returns``, ``trigger``
        ({'on': 'pre'}, {'on': 'post_spike', 'when': slot or None} or
        {'every': steps}), ``nonnegative``, ``style``, ``over`` ('post', or
        'pre': the rule and a 'pre_spike' trigger mirrored), ``u_pre`` (the
        initial ``u`` of each input, for a rule over 'pre' or one that reads
        ``u_pre``); the network:
        ``n_pre`` inputs from ``source_offset`` on, onto ``n_post`` neurons
        from ``target_offset`` on of a group of ``n_neurons``, ``connect``
        ('source_order': ``connect()``, 'target_order':
        ``connect(i='k for k in range(N_pre)')``, 'arrays': explicit ``i``,
        ``j``), the synapses' ``pre`` and ``post`` in the order Brian creates
        them, and the initial ``w``, ``c`` (per synapse), ``v``, ``u`` (per
        neuron of the group).
    """
    rng = random.Random(f"{seed}:{index}")
    r = rng.random()
    trigger = {"on": "pre"} if r < 0.76 else (
        {"on": "post_spike", "when": rng.choice((None, None, "end", "after_thresholds"))}
        if r < 0.88 else {"every": rng.choice((1, 2, 3, 5, 7))})
    writer = _RuleWriter(rng, on_pre=trigger.get("on") == "pre", other=random.Random(f"{seed}:other:{index}"))
    code, parameters = writer.rule()
    returns = "w"
    if writer.on_pre and rng.random() < 0.3:
        options = ["c", "w + c", "u_post", "2 * w - c"] + [
            f"clip({s}, -10, 10)" if s in writer.unbounded else s for s in writer.scalars]
        returns = rng.choice(options)
    net = rng if shared <= 1 else random.Random(f"{seed}:net:{index // shared}")
    n_pre, n_post = net.randint(2, 6), net.randint(1, 4)
    connect = net.choices(("source_order", "target_order", "arrays"), weights=(2, 2, 5))[0]
    if connect == "source_order":
        pairs = [(i, j) for i in range(n_pre) for j in range(n_post)]
    elif connect == "target_order":
        pairs = [(i, j) for j in range(n_post) for i in range(n_pre)]
    else:
        p = net.choice((0.4, 0.6, 0.9))
        empty = net.randrange(n_post) if n_post > 1 and net.random() < 0.4 else None
        pairs = [(i, j) for i in range(n_pre) for j in range(n_post) if j != empty and net.random() < p]
        if not pairs:
            pairs = [(net.randrange(n_pre), next(j for j in range(n_post) if j != empty))]
        if net.random() < 0.8:
            net.shuffle(pairs)  # scattered
        else:
            pairs.sort(key=lambda ij: (ij[1], ij[0]))  # target by target
    source_offset = net.randint(0, N_INPUTS - n_pre) if net.random() < 0.25 else 0
    target_offset, n_neurons = 0, n_post
    if net.random() < 0.2:
        target_offset = net.randint(0, 2)
        n_neurons = target_offset + n_post + net.randint(0, 2)
    # (drawn apart, so that the rules over='post' are those of earlier versions)
    side = random.Random(f"{seed}:over:{index}")
    over = "pre" if side.random() < 0.3 else "post"
    if over == "pre":
        code, returns = mirror(code), mirror(returns)
        if trigger.get("on") == "post_spike":
            trigger = dict(trigger, on="pre_spike")
    synaptic, neuronal = acts_on(code, parameters, returns, over)
    nonnegative = []
    if rng.random() < 0.1:
        nonnegative = [x for x in synaptic + neuronal if rng.random() < 0.7]
    n_syn = len(pairs)
    case = dict(
        seed=seed, index=index, code=code, parameters=parameters, returns=returns,
        trigger=trigger, nonnegative=nonnegative, style=writer.style, nan=writer.nan,
        cheat=writer.cheat, n_pre=n_pre, n_post=n_post, source_offset=source_offset,
        target_offset=target_offset, n_neurons=n_neurons, connect=connect,
        pre=[i for i, _ in pairs], post=[j for _, j in pairs],
        w=_initial(rng, n_syn, "w" in nonnegative), c=_initial(rng, n_syn, "c" in nonnegative),
        v=[0.0] * n_neurons, u=_initial(rng, n_neurons, "u" in nonnegative),
    )
    if trigger.get("on") not in ("post_spike", "pre_spike") and rng.random() < 0.5:
        case["v"] = _initial(rng, n_neurons)
    case["over"] = over
    if over == "pre" or "u_pre" in code or "u_pre" in returns:
        case["u_pre"] = _initial(side, N_INPUTS, "u" in nonnegative)
    return case


def generate_spikes(seed, n_inputs=N_INPUTS, n_steps=N_STEPS):
    """
    Input spikes for one batch: {time step: sorted list of inputs}, many of
    them coincident, none in the last two steps.
    """
    rng = random.Random(f"{seed}:spikes")
    spikes = {}
    for step in range(n_steps - 2):
        p = rng.choice((0.0, 0.15, 0.3, 0.6))
        fired = [k for k in range(n_inputs) if rng.random() < p]
        if fired:
            spikes[step] = fired
    return spikes


def refusal(case, name="fuzz_check"):
    """
    Why the language refuses the case's rule when it is created
    (``'RuleSyntaxError: ...'``), or None if it accepts it.
    """
    import gc

    from brian2.utils.logger import catch_logs

    from brian2_hetero import HeteroRule, RuleSyntaxError

    with catch_logs():
        try:
            rule = HeteroRule(case["code"], parameters=case["parameters"], returns=case["returns"],
                              nonnegative=case["nonnegative"], name=name, over=case.get("over", "post"))
        except (RuleSyntaxError, ValueError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        # (Brian warns about a deleted object that never ran: here, not later)
        del rule
        gc.collect()
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--show", type=int, default=5, help="rules to print")
    args = parser.parse_args(argv)
    refused, reasons, counts = 0, {}, {}
    for k in range(args.rules):
        case = generate_case(args.seed, k)
        why = refusal(case)
        for key in (case["style"], next(iter(case["trigger"])) + ":" + str(next(iter(case["trigger"].values()))),
                    case["connect"]):
            counts[key] = counts.get(key, 0) + 1
        if why:
            refused += 1
            short = why.split(":", 3)[-1].strip()[:70]
            reasons[short] = reasons.get(short, 0) + 1
        if k < args.show:
            print(f"--- rule {k} ({case['style']}, {case['trigger']}, {case['parameters']}, "
                  f"returns={case['returns']!r}){' refused: ' + why if why else ''}\n{case['code']}")
    print(f"{args.rules} rules, {refused} refused ({100 * refused / args.rules:.1f} %)")
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {n:5d}  {why}")
    print("  ", counts)


if __name__ == "__main__":
    main()
