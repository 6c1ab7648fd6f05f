"""
The documentation: Sphinx builds it without a warning, and every Python code
block of the README and of ``docs/`` runs as written, in a fresh process, on
every target, followed by the checks that its page gives in a comment right
before it::

    <!-- check: assert abs(S.w[0] - 0.5) < 1e-12 -->

A page may restrict a block to some targets, with the reason, which the
test prints::

    <!-- targets: numpy, cython (standalone needs set_device, see above) -->
"""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TARGETS

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# (a comment ends at its first -->, and only comments right before a block are its own)
BLOCK = re.compile(r"((?:<!--(?:(?!-->).)*-->[ \t]*\n)*)```python\n(.*?)^```", re.S | re.M)
COMMENT = re.compile(r"<!--\s*(\w+):(.*?)-->", re.S)

# Each block compiles at -O0, as most test files do (see conftest.py).
PRELUDE = """\
import os
from brian2 import prefs, set_device
flags = prefs.codegen.cpp.extra_compile_args_gcc
prefs.codegen.cpp.extra_compile_args_gcc = [f for f in flags if not f.startswith("-O")] + ["-O0", "-g0"]
if {target!r} == "cpp_standalone":
    set_device("cpp_standalone", directory="standalone")
else:
    prefs.codegen.target = {target!r}
    prefs.codegen.runtime.cython.cache_dir = os.path.expanduser("~/.cython/brian_extensions_tests_O0")
"""


def blocks():
    """(page, line, code, checks, targets, reason) of every Python block."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            comments = dict((k, v.strip()) for k, v in COMMENT.findall(match.group(1)))
            line = text.count("\n", 0, match.start(2))
            targets, reason = TARGETS, None
            if "targets" in comments:
                named, _, reason = comments["targets"].partition("(")
                targets = [t.strip() for t in named.split(",")]
                assert set(targets) <= set(TARGETS), (page, line, targets)
                reason = reason.rstrip(")").strip()
                assert reason, f"{page}:{line}: a block kept from a target must say why"
            found.append((page.relative_to(ROOT), line, match.group(2), comments.get("check", ""),
                          targets, reason))
    # a block that repeats an earlier one (the README's example in the guide) runs once
    unique = {}
    for block in found:
        unique.setdefault((block[2], block[3], tuple(block[4])), block)
    return list(unique.values())


BLOCKS = blocks()


def test_the_pages_have_code():
    # (the pattern above must find the blocks it is meant to run)
    pages = {str(page) for page, *_ in BLOCKS}
    assert {"README.md", "docs/guide/usage.md", "docs/guide/rules.md"} <= pages
    assert sum(1 for *_, check, _, _ in BLOCKS if check) >= 5


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("page, line, code, check, targets, reason", BLOCKS,
                         ids=[f"{page}:{line}" for page, line, *_ in BLOCKS])
def test_code_block_runs(tmp_path, target, page, line, code, check, targets, reason):
    if target not in targets:
        pytest.skip(f"{page}:{line} is not for {target}: {reason}")
    script = PRELUDE.format(target=target) + code + "\n" + check + "\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, f"{page}:{line} on {target}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


def test_sphinx_builds_without_warnings(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"),
         str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-5000:]
    # (the page's text, without the markup of its highlighted code)
    api = html.unescape(re.sub(r"<[^>]+>", "", (out / "api.html").read_text()))
    # the reference is made from the docstrings: parameters, and the statements of the library
    for text in ("W_total", "bugmann2012", "apply_to", "gain = sum(d)", "Bugmann (2012)"):
        assert text in api, text
    assert "Unreleased" in (out / "changelog.html").read_text()
