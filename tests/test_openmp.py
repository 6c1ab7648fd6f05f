"""
cpp_standalone with OpenMP: every trigger, every built-in rule and a user
rule, on all-to-all connectivity (with heterogeneous delays) and on sparse
connectivity in a scattered synapse order, with about 14 coincident input
spikes every other step and 7 or 8 spiking targets in every step, with 0, 2
and 3 threads (one standalone build each). The results are the same bits whatever the number of threads,
and their plain-Python references' within 1e-12.

The rules are called from code that uses only synaptic variables, which
Brian would split among the threads; the synapses onto one neuron lie in
every thread's share of the synapses, which Brian would deliver in an order
that depends on the number of threads.
"""

import glob
import re
import tempfile

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, Synapses, defaultclock, device, ms

from brian2_hetero import (
    HeteroRule,
    bugmann2012,
    field2020,
    normalise_multiplicative,
    normalise_subtractive,
    redistribution,
)
import reference as plain
from conftest import Target
from test_triggers import TOWARD_MEAN

THREADS = (0, 2, 3)
TOLERANCE = 1e-12
M, N = 24, 30
N_STEPS = 40
PERIOD_STEPS = 7
# the targets spike on a schedule: about one in four in every step
THRESHOLD = "(int(t / dt + 0.5) + 3 * i) % 4 == 0"
DELAY = "((i + 2 * j) % 3) * dt"

USER_RULE = """
total = sum(w_sib)
n = count()
w_sib += beta * (total / n - w_sib)
top = max(w_sib)
low = min(w_sib)
spread_post = top - low
n_weak = count(w_sib < 0.5 * top)
w += gain * n_weak
"""



def ref_bugmann(w, s, sib, nrn, W0=1.5, eta=0.3):
    plain.apply_spike(w, nrn["pool"], {nrn["j"]: sib}, s, nrn["j"], W0, eta)


def ref_user(w, s, sib, nrn, beta=0.2, gain=0.01):
    mean = sum(w[k] for k in sib) / len(sib)
    for k in sib:
        w[k] += beta * (mean - w[k])
    top = max(w[k] for k in sib)
    nrn["spread"][nrn["j"]] = top - min(w[k] for k in sib)
    w[s] += gain * sum(1 for k in sib if w[k] < 0.5 * top)


def ref_toward_mean(w, s, sib, nrn, beta=0.3):
    total = sum(w[k] for k in sib)
    for k in sib:
        w[k] += beta * (total / len(sib) - w[k])
    nrn["spread"][nrn["j"]] = max(w[k] for k in sib) - total / len(sib)


# name: (the rule acting on w_<name>, its reference)
RULES = {
    "bugmann": (lambda: bugmann2012(W0=1.5, eta=0.3, w="w_bugmann", name="omp_bugmann"), ref_bugmann),
    "mult": (lambda: normalise_multiplicative(W_total=2.0, eta=0.5, w="w_mult", name="omp_mult"),
             lambda w, s, sib, nrn: plain.multiplicative(w, s, sib, W_total=2.0, eta=0.5)),
    "sub": (lambda: normalise_subtractive(W_total=1.0, w="w_sub", name="omp_sub"),
            lambda w, s, sib, nrn: plain.subtractive(w, s, sib, W_total=1.0)),
    "field": (lambda: field2020(w="w_field", name="omp_field"),
              lambda w, s, sib, nrn: plain.strongest_other(w, s, sib, 1.65, 0.62)),
    "redistribution": (lambda: redistribution(alpha=0.1, w="w_redistribution", name="omp_redistribution"),
                       lambda w, s, sib, nrn: plain.redistribution(w, s, sib, alpha=0.1)),
    "user": (lambda: HeteroRule(USER_RULE, parameters={"beta": 0.2, "gain": 0.01},
                                variables={"w": "w_user"}, name="omp_user"), ref_user),
}
# the rules applied once per neuron (named omp_<trigger>_<connectivity>)
TRIGGERS = {
    "post_spike": (lambda name: normalise_multiplicative(W_total=2.0, eta=0.5, w="w_post_spike", name=name),
                   RULES["mult"][1]),
    "pre_spike": (lambda name: normalise_multiplicative(W_total=2.0, eta=0.5, w="w_pre_spike", over="pre",
                                                        name=name), RULES["mult"][1]),
    "every": (lambda name: HeteroRule(TOWARD_MEAN, parameters={"beta": 0.3}, variables={"w": "w_every"},
                                      name=name), ref_toward_mean),
}
KINDS = ("all", "sparse")
# (connectivity, trigger, rule)
CASES = [(kind, "on_pre", rule) for kind in KINDS for rule in RULES]
CASES += [(kind, trigger, trigger) for kind in KINDS for trigger in TRIGGERS]


