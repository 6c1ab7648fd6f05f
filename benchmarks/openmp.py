"""
Benchmark of rules applied once per neuron under OpenMP in cpp_standalone:
multiplicative normalisation (``normalise_multiplicative``, eta = 1) of the
weights onto each target neuron, every 10 ms or on each target spike, in a
network whose other parts run in parallel too: the targets' state update
(a leaky integrator) and STDP on the same weights (``on_pre`` and
``on_post`` code with synaptic variables only, which Brian splits among the
threads). The inputs spike at 10 Hz (Poisson, fixed seed) and so do the
targets, through a driver, whatever the weights.

Each (size, trigger) is built with ``openmp_threads`` = 0 (no OpenMP), 1
and 2, with and without Brian's profiler, and each program runs REPEATS
times, one after the other in rotation; the medians are reported of the
simulation loop's time without the profiler (``run s``; the profiler's
``std::clock()`` calls without OpenMP cost more than some objects) and of
the time the profiler gives the rule's object (``rule s``, measured with
``omp_get_wtime`` under OpenMP), with the ratios against one thread. The
final weights are compared bit for bit across thread counts.

Usage: ``python benchmarks/openmp.py [--quick] [--output DIR]``
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [(1000, 100, 1.0), (2000, 2000, 0.1)]
QUICK_SIZES = [(100, 50, 0.5)]
TRIGGERS = ["every", "spike"]
THREADS = [0, 1, 2]
DT_S, DURATION_S, PERIOD_S, RATE_HZ, W_TOTAL, SEED = 1e-4, 1.0, 0.01, 10.0, 1.0, 2016
REPEATS = 5


def label(M, N, p):
    return f"{M}x{N}" + ("" if p == 1.0 else f" p={p:g}")


def build(M, N, p, trigger, threads, profiled, folder):
    """Build the program (in a process of its own: one Brian device each)."""
    from brian2 import (Hz, Network, NeuronGroup, PoissonGroup, SpikeGeneratorGroup, Synapses,
                        defaultclock, device, ms, prefs, second, seed, set_device)

    from brian2_hetero import normalise_multiplicative

    set_device("cpp_standalone", directory=folder, build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = threads
    defaultclock.dt = DT_S * second
    seed(SEED)
    rng = np.random.default_rng(SEED)
    n_steps = int(round(DURATION_S / DT_S))
    steps, targets = np.nonzero(rng.random((n_steps, N)) < RATE_HZ * DT_S)
    P = PoissonGroup(M, RATE_HZ * Hz, name="inputs")
    D = SpikeGeneratorGroup(N, targets, steps * DT_S * second, name="driver")
    G = NeuronGroup(N, "dv/dt = -v / (20 * ms) : 1", threshold="v > 0.5", reset="v = 0",
                    method="exact", name="targets")
    drive = Synapses(D, G, on_pre="v_post += 1", name="drive")
    drive.connect(j="i")
    S = Synapses(P, G, """w : 1
                          dapre/dt = -apre / (20 * ms) : 1 (event-driven)
                          dapost/dt = -apost / (20 * ms) : 1 (event-driven)""",
                 on_pre="apre += 0.001\nw = clip(w + apost, 0, 1)",
                 on_post="apost -= 0.001\nw = clip(w + apre, 0, 1)", name="stdp")
    connected = rng.random((M, N)) < p
    pre, post = np.nonzero(connected)
    S.connect(i=pre, j=post)
    S.w = rng.uniform(0.0, 1.0, size=len(pre)) * W_TOTAL * N / max(len(pre), 1)
    rule = normalise_multiplicative(W_total=W_TOTAL, eta=1.0, name="norm")
    if trigger == "every":
        rule.apply_to(S, every=PERIOD_S * second)
    else:
        rule.apply_to(S, on="post_spike")
    net = Network(P, D, G, drive, S)
    net.run(DURATION_S * second, profile=profiled)
    device.build(directory=folder, run=False)


def measure(folder):
    """Run the built program once; (run s, rule s)."""
    subprocess.run([os.path.join(folder, "main")], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, "results", "last_run_info.txt")) as f:
        run_s = float(f.read().split()[0])
    rule_s = 0.0
    profile = os.path.join(folder, "results", "profiling_info.txt")
    if os.path.exists(profile):
        with open(profile) as f:
            for line in f:
                name, _, value = line.partition("\t")
                if name.startswith("norm_"):
                    rule_s += float(value)
    return run_s, rule_s


def weights(folder):
    """The final weights of the last run, from the results folder."""
    (path,) = glob.glob(os.path.join(folder, "results", "_dynamic_array_stdp_w_*"))
    return np.fromfile(path, dtype=np.float64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small size, two repeats")
    parser.add_argument("--output", default=os.path.join(HERE, "results"))
    parser.add_argument("--build", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        M, N, p, trigger, threads, profiled, folder = args.build
        build(int(M), int(N), float(p), trigger, int(threads), profiled == "profiled", folder)
        return
    sizes, repeats = (QUICK_SIZES, 2) if args.quick else (SIZES, REPEATS)
    work = os.path.join(args.output, "openmp_work")
    os.makedirs(work, exist_ok=True)
    rows, lines = [], []
    for M, N, p in sizes:
        for trigger in TRIGGERS:
            folders = {}
            for threads in THREADS:
                for profiled in ("profiled", "plain"):
                    folder = os.path.join(work, f"{M}x{N}p{p:g}_{trigger}_t{threads}_{profiled}")
                    subprocess.run([sys.executable, __file__, "--build", str(M), str(N), str(p), trigger,
                                    str(threads), profiled, folder], check=True)
                    folders[threads, profiled] = folder
            times = {threads: ([], []) for threads in THREADS}
            for _ in range(repeats):
                for (threads, profiled), folder in folders.items():
                    run_s, rule_s = measure(folder)
                    if profiled == "plain":
                        times[threads][0].append(run_s)
                    else:
                        times[threads][1].append(rule_s)
            final = [weights(folder) for folder in folders.values()]
            same = all(w.tobytes() == final[0].tobytes() for w in final)
            one = {k: statistics.median(times[1][k]) for k in (0, 1)}
            for threads in THREADS:
                run_s, rule_s = (statistics.median(times[threads][k]) for k in (0, 1))
                rows.append(dict(size=label(M, N, p), trigger=trigger, threads=threads, run_s=run_s,
                                 rule_s=rule_s, run_vs_one=run_s / one[0], rule_vs_one=rule_s / one[1],
                                 same_bits=same, runs_s=times[threads][0], rules_s=times[threads][1]))
    header = ("| size | trigger | openmp_threads | run s | × 1 thread | rule s | × 1 thread |\n"
              "| --- | --- | --- | --- | --- | --- | --- |")
    lines.append(header)
    for row in rows:
        lines.append(f"| {row['size']} | {row['trigger']} | {row['threads']} | {row['run_s']:.3f} | "
                     f"{row['run_vs_one']:.2f} | {row['rule_s']:.4f} | {row['rule_vs_one']:.2f} |")
    same = all(row["same_bits"] for row in rows)
    lines.append("")
    lines.append(f"final weights the same bits for 0, 1 and 2 threads in every case: {same}")
    lines.append(f"medians of {repeats} runs each; {os.cpu_count()} cores")
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        with open(os.path.join(args.output, "openmp.txt"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.output, "openmp.json"), "w") as f:
            json.dump(rows, f, indent=1)
    if not same:
        raise SystemExit("the final weights differ between thread counts")


if __name__ == "__main__":
    main()
