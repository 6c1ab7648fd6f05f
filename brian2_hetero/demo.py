"""
The five-input example of the original question, on every available target.

Input 0 spikes at 10 ms, inputs 1 and 2 at 30 ms, inputs 1, 3 and 4 at 50 ms,
onto one target neuron; w = 0, W0 = pool = 5, eta = 0.8. Prints the final
weights per target and their largest disagreement, and writes a figure of the
input spikes, the pool and each weight over time.

Run with ``python -m brian2_hetero.demo [--output DIR]``.
"""

import argparse
import os
import tempfile
import time

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    StateMonitor,
    Synapses,
    ms,
    prefs,
    set_device,
)
from brian2.codegen.runtime.cython_rt import CythonCodeObject
from brian2.devices import reinit_devices

from . import HeteroWeights

TARGETS = ("numpy", "cython", "cpp_standalone")
INDICES = [0, 1, 2, 3, 4, 1]
TIMES = [10, 30, 30, 50, 50, 50] * ms


def simulate(target, directory):
    """Run the example on `target`; return (weights, pool, monitor data, seconds)."""
    prefs._backup()
    try:
        if target == "cpp_standalone":
            set_device("cpp_standalone", directory=directory)
        else:
            prefs.codegen.target = target
        P = SpikeGeneratorGroup(5, INDICES, TIMES)
        G = NeuronGroup(1, "dv/dt = -v/(50*ms) : 1", method="exact")
        getw = HeteroWeights(P, G, w=0, pool=5, W0=5, eta=0.8)
        S = Synapses(P, G, on_pre="v_post += getw(i, j)")
        S.connect()
        mon = StateMonitor(getw, ["w", "pool"], record=True)
        start = time.perf_counter()
        Network(P, G, S, getw, mon).run(70 * ms)
        seconds = time.perf_counter() - start
        return (
            np.asarray(getw.weights)[:, 0],
            float(getw.pool[0]),
            (np.asarray(mon.t / ms), np.asarray(mon.w), np.asarray(mon.pool)),
            seconds,
        )
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


def plot(traces, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, w, pool = traces
    colors = ["g", "r", "b", "c", "m"]
    fig, axes = plt.subplots(7, 1, sharex=True, figsize=(7, 9))
    indices = np.array(INDICES)
    for i, c in enumerate(colors):
        spike_times = TIMES[indices == i] / ms
        axes[0].plot(spike_times, np.full(len(spike_times), 5 - i), "^", color=c)
        axes[2 + i].plot(t, w[i], color=c)
        axes[2 + i].set_ylabel(f"w[{i}, 0]")
    axes[0].set_ylabel("input")
    axes[0].set_yticks([])
    axes[1].plot(t, pool[0], color="k")
    axes[1].set_ylabel("pool")
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def available(target):
    if target == "cython":
        return CythonCodeObject.is_available()
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="output", help="folder for the figure (default: output)")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory() as build:
        for target in TARGETS:
            if not available(target):
                print(f"{target:15s} skipped: not available on this machine")
                continue
            results[target] = simulate(target, os.path.join(build, target))
            weights, pool, _, seconds = results[target]
            print(
                f"{target:15s} weights {np.array2string(weights, precision=6)}  "
                f"pool {pool:.3e}  run {seconds:.2f} s (includes code generation and compilation)"
            )
    finals = np.array([np.append(r[0], r[1]) for r in results.values()])
    print(f"largest disagreement between targets: {np.abs(finals - finals[0]).max():.3e}")
    path = os.path.join(args.output, "demo.png")
    plot(next(iter(results.values()))[2], path)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
