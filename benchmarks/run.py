"""
Benchmark of brian2_hetero against the other ways of running the rule in Brian.

For each size M inputs x N targets (all-to-all), one Poisson spike list (10 Hz,
1 s, dt = 0.1 ms, fixed seed) goes through:

- ``floor``: plain C++ loops over the spike list (``floor.cpp``), built with
  Brian's default flags (``prefs.codegen.cpp.extra_compile_args_gcc``): one
  that branches past the siblings that give nothing, one without the branch;
  the faster of the two is the floor;
- ``hetero``: ``getw(i, j)`` from brian2_hetero, on numpy, cython and
  cpp_standalone;
- ``relay``: the relay-neuron network in plain Brian, on the same targets;
- ``netop``: a ``network_operation`` applying the rule, on numpy and cython;
- ``plain``: the network of ``hetero`` without the rule (``v_post += w``):
  what Brian itself takes to run the network and deliver the spikes, on each
  target. ``hetero``'s rows give their run time minus this (``- plain``)
  against the floor too: the time the rule adds.

Every implementation runs in processes of its own (``worker.py``). The run time
is the time of the simulation loop only; code generation and compilation are
reported in a table of their own, once with empty caches (first build) and
once with everything cached. Final weights and pools are compared with the
plain-Python rule of ``tests/reference.py``. Writes ``results.json``,
``results.csv`` and ``runtime.png`` to the output folder.

Usage: ``python benchmarks/run.py [--quick] [--output DIR] [--repeats R]``
"""

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from procfs import field  # noqa: E402
from reference import apply_spike  # noqa: E402  (the tests' plain-Python rule)

RATE_HZ = 10.0
DURATION_S = 1.0
DT_S = 1e-4
SEED = 2012
W0 = 3.0
ETA = 0.8
# M inputs x N targets, connection probability p (1: all-to-all)
SIZES = [(100, 10, 1.0), (300, 30, 1.0), (1000, 50, 1.0), (2000, 200, 1.0), (2000, 2000, 0.1)]
QUICK_SIZES = [(40, 8, 1.0), (40, 30, 0.3)]
# hetero: synapses grouped by target; hetero_src: Brian's default order of connect()
RUNS = [
    ("floor", "c++"),
    ("plain", "cpp_standalone"),
    ("plain", "cython"),
    ("plain", "numpy"),
    ("hetero", "cpp_standalone"),
    ("hetero", "cython"),
    ("hetero", "numpy"),
    ("hetero_src", "cpp_standalone"),
    ("hetero_src", "cython"),
    ("hetero_src", "numpy"),
    ("relay", "cpp_standalone"),
    ("relay", "cython"),
    ("relay", "numpy"),
    ("netop", "cython"),
    ("netop", "numpy"),
]
# Differences from the reference above this are failures (the relay network,
# which treats coincident spikes its own way, is held to its own reference).
TOLERANCE = 1e-9
# A run is skipped when its estimate exceeds these.
MAX_RUN_S = 120.0
QUICK_MAX_RUN_S = 20.0
QUICK_CYTHON_CACHE = os.path.expanduser("~/.cython/brian2_hetero_quick_O0")
MEMORY_SHARE = 0.5  # of the memory available when the benchmark starts
# A floor shorter than this is not timed reliably: no ratios to it are given.
FLOOR_TIMEABLE_S = 0.05
# Bytes per relay synapse assumed before any relay network has been measured.
RELAY_BYTES_PER_SYNAPSE = 40.0
# Sibling updates a plain-Python reference may cost per size (about 1e7 per s).
REFERENCE_BUDGET = 3e7


