"""
Benchmark of multiplicative normalisation (``normalise_multiplicative``,
eta = 1) applied to the weights onto each target neuron (side ``post``) or
leaving each source neuron (side ``pre``), triggered every 10 ms or by each
spike of that neuron, against the ways plain Brian offers:

- ``hetero``: ``rule.apply_to(S, every=10*ms)`` / ``apply_to(S, on='post_spike')``
  (``over='pre'``: ``on='pre_spike'``);
- ``summed``: a summed variable of the total weight onto (from) each neuron
  (updated every time step) and ``S.run_regularly`` (every 10 ms) or
  ``on_post`` (``on_pre``) code that scales the weights;
- ``netop``: a ``network_operation`` in numpy, as fast as we could write
  one for any connectivity: periodically, the totals of all neurons with
  ``np.bincount``, each neuron's factor, and one multiplication per synapse
  in place; on spikes, a loop over the neurons that spiked, each with the
  indices of its synapses found before the run;
- ``netop_rows`` (all-to-all only): the same with the weights as a matrix,
  a row per neuron of the side (a view, no index): row sums, and rows
  scaled in place;
- ``baseline``: the same network without normalisation (what Brian costs
  anyway: its clock, the target spikes);
- ``floor``: a hand-written C++ loop over the same normalisations, over
  the synapses grouped by target (by source) (``normalisation_floor.cpp``).

The synapses are made grouped by the side's neuron (Brian's order for
``S.connect()`` on side ``pre``). The neurons of the side spike at 10 Hz
(Poisson, fixed seed) through a driver group,
whatever the weights, so every implementation normalises at the same times.
Each (implementation, target) runs in a process of its own, with a cached
build, three times, under Brian's profiler; the medians of the
simulation-loop times (``run s``) and of the time the profiler gives the
objects that normalise (``rule s``: the rule's own objects, the summed
variable and its scaling code, the network operation) are reported, with
``rule s`` against the floor and, for ``summed`` and ``netop``, against
``hetero`` on the same target (``x hetero`` above 1: ``hetero`` is faster).
``own s`` is the run time minus the baseline's, which is noisier.

On cpp_standalone the profiler's own cost (two calls of ``std::clock()``
per object and time step, about 0.3 µs) is larger than most steps' rule
work, so a second table gives the time one application of the rule adds to
the loop without the profiler: the rule applied 20 times against the
network without it, both programs run 9 times in alternation, the
difference of the medians over 20, against the floor.

Usage: ``python benchmarks/normalisation.py [--quick] [--sides post,pre] [--output DIR]``
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [(1000, 100, 0.1), (1000, 100, 1.0)]
QUICK_SIZES = [(60, 10, 0.5)]
DT_S, DURATION_S, PERIOD_S, RATE_HZ, W_TOTAL, SEED = 1e-4, 1.0, 0.01, 10.0, 1.0, 2020
TRIGGERS = ["every", "spike"]
SIDES = ["post", "pre"]
# per_application: the rule applied COPIES times, the programs run REPEATS times
COPIES, REPEATS = 20, 9
RUNS = [("floor", "c++"), ("baseline", "cpp_standalone"), ("hetero", "cpp_standalone"),
        ("summed", "cpp_standalone"), ("baseline", "cython"), ("hetero", "cython"),
        ("summed", "cython"), ("netop", "cython"), ("netop_rows", "cython"), ("baseline", "numpy"),
        ("hetero", "numpy"), ("summed", "numpy"), ("netop", "numpy"), ("netop_rows", "numpy")]
# implementations for all-to-all connectivity only
ALL_TO_ALL_ONLY = {"netop_rows"}


def make_case(M, N, p, side, folder):
    """The synapses, grouped by the neuron of ``side``, their weights, and the
    driver's spikes (``targets``: the neurons of ``side`` that spike)."""
    rng = np.random.default_rng(SEED)
    connected = rng.random((M, N)) < p
    if side == "post":
        post, pre = np.nonzero(connected.T)  # grouped by target
    else:
        pre, post = np.nonzero(connected)  # grouped by source
    w = rng.uniform(0.0, 1.0, size=len(pre))
    n_steps = int(round(DURATION_S / DT_S))
    n_shared = N if side == "post" else M
    fired = rng.random((n_steps, n_shared)) < RATE_HZ * DT_S
    steps, targets = np.nonzero(fired)
    case = dict(M=M, N=N, p=p, side=side, n_shared=n_shared, pre=pre.astype(np.int32),
                post=post.astype(np.int32), w=w, steps=steps, targets=targets, n_steps=n_steps)
    np.savez(os.path.join(folder, "case.npz"), **case)
    return case


