"""
The differential fuzzer: random rules (`generate`) run on numpy, Cython and
C++ standalone, their results compared rule by rule.

Each batch of rules runs in ONE Brian network per target: one
`SpikeGeneratorGroup` of inputs with random, often coincident spikes shared by
all rules, and per network of synapses (see ``generate_case(..., shared=)``)
a `NeuronGroup` and a `Synapses`, in which each rule has variables of its own
(``w``, ``c`` per synapse, ``v``, ``u`` per neuron, suffixed with the rule's
slot). The rules called in ``on_pre`` are called in one code block, so that
Cython compiles one module for all of them; the others are applied on the
group's spikes or periodically. In standalone a batch is one project, so
that its build is shared. After the run, every rule's ``w``, ``c``, ``v`` and
``u`` are read and compared across targets: equal within a relative ``rtol``
(1e-12), NaN where NaN, infinities of the same sign, or the same refusal. A
rule that fails on some targets only (at build or run time) is a
disagreement; one that fails on every target is a crash.

A rule that leaves a NaN or inf (or a negative value where it asked for
non-negative ones) in a variable it acts on makes the run raise
`FloatingPointError` after it, on every target, with every result kept.
Whether a target raised is compared too: it must raise exactly when some rule
of the batch left such a value, and its message must name one of those
rules.

A batch that fails for another reason is split: a rule the error names (by
its objects' names ``fz<k>...``) is set aside as failed, else the batch is
cut in halves, until the rules that fail are found.

Run from the repository's root (``tests/`` need not be on the path; the
module puts it there to import ``conftest``)::

    .venv/bin/python -m tests.fuzz.run --rules 2000 --seed 1 \\
        --targets numpy,cython,cpp_standalone --batch 100 --shared 20

It prints one line per batch and target, then ``N rules, K refused,
D disagreements, T s`` and the seconds per rule on each target, writes each
disagreement and crash to ``tests/fuzz/findings/<kind>_s<seed>_r<k>.json``
(the case, its spikes and every target's values: enough to make it a fixed
regression case) and exits with status 1 if there was any.
``--replay FILE...`` runs findings again; ``--minimise FILE`` shortens a
finding's rule while it still gives the same finding. ``--save FILE`` keeps
every batch's results, so that targets can run in processes of their own
(``--targets cython --save c.jsonl`` and ``--targets cpp_standalone --save
s.jsonl``, with the same ``--seed``, ``--rules`` and ``--batch``) and be
compared afterwards with ``--compare c.jsonl s.jsonl``.
"""

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

try:
    from conftest import Target, spike_inputs
except ImportError:  # run as a module: conftest.py is in tests/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import Target, spike_inputs

from .generate import N_INPUTS, N_STEPS, acts_on, generate_case, generate_spikes, reads_other

__all__ = ["run_batch", "compare", "run_cases", "replay", "main", "FINDINGS"]

FINDINGS = Path(__file__).resolve().parent / "findings"
TARGETS = ("numpy", "cython", "cpp_standalone")
VARIABLES = ("w", "c", "v", "u")
RTOL = 1e-12
# Refusals of a rule by the language (when it is created or applied).
_REFUSED = ("RuleSyntaxError", "ValueError", "TypeError")
class _BatchFailure(Exception):
    """A batch failed otherwise than through a rule's after-run check;
    ``root``: (type name, message) of the exception at the root of the
    failure; ``names``: every message and frame, to find the rules named."""

    def __init__(self, text, root, names):
        super().__init__(text)
        self.root = root
        self.names = names


def _refusal(root):
    """Whether an exception ((type name, message)) is the language refusing
    a rule (by name)."""
    name, message = root
    return name in _REFUSED + ("DimensionMismatchError",) and re.match(r"Rule 'fz\d+'", message) is not None


