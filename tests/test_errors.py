"""Bad input: a clear error before anything runs, and nothing modified."""

import numpy as np
import pytest
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    Synapses,
    device,
    mV,
    ms,
    nA,
    prefs,
)
from brian2.units.fundamentalunits import DimensionMismatchError

from brian2_hetero import HeteroRule, bugmann2012
from conftest import root_cause

NAN_VALUE = np.nan


def network(code="v_post += getw(i, j)", W0=1.0, eta=0.5, syn_model="w : 1",
            group_model="v : 1\npool : 1", connect=None, w=0.5, pool=1.0, threshold=None,
            **kwds):
    P = SpikeGeneratorGroup(3, [0, 1, 2], [1, 1, 2] * ms, name="inputs")
    G = NeuronGroup(2, group_model, threshold=threshold, name="targets")
    getw = bugmann2012(W0=W0, eta=eta, name="rule")
    S = Synapses(P, G, syn_model, on_pre=code, namespace={"getw": getw}, name="syn", **kwds)
    S.connect(**(connect or {}))
    if w is not None:
        S.w = w
    if pool is not None:
        G.pool = pool
    return Network(P, G, S), getw, S, G


def refused(target, net, S, G, error, text, capfd, checked_in_run=False):
    """
    Running must fail with ``error`` naming ``text``, having run nothing.
    ``checked_in_run``: a standalone project finds it when it starts, after
    the build, and exits before its network runs.
    """
    before = (np.asarray(S.w[:]).copy(), np.asarray(G.pool[:]).copy()) if not target.standalone else None
    with pytest.raises(Exception) as info:
        net.run(5 * ms)
    if target.standalone and checked_in_run:
        assert isinstance(info.value, RuntimeError)
        err = capfd.readouterr().err
        assert text in err, err
        assert "Nothing was run" in err
        return
    cause = root_cause(info.value)
    assert isinstance(cause, error), repr(cause)
    assert text in str(cause), str(cause)
    if not target.standalone:
        assert float(G.t / ms) == 0.0
        np.testing.assert_array_equal(S.w[:], before[0])
        np.testing.assert_array_equal(G.pool[:], before[1])


@pytest.mark.parametrize(
    "code, text",
    [
        ("v_post += getw(i + 1, j)", "calls getw(i + 1, j)"),
        ("v_post += getw(j, i)", "calls getw(j, i)"),
        ("v_post += getw(k, j)", "calls getw(k, j)"),
        ("v_post += getw(i, 0)", "calls getw(i, 0)"),
        ("v_post += getw(i, j) + getw(i, j)", "calls rules 2 times"),
        ("x = getw(i, j)\nv_post += x + getw(i, j)", "calls rules 2 times"),
        ("v_post += getw(i, j)\nw = clip(w, 0, 1)", "also uses 'w'"),
        ("v_post += w + getw(i, j)", "also uses 'w'"),
        ("v_post += getw(i, j)\npool_post = 0", "also uses 'pool_post'"),
        ("v_post += getw(i, j) + pool", "also uses 'pool'"),
    ],
)
def test_bad_calls(target, capfd, code, text):
    net, getw, S, G = network(code=code, syn_model="w : 1\nk : integer")
    refused(target, net, S, G, ValueError, text, capfd)


@pytest.mark.parametrize(
    "pools, code, text",
    [
        (("pool", "pool"), "v_post += getw(i, j)\nv2_post += getw2(i, j)",
         "calls rules 'rule' and 'rule2', which both act on 'pool'"),
        (("pool", "pool2"), "v_post += getw(i, j)\npool2_post = 1\nv2_post += getw2(i, j)",
         "calls rule 'rule2' and also uses 'pool2_post'"),
        (("pool", "pool2"), "v_post += getw(i, j) + getw2(i, j) + getw(i, j)", "calls rules 3 times"),
    ],
)
def test_bad_calls_of_two_rules(target, capfd, pools, code, text):
    net, getw, S, G = network(code=code, syn_model="w : 1\nw2 : 1",
                              group_model="v : 1\npool : 1\nv2 : 1\npool2 : 1")
    getw2 = bugmann2012(W0=1, eta=0.5, w="w2", pool=pools[1], name="rule2")
    S.namespace["getw2"] = getw2
    refused(target, net, S, G, ValueError, text, capfd)


@pytest.mark.parametrize("code", ["v_post += reader(i, j)", "x = reader(i, j)\nv_post = x"])
def test_a_block_writing_what_its_rule_reads(target, capfd, code):
    """C would apply the rule to a spike after the block's write for the spike
    before it, numpy to every spike before the writes."""
    net, getw, S, G = network(code=code)
    S.namespace["reader"] = HeteroRule("w_sib += 0.1 * v_post", name="reader")
    refused(target, net, S, G, ValueError,
            "calls rule 'reader' and also writes 'v', which the rule reads", capfd)