def network(case, implementation, trigger, copies=1):
    """The Brian objects of one implementation, and a function giving the final
    weights; ``copies``: how many times the rule is applied (``hetero``)."""
    from brian2 import NeuronGroup, SpikeGeneratorGroup, Synapses, network_operation, second

    from brian2_hetero import normalise_multiplicative

    side, n_shared = case["side"], case["n_shared"]
    # the driver makes neuron j of the side spike one step after its driver spike
    D = SpikeGeneratorGroup(n_shared, case["targets"], case["steps"] * DT_S * second, name="driver")
    summed = "\ntotal : 1" if implementation == "summed" else ""
    spiking = NeuronGroup(n_shared, "v : 1" + summed, threshold="v > 0.5", reset="v = 0",
                          name="targets" if side == "post" else "inputs")
    drive = Synapses(D, spiking, on_pre="v_post += 1", name="drive")
    drive.connect(j="i")
    if side == "post":
        P, G = NeuronGroup(case["M"], "", name="inputs"), spiking
    else:
        P, G = spiking, NeuronGroup(case["N"], "", name="targets")
    scale = f"w = w * (1 + eta * (W_total / total_{side} - 1))"
    names = dict(W_total=W_TOTAL, eta=1.0)
    if implementation == "summed":
        model = f"w : 1\ntotal_{side} = w : 1 (summed)"
        code = {f"on_{side}": scale} if trigger == "spike" else {}
        S = Synapses(P, G, model, namespace=names, name="synapses", **code)
    else:
        S = Synapses(P, G, "w : 1", name="synapses")
    S.connect(i=case["pre"], j=case["post"])
    S.w = case["w"]
    objects = [D, spiking, drive, P if side == "post" else G, S]
    if implementation == "summed" and trigger == "every":
        S.run_regularly(scale, dt=PERIOD_S * second, when="end")
    elif implementation == "hetero":
        rule = normalise_multiplicative(W_total=W_TOTAL, eta=1.0, over=side, name="norm")
        for _ in range(copies):
            if trigger == "every":
                rule.apply_to(S, every=PERIOD_S * second)
            else:
                rule.apply_to(S, on=f"{side}_spike")
    elif implementation == "netop_rows":
        # all-to-all, grouped by the side's neuron: the weights as a
        # (neuron, synapse) matrix, a row per neuron
        rows = S.variables["w"].get_value().reshape(n_shared, -1)
        spikespace = spiking.variables["_spikespace"].get_value()
        if trigger == "every":
            def normalise_rows():
                rows[...] *= (1 + 1.0 * (W_TOTAL / rows.sum(axis=1) - 1))[:, None]

            op = network_operation(dt=PERIOD_S * second, when="end", name="netop")(normalise_rows)
        else:
            def on_spikes_rows():
                for n in spikespace[: spikespace[-1]]:
                    row = rows[n]
                    row *= 1 + 1.0 * (W_TOTAL / row.sum() - 1)

            op = network_operation(when="synapses", name="netop")(on_spikes_rows)
        objects.append(op)
    elif implementation == "netop":
        w = S.variables["w"].get_value()
        shared = case[side]
        spikespace = spiking.variables["_spikespace"].get_value()

        def normalise():
            # the factor of each neuron, then one multiplication per synapse
            totals = np.bincount(shared, w, minlength=n_shared)
            np.multiply(w, (1 + 1.0 * (W_TOTAL / totals - 1))[shared], out=w)

        if trigger == "every":
            op = network_operation(dt=PERIOD_S * second, when="end", name="netop")(normalise)
        else:
            # the synapses of each neuron of the side, found once
            synapses_of = np.split(np.argsort(shared, kind="stable"),
                                   np.cumsum(np.bincount(shared, minlength=n_shared))[:-1])

            def on_spikes():
                for n in spikespace[: spikespace[-1]]:
                    k = synapses_of[n]
                    w[k] *= 1 + 1.0 * (W_TOTAL / w[k].sum() - 1)

            op = network_operation(when="synapses", name="netop")(on_spikes)
        objects.append(op)
    return objects, lambda: np.array(S.w[:])


