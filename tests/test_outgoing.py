"""Rules over a neuron's outgoing synapses (over='pre') and rules that read
the other neuron of the spiking synapse, on every target, against
plain-Python references (here and in reference.py), independent of the rule
language."""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, Synapses, defaultclock, device, ms

from brian2_hetero import (
    HeteroRule,
    RuleSyntaxError,
    field2020,
    normalise_multiplicative,
    normalise_subtractive,
    redistribution,
)
import reference as plain
from conftest import TARGETS, Target, refusal, root_cause, run_each, target_scope

TOLERANCE = 1e-12
N_STEPS = 12
N_SOURCES, N_TARGETS = 7, 5


def spikes_of(k, step):
    """Whether neuron k of a group spikes at ``step``: several neurons spike
    in most steps, so that spikes coincide. (The groups' thresholds below.)"""
    return (step * 5 + 3 * k) % 7 < 3


THRESHOLD = "(int(t / dt + 0.5) * 5 + 3 * i) % 7 < 3"


def _pairs(kind):
    """(pre, post) of each synapse, in synapse order, and the source and
    target offsets (subgroups)."""
    if kind == "source_major":
        pre, post = np.divmod(np.arange(N_SOURCES * N_TARGETS), N_TARGETS)
        return pre, post, 0, 0
    if kind == "target_major":
        post, pre = np.divmod(np.arange(N_SOURCES * N_TARGETS), N_SOURCES)
        return pre, post, 0, 0
    rng = np.random.default_rng(15)
    if kind == "sparse":
        pairs = [(i, j) for i in range(N_SOURCES) for j in range(N_TARGETS) if rng.random() < 0.45]
    elif kind == "subgroups":
        # source neurons 2..5 onto target neurons 1..3, scattered
        pairs = [(i, j) for i in range(4) for j in range(3) if rng.random() < 0.7]
    else:  # recurrent: a group onto itself
        pairs = [(i, j) for i in range(N_SOURCES) for j in range(N_SOURCES) if i != j and rng.random() < 0.4]
    order = rng.permutation(len(pairs))
    pre = np.array([pairs[k][0] for k in order])
    post = np.array([pairs[k][1] for k in order])
    return pre, post, (2 if kind == "subgroups" else 0), (1 if kind == "subgroups" else 0)


def _initial(pre, post):
    return 0.1 + ((pre * 7 + post * 3) % 11) / 10.0


# The references: a trigger changes the lists w, spent (per source neuron)
# and reads gain (per target neuron), trace (per source neuron); sib are the
# synapses leaving (or onto) the neuron, in synapse order.

def ref_multiplicative(w, s, sib, nrn):
    plain.multiplicative(w, s, sib, W_total=2.0, eta=0.5)


def ref_subtractive(w, s, sib, nrn):
    plain.subtractive(w, s, sib, W_total=1.0)


def ref_redistribution(w, s, sib, nrn):
    plain.redistribution(w, s, sib, alpha=0.1)


def ref_field(w, s, sib, nrn):
    plain.strongest_other(w, s, sib, a=1.65, b=0.62)


# A user's rule over the synapses leaving a neuron: each spike spreads the
# neuron's resource over its synapses, in proportion to the targets' gain,
# and records what it spent; the farthest target's synapse is depressed.
USER_PRE = """
total = sum(w_sib)
n = count()
w_sib += beta * (total / n - w_sib)
far = argmax(w_sib, j_sib != j)
w_sib *= 1 - 0.1 * int(j_sib == far)
spent_pre += gain_post * w
w += 0.01 * j
"""


def ref_user_pre(w, s, sib, nrn, beta=0.3):
    n = len(sib)
    mean = sum(w[k] for k in sib) / n
    for k in sib:
        w[k] += beta * (mean - w[k])
    others = [k for k in sib if nrn["post"][k] != nrn["post"][s]]
    if others:
        far = max(others, key=lambda k: (w[k], -k))
        w[far] *= 1 - 0.1
    nrn["spent"][nrn["pre"][s]] += nrn["gain"][nrn["post"][s]] * w[s]
    w[s] += 0.01 * (nrn["post"][s] - nrn["target_offset"])


