"""Rules that cannot be compiled are refused when they are created, naming the statement."""

import pytest
from brian2 import NeuronGroup, SpikeGeneratorGroup, Synapses, mV, ms, prefs, run
from brian2.units.fundamentalunits import DimensionMismatchError

from brian2_hetero import HeteroRule, RuleSyntaxError
from brian2_hetero.language import RuleCode


@pytest.mark.parametrize(
    "code, text",
    [
        ("x = (w", "statement 'x = (w'"),
        ("x := 3", "statement 'x := 3': not a statement"),
        ("x = foo(w_sib)", "unknown function 'foo'"),
        ("x = sum(max(w_sib))", "reductions cannot be nested"),
        ("x = 1 + sum(w_sib)", "must be the whole right-hand side"),
        ("x = sum(w_sib, w_sib > 0, 1)", "sum() takes 1 to 2 arguments, got 3"),
        ("pool_post = w_sib", "'pool_post' is a value of the target neuron and cannot take a sibling value"),
        ("w = w_sib", "'w' is a variable of the spiking synapse and cannot take a sibling value"),
        ("alpha = 2", "'alpha' cannot be written: it is a parameter"),
        ("i = 2", "'i' cannot be written"),
        ("i_sib = 2", "'i_sib' cannot be written"),
        ("x = w % 2", "the operator in 'w % 2' is not supported"),
        ("x = w if w > 0 else 0", "is not an expression Brian can compile"),
        ("x = 0 < w < 1", "chained comparison"),
        ("d = w_sib\ns = sum(d)\ny = 2 * s\nz = d", "statement 'z = d': 'd' is a sibling value of an earlier pass"),
        ("x = 1\nx = w_sib", "statement 'x = w_sib': 'x' was a scalar value and cannot take a sibling value"),
        ("_x = w", "may not be called '_x'"),
        ("w_sib += 0.1 * mV", "the variable may not be called 'mV', the name of a unit"),
        ("w_sib += 1 / 0", "'1 / 0' divides by zero"),
        ("w_sib /= 2 - 2.0", "divides by zero"),
        ("\u00e4 = 2\nw_sib += \u00e4", "names and operators must be ASCII"),
        ("w_sib += alpha * (w - w_sib)\nw_sib += 0 * alpha_post", "the parameter 'alpha' has the name of a variable"),
        ("", "has no statements"),
    ],
)
def test_bad_rules_are_refused_when_created(code, text):
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule(code, parameters={"alpha": 0.5}, name="bad")
    assert text in str(info.value)


def test_returns_of_a_sibling_value_names_the_rule():
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule("w_sib *= 2", returns="w_sib", name="sibling_return")
    assert str(info.value).startswith("Rule 'sibling_return': returns = 'w_sib' uses a sibling value")


def test_a_parameter_named_like_a_variable_is_refused():
    # without the check, w would read the parameter, not the spiking synapse's w
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule("w_sib += alpha * (w - w_sib)", parameters={"alpha": 0.5, "w": 2.0}, name="hidden")
    assert "the parameter 'w' has the name of a variable the rule acts on ('w_sib')" in str(info.value)


@pytest.mark.parametrize(
    "kwds, error, text",
    [
        (dict(parameters={"alpha": 0.5, "beta": 1.0}), ValueError, "the parameter 'beta' is used neither"),
        (dict(parameters={"alpha": 0.5, "dt": 1.0}, code="w_sib *= alpha * dt"), ValueError, "may not be called 'dt'"),
        (dict(parameters={"alpha": 0.5, "when": 1.0}, code="w_sib *= alpha * when"), ValueError, "may not be called 'when'"),
        (dict(parameters={"mV": 0.5}, code="w_sib *= mV"), RuleSyntaxError, "may not be called 'mV'"),
        (dict(unit="mV"), TypeError, "unit must be a Brian unit (e.g. unit=mV), got unit = 'mV'"),
        (dict(unit=2 * mV), TypeError, "unit must be a Brian unit (e.g. unit=mV), got unit = 2. * mvolt"),
        (dict(parameters={"pool_post": 0.5}, code="w_sib *= pool_post"), RuleSyntaxError,
         "a parameter may not be called 'pool_post'"),
        (dict(nonnegative="w"), TypeError, "nonnegative must be a list of names"),
        (dict(nonnegative=["pool"]), ValueError, "nonnegative names 'pool', which its code does not use"),
        (dict(variables={"pool": "p"}), ValueError, "variables names 'pool', which its code does not use"),
    ],
)
def test_bad_arguments_are_refused_when_created(kwds, error, text):
    args = dict(code="w_sib *= alpha", parameters={"alpha": 0.5}, name="bad_args")
    args.update(kwds)
    with pytest.raises(error) as info:
        HeteroRule(**args)
    assert text in str(info.value)


def test_passes_are_split_where_a_reduction_is_needed():
    code = RuleCode("total = sum(w_sib)\nn = count()\nw_sib *= W / total\nm = max(w_sib)\nw += m", ["W"], "w", "r")
    assert [b.kind for b in code.blocks] == ["pass", "pass", "scalar"]
    assert [st.name for st in code.blocks[1].statements] == ["w_sib", "m"]


@pytest.fixture
def numpy_target():
    # these checks run in Python before code is generated, the same for every target
    prefs._backup()
    prefs.codegen.target = "numpy"
    yield
    prefs._restore()


def test_bad_units_name_the_statement_before_anything_runs(numpy_target):
    rule = HeteroRule("w_sib += alpha", parameters={"alpha": 0.5}, unit=mV, name="bad_units")
    G = NeuronGroup(1, "v : volt", name="units_g")
    P = SpikeGeneratorGroup(1, [0], [0] * ms, name="units_p")
    S = Synapses(P, G, "w : volt", on_pre="v_post += rule(i, j)", namespace={"rule": rule}, name="units_s")
    S.connect()
    S.w = 1 * mV
    with pytest.raises(Exception) as info:
        run(0.2 * ms)
    cause = info.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, DimensionMismatchError)
    assert "statement 'w_sib += alpha'" in str(cause)
    assert float(S.w[0] / mV) == 1.0


def test_a_local_value_that_shadows_a_variable_is_refused(numpy_target):
    rule = HeteroRule("u = 2 * w\nw_sib += 0 * u", name="shadow")
    G = NeuronGroup(1, "v : 1", name="shadow_g")
    P = SpikeGeneratorGroup(1, [0], [0] * ms, name="shadow_p")
    S = Synapses(P, G, "w : 1\nu : 1", on_pre="v_post += rule(i, j)", namespace={"rule": rule}, name="shadow_s")
    S.connect()
    with pytest.raises(Exception) as info:
        run(0.2 * ms)
    cause = info.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert "assigns 'u' before reading it" in str(cause)