def _text(exc):
    """An exception and its causes, one line each."""
    parts = []
    while exc is not None:
        parts.append(f"{type(exc).__name__}: {str(exc).strip()}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _root(exc):
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


@contextlib.contextmanager
def _captured():
    """Everything written to file descriptors 1 and 2 (the compilers' and the
    standalone program's output as well as Python's), in ``box['text']``."""
    box = {"text": ""}
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield box
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            box["text"] = tmp.read().decode(errors="replace")


# Building --------------------------------------------------------------------------

def _spike_arrays(spikes):
    """{step: inputs} (keys may be strings, from JSON) as spike_inputs wants them."""
    return {int(step): np.asarray(inputs, dtype=int) for step, inputs in spikes.items()}


_NETWORK = ("n_pre", "n_post", "source_offset", "target_offset", "n_neurons", "connect", "pre", "post")


def _create(case, name, variables, outcomes):
    """The case's rule, acting on ``variables`` (its names -> the suffixed
    variables of a shared network), or None and its outcome if the language
    refuses it."""
    from brian2_hetero import HeteroRule

    k = case["index"]
    try:
        return HeteroRule(case["code"], parameters=case["parameters"], returns=case["returns"],
                          nonnegative=case["nonnegative"],
                          variables=variables or None, name=name, over=case.get("over", "post"))
    except Exception as exc:  # noqa: BLE001 - the language's refusal, or its crash
        refused = type(exc).__name__ in _REFUSED
        outcomes[k] = dict(status="refused" if refused else "error", stage="create", error=_text(exc))
        return None


def _network(case, P, name, suffixes, spiking, on_pre, namespace):
    """The target group and the synapses of a case's network, with the
    variables ``w``, ``c`` (per synapse), ``v``, ``u`` (per neuron) once per
    suffix; with ``spiking``, the group's neurons spike when their own ``v``,
    to which every synapse adds 1 on a spike, exceeds 1.5."""
    from brian2 import NeuronGroup, Synapses, prefs

    model = ["v : 1"] if spiking else []
    G = NeuronGroup(case["n_neurons"], "\n".join(model + [f"v{x} : 1\nu{x} : 1" for x in suffixes]),
                    threshold="v > 1.5" if spiking else None, reset="v = 0" if spiking else None,
                    name=f"{name}_g", namespace={})
    so, to = case["source_offset"], case["target_offset"]
    source = P if (so, case["n_pre"]) == (0, N_INPUTS) else P[so : so + case["n_pre"]]
    target = G if (to, case["n_post"]) == (0, case["n_neurons"]) else G[to : to + case["n_post"]]
    S = Synapses(source, target, "\n".join(f"w{x} : 1\nc{x} : 1" for x in suffixes), on_pre=on_pre,
                 namespace=namespace, name=f"{name}_s")
    # The synapses are made by numpy code on every runtime target: Cython
    # would compile a module for each network, and what is compared is the
    # rules' code, not Brian's.
    kept = prefs.codegen.target
    if kept == "cython":
        prefs.codegen.target = "numpy"
    try:
        if case["connect"] == "source_order":
            S.connect()
        elif case["connect"] == "target_order":
            S.connect(i="k for k in range(N_pre)")
        else:
            S.connect(i=np.array(case["pre"]), j=np.array(case["post"]))
    finally:
        prefs.codegen.target = kept
    return G, S


def _groups(case, S, G, P):
    """The group of each variable of a case's rule: ``u`` is the inputs'
    for a rule over='pre'."""
    return (("w", S), ("c", S), ("v", G), ("u", P if case.get("over") == "pre" else G))


def _set(case, S, G, P, suffix):
    """The initial values; ``u`` on both sides where the rule may read the
    other side's."""
    for x, group in (("w", S), ("c", S), ("v", G), ("u", G)):
        setattr(group, x + suffix, np.array(case[x]))
    if "u_pre" in case:
        setattr(P, "u" + suffix, np.array(case["u_pre"]))


def _build(cases, spikes, slots, outcomes):
    """
    The network of a batch: Brian objects and, per rule, (rule, S, G, case,
    suffix of its variables).

    Rules whose networks are the same share one `NeuronGroup` and one
    `Synapses`, named after the first rule's slot (rule k's slot is
    ``slots[k]``: ``fz<slot>_g``, ``fz<slot>_s``). Each rule acts on
    variables of its own (``w<slot>``, ``c<slot>``, ``v<slot>``,
    ``u<slot>``; ``u<slot>`` of the inputs for a rule over='pre'); the rules
    applied in ``on_pre`` are called in one code block, the others applied
    on the spikes of their neurons or periodically. Rules the language
    refuses get their outcome in ``outcomes`` and no objects.
    """
    from brian2 import NeuronGroup, Synapses, defaultclock

    # A SpikeGeneratorGroup has no subgroups: it drives a group of inputs
    # (one time step later), whose subgroups are the rules' sources.
    generator = spike_inputs(N_INPUTS, _spike_arrays(spikes), "fz_generator")
    pre_slots = [slots[case["index"]] for case in cases if "u_pre" in case]
    P = NeuronGroup(N_INPUTS, "\n".join(["x : 1"] + [f"u{s} : 1" for s in pre_slots]),
                    threshold="x > 0.5", reset="x = 0", name="fz_inputs", namespace={})
    relay = Synapses(generator, P, on_pre="x_post = 1", name="fz_relay", namespace={})
    relay.connect(j="i")
    objects, handles = [generator, P, relay], {}
    shared = {}
    for case in cases:
        shared.setdefault(json.dumps([case[x] for x in _NETWORK]), []).append(case)
    for group in shared.values():
        rules = {}
        for case in group:
            s = slots[case["index"]]
            over = case.get("over", "post")
            synaptic, neuronal = acts_on(case["code"], case["parameters"], case["returns"], over)
            other = reads_other(case["code"], case["parameters"], case["returns"], over)
            rule = _create(case, f"fz{s}", {x: f"{x}{s}" for x in set(synaptic + neuronal + other)},
                           outcomes)
            if rule is not None:
                rules[s] = (rule, case)
        if not rules:
            continue
        triggers = {s: case["trigger"] for s, (_, case) in rules.items()}
        spiking = any(t.get("on") == "post_spike" for t in triggers.values())
        calls = [f"v{s}_post += fz{s}(i, j)" for s, t in triggers.items() if t.get("on") == "pre"]
        G, S = _network(group[0], P, f"fz{min(rules)}", [str(s) for s in rules], spiking,
                        "\n".join((["v_post += 1"] if spiking else []) + calls) or None,
                        {f"fz{s}": rule for s, (rule, _) in rules.items()})
        objects += [G, S]
        for s, (rule, case) in rules.items():
            _set(case, S, G, P, str(s))
            trigger = triggers[s]
            try:
                if trigger.get("on") in ("post_spike", "pre_spike"):
                    extra = {"when": trigger["when"]} if trigger.get("when") else {}
                    rule.apply_to(S, on=trigger["on"], **extra)
                elif trigger.get("every"):
                    rule.apply_to(S, every=trigger["every"] * defaultclock.dt)
            except Exception as exc:  # noqa: BLE001
                refused = type(exc).__name__ in _REFUSED
                outcomes[case["index"]] = dict(status="refused" if refused else "error",
                                               stage="apply_to", error=_text(exc))
                continue
            handles[case["index"]] = (rule, S, G, P, case, str(s))
    return objects, handles


def _read(handles):
    """Every rule's final values, and whether it left a value its checks refuse."""
    out = {}
    for k, (rule, S, G, P, case, suffix) in handles.items():
        values = {x: np.asarray(getattr(group, x + suffix)[:], dtype=float)
                  for x, group in _groups(case, S, G, P)}
        pre = np.asarray(S.i[:]).tolist()
        post = np.asarray(S.j[:]).tolist()
        if (pre, post) != (list(case["pre"]), list(case["post"])):
            out[k] = dict(status="error", stage="connect",
                          error=f"synapses {list(zip(pre, post))}, expected "
                                f"{list(zip(case['pre'], case['post']))}")
            continue
        # (the rule's neurons: its targets, or its inputs over='pre')
        to, n = ((case["source_offset"], case["n_pre"]) if case.get("over") == "pre"
                 else (case["target_offset"], case["n_post"]))
        bad = []
        for x in sorted(rule.rule_code.synaptic):
            if x in values:
                bad += _bad(values[x], x in case["nonnegative"], x)
        for x in sorted(rule.rule_code.neuronal):
            if x in values:
                bad += _bad(values[x][to : to + n], x in case["nonnegative"], x + "_" + case.get("over", "post"))
        out[k] = dict(status="ok", bad=bad, **{x: v.tolist() for x, v in values.items()})
    return out


def _bad(values, nonnegative, name):
    wrong = ~np.isfinite(values)
    if nonnegative:
        wrong |= ~(values >= 0)
    return [name] if wrong.any() else []


def _attempt(target, cases, spikes, slots, directory, jobs):
    """
    Run one batch once on ``target``. Returns (outcomes by rule, what the run
    raised or None); raises `_BatchFailure` if the batch failed otherwise.
    """
    from brian2 import Network, defaultclock, device, ms, prefs
    from brian2.utils.logger import catch_logs

    t = Target(target, directory)
    t.activate(**({"build_on_run": False} if t.standalone else {}))
    outcomes, raised = {}, None
    try:
        if t.standalone:
            prefs.devices.cpp_standalone.extra_make_args_unix = ["-j", str(jobs)]
        defaultclock.dt = 0.1 * ms
        with catch_logs(), warnings.catch_warnings(), np.errstate(all="ignore"), _captured() as out:
            warnings.simplefilter("ignore")
            try:
                objects, handles = _build(cases, spikes, slots, outcomes)
                net = Network(*objects)
                try:
                    net.run(N_STEPS * defaultclock.dt)
                    if t.standalone:
                        device.build(directory=directory, compile=True, run=True, with_output=True)
                except Exception as exc:  # noqa: BLE001
                    if not isinstance(_root(exc), FloatingPointError):
                        raise
                    raised = _text(exc)
                outcomes.update(_read(handles))
            except Exception as exc:  # noqa: BLE001
                failure = exc
            else:
                failure = None
        if failure is not None:
            # (the traceback names the rule's function where no message does)
            frames = "".join(traceback.format_exception(failure))
            root = _root(failure)
            raise _BatchFailure(_text(failure) + "\n--- traceback:\n" + frames[-3000:]
                                + "\n--- output:\n" + out["text"][-4000:],
                                (type(root).__name__, str(root)), frames + out["text"]) from failure
    finally:
        t.reset()
    return outcomes, raised


def _attempt_isolated(*args):
    """`_attempt` in a process of its own, so that generated code that
    crashes the process (a segmentation fault in a Cython module, ...) fails
    its batch like an exception does instead of ending the fuzzer."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def work():
        try:
            result = ("ok",) + _attempt(*args)
        except _BatchFailure as exc:
            result = ("failure", str(exc), exc.root, exc.names)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = ("failure", _text(exc), (type(exc).__name__, str(exc)), traceback.format_exc())
        sender.send(result)
        sender.close()

    process = context.Process(target=work)
    process.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        result = None
    process.join()
    if result is None:
        raise _BatchFailure(f"the process that ran the batch died (exit code {process.exitcode})",
                            ("ProcessDied", str(process.exitcode)), "")
    if result[0] == "failure":
        raise _BatchFailure(*result[1:])
    return result[1:]


def _named_rules(text, indices, slots, pattern=r"(?<![A-Za-z0-9])fz(\d+)(?![0-9])"):
    """The rules (of ``indices``) whose objects a message names."""
    named = {int(n) for n in re.findall(pattern, text)}
    return sorted(k for k in indices if slots[k] in named)


def run_batch(target, cases, spikes, directory, jobs=2, max_attempts=None, log=print):
    """
    Run a batch of cases on one target, setting aside the rules that make
    it fail.

    Parameters
    ----------
    target : str
        'numpy', 'cython' or 'cpp_standalone'.
    cases : list of dict
        From `generate.generate_case`.
    spikes : dict
        {time step: inputs}, shared by the batch.
    directory : str
        The standalone project's directory. Reuse it for every batch: the
        objects of a rule are named after its place in the batch (its slot),
        so that the code that does not depend on the rule (creating the
        synapses, thresholds, ...) is the same from batch to batch, and is
        not compiled again (make keeps its object files, Brian's Cython cache
        its modules).
    jobs : int
        Parallel compilations in standalone.
    max_attempts : int, optional
        Runs of parts of the batch to find the rules that make it fail;
        beyond that, every rule of a failing part is marked failed. Defaults
        to 60 on the runtime targets, 12 in standalone (a build each).
    log : callable

    Returns
    -------
    outcomes : dict
        Rule index -> {'status': 'ok', 'w', 'c', 'v', 'u' (lists), 'bad'
        (names of the variables its checks refuse)} or {'status':
        'refused' or 'error', 'stage', 'error'}.
    runs : list of dict
        Per run of (part of) the batch: the rules in it and what the run
        raised.
    """
    outcomes, runs, attempts = {}, [], 0
    slots = {case["index"]: n for n, case in enumerate(cases)}
    if max_attempts is None:
        max_attempts = 12 if target == "cpp_standalone" else 60
    queue = [list(cases)]
    while queue:
        group = queue.pop()
        attempts += 1
        try:
            result, raised = _attempt_isolated(target, group, spikes, slots, directory, jobs)
        except _BatchFailure as exc:
            text = str(exc)
            indices = [c["index"] for c in group]
            named = _named_rules(text.split("--- ")[0], indices, slots) or \
                _named_rules(exc.names, indices, slots)
            if len(group) == 1 or attempts >= max_attempts:
                named = indices
            if named:
                # (a refusal when the run starts names one rule)
                status = "refused" if len(named) == 1 and _refusal(exc.root) else "error"
                for k in named:
                    outcomes[k] = dict(status=status, stage="run", error=text[-3000:])
                rest = [c for c in group if c["index"] not in named]
                if rest:
                    queue.append(rest)
            else:
                half = len(group) // 2
                queue += [group[half:], group[:half]]
            log(f"    {target}: a run of {len(group)} rules failed ({text.splitlines()[0][:160]}); "
                f"set aside {named or 'nothing, split'}")
            continue
        outcomes.update(result)
        runs.append(dict(rules=[c["index"] for c in group], raised=raised, slots=slots))
    return outcomes, runs


# Comparing ----------------------------------------------------------------------------

def _difference(a, b, rtol):
    """None if the values agree, else a description of the first difference."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return f"shapes {a.shape} and {b.shape}"
    worst = None
    for k, (x, y) in enumerate(zip(a, b)):
        if math.isnan(x) or math.isnan(y):
            same = math.isnan(x) and math.isnan(y)
        elif math.isinf(x) or math.isinf(y):
            same = x == y
        else:
            same = abs(x - y) <= rtol * max(abs(x), abs(y))
        if not same:
            rel = abs(x - y) / max(abs(x), abs(y)) if math.isfinite(x - y) and max(abs(x), abs(y)) else math.inf
            if worst is None or not rel <= worst[0]:
                worst = (rel, k, x, y)
    if worst is None:
        return None
    rel, k, x, y = worst
    return f"[{k}]: {float(x)!r} vs {float(y)!r} (relative {rel:.3g})"


def compare(cases, results, rtol=RTOL):
    """
    Rule by rule, the outcomes of the targets in ``results`` ({target:
    outcomes}).

    Returns
    -------
    findings : list of (kind, index, detail)
        kind 'disagreement' (values, or a refusal or a failure on some
        targets only) or 'crash' (the rule, accepted by the language, fails
        on every target).
    """
    findings = []
    names = list(results)
    for case in cases:
        k = case["index"]
        got = {t: results[t].get(k, dict(status="missing")) for t in names}
        statuses = {t: o["status"] for t, o in got.items()}
        if len(set(statuses.values())) > 1:
            findings.append(("disagreement", k, f"status: {statuses}"))
            continue
        status = next(iter(statuses.values()))
        if status == "error":
            findings.append(("crash", k, got[names[0]]["error"].splitlines()[0][:300]))
            continue
        if status != "ok":
            continue
        first = names[0]
        details = []
        for other in names[1:]:
            for x in VARIABLES:
                diff = _difference(got[first][x], got[other][x], rtol)
                if diff:
                    details.append(f"{x} {first} vs {other} {diff}")
        if details:
            findings.append(("disagreement", k, "; ".join(details)))
    return findings


def check_raised(cases, outcomes, runs):
    """
    Within one target: each run must raise exactly when one of its rules
    left a value its checks refuse, naming such a rule. Returns a list of
    (index or None, detail).
    """
    problems = []
    for run in runs:
        bad = [k for k in run["rules"] if outcomes.get(k, {}).get("bad")]
        raised = run["raised"]
        if bool(bad) != bool(raised):
            k = bad[0] if bad else None
            problems.append((k, f"raised {raised!r}, rules with bad values: {bad}"))
        elif raised:
            named = _named_rules(raised, run["rules"], run["slots"], r"rule 'fz(\d+)'")
            if named and not set(named) & set(bad):
                problems.append((named[0], f"raised naming rule {named}, but bad values in {bad}: {raised!r}"))
    return problems


# Running --------------------------------------------------------------------------

def run_cases(cases, spikes, targets, workdir, jobs=2, rtol=RTOL, log=print, timings=None):
    """
    Run one batch of cases on every target and compare them.

    Returns
    -------
    results : dict
        {target: outcomes}
    findings : list of (kind, index, detail)
        See `compare`; also kind 'check' for a target whose after-run check
        disagrees with the values.
    """
    results = {}
    findings = []
    for target in targets:
        start, cpu, before = time.time(), _cpu(), _cython_modules()
        directory = os.path.join(workdir, target)
        outcomes, runs = run_batch(target, cases, spikes, directory, jobs=jobs, log=log)
        results[target] = outcomes
        elapsed = time.time() - start
        if timings is not None:
            timings.setdefault(target, [0.0, 0.0, 0])
            timings[target][0] += elapsed
            timings[target][1] += _cpu() - cpu
            timings[target][2] += len(cases)
        raised = [r["raised"] for r in runs if r["raised"]]
        modules = f", {_cython_modules() - before} Cython modules compiled" if target == "cython" else ""
        log(f"  {target}: {len(cases)} rules in {elapsed:.1f} s ({_cpu() - cpu:.1f} s CPU{modules})"
            f"{'; raised: ' + raised[0].splitlines()[0][:120] if raised else ''}")
        for k, detail in check_raised(cases, outcomes, runs):
            findings.append(("check", k, f"{target}: {detail}"))
    findings += compare(cases, results, rtol)
    return results, findings


def _cython_modules():
    """The number of modules in Brian's Cython cache."""
    from brian2 import prefs

    directory = prefs.codegen.runtime.cython.cache_dir or os.path.expanduser("~/.cython/brian_extensions")
    return sum(1 for name in os.listdir(directory) if name.endswith(".so")) if os.path.isdir(directory) else 0


def _cpu():
    """CPU seconds of this process and its finished children (the compilers,
    the standalone program): on a shared machine a steadier measure than the
    wall clock."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf': JSON has no such numbers
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _unjson(value):
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    return value


def write_finding(kind, case, spikes, results, detail, directory=FINDINGS):
    """Write one finding as JSON; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}_s{case['seed']}_r{case['index']}.json"
    finding = dict(
        kind=kind, detail=detail, case=case,
        spikes={str(s): list(map(int, v)) for s, v in sorted(spikes.items(), key=lambda kv: int(kv[0]))},
        n_steps=N_STEPS, dt_ms=0.1,
        targets={t: results[t].get(case["index"]) for t in results},
    )
    path.write_text(json.dumps(_jsonable(finding), indent=1) + "\n")
    return path


