"""
The numpy code's ways of laying out the siblings of a round of events (a
strided view of every neuron or of some; a padded index with or without
padding; flat: the siblings of one neuron as a slice or an index, of every
neuron or of neurons with very different numbers of synapses one after the
other) and of splitting the spikes of a step into rounds (consecutive or
interleaved), each on numpy against the plain-Python reference, with the
way it must take checked (see ``implementations.numpy_paths``); every
reduction on each layout; and the allocator settings of the numpy code.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, Synapses, defaultclock, ms

from brian2_hetero import HeteroRule, bugmann2012, normalise_multiplicative
from brian2_hetero.implementations import numpy_paths
from brian2_hetero.printer import LANES, pairwise, print_rule
from brian2_hetero.render import render
from conftest import target_scope
from reference import Pathway, multiplicative, simulate

TOLERANCE = 1e-12
W0, ETA = 2.0, 0.3


@pytest.fixture
def numpy_target():
    t = target_scope("numpy")
    t.activate()
    numpy_paths.clear()
    yield
    t.reset()


def weights(pre, post, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, len(pre)) * (rng.random(len(pre)) > 0.1)


def run_bugmann(pre, post, n_sources, n_targets, spikes, n_steps, delays=None, seed=0):
    """bugmann2012 in on_pre of synapses k from pre[k] to post[k] (in that
    order), with input spikes {step: [sources]}; the final weights and
    pools, and the reference's."""
    w, pool = weights(pre, post, seed), np.linspace(0.5, 1.5, n_targets)
    steps = sorted(spikes)
    P = SpikeGeneratorGroup(n_sources, np.concatenate([spikes[s] for s in steps]),
                            np.concatenate([[s] * len(spikes[s]) for s in steps]) * defaultclock.dt,
                            name="paths_in")
    G = NeuronGroup(n_targets, "v : 1\npool : 1", name="paths_g")
    G.pool = pool
    rule = bugmann2012(W0=W0, eta=ETA, name="paths_rule")
    S = Synapses(P, G, "w : 1", on_pre="v_post += rule(i, j)", namespace={"rule": rule}, name="paths_s")
    S.connect(i=np.asarray(pre), j=np.asarray(post))
    S.w = w
    if delays is not None:
        S.delay = np.asarray(delays) * defaultclock.dt
    Network(P, G, S).run(n_steps * defaultclock.dt)
    reference = Pathway(pre, post, w, W0, ETA, delay=delays)
    reference.schedule(spikes)
    ref_pool, history = simulate([reference], pool, n_steps + 1)
    return np.asarray(S.w[:]), np.asarray(G.pool[:]), np.asarray(reference.w), np.asarray(ref_pool)


