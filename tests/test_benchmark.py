"""The benchmark's quick mode, one run per implementation: it runs, writes its
outputs, and all agree. The relay network is left to the full benchmark (its
Cython build alone takes about a minute), and so is the rule in Brian's
synapse order (``hetero_src``): the same worker as ``hetero`` but for the
order of ``connect``, whose results on every target the cross-target tests
check in both orders."""

import csv
import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
TOLERANCE = 1e-9


def test_quick_benchmark_outputs_agree(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--repeats", "0", "--only", "hetero,netop",
         "--output", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["failures"] == []
    rows = results["runs"]
    # nothing failed; only the all-to-all network operation skips the sparse size
    sizes = {(r["M"], r["N"], r["p"]) for r in rows}
    assert sizes == {(40, 8, 1.0), (40, 30, 0.3)}
    for r in rows:
        skipped = r["p"] < 1 and r["implementation"] == "netop"
        assert (r["run_s"] is None) == skipped, r
        # the quick sizes are too small to time the floor: no ratios to it
        assert r["vs_floor"] is None
    targets = {}
    for r in rows:
        targets.setdefault(r["implementation"], set()).add(r["target"])
    runtime = {"numpy", "cython"}
    everywhere = runtime | {"cpp_standalone"}
    # (the network without the rule comes with the rule's rows)
    assert targets == {"floor": {"c++"}, "plain": everywhere, "hetero": everywhere, "netop": runtime}
    rows = [r for r in rows if r["run_s"] is not None]
    plain = {(r["M"], r["N"], r["p"], r["target"]): r["run_s"] for r in rows if r["implementation"] == "plain"}
    for r in rows:
        assert r["checked_targets"] == r["N"]
        assert r["peak_bytes"] > 0
        if r["implementation"] == "plain":
            assert r["max_diff"] is None and r["own_s"] is None
            continue
        assert r["max_diff"] <= TOLERANCE
        assert r["max_diff_floor"] <= TOLERANCE
        if r["implementation"].startswith("hetero"):
            assert r["own_s"] == r["run_s"] - plain[r["M"], r["N"], r["p"], r["target"]]
    with open(tmp_path / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["implementation"], r["target"]) for r in table] == [
        (r["implementation"], r["target"]) for r in results["runs"]
    ]
    png = (tmp_path / "runtime.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not (tmp_path / "work").exists()
