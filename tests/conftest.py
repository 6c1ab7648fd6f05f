import os
import tempfile

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, defaultclock, ms, prefs, set_device
from brian2.devices import reinit_devices

TARGETS = ["numpy", "cython", "cpp_standalone"]
# The order of the test files, so that the test workers end together:
# pytest-xdist (--dist loadfile --no-loadscope-reorder) gives each of two
# workers one file, then one more, then the rest to whichever is free. The
# files that take longest start first (measured with --durations=0).
FIRST = ["test_errors.py", "test_docs.py", "test_outgoing.py", "test_rule.py", "test_semantics.py",
         "test_benchmark.py", "test_library.py", "test_fuzz.py", "test_openmp.py", "test_triggers.py", "test_codegen.py",
         "test_language.py"]


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# Builds are most of a test run's time (a Cython module takes about 5 s with
# Brian's flags, -O3, and half that at -O0; a standalone project's main.cpp
# and objects.cpp take seconds each). The tests of the files below compile
# with Brian's own flags, what a user gets: the semantics of the rule
# language, the differential fuzzer, the code generation itself. The other
# files, whose cases repeat the same templates with other rules and
# connectivity, compile at -O0 and without debug information (Python's own
# flags add -g to Cython's modules), Cython's modules in a cache of their
# own (Brian's cache key ignores the flags). The rule's own function fixes its
# floating-point behaviour with its own pragmas at every level.
BRIAN_FLAGS = {"test_semantics.py", "test_fuzz.py", "test_codegen.py", "test_benchmark.py"}
_compiling = {"brian_flags": True}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _compiling["brian_flags"] = item.path.name in BRIAN_FLAGS


class Target:
    """Selects a Brian target for one simulation and restores Brian after it."""

    def __init__(self, name, directory, threads=0):
        self.name = name
        self.directory = directory
        self.standalone = name == "cpp_standalone"
        self.threads = threads

    def activate(self, **kwds):
        prefs._backup()
        if not _compiling["brian_flags"]:
            flags = prefs.codegen.cpp.extra_compile_args_gcc
            prefs.codegen.cpp.extra_compile_args_gcc = [f for f in flags if not f.startswith("-O")] + ["-O0", "-g0"]
        if self.standalone:
            set_device("cpp_standalone", directory=self.directory, **kwds)
            prefs.devices.cpp_standalone.openmp_threads = self.threads
        else:
            prefs.codegen.target = self.name
            if self.name == "cython" and not _compiling["brian_flags"]:
                prefs.codegen.runtime.cython.cache_dir = os.path.expanduser("~/.cython/brian_extensions_tests_O0")

    def reset(self):
        reinit_devices()
        set_device("runtime")
        prefs._restore()


@pytest.fixture(autouse=True)
def numpy_unless_chosen():
    """A test that does not choose a target runs on numpy: Brian's default
    ('auto', Cython here) would compile modules for objects whose names differ
    from test to test, minutes of a test run for code no test looks at."""
    kept = prefs.codegen.target
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = kept


@pytest.fixture(params=TARGETS)
def target(request, tmp_path):
    t = Target(request.param, str(tmp_path / "standalone"))
    t.activate()
    yield t
    t.reset()


def spike_inputs(n, spikes, name):
    """A SpikeGeneratorGroup of n inputs firing at {time step: [inputs]}."""
    steps = sorted(spikes)
    return SpikeGeneratorGroup(
        n,
        np.concatenate([spikes[s] for s in steps]),
        np.concatenate([[s] * len(spikes[s]) for s in steps]) * defaultclock.dt,
        name=name,
    )


def target_scope(name):
    """A Target for fixtures that run one simulation and share its results."""
    return Target(name, tempfile.mkdtemp(prefix="brian2_hetero_"))


_runs = {}


def run_each(target_name, keys, network, read, n_steps):
    """
    The results of one network per key, run for ``n_steps`` steps of 0.1 ms
    on ``target_name``: ``network(key, suffix)`` gives the key's objects,
    with names ending in ``suffix``, and ``read(key, objects)`` what the
    tests need after the run. On Cython each key runs alone with suffix ''
    (every key's objects have the same names, so that Cython compiles only
    the code in which they differ); elsewhere all keys run in one network
    (one standalone build). Done once per ``network`` and target.
    """
    cached = (network.__module__, network.__qualname__, target_name)
    if cached in _runs:
        return _runs[cached]
    t = target_scope(target_name)
    t.activate()
    try:
        defaultclock.dt = 0.1 * ms
        if target_name == "cython":
            results = {}
            for key in keys:
                objects = network(key, "")
                Network(*objects).run(n_steps * defaultclock.dt)
                results[key] = read(key, objects)
        else:
            built = {key: network(key, f"_{k}") for k, key in enumerate(keys)}
            Network(*[obj for objects in built.values() for obj in objects]).run(n_steps * defaultclock.dt)
            results = {key: read(key, objects) for key, objects in built.items()}
    finally:
        t.reset()
    _runs[cached] = results
    return results


def root_cause(exc):
    """The error at the bottom of Brian's chain of errors."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def refusal(action):
    """The root cause of the error that ``action()`` must raise."""
    with pytest.raises(Exception) as info:
        action()
    return root_cause(info.value)
