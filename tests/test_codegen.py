"""Generated code: reuse, re-runs, compile failures, Brian's code paths, shipping."""

import logging
import os
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
from brian2.units.fundamentalunits import DimensionMismatchError
from brian2 import (
    Function,
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    Synapses,
    defaultclock,
    device,
    mV,
    prefs,
    set_device,
)
from brian2.devices import reinit_devices

import brian2_hetero
from brian2_hetero import HeteroCompileError, bugmann2012
from brian2_hetero.render import TEMPLATE_FILES
from reference import Pathway, simulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPIKES = {2: [0, 2], 5: [1], 6: [0, 1, 2], 8: [1, 2]}
N_STEPS = 10


def network(W, pool, W0=1.0, eta=0.5, code="v_post += getw(i, j)", extra=None, unit=1):
    """Explicitly named objects, so that generated code is the same each time."""
    M, N = np.shape(W)
    steps = sorted(SPIKES)
    P = SpikeGeneratorGroup(
        M,
        np.concatenate([SPIKES[s] for s in steps]),
        np.concatenate([[s] * len(SPIKES[s]) for s in steps]) * defaultclock.dt,
        name="inputs",
    )
    units = "volt" if unit is mV else "1"
    G = NeuronGroup(N, f"v : {units}\npool : {units}", name="targets")
    G.pool = np.asarray(pool) * unit
    getw = bugmann2012(W0=W0 * unit, eta=eta, name="rule")
    S = Synapses(P, G, f"w : {units}", on_pre=code, name="syn",
                 namespace=dict(getw=getw, **(extra or {})))
    S.connect()
    S.w[:] = np.asarray(W).flatten() * unit
    return Network(P, G, S), getw, S, G


def expected(W, pool, W0=1.0, eta=0.5):
    """Final (W, pool, per-target sum of returned values) by the reference."""
    M, N = np.shape(W)
    pathway = Pathway(np.repeat(np.arange(M), N), np.tile(np.arange(N), M),
                      np.asarray(W).flatten(), W0, eta)
    pathway.schedule(SPIKES)
    pool, _ = simulate([pathway], list(pool), N_STEPS)
    received = [pathway.received.get(j, 0.0) for j in range(N)]
    return np.array(pathway.w).reshape(M, N), np.array(pool), np.array(received)