def load_finding(path):
    finding = _unjson(json.loads(Path(path).read_text()))
    finding["case"]["index"] = int(finding["case"]["index"])
    return finding


def replay(finding, targets, workdir, jobs=2, rtol=RTOL, log=print):
    """Run a finding's case again on ``targets``; returns (results, findings)."""
    return run_cases([finding["case"]], finding["spikes"], targets, workdir, jobs=jobs, rtol=rtol,
                     log=log)


def _simpler(expr):
    """Expressions one step simpler than ``expr``: one of its sub-expressions
    replaced by one of its operands, or by 1."""
    import ast

    tree = ast.parse(expr, mode="eval")
    expr = ast.unparse(tree)
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call, ast.BoolOp,
                                                          ast.Compare, ast.Name))]
    out = []
    for node in nodes:
        if isinstance(node, ast.BinOp):
            options = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            options = [node.operand]
        elif isinstance(node, ast.Call):
            options = list(node.args[:1]) if node.func.id not in ("sum", "max", "min", "count", "argmax") else []
        elif isinstance(node, ast.BoolOp):
            options = list(node.values)
        elif isinstance(node, ast.Compare):
            options = []
        else:
            options = [ast.Constant(1)] if node.id not in ("i", "j") else [ast.Constant(0)]
        for option in options:
            class Swap(ast.NodeTransformer):
                def visit(self, n):
                    return option if n is node else super().visit(n)
            text = ast.unparse(Swap().visit(ast.parse(expr, mode="eval")))
            if text != expr and text not in out:
                out.append(text)
    return out


