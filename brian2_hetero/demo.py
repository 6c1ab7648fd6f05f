"""
The five-input example of the original question, on every available target.

Input 0 spikes at 10 ms, inputs 1 and 2 at 30 ms, inputs 1, 3 and 4 at 50 ms,
onto one target neuron; w = 0, W0 = pool = 5, eta = 0.8 (Bugmann 2012). Prints
the final weights per target and their largest disagreement, and writes a
figure of the input spikes, every weight and the pool, and the conserved sum
of the weights and the pool.

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

from . import bugmann2012

TARGETS = ("numpy", "cython", "cpp_standalone")
INDICES = [0, 1, 2, 3, 4, 1]
TIMES = [10, 30, 30, 50, 50, 50] * ms
M = 5
W0, ETA, POOL = 5.0, 0.8, 5.0


def simulate(target, directory):
    """Run the example on `target`; return (weights, pool, traces, seconds)."""
    prefs._backup()
    try:
        if target == "cpp_standalone":
            set_device("cpp_standalone", directory=directory)
        else:
            prefs.codegen.target = target
        P = SpikeGeneratorGroup(M, INDICES, TIMES)
        G = NeuronGroup(1, "dv/dt = -v/(50*ms) : 1\npool : 1", method="exact")
        G.pool = POOL
        getw = bugmann2012(W0=W0, eta=ETA)
        S = Synapses(P, G, "w : 1", on_pre="v_post += getw(i, j)")
        S.connect(i=np.arange(M), j=0)  # all to all, with the number of synapses known in standalone
        S.w = 0
        weights = StateMonitor(S, "w", record=np.arange(M))
        pool = StateMonitor(G, "pool", record=0)
        start = time.perf_counter()
        Network(P, G, S, weights, pool).run(70 * ms)
        seconds = time.perf_counter() - start
        # copies: from brian2 2.10 on, Brian's arrays are views that die with the network
        traces = (np.array(weights.t / ms), np.array(weights.w), np.array(pool.pool[0]))
        return np.array(S.w[:]), float(G.pool[0]), traces, seconds
    finally:
        reinit_devices()
        set_device("runtime")
        prefs._restore()


def plot(traces, target, agreement, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, w, pool = traces
    colors = plt.get_cmap("tab10").colors
    fig, (spikes, values, total) = plt.subplots(
        3, 1, sharex=True, figsize=(7.5, 7.5), gridspec_kw={"height_ratios": [1, 2.2, 1]}
    )
    fig.suptitle(
        f"Bugmann (2012) rule, {target} target: W0 = {W0:g}, eta = {ETA:g}, "
        f"initial w = 0, pool = {POOL:g}\n(largest difference from the other targets: {agreement:.1e})",
        fontsize=10,
    )
    indices = np.array(INDICES)
    for i in range(M):
        spike_times = TIMES[indices == i] / ms
        spikes.plot(spike_times, np.full(len(spike_times), i), "|", color=colors[i], ms=12, mew=2)
        values.plot(t, w[i], color=colors[i], label=f"w, input {i}")
    spikes.set_ylabel("input")
    spikes.set_yticks(range(M))
    spikes.set_ylim(-0.7, M - 0.3)
    spikes.set_title("input spikes", fontsize=9, loc="left")
    values.plot(t, pool, color="k", ls="--", label="pool")
    values.set_ylabel("weight, pool (dimensionless)")
    values.legend(fontsize=8, ncol=2)
    values.set_title("weights of the five synapses and the neuron's pool", fontsize=9, loc="left")
    conserved = w.sum(axis=0) + pool
    total.plot(t, conserved, color="k")
    total.set_ylim(0, 1.2 * POOL)
    total.set_ylabel("sum (dimensionless)")
    total.set_title(
        f"sum of the weights + pool: conserved (max deviation {np.abs(conserved - POOL).max():.0e})",
        fontsize=9, loc="left",
    )
    total.set_xlabel("time (ms)")
    for ax in (spikes, values, total):
        ax.grid(True, alpha=0.3)
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
    agreement = np.abs(finals - finals[0]).max()
    print(f"largest disagreement between targets: {agreement:.3e}")
    path = os.path.join(args.output, "demo.png")
    first = next(iter(results))
    plot(results[first][2], first, agreement, path)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