class Case:
    """One size: its connectivity, spike list, initial values, and where its files go."""

    def __init__(self, M, N, p, folder):
        self.M, self.N, self.p = M, N, p
        self.n_steps = int(round(DURATION_S / DT_S))
        rng = np.random.default_rng(SEED)
        fired = rng.random((self.n_steps, M)) < RATE_HZ * DT_S
        # row-major: by time step, then by input -- Brian's delivery order
        self.steps, self.sources = (a.astype(np.int32) for a in np.nonzero(fired))
        self.W = rng.uniform(0.0, 1.0, size=(M, N))
        self.pool = rng.uniform(0.0, W0, size=N)
        if p < 1:
            # no synapse: NaN (the results of every implementation use the same convention)
            self.W[rng.random((M, N)) >= p] = np.nan
        self.connected = ~np.isnan(self.W)
        self.n_synapses = int(self.connected.sum())
        self.n_spikes = len(self.sources)
        incoming = self.connected.sum(axis=0)
        # sibling updates: each spike of input i updates the synapses onto each of its targets
        self.updates = int((self.connected @ incoming)[self.sources].sum())
        self.relay_synapses = N * M * (M - 1) + 2 * M * N if p == 1 else None
        per_step = np.bincount(self.steps, minlength=self.n_steps)
        self.coincident_steps = int(np.sum(per_step > 1))
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.file = os.path.join(folder, "case.npz")
        # the synapses grouped by target, and in Brian's default order of connect() (by source)
        by_target = np.nonzero(self.connected.T)[::-1]
        by_source = np.nonzero(self.connected)
        np.savez(
            self.file, M=M, N=N, p=p, n_steps=self.n_steps, dt=DT_S, sources=self.sources,
            steps=self.steps, W0=W0, eta=ETA, w_init=self.W, pool_init=self.pool,
            by_target=np.array(by_target, dtype=np.int32), by_source=np.array(by_source, dtype=np.int32),
        )
        self.floor_input = os.path.join(folder, "floor.in")
        self.write_floor_input(self.floor_input)
        # computed when a relay network has run on this size
        self.relay_reference = None

    @property
    def label(self):
        return f"M={self.M} N={self.N}" + (f" p={self.p:g}" if self.p < 1 else "")

    def write_floor_input(self, path):
        """The synapses grouped by target (slots), and each input's synapses in delivery order."""
        M, N = self.M, self.N
        slot = np.full((M, N), -1, dtype=np.int64)
        post_major = np.nonzero(self.connected.T)
        slot[post_major[1], post_major[0]] = np.arange(self.n_synapses)
        offsets = np.concatenate(([0], np.cumsum(self.connected.sum(axis=0))))
        out_sources, out_targets = np.nonzero(self.connected)
        out_offsets = np.concatenate(([0], np.cumsum(self.connected.sum(axis=1))))
        with open(path, "wb") as f:
            np.array([M, N, self.n_synapses, self.n_spikes], dtype=np.int64).tofile(f)
            np.array([W0, ETA], dtype=np.float64).tofile(f)
            self.sources.tofile(f)
            offsets.astype(np.int64).tofile(f)
            out_offsets.astype(np.int64).tofile(f)
            out_targets.astype(np.int32).tofile(f)
            slot[out_sources, out_targets].tofile(f)
            self.W.T[self.connected.T].tofile(f)
            self.pool.tofile(f)

    def from_slots(self, values):
        """An (M, N) weight matrix (NaN without synapse) from values grouped by target."""
        W = np.full((self.M, self.N), np.nan)
        W.T[self.connected.T] = values
        return W


