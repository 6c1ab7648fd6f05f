"""Checks of user input: each returns plain float64 data or raises before
anything is stored, naming the offending value."""

import numbers

import numpy as np
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    fail_for_dimension_mismatch,
    get_dimensions,
)

__all__ = ["check_parameters", "check_weights", "check_pool", "check_connectivity"]


def _scalar(value, name):
    if np.ndim(value) != 0 or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a scalar, got {value!r}.")
    number = float(np.asarray(value))
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return number


def check_parameters(W0, eta):
    """
    Check ``W0`` and ``eta``.

    Returns
    -------
    W0 : float
        ``W0`` without units.
    eta : float
    dim : `Dimension`
        The dimensions of ``W0``, which all weights and pools share.
    """
    dim = get_dimensions(W0)
    W0_value = _scalar(W0, "W0")
    if W0_value <= 0:
        raise ValueError(f"W0 must be positive, got W0={W0!r}.")
    fail_for_dimension_mismatch(eta, DIMENSIONLESS, "eta must be dimensionless")
    eta_value = _scalar(eta, "eta")
    if not 0 <= eta_value <= 1:
        raise ValueError(f"eta must lie in [0, 1], got eta={eta!r}.")
    return W0_value, eta_value, dim


def _array(value, name, dim, shape, where):
    if isinstance(value, str) or not isinstance(
        value, (numbers.Number, np.ndarray, list, tuple)
    ):
        raise TypeError(
            f"{name} must be a number or an array of shape {shape}, got {value!r}."
        )
    fail_for_dimension_mismatch(
        value, dim, f"{name} must have the same units as W0"
    )
    data = np.asarray(value, dtype=np.float64)
    if data.ndim == 0:
        data = np.full(shape, float(data))
    elif data.shape != shape:
        raise ValueError(
            f"{name} must be a scalar or have shape {shape}, got shape {data.shape}."
        )
    bad = ~np.isfinite(data)
    if bad.any():
        index = np.unravel_index(np.argmax(bad), shape)
        raise ValueError(
            f"{name} must be finite, got {data[index]} at {where(index)}."
        )
    negative = data < 0
    if negative.any():
        index = np.unravel_index(np.argmax(negative), shape)
        raise ValueError(
            f"{name} must not be negative, got {data[index]} at {where(index)}."
        )
    return data


def check_weights(w, shape, dim, name="w"):
    """Return ``w`` as a float64 array of ``shape`` (M, N), or raise."""
    return _array(w, name, dim, shape, lambda ij: f"(i, j) = ({ij[0]}, {ij[1]})")


def check_pool(pool, n_targets, dim, name="pool"):
    """Return ``pool`` as a float64 array of shape (N,), or raise."""
    return _array(pool, name, dim, (n_targets,), lambda j: f"j = {j[0]}")


def check_connectivity(pre, post, n_sources, n_targets, store, synapses):
    """
    Check that ``pre``/``post`` hold every (i, j) pair exactly once.

    Raises
    ------
    ValueError
        Naming the first pair that has no synapse or more than one.
    """
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    counts = np.bincount(post * n_sources + pre, minlength=n_sources * n_targets)
    problem = None
    if (counts > 1).any():
        k = int(np.argmax(counts > 1))
        problem = f"has {counts[k]} synapses"
    elif (counts == 0).any():
        k = int(np.argmax(counts == 0))
        problem = "has no synapse"
    if problem is not None:
        i, j = k % n_sources, k // n_sources
        raise ValueError(
            f"HeteroWeights '{store}' needs exactly one synapse per (i, j) pair "
            f"in Synapses '{synapses}' (all-to-all, e.g. connect()), but pair "
            f"(i, j) = ({i}, {j}) {problem}."
        )