def _variants(case):
    """Cases one step simpler than ``case``: one statement left out,
    ``returns`` back to 'w', one sub-expression of a statement simpler."""
    lines = case["code"].splitlines()
    out = []
    for k in range(len(lines)):
        code = "\n".join(lines[:k] + lines[k + 1 :])
        if code.strip():
            out.append(dict(case, code=code))
    if case["returns"] != "w" and case["trigger"].get("on") == "pre":
        out.append(dict(case, returns="w"))
    for k, line in enumerate(lines):
        target, op, rhs = re.match(r"\s*(\w+)\s*([-+*/]?=)\s*(.*)", line).groups()
        for simpler in _simpler(rhs):
            code = "\n".join(lines[:k] + [f"{target} {op} {simpler}"] + lines[k + 1 :])
            out.append(dict(case, code=code))
    return out


def _signature(kind, detail, outcomes):
    """What a minimised finding must keep: the kind, and which targets fail
    with which error, or which targets' values differ."""
    if kind == "disagreement" and detail.startswith("status"):
        errors = {t: re.sub(r"\d+", "#", _root_line(o.get("error", ""))) for t, o in outcomes.items()}
        return kind, tuple(sorted((t, o["status"], errors[t]) for t, o in outcomes.items()))
    if kind == "disagreement":
        return kind, tuple(sorted(set(re.findall(r"(\w+) vs (\w+) \[", detail))))
    return kind, re.sub(r"\d+", "#", detail)[:100]


