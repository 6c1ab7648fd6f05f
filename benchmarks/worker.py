"""
Run one implementation of the rule on one Brian target, in a process of its own.

Usage: ``python worker.py IMPLEMENTATION TARGET CASE BUILD RESULT [unoptimised]``

IMPLEMENTATION is ``hetero`` (brian2_hetero's rule, synapses grouped by target),
``hetero_src`` (the same in Brian's default synapse order), ``plain`` (the
network without the rule: Brian's own cost), ``relay`` (the
relay-neuron network in plain Brian) or ``netop`` (a network_operation); TARGET is
``numpy``, ``cython`` or ``cpp_standalone``. CASE is the ``.npz`` file written
by ``run.py``; BUILD the folder for Cython's cache (``brian`` for Brian's own) or for
the standalone project, left in place so that a second call with the same
folder measures a cached build; RESULT the prefix of the two output files: ``RESULT.json`` (times and
memory) and ``RESULT.npz`` (final weights and pools). ``unoptimised`` compiles
Brian's code at -O0 (the rule's own function keeps its pragmas), Cython's
into a cache of its own: the checks of ``run.py --quick``, whose times mean nothing.
"""

import json
import os
import sys
import time

import numpy as np

from procfs import high_water_mark

HERE = os.path.dirname(os.path.abspath(__file__))


def load_case(path):
    with np.load(path) as data:
        case = {key: data[key] for key in data.files}
    for key in ("M", "N", "n_steps"):
        case[key] = int(case[key])
    for key in ("dt", "W0", "eta", "p"):
        case[key] = float(case[key])
    return case


def inputs(case, **kwds):
    from brian2 import SpikeGeneratorGroup, second

    return SpikeGeneratorGroup(
        case["M"], case["sources"], case["steps"] * case["dt"] * second, name="inputs", **kwds
    )


def _hetero(case, order, rule=True):
    """A rule call per synaptic event, on the Synapses' own w and the targets' pool."""
    from brian2 import NeuronGroup, Synapses

    from brian2_hetero import bugmann2012

    M, N = case["M"], case["N"]
    P = inputs(case)
    G = NeuronGroup(N, "v : 1\npool : 1", name="targets")
    G.pool = case["pool_init"]
    if rule:
        getw = bugmann2012(W0=case["W0"], eta=case["eta"], name="getw")
        S = Synapses(P, G, "w : 1", on_pre="v_post += getw(i, j)", namespace={"getw": getw},
                     name="synapses")
    else:
        S = Synapses(P, G, "w : 1", on_pre="v_post += w", name="synapses")
    pre, post = case[order]
    if case["p"] < 1:
        S.connect(i=pre, j=post)
    elif order == "by_target":
        S.connect(i="k for k in range(N_pre)")  # Brian creates these target by target
    else:
        S.connect()
    S.w[:] = case["w_init"][pre, post]

    def result():
        W = np.full((M, N), np.nan)
        W[np.asarray(S.i[:]), np.asarray(S.j[:])] = np.asarray(S.w[:])
        return W, np.array(G.pool[:])

    return [P, G, S], result


def hetero(case):
    """Synapses grouped by target: the synapses onto one neuron are contiguous."""
    return _hetero(case, "by_target")


def hetero_src(case):
    """Brian's default order of connect(): synapse by synapse of each source."""
    return _hetero(case, "by_source")


def plain(case):
    """
    The same network, spikes and synapse order as ``hetero``, without the rule:
    what Brian itself takes to deliver the spikes on the target, which no
    implementation of the rule can save.
    """
    return _hetero(case, "by_target", rule=False)


def relay(case):
    """
    The relay-neuron network: one neuron per synapse, which spikes when its
    input spikes; it takes from its target's pool, then every stronger sibling
    (a relay neuron of the same target) gives to it through a synapse, then
    it passes its weight on to the target.
    """
    from brian2 import NeuronGroup, Synapses

    M, N = case["M"], case["N"]
    P = inputs(case, when="before_thresholds", order=0)
    G = NeuronGroup(N, "v : 1\npool : 1", name="targets")
    G.pool = case["pool_init"]
    R = NeuronGroup(
        M * N,
        """w : 1
        w_before : 1
        pre_idx : integer (constant)
        post_idx : integer (constant)
        received_spike : boolean""",
        threshold="received_spike",
        reset="received_spike = False",
        name="relay",
    )
    # relay neuron j*M + i stands for the synapse from input i to target j
    R.pre_idx = np.tile(np.arange(M), N)
    R.post_idx = np.repeat(np.arange(N), M)
    R.w = case["w_init"].T.ravel()
    names = dict(M=M, n_targets=N, W0=case["W0"], eta=case["eta"])
    forward = Synapses(
        P, R, on_pre="w_before_post = w_post\nreceived_spike_post = True", name="forward"
    )
    forward.pre.when = "before_thresholds"
    forward.pre.order = 1
    forward.connect(j="i + k*M for k in range(n_targets)", namespace=names)
    to_target = Synapses(
        R,
        G,
        on_pre={
            "from_pool": "taken = eta*pool_post\nw_pre += taken\npool_post -= taken",
            "transmit": "v_post += w_pre",
        },
        namespace=names,
        name="to_target",
    )
    to_target.from_pool.order = 0
    to_target.transmit.order = 2
    to_target.connect(j="post_idx_pre")
    siblings = Synapses(
        R,
        R,
        on_pre="""d = int(w_post > w_before_pre) * w_post*(w_post - w_before_pre)/(W0 + w_post)
        w_pre += d
        w_post -= d""",
        namespace=names,
        name="siblings",
    )
    siblings.pre.order = 1
    siblings.connect(j="k for k in range(post_idx_pre*M, post_idx_pre*M + M) if k != i", namespace=names)

    def result():
        W = np.asarray(R.w[:]).reshape(N, M).T
        return W, np.array(G.pool[:])

    return [P, G, R, forward, to_target, siblings], result


