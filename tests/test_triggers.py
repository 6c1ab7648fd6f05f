"""Rules applied once per spike of a target neuron and every T, on every
target, against plain-Python references written here."""

import numpy as np
import pytest
from brian2 import (
    Function,
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    defaultclock,
    ms,
)

from brian2_hetero import HeteroRule, bugmann2012, normalise_multiplicative
import reference as plain
from conftest import TARGETS, spike_inputs, target_scope

TOLERANCE = 1e-12
M, N = 5, 5
SPIKES = {1: [0, 1, 2], 3: [3, 4], 4: [0, 1], 6: [2, 3, 4], 7: [0], 9: [1, 2, 3]}
N_STEPS = 25
PERIOD_STEPS = 10
# synapse k from PRE[k] onto POST[k]; neuron 4 has none, the order is scattered
PRE = np.array([3, 0, 1, 4, 2, 0, 1, 3, 2, 4, 0])
POST = np.array([0, 0, 1, 0, 1, 2, 2, 3, 0, 3, 1])
W_INIT = np.array([0.9, 0.2, 0.4, 0.7, 0.3, 0.5, 0.25, 0.6, 0.1, 0.35, 0.8])

TOWARD_MEAN = """
total = sum(w_sib)
n = count()
w_sib += beta * (total / n - w_sib)
top = max(w_sib)
spread_post = top - total / n
"""


def ref_multiplicative(w, sib):
    plain.multiplicative(w, None, sib, W_total=2.0, eta=0.5)


def ref_toward_mean(w, sib, spread, j, beta=0.3):
    total = sum(w[k] for k in sib)
    for k in sib:
        w[k] += beta * (total / len(sib) - w[k])
    spread[j] = max(w[k] for k in sib) - total / len(sib)


_results = {}

# a function that changes nothing (and has no C++ or Cython code)
DECOY = Function(lambda i: 0.0 * i, arg_units=[1], return_unit=1, stateless=False)


def simulate(target_name):
    if target_name in _results:
        return _results[target_name]
    t = target_scope(target_name)
    t.activate()
    try:
        defaultclock.dt = 0.1 * ms
        P = spike_inputs(M, SPIKES, "trig_inputs")
        # the neurons spike at their second input spike, whatever the weights
        G = NeuronGroup(N, "v : 1", threshold="v > 1.5", reset="v = 0", name="trig_targets",
                        namespace={})
        S = Synapses(P, G, "w : 1", on_pre="v_post += 1", name="trig_syn")
        S.connect(i=PRE, j=POST)
        S.w = W_INIT
        norm = normalise_multiplicative(W_total=2.0, eta=0.5, name="trig_norm")
        applier = norm.apply_to(S, on="post_spike")
        # a function of the target's namespace with the name the rule's
        # object would give its function must not replace it
        G.namespace[applier.fname] = DECOY
        spikes = SpikeMonitor(G, name="trig_spikes")
        # every T, onto a subgroup at an offset
        H = NeuronGroup(N + 2, "spread : 1", name="trig_periodic_targets", namespace={})
        S2 = Synapses(P, H[2:], "w : 1", name="trig_periodic_syn")
        S2.connect(i=PRE, j=POST)
        S2.w = W_INIT
        mean = HeteroRule(TOWARD_MEAN, parameters={"beta": 0.3}, name="trig_mean")
        H.namespace[mean.apply_to(S2, every=PERIOD_STEPS * defaultclock.dt).fname] = DECOY
        # spikes of a subgroup at an offset; the neuron before it spikes too
        K = NeuronGroup(N + 1, "v : 1", threshold="v > 1.5", reset="v = 0", name="trig_sub_targets")
        S3 = Synapses(P, K[1:], "w : 1", on_pre="v_post += 1", name="trig_sub_syn")
        S3.connect(i=PRE, j=POST)
        S3.w = W_INIT
        drive = Synapses(P, K[:1], on_pre="v_post += 1", name="trig_sub_drive")
        drive.connect()
        norm3 = normalise_multiplicative(W_total=2.0, eta=0.5, name="trig_sub_norm")
        norm3.apply_to(S3, on="post_spike")
        spikes3 = SpikeMonitor(K, name="trig_sub_spikes")
        Network(P, G, S, spikes, H, S2, K, S3, drive, spikes3).run(N_STEPS * defaultclock.dt)
        _results[target_name] = dict(
            w=np.array(S.w[:]),
            spike_i=np.array(spikes.i[:]),
            w2=np.array(S2.w[:]),
            spread=np.array(H.spread[:]),
            w3=np.array(S3.w[:]),
            spike_i3=np.array(spikes3.i[:]),
        )
    finally:
        t.reset()
    return _results[target_name]