def reference_events(case, trigger):
    """The normalisations in order, as indices of the side's neurons (for
    the floor)."""
    if trigger == "every":
        count = int(round(DURATION_S / PERIOD_S))
        return np.tile(np.arange(case["n_shared"]), count).astype(np.int32)
    # a driver spike in step s makes the neuron spike in step s + 1
    keep = case["steps"] + 1 < case["n_steps"]
    return case["targets"][keep].astype(np.int32)


def worker(argv):
    implementation, target, trigger, folder, out = argv[:5]
    # with copies: the rule applied that many times, without the profiler
    # (for `per_application`), the program run REPEATS times
    copies = int(argv[5]) if len(argv) > 5 else None
    amplified = copies is not None
    from brian2 import Network, defaultclock, device, get_device, prefs, second, set_device
    from brian2_hetero import allocator

    # every implementation runs with the allocator settings of the numpy code of rules
    allocator.keep_freed_memory()

    case = dict(np.load(os.path.join(folder, "case.npz")))
    for key in ("M", "N", "n_shared", "n_steps"):
        case[key] = int(case[key])
    case["side"] = str(case["side"])
    defaultclock.dt = DT_S * second
    build = os.path.join(folder, f"build_{implementation}_{target}_{trigger}"
                         + (f"_x{copies}" if amplified else ""))
    if target == "cpp_standalone":
        set_device("cpp_standalone", directory=build, build_on_run=False)
    else:
        prefs.codegen.target = target
        if target == "cython":
            prefs.codegen.runtime.cython.cache_dir = os.path.join(folder, "cython_cache")
    objects, result = network(case, implementation, trigger, copies if amplified else 1)
    net = Network(*objects)
    net.run(case["n_steps"] * DT_S * second, profile=not amplified)
    if target == "cpp_standalone" and amplified:
        device.build(directory=build, run=False)
        with open(out, "w") as f:
            json.dump({"build": build}, f)
        return
    if target == "cpp_standalone":
        device.build(directory=build, run=False)
        times, own = [], []
        for _ in range(3):
            device.run(directory=build)
            times.append(device._last_run_time)
            own.append(own_time(implementation, case["side"], net.profiling_info))
    else:
        times = [get_device()._last_run_time]
        own = [own_time(implementation, case["side"], net.profiling_info)]
    with open(out, "w") as f:
        json.dump({"run_s": times, "rule_s": own, "w": result().tolist()}, f)


def own_time(implementation, side, profiling_info):
    """The time Brian's profiler gives the objects that do the normalising."""
    def mine(name):
        if implementation == "hetero":
            return name.startswith("norm_")
        if implementation == "summed":
            return name.startswith(("synapses_summed", "synapses_run_regularly", f"synapses_{side}"))
        return name == "netop"

    return sum(float(t) for name, t in profiling_info if mine(name))


def runtime_time(argv):
    """Runtime targets: a process per repetition (code generation and
    compilation are not in the run time)."""
    implementation, target, trigger, folder, out = argv
    times, own, w = [], [], None
    for k in range(3):
        path = f"{out}.{k}"
        subprocess.run([sys.executable, __file__, "--worker", implementation, target, trigger,
                        folder, path], check=True)
        with open(path) as f:
            data = json.load(f)
        times += data["run_s"]
        own += data["rule_s"]
        w = data["w"]
    return statistics.median(times), statistics.median(own), w