@pytest.mark.parametrize(
    "kwds, text",
    [
        (dict(on_post="v_post += getw(i, j)", threshold="False"), "not in the on_post code of 'syn'"),
        (dict(code="v_post += 1", syn_model="w : 1\nu = getw(i, j) : 1 (constant over dt)"),
         "not in the equations or run_regularly code of 'syn'"),
        (dict(code="v_post += 1", syn_model="w : 1\ny_post = getw(i, j) : 1 (summed)",
              group_model="v : 1\npool : 1\ny : 1"), "not in a summed variable of 'syn'"),
    ],
)
def test_calls_outside_on_pre(target, capfd, kwds, text):
    net, getw, S, G = network(**kwds)
    refused(target, net, S, G, TypeError, text, capfd)


def test_call_in_run_regularly(target, capfd):
    net, getw, S, G = network()
    S.run_regularly("w = getw(i, j) * 0", dt=1 * ms, name="regularly")
    refused(target, net, S, G, TypeError, "not in the equations or run_regularly code of 'syn'", capfd)


def test_call_in_reset(target, capfd):
    net, getw, S, G = network()
    H = NeuronGroup(1, "u : 1", threshold="True", reset="u += getw(0, 0)",
                    namespace={"getw": getw}, name="elsewhere")
    net.add(H)
    refused(target, net, S, G, TypeError, "not in the reset code of 'elsewhere'", capfd)


def test_call_in_string_assignment(target):
    net, getw, S, G = network()
    with pytest.raises(Exception) as info:
        S.w = "getw(i, j)"
    assert "not in a string assigned to a variable of 'syn'" in str(root_cause(info.value))


def test_call_from_python():
    getw = bugmann2012(W0=1, eta=0.5)
    with pytest.raises(NotImplementedError, match="only be called in the on_pre code"):
        getw(0, 0)


@pytest.mark.parametrize(
    "kwds, error, text",
    [
        (dict(syn_model="u : 1", w=None), KeyError,
         "has no variable 'w'. Add it to its equations (e.g. 'w : 1') or name another one with "
         "bugmann2012(..., w='...')"),
        (dict(group_model="v : 1", pool=None), KeyError,
         "or name another one with bugmann2012(..., pool='...')"),
        (dict(syn_model="w : 1 (shared)"), TypeError, "'w' is not a per-synapse variable"),
        (dict(group_model="v : 1\npool : 1 (shared)"), TypeError, "'pool' is not a per-neuron variable"),
        (dict(syn_model="w : 1 (constant)"), TypeError, "'w' is constant"),
        (dict(syn_model="w : integer", w=1), TypeError, "of type int32"),
        (dict(syn_model="w : volt", w=0.5 * mV), DimensionMismatchError, "'w_sib' has unit V"),
        (dict(group_model="v : 1\npool : amp", pool=1 * nA), DimensionMismatchError, "'from_pool' has unit A"),
    ],
)
def test_bad_variables(target, capfd, kwds, error, text):
    net, getw, S, G = network(**kwds)
    with pytest.raises(Exception) as info:
        net.run(5 * ms)
    cause = root_cause(info.value)
    assert isinstance(cause, error), repr(cause)
    assert text in str(cause), str(cause)


def test_missing_variable_of_a_rule_says_how_to_rename_it(target):
    rule = HeteroRule("total = sum(w_sib)\nw_sib *= scale_post / total", name="scaled")
    net, getw, S, G = network(code="v_post += scaled(i, j)")
    S.namespace["scaled"] = rule
    with pytest.raises(Exception) as info:
        net.run(5 * ms)
    cause = root_cause(info.value)
    assert isinstance(cause, KeyError), repr(cause)
    assert ("has no variable 'scale'. Add it to its equations (e.g. 'scale : 1') or name another "
            "one with variables={'scale': '...'}") in str(cause), str(cause)


@pytest.mark.parametrize(
    "w, pool, text",
    [
        (-0.25, 1.0, "has w = -0.25 at synapse 0 (i = 0, j = 0)"),
        ("0.5 - int(i == 2 and j == 1)", 1.0, "has w = -0.5 at synapse 5 (i = 2, j = 1)"),
        (np.array([0, 1, 2, 3, np.nan, 5.0]), 1.0, "at synapse 4 (i = 2, j = 0)"),
        (np.array([0, 1, 2, 3, np.inf, 5.0]), 1.0, "w = inf at synapse 4"),
        (0.5, np.array([1.0, -2.0]), "has pool = -2"),
        (0.5, "1.0 / i", "has pool = inf at neuron 0"),
    ],
)
def test_bad_values(target, capfd, w, pool, text):
    net, getw, S, G = network(w=w, pool=pool)
    refused(target, net, S, G, ValueError, text, capfd, checked_in_run=True)


