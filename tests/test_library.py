"""The built-in rules and a rule written by a user, on every target, against
plain-Python references (here and in reference.py), independent of the rule
language."""

import numpy as np
import pytest
from brian2 import NeuronGroup, SpikeGeneratorGroup, Synapses, mV, ms, run

from brian2_hetero import (
    HeteroRule,
    bugmann2012,
    field2020,
    normalise_multiplicative,
    normalise_subtractive,
    redistribution,
)
import reference as plain
from conftest import TARGETS, run_each, spike_inputs

TOLERANCE = 1e-12
M, N = 6, 4
# step -> spiking inputs (coincident spikes onto one neuron included)
SPIKES = {1: [0, 3], 2: [5], 4: [1, 2, 4], 5: [0], 7: [2, 3, 5], 8: [4, 1]}
N_STEPS = 10

# A rule as a user writes it: every synapse onto the neuron moves toward the
# mean weight; the neuron records the spread of its weights, and the
# spiking synapse gains for each weak sibling.
USER_RULE = """
total = sum(w_sib)
n = count()
mean = total / n
w_sib += beta * (mean - w_sib)
top = max(w_sib)
n_weak = count(w_sib < 0.5 * top)
low = min(w_sib)
spread_post = top - low
w += gain * n_weak
"""


def _connectivity():
    """Irregular connectivity in a scattered synapse order: neuron 3 has one synapse."""
    rng = np.random.default_rng(7)
    pairs = [(i, j) for i in range(M) for j in range(3) if rng.random() < 0.7]
    pairs.append((2, 3))
    order = rng.permutation(len(pairs))
    pre = np.array([pairs[k][0] for k in order])
    post = np.array([pairs[k][1] for k in order])
    w = rng.uniform(0.1, 1.0, size=len(pairs))
    return pre, post, w


PRE, POST, W_INIT = _connectivity()
POOL_INIT = np.array([0.5, 1.0, 0.0, 2.0])


# The references: a spike at synapse s changes the list w (and pool).

def ref_bugmann(w, s, sib, pool, W0=1.5, eta=0.3):
    x, gain = w[s], 0.0
    for k in sib:
        if w[k] > x:
            d = w[k] * (w[k] - x) / (W0 + w[k])
            w[k] -= d
            gain += d
    j = POST[s]
    w[s] = x + gain + eta * pool[j]
    pool[j] -= eta * pool[j]


def ref_multiplicative(w, s, sib, pool):
    plain.multiplicative(w, s, sib, W_total=2.0, eta=0.5)


def ref_subtractive(w, s, sib, pool):
    plain.subtractive(w, s, sib, W_total=1.0)


def ref_field(w, s, sib, pool):
    plain.strongest_other(w, s, sib, a=1.65, b=0.62)


def ref_redistribution(w, s, sib, pool):
    plain.redistribution(w, s, sib, alpha=0.1)


def ref_user(w, s, sib, pool, beta=0.2, gain=0.01):
    mean = sum(w[k] for k in sib) / len(sib)
    for k in sib:
        w[k] += beta * (mean - w[k])
    top = max(w[k] for k in sib)
    weak = sum(1 for k in sib if w[k] < 0.5 * top)
    pool[POST[s]] = top - min(w[k] for k in sib)
    w[s] += gain * weak


RULES = {
    "bugmann": (lambda name: bugmann2012(W0=1.5, eta=0.3, name=name), ref_bugmann),
    "multiplicative": (lambda name: normalise_multiplicative(W_total=2.0, eta=0.5, name=name),
                       ref_multiplicative),
    "subtractive": (lambda name: normalise_subtractive(W_total=1.0, name=name), ref_subtractive),
    "field": (lambda name: field2020(name=name), ref_field),
    "redistribution": (lambda name: redistribution(alpha=0.1, name=name), ref_redistribution),
    "user": (
        lambda name: HeteroRule(USER_RULE, parameters={"beta": 0.2, "gain": 0.01}, name=name),
        ref_user,
    ),
}


def reference(apply):
    """Final weights, pools and the sum of returned values per neuron."""
    w, pool = list(W_INIT), list(POOL_INIT)
    received = np.zeros(N)
    for step in range(N_STEPS):
        # Brian's delivery order: by source, then by synapse index
        for i in sorted(SPIKES.get(step, [])):
            for s in np.flatnonzero(PRE == i):
                sib = [int(k) for k in np.flatnonzero(POST == POST[s])]
                apply(w, int(s), sib, pool)
                received[POST[s]] += w[s]
    return np.array(w), np.array(pool), received