def _root_line(error):
    """The root cause's line of an error text from `_text`."""
    lines = [ln for ln in error.split("\n--- ")[0].splitlines() if re.match(r"^\w+(Error|Exception)\b", ln)]
    return lines[-1] if lines else ""


def minimise(finding, workdir, targets=None, jobs=2, rtol=RTOL, log=print):
    """
    Shorten a finding's rule while it gives the same finding (the same
    targets failing with the same error, or the same targets' values
    differing): leave out a statement, go back to ``returns='w'``, replace a
    sub-expression by one of its operands. Each round runs every variant in
    one batch per target (in standalone, one build). Returns the smallest
    case found.
    """
    targets = targets or [t for t in finding["targets"] if finding["targets"][t] is not None]
    case = dict(finding["case"])
    results, found = run_cases([case], finding["spikes"], targets, workdir, jobs=jobs, rtol=rtol,
                               log=lambda *a: None)
    if not found:
        log("  the finding does not appear (any more) on these targets")
        return case
    kind, k, detail = found[0]
    wanted = _signature(kind, detail, {t: results[t][k] for t in targets})
    base = 100000 + 1000 * int(case["index"] % 97)
    while True:
        variants = _variants(case)
        for n, v in enumerate(variants):
            v["index"] = base + n
            # (parameters a simpler rule no longer uses would be refused)
            v["parameters"] = {p: x for p, x in v["parameters"].items() if re.search(rf"\b{p}\b", v["code"])}
        base += len(variants) + 1
        if not variants:
            return case
        results, found = run_cases(variants, finding["spikes"], targets, workdir, jobs=jobs, rtol=rtol,
                                   log=lambda *a: None)
        same = {k for kd, k, d in found
                if k is not None and _signature(kd, d, {t: results[t].get(k, {}) for t in targets}) == wanted}
        smaller = [v for v in variants if v["index"] in same]
        if not smaller:
            return case
        case = min(smaller, key=lambda v: (len(v["code"]), v["index"]))
        log(f"  {len(smaller)} of {len(variants)} variants still give it; shortest:\n{case['code']}\n"
            f"  returns={case['returns']!r}")


