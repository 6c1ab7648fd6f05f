"""Random rules (the differential fuzzer of tests/fuzz, on a small budget) give
the same values on numpy, Cython and C++ standalone."""

import json

from fuzz.generate import generate_case, generate_spikes
from fuzz.run import TARGETS, run_cases

SEED = "pytest"
# Cython compiles a module (about 5 s) for each rule applied on target spikes
# or periodically, and one for the rules called in on_pre of each network
# (SHARED rules share a network); the standalone project of the batch builds
# in about 1 s per rule.
N_RULES = 10
SHARED = 10


def _shown(case, results, detail):
    """A finding as text: the rule, its network and every target's outcome."""
    network = {key: case.get(key) for key in ("over", "n_pre", "n_post", "source_offset", "target_offset",
                                              "n_neurons", "connect", "pre", "post", "w", "c", "v", "u",
                                              "u_pre", "nonnegative")}
    outcomes = {t: results[t].get(case["index"]) for t in results}
    return (f"rule {case['index']} ({detail}):\n{case['code']}\nparameters={case['parameters']}, "
            f"returns={case['returns']!r}, trigger={case['trigger']}\nnetwork: {json.dumps(network)}\n"
            f"outcomes: {json.dumps(outcomes, default=str)[:3000]}")


def test_random_rules_agree_on_every_target(tmp_path):
    cases = [generate_case(SEED, k, SHARED) for k in range(N_RULES)]
    spikes = generate_spikes(f"{SEED}:0")
    log = []
    results, findings = run_cases(cases, spikes, TARGETS, str(tmp_path), jobs=2, log=log.append)
    by_index = {case["index"]: case for case in cases}
    shown = [_shown(by_index.get(k, cases[0]), results, f"{kind}: {detail}") for kind, k, detail in findings]
    assert not findings, "\n\n".join(shown + ["log:"] + log) + f"\nspikes: {spikes}"
    # the budget exercised the rule language, not only its refusals
    ran = [k for k in by_index if all(results[t][k]["status"] == "ok" for t in TARGETS)]
    assert len(ran) >= N_RULES * 0.8