def check(result, paths):
    got_w, got_pool, ref_w, ref_pool = result
    np.testing.assert_allclose(got_w, ref_w, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(got_pool, ref_pool, rtol=0, atol=TOLERANCE)
    # the rule did move weight
    assert np.abs(got_pool - np.linspace(0.5, 1.5, got_pool.size)).max() > 0.01
    for path in paths:
        assert numpy_paths[path] > 0, (path, dict(numpy_paths))


def all_to_all(M, N, order):
    """Synapses target by target, target by target from the last, or
    source by source (Brian's order for connect())."""
    if order == "target":
        return np.tile(np.arange(M), N), np.repeat(np.arange(N), M)
    if order == "reversed":
        return np.tile(np.arange(M), N), np.repeat(np.arange(N)[::-1], M)
    return np.repeat(np.arange(M), N), np.tile(np.arange(N), M)


def some_spikes(n_sources, n_steps, seed, per_step=1):
    rng = np.random.default_rng(seed)
    return {s: sorted(rng.choice(n_sources, per_step, replace=False).tolist()) for s in range(1, n_steps)}


@pytest.mark.parametrize("order", ["target", "reversed", "source"])
def test_all_to_all_is_a_view_of_every_neuron(numpy_target, order):
    # contiguous siblings (target order, from the first or the last target)
    # and evenly spaced ones (Brian's order)
    M, N = 13, 5
    pre, post = all_to_all(M, N, order)
    # (a spike reaches the neurons in synapse order: from the last one when reversed)
    path = "grid, some neurons" if order == "reversed" else "grid, every neuron"
    check(run_bugmann(pre, post, M, N, some_spikes(M, 12, 1), 12), [path])
    assert numpy_paths["padded"] == numpy_paths["padded, masked"] == 0


def test_coincident_spikes_in_consecutive_rounds(numpy_target):
    # three inputs spike in most steps, each reaching every neuron: one
    # round per spike, each a run of consecutive synapses
    M, N = 11, 4
    pre, post = all_to_all(M, N, "source")
    check(run_bugmann(pre, post, M, N, some_spikes(M, 10, 2, per_step=3), 10),
          ["grid, every neuron", "rounds, consecutive"])


def test_spikes_that_reach_one_neuron_twice_in_a_step(numpy_target):
    # the spikes of inputs 0, 1 and 2 reach neurons 1, 0 | 1, 2 | 0, 2: the
    # second round (neurons 1, 0 and 2 again) is not a run of consecutive spikes
    pre = [0, 0, 1, 1, 2, 2]
    post = [1, 0, 1, 2, 0, 2]
    spikes = {1: [0], 2: [0, 1, 2], 3: [0, 2], 4: [1], 5: [0, 1]}
    check(run_bugmann(pre, post, 3, 3, spikes, 7), ["rounds, interleaved", "padded"])


def test_delayed_spikes_arrive_in_consecutive_steps(numpy_target):
    M, N = 6, 3
    pre, post = all_to_all(M, N, "target")
    delays = [(3 * k) % 4 for k in range(M * N)]
    spikes = {1: [0, 3], 2: [1], 3: [0, 2, 5], 5: [4]}
    # each step's spikes reach some of the neurons
    check(run_bugmann(pre, post, M, N, spikes, 10, delays=delays), ["grid, some neurons"])


def test_equal_numbers_of_scattered_synapses_need_no_padding(numpy_target):
    # every target has 4 synapses, in a shuffled order: no view, no padding
    M, N = 8, 6
    rng = np.random.default_rng(3)
    pre = np.concatenate([rng.choice(M, 4, replace=False) for _ in range(N)])
    post = np.repeat(np.arange(N), 4)
    order = rng.permutation(pre.size)
    spikes = some_spikes(M, 12, 4, per_step=2)
    check(run_bugmann(pre[order], post[order], M, N, spikes, 12), ["padded"])
    assert numpy_paths["padded, masked"] == 0


def test_sparse_synapses_are_padded(numpy_target):
    M, N = 20, 12
    rng = np.random.default_rng(5)
    connected = rng.random((M, N)) < 0.4
    post, pre = np.nonzero(connected.T)
    check(run_bugmann(pre, post, M, N, some_spikes(M, 15, 6, per_step=4), 15), ["padded, masked"])


def test_very_different_numbers_of_synapses_are_laid_flat(numpy_target):
    # input 0 reaches neuron 0, with 40 synapses, and neurons 1-3, with 1-2
    # (padding them to 40 would more than double the work), not neuron 4
    pre = list(range(40)) + [0, 0, 1, 0, 2]
    post = [0] * 40 + [1, 2, 2, 3, 4]
    spikes = {1: [0], 2: [0, 5], 4: [1, 0]}
    check(run_bugmann(pre, post, 40, 5, spikes, 6), ["flat"])


def test_a_spike_that_reaches_one_neuron_takes_a_slice(numpy_target):
    # inputs 0-3 reach neuron 0 only, whose synapses 0-2 and 8 are no
    # slice; input 5 neuron 1 only, whose synapses 3, 5 and 7 are
    pre = [0, 1, 2, 4, 4, 5, 6, 6, 3]
    post = [0, 0, 0, 1, 2, 1, 2, 1, 0]
    spikes = {1: [0], 2: [5], 3: [1, 4], 5: [3], 6: [5, 0]}
    check(run_bugmann(pre, post, 7, 3, spikes, 8), ["flat, one neuron", "flat, one neuron, sliced"])

def normalisation(pre, post, n_sources, n_targets, n_steps, **apply):
    """normalise_multiplicative (over='post') applied to synapses k from
    pre[k] to post[k] by ``apply`` (``every=`` or ``on=``); the final and
    the initial weights. The targets spike in step s if (s + 2 j) % 5 == 0."""
    A = NeuronGroup(n_sources, "", name="paths_a")
    B = NeuronGroup(n_targets, "", threshold=SPIKES, name="paths_b")
    S = Synapses(A, B, "w : 1", name="paths_s")
    S.connect(i=np.asarray(pre), j=np.asarray(post))
    w = 0.1 + weights(pre, post, 7)
    S.w = w
    rule = normalise_multiplicative(W_total=1.0, eta=0.5, name="paths_norm")
    rule.apply_to(S, **apply)
    Network(A, B, S, rule).run(n_steps * defaultclock.dt)
    return np.asarray(S.w[:]), w.tolist()


SPIKES = "(int(t / dt + 0.5) + 2 * i) % 5 == 0"


def normalised(w, post, applications):
    """The reference: multiplicative normalisation of the targets in each
    list of ``applications``, one list after the other."""
    sib = {t: [k for k in range(len(post)) if post[k] == t] for t in set(np.asarray(post).tolist())}
    for targets in applications:
        for t in targets:
            if t in sib:
                multiplicative(w, None, sib[t], 1.0, 0.5)
    return w


def test_periodic_normalisation_without_a_view(numpy_target):
    # neuron 2 of the targets has no synapse: the others are no view
    M, N = 9, 4
    pre, post = all_to_all(M, N, "target")
    keep = post != 2
    pre, post = pre[keep], post[keep]
    got, w = normalisation(pre, post, M, N, 20, every=0.5 * ms)
    # at steps 0, 5, 10 and 15
    expected = normalised(w, post, [range(N)] * 4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert numpy_paths["flat, every neuron"] > 0 and numpy_paths["grid, every neuron"] == 0


@pytest.mark.parametrize("N, order, path", [
    # one target spikes in each step: its synapses are a slice, contiguous
    # or N apart
    (5, "target", "flat, one neuron, sliced"),
    (5, "source", "flat, one neuron, sliced"),
    # targets j and j + 5 spike together: rows of the view
    (7, "source", "grid, some neurons"),
])
def test_target_spikes_normalise_some_neurons(numpy_target, N, order, path):
    M, n_steps = 7, 12
    pre, post = all_to_all(M, N, order)
    got, w = normalisation(pre, post, M, N, n_steps, on="post_spike")
    spiking = [[j for j in range(N) if (s + 2 * j) % 5 == 0] for s in range(n_steps)]
    expected = normalised(w, post, spiking)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert numpy_paths[path] > 0, dict(numpy_paths)


REDUCTIONS = """
total = sum(w_sib, i_sib > 1)
big = max(w_sib, i_sib > 1)
small = min(w_sib)
n = count(i_sib > 1)
top = argmax(w_sib, i_sib != 2)
w_sib = 0.5 * w_sib + 0.1 * small + 0.01 * big + 0.001 * n + 0.0001 * total + 0.05 * int(i_sib == top)
"""


def reduced(w, pre, post, applications):
    """The reference of REDUCTIONS: applied to the targets in each list of
    ``applications``, one list after the other."""
    w = list(w)
    for targets in applications:
        for t in targets:
            sib = [k for k in range(len(post)) if post[k] == t]
            if not sib:
                continue
            taking = [k for k in sib if pre[k] > 1]
            total = sum(w[k] for k in taking)
            big = max((w[k] for k in taking), default=-np.inf)
            small = min(w[k] for k in sib)
            others = [k for k in sib if pre[k] != 2]
            # the first of the largest, in synapse order
            top = pre[max(others, key=lambda k: (w[k], -k))] if others else -1
            for k in sib:
                w[k] = (0.5 * w[k] + 0.1 * small + 0.01 * big + 0.001 * len(taking) + 0.0001 * total
                        + 0.05 * (pre[k] == top))
    return w


def layout_synapses(layout):
    """Sources, targets, and the synapses' pre and post: 'all', all-to-all
    in Brian's order; 'sparse', random synapses in a random order, every
    target with one at least; 'uneven', target 0 with 40 synapses, the
    others with 2 or 3. Targets j and j + 5 (and j + 10) spike together (see
    SPIKES), so that in 'uneven' targets 0, 5 and 10 are laid flat and the
    others padded."""
    rng = np.random.default_rng(8)
    if layout == "all":
        M, N = 6, 7
        pre, post = all_to_all(M, N, "source")
    elif layout == "sparse":
        M, N = 9, 6
        pairs = [(i, j) for i in range(M) for j in range(N) if rng.random() < 0.5 or i == 2 + j]
        pre, post = (np.array(a) for a in zip(*[pairs[k] for k in rng.permutation(len(pairs))]))
    else:
        M, N = 40, 11
        pairs = [(i, 0) for i in range(M)] + [(i, j) for j in range(1, N) for i in (0, 2 + j, 20 + j)[:2 + j % 2]]
        pre, post = (np.array(a) for a in zip(*pairs))
    return M, N, pre, post


def apply_rule(code, layout, apply, n_steps, name, w=None):
    """The rule ``code`` applied by ``apply`` to the synapses of ``layout``
    for ``n_steps`` (initial weights ``w``, random by default); the
    synapses' pre, post, initial and final weights."""
    M, N, pre, post = layout_synapses(layout)
    A = NeuronGroup(M, "", name="paths_a")
    B = NeuronGroup(N, "", threshold=SPIKES, name="paths_b")
    S = Synapses(A, B, "w : 1", name="paths_s")
    S.connect(i=pre, j=post)
    w = 0.1 + weights(pre, post, 9) if w is None else np.full(len(pre), w)
    S.w = w
    rule = HeteroRule(code, name=name)
    rule.apply_to(S, **apply)
    Network(A, B, S, rule).run(n_steps * defaultclock.dt)
    return pre, post, w, np.asarray(S.w[:])


@pytest.mark.parametrize("layout, apply, path", [
    ("sparse", dict(every=0.5 * ms), "flat, every neuron"),
    ("sparse", dict(on="post_spike"), "flat, one neuron"),
    ("uneven", dict(on="post_spike"), "flat"),
    ("uneven", dict(on="post_spike"), "padded, masked"),
    ("all", dict(on="post_spike"), "grid, some neurons"),
    ("all", dict(every=0.5 * ms), "grid, every neuron"),
])
def test_every_reduction_on_every_layout(numpy_target, layout, apply, path):
    n_steps = 11
    pre, post, w, got = apply_rule(REDUCTIONS, layout, apply, n_steps, "paths_reductions")
    N = int(post.max()) + 1
    if "every" in apply:
        applications = [range(N)] * 3
    else:
        applications = [[j for j in range(N) if (s + 2 * j) % 5 == 0] for s in range(n_steps)]
    expected = reduced(w, pre.tolist(), post.tolist(), applications)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert numpy_paths[path] > 0, dict(numpy_paths)


@pytest.mark.parametrize("layout, apply, path", [
    ("sparse", dict(every=0.5 * ms), "flat, every neuron"),
    ("uneven", dict(on="post_spike"), "flat"),
    ("uneven", dict(on="post_spike"), "padded, masked"),
    ("all", dict(on="post_spike"), "grid, some neurons"),
])
def test_argmax_takes_the_first_of_equal_values_or_none(numpy_target, layout, apply, path):
    # equal weights at first: the first sibling of input other than 2; no
    # sibling of an input above 100: -1
    code = ("top = argmax(w_sib, i_sib != 2)\nnone = argmax(w_sib, i_sib > 100)\n"
            "w_sib = 0.5 + 0.1 * int(i_sib == top) + 0.01 * none + 0.001 * i_sib")
    n_steps = 11
    pre, post, w, got = apply_rule(code, layout, apply, n_steps, "paths_argmax", w=0.5)
    N = int(post.max()) + 1
    if "every" in apply:
        applications = [range(N)] * 3
    else:
        applications = [[j for j in range(N) if (s + 2 * j) % 5 == 0] for s in range(n_steps)]
    w = w.tolist()
    for targets in applications:
        for t in targets:
            sib = [k for k in range(len(post)) if post[k] == t]
            others = [k for k in sib if pre[k] != 2]
            top = pre[max(others, key=lambda k: (w[k], -k))] if others else -1
            for k in sib:
                w[k] = 0.5 + 0.1 * (pre[k] == top) + 0.01 * -1 + 0.001 * pre[k]
    np.testing.assert_allclose(got, w, rtol=0, atol=TOLERANCE)
    assert numpy_paths[path] > 0, dict(numpy_paths)


@pytest.mark.parametrize("layout, apply, path", [
    ("sparse", dict(every=1 * ms), "flat, every neuron"),
    ("uneven", dict(on="post_spike"), "flat"),
    ("uneven", dict(on="post_spike"), "padded, masked"),
    ("all", dict(every=1 * ms), "grid, every neuron"),
])
def test_sums_on_every_layout_add_in_the_order_of_the_language(numpy_target, layout, apply, path):
    # one application to every target (every=, step 0), or to targets 0, 5
    # and 10 (step 0, flat) and 2 and 7 (step 1, padded), of a sum whose
    # rounding depends on the order: bit for bit
    pre, post, w, got = apply_rule("tot = sum(w_sib * 1e16 - w_sib)\nw_sib = tot / 1e16", layout, apply, 2,
                                   "paths_sums")
    expected = w.copy()
    for t in (range(int(post.max()) + 1) if "every" in apply else (0, 5, 10, 2, 7)):
        sib = np.flatnonzero(post == t)
        lanes = np.zeros(LANES)
        for k, v in enumerate(w[sib] * 1e16 - w[sib]):
            lanes[k % LANES] += v
        expected[sib] = eval(pairwise([f"lanes[{k}]" for k in range(LANES)])) / 1e16
    np.testing.assert_array_equal(got, expected)
    assert numpy_paths[path] > 0, dict(numpy_paths)


def test_lane_sums_add_in_the_order_of_the_language():
    # every width, in the language's order: sibling k to running sum k % LANES,
    # each from 0.0 in sibling order, then the pairwise combination
    namespace = {}
    code = normalise_multiplicative(W_total=1.0, eta=0.5)._code_for("neuron")
    source = render("numpy", "rule", fname="f", code=print_rule(code, "numpy", "f"), params=(),
                    mode="neuron", lanes=LANES)
    exec(compile(source, "<lanes>", "exec"), namespace)
    rng = np.random.default_rng(11)
    for c in list(range(1, 3 * LANES + 2)) + [100, 1000]:
        values = rng.standard_normal((5, c)) * 10.0 ** rng.integers(-12, 12, (5, c))
        values[0] = -0.0
        lanes = np.zeros((5, LANES))
        for k in range(c):
            lanes[:, k % LANES] = lanes[:, k % LANES] + values[:, k]
        got = namespace["_lanesum"](values)
        assert np.array_equal(got, lanes) and not np.signbit(got[0]).any(), c
        combined = eval(pairwise([f"lanes[:, {k}]" for k in range(LANES)]))
        assert np.array_equal(namespace["_combine"](got), combined), c


def test_the_numpy_code_keeps_freed_memory_unless_the_user_chose():
    # in processes of their own: the thresholds are set once per process
    script = (
        "from brian2 import *\n"
        "from brian2_hetero import allocator, normalise_multiplicative\n"
        "prefs.codegen.target = 'numpy'\n"
        "assert allocator.state is None\n"
        "G = NeuronGroup(2, '')\n"
        "S = Synapses(G, G, 'w : 1')\n"
        "S.connect()\n"
        "S.w = 1\n"
        "normalise_multiplicative(W_total=1.0).apply_to(S, every=defaultclock.dt)\n"
        "run(defaultclock.dt)\n"
        "print(allocator.state)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert ran.stdout.split()[-1:] == ["set"], ran.stdout + ran.stderr
    env["MALLOC_TRIM_THRESHOLD_"] = "131072"
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert ran.stdout.split()[-1:] == ["user"], ran.stdout + ran.stderr
