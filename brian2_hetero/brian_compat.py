"""
Adjustments to Brian that code calling a `HeteroWeights` store relies on.

Each adjustment is narrow: it changes nothing for code that does not call a
store, except the loop-counter fix below, which repairs Brian's own Cython
template for every `Synapses` whose code reads ``i``.
"""

import logging
import re
import sys

import jinja2
from brian2.codegen.permutation_analysis import (
    OrderDependenceError,
    check_for_order_independence,
)
from brian2.codegen.runtime.cython_rt import CythonCodeObject
from brian2.codegen.templates import LazyTemplateLoader
from brian2.utils.logger import get_logger

__all__ = ["install", "HeteroCompileError"]

logger = get_logger(__name__)

_LOOP_COUNTER = "_spike_counter"


_UNFIXABLE_HINT = (
    " This Brian version's Cython synapses template may use 'i' as its loop "
    "counter, which breaks any on_pre code that reads i: use "
    "prefs.codegen.target = 'numpy', set_device('cpp_standalone'), or "
    "brian2 < 2.10."
)


class HeteroCompileError(RuntimeError):
    """Brian could not compile code that calls a `HeteroWeights` store."""


def _is_store(value):
    return getattr(value, "_c_name", "").startswith("_hetero_")


def _fix_cython_loop_counter():
    """
    Some Brian versions (2.10, 2.11) count spikes in the Cython ``synapses``
    template with a variable named ``i``, which clashes with the presynaptic
    index ``i`` of the user's code: such code fails to compile and Brian runs
    nothing in its place. Rename the counter in that template.

    Returns
    -------
    state : str
        ``'unaffected'``, ``'fixed'`` or ``'unfixable'``.
    """
    templater = CythonCodeObject.templater
    name = "synapses" + templater.extension
    source = templater.env.loader.get_source(templater.env, name)[0]
    declaration = re.compile(r"^\s*cdef\s+\w+\s+i\b", re.M)
    if not declaration.search(source):
        return "unaffected"
    lines = []
    for line in source.splitlines(keepends=True):
        code = line.strip()
        if code.startswith("#") or "{{" in code or "{%" in code:
            lines.append(line)
        else:
            lines.append(re.sub(r"\bi\b", _LOOP_COUNTER, line))
    fixed = "".join(lines)
    if declaration.search(fixed) or _LOOP_COUNTER not in fixed:
        return "unfixable"
    # Templater answers unknown attributes with templates, so copy.copy
    # cannot be used.
    fixed_templater = object.__new__(type(templater))
    fixed_templater.__dict__.update(templater.__dict__)
    fixed_templater.env = templater.env.overlay(
        loader=jinja2.ChoiceLoader(
            [jinja2.DictLoader({name: fixed}), templater.env.loader]
        )
    )
    fixed_templater.templates = LazyTemplateLoader(
        fixed_templater.env, templater.extension
    )
    CythonCodeObject.templater = fixed_templater
    logger.debug(
        "Renamed the spike loop counter 'i' of Brian's Cython synapses template."
    )
    return "fixed"


def _report_swallowed_compile_errors():
    """
    Brian prints a Cython compilation error and then runs nothing for that
    code object. For code that calls a store, raise instead.
    """
    original = CythonCodeObject.compile_block
    if getattr(original, "_brian2_hetero", False):
        return

    def compile_block(self, block):
        module = original(self, block)
        code = getattr(self.code, block, "").strip()
        if (
            module is None
            and code
            and "EMPTY_CODE_BLOCK" not in code
            and any(_is_store(v) for v in self.variables.values())
        ):
            stores = sorted(v.name for v in self.variables.values() if _is_store(v))
            raise HeteroCompileError(
                f"Cython could not compile the '{block}' code of '{self.owner.name}', "
                f"which calls HeteroWeights {', '.join(map(repr, stores))}; the "
                "compiler's message is printed above. Nothing was run."
                + _UNFIXABLE_HINT * (cython_loop_counter == "unfixable")
            )
        return module

    compile_block._brian2_hetero = True
    CythonCodeObject.compile_block = compile_block


class _StoreOrderFilter(logging.Filter):
    """
    A store is declared stateful so that Brian never drops or reorders its
    calls; Brian then warns that code calling it "may not be well-defined".
    The order of calls to a store is defined (delivery order, on every target),
    so this filter drops that warning when the code block would pass Brian's
    order check with the stores left out. Any other order dependence is still
    reported.
    """

    message = "may not be well-defined"

    def filter(self, record):
        if self.message not in record.getMessage():
            return True
        frame = sys._getframe(1)
        while frame is not None:
            generator = frame.f_locals.get("self")
            statements = frame.f_locals.get("vs")
            if (
                frame.f_code.co_name == "translate"
                and statements is not None
                and hasattr(generator, "variable_indices")
            ):
                break
            frame = frame.f_back
        if frame is None:
            return True
        variables = generator.variables
        if not any(_is_store(v) for v in variables.values()):
            return True
        others = {k: v for k, v in variables.items() if not _is_store(v)}
        try:
            check_for_order_independence(
                statements, others, generator.variable_indices
            )
        except OrderDependenceError:
            return True
        return False


def _filter_store_order_warning():
    target = logging.getLogger("brian2.codegen.generators.base")
    if not any(isinstance(f, _StoreOrderFilter) for f in target.filters):
        target.addFilter(_StoreOrderFilter())


#: What `install` found for the Cython loop counter of this Brian version.
cython_loop_counter = None


def install():
    """Apply the adjustments (once per process)."""
    global cython_loop_counter
    if cython_loop_counter is None:
        try:
            cython_loop_counter = _fix_cython_loop_counter()
        except Exception as exc:  # an unforeseen Brian layout: report on use
            logger.debug(f"Cannot check Brian's Cython synapses template: {exc}")
            cython_loop_counter = "unfixable"
    _report_swallowed_compile_errors()
    _filter_store_order_warning()