def inputs():
    rng = np.random.default_rng(16)
    pairs = rng.permutation(M * N)[: M * N * 2 // 5]
    spikes = {step: np.flatnonzero(rng.random(M) < 0.6).tolist() for step in range(1, N_STEPS - 2, 2)}
    return (pairs // N, pairs % N), rng.uniform(0.1, 1.0, size=(M, N)), rng.uniform(0, 2, size=N), spikes


def connectivity(kind):
    """(pre, post, delay in steps) of every synapse, in synapse order."""
    (sparse_i, sparse_j), _, _, _ = inputs()
    if kind == "sparse":
        return sparse_i, sparse_j, np.zeros(len(sparse_i), dtype=int)
    pre, post = np.repeat(np.arange(M), N), np.tile(np.arange(N), M)  # connect()'s order
    return pre, post, (pre + 2 * post) % 3


def network():
    """The objects of every case (names 'omp_...') and a function reading
    their results after the run: (kind, trigger, rule) -> w, pool, spread."""
    _, w, pool, spikes = inputs()
    steps = sorted(spikes)
    P = SpikeGeneratorGroup(M, np.concatenate([spikes[s] for s in steps]),
                            np.concatenate([[s] * len(spikes[s]) for s in steps]) * defaultclock.dt,
                            name="omp_inputs")
    objects, found = [P], {}
    for kind in KINDS:
        # all rules in one code block, each on a weight of its own, with
        # synaptic variables only: Brian would split it among the threads
        G = NeuronGroup(N, "pool : 1\nspread : 1", name=f"omp_{kind}_targets")
        G.pool = pool
        rules = {name: make() for name, (make, _) in RULES.items()}
        S = Synapses(P, G, "".join(f"w_{name} : 1\nx_{name} : 1\n" for name in RULES),
                     on_pre="\n".join(f"x_{name} = rule_{name}(i, j)" for name in RULES),
                     namespace={f"rule_{name}": rule for name, rule in rules.items()}, name=f"omp_{kind}")
        pre, post, _ = connectivity(kind)
        if kind == "sparse":
            S.connect(i=pre, j=post)
        else:
            S.connect()
            S.delay = DELAY
        for name in RULES:
            setattr(S, f"w_{name}", w[pre, post])
            found[kind, "on_pre", name] = G, S, f"w_{name}"
        objects += [G, S]
    for kind in KINDS:
        G = NeuronGroup(N, "spread : 1", threshold=THRESHOLD, reset="", name=f"omp_{kind}_spiking")
        S = Synapses(P, G, "".join(f"w_{trigger} : 1\n" for trigger in TRIGGERS), name=f"omp_{kind}_triggers")
        pre, post, _ = connectivity(kind)
        S.connect(i=pre, j=post)
        for trigger, (make, _) in TRIGGERS.items():
            setattr(S, f"w_{trigger}", w[pre, post])
            rule = make(f"omp_{trigger}_{kind}")
            if trigger == "every":
                rule.apply_to(S, every=PERIOD_STEPS * defaultclock.dt)
            else:
                rule.apply_to(S, on=trigger)
            found[kind, trigger, trigger] = G, S, f"w_{trigger}"
        objects += [G, S]

    def read():
        return {case: dict(w=np.array(getattr(S, name)[:]), spread=np.array(G.spread[:]),
                           **({"pool": np.array(G.pool[:])} if "pool" in G.variables else {}))
                for case, (G, S, name) in found.items()}

    return objects, read


def reference(case):
    """The final w of ``case`` (kind, trigger, rule), and the pool or the
    spread if the rule writes them."""
    kind, trigger, rule_name = case
    pre, post, delay = connectivity(kind)
    _, w, pool, spikes = inputs()
    w = list(w[pre, post])
    nrn = dict(pool=list(pool), spread=[0.0] * N)
    apply = (RULES if trigger == "on_pre" else TRIGGERS)[rule_name][1]
    ends = pre if trigger == "pre_spike" else post

    def siblings(neuron):
        return [k for k in range(len(w)) if ends[k] == neuron]

    # Brian's delivery order: the step a source spiked, the source, the synapse
    arrivals = {}
    for step in sorted(spikes):
        for source in sorted(spikes[step]):
            for s in np.flatnonzero(pre == source):
                arrivals.setdefault(step + delay[s], []).append(int(s))
    for step in range(N_STEPS):
        if trigger == "on_pre":
            for s in arrivals.get(step, ()):
                nrn["j"] = int(post[s])
                apply(w, s, siblings(post[s]), nrn)
            continue
        if trigger == "post_spike":
            neurons = [j for j in range(N) if (step + 3 * j) % 4 == 0]
        elif trigger == "pre_spike":
            neurons = sorted(spikes.get(step, ()))
        else:
            neurons = range(N) if step % PERIOD_STEPS == 0 else ()
        for neuron in neurons:
            nrn["j"] = neuron
            if siblings(neuron):
                apply(w, None, siblings(neuron), nrn)
    written = {"bugmann": "pool", "user": "spread", "every": "spread"}.get(rule_name)
    return dict(w=np.array(w), **({written: np.array(nrn[written])} if written else {}))


_projects = {}


def project(threads):
    """Every case's results with ``threads`` OpenMP threads (0: without
    OpenMP), from one standalone build, and the project's directory."""
    if threads in _projects:
        return _projects[threads]
    directory = tempfile.mkdtemp(prefix=f"brian2_hetero_omp{threads}_")
    t = Target("cpp_standalone", directory, threads)
    t.activate()
    try:
        defaultclock.dt = 0.1 * ms
        objects, read = network()
        Network(*objects).run(N_STEPS * defaultclock.dt)
        results = read()
    finally:
        t.reset()
    _projects[threads] = results, directory
    return _projects[threads]


def _arrays(results):
    """(case, name) -> array, of every array in a project's results."""
    return {(case, name): array for case, values in results.items() for name, array in values.items()}


@pytest.mark.parametrize("threads", THREADS[1:])
def test_the_same_bits_with_every_number_of_threads(threads):
    without = _arrays(project(0)[0])
    found = _arrays(project(threads)[0])
    assert found.keys() == without.keys() and len(found) > 2 * len(CASES)
    for path, array in without.items():
        assert found[path].dtype == array.dtype and found[path].tobytes() == array.tobytes(), path


@pytest.mark.parametrize("case", CASES, ids="-".join)
@pytest.mark.parametrize("threads", THREADS)
def test_every_case_matches_its_reference(threads, case):
    found, expected = project(threads)[0][case], reference(case)
    for name, values in expected.items():
        np.testing.assert_allclose(found[name], values, rtol=0, atol=TOLERANCE, err_msg=name)
    _, w, _, _ = inputs()
    pre, post, _ = connectivity(case[0])
    assert np.max(np.abs(found["w"] - w[pre, post])) > 1e-3  # the rule acted


def _block(source, start):
    """The text of the braces that open after ``start`` in ``source``."""
    begin = source.index("{", start)
    depth = 0
    for k in range(begin, len(source)):
        depth += {"{": 1, "}": -1}.get(source[k], 0)
        if depth == 0:
            return source[begin:k + 1]
    raise AssertionError("unbalanced braces")


def _run_function(directory, name):
    """The function that runs code object ``name`` (Brian may have added a
    number to the names) in the project in ``directory``."""
    (path,) = glob.glob(f"{directory}/code_objects/{name}*_codeobject*.cpp")
    with open(path) as f:
        source = f.read()
    return source[source.index("void _run_"):]


@pytest.mark.parametrize("threads", THREADS[1:])
def test_code_calling_a_rule_runs_on_one_thread_in_order(threads):
    # Brian splits a pathway's spiking synapses among the threads unless its
    # code uses a variable that is not synaptic; code calling a rule runs on
    # the master thread, in delivery order, whatever else it contains.
    _, directory = project(threads)
    main = _run_function(directory, "omp_sparse_pre")
    assert "#pragma omp parallel" in main and "omp for" not in main
    assert re.search(r"_hetero_\w+\(", _block(main, main.index("#pragma omp master")))
    # the pathway's spikes in one queue, in the order of one thread
    with open(f"{directory}/main.cpp") as f:
        # (once, for the six rules the code calls)
        assert f.read().count("the code of 'omp_sparse_pre' calls a rule: all its synapses in one spike queue") == 1


@pytest.mark.parametrize("threads", THREADS[1:])
def test_rules_applied_per_neuron_run_in_parallel(threads):
    _, directory = project(threads)
    for trigger in TRIGGERS:
        name = f"omp_{trigger}_sparse_omp_sparse_triggers_{trigger}"
        main = _run_function(directory, name)
        assert "#pragma omp parallel for schedule(static)" in main and re.search(r"_hetero_\w+\(", main)


def test_checks_and_run_args_with_threads(tmp_path, capfd):
    """The sibling index, run_args and the checks before and after a run, in
    a project built once with 2 threads and run four times."""
    spikes = {1: [0, 1, 2], 3: [2, 0], 4: [1]}
    pre, post = np.repeat(np.arange(3), 2), np.tile(np.arange(2), 3)
    t = Target("cpp_standalone", str(tmp_path), threads=2)
    t.activate(build_on_run=False)
    try:
        defaultclock.dt = 0.1 * ms
        steps = sorted(spikes)
        P = SpikeGeneratorGroup(3, np.concatenate([spikes[s] for s in steps]),
                                np.concatenate([[s] * len(spikes[s]) for s in steps]) * defaultclock.dt,
                                name="omp_checked_inputs")
        G = NeuronGroup(2, "v : 1\npool : 1", threshold="True", reset="", name="omp_checked_targets")
        G.pool = 1.0
        getw = bugmann2012(W0=1.0, eta=0.5, name="omp_checked_rule")
        # every neuron spikes in every step: on_post takes shrink from w
        S = Synapses(P, G, "w : 1\nshrink : 1", on_pre="v_post += getw(i, j)", on_post="w = w - shrink",
                     namespace={"getw": getw}, name="omp_checked")
        S.connect()
        S.w = 0.5
        Network(P, G, S).run(6 * defaultclock.dt)
        device.build(directory=str(tmp_path), run=False)
        W = np.array([0.3, 0.9, 1.4, 0.2, 0.7, 0.6])
        device.run(run_args={S.w: W})
        pathway = plain.Pathway(pre, post, W, 1.0, 0.5)
        pathway.schedule(spikes)
        pool, _ = plain.simulate([pathway], [1.0, 1.0], 6)
        np.testing.assert_allclose(S.w[:], pathway.w, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(G.pool[:], pool, rtol=0, atol=TOLERANCE)
        with pytest.raises(RuntimeError):
            device.run(run_args={S.w: np.ones(5)})
        assert "run_args gives omp_checked.w 5 values, but Synapses 'omp_checked' has 6" in capfd.readouterr().err
        # (given as Brian's command-line arguments, which only the program checks)
        np.array([1.0, np.inf]).tofile(tmp_path / "pool.dat")
        with pytest.raises(RuntimeError):
            device.run(run_args=[f"omp_checked_targets.pool={tmp_path / 'pool.dat'}"])
        assert "'omp_checked_targets' has pool = inf at neuron 1. Nothing was run." in capfd.readouterr().err
        with pytest.raises(FloatingPointError, match="After the run, Synapses 'omp_checked' has w = -"):
            device.run(run_args={S.w: W, S.shrink: 5.0})
    finally:
        t.reset()
