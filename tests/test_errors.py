"""Bad input: a clear error before anything runs, and nothing modified."""

import numpy as np
import pytest
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    Synapses,
    mV,
    ms,
    nA,
    prefs,
    run,
)
from brian2.units.fundamentalunits import DimensionMismatchError

from brian2_hetero import HeteroWeights


def groups(n_sources=3, n_targets=2):
    P = SpikeGeneratorGroup(n_sources, [0, 1], [1, 1] * ms)
    G = NeuronGroup(n_targets, "v : 1")
    return P, G


GOOD = dict(w=0.5, pool=3.0, W0=3.0, eta=0.8)


@pytest.mark.parametrize(
    "changes, error, text",
    [
        (dict(w=np.ones((2, 3))), ValueError, "shape (3, 2), got shape (2, 3)"),
        (dict(w=[[1, 2], [3, np.nan], [0, 0]]), ValueError, "nan at (i, j) = (1, 1)"),
        (dict(w=[[1, 2], [3, 4], [np.inf, 0]]), ValueError, "inf at (i, j) = (2, 0)"),
        (dict(w=[[1, 2], [3, 4], [0, -0.25]]), ValueError, "-0.25 at (i, j) = (2, 1)"),
        (dict(pool=[1.0, -2.0]), ValueError, "-2.0 at j = 1"),
        (dict(pool=[1.0, 2.0, 3.0]), ValueError, "shape (2,), got shape (3,)"),
        (dict(pool=np.nan), ValueError, "pool must be finite"),
        (dict(W0=0.0), ValueError, "W0=0.0"),
        (dict(W0=-1.0), ValueError, "W0=-1.0"),
        (dict(eta=1.5), ValueError, "eta=1.5"),
        (dict(eta=-0.1), ValueError, "eta=-0.1"),
        (dict(w="0.5"), TypeError, "'0.5'"),
        (dict(w=0.5 * mV, pool=3 * mV, W0=3 * mV, eta=0.8 * mV), DimensionMismatchError, "eta"),
        (dict(w=0.5 * mV, pool=3 * nA, W0=3 * mV), DimensionMismatchError, "pool"),
        (dict(w=0.5, pool=3 * mV, W0=3 * mV), DimensionMismatchError, "w must have"),
    ],
)
def test_bad_construction(changes, error, text):
    P, G = groups()
    with pytest.raises(error) as info:
        HeteroWeights(P, G, **{**GOOD, **changes})
    assert text in str(info.value)


@pytest.mark.parametrize(
    "attribute, value, text",
    [
        ("weights", np.ones((3, 3)), "got shape (3, 3)"),
        ("weights", [[1, 2], [3, -4], [0, 0]], "-4.0 at (i, j) = (1, 1)"),
        ("pool", [np.inf, 1], "inf at j = 0"),
    ],
)
def test_bad_assignment_changes_nothing(attribute, value, text):
    P, G = groups()
    getw = HeteroWeights(P, G, w=[[1, 2], [3, 4], [5, 6]], pool=[7, 8], W0=1, eta=0.5)
    with pytest.raises(ValueError) as info:
        setattr(getw, attribute, value)
    assert text in str(info.value)
    np.testing.assert_array_equal(getw.weights, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(getw.pool, [7, 8])


def root_cause(exc):
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def check_refused(target, net, getw, G, error, text, capfd):
    """Running must fail with `error` mentioning `text`, having changed nothing."""
    before = (np.asarray(getw.weights).copy(), np.asarray(getw.pool).copy())
    if target.standalone:
        with pytest.raises(RuntimeError):
            net.run(5 * ms)
        assert text in capfd.readouterr().err
        # The project stopped before its run: no results were written.
        with pytest.raises(NotImplementedError):
            getw.weights
        return
    else:
        with pytest.raises(Exception) as info:
            net.run(5 * ms)
        cause = root_cause(info.value)
        assert isinstance(cause, error), cause
        assert text in str(cause)
        assert float(G.t / ms) == 0.0
    np.testing.assert_array_equal(getw.weights, before[0])
    np.testing.assert_array_equal(getw.pool, before[1])


def test_synapses_between_other_groups(target, capfd):
    P, G = groups()
    other = NeuronGroup(3, "v : 1", name="other")
    getw = HeteroWeights(P, G, **GOOD)
    S = Synapses(P, other, on_pre="v_post += getw(i, j)")
    S.connect()
    before = np.asarray(getw.weights).copy()
    with pytest.raises(Exception) as info:
        run(5 * ms)
    cause = root_cause(info.value)
    assert isinstance(cause, ValueError)
    assert "connects 'spikegeneratorgroup" in str(cause) and "to 'other' (3 neurons)" in str(cause)
    np.testing.assert_array_equal(getw.weights, before)


@pytest.mark.parametrize(
    "connect, text",
    [
        (dict(condition="i != 2 or j != 1"), "pair (i, j) = (2, 1) has no synapse"),
        (dict(n=2), "pair (i, j) = (0, 0) has "),
    ],
)
def test_connectivity_must_be_all_to_all(target, capfd, connect, text):
    P, G = groups()
    getw = HeteroWeights(P, G, **GOOD)
    S = Synapses(P, G, on_pre="v_post += getw(i, j)")
    S.connect(**connect)
    check_refused(target, Network(P, G, S), getw, G, ValueError, text, capfd)


def test_openmp_is_refused(tmp_path):
    prefs._backup()
    try:
        from brian2 import set_device
        from brian2.devices import reinit_devices

        set_device("cpp_standalone", directory=str(tmp_path))
        prefs.devices.cpp_standalone.openmp_threads = 2
        P, G = groups()
        getw = HeteroWeights(P, G, **GOOD)
        S = Synapses(P, G, on_pre="v_post += getw(i, j)")
        S.connect()
        with pytest.raises(Exception) as info:
            run(5 * ms)
        cause = root_cause(info.value)
        assert isinstance(cause, NotImplementedError)
        assert "openmp_threads = 2" in str(cause)
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


def test_getw_outside_synapses_is_refused(target):
    P, G = groups()
    getw = HeteroWeights(P, G, **GOOD)
    H = NeuronGroup(1, "v : 1", threshold="True", reset="v += getw(0, 0)", name="elsewhere")
    with pytest.raises(Exception) as info:
        run(1 * ms)
    cause = root_cause(info.value)
    assert isinstance(cause, TypeError)
    assert "not in the code of 'elsewhere'" in str(cause)


def test_python_call_is_refused():
    P, G = groups()
    getw = HeteroWeights(P, G, **GOOD)
    with pytest.raises(NotImplementedError, match="only be called from the code of Synapses"):
        getw(0, 0)
