"""
One network holding every connectivity the rule must handle, each part with
its own target group and Synapses, built and run once per target (or one
network per part); and the plain-Python reference of each part.
"""

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    StateMonitor,
    Synapses,
    defaultclock,
    mV,
)

from brian2_hetero import bugmann2012
from reference import Pathway, simulate

M = 9  # inputs
N_STEPS = 300
POST_PERIOD = 7  # a neuron of the STDP part spikes every 7 steps


def poisson_spikes(rng, n_sources, n_steps, probability, grid):
    """Spikes only every `grid` steps, so that many of them coincide."""
    spikes = {}
    for step in range(grid, n_steps, grid):
        fired = np.flatnonzero(rng.random(n_sources) < probability)
        if fired.size:
            spikes[step] = fired.tolist()
    return spikes


def generator(spikes, n_sources, name):
    steps = sorted(spikes)
    indices = np.concatenate([spikes[s] for s in steps])
    times = np.concatenate([np.full(len(spikes[s]), s) for s in steps])
    return SpikeGeneratorGroup(n_sources, indices, times * defaultclock.dt, name=name)


def initial_weight(i, j):
    """Weights set by a string expression: varied, with zeros, the same on every target."""
    return ((i * 7 + j * 13) % 11) / 5.0 * (((i * 3 + j * 5) % 5) != 0)


WEIGHT_EXPRESSION = "((i * 7 + j * 13) % 11) / 5.0 * int(((i * 3 + j * 5) % 5) != 0)"
POST_SCHEDULE = f"(int(t / dt + 0.5) + 3 * i) % {POST_PERIOD} == 0"
RECURRENT_SCHEDULE = "(int(t / dt + 0.5) + 2 * i) % 5 == 0"
# the source group of the subgroups part: several neurons spike in most steps
SOURCE_SCHEDULE = "(int(t / dt + 0.5) * 5 + 3 * i) % 7 < 3"


def scheduled_spikes(n, rule):
    """Step -> neurons k (of n) for which rule(step, k) holds."""
    return {t: [k for k in range(n) if rule(t, k)] for t in range(N_STEPS)}


def inputs():
    rng = np.random.default_rng(2012)
    spikes = poisson_spikes(rng, M, N_STEPS - 5, probability=0.5, grid=3)
    sparse = rng.random((M, 6)) < 0.45
    sparse_i, sparse_j = np.nonzero(sparse)
    pools = {name: rng.uniform(0, 3, size=n) for name, n in PART_SIZES.items()}
    return spikes, (sparse_i, sparse_j), pools


# Size of the target group of each part.
PART_SIZES = {
    "source_major": 4,
    "target_major": 4,
    "explicit": 6,
    "probability": 5,
    "subgroups": 5,
    "recurrent": 6,
    "delays": 3,
    "stdp": 4,
    "shared": 3,
    "units": 3,
    "one_block": 4,
}
PARAMETERS = {
    "source_major": (1.7, 0.35),
    "target_major": (0.9, 0.6),
    "explicit": (1.2, 0.5),
    "probability": (2.5, 0.25),
    "subgroups": (1.0, 0.8),
    "recurrent": (0.6, 0.4),
    "delays": (1.3, 0.45),
    "stdp": (2.0, 0.3),
    "shared_a": (1.1, 0.5),
    "shared_b": (0.4, 0.9),
    "units": (3.0, 0.8),
    "one_block": (1.4, 0.55),
    "one_block_2": (0.7, 0.3),
}


def second_weight(i, j):
    """The initial values of the second rule's weights in the one_block part."""
    return ((i * 5 + j * 3) % 7) / 4.0


SECOND_WEIGHT_EXPRESSION = "((i * 5 + j * 3) % 7) / 4.0"
ONE_BLOCK_CONDITION = "(i + 2 * j) % 3 != 0"


def stdp_on_post(w):
    return 0.5 * w + 0.1