class _Tally:
    """What a run found, for its summary line."""

    def __init__(self, findings, log):
        self.findings, self.log = findings, log
        self.rules = self.refused = self.bad = 0
        self.found = {"disagreement": 0, "crash": 0, "check": 0}
        self.timings = {}

    def add(self, cases, spikes, results, found):
        targets = list(results)
        self.rules += len(cases)
        self.refused += sum(all(results[t].get(c["index"], {}).get("status") == "refused" for t in targets)
                            for c in cases)
        self.bad += sum(bool(results[targets[0]].get(c["index"], {}).get("bad")) for c in cases)
        by_index = {c["index"]: c for c in cases}
        for kind, k, detail in found:
            self.found[kind] += 1
            case = by_index.get(k, cases[0])
            path = write_finding(kind, case, spikes, results, detail, self.findings)
            self.log(f"  {kind.upper()} rule {k}: {detail[:300]}\n    {case['code']!r} -> {path}")

    def summary(self, elapsed, first_target):
        found = self.found
        print(f"{self.rules} rules, {self.refused} refused, {found['disagreement']} disagreements, "
              f"{elapsed:.0f} s" + (f" ({found['crash']} crashes, {found['check']} check failures)"
                                    if found["crash"] or found["check"] else ""))
        print(f"  {self.bad} rules left NaN, inf or a negative value they refuse (on {first_target})")
        for target, (seconds, cpu, n) in self.timings.items():
            print(f"  {target}: {seconds / n:.3f} s per rule ({seconds:.0f} s; CPU {cpu / n:.3f} s per rule)")
        return 1 if any(found.values()) else 0


