"""
Field et al. (2020), Fig. 3A-C: the probabilistic model of heterosynaptic
plasticity and the set point of excitatory-inhibitory balance, run as one
Brian network with the built-in ``field2020`` rule.

A neuron has 12 input channels, each with an excitatory (E) and an
inhibitory (I) weight, drawn uniformly in [0, 1). Pairing one channel
multiplies its E and I weights by 1.65 and the weight of the strongest other
channel, among the E weights and among the I weights separately, by
``ehet``. A neuron's E/I balance is r_EI, the correlation of its 12 E weights
with its 12 I weights. As in the authors' procedure, each of ``trials``
random neurons is paired once at each of its 12 channels, each pairing
starting from the same weights: ``trials`` x 12 independent pairings, here
``trials`` x 12 neurons of one network, each receiving one presynaptic spike
at its paired channel, through one ``Synapses`` for the E weights and one for
the I weights.

Fig. 3A and B plot, against r_EI before pairing (rounded to 0.01), the
probability that pairing raises r_EI, lowers it or leaves it unchanged (at
that rounding). The set point is the r_EI from which lowering wins: the
first value from which P(lower) exceeds P(raise) + P(unchanged)/2 over a
run of 20 bins with at most 3 exceptions, shifted by 0.02 below 0.97, the
authors' reading of their curves (``crossing``). Fig. 3C sweeps ``ehet`` (strength of depression relative to
potentiation, (1 - ehet) / 0.65 on the x axis).

Every pairing of the network is checked against a plain NumPy version of
the published procedure. Prints one line per panel, ``crossing 3A = <r>``,
``crossing 3B = <r>`` and ``crossing 3C ehet=<e> = <r>`` per value of the
sweep, and writes ``output/field2020_fig3.png``.

Reference: R. E. Field, J. A. D'amour, R. Tremblay, C. Miehl, B. Rudy,
J. Gjorgjieva, R. C. Froemke (2020). Heterosynaptic plasticity determines the
set point for cortical excitatory-inhibitory balance. Neuron 106, 842-854.
The authors' MATLAB code (``Probabilistic_Model.m`` in
``cmiehl/heterosynplast2018``) was read as the specification.

Usage: ``python examples/field2020_fig3.py [--quick] [--trials N]
[--target cpp_standalone|cython|numpy] [--output DIR] [--seed S]``
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

CHANNELS = 12
POTENTIATION = 1.65
EHET_3A, EHET_3B = 0.62, 0.2
# Fig. 3C: heterosynaptic depression from 2% to 98% in steps of 2%
SWEEP = np.round(1 - np.arange(0.98, 0.0, -0.02), 2)
QUICK_SWEEP = np.array([0.9, 0.62, 0.4, 0.2, 0.05])
TOLERANCE = 1e-12
BINS = np.round(np.arange(-100, 101) / 100, 2)  # r_EI rounded to 0.01


# -- the network ---------------------------------------------------------------

class Pairings:
    """
    ``trials`` neurons x 12 copies, copy c of neuron t paired at channel c:
    neuron t * 12 + c of one NeuronGroup, with 12 E and 12 I synapses from
    its own 12 inputs (input c * 12 + k is channel k of the copies paired at
    c, so that the spike of input c * 12 + c pairs exactly those copies).
    ``run(ehet)`` returns the weights after pairing, each (trials, 12
    copies, 12 channels).
    """

    def __init__(self, E, I, target, directory):
        from brian2 import (NeuronGroup, Network, SpikeGeneratorGroup, Synapses, defaultclock,
                            prefs, set_device)

        from brian2_hetero import field2020

        self.target, self.directory = target, directory
        if target == "cpp_standalone":
            set_device("cpp_standalone", directory=directory, build_on_run=False)
        else:
            prefs.codegen.target = target
        trials = E.shape[0]
        n = trials * CHANNELS
        paired = np.arange(CHANNELS) * CHANNELS + np.arange(CHANNELS)
        P = SpikeGeneratorGroup(CHANNELS * CHANNELS, paired, np.zeros(CHANNELS) * defaultclock.dt,
                                name="channels")
        G = NeuronGroup(n, "v : 1", name="neurons")
        # synapses target by target (the 12 of a neuron contiguous), channel by channel
        post = np.repeat(np.arange(n), CHANNELS)
        channel = np.tile(np.arange(CHANNELS), n)
        pre = (post % CHANNELS) * CHANNELS + channel
        # each synapse's initial weight, in synapse order (also the run_args of each run)
        self.initial = {"E": E[post // CHANNELS, channel], "I": I[post // CHANNELS, channel]}
        self.rules, self.synapses = {}, {}
        for kind in "EI":
            rule = field2020(a=POTENTIATION, b=EHET_3A, name=f"field_{kind}")
            S = Synapses(P, G, "w : 1", on_pre=f"v_post += field_{kind}(i, j)",
                         namespace={f"field_{kind}": rule}, name=f"synapses_{kind}")
            S.connect(i=pre, j=post)
            S.w = self.initial[kind]
            self.rules[kind], self.synapses[kind] = rule, S
        self.shape = (trials, CHANNELS, CHANNELS)
        self.net = Network(P, G, *self.synapses.values(), *self.rules.values())
        self.built = False

    def run(self, ehet):
        from brian2 import defaultclock, device

        if self.target == "cpp_standalone":
            if not self.built:
                self.net.run(2 * defaultclock.dt)
                device.build(directory=self.directory, compile=True, run=False, with_output=False)
                self.built = True
            run_args = {self.rules[k].b: ehet for k in "EI"}
            run_args.update({self.synapses[k].w: self.initial[k] for k in "EI"})
            device.run(directory=self.directory, with_output=False, run_args=run_args)
        else:
            if not self.built:
                self.net.store()
                self.built = True
            self.net.restore()
            for k in "EI":
                self.rules[k].b = ehet
            self.net.run(2 * defaultclock.dt)
        return {k: np.asarray(self.synapses[k].w[:]).reshape(self.shape) for k in "EI"}


# -- the published procedure in plain NumPy -------------------------------------

def pair_numpy(weights, ehet):
    """(trials, 12) weights -> (trials, 12 copies, 12 channels): copy c paired at channel c."""
    trials = weights.shape[0]
    after = np.repeat(weights[:, None, :], CHANNELS, axis=1)
    copies = np.arange(CHANNELS)
    after[:, copies, copies] *= POTENTIATION
    others = np.where(np.eye(CHANNELS, dtype=bool)[None], -np.inf, weights[:, None, :])
    strongest = np.argmax(others, axis=2)  # the first of the largest, as MATLAB's max
    t = np.arange(trials)[:, None]
    after[t, copies[None, :], strongest] *= ehet
    return after


def r_ei(E, I):
    """The Pearson correlation of the E and I weights over the last axis."""
    e = E - E.mean(axis=-1, keepdims=True)
    i = I - I.mean(axis=-1, keepdims=True)
    return (e * i).sum(axis=-1) / np.sqrt((e * e).sum(axis=-1) * (i * i).sum(axis=-1))


# -- statistics of the figure ----------------------------------------------------

def bin_index(r):
    return np.round(r * 100).astype(int) + 100


def probabilities(before, after):
    """P(raise), P(lower), P(unchanged) of r_EI per bin of r_EI before
    pairing (NaN where no pairing starts), and the number per bin."""
    b, a = bin_index(before).ravel(), bin_index(after).ravel()
    count = np.bincount(b, minlength=BINS.size).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = np.bincount(b, weights=a > b, minlength=BINS.size) / count
        down = np.bincount(b, weights=a < b, minlength=BINS.size) / count
        same = np.bincount(b, weights=a == b, minlength=BINS.size) / count
    return up, down, same, count


def crossing(up, down, same):
    """The set point as the authors read it off their curves: the first bin
    from which P(lower) > P(raise) + P(unchanged)/2 holds in all but at most
    3 of the next 23 bins (or in the bins left), plus 0.02 below 0.97."""
    with np.errstate(invalid="ignore"):
        lower = np.flatnonzero(down > up + same / 2)
    if lower.size == 0:
        return 1.0
    for k, index in enumerate(lower):
        # (fewer than 20 bins left: taken)
        if k + 20 >= lower.size or lower[k + 20] <= index + 23:
            break
    if index < 197:
        index += 2
    return float(BINS[index])


# -- main ----------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="200 neurons and 5 values of ehet, for the tests (seconds)")
    parser.add_argument("--trials", type=int, default=None,
                        help="random neurons, each paired at each channel (default 50000; quick: 200)")
    parser.add_argument("--target", default="cpp_standalone", choices=["cpp_standalone", "cython", "numpy"])
    parser.add_argument("--output", default="output", help="folder for the figure (default: output)")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args(argv)
    trials = args.trials if args.trials is not None else (200 if args.quick else 50000)
    if trials < 1:
        parser.error(f"--trials must be positive, got {trials}")
    sweep = QUICK_SWEEP if args.quick else SWEEP

    rng = np.random.default_rng(args.seed)
    E, I = rng.random((trials, CHANNELS)), rng.random((trials, CHANNELS))
    before = np.repeat(r_ei(E, I)[:, None], CHANNELS, axis=1)
    print(f"{trials} neurons x {CHANNELS} channels, each paired once, on {args.target}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="field2020_") as directory:
        network = Pairings(E, I, args.target, directory)
        results, largest = {}, 0.0
        for ehet in sorted({EHET_3A, EHET_3B, *sweep}, reverse=True):
            after = network.run(float(ehet))
            for kind, initial in (("E", E), ("I", I)):
                expected = pair_numpy(initial, ehet)
                largest = max(largest, float(np.max(np.abs(after[kind] - expected))))
            results[ehet] = probabilities(before, r_ei(after["E"], after["I"]))
    seconds = time.perf_counter() - started
    print(f"every pairing against the NumPy procedure: largest difference {largest:.1e} "
          f"({len(results)} values of ehet, {seconds:.1f} s)")
    if not largest <= TOLERANCE:
        print(f"FAILED: the network differs from the NumPy procedure by {largest:.3e}")
        return 1

    points = {ehet: crossing(*results[ehet][:3]) for ehet in results}
    print(f"crossing 3A = {points[EHET_3A]:.2f}")
    print(f"crossing 3B = {points[EHET_3B]:.2f}")
    for ehet in sweep:
        print(f"crossing 3C ehet={ehet:.2f} = {points[ehet]:.2f}")
    plot(results, points, sweep, os.path.join(args.output, "field2020_fig3.png"), trials)
    return 0


def plot(results, points, sweep, path, trials):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, ehet, panel in ((axes[0], EHET_3A, "A"), (axes[1], EHET_3B, "B")):
        up, down, same, _ = results[ehet]
        ax.plot(BINS, up, ".", ms=3, color="tab:red", label="raised")
        ax.plot(BINS, down, ".", ms=3, color="tab:blue", label="lowered")
        ax.plot(BINS, same, ".", ms=3, color="0.5", label="unchanged")
        ax.axvline(points[ehet], color="k")
        ax.set(xlim=(-1, 1), ylim=(0, 1), xlabel="r_EI before pairing", ylabel="probability",
               title=f"{panel}: ehet = {ehet:g}, set point {points[ehet]:.2f}")
        ax.legend(fontsize=8, loc="center left")
    ratio = (1 - np.asarray(sweep)) / (POTENTIATION - 1)
    axes[2].plot(ratio, [points[e] for e in sweep], "o-", color="k", ms=3)
    low = min(0.0, min(points[e] for e in sweep) - 0.05)
    axes[2].set(xlabel="heterosynaptic depression / homosynaptic potentiation",
                ylabel="set point (r_EI)", ylim=(low, 1), title="C: set point against depression")
    fig.suptitle(f"Field et al. (2020) Fig. 3, probabilistic model: {trials} neurons x "
                 f"{CHANNELS} pairings per value, brian2_hetero's field2020", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure: {path}")


if __name__ == "__main__":
    sys.exit(main())
