"""The examples in their quick form: each runs, checks its network (against
the published procedure in NumPy, or the totals the normalisation keeps),
prints its numbers and writes its figure."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_field2020_fig3_quick(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "field2020_fig3.py"), "--quick", "--output",
         str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout
    print(out)
    # every pairing of the network equals the published procedure in NumPy
    (difference,) = re.findall(r"largest difference (\S+) ", out)
    assert float(difference) <= 1e-12
    points = dict(re.findall(r"crossing (3A|3B|3C ehet=[0-9.]+) = (-?[0-9.]+)", out))
    assert set(points) == {"3A", "3B", "3C ehet=0.90", "3C ehet=0.62", "3C ehet=0.40",
                           "3C ehet=0.20", "3C ehet=0.05"}
    values = {key: float(value) for key, value in points.items()}
    assert all(-1 <= v <= 1 for v in values.values())
    # 3A and 3B are the sweep's 0.62 and 0.2
    assert values["3A"] == values["3C ehet=0.62"] and values["3B"] == values["3C ehet=0.20"]
    png = (tmp_path / "out" / "field2020_fig3.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert np.isfinite(list(values.values())).all()


def test_diehl_cook_2015_quick(tmp_path):
    # (timed on cpp_standalone, where it runs, and on numpy; its Cython
    # modules would only add minutes of compilation to the test run)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "diehl_cook_2015.py"), "--quick", "--timing",
         "cpp_standalone,numpy", "--output", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout
    print(out)
    print("time per digit not measured on cython here: its compilation would take minutes")
    # the network normalised every neuron's input weights, the control did not
    (deviation,) = re.findall(r"input total from (\S+): (\S+);", out)
    assert float(deviation[1]) <= 1e-9 * float(deviation[0])
    low, high = map(float, re.findall(r"control totals from (\S+) to (\S+)", out)[0])
    assert high - low > 1e-3
    accuracy = dict(re.findall(r"accuracy (normalised|control) = ([0-9.]+)", out))
    assert set(accuracy) == {"normalised", "control"}
    assert all(0 <= float(a) <= 1 for a in accuracy.values())
    times = dict(re.findall(r"time per digit (\S+) = ([0-9.]+) ms", out))
    assert set(times) == {"cpp_standalone", "numpy"} and all(float(t) > 0 for t in times.values())
    png = (tmp_path / "out" / "diehl_cook_2015.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