def build(only=None):
    """
    The network of every part, or of part ``only`` alone, and a function
    returning every result. The objects of a part alone have the same names
    whichever the part (``part_targets``, ``syn_0``, ``rule_0``, ...), so that
    Cython compiles only the code in which parts differ.
    """
    spikes, (sparse_i, sparse_j), pools = inputs()
    P = generator(spikes, M, "inputs")
    objects = [P]
    groups, synapses = {}, {}
    wanted = (lambda name: True) if only is None else (lambda name: name == only)
    counts = {}

    def part(name, model="", threshold=None, unit=""):
        G = NeuronGroup(
            PART_SIZES[name], f"v : {unit or 1}\npool : {unit or 1}\n{model}",
            threshold=threshold, name="part_targets" if only else f"{name}_targets",
        )
        G.pool = pools[name] * (mV if unit else 1)
        groups[name] = G
        objects.append(G)
        return G

    def named(kind, name):
        """An object's name: its part's, or the same for every part alone."""
        if only is None:
            return f"{kind}_{name}"
        counts[kind] = counts.get(kind, -1) + 1
        return f"{kind}_{counts[kind]}"

    def rule(name, **kwds):
        W0, eta = PARAMETERS[name]
        return bugmann2012(W0=W0 * (mV if kwds.pop("unit", "") else 1), eta=eta,
                           name=named("rule", name), **kwds)

    def syn(name, source, target, rule_name=None, unit="", **kwds):
        getw = rule(rule_name or name, unit=unit)
        S = Synapses(
            source, target, f"w : {unit or 1}", on_pre="v_post += getw(i, j)",
            namespace={"getw": getw}, name=named("syn", rule_name or name), **kwds,
        )
        synapses[rule_name or name] = S
        objects.extend([S, getw])
        return S

    monitor = None
    if wanted("source_major"):
        G = part("source_major")
        S = syn("source_major", P, G)
        S.connect()
        W = np.array([[initial_weight(i, j) for j in range(len(G))] for i in range(M)])
        S.w[:] = W.flatten()  # all-to-all synapses come in source-major order
        monitor = StateMonitor(S, "w", record=np.arange(M * len(G)), name="monitor")
        objects.append(monitor)

    if wanted("target_major"):
        G = part("target_major")
        S = syn("target_major", P, G)
        S.connect(i="k for k in range(N_pre)")
        S.w = WEIGHT_EXPRESSION

    if wanted("explicit"):
        G = part("explicit")
        S = syn("explicit", P, G)
        S.connect(i=sparse_i, j=sparse_j)
        S.w = WEIGHT_EXPRESSION

    if wanted("probability"):
        G = part("probability")
        S = syn("probability", P, G)
        S.connect(p=0.5)
        S.w = WEIGHT_EXPRESSION

    if wanted("subgroups"):
        G = part("subgroups")
        Q = NeuronGroup(M, "", threshold=SOURCE_SCHEDULE, name="scheduled_inputs")
        objects.append(Q)
        S = syn("subgroups", Q[2:7], G[1:4])
        S.connect()
        S.w = WEIGHT_EXPRESSION

    # source == target: the group's own spikes, on a fixed schedule
    if wanted("recurrent"):
        G = part("recurrent", threshold=RECURRENT_SCHEDULE)
        S = syn("recurrent", G, G)
        S.connect(condition="i != j and (i + j) % 3 != 0")
        S.connect(condition="i != j and (i + j) % 3 == 0")  # two connect calls
        S.w = WEIGHT_EXPRESSION

    if wanted("delays"):
        G = part("delays")
        S = syn("delays", P, G)
        S.connect()
        S.w = WEIGHT_EXPRESSION
        S.delay = "((i + 2 * j) % 4) * dt"

    # STDP-like: each spike of a target neuron changes its synapses' w
    if wanted("stdp"):
        G = part("stdp", threshold=POST_SCHEDULE)
        S = syn("stdp", P, G, on_post="w = 0.5 * w + 0.1")
        S.connect()
        S.w = WEIGHT_EXPRESSION

    # two Synapses, each with its own rule, onto one pool
    if wanted("shared"):
        G = part("shared")
        for name in ("shared_a", "shared_b"):
            S = syn(name, P, G, rule_name=name)
            S.connect(condition="(i + j) % 2 == 0" if name == "shared_a" else None)
            S.w = WEIGHT_EXPRESSION

    if wanted("units"):
        G = part("units", unit="volt")
        S = syn("units", P, G, unit="volt")
        S.connect()
        S.w = WEIGHT_EXPRESSION + " * mV"

    # two rules on variables of their own, called in one on_pre code block
    if wanted("one_block"):
        G = part("one_block", model="v2 : 1\npool2 : 1")
        G.pool2 = pools["one_block"][::-1]
        first = rule("one_block")
        second = rule("one_block_2", w="w2", pool="pool2")
        S = Synapses(P, G, "w : 1\nw2 : 1", on_pre="v_post += getw(i, j)\nv2_post += getw2(i, j)",
                     namespace={"getw": first, "getw2": second}, name=named("syn", "one_block"))
        S.connect(condition=ONE_BLOCK_CONDITION)
        S.w = WEIGHT_EXPRESSION
        S.w2 = SECOND_WEIGHT_EXPRESSION
        synapses["one_block"] = S
        objects.extend([S, first, second])

    net = Network(*objects)

    def results():
        # copies: from brian2 2.10 on, Brian's arrays are views that die with the network
        out = {} if monitor is None else {"monitor_w": np.array(monitor.w)}
        for name, G in groups.items():
            out[name] = {"pool": np.array(G.pool[:] / (mV if name == "units" else 1)),
                         "v": np.array(G.v[:] / (mV if name == "units" else 1))}
        for name, S in synapses.items():
            scale = mV if name == "units" else 1
            out[name + "_synapses"] = {
                "i": np.array(S.i[:]), "j": np.array(S.j[:]),
                "pre": np.array(S._synaptic_pre[:]), "post": np.array(S._synaptic_post[:]),
                "w": np.array(S.w[:] / scale),
            }
        if "one_block" in groups:
            out["one_block_synapses"]["w2"] = np.array(synapses["one_block"].w2[:])
            out["one_block"]["pool2"] = np.array(groups["one_block"].pool2[:])
            out["one_block"]["v2"] = np.array(groups["one_block"].v2[:])
        return out

    return net, results