def per_application(trigger, folder, copies, repeats):
    """cpp_standalone: the time one application of the rule adds to the
    simulation loop, without the profiler (whose two calls of std::clock()
    per object and time step cost more than the rule does on most steps):
    the rule applied ``copies`` times against the network without it, the
    two programs run one after the other ``repeats`` times; the difference
    of the medians divided by ``copies``."""
    builds = []
    for implementation, k in (("baseline", 0), ("hetero", copies)):
        out = os.path.join(folder, f"{implementation}_x{k}_{trigger}.json")
        subprocess.run([sys.executable, __file__, "--worker", implementation, "cpp_standalone",
                        trigger, folder, out, str(k)], check=True)
        with open(out) as f:
            builds.append(json.load(f)["build"])
    times = [[], []]
    for _ in range(repeats):
        for k, build in enumerate(builds):
            subprocess.run([os.path.join(build, "main")], cwd=build, check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(build, "results", "last_run_info.txt")) as f:
                times[k].append(float(f.read().split()[0]))
    base, hetero = (statistics.median(t) for t in times)
    return (hetero - base) / copies, base, hetero


def floor(case, trigger, folder):
    exe = os.path.join(folder, "normalisation_floor")
    if not os.path.exists(exe):
        from brian2 import prefs

        flags = prefs.codegen.cpp.extra_compile_args_gcc
        subprocess.run(["g++", *flags, "-o", exe, os.path.join(HERE, "normalisation_floor.cpp")],
                       check=True)
    events = reference_events(case, trigger)
    side, n_shared = case["side"], case["n_shared"]
    offsets = np.concatenate(([0], np.cumsum(np.bincount(case[side], minlength=n_shared))))
    path = os.path.join(folder, f"floor_{trigger}.in")
    with open(path, "wb") as f:
        np.array([n_shared, len(case["w"]), len(events)], dtype=np.int64).tofile(f)
        np.array([W_TOTAL], dtype=np.float64).tofile(f)
        offsets.astype(np.int64).tofile(f)
        events.tofile(f)
        case["w"].astype(np.float64).tofile(f)
    times, w = [], None
    for _ in range(3):
        out = subprocess.run([exe, path, path + ".out"], check=True, capture_output=True, text=True)
        times.append(float(out.stdout.split()[0]))
        w = np.fromfile(path + ".out", dtype=np.float64)
    return statistics.median(times), w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sides", default=",".join(SIDES),
                        help="the sides to normalise, comma-separated (post: the weights onto "
                             "each target, pre: the weights leaving each source)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    sides = args.sides.split(",")
    if not sides or any(side not in SIDES for side in sides):
        parser.error(f"--sides {args.sides!r}: give one or both of {', '.join(SIDES)}")
    output = os.path.abspath(args.output or os.path.join(HERE, "quick" if args.quick else "results"))
    sizes = QUICK_SIZES if args.quick else SIZES
    rows, applications = [], []
    started = time.perf_counter()
    for side, (M, N, p) in [(side, size) for side in sides for size in sizes]:
        folder = os.path.join(output, "normalisation_work", f"{side}_{M}x{N}p{p:g}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        case = make_case(M, N, p, side, folder)
        for trigger in TRIGGERS:
            results = {}
            for implementation, target in RUNS:
                if implementation in ALL_TO_ALL_ONLY and p < 1:
                    continue
                label = f"{side} {M}x{N} p={p:g} {trigger}: {implementation}/{target}"
                print(f"[{time.perf_counter() - started:6.1f} s] {label}", flush=True)
                if implementation == "floor":
                    run_s, w = floor(case, trigger, folder)
                    rule_s = run_s
                elif target == "cpp_standalone":
                    out = os.path.join(folder, f"{implementation}_{target}_{trigger}.json")
                    subprocess.run([sys.executable, __file__, "--worker", implementation, target,
                                    trigger, folder, out], check=True)
                    with open(out) as f:
                        data = json.load(f)
                    run_s, rule_s, w = (statistics.median(data["run_s"]),
                                        statistics.median(data["rule_s"]), data["w"])
                else:
                    run_s, rule_s, w = runtime_time((implementation, target, trigger, folder,
                                                     os.path.join(folder, f"{implementation}_{target}_{trigger}.json")))
                results[(implementation, target)] = (run_s, rule_s, np.asarray(w))
            floor_s, _, floor_w = results[("floor", "c++")]
            print(f"[{time.perf_counter() - started:6.1f} s] {side} {M}x{N} p={p:g} {trigger}: "
                  f"one application, cpp_standalone", flush=True)
            copies, repeats = (2, 1) if args.quick else (COPIES, REPEATS)
            apply_s, without_s, with_s = per_application(trigger, folder, copies, repeats)
            applications.append(dict(side=side, M=M, N=N, p=p, trigger=trigger, copies=copies, repeats=repeats,
                                     loop_without_s=without_s, loop_with_s=with_s,
                                     per_application_s=apply_s, floor_s=floor_s,
                                     vs_floor=apply_s / floor_s))
            for (implementation, target), (run_s, rule_s, w) in results.items():
                base = results.get(("baseline", target), (None,))[0]
                own = run_s - base if base is not None and implementation not in ("baseline", "floor") else None
                diff = None if implementation == "baseline" else float(np.max(np.abs(w - floor_w)))
                hetero_s = results.get(("hetero", target), (None, None))[1]
                rows.append(dict(side=side, M=M, N=N, p=p, synapses=len(case["w"]), trigger=trigger,
                                 implementation=implementation, target=target, run_s=run_s,
                                 own_s=own, vs_floor=run_s / floor_s if implementation != "baseline" else None,
                                 own_vs_floor=own / floor_s if own is not None else None,
                                 rule_s=rule_s if implementation != "baseline" else None,
                                 rule_vs_floor=rule_s / floor_s if implementation not in ("baseline", "floor") else None,
                                 vs_hetero=(rule_s / hetero_s if implementation in ("summed", "netop", "netop_rows")
                                            and hetero_s else None),
                                 max_diff_floor=diff))
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "normalisation.json"), "w") as f:
        json.dump({"runs": rows, "per_application": applications}, f, indent=1)
    def size(r):
        return f"{r['side']} {r['M']}x{r['N']} p={r['p']:g}".rjust(21)

    header = (f"{'side, size':>21} {'trigger':>7} {'implementation':>14} {'target':>15} {'run s':>8} {'own s':>8} "
              f"{'rule s':>8} {'rule x floor':>12} {'x hetero':>8} {'max diff':>9}")
    lines = [header, "-" * len(header)]
    for r in rows:
        def fmt(v, spec):
            return format(v, spec) if v is not None else "-"
        lines.append(size(r) + f" {r['trigger']:>7} {r['implementation']:>14} {r['target']:>15} "
                     f"{fmt(r['run_s'], '8.4f')} {fmt(r['own_s'], '8.4f'):>8} {fmt(r['rule_s'], '8.4f'):>8} "
                     f"{fmt(r['rule_vs_floor'], '12.2f'):>12} {fmt(r['vs_hetero'], '8.2f'):>8} "
                     f"{fmt(r['max_diff_floor'], '9.1e'):>9}")
    header = (f"{'side, size':>21} {'trigger':>7} {'copies':>6} {'without s':>9} {'with s':>8} "
              f"{'one s':>8} {'floor s':>8} {'x floor':>7}")
    lines += ["", "cpp_standalone, one application of the rule (profiler off; medians of "
              "the loop times without the rule and with it applied `copies` times):",
              header, "-" * len(header)]
    for r in applications:
        lines.append(size(r) + f" {r['trigger']:>7} {r['copies']:>6} "
                     f"{r['loop_without_s']:9.4f} {r['loop_with_s']:8.4f} {r['per_application_s']:8.5f} "
                     f"{r['floor_s']:8.5f} {r['vs_floor']:7.2f}")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(output, "normalisation.txt"), "w") as f:
        f.write(text + "\n")
    # every implementation normalised the same way
    bad = [r for r in rows if r["max_diff_floor"] is not None and r["max_diff_floor"] > 1e-9]
    if bad:
        print("different results:", bad)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        sys.exit(main())