def test_more_than_one_synapse_per_pair(target, capfd):
    net, getw, S, G = network(connect=dict(n=2))
    refused(target, net, S, G, ValueError, "more than one from i = 0 to j = 0", capfd, checked_in_run=True)


@pytest.mark.parametrize(
    "kwds, error, text",
    [
        (dict(W0=0.0), ValueError, "W0 must be positive, got W0 = 0.0"),
        (dict(W0=-1 * mV), ValueError, "W0 must be positive"),
        (dict(W0=np.nan), ValueError, "W0 must be positive"),
        (dict(eta=1.5), ValueError, "eta must be in [0, 1], got eta = 1.5"),
        (dict(eta=-0.1), ValueError, "eta must be in [0, 1]"),
        (dict(eta=0.8 * mV), DimensionMismatchError, "eta must be dimensionless"),
        (dict(W0="1"), TypeError, "W0 must be a real scalar number"),
        (dict(W0=[1.0, 2.0]), TypeError, "W0 must be a real scalar number"),
        (dict(W0=3 + 0j), TypeError, "W0 must be a real scalar number"),
        (dict(W0=10**400), ValueError, "W0 is too large for a float64"),
        (dict(name=None), TypeError, "name must be a string"),
        (dict(w=3), TypeError, "must map names to the names of variables, got 'w': 3"),
        (dict(pool="no pool"), TypeError, "must map names to the names of variables, got 'pool': 'no pool'"),
    ],
)
def test_bad_construction(kwds, error, text):
    with pytest.raises(error) as info:
        bugmann2012(**{"W0": 1.0, "eta": 0.5, **kwds})
    assert text in str(info.value)


@pytest.mark.parametrize(
    "name, value, error, text",
    [
        ("W0", -1.0, ValueError, "W0 must be positive"),
        ("eta", 2, ValueError, "eta must be in [0, 1]"),
        ("W0", 1 * mV, DimensionMismatchError, "W0 must be dimensionless, got W0 = 1. * mvolt"),
    ],
)
def test_bad_parameter_assignment_changes_nothing(name, value, error, text):
    getw = bugmann2012(W0=1.0, eta=0.5)
    with pytest.raises(error, match=None) as info:
        setattr(getw, name, value)
    assert text in str(info.value)
    assert getw.W0[:] == 1.0 and getw.eta[:] == 0.5


@pytest.mark.parametrize("name, value, text", [("W0", "-1", "W0 must be positive, got W0 = -1"),
                                                ("eta", "1 + 0.5", "eta must be in [0, 1], got eta = 1.5")])
def test_bad_parameter_strings_are_refused_at_run(target, capfd, name, value, text):
    net, getw, S, G = network()
    if target.standalone:
        # Brian computes no scalar variable from a string in standalone mode
        with pytest.raises(TypeError) as info:
            setattr(getw, name, value)
        assert f"{name} cannot be set from a string in standalone mode" in str(info.value)
        assert getw.W0[:] == 1.0 and getw.eta[:] == 0.5
        return
    setattr(getw, name, value)
    refused(target, net, S, G, ValueError, text, capfd, checked_in_run=True)


@pytest.mark.parametrize(
    "on_post, text",
    [("w = w * 1e200", "has w = "), ("w = w - 5", "has w = -")],
)
def test_bad_values_reached_during_run_are_reported(target, capfd, on_post, text):
    # every step, each target neuron spikes and on_post changes its synapses'
    # weights, until they overflow or turn negative
    P = SpikeGeneratorGroup(2, [0, 1], [0.1, 0.2] * ms, name="inputs")
    G = NeuronGroup(2, "v : 1\npool : 1", threshold="True", name="targets")
    G.pool = 1.0
    getw = bugmann2012(W0=1.0, eta=0.5, name="rule")
    S = Synapses(P, G, "w : 1", on_pre="v_post += getw(i, j)", on_post=on_post,
                 namespace={"getw": getw}, name="changed")
    S.connect()
    S.w = 1.0
    with pytest.raises(Exception) as info:
        Network(P, G, S).run(1 * ms)
    expected = f"After the run, Synapses 'changed' {text}"
    cause = root_cause(info.value)
    assert isinstance(cause, FloatingPointError), repr(cause)
    assert expected in str(cause) and "must stay finite and non-negative" in str(cause)
    # the run's results are kept, on every target
    bad = np.asarray(S.w[:])
    assert not np.all(np.isfinite(bad) & (bad >= 0))


