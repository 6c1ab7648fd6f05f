"""
One meaning on every target: small rules whose arithmetic, passes and
special values once gave different numbers on numpy, Cython and
cpp_standalone, each against a plain-Python statement of the semantics the
user guide gives (docs/guide/semantics.md).
"""

import copy
import math
import pickle

import numpy as np
import pytest
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    collect,
    defaultclock,
    ms,
    nS,
    network_operation,
    prefs,
    run,
)

from brian2_hetero import HeteroRule, RuleSyntaxError, normalise_multiplicative, normalise_subtractive
from conftest import TARGETS, refusal, target_scope

W3 = [0.1, 0.2, 0.3]


def _third(i_sib):
    return (i_sib + 1) / 3


# name -> (statements, number of inputs, the spiking input, initial
# weights, the final weights in plain Python)
CASES = {
    # true division of whole numbers (Cython divided integers)
    "halves": ("w_sib *= 1/2\nw_sib += (i_sib - i)/4", 3, 0, [1.0, 1.0, 1.0],
               [0.5 + (k - 0) / 4 for k in range(3)]),
    # float64 constants (C++ computed 1/3 in single precision)
    "thirds": ("w_sib = (i_sib + 1)/3", 3, 1, [1.0, 1.0, 1.0], [_third(k) for k in range(3)]),
    # a name given a reduction reads its old value during the pass
    "reassigned": ("s = 2 + 0*w\ns = sum(w_sib * s)\nw_sib += s", 3, 0, W3,
                   [x + sum(2 * y for y in W3) for x in W3]),
    # no fused multiply-add: w*w - w*w is exactly 0 for the spiking synapse
    "fused": ("w_sib += sqrt(abs(w_sib*w_sib - w*w))", 3, 0, W3,
              [x + math.sqrt(abs(x * x - 0.1 * 0.1)) for x in W3]),
    # 5 * 0.1 - 0.5 is 0 when rounded after the product, 2.8e-17 when fused
    "ceil": ("w_sib += ceil(i*0.1 - 0.5)", 6, 5, [1.0] * 6,
             [1.0 + math.ceil(5 * 0.1 - 0.5)] * 6),
    # a negative power of a whole number (numpy raised, Cython gave 0)
    "power": ("w_sib = 2 ** (-(i_sib + 1))", 3, 0, [1.0, 1.0, 1.0], [2.0 ** -(k + 1) for k in range(3)]),
    # x ** 2 is the C library's pow on every target, not x * x
    "square": ("w_sib = (w_sib * 7.3) ** 2", 3, 0, W3, [math.pow(x * 7.3, 2.0) for x in W3]),
    # int() truncates to a float: no 32-bit overflow
    "int": ("w_sib = int(w * 1e10) / 3", 3, 2, W3, [math.trunc(0.3 * 1e10) / 3] * 3),
    # clip with low above high is min(max(x, low), high)
    "clip": ("w_sib = clip(w_sib, 1, 0)", 3, 0, W3, [0.0, 0.0, 0.0]),
    # names of C, C++ and numpy are a rule's own names like any other
    "names": ("range = 2\nNAN = 3\nsize_t = 4\nint32_t = 5\nerrno = 6\nM_PI = 7\nnp = 8\n"
              "w_sib += range + NAN + size_t + int32_t + errno + M_PI + np", 3, 0, W3,
              [x + 35 for x in W3]),
    # a sum of many values adds in eight running sums, combined pairwise
    "lanes": ("tot = sum(w_sib * 1e16 - w_sib)\nw_sib = tot", 11, 3, [0.1 * k + 0.05 for k in range(11)], None),
    # a zero from max, min or clip is +0.0 (C kept the first of 0.0 and
    # -0.0, numpy the last): 1 / zero is +inf
    # -0.0 first (z) and last (y)
    "signed_zeros": ("z = w_sib * (i_sib - 1) * 0\ny = w_sib * (1 - i_sib) * 0\n"
                     "a = min(z)\nb = max(z)\nc = min(y)\nd = max(y)\n"
                     "w_sib += (1/a > 0) + (1/b > 0) + (1/c > 0) + (1/d > 0)"
                     " + (1/clip(-0.0 * w, 0, 1) > 0) + (1/clip(0 * w, -0.0, 1) > 0)", 3, 0, W3,
                     [x + 6 for x in W3]),
    # NaN excluded by a reduction's condition takes no part
    "nan_excluded": ("d = w_sib + sqrt(i_sib - 1.5)\nm = max(d, i_sib > 1.5)\nw = m", 3, 0, W3,
                     [0.3 + math.sqrt(0.5), 0.2, 0.3]),
}