def check(S, G, W, pool, W0=1.0, eta=0.5, unit=1):
    W_end, pool_end, received = expected(W, pool, W0, eta)
    np.testing.assert_allclose(np.asarray(S.w[:] / unit), W_end.flatten(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(G.pool[:] / unit), pool_end, rtol=0, atol=1e-12)
    return received


def test_cython_module_is_reused_across_values_and_sizes():
    prefs._backup()
    prefs.codegen.target = "cython"
    try:
        modules = []
        for W, pool, W0, eta in (
            (np.full((3, 2), 0.5), [1.0, 2.0], 1.0, 0.5),
            (np.arange(12.0).reshape(4, 3), [0.0, 1.0, 5.0], 2.5, 0.1),
        ):
            net, getw, S, G = network(W, pool, W0, eta)
            net.run(N_STEPS * defaultclock.dt)
            check(S, G, W, pool, W0, eta)
            modules.append(S.pre.codeobj.compiled_code["run"].__name__)
            # new parameters for a second run of the same objects: same module
            getw.W0, getw.eta = 2 * W0, eta / 2
            net.run(0 * defaultclock.dt)
            modules.append(S.pre.codeobj.compiled_code["run"].__name__)
            del net, getw, S, G
        assert len(set(modules)) == 1
    finally:
        prefs._restore()


def test_new_parameters_between_runs(target):
    if target.standalone:  # two runs in one program
        target.reset()
        target.activate(build_on_run=False)
    W, pool = np.arange(6.0).reshape(3, 2) / 3, [1.0, 2.0]
    net, getw, S, G = network(W, pool)
    net.run(5 * defaultclock.dt)
    getw.W0 = 0.25
    getw.eta = 0.9
    net.run((N_STEPS - 5) * defaultclock.dt)
    if target.standalone:
        device.build(directory=target.directory)
    pathway = Pathway([0, 0, 1, 1, 2, 2], [0, 1] * 3, W.flatten(), 1.0, 0.5)
    pathway.schedule(SPIKES)
    pool = list(pool)
    for step in range(N_STEPS):
        if step == 5:
            pathway.W0, pathway.eta = 0.25, 0.9
        pathway.step(step, pool)
    np.testing.assert_allclose(S.w[:], pathway.w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(G.pool[:], pool, rtol=0, atol=1e-12)
    W_unchanged, _, _ = expected(W, [1.0, 2.0])
    assert np.abs(W_unchanged.flatten() - pathway.w).max() > 1e-3


def test_standalone_reruns_with_new_values_without_recompiling(tmp_path, capfd):
    prefs._backup()
    try:
        set_device("cpp_standalone", directory=str(tmp_path), build_on_run=False)
        W1, pool1 = np.full((3, 2), 0.5), [1.0, 2.0]
        net, getw, S, G = network(W1, pool1, unit=mV)
        net.run(N_STEPS * defaultclock.dt)
        device.build(directory=str(tmp_path), run=False)
        binary = os.path.join(str(tmp_path), "main")
        built = os.stat(binary).st_mtime_ns
        device.run()
        check(S, G, W1, pool1, unit=mV)
        for W, pool, W0, eta in (
            (np.arange(6.0).reshape(3, 2), [0.5, 4.0], 1.0, 0.5),
            (np.eye(3, 2) * 3, pool1, 0.2, 0.9),
            (np.arange(6.0).reshape(3, 2), [0.0, 0.0], 7.0, 0.0),
        ):
            device.run(run_args={S.w: W.flatten() * mV, G.pool: np.asarray(pool) * mV,
                                 getw.W0: W0 * mV, getw.eta: eta})
            check(S, G, W, pool, W0, eta, unit=mV)
        assert os.stat(binary).st_mtime_ns == built
        for args, text in (
            ({S.w: -np.ones(6) * mV}, "syn.w must be finite and non-negative, got -0.001 V at index 0"),
            ({G.pool: np.array([1.0, np.nan]) * mV}, "targets.pool must be finite and non-negative, got nan V at index 1"),
            ({getw.W0: 0 * mV}, "rule.W0 must be positive, got 0.0 V"),
            ({getw.W0: np.inf * mV}, "rule.W0 must be positive, got inf V"),
            ({getw.eta: 1.5}, "rule.eta must be in [0, 1], got 1.5"),
        ):
            with pytest.raises(ValueError) as info:
                device.run(run_args=args)
            assert text in str(info.value) and "Nothing was run" in str(info.value)
        for args, error, text in (
            ({getw.eta: "0.5"}, TypeError, "run_args: rule.eta must be given numbers, got '0.5'"),
            ({getw.eta: True}, TypeError, "run_args: rule.eta must be given numbers, got True"),
            ({getw.W0: 0.5}, DimensionMismatchError, "run_args: rule.W0 must have units of V"),
        ):
            with pytest.raises(error) as info:
                device.run(run_args=args)
            assert text in str(info.value)
        # the number of values: of the synapses (known to the program only), of the neurons
        with pytest.raises(RuntimeError):
            device.run(run_args={S.w: np.ones(7) * mV})
        err = capfd.readouterr().err
        assert ("run_args gives syn.w 7 values, but Synapses 'syn' has 6 synapses" in err
                and "Nothing was run" in err), err
        with pytest.raises(ValueError) as info:
            device.run(run_args={G.pool: np.ones(3) * mV})
        assert "run_args: targets.pool must be given one value or 2 (one per neuron), got 3 values" in str(info.value)
        # the last good values are still in place
        device.run(run_args={S.w: W.flatten() * mV, G.pool: np.asarray(pool) * mV,
                             getw.W0: W0 * mV, getw.eta: eta})
        check(S, G, W, pool, W0, eta, unit=mV)
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


def test_synapse_delivered_twice_in_one_step(target):
    # delays shortened while a spike is in flight: synapse (0, 0) receives
    # the spike of step 9 (over 3 steps) and the one of step 11 (over 1 step)
    # in step 12
    if target.standalone:  # two runs in one program
        target.reset()
        target.activate(build_on_run=False)
    P = SpikeGeneratorGroup(2, [0, 0], [9, 11] * defaultclock.dt, name="inputs")
    G = NeuronGroup(1, "v : 1\npool : 1", name="targets")
    G.pool = 1.0
    getw = bugmann2012(W0=1.0, eta=0.5, name="rule")
    S = Synapses(P, G, "w : 1", on_pre="v_post += getw(i, j)", namespace={"getw": getw}, name="syn")
    S.connect()
    S.w = [0.0, 2.0]
    S.delay = 3 * defaultclock.dt
    net = Network(P, G, S)
    net.run(10 * defaultclock.dt)
    S.delay = 1 * defaultclock.dt
    net.run(10 * defaultclock.dt)
    if target.standalone:
        device.build(directory=target.directory)
    pathway = Pathway([0, 1], [0, 0], [0.0, 2.0], 1.0, 0.5)
    pathway.arrivals = {12: [0, 0]}
    pool, _ = simulate([pathway], [1.0], 20)
    np.testing.assert_allclose(S.w[:], pathway.w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(G.pool[:], pool, rtol=0, atol=1e-12)
    np.testing.assert_allclose(G.v[:], pathway.received[0], rtol=0, atol=1e-12)


def test_numpy_per_synapse_fallback_gives_the_same_result(target):
    # Brian cannot vectorise this code on numpy and calls the rule one
    # synapse at a time; every target must still apply the rule in order.
    W, pool = np.arange(6.0).reshape(3, 2) / 4, [1.0, 3.0]
    net, getw, S, G = network(W, pool, code="v_post += getw(i, j) * (2 - v_post)")
    net.run(N_STEPS * defaultclock.dt)
    check(S, G, W, pool)
    W_end, _, _ = expected(W, pool)
    assert np.abs(W_end - W).max() > 0.1


def test_store_and_restore_include_weights_pools_and_parameters(target):
    if target.standalone:
        print("cpp_standalone: Brian does not support Network.store/restore there")
        pytest.skip("Brian's cpp_standalone device has no store()/restore()")
    W, pool = np.arange(6.0).reshape(3, 2) / 4, [1.0, 3.0]
    net, getw, S, G = network(W, pool)
    net.add(getw)
    net.store()
    net.run(N_STEPS * defaultclock.dt)
    check(S, G, W, pool)
    getw.W0 = 5.0
    net.restore()
    np.testing.assert_array_equal(S.w[:], W.flatten())
    np.testing.assert_array_equal(G.pool[:], pool)
    assert getw.W0[:] == 1.0
    net.run(N_STEPS * defaultclock.dt)
    check(S, G, W, pool)


def test_swallowed_cython_compile_error_is_reported(target):
    if target.name != "cython":
        print(f"{target.name}: no step where Brian hides compiler errors; Cython only")
        pytest.skip(f"{target.name} has no silent compile failure to report")
    broken = Function(lambda x: x, arg_units=[1], return_unit=1)
    broken.implementations.add_implementation(
        "cython", "cdef double broken(double x):\n    return x +* 1\n"
    )
    W, pool = np.full((3, 2), 0.5), [1.0, 2.0]
    net, getw, S, G = network(W, pool, code="v_post += getw(i, j) + broken(1.0)",
                              extra=dict(broken=broken))
    with pytest.raises(Exception) as info:
        net.run(N_STEPS * defaultclock.dt)
    cause = info.value
    while cause is not None and not isinstance(cause, HeteroCompileError):
        cause = cause.__cause__
    assert isinstance(cause, HeteroCompileError)
    assert "of 'syn'" in str(cause) and "'rule'" in str(cause)
    np.testing.assert_array_equal(S.w[:], W.flatten())


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(
    "code, warned",
    [
        ("v_post += getw(i, j)", False),
        ("v_post += getw(i, j)\nv_post = i", True),
    ],
)
def test_order_warning_only_for_real_order_dependence(target, code, warned):
    records = Records()
    logging.getLogger("brian2").addHandler(records)
    try:
        net, getw, S, G = network(np.full((3, 2), 0.5), [1.0, 2.0], code=code)
        net.run(N_STEPS * defaultclock.dt)
    finally:
        logging.getLogger("brian2").removeHandler(records)
    flagged = [m for m in records.messages if "may not be well-defined" in m]
    assert bool(flagged) == warned, records.messages


def test_sdist_and_its_wheel_ship_the_sources_and_render_the_templates(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (sdist,) = dist.glob("brian2_hetero-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for path in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "docs/conf.py",
                 "docs/guide/usage.md", "tests/conftest.py", "tests/fuzz/generate.py",
                 "benchmarks/floor.cpp", "examples/diehl_cook_2015.py", "examples/field2020_fig3.py",
                 *(f"templates/{t}" for t in TEMPLATE_FILES.values())):
        assert path in names, path
    assert not any("__pycache__" in name or name.startswith("benchmarks/results") for name in names)
    # the wheel is made from the sdist alone, as pip does without the repository
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(sdist)],
        check=True,
    )
    (wheel,) = wheels.glob("brian2_hetero-*.whl")
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    for path in TEMPLATE_FILES.values():
        assert f"brian2_hetero/templates/{path}" in names
    # the licence travels with the package, and its metadata names it
    (info,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
    assert f"{info}/licenses/LICENSE" in names
    metadata = archive.read(f"{info}/METADATA").decode()
    assert "License-Expression: CECILL-2.1" in metadata and "Classifier: " in metadata
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
    )
    script = (
        "import brian2_hetero, brian2_hetero.render as r\n"
        "from brian2_hetero import bugmann2012\n"
        "from brian2_hetero.printer import LANES, print_rule\n"
        "print(brian2_hetero.__file__, brian2_hetero.__version__)\n"
        "rule = bugmann2012(W0=1, eta=0.5)\n"
        "names = dict(fname='f', rule='r', synapses='s', group='g', post='b', pre='c',\n"
        "             offsets='e', strides='h', firsts='m', siblings='k', target_offset=0, source_offset=0,\n"
        "             n_source_neurons=1, n_target_neurons=1, shared='post', neuron_offset=0,\n"
        "             n_neurons=1, n_other=1, mode='synapse',\n"
        "             synaptic=[('w', 'a', True)], neuronal=[('pool', 'd', True)])\n"
        "arguments = [('double *', '_ptr_w'), ('double *', '_ptr_nrn_pool'), ('size_t', '_s')]\n"
        "function = r.render('cpp', 'function', code=print_rule(rule.rule_code, 'c', 'f'),\n"
        "                    arguments=arguments, **names)\n"
        "context = {\n"
        "    'numpy': dict(code=print_rule(rule.rule_code, 'numpy', 'f'), params=['W0', 'eta'],\n"
        "                  lanes=LANES),\n"
        "    'function': dict(code=print_rule(rule.rule_code, 'c', 'f'), arguments=arguments),\n"
        "    'rule': dict(function=function, arguments=arguments, values=['x', 'y', '_s'], threads=2),\n"
        "    'before_run': dict(params=[('W0', 'x', 'v > 0', 'positive')], run_args=[('s.w', 'a')]),\n"
        "    'after_run': {},\n"
        "    'one_queue': dict(pathway='s_pre', delays='z', scalar='double', dt='t'),\n"
        "}\n"
        "for (t, role) in r.TEMPLATE_FILES:\n"
        "    print(len(r.render(t, role, **names, **context['numpy' if t == 'numpy' else role])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(target)) and out[1] == brian2_hetero.__version__
    assert all(int(n) > 200 for n in out[2:]) and len(out) == 2 + len(TEMPLATE_FILES)