def _compare_saved(paths, rtol, tally):
    """Compare the results that runs saved with --save (e.g. one run per
    target, in processes of their own), batch by batch."""
    merged = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            record = _unjson(json.loads(line))
            batch = merged.setdefault((record["seed"], record["first"]),
                                      dict(indices=record["indices"], shared=record.get("shared", 1),
                                           results={}, checks=[]))
            for target, outcomes in record["results"].items():
                batch["results"][target] = {int(k): o for k, o in outcomes.items()}
            batch["checks"] += [tuple(c) for c in record["checks"]]
    first_target = None
    targets = {t for batch in merged.values() for t in batch["results"]}
    for (seed, first), batch in sorted(merged.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if set(batch["results"]) != targets:
            print(f"rules {first}-{batch['indices'][-1]} (seed {seed}): only "
                  f"{', '.join(sorted(batch['results']))} ran them; left out")
            continue
        cases = [generate_case(seed, k, batch["shared"]) for k in batch["indices"]]
        found = batch["checks"] + compare(cases, batch["results"], rtol)
        tally.add(cases, generate_spikes(f"{seed}:{first}"), batch["results"], found)
        first_target = first_target or next(iter(batch["results"]))
    return first_target


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Differential fuzzer of the rule language (see the module's docstring).")
    parser.add_argument("--rules", type=int, default=200, help="rules to generate")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--first", type=int, default=0, help="the index of the first rule")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--batch", type=int, default=100, help="rules per network")
    parser.add_argument("--shared", type=int, default=20,
                        help="rules that share one network of synapses (see generate_case)")
    parser.add_argument("--rtol", type=float, default=RTOL)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        help="parallel compilations of a standalone project")
    parser.add_argument("--findings", default=str(FINDINGS))
    parser.add_argument("--workdir", default=None, help="for standalone projects (default: a temporary one)")
    parser.add_argument("--save", metavar="FILE", help="also append every batch's results to FILE")
    parser.add_argument("--compare", nargs="+", metavar="FILE",
                        help="compare results saved by runs with --save (no run)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="run these findings again")
    parser.add_argument("--minimise", metavar="FILE", help="shorten this finding's rule")
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if any(t not in TARGETS for t in targets):
        parser.error(f"targets must be among {', '.join(TARGETS)}")
    workdir = args.workdir or tempfile.mkdtemp(prefix="brian2_hetero_fuzz_")
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    start = time.time()
    if args.minimise:
        targets = targets if args.targets != parser.get_default("targets") else None
        case = minimise(load_finding(args.minimise), workdir, targets, jobs=args.jobs, rtol=args.rtol,
                        log=log)
        print(f"smallest:\n{case['code']}\nreturns={case['returns']!r}, "
              f"parameters={case['parameters']}, trigger={case['trigger']}")
        return 0
    if args.replay:
        failed = 0
        for path in args.replay:
            finding = load_finding(path)
            _, found = replay(finding, targets, workdir, jobs=args.jobs, rtol=args.rtol, log=log)
            failed += bool(found)
            print(f"{path}: {'; '.join(f'{kd}: {d}' for kd, _, d in found) or 'agree'}")
        return 1 if failed else 0
    tally = _Tally(args.findings, log)
    if args.compare:
        first_target = _compare_saved(args.compare, args.rtol, tally)
        return tally.summary(time.time() - start, first_target)
    stop = args.first + args.rules
    for first in range(args.first, stop, args.batch):
        cases = [generate_case(args.seed, k, args.shared) for k in range(first, min(first + args.batch, stop))]
        spikes = generate_spikes(f"{args.seed}:{first}")
        log(f"rules {first}-{cases[-1]['index']}:")
        results, found = run_cases(cases, spikes, targets, workdir, jobs=args.jobs, rtol=args.rtol,
                                   log=log, timings=tally.timings)
        tally.add(cases, spikes, results, found)
        if args.save:
            record = dict(seed=args.seed, first=first, shared=args.shared, indices=[c["index"] for c in cases],
                          results=results, checks=[f for f in found if f[0] == "check"])
            with open(args.save, "a") as f:
                f.write(json.dumps(_jsonable(record)) + "\n")
    return tally.summary(time.time() - start, targets[0])


if __name__ == "__main__":
    sys.exit(main())