def _lanes(values):
    sums = [0.0] * 8
    for k, v in enumerate(values):
        sums[k % 8] += v
    return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))


_LANES_W = CASES["lanes"][3]
_LANES_T = _lanes([x * 1e16 - x for x in _LANES_W])
CASES["lanes"] = CASES["lanes"][:4] + ([_LANES_T] * 11,)

# NaN in a reduction gives NaN: then the check after the run reports it,
# on every target, and every result of the run is kept.
NAN_CASES = {
    "nan_max": "d = w_sib + sqrt(i_sib - 1.5)\nm = max(d)\nw = m",
    "nan_min": "d = w_sib + sqrt(i_sib - 1.5)\nm = min(d)\nw = m",
    "nan_argmax": "d = w_sib + sqrt(i_sib - 1.5)\nk = argmax(d)\nw = k",
}

_results = {}


def _one_neuron(suffix, code, n, spiking, weights):
    P = SpikeGeneratorGroup(n, [spiking], [0] * ms, name=f"sem_in{suffix}")
    G = NeuronGroup(1, "v : 1", name=f"sem_g{suffix}")
    rule = HeteroRule(code, name=f"sem{suffix}")
    S = Synapses(P, G, "w : 1", on_pre="v_post += rule(i, j)", namespace={"rule": rule},
                 name=f"sem_s{suffix}")
    S.connect(i=np.arange(n), j=0)
    S.w = weights
    return P, G, S


def _run(objects, monitor):
    try:
        Network(*objects, monitor).run(0.3 * ms)
    except FloatingPointError as exc:
        return str(exc)
    return None