@pytest.mark.parametrize("target_name", TARGETS)
def test_once_per_spike_of_the_target(target_name):
    result = simulate(target_name)
    assert len(result["spike_i"]) >= 3  # the trigger fired
    w = list(W_INIT)
    for j in result["spike_i"]:
        ref_multiplicative(w, [k for k in range(len(w)) if POST[k] == j])
    np.testing.assert_allclose(result["w"], w, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("target_name", TARGETS)
def test_once_per_spike_of_a_subgroup_target(target_name):
    result = simulate(target_name)
    spiking = list(result["spike_i3"])
    assert spiking.count(0) >= 3  # the neuron outside the target spiked
    assert len([k for k in spiking if k > 0]) >= 3  # the trigger fired
    w = list(W_INIT)
    for k in spiking:
        if k > 0:  # neuron k of the group is neuron k - 1 of the target
            ref_multiplicative(w, [s for s in range(len(w)) if POST[s] == k - 1])
    np.testing.assert_allclose(result["w3"], w, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("target_name", TARGETS)
def test_every_period_for_every_target(target_name):
    result = simulate(target_name)
    w, spread = list(W_INIT), [0.0] * (N + 2)
    for _ in range(0, N_STEPS, PERIOD_STEPS):  # at steps 0, 10 and 20
        for j in range(N):
            sib = [k for k in range(len(w)) if POST[k] == j]
            if sib:
                ref_toward_mean(w, sib, spread, j + 2)
    np.testing.assert_allclose(result["w2"], w, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result["spread"], spread, rtol=0, atol=TOLERANCE)
    assert spread[2 + 4] == 0.0  # neuron 4 has no synapses: left alone


def _synapses(threshold="v > 1"):
    P = SpikeGeneratorGroup(2, [0], [0] * ms)
    G = NeuronGroup(2, "v : 1", threshold=threshold)
    S = Synapses(P, G, "w : 1")
    S.connect()
    return S


@pytest.mark.parametrize(
    "kwds, error, text",
    [
        (dict(), TypeError, "give apply_to one trigger"),
        (dict(on="post_spike", every=1 * ms), TypeError, "give apply_to one trigger"),
        (dict(on="spike"), ValueError, "on must be 'post_spike', got on='spike'"),
        (dict(on="pre_spike"), ValueError, "is over='post': it acts on the synapses onto one neuron, so it is "
                                           "applied on that neuron's spikes, on='post_spike'"),
        (dict(every=1), Exception, "every must be a time"),
        (dict(every=-1 * ms), ValueError, "every must be a positive, finite time"),
        (dict(every=1 * ms, when="nonsense"), ValueError, "when must be a slot of Brian's schedule"),
        (dict(every=1 * ms, when=3), ValueError, "got when=3"),
        (dict(every=1 * ms, when="before_after_end"), ValueError, "got when='before_after_end'"),
        (dict(every=[1, 2] * ms), TypeError, "every must be a time"),
        (dict(every="1*ms"), TypeError, "every must be a time, got every='1*ms'"),
        (dict(on="post_spike", order=0.5), TypeError, "order must be an integer, got order=0.5"),
    ],
)
def test_bad_triggers_are_refused(kwds, error, text):
    rule = normalise_multiplicative(W_total=1.0)
    with pytest.raises(error) as info:
        rule.apply_to(_synapses(), **kwds)
    assert text in str(info.value)


def test_a_rule_of_the_spiking_synapse_cannot_run_per_neuron():
    with pytest.raises(ValueError) as info:
        bugmann2012(W0=1, eta=0.5).apply_to(_synapses(), every=1 * ms)
    assert "uses 'w', values of a spiking synapse" in str(info.value)


def test_post_spike_needs_a_threshold():
    with pytest.raises(ValueError) as info:
        normalise_multiplicative(W_total=1.0).apply_to(_synapses(threshold=None), on="post_spike")
    assert "has no threshold" in str(info.value)
