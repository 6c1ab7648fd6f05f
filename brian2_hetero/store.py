"""`HeteroWeights`: a Brian function that owns an M×N weight store."""

import functools

import numpy as np
from brian2.core.functions import Function
from brian2.core.preferences import prefs
from brian2.core.variables import Variables
from brian2.devices.device import get_device
from brian2.groups.group import Group
from brian2.synapses.synapses import Synapses
from brian2.units.fundamentalunits import Quantity, get_unit

from . import validation
from .render import render

__all__ = ["HeteroWeights"]


@functools.lru_cache(maxsize=None)
def _numpy_factory(fname):
    namespace = {}
    exec(compile(render("numpy", fname=fname), f"<{fname}>", "exec"), namespace)
    return namespace["make_getw"]


class HeteroWeights(Function, Group):
    """
    HeteroWeights(source, target, w, pool, W0, eta, name='heteroweights*')

    Weights of all-to-all synapses from ``source`` to ``target`` that
    redistribute themselves on every presynaptic spike (Bugmann 2012, rule 10,
    with a weight pool per target neuron). The object is a Brian function: call
    it as ``getw(i, j)`` in the ``on_pre`` code of `Synapses` connecting
    ``source`` to ``target``. Each call applies the rule for a spike arriving
    at synapse (i, j) and returns the new weight of that synapse.

    Parameters
    ----------
    source : `Group`
        The presynaptic group, of size M.
    target : `Group`
        The postsynaptic group, of size N.
    w : `Quantity` or ndarray
        Initial weights: a scalar or an array of shape (M, N), ``w[i, j]``
        being the weight of the synapse from ``i`` to ``j``. Same units as
        ``W0``, finite and non-negative.
    pool : `Quantity` or ndarray
        Initial weight pool of each target neuron: a scalar or an array of
        shape (N,). Same units as ``W0``, finite and non-negative.
    W0 : `Quantity` or float
        The positive scale of the transfer between synapses; its units are the
        units of all weights and of the value ``getw(i, j)`` returns.
    eta : float
        Fraction of a target's pool that a spike moves to its synapse, in
        [0, 1].
    name : str, optional
        A unique name for this object, see `Nameable`. Defaults to
        ``'heteroweights*'``.

    Notes
    -----
    On a spike at synapse (i, j), with ``x = W[i, j]`` before the spike, every
    synapse (k, j) with ``W[k, j] > x`` gives
    ``d = W[k, j] * (W[k, j] - x) / (W0 + W[k, j])`` to synapse (i, j), which
    also takes ``eta * pool[j]`` from the pool. Spikes arriving in the same time
    step are applied one after the other in the order Brian delivers them, on
    every target. The sum of column j and ``pool[j]`` is conserved.

    The object is also a group of M·N elements, one per synapse: element
    ``k = j*M + i`` holds ``w`` (the weight of synapse (i, j)), ``i``, ``j``
    and ``pool`` (the pool of target ``j``), so that a `StateMonitor` can
    record ``w`` and ``pool``. The connectivity must be all-to-all.

    Examples
    --------
    >>> from brian2 import *
    >>> from brian2_hetero import HeteroWeights
    >>> P = PoissonGroup(3, 100*Hz)
    >>> G = NeuronGroup(1, 'v : 1')
    >>> getw = HeteroWeights(P, G, w=0, pool=3, W0=3, eta=0.8)
    >>> S = Synapses(P, G, on_pre='v_post += getw(i, j)')
    >>> S.connect()
    >>> getw.weights.shape
    (3, 1)
    """

    add_to_magic_network = True

    def __init__(self, source, target, w, pool, W0, eta, name="heteroweights*"):
        n_sources, n_targets = len(source), len(target)
        W0_value, eta_value, dim = validation.check_parameters(W0, eta)
        weights = validation.check_weights(w, (n_sources, n_targets), dim)
        pool_values = validation.check_pool(pool, n_targets, dim)
        unit = get_unit(dim)

        def getw(i, j):
            raise NotImplementedError(
                f"HeteroWeights '{self.name}' can only be called from the code of "
                "Synapses during a run; read its weights with '.weights'."
            )

        Function.__init__(
            self,
            pyfunc=getw,
            arg_units=[1, 1],
            arg_names=["i", "j"],
            arg_types=["integer", "integer"],
            return_unit=unit,
            return_type="float",
            stateless=False,
        )
        Group.__init__(self, name=name)
        self._shape = (n_sources, n_targets)
        self._dim = dim
        self._source_name = source.name
        self._target_name = target.name
        self._c_name = f"_hetero_{self.name}"

        size = n_sources * n_targets
        self.variables = Variables(self)
        self.variables.add_constant("N", size)
        self.variables.add_array("w", size=size, dimensions=dim, dtype=np.float64)
        self.variables.add_array(
            "i", size=size, dtype=np.int32, constant=True, read_only=True
        )
        self.variables.add_array(
            "j", size=size, dtype=np.int32, constant=True, read_only=True
        )
        self.variables.add_array(
            "pool", size=n_targets, dimensions=dim, dtype=np.float64, index="j"
        )
        self.variables.add_array(
            "_params", size=2, dtype=np.float64, constant=True, read_only=True
        )
        self.variables.create_clock_variables(self._clock)
        self.start, self.stop = 0, size
        self._enable_group_attributes()

        flat = np.arange(size, dtype=np.int32)
        self.variables["i"].set_value(flat % n_sources)
        self.variables["j"].set_value(flat // n_sources)
        self.variables["_params"].set_value(np.array([W0_value, eta_value]))
        self._store_weights(weights)
        self.variables["pool"].set_value(pool_values)

        self.implementations.add_dynamic_implementation(
            "numpy", self._numpy_code
        )
        self.implementations.add_dynamic_implementation(
            "cython",
            self._cython_code,
            namespace=self._cython_namespace,
            name=self._c_name,
        )
        self.implementations.add_dynamic_implementation(
            "cpp", self._cpp_code, namespace=lambda owner: {}, name=self._c_name
        )

    # The store's public values -------------------------------------------

    @property
    def shape(self):
        """(M, N): the number of source and of target neurons."""
        return self._shape

    @property
    def W0(self):
        """The scale of the transfer between synapses (with units)."""
        return Quantity(self.variables["_params"].get_value()[0], dim=self._dim)

    @property
    def eta(self):
        """The fraction of a target's pool that each spike takes."""
        return float(self.variables["_params"].get_value()[1])

    @property
    def weights(self):
        """
        The current weights as an (M, N) array, ``weights[i, j]`` being the
        weight of the synapse from ``i`` to ``j``. Can be assigned a scalar or
        an (M, N) array between runs.
        """
        n_sources, n_targets = self._shape
        flat = self.variables["w"].get_value()
        return Quantity(flat.reshape(n_targets, n_sources).T.copy(), dim=self._dim)

    @weights.setter
    def weights(self, value):
        self._store_weights(validation.check_weights(value, self._shape, self._dim))

    @property
    def pool(self):
        """
        The current weight pool of each target neuron, an (N,) array. Can be
        assigned a scalar or an (N,) array between runs.
        """
        return Quantity(self.variables["pool"].get_value().copy(), dim=self._dim)

    @pool.setter
    def pool(self, value):
        self.variables["pool"].set_value(
            validation.check_pool(value, self._shape[1], self._dim)
        )

    def __setattr__(self, key, value, level=0):
        # Brian's group attribute handling would read the property before
        # setting it, which standalone devices refuse before a run.
        if key in ("weights", "pool"):
            object.__setattr__(self, key, value)
        else:
            Group.__setattr__(self, key, value, level=level + 1)

    def run_args(self, w):
        """
        New initial weights for a run of a built standalone project.

        Parameters
        ----------
        w : `Quantity` or ndarray
            A scalar or an (M, N) array, checked like the ``w`` argument.

        Returns
        -------
        run_args : dict
            To pass (possibly merged with other entries) as
            ``device.run(run_args=...)``.
        """
        weights = validation.check_weights(w, self._shape, self._dim)
        return {self.state("w"): Quantity(weights.T.ravel(), dim=self._dim)}

    def _store_weights(self, weights):
        # Target-major storage: the M weights onto one target are contiguous.
        self.variables["w"].set_value(weights.T.ravel())

    # Checks made when code calling the store is generated -----------------

    def __del__(self):
        # Brian warns about objects never included in a network; a store used
        # by Synapses was in one, through them.
        if not self.__dict__.get("_called", False):
            Group.__del__(self)

    def _check_caller(self, owner):
        # Brian passes the Synapses (numpy, Cython) or its pathway (C++).
        synapses = getattr(owner, "synapses", owner)
        if not isinstance(synapses, Synapses):
            raise TypeError(
                f"HeteroWeights '{self.name}' can only be called in the on_pre or "
                f"on_post code of Synapses, not in the code of '{owner.name}'."
            )
        n_sources, n_targets = self._shape
        source, target = synapses.source, synapses.target
        if (source.name, len(source), target.name, len(target)) != (
            self._source_name,
            n_sources,
            self._target_name,
            n_targets,
        ):
            raise ValueError(
                f"HeteroWeights '{self.name}' holds weights from "
                f"'{self._source_name}' (M={n_sources}) to '{self._target_name}' "
                f"(N={n_targets}), but Synapses '{synapses.name}' connects "
                f"'{source.name}' ({len(source)} neurons) to '{target.name}' "
                f"({len(target)} neurons)."
            )
        self._called = True
        return synapses

    def _check_runtime(self, owner):
        synapses = self._check_caller(owner)
        n_sources, n_targets = self._shape
        validation.check_connectivity(
            synapses.variables["_synaptic_pre"].get_value(),
            synapses.variables["_synaptic_post"].get_value(),
            n_sources,
            n_targets,
            self.name,
            synapses.name,
        )
        # Values written through getw.w / getw.pool bypass the setters.
        validation.check_weights(self.weights, self._shape, self._dim)
        validation.check_pool(self.pool, n_targets, self._dim)

    # Code generation, one factory per target --------------------------------

    def _numpy_code(self, owner):
        self._check_runtime(owner)
        n_sources, n_targets = self._shape
        columns = self.variables["w"].get_value().reshape(n_targets, n_sources)
        getw = _numpy_factory(self._c_name)(
            columns,
            self.variables["pool"].get_value(),
            self.variables["_params"].get_value(),
        )
        getw._arg_units = self._arg_units
        getw._return_unit = self._return_unit
        return getw

    def _namespace_key(self, name):
        return f"{self._c_name}_{name}"

    def _cython_code(self, owner):
        self._check_runtime(owner)
        return render(
            "cython",
            fname=self._c_name,
            **{key: self._namespace_key(key) for key in ("w", "pool", "params", "shape")},
        )

    def _cython_namespace(self, owner):
        return {
            self._namespace_key("w"): self.variables["w"].get_value(),
            self._namespace_key("pool"): self.variables["pool"].get_value(),
            self._namespace_key("params"): self.variables["_params"].get_value(),
            self._namespace_key("shape"): np.array(self._shape, dtype=np.int32),
        }

    def _cpp_code(self, owner):
        synapses = self._check_caller(owner)
        threads = prefs["devices.cpp_standalone.openmp_threads"]
        if threads:
            raise NotImplementedError(
                f"HeteroWeights '{self.name}' cannot run with OpenMP "
                f"(prefs.devices.cpp_standalone.openmp_threads = {threads}): "
                "spikes onto one target must be applied one after the other. "
                "Set openmp_threads = 0."
            )
        device = get_device()
        names = {
            key: device.get_array_name(self.variables[var])
            for key, var in (("w", "w"), ("pool", "pool"), ("params", "_params"))
        }
        cache = getattr(device, "array_cache", None)
        if cache is not None:
            # The generated code writes these arrays behind Brian's back.
            cache[self.variables["w"]] = None
            cache[self.variables["pool"]] = None
        check = render(
            "cpp",
            "check",
            store=self.name,
            synapses=synapses.name,
            pre=device.get_array_name(
                synapses.variables["_synaptic_pre"], access_data=False
            ),
            post=device.get_array_name(
                synapses.variables["_synaptic_post"], access_data=False
            ),
            w=names["w"],
            pool=names["pool"],
        )
        if check not in device.code_lines["before_network_run"]:
            device.insert_code("before_network_run", check)
        return render("cpp", fname=self._c_name, **names)