# A rule over the synapses onto a neuron that reads the spiking synapse's
# source neuron: a presynaptic trace sets how much the synapse grows.
TRACE_POST = """
w += eta * trace_pre
total = sum(w_sib)
w_sib *= 2 / total
"""


def ref_trace_post(w, s, sib, nrn, eta=0.2):
    w[s] += eta * nrn["trace"][nrn["pre"][s]]
    total = sum(w[k] for k in sib)
    for k in sib:
        w[k] *= 2 / total


LIBRARY_RULES = {
    "mult": (lambda name: normalise_multiplicative(W_total=2.0, eta=0.5, over="pre", name=name),
             ref_multiplicative),
    "sub": (lambda name: normalise_subtractive(W_total=1.0, over="pre", name=name), ref_subtractive),
    "field": (lambda name: field2020(over="pre", name=name), ref_field),
    "redistribution": (lambda name: redistribution(alpha=0.1, over="pre", name=name), ref_redistribution),
}
CONNECTIVITY = ("source_major", "target_major", "sparse", "subgroups", "recurrent")
# name: (rule, connectivity, trigger, reference, over of the reference)
CASES = {
    f"{key}_{kind}": (make, kind, "on_pre", ref, "pre")
    for key, (make, ref) in LIBRARY_RULES.items() for kind in CONNECTIVITY
}
CASES.update({
    "user_recurrent": (lambda name: HeteroRule(USER_PRE, parameters={"beta": 0.3}, over="pre", name=name),
                       "recurrent", "on_pre", ref_user_pre, "pre"),
    "user_sparse": (lambda name: HeteroRule(USER_PRE, parameters={"beta": 0.3}, over="pre", name=name),
                    "sparse", "on_pre", ref_user_pre, "pre"),
    "trace_post_sparse": (lambda name: HeteroRule(TRACE_POST, parameters={"eta": 0.2}, name=name),
                          "sparse", "on_pre", ref_trace_post, "post"),
    "mult_pre_spike": (LIBRARY_RULES["mult"][0], "sparse", "pre_spike", ref_multiplicative, "pre"),
    "sub_every": (LIBRARY_RULES["sub"][0], "subgroups", "every", ref_subtractive, "pre"),
})
EVERY = 3  # steps


def _neurons(pre, post, source_offset, target_offset, recurrent):
    n_source_group = N_SOURCES
    return dict(
        pre=list(pre + source_offset), post=list(post + target_offset), target_offset=target_offset,
        spent=[0.0] * n_source_group,
        gain=[0.5 + 0.25 * k for k in range(N_SOURCES if recurrent else N_TARGETS)],
        trace=[0.3 * k for k in range(n_source_group)],
    )


def reference(key, over=None, w=None, spent=None, apply=None):
    """Final weights, the sources' spent and the targets' v (the sum of the
    values returned onto each); ``over`` replaces the case's side, ``w`` and
    ``spent`` the initial values, ``apply`` the rule."""
    _, kind, trigger, case_apply, case_over = CASES[key]
    over = over or case_over
    apply = apply or case_apply
    pre, post, so, to = _pairs(kind)
    recurrent = kind == "recurrent"
    nrn = _neurons(pre, post, so, to, recurrent)
    if spent is not None:
        nrn["spent"] = list(spent)
    w = list(_initial(pre, post) if w is None else w)
    v = [0.0] * (N_SOURCES if recurrent else N_TARGETS)
    ends = nrn["pre"] if over == "pre" else nrn["post"]

    def siblings(neuron):
        return [k for k in range(len(w)) if ends[k] == neuron]

    for step in range(N_STEPS):
        spiking = [k for k in range(N_SOURCES) if spikes_of(k, step)]
        if trigger == "on_pre":
            # Brian's delivery order: by source, then by synapse index
            for i in spiking:
                for s in range(len(w)):
                    if nrn["pre"][s] == i:
                        apply(w, s, siblings(ends[s]), nrn)
                        v[nrn["post"][s]] += w[s]
        elif trigger == "pre_spike":
            for i in spiking:
                if siblings(i):
                    apply(w, None, siblings(i), nrn)
        elif step % EVERY == 0:
            for i in range(so, so + 4):
                if siblings(i):
                    apply(w, None, siblings(i), nrn)
    return np.array(w), np.array(nrn["spent"]), np.array(v)


