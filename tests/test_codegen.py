"""Generated code: reuse, re-runs, compile failures, shipping."""

import logging
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from brian2 import (
    Function,
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    Synapses,
    defaultclock,
    device,
    ms,
    prefs,
    set_device,
)
from brian2.devices import reinit_devices

from brian2_hetero import HeteroCompileError, HeteroWeights
from brian2_hetero.render import TEMPLATE_FILES
from reference import simulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPIKES = {2: [0, 2], 5: [1], 6: [0, 1, 2]}


def network(W, pool, W0=1.0, eta=0.5, code="v_post += getw(i, j)", extra=None):
    """Explicitly named objects, so that generated code is the same each time."""
    M, N = np.shape(W)
    steps = sorted(SPIKES)
    P = SpikeGeneratorGroup(
        M,
        np.concatenate([SPIKES[s] for s in steps]),
        np.concatenate([[s] * len(SPIKES[s]) for s in steps]) * defaultclock.dt,
        name="inputs",
    )
    G = NeuronGroup(N, "v : 1", name="targets")
    getw = HeteroWeights(P, G, w=W, pool=pool, W0=W0, eta=eta, name="store")
    S = Synapses(P, G, on_pre=code, name="syn", namespace=dict(getw=getw, **(extra or {})))
    S.connect()
    return Network(P, G, S), getw, S


def expected(W, pool, W0=1.0, eta=0.5):
    return simulate(SPIKES, 10, np.asarray(W).tolist(), list(pool), W0, eta)[:2]


def test_cython_module_is_reused_across_values_and_sizes():
    prefs._backup()
    prefs.codegen.target = "cython"
    try:
        modules = []
        for W, pool in (
            (np.full((3, 2), 0.5), [1.0, 2.0]),
            (np.arange(12.0).reshape(4, 3), [0.0, 1.0, 5.0]),
        ):
            net, getw, S = network(W, pool)
            net.run(10 * defaultclock.dt)
            W_end, pool_end = expected(W, pool)
            np.testing.assert_allclose(getw.weights, W_end, rtol=0, atol=1e-12)
            np.testing.assert_allclose(getw.pool, pool_end, rtol=0, atol=1e-12)
            modules.append(S.pre.codeobj.compiled_code["run"].__name__)
            del net, getw, S
        assert modules[0] == modules[1]
    finally:
        prefs._restore()


def test_standalone_reruns_with_new_weights_without_recompiling(tmp_path):
    prefs._backup()
    try:
        set_device("cpp_standalone", directory=str(tmp_path), build_on_run=False)
        W1, pool1 = np.full((3, 2), 0.5), [1.0, 2.0]
        net, getw, S = network(W1, pool1)
        net.run(10 * defaultclock.dt)
        device.build(directory=str(tmp_path), run=False)
        binary = os.path.join(str(tmp_path), "main")
        built = os.stat(binary).st_mtime_ns
        device.run()
        np.testing.assert_allclose(getw.weights, expected(W1, pool1)[0], rtol=0, atol=1e-12)
        for W, pool in ((np.arange(6.0).reshape(3, 2), pool1), (np.eye(3, 2) * 3, pool1)):
            device.run(run_args=getw.run_args(W))
            W_end, pool_end = expected(W, pool)
            np.testing.assert_allclose(getw.weights, W_end, rtol=0, atol=1e-12)
            np.testing.assert_allclose(getw.pool, pool_end, rtol=0, atol=1e-12)
        assert os.stat(binary).st_mtime_ns == built
        with pytest.raises(ValueError, match="got shape"):
            getw.run_args(np.ones((2, 3)))
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


def test_swallowed_cython_compile_error_is_reported(target):
    if target.name != "cython":
        print(f"{target.name}: no step where Brian hides compiler errors; Cython only")
        pytest.skip(f"{target.name} has no silent compile failure to report")
    broken = Function(lambda x: x, arg_units=[1], return_unit=1)
    broken.implementations.add_implementation(
        "cython", "cdef double broken(double x):\n    return x +* 1\n"
    )
    W, pool = np.full((3, 2), 0.5), [1.0, 2.0]
    net, getw, S = network(W, pool, code="v_post += getw(i, j) + broken(1.0)", extra=dict(broken=broken))
    with pytest.raises(Exception) as info:
        net.run(10 * defaultclock.dt)
    cause = info.value
    while cause is not None and not isinstance(cause, HeteroCompileError):
        cause = cause.__cause__
    assert isinstance(cause, HeteroCompileError)
    assert "of 'syn'" in str(cause) and "'store'" in str(cause)
    np.testing.assert_array_equal(getw.weights, W)


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
        net, getw, S = network(np.full((3, 2), 0.5), [1.0, 2.0], code=code)
        net.run(10 * defaultclock.dt)
    finally:
        logging.getLogger("brian2").removeHandler(records)
    flagged = [m for m in records.messages if "may not be well-defined" in m]
    assert bool(flagged) == warned, records.messages


def test_wheel_ships_templates_and_renders_them(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "-q", "-w", str(wheels), ROOT],
        check=True,
    )
    (wheel,) = wheels.glob("brian2_hetero-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for path in TEMPLATE_FILES.values():
        assert f"brian2_hetero/templates/{path}" in names
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
    )
    script = (
        "import brian2_hetero, brian2_hetero.render as r\n"
        "print(brian2_hetero.__file__)\n"
        "for (t, role) in r.TEMPLATE_FILES:\n"
        "    ctx = dict(fname='f', w='a', pool='b', params='c', shape='d', store='s',\n"
        "               synapses='y', pre='p', post='q')\n"
        "    print(len(r.render(t, role, **ctx)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(target))
    assert all(int(n) > 200 for n in out[1:]) and len(out) == 1 + len(TEMPLATE_FILES)