def simulate(target_name):
    """Every case's final weights, the error its run raised and the spikes
    its run saw. Standalone builds every case into one project; the runtime
    targets run one network per case with the same object names, so that
    Cython compiles only the code that holds the rule for each case."""
    if target_name in _results:
        return _results[target_name]
    t = target_scope(target_name)
    t.activate()
    cases = {name: (code, n, spiking, weights) for name, (code, n, spiking, weights, _) in CASES.items()}
    cases.update({name: (code, 3, 0, W3) for name, code in NAN_CASES.items()})
    try:
        defaultclock.dt = 0.1 * ms
        raised, weights, spikes = {}, {}, {}
        if t.standalone:
            objects, synapses = [], {}
            for name, case in cases.items():
                objects += _one_neuron(f"_{name}", *case)
                synapses[name] = objects[-1]
            monitor = SpikeMonitor(objects[0], name="sem_spikes")
            error = _run(objects, monitor)
            for name, S in synapses.items():
                raised[name], weights[name], spikes[name] = error, np.array(S.w[:]), monitor.num_spikes
        else:
            for name, case in cases.items():
                objects = _one_neuron("", *case)
                monitor = SpikeMonitor(objects[0], name="sem_spikes")
                raised[name] = _run(objects, monitor)
                weights[name], spikes[name] = np.array(objects[-1].w[:]), monitor.num_spikes
        _results[target_name] = raised, weights, spikes
    finally:
        t.reset()
    return _results[target_name]


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("target_name", TARGETS)
def test_one_meaning(target_name, name):
    _, weights, _ = simulate(target_name)
    expected = CASES[name][4]
    np.testing.assert_allclose(weights[name], expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("target_name", TARGETS)
def test_the_same_bits_on_every_target(target_name):
    """Not only close: every case gives numpy's bits on every target."""
    _, weights, _ = simulate(target_name)
    _, numpy_weights, _ = simulate("numpy")
    for name in CASES:
        assert weights[name].tobytes() == numpy_weights[name].tobytes(), name


@pytest.mark.parametrize("name", list(NAN_CASES))
@pytest.mark.parametrize("target_name", TARGETS)
def test_nan_in_a_reduction_gives_nan_and_is_reported(target_name, name):
    raised, weights, spikes = simulate(target_name)
    # the spiking synapse got NaN; the others kept their weights
    assert np.isnan(weights[name][0]) and list(weights[name][1:]) == W3[1:]
    assert raised[name] is not None and raised[name].startswith("After the run, Synapses 'sem_s")
    assert "must stay finite during a run" in raised[name]
    # every other result of the run is kept, on cpp_standalone too
    assert spikes[name] == 1


def test_a_sibling_value_of_an_earlier_pass_is_refused():
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule("d = w_sib * 2\ns = sum(d)\nw_sib = d + s", name="earlier_pass")
    assert "statement 'w_sib = d + s': 'd' is a sibling value of an earlier pass" in str(info.value)


@pytest.mark.parametrize("code", [
    "w_sib += " + " + ".join(["w"] * 300),
    "w_sib += " + "(" * 200 + "w" + ")" * 200,
    "w_sib += " + "-" * 300 + "w",
])
def test_too_deep_rules_are_refused_with_a_message(code):
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule(code, name="deep")
    assert "Rule 'deep', statement 'w_sib += " in str(info.value)


@pytest.mark.parametrize("variables", [{"w": "g", "u": "g"}, {"w": "u"}])
def test_two_names_for_one_variable_are_refused(variables):
    with pytest.raises(ValueError) as info:
        HeteroRule("w_sib += u_sib\nu_sib *= 2", variables=variables, name="two_names")
    assert "would both be the variable" in str(info.value)


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy, pickle.dumps])
def test_copying_a_rule_says_why_it_cannot(copier):
    rule = normalise_multiplicative(W_total=1.0, name="not_copied")
    with pytest.raises(TypeError) as info:
        copier(rule)
    assert "Rule 'not_copied' cannot be copied or pickled" in str(info.value)


def test_subtractive_normalisation_with_units(target):
    """clip(..., 0, inf) of the built-in rule: 0 and inf take the weights' units."""
    rule = normalise_subtractive(W_total=1 * nS, name="sub_ns")
    P = SpikeGeneratorGroup(3, [1], [0] * ms, name="sem_in")
    G = NeuronGroup(1, "v : 1", name="sem_g")
    S = Synapses(P, G, "w : siemens", on_pre="v_post += rule(i, j) / nS", namespace={"rule": rule},
                 name="sem_s")
    S.connect(i=[0, 1, 2], j=0)
    S.w = [0.2, 0.9, 1.0] * nS
    run(0.2 * ms)
    total, n = 2.1, 3
    expected = [max(0.0, x - (total - 1.0) / n) for x in (0.2, 0.9, 1.0)]
    np.testing.assert_allclose(np.asarray(S.w[:] / nS), expected, rtol=1e-15, atol=1e-15)


@pytest.fixture(params=["numpy", "cython"])
def runtime_target(request):
    prefs._backup()
    prefs.codegen.target = request.param
    yield request.param
    prefs._restore()


def test_synapses_added_during_a_run_are_refused(runtime_target):
    """(cpp_standalone has no network_operation in which to add them.)"""
    P = SpikeGeneratorGroup(3, [0, 1], [0, 1] * ms, name="sem_in")
    G = NeuronGroup(2, "v : 1", name="sem_g")
    rule = normalise_multiplicative(W_total=1.0, name="grow_rule")
    S = Synapses(P, G, "w : 1", on_pre="v_post += rule(i, j)", namespace={"rule": rule}, name="sem_s")
    S.connect(i=[0, 1, 2], j=0)
    S.w = 1

    @network_operation(dt=0.5 * ms)
    def grow(t):
        if t > 0.4 * ms and len(S) == 3:
            S.connect(i=0, j=1)

    cause = refusal(lambda: Network(P, G, S, grow).run(2 * ms))
    assert isinstance(cause, RuntimeError)
    assert "Synapses 'sem_s' cannot get new synapses during a run" in str(cause)
    assert len(S) == 3
    np.testing.assert_allclose(np.asarray(S.w[:]), [1 / 3] * 3, rtol=1e-15)