def _network(key, suffix):
    make, kind, trigger, _, _ = CASES[key]
    pre, post, so, to = _pairs(kind)
    rule = make("out_rule" + suffix)
    Q = NeuronGroup(N_SOURCES, "spent : 1\ntrace : 1\ngain : 1\nv : 1", threshold=THRESHOLD,
                    name="out_sources" + suffix)
    Q.trace = [0.3 * k for k in range(N_SOURCES)]
    Q.gain = [0.5 + 0.25 * k for k in range(N_SOURCES)]
    objects = [Q]
    if kind == "recurrent":
        source = target = Q
    else:
        G = NeuronGroup(N_TARGETS, "v : 1\ngain : 1", name="out_targets" + suffix)
        G.gain = [0.5 + 0.25 * k for k in range(N_TARGETS)]
        objects.append(G)
        source, target = (Q[2:6], G[1:4]) if kind == "subgroups" else (Q, G)
    on_pre = "v_post += out_rule(i, j)" if trigger == "on_pre" else None
    S = Synapses(source, target, "w : 1", on_pre=on_pre, namespace={"out_rule": rule}, name="out_syn" + suffix)
    S.connect(i=pre, j=post)
    S.w = _initial(pre, post)
    if trigger == "pre_spike":
        rule.apply_to(S, on="pre_spike")
    elif trigger == "every":
        rule.apply_to(S, every=EVERY * defaultclock.dt)
    return objects + [S]


def _values(key, objects):
    """The final weights, the sources' spent and the targets' v."""
    Q, S = objects[0], objects[-1]
    G = objects[1] if len(objects) == 3 else Q
    return np.array(S.w[:]), np.array(Q.spent[:]), np.array(G.v[:])


def simulate(target_name):
    """Every case's results on ``target_name`` (see `conftest.run_each`)."""
    return run_each(target_name, list(CASES), _network, _values, N_STEPS)


@pytest.mark.parametrize("key", list(CASES))
@pytest.mark.parametrize("target_name", TARGETS)
def test_case_matches_its_reference(target_name, key):
    w, spent, v = simulate(target_name)[key]
    w_ref, spent_ref, v_ref = reference(key)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(spent, spent_ref, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=TOLERANCE)
    pre, post, _, _ = _pairs(CASES[key][1])
    assert np.max(np.abs(w - _initial(pre, post))) > 1e-3  # the rule acted


def test_over_pre_is_not_over_post():
    """The same rule over the synapses onto each neuron would give other
    weights: a rule over='pre' that acted on incoming synapses fails."""
    for key in ("mult_source_major", "field_sparse", "user_recurrent", "redistribution_target_major"):
        w, _, _ = simulate("numpy")[key]
        w_post, _, _ = reference(key, over="post")
        assert np.max(np.abs(w - w_post)) > 1e-3


def test_outgoing_normalisation_conserves_each_sources_total():
    w, _, _ = simulate("numpy")["mult_source_major"]
    pre, _, _, _ = _pairs("source_major")
    # eta = 0.5 halves the distance to W_total = 2 at every spike; every
    # source spiked at least twice
    totals = np.bincount(pre, w)
    start = np.bincount(pre, _initial(*_pairs("source_major")[:2]))
    assert np.all(np.abs(totals - 2.0) < 0.5 * np.abs(start - 2.0))


# store()/restore() and run_args -------------------------------------------