def netop(case):
    """A network_operation that applies the rule to the spikes of each step."""
    from brian2 import NeuronGroup, Synapses, network_operation

    M, N, W0, eta = case["M"], case["N"], case["W0"], case["eta"]
    P = inputs(case)
    G = NeuronGroup(N, "v : 1\npool : 1", name="targets")
    G.pool = case["pool_init"]
    S = Synapses(P, G, "w : 1", on_pre="v_post += w", name="synapses")
    S.connect()
    S.w = case["w_init"].ravel()
    # all-to-all connections are created source by source: synapse i*N + j
    W = S.variables["w"].get_value().reshape(M, N)
    pool = G.variables["pool"].get_value()
    spikespace = P.variables["_spikespace"].get_value()

    @network_operation(when="before_synapses", name="redistribute")
    def redistribute():
        for i in spikespace[: spikespace[-1]]:
            x = W[i].copy()
            given = np.where(W > x, W * (W - x) / (W0 + W), 0.0)
            W[...] -= given
            from_pool = eta * pool
            W[i] = x + given.sum(axis=0) + from_pool
            pool[...] -= from_pool

    def result():
        return W.copy(), pool.copy()

    return [P, G, S, redistribute], result


IMPLEMENTATIONS = {"hetero": hetero, "hetero_src": hetero_src, "plain": plain, "relay": relay,
                   "netop": netop}


def main(argv):
    implementation, target, case_file, build, result_prefix, *mode = argv
    if mode not in ([], ["unoptimised"]):
        raise SystemExit(f"worker.py: unknown mode {mode}")
    from brian2 import Network, defaultclock, device, get_device, prefs, second, set_device
    from brian2_hetero import allocator

    # every implementation runs with the allocator settings of the numpy code of rules
    allocator.keep_freed_memory()

    case = load_case(case_file)
    defaultclock.dt = case["dt"] * second
    duration = case["n_steps"] * case["dt"] * second
    standalone = target == "cpp_standalone"
    if mode:
        flags = prefs.codegen.cpp.extra_compile_args_gcc
        prefs.codegen.cpp.extra_compile_args_gcc = [f for f in flags if not f.startswith("-O")] + ["-O0", "-g0"]
        # (Brian's cache key ignores the flags: these modules must not land in its own cache)
        if build == "brian":
            raise SystemExit("worker.py: unoptimised modules need a Cython cache of their own, not 'brian'")
    if standalone:
        set_device("cpp_standalone", directory=build, build_on_run=False)
        rss_file = os.path.join(os.path.abspath(build), "peak_rss.txt")
        prefs.devices.cpp_standalone.run_cmd_unix = [
            sys.executable,
            os.path.join(HERE, "peakrss.py"),
            rss_file,
            "./main",
        ]
    else:
        prefs.codegen.target = target
        if build != "brian":
            prefs.codegen.runtime.cython.cache_dir = os.path.abspath(build)
    # Everything but the simulation loop counts as build time: creating the
    # objects and synapses, code generation, compilation, loading the results.
    start = time.perf_counter()
    objects, result = IMPLEMENTATIONS[implementation](case)
    net = Network(*objects)
    net.run(duration)
    if standalone:
        device.build(directory=build, compile=True, run=False, with_output=False)
        device.run(directory=build, with_output=False)
        run_seconds = device._last_run_time
        with open(rss_file) as f:
            peak = int(f.read())
    else:
        run_seconds = get_device()._last_run_time
        peak = high_water_mark()
    build_seconds = time.perf_counter() - start - run_seconds
    W, pool = result()
    np.savez(result_prefix + ".npz", W=W, pool=pool)
    with open(result_prefix + ".json", "w") as f:
        json.dump({"build_s": build_seconds, "run_s": run_seconds, "peak_bytes": peak}, f)


if __name__ == "__main__":
    main(sys.argv[1:])
