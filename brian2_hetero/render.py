"""Rendering of the per-target code templates shipped in ``templates/``."""

import functools
from importlib import resources

import jinja2

__all__ = ["render", "TEMPLATE_FILES"]

#: Template file of each (target, role), relative to the templates package.
TEMPLATE_FILES = {
    ("numpy", "rule"): "numpy/rule.py.jinja",
    ("cython", "rule"): "cython/rule.pyx.jinja",
    ("cpp", "rule"): "cpp/rule.cpp.jinja",
    ("cpp", "function"): "cpp/function.cpp.jinja",
    ("cpp", "before_run"): "cpp/before_run.cpp.jinja",
    ("cpp", "after_run"): "cpp/after_run.cpp.jinja",
    ("cpp", "one_queue"): "cpp/one_queue.cpp.jinja",
}

def _load(name):
    # Read through importlib.resources so that the templates are found in an
    # installed wheel exactly as in a development install.
    try:
        text = resources.files("brian2_hetero.templates").joinpath(name).read_text()
    except FileNotFoundError:
        return None
    return text, name, lambda: True


@functools.lru_cache(maxsize=None)
def _environment():
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(target, role, **context):
    """
    Render the template of ``role`` for a code generation ``target``.

    Parameters
    ----------
    target : {'numpy', 'cython', 'cpp'}
        The code generation target.
    role : {'rule', 'function', 'before_run', 'after_run', 'one_queue'}
        What the code is for: the implementation of a rule's function, or
        (``'cpp'`` only) the C function that Cython and cpp_standalone share,
        the checks and sibling index that a standalone project runs
        before and after each network run, and the spike queue of a pathway
        that calls a rule with OpenMP.
    **context
        The values the template expects (listed at the top of each template).

    Returns
    -------
    code : str
        The rendered source code.
    """
    try:
        name = TEMPLATE_FILES[(target, role)]
    except KeyError:
        raise ValueError(
            f"No template for target '{target}' and role '{role}'; available: "
            + ", ".join(f"{t}/{r}" for t, r in TEMPLATE_FILES)
        ) from None
    return _environment().get_template(name).render(template=name, **context)