def _rule_network(key, suffix):
    rule = RULES[key][0](f"lib_rule{suffix}")
    P = spike_inputs(M, SPIKES, f"lib_inputs{suffix}")
    G = NeuronGroup(N, "v : 1\npool : 1\nspread : 1", name=f"lib_targets{suffix}")
    G.pool = POOL_INIT
    S = Synapses(P, G, "w : 1", on_pre="v_post += rule(i, j)",
                 namespace={"rule": rule}, name=f"lib_syn{suffix}")
    S.connect(i=PRE, j=POST)
    S.w = W_INIT
    return P, S, G


def _values(key, objects):
    _, S, G = objects
    return np.array(S.w[:]), np.array(G.pool[:]), np.array(G.spread[:]), np.array(G.v[:])


def simulate(target_name):
    """Every rule's results on ``target_name`` (see `conftest.run_each`)."""
    return run_each(target_name, list(RULES), _rule_network, _values, N_STEPS)


@pytest.mark.parametrize("key", list(RULES))
@pytest.mark.parametrize("target_name", TARGETS)
def test_rule_matches_its_reference(target_name, key):
    w, pool, spread, received = simulate(target_name)[key]
    w_ref, pool_ref, received_ref = reference(RULES[key][1])
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(received, received_ref, rtol=0, atol=TOLERANCE)
    if key == "user":
        np.testing.assert_allclose(spread, pool_ref, rtol=0, atol=TOLERANCE)
    else:
        np.testing.assert_allclose(pool, pool_ref, rtol=0, atol=TOLERANCE)
    # the rule changed something: the weights are not those it started with
    assert np.max(np.abs(w - W_INIT)) > 1e-3


def test_conserving_rules_conserve():
    """bugmann2012 conserves weights plus pool, redistribution the weights, per neuron."""
    w, pool, _, _ = simulate("numpy")["bugmann"]
    assert np.max(np.abs(w - W_INIT)) > 1e-3  # the rule acted
    totals = np.bincount(POST, w, minlength=N) + pool
    np.testing.assert_allclose(totals, np.bincount(POST, W_INIT, minlength=N) + POOL_INIT, atol=1e-12)
    w, _, _, _ = simulate("numpy")["redistribution"]
    assert np.max(np.abs(w - W_INIT)) > 1e-3
    np.testing.assert_allclose(np.bincount(POST, w, minlength=N), np.bincount(POST, W_INIT, minlength=N),
                               atol=1e-12)


def test_units_of_a_user_rule(target):
    rule = HeteroRule("w_sib -= alpha * (w_sib - w_floor)", parameters={"alpha": 0.5, "w_floor": 1 * mV},
                      unit=mV, name="floor_rule")
    G = NeuronGroup(2, "v : volt", name="unit_targets")
    P = SpikeGeneratorGroup(2, [0], [0] * ms, name="unit_inputs")
    S = Synapses(P, G, "w : volt", on_pre="v_post += rule(i, j)", namespace={"rule": rule},
                 name="unit_syn")
    S.connect()
    S.w = [3, 5, 7, 9] * mV
    run(0.2 * ms)
    # input 0 onto neurons 0 and 1: w -> w - 0.5 * (w - 1 mV) for its siblings
    np.testing.assert_allclose(np.asarray(S.w[:] / mV), [2, 3, 4, 5], atol=1e-12)
    np.testing.assert_allclose(np.asarray(G.v[:] / mV), [2, 3], atol=1e-12)


def test_docstrings_show_the_statements_of_the_library():
    import inspect
    import textwrap

    from brian2_hetero.spec import LIBRARY

    functions = {f.__name__: f for f in (bugmann2012, field2020, normalise_multiplicative,
                                         normalise_subtractive, redistribution)}
    assert set(functions) == set(LIBRARY)
    for name, spec in LIBRARY.items():
        # (as help() shows it: Python 3.13 strips a docstring's indentation, earlier ones keep it)
        doc = inspect.cleandoc(functions[name].__doc__)
        assert "{statements}" not in doc and "{triggers}" not in doc, name
        shown = "\n".join(line[4:] for line in doc.splitlines() if line.startswith(" " * 4))
        for code in {spec.code, spec.code_pre} - {None}:
            assert textwrap.dedent(code).strip() in shown, name
    for normalisation in (normalise_multiplicative, normalise_subtractive):
        assert "apply_to(S, every=10*ms)" in normalisation.__doc__