@pytest.mark.parametrize("target_name", ["numpy", "cython"])
def test_store_and_restore_include_the_source_neurons_and_parameters(target_name):
    """``store()`` / ``restore()`` of a network with a rule over='pre' that
    writes a variable of the source neurons: the second run, after the
    weights, the sources' variable and the rule's parameter were changed and
    restored, gives the reference's numbers again."""
    key = "user_recurrent"
    t = target_scope(target_name)
    t.activate()
    try:
        defaultclock.dt = 0.1 * ms
        objects = _network(key, "")  # Cython: the names of simulate()'s network, its cached code
        Q, S = objects[0], objects[-1]
        rule = S.namespace["out_rule"]
        net = Network(*objects, rule)
        net.store()
        net.run(N_STEPS * defaultclock.dt)
        w_ref, spent_ref, _ = reference(key)
        np.testing.assert_allclose(S.w[:], w_ref, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(Q.spent[:], spent_ref, rtol=0, atol=TOLERANCE)
        rule.beta = 0.9
        S.w = 5.0
        Q.spent = 3.0
        net.restore()
        assert rule.beta[:] == 0.3
        np.testing.assert_array_equal(Q.spent[:], 0.0)
        net.run(N_STEPS * defaultclock.dt)
        np.testing.assert_allclose(S.w[:], w_ref, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(Q.spent[:], spent_ref, rtol=0, atol=TOLERANCE)
    finally:
        t.reset()


def test_standalone_run_args_over_pre(tmp_path):
    """cpp_standalone reruns of one build with new weights, a new variable
    of the source neurons and a new parameter (``run_args``), each against
    the reference; a bad value is refused before the program runs."""
    key = "user_recurrent"
    t = Target("cpp_standalone", str(tmp_path))
    t.activate(build_on_run=False)
    try:
        defaultclock.dt = 0.1 * ms
        objects = _network(key, "")
        Q, S = objects[0], objects[-1]
        rule = S.namespace["out_rule"]
        Network(*objects).run(N_STEPS * defaultclock.dt)
        device.build(directory=str(tmp_path), run=False)
        device.run()
        w_ref, spent_ref, _ = reference(key)
        np.testing.assert_allclose(S.w[:], w_ref, rtol=0, atol=TOLERANCE)
        n = len(w_ref)
        w0, spent0 = 0.2 + 0.05 * np.arange(n), np.linspace(1.0, 2.0, N_SOURCES)
        device.run(run_args={S.w: w0, Q.spent: spent0, rule.beta: 0.6})
        w_ref, spent_ref, _ = reference(key, w=w0, spent=spent0,
                                        apply=lambda *a: ref_user_pre(*a, beta=0.6))
        np.testing.assert_allclose(S.w[:], w_ref, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(Q.spent[:], spent_ref, rtol=0, atol=TOLERANCE)
        with pytest.raises(TypeError) as info:
            device.run(run_args={rule.beta: "0.5"})
        assert "run_args: out_rule.beta must be given numbers, got '0.5'" in str(info.value)
        np.testing.assert_allclose(S.w[:], w_ref, rtol=0, atol=TOLERANCE)
    finally:
        t.reset()


# Refusals ---------------------------------------------------------------------

@pytest.mark.parametrize("code, over, text", [
    ("w_sib *= i_sib", "pre", "'i_sib' is the same for every sibling of a rule over='pre'"),
    ("w_sib *= j_sib", "post", "'j_sib' is the same for every sibling of a rule over='post'"),
    ("gain_post = 1", "pre", "'gain_post' is a variable of the spiking synapse's target neuron, which a "
                             "rule over='pre' reads but cannot write"),
    ("trace_pre = w", "post", "'trace_pre' is a variable of the spiking synapse's source neuron"),
    ("x_pre = sum(w_sib)", "pre", "a reduction must be assigned to a value of its own"),
    ("spent_pre = w_sib", "pre", "'spent_pre' is a value of the source neuron and cannot take a sibling value"),
])
def test_a_rule_that_mixes_the_sides_is_refused(code, over, text):
    with pytest.raises(RuleSyntaxError) as info:
        HeteroRule(code, over=over, name="mixed")
    assert text in str(info.value)


def test_nonnegative_cannot_name_a_variable_the_rule_only_reads():
    with pytest.raises(ValueError) as info:
        HeteroRule("w_sib *= gain_post", over="pre", nonnegative=["gain"], name="reads_gain")
    assert ("nonnegative names 'gain', which the rule only reads (as 'gain_post', a variable of the "
            "other neuron)") in str(info.value)


@pytest.mark.parametrize("over", ["both", "Pre", None, 1])
def test_over_must_be_a_side(over):
    with pytest.raises(ValueError) as info:
        HeteroRule("w_sib *= 2", over=over, name="sideless")
    assert f"over must be 'post' or 'pre', got over = {over!r}" in str(info.value)
    with pytest.raises(ValueError) as info:
        normalise_subtractive(W_total=1.0, over=over)
    assert f"got over = {over!r}" in str(info.value)


def _plain_network():
    Q = NeuronGroup(3, "spent : 1\ntrace : 1", threshold="False")
    G = NeuronGroup(2, "v : 1\ngain : 1", threshold="False")
    S = Synapses(Q, G, "w : 1")
    S.connect()
    return Q, G, S


def test_a_trigger_of_the_other_side_is_refused():
    _, _, S = _plain_network()
    with pytest.raises(ValueError) as info:
        normalise_multiplicative(W_total=1.0, over="pre").apply_to(S, on="post_spike")
    assert ("is over='pre': it acts on the synapses leaving one neuron, so it is applied on that "
            "neuron's spikes, on='pre_spike', got on='post_spike'") in str(info.value)
    rule = HeteroRule("w_sib *= 1 + gain_post", over="pre")
    with pytest.raises(ValueError) as info:
        rule.apply_to(S, every=1 * ms)
    assert ("uses 'gain_post', values of a spiking synapse, which a periodic trigger does not have; "
            "call the rule in on_pre code instead, or write it with x_sib, x_pre and i only") in str(info.value)
    with pytest.raises(ValueError) as info:
        HeteroRule("w_sib *= 1 + j", over="pre").apply_to(S, on="pre_spike")
    assert "uses 'j', values of a spiking synapse, which a source spike does not have" in str(info.value)


@pytest.mark.parametrize("target_name", TARGETS)
def test_reading_what_the_rule_writes_on_the_other_side_is_refused(target_name):
    """Recurrent synapses: 'v_pre' and 'v_post' are one variable; a rule that
    writes one and reads the other would see the writes of the spikes before
    it in C, not in numpy."""
    t = target_scope(target_name)
    t.activate()
    try:
        G = NeuronGroup(3, "v : 1", threshold="i == 0", name="rec_group")
        rule = HeteroRule("v_post += v_pre * w", name="rec_rule")
        S = Synapses(G, G, "w : 1\nx : 1", on_pre="x = rec_rule(i, j)", namespace={"rec_rule": rule},
                     name="rec_syn")
        S.connect("i != j")
        S.w = 0.5
        G.v = [1, 2, 3]
        net = Network(G, S)
        error = refusal(lambda: net.run(0.2 * ms))
        assert isinstance(error, ValueError)
        assert ("Rule 'rec_rule' reads 'v_pre' and writes 'v_post', which with Synapses 'rec_syn' are both "
                "the variable 'v' of 'rec_group'") in str(error)
        if not t.standalone:
            np.testing.assert_array_equal(G.v[:], [1, 2, 3])
            np.testing.assert_array_equal(S.w[:], [0.5] * 6)
    finally:
        t.reset()


@pytest.mark.parametrize("target_name", TARGETS)
def test_values_of_the_source_neurons_are_checked(target_name, capfd):
    """A rule over='pre' checks the variables of its source neurons (those
    of the calling Synapses' source subgroup only) before anything runs."""
    t = target_scope(target_name)
    t.activate()
    try:
        Q = NeuronGroup(6, "resource : 1", threshold="True", name="chk_sources")
        G = NeuronGroup(2, "v : 1", name="chk_targets")
        rule = HeteroRule("w += 0.1 * resource_pre\nresource_pre *= 0.5", over="pre",
                          nonnegative=["resource"], name="chk_rule")
        S = Synapses(Q[2:5], G, "w : 1", on_pre="v_post += chk_rule(i, j)",
                     namespace={"chk_rule": rule}, name="chk_syn")
        S.connect()
        # neuron 0 is outside the source subgroup: its NaN is not the rule's
        Q.resource = [np.nan, 1.0, 1.0, 1.0, -2.0, 1.0]
        S.w = 0.5
        net = Network(Q, G, S)
        with pytest.raises(Exception) as info:
            net.run(0.3 * ms)
        text = ("ule 'chk_rule' needs finite and non-negative values of resource, but 'chk_sources' has "
                "resource = -2")
        if t.standalone:
            err = capfd.readouterr().err
            assert text in err and "at neuron 4. Nothing was run." in err, err
        else:
            assert text in str(root_cause(info.value)) and "at neuron 4" in str(root_cause(info.value))
            np.testing.assert_array_equal(S.w[:], [0.5] * 6)
            np.testing.assert_array_equal(Q.resource[1:], [1.0, 1.0, 1.0, -2.0, 1.0])
    finally:
        t.reset()