def reference_columns(case):
    """Targets checked against the plain-Python rule: all of them if affordable."""
    per_target = case.updates / max(case.N, 1)
    affordable = int(REFERENCE_BUDGET // max(per_target, 1))
    count = min(case.N, max(2, affordable))
    return np.unique(np.linspace(0, case.N - 1, count).round().astype(int))


def sequential_reference(case, columns):
    """The rule, spike after spike, for the given targets (they are independent)."""
    W = np.full((case.M, len(columns)), np.nan)
    pool = np.empty(len(columns))
    for c, j in enumerate(columns):
        inputs = np.flatnonzero(case.connected[:, j])
        position = {int(i): k for k, i in enumerate(inputs)}
        column = case.W[inputs, j].tolist()
        p = [float(case.pool[j])]
        onto = {0: range(len(column))}
        for i in case.sources.tolist():
            if i in position:
                apply_spike(column, p, onto, position[i], 0, W0, ETA)
        W[inputs, c] = column
        pool[c] = p[0]
    return W, pool


def relay_reference(case, columns):
    """
    What the relay network computes. All inputs spiking in one step take from
    the pool first, one after the other; then each takes from every stronger
    sibling, comparing with its own weight from before the step.
    """
    W = np.empty((case.M, len(columns)))
    pool = np.empty(len(columns))
    bounds = np.flatnonzero(np.diff(case.steps)) + 1
    groups = [g.tolist() for g in np.split(case.sources, bounds)] if case.n_spikes else []
    for c, j in enumerate(columns):
        w = case.W[:, j].tolist()
        p = float(case.pool[j])
        for group in groups:
            before = [w[i] for i in group]
            for i in group:
                taken = ETA * p
                w[i] += taken
                p -= taken
            for i, x in zip(group, before):
                for k in range(case.M):
                    if k != i and w[k] > x:
                        d = w[k] * (w[k] - x) / (W0 + w[k])
                        w[i] += d
                        w[k] -= d
        W[:, c] = w
        pool[c] = p
    return W, pool


def available_memory():
    return int(field("/proc/meminfo", "MemAvailable").split()[0]) * 1024


def machine():
    import brian2
    import Cython

    cpu = field("/proc/cpuinfo", "model name") or platform.processor()
    compiler = subprocess.run([cxx(), "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "brian2": brian2.__version__,
        "numpy": np.__version__,
        "cython": Cython.__version__,
        "compiler": compiler.splitlines()[0] if compiler else cxx(),
        "flags": " ".join(compile_flags()),
    }


def cxx():
    return os.environ.get("CXX", "g++")


def compile_flags():
    from brian2 import prefs

    return list(prefs.codegen.cpp.extra_compile_args_gcc)


class Failure(Exception):
    pass


def run_process(command, timeout):
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"no result after {timeout:.0f} s: {' '.join(command)}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise Failure(f"exit status {proc.returncode} from {' '.join(command)}\n{tail}")
    return proc.stdout


class Floor:
    """The plain C++ loop: built once, then run on each size."""

    def __init__(self, folder):
        self.folder = folder
        self.binary = os.path.join(folder, "floor")

    def build(self):
        os.makedirs(self.folder, exist_ok=True)
        start = time.perf_counter()
        run_process([cxx(), *compile_flags(), os.path.join(HERE, "floor.cpp"), "-o", self.binary], 300)
        return time.perf_counter() - start

    def run(self, case, timeout):
        output = os.path.join(case.folder, "floor.out")
        rss = os.path.join(case.folder, "floor.rss")
        command = [sys.executable, os.path.join(HERE, "peakrss.py"), rss, self.binary, case.floor_input, output]
        branching, branch_free, difference = (float(v) for v in run_process(command, timeout).split())
        if not difference <= TOLERANCE:
            raise Failure(f"the two C++ loops differ by {difference:.3e}")
        data = np.fromfile(output, dtype=np.float64)
        n = case.n_synapses
        with open(rss) as f:
            peak = int(f.read())
        return {
            "run_s": min(branching, branch_free),
            "branching_s": branching,
            "branch_free_s": branch_free,
            "peak_bytes": peak,
            "W": case.from_slots(data[:n]),
            "pool": data[n : n + case.N],
        }


def run_worker(implementation, target, case, build, name, timeout, unoptimised=False):
    prefix = os.path.join(case.folder, name)
    command = [sys.executable, os.path.join(HERE, "worker.py"), implementation, target, case.file, build, prefix]
    if unoptimised:
        command.append("unoptimised")
    run_process(command, timeout)
    with open(prefix + ".json") as f:
        result = json.load(f)
    with np.load(prefix + ".npz") as data:
        result["W"] = data["W"]
        result["pool"] = data["pool"]
    return result


def estimate(history, key, case):
    """Run time and peak memory expected from the largest size measured so far."""
    seconds = peak = None
    if history.get(key):
        last = history[key][-1]
        seconds = last["run_s"] * case.updates / max(last["updates"], 1)
        if key[0] == "relay":
            points = history[key]
            if len(points) >= 2:
                a, b = points[-2], points[-1]
                slope = (b["peak_bytes"] - a["peak_bytes"]) / max(b["synapses"] - a["synapses"], 1)
                peak = b["peak_bytes"] + max(slope, 0.0) * (case.relay_synapses - b["synapses"])
            else:
                extra = RELAY_BYTES_PER_SYNAPSE * (case.relay_synapses - last["synapses"])
                peak = last["peak_bytes"] + max(extra, 0.0)
    if key[0] == "relay" and peak is None:
        peak = RELAY_BYTES_PER_SYNAPSE * case.relay_synapses
    return seconds, peak


def largest_difference(result, W, pool, columns):
    if columns is not None:
        result_W, result_pool = result["W"][:, columns], result["pool"][columns]
    else:
        result_W, result_pool = result["W"], result["pool"]
    # the same NaN (no synapse) everywhere; anything else is a difference
    if not np.array_equal(np.isnan(result_W), np.isnan(W)):
        return float("inf")
    return float(max(np.nanmax(np.abs(result_W - W), initial=0.0), np.max(np.abs(result_pool - pool))))


def gib(n):
    return n / 2**30


def fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def print_table(rows):
    header = (
        f"{'implementation':<10} {'target':<15} {'M':>5} {'N':>4} {'p':>4} {'spikes':>6} {'run s':>8} "
        f"{'x floor':>7} {'- plain':>7} {'peak MB':>8} {'spikes/s':>9} {'updates/s':>9} {'max diff':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['implementation']:<10} {r['target']:<15} {r['M']:>5} {r['N']:>4} {r['p']:>4g} {r['spikes']:>6} "
            f"{fmt(r['run_s'], '8.3f'):>8} {fmt(r['vs_floor'], '7.2f'):>7} {fmt(r['own_vs_floor'], '7.2f'):>7} "
            f"{fmt(r['peak_bytes'] and r['peak_bytes'] / 2**20, '8.0f'):>8} "
            f"{fmt(r['spikes_per_s'], '9.2e'):>9} {fmt(r['updates_per_s'], '9.2e'):>9} "
            f"{fmt(r['max_diff'], '9.1e'):>9}  {r['note']}"
        )


def print_builds(builds):
    print(f"{'implementation':<10} {'target':<15} {'first build s':>13} {'cached build s':>14}")
    for b in builds:
        print(
            f"{b['implementation']:<10} {b['target']:<15} {fmt(b['first_build_s'], '13.2f'):>13} "
            f"{fmt(b['cached_build_s'], '14.2f'):>14}"
        )


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"floor": "-", "plain": (0, (1, 3)), "hetero": "-", "hetero_src": "-.", "relay": "--",
              "netop": ":"}
    markers = {"c++": "s", "cpp_standalone": "o", "cython": "^", "numpy": "v"}
    colors = {"floor": "k", "plain": "tab:gray", "relay": "tab:red", "netop": "tab:green"}
    for implementation, target in RUNS:
        points = sorted(
            (r["updates"], r["run_s"], r["p"])
            for r in rows
            if r["implementation"] == implementation and r["target"] == target and r["run_s"]
        )
        if points:
            x, y, p = zip(*points)
            color = colors.get(implementation, {"cpp_standalone": "tab:blue", "cython": "tab:orange",
                                                "numpy": "tab:purple"}.get(target))
            ax.loglog(x, y, linestyle=styles[implementation], color=color, marker=markers[target],
                      label=f"{implementation} / {target}")
            # sparse sizes: open markers
            for xs, ys, ps in zip(x, y, p):
                if ps < 1:
                    ax.loglog([xs], [ys], markers[target], color=color, mfc="white", ms=9)
    ax.set_xlabel("work: input spikes × synapses onto each of their targets (sibling updates)")
    ax.set_ylabel(f"run time (s) for {DURATION_S:g} s at {RATE_HZ:g} Hz")
    ax.set_title("Run time against work (open markers: sparse, p < 1)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class Bench:
    """Runs every implementation on one size after another and keeps the rows."""

    def __init__(self, work, runs, repeats, quick, max_run_s, progress):
        self.work, self.runs, self.repeats, self.quick = work, runs, repeats, quick
        self.max_run_s, self.progress = max_run_s, progress
        self.memory_limit = MEMORY_SHARE * available_memory()
        self.rows, self.failures, self.history = [], [], {}
        self.builds = {key: {"first": None, "cached": []} for key in runs}
        self.floor = Floor(os.path.join(work, "floor"))
        progress("building the C++ loop")
        self.builds[("floor", "c++")]["first"] = self.floor.build()

    def build_folder(self, implementation, target):
        if target == "cython" and self.quick:
            # --quick keeps its Cython cache (unoptimised modules, away from
            # Brian's own), so that it is fast when run again
            return QUICK_CYTHON_CACHE
        return os.path.join(self.work, f"{implementation}-{target}")

    def skip_reason(self, key, case, row):
        if key[0] in ("relay", "netop") and case.p < 1:
            return "skipped: written for all-to-all connectivity only"
        seconds, peak = estimate(self.history, key, case)
        row["estimate_run_s"], row["estimate_peak_bytes"] = seconds, peak
        if peak is not None and peak > self.memory_limit:
            return (f"skipped: needs about {gib(peak):.1f} GiB ({case.relay_synapses:.2e} synapses), "
                    f"over {gib(self.memory_limit):.1f} GiB")
        if seconds is not None and seconds > self.max_run_s:
            return f"skipped: would take about {seconds:.0f} s, over {self.max_run_s:.0f} s"
        return None

    def run_once(self, key, case, round_, timeout):
        implementation, target = key
        if implementation == "floor":
            return self.floor.run(case, timeout)
        name = f"{implementation}-{target}-{round_}"
        return run_worker(implementation, target, case, self.build_folder(*key), name, timeout, self.quick)

    def measure(self, case, first):
        """
        Runs on one size in rounds, each implementation once per round, so that
        a slow spell of the machine touches all of them alike. Round 0 builds
        (from empty folders on the first size); later rounds find the build cached.
        """
        progress = self.progress
        progress(f"{case.label}: {case.n_spikes} input spikes, {case.coincident_steps} steps with "
                 f"coincident spikes, {case.updates:.2e} sibling updates")
        columns = reference_columns(case)
        progress(f"{case.label}: plain-Python reference on {len(columns)} of {case.N} targets")
        reference = sequential_reference(case, columns)
        rows, results, timeouts = {}, {}, {}
        for key in self.runs:
            row = new_row(key, case, len(columns))
            self.rows.append(row)
            rows[key] = row
            reason = self.skip_reason(key, case, row)
            if reason:
                row["note"] = reason
                progress(f"{case.label}: {key[0]} / {key[1]} {reason}")
            else:
                results[key] = []
                # (the quick sizes take seconds; a loaded machine may take
                # minutes, which is no failure)
                timeouts[key] = None if self.quick else 4 * (row["estimate_run_s"] or 0) + 120.0
        count = 1 + (self.repeats if first or not self.quick else 0)
        for round_ in range(count):
            for key in list(results):
                progress(f"{case.label}: {key[0]} / {key[1]}, run {round_ + 1} of {count}")
                try:
                    result = self.run_once(key, case, round_, timeouts[key])
                except Failure as error:
                    rows[key]["note"] = "FAILED"
                    self.failures.append(f"{case.label}: {key[0]} / {key[1]}: {error}")
                    progress(f"{case.label}: {key[0]} / {key[1]} FAILED\n{error}")
                    del results[key]
                    continue
                results[key].append(result)
                if key[0] != "floor" and round_ == 0 and first:
                    self.builds[key]["first"] = result["build_s"]
                elif key[0] != "floor" and round_ > 0:
                    self.builds[key]["cached"].append(result["build_s"])
        floor = results.get(("floor", "c++"))
        for key, runs in results.items():
            self.summarise(case, rows[key], runs, columns, reference, floor)
            progress(f"{case.label}: {key[0]} / {key[1]}: run {rows[key]['run_s']:.3f} s, "
                     f"peak {rows[key]['peak_bytes'] / 2**20:.0f} MB, "
                     f"largest difference {fmt(rows[key]['max_diff'], '.1e')}")
        floor_s = rows[("floor", "c++")]["run_s"]
        if floor_s is not None and floor_s < FLOOR_TIMEABLE_S:
            rows[("floor", "c++")]["note"] += (
                f"; under {FLOOR_TIMEABLE_S:g} s: too short to time, no ratios to it")
            floor_s = None
        for row in rows.values():
            if row["run_s"] and floor_s:
                row["vs_floor"] = row["run_s"] / floor_s
            plain = rows.get(("plain", row["target"]), {}).get("run_s")
            if row["implementation"] in ("hetero", "hetero_src") and row["run_s"] and plain:
                row["own_s"] = row["run_s"] - plain
                if floor_s:
                    row["own_vs_floor"] = row["own_s"] / floor_s

    def summarise(self, case, row, runs, columns, reference, floor):
        implementation, target = row["implementation"], row["target"]
        label = f"{case.label}: {implementation} / {target}"
        final = runs[-1]
        for other in runs[:-1]:
            if largest_difference(other, final["W"], final["pool"], None) > TOLERANCE:
                self.failures.append(f"{label}: runs of the same build disagree")
        row["run_s"] = statistics.median(r["run_s"] for r in runs)
        if implementation == "floor":
            for loop in ("branching_s", "branch_free_s"):
                row[loop] = statistics.median(r[loop] for r in runs)
            row["note"] = (f"the faster of: branching {row['branching_s']:.3f} s, "
                           f"branch-free {row['branch_free_s']:.3f} s")
        # compilers and Cython inflate the first process of a runtime target
        row["peak_bytes"] = int(statistics.median(r["peak_bytes"] for r in runs[1:] or runs))
        row["spikes_per_s"] = case.n_spikes / row["run_s"]
        row["updates_per_s"] = case.updates / row["run_s"]
        row["max_diff"] = largest_difference(final, *reference, columns)
        if floor:
            row["max_diff_floor"] = largest_difference(final, floor[-1]["W"], floor[-1]["pool"], None)
        if implementation == "plain":
            # (no rule: the weights are the initial ones)
            row["max_diff"] = row["max_diff_floor"] = None
            row["note"] = "no rule: Brian's own cost"
            return
        if implementation == "relay":
            if case.relay_reference is None:
                self.progress(f"{case.label}: plain-Python reference of the relay network's own order")
                case.relay_reference = relay_reference(case, columns)
            own = largest_difference(final, *case.relay_reference, columns)
            row["max_diff_own_reference"] = own
            row["note"] = f"{own:.1e} from its own order's reference"
            if own > TOLERANCE:
                self.failures.append(f"{label} differs from the reference of its own order by {own:.3e}")
        else:
            if row["max_diff"] > TOLERANCE:
                self.failures.append(f"{label} differs from the reference by {row['max_diff']:.3e}")
            if row["max_diff_floor"] is not None and row["max_diff_floor"] > TOLERANCE:
                self.failures.append(f"{label} differs from the C++ loop by {row['max_diff_floor']:.3e}")
        self.history.setdefault((implementation, target), []).append(
            {"run_s": row["run_s"], "updates": case.updates, "peak_bytes": row["peak_bytes"],
             "synapses": case.relay_synapses}
        )


def new_row(key, case, checked):
    return {
        "implementation": key[0], "target": key[1], "M": case.M, "N": case.N, "p": case.p,
        "synapses": case.n_synapses, "spikes": case.n_spikes, "updates": case.updates, "run_s": None, "vs_floor": None,
        "peak_bytes": None, "spikes_per_s": None, "updates_per_s": None, "max_diff": None,
        "max_diff_floor": None, "max_diff_own_reference": None, "checked_targets": checked,
        "branching_s": None, "branch_free_s": None, "own_s": None, "own_vs_floor": None,
        "estimate_run_s": None, "estimate_peak_bytes": None, "note": "",
    }


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        try:
            size, _, p = item.lower().partition("p")
            M, N = (int(v) for v in size.split("x"))
            p = float(p) if p else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected sizes like 1000x50,2000x2000p0.1, got {item!r}")
        if M < 2 or N < 1 or not 0 < p <= 1:
            raise argparse.ArgumentTypeError(
                f"need at least 2 inputs, 1 target and 0 < p <= 1, got {item!r}")
        sizes.append((M, N, p))
    return sizes


def parse_only(text):
    names = set(text.split(","))
    known = {implementation for implementation, _ in RUNS}
    if not names <= known:
        raise argparse.ArgumentTypeError(
            f"unknown implementation(s) {', '.join(sorted(names - known))}; choose from {', '.join(sorted(known))}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small size, one cached run (under two minutes)")
    parser.add_argument("--output", default=None,
                        help="folder for the results (default: benchmarks/results, with --quick benchmarks/quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs with a cached build per size, after the first (default 2; quick: 1, first size only)")
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="sizes to run instead of the default ones, e.g. 1000x50,2000x2000p0.1")
    parser.add_argument("--only", type=parse_only, default=None,
                        help="implementations to run besides the C++ loop, e.g. hetero,netop")
    args = parser.parse_args(argv)
    # (the rule's rows are measured against the network without it too)
    wanted = args.only and (args.only | ({"plain"} if args.only & {"hetero", "hetero_src"} else set()))
    runs = [run for run in RUNS if args.only is None or run[0] in wanted or run[0] == "floor"]
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    if repeats < 0:
        parser.error(f"--repeats must not be negative, got {repeats}")
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    max_run_s = QUICK_MAX_RUN_S if args.quick else MAX_RUN_S
    # --quick never overwrites the committed results of a full run
    output = os.path.abspath(args.output or os.path.join(HERE, "quick" if args.quick else "results"))
    work = os.path.join(output, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; {info['compiler']}")
    print(f"flags: {info['flags']}; brian2 {info['brian2']}, numpy {info['numpy']}, Cython {info['cython']}")
    print(f"sizes: {', '.join(f'{M}x{N}' + (f'p{p:g}' if p < 1 else '') for M, N, p in sizes)}; "
          f"{RATE_HZ:g} Hz, {DURATION_S:g} s, dt {DT_S * 1e3:g} ms; "
          f"{repeats} cached run(s) per size")
    if args.quick:
        print("quick: Brian's code is compiled at -O0 (the rule's function keeps its own pragmas), the Cython"
              " code into a cache of its own (~/.cython/brian2_hetero_quick_O0), which is not emptied first;"
              " the times check nothing")
    started = time.perf_counter()

    def progress(message):
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    bench = Bench(work, runs, repeats, args.quick, max_run_s, progress)
    for M, N, p in sizes:
        bench.measure(Case(M, N, p, os.path.join(work, f"{M}x{N}p{p:g}")), first=(M, N, p) == sizes[0])
    rows, failures, builds = bench.rows, bench.failures, bench.builds

    build_rows = [
        {
            "implementation": implementation,
            "target": target,
            "first_build_s": b["first"],
            "cached_build_s": statistics.median(b["cached"]) if b["cached"] else None,
        }
        for (implementation, target), b in builds.items()
    ]
    print()
    print_table(rows)
    print()
    print("code generation and compilation (not in the run times above):")
    print_builds(build_rows)
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "results.json"), "w") as f:
        json.dump(
            {
                "machine": info,
                "settings": {"rate_hz": RATE_HZ, "duration_s": DURATION_S, "dt_s": DT_S, "seed": SEED,
                             "W0": W0, "eta": ETA, "repeats": repeats, "quick": args.quick},
                "runs": rows,
                "builds": build_rows,
                "failures": failures,
            },
            f,
            indent=1,
        )
    with open(os.path.join(output, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, os.path.join(output, "runtime.png"))
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nresults: {output}/results.json, results.csv, runtime.png ({time.perf_counter() - started:.0f} s)")
    if failures:
        print("\nFAILURES:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