def test_rule_parameters_cannot_change_during_a_run():
    getw = bugmann2012(W0=1.0, eta=0.5)
    with pytest.raises(NotImplementedError, match="can only change between runs"):
        getw.run_regularly("eta = 5", dt=1 * ms)


def test_synapses_as_target_is_refused(target):
    P = SpikeGeneratorGroup(2, [0, 1], [1, 1] * ms, name="inputs")
    H = NeuronGroup(2, "u : 1", name="hidden")
    T = Synapses(H, H, "pool : 1\nv : 1", name="inner")
    T.connect(j="i")
    getw = bugmann2012(W0=1.0, eta=0.5, name="rule")
    S = Synapses(P, T, "w : 1", on_pre="v_post += getw(i, j)", namespace={"getw": getw}, name="syn")
    S.connect()
    with pytest.raises(Exception) as info:
        Network(P, H, T, S).run(2 * ms)
    cause = root_cause(info.value)
    assert isinstance(cause, TypeError) and "its target 'inner' is a Synapses object" in str(cause)


def test_subexpression_of_w_in_the_calling_block_is_named(target, capfd):
    net, getw, S, G = network(syn_model="w : 1\nwe = 2 * w : 1", code="v_post += getw(i, j) + we")
    refused(target, net, S, G, ValueError, "also uses 'we'", capfd)


def test_dimensionless_rule_names_units_in_words(target):
    net, getw, S, G = network(syn_model="w : volt", w=0.5 * mV)
    with pytest.raises(Exception) as info:
        net.run(1 * ms)
    message = str(root_cause(info.value))
    assert "statement 'd = int(w_sib > w)" in message and "'W0' has unit 1; 'w_sib' has unit V" in message


def test_openmp_switched_on_after_run_is_refused_at_build(tmp_path, capfd):
    # Brian writes its OpenMP code when run() generates the code objects,
    # and compiles with the preference's value at build time.
    from brian2 import set_device
    from brian2.devices import reinit_devices

    prefs._backup()
    try:
        set_device("cpp_standalone", directory=str(tmp_path), build_on_run=False)
        net, getw, S, G = network()
        net.run(5 * ms)
        prefs.devices.cpp_standalone.openmp_threads = 2
        with pytest.raises(RuntimeError):
            device.build(directory=str(tmp_path))
        out = capfd.readouterr()
        assert ("rule 'rule': prefs.devices.cpp_standalone.openmp_threads changed between the first run() "
                "and device.build(); Brian generated the code for openmp_threads = 0") in out.out + out.err
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


@pytest.mark.parametrize("size", [5, 7])
def test_an_array_of_the_wrong_length_for_all_synapses_is_named(target, capfd, size):
    net, getw, S, G = network(w=None)  # six synapses
    if not target.standalone:
        with pytest.raises(ValueError):  # Brian's own refusal
            S.w[:] = np.ones(size)
        print(f"{target.name}: Brian refuses the array when it is assigned")
        return
    # Brian would copy one value per synapse, read past 5 values, ignore a 7th
    S.w[:] = np.ones(size)
    with pytest.raises(RuntimeError):
        net.run(1 * ms)
    err = capfd.readouterr().err
    assert f"syn.w was given {size} values, but Synapses 'syn' has 6 synapses" in err and "Nothing was run" in err


@pytest.mark.parametrize(
    "assign, text",
    [
        # one element (as G.pool[1] = nan), all synapses, all neurons: the
        # three ways Brian writes a single value into a standalone program
        (lambda S, G: S.w.__setitem__(3, np.nan), "w = nan at synapse 3 (i = 1, j = 1)"),
        (lambda S, G: setattr(S, "w", np.nan), "w = nan at synapse 0 (i = 0, j = 0)"),
        (lambda S, G: setattr(G, "pool", np.nan), "has pool = nan at neuron 0"),
        # a NaN of the namespace in a string expression (Brian: 'const double x = nan;', zero)
        (lambda S, G: S.w.__setitem__("i == 1", "NAN_VALUE"), "w = nan at synapse 2 (i = 1, j = 0)"),
    ],
)
def test_a_nan_assigned_is_named(target, capfd, assign, text):
    # (Brian alone writes it into a standalone program as code that does not compile)
    net, getw, S, G = network()
    assign(S, G)
    refused(target, net, S, G, ValueError, text, capfd, checked_in_run=True)