def run_parts(apart=False):
    """Every part's results: from one network, or (``apart``) from one
    network per part, each with the same object names."""
    if not apart:
        net, results = build()
        net.run(N_STEPS * defaultclock.dt)
        return results()
    out = {}
    for name in PART_SIZES:
        net, results = build(only=name)
        net.run(N_STEPS * defaultclock.dt)
        out.update(results())
    return out


def reference(result, name):
    """
    The plain-Python reference of part ``name``, from the connectivity the
    target built (``result``): (final pool, final weights, per-neuron sum of
    returned values, weights at the start of every step).
    """
    spikes, _, pools = inputs()
    names = ["shared_a", "shared_b"] if name == "shared" else [name]
    pool = list(pools[name])
    pathways = []
    for rule_name in names:
        syn = result[rule_name + "_synapses"]
        i, j = syn["i"], syn["j"]
        W0, eta = PARAMETERS[rule_name]
        kwds = {}
        source_spikes = spikes
        if name == "subgroups":
            # Q[2:7] -> G[1:4]: i counts from neuron 2 of Q, the pool from neuron 0 of G
            source_spikes = scheduled_spikes(5, lambda t, k: ((t * 5 + 3 * (k + 2)) % 7) < 3)
            targets = j + 1
        else:
            targets = j
        if name == "recurrent":
            source_spikes = scheduled_spikes(PART_SIZES[name], lambda t, k: (t + 2 * k) % 5 == 0)
        if name == "delays":
            kwds["delay"] = [(a + 2 * b) % 4 for a, b in zip(i, j)]
        if name == "stdp":
            kwds["post_spikes"] = scheduled_spikes(
                PART_SIZES[name], lambda t, k: (t + 3 * k) % POST_PERIOD == 0
            )
            kwds["on_post"] = stdp_on_post
        w = [initial_weight(a, b) for a, b in zip(i, j)]
        pathway = Pathway(i, targets, w, W0, eta, **kwds)
        pathways.append((pathway, source_spikes))
    for pathway, source_spikes in pathways:
        pathway.schedule(source_spikes)
    pathways = [p for p, _ in pathways]
    pool, history = simulate(pathways, pool, N_STEPS)
    received = np.zeros(PART_SIZES[name])
    for pathway in pathways:
        for t, value in pathway.received.items():
            received[t] += value
    return np.array(pool), [np.array(p.w) for p in pathways], received, history