def test_an_event_driven_weight_is_named(runtime_target):
    rule = normalise_multiplicative(W_total=1.0, name="ed_rule")
    P = SpikeGeneratorGroup(2, [0], [0] * ms, name="sem_in")
    G = NeuronGroup(1, "v : 1", name="sem_g")
    S = Synapses(P, G, "dw/dt = -w / (10*ms) : 1 (event-driven)", on_pre="v_post += rule(i, j)",
                 namespace={"rule": rule}, name="sem_s")
    S.connect()
    S.w = 1
    net = Network(collect())
    cause = refusal(lambda: net.run(0.2 * ms))
    assert "acts on 'w' of Synapses 'sem_s', which is (event-driven)" in str(cause)
    assert list(S.w[:]) == [1.0, 1.0]


def test_event_driven_traces_beside_the_weight_are_accepted():
    # STDP's traces are event-driven; the weight the rule acts on is not (a
    # check of the model, before any code is generated: numpy suffices)
    rule = normalise_multiplicative(W_total=1.0, name="ed_rule")
    P = SpikeGeneratorGroup(2, [0], [0] * ms, name="sem_in")
    G = NeuronGroup(1, "v : 1", name="sem_g")
    S = Synapses(P, G, "w : 1\ndapre/dt = -apre / (10*ms) : 1 (event-driven)",
                 on_pre={"pre": "apre += 1", "rule": "v_post += rule(i, j)"},
                 namespace={"rule": rule}, name="sem_s")
    S.connect()
    S.w = [3.0, 1.0]
    Network(collect()).run(0.2 * ms)
    np.testing.assert_allclose(np.asarray(S.w[:]), [0.75, 0.25], rtol=0, atol=1e-15)
    assert S.apre[0] == 1.0


def test_a_summed_pool_is_refused(target):
    """Brian overwrites a (summed) variable every time step: a rule writing it would lose its changes."""
    from brian2_hetero import bugmann2012

    P = SpikeGeneratorGroup(2, [0], [0] * ms, name="sem_in")
    G = NeuronGroup(1, "v : 1\npool : 1", name="sem_g")
    getw = bugmann2012(W0=1, eta=0.5, name="summed_rule")
    S = Synapses(P, G, "w : 1", on_pre="v_post += getw(i, j)", namespace={"getw": getw}, name="sem_s")
    S.connect()
    S2 = Synapses(P, G, "x : 1\npool_post = x : 1 (summed)", name="summing")
    S2.connect()
    net = Network(collect())
    cause = refusal(lambda: net.run(0.2 * ms))
    assert "Rule 'summed_rule' writes 'pool' of 'sem_g', but Synapses 'summing' makes it a (summed)" in str(cause)


def test_float32_weights_say_how_to_get_float64(runtime_target):
    """(Checked in Python before any code is generated, the same for every target.)"""
    prefs.core.default_float_dtype = np.float32
    rule = normalise_multiplicative(W_total=1.0, name="f32_rule")
    P = SpikeGeneratorGroup(2, [0], [0] * ms, name="sem_in")
    G = NeuronGroup(1, "v : 1", name="sem_g")
    S = Synapses(P, G, "w : 1", on_pre="v_post += rule(i, j)", namespace={"rule": rule}, name="sem_s")
    S.connect()
    net = Network(collect())
    cause = refusal(lambda: net.run(0.2 * ms))
    assert "'w' is of type float32" in str(cause)
    assert "prefs.core.default_float_dtype = float32; set it to float64" in str(cause)
