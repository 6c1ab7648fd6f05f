"""Rendering of the per-target code templates shipped in ``templates/``."""

import functools
from importlib import resources

import jinja2

__all__ = ["render", "TEMPLATE_FILES"]

#: Template file of each (target, role), relative to the templates package.
TEMPLATE_FILES = {
    ("numpy", "getw"): "numpy/getw.py.jinja",
    ("cython", "getw"): "cython/getw.pyx.jinja",
    ("cpp", "getw"): "cpp/getw.cpp.jinja",
    ("cpp", "check"): "cpp/check.cpp.jinja",
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


def render(target, role="getw", **context):
    """
    Render the template of ``role`` for a code generation ``target``.

    Parameters
    ----------
    target : {'numpy', 'cython', 'cpp'}
        The code generation target.
    role : {'getw', 'check'}, optional
        What the code is for: the implementation of the weight function, or
        (``'cpp'`` only) the connectivity check run before a standalone
        network run.
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
