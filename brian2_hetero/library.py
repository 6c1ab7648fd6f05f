"""
The built-in rules, each a rule of the language (`spec.LIBRARY`) with its
parameters checked: call one to get a `HeteroRule`.
"""

import re
import textwrap

from .rule import HeteroRule
from .spec import LIBRARY

__all__ = [
    "bugmann2012",
    "normalise_multiplicative",
    "normalise_subtractive",
    "field2020",
    "redistribution",
]

_TRIGGERS = """\
Three triggers apply it (see `HeteroRule.apply_to`): a call
``norm(i, j)`` in ``on_pre`` code, on every presynaptic spike;
``norm.apply_to(S, on='post_spike')`` (``'pre_spike'`` over ``'pre'``),
once per spike of each neuron, in the ``'synapses'`` slot of the step in
which it spiked; ``norm.apply_to(S, every=10*ms)``, for every neuron, in
the ``'end'`` slot of the time steps at t = 0, 10 ms, 20 ms, ... (Brian
runs an object of period T at the multiples of T). ``when=`` changes the
slot. Weights that other code (STDP) changes after the last application
of a run no longer sum to ``W_total`` at its end: check the totals right
after an application (e.g. with a monitor in the same slot)."""


def _documented(rule):
    """Put the statements of the built-in ``rule``, as `spec.LIBRARY`
    defines them, into its function's docstring in place of the line
    ``{statements}`` (and those over 'pre' after them, where they differ),
    and the triggers of a normalisation in place of the line
    ``{triggers}``, each indented as that line (Python 3.13 strips the
    indentation of docstrings, earlier versions keep it)."""

    def put(doc, placeholder, text):
        """``doc`` with the line ``placeholder`` replaced by the ``text(indentation)``."""
        match = re.search(r"^([ \t]*)" + re.escape(placeholder) + r"$", doc, re.M)
        if match is None:
            return doc
        return doc[:match.start()] + text(match.group(1)) + doc[match.end():]

    def statements(indentation):
        # (a literal block: the paragraph around it is 4 columns to the left)
        def block(code):
            return textwrap.indent(textwrap.dedent(code).strip(), indentation)

        spec = LIBRARY[rule]
        text = block(spec.code)
        if spec.code_pre is not None and spec.code_pre != spec.code:
            text += f"\n\n{indentation[:-4]}and over ``'pre'``::\n\n" + block(spec.code_pre)
        return text

    def decorate(function):
        if function.__doc__ is not None:  # (None under python -OO)
            doc = put(function.__doc__, "{statements}", statements)
            function.__doc__ = put(doc, "{triggers}", lambda indentation: textwrap.indent(
                _TRIGGERS, indentation))
        return function

    return decorate


def _make(rule, values, name, unit=None, over="post", **renamed):
    spec = LIBRARY[rule]
    code = spec.code_for(over) if over in ("post", "pre") else None
    if code is None:
        raise ValueError(
            f"{rule}: over must be " + ("'post' or 'pre'" if spec.code_pre else "'post'")
            + f", got over = {over!r}."
        )
    variables = {key: value for key, value in renamed.items() if value != key}
    made = HeteroRule(
        code,
        parameters=values,
        returns=spec.returns,
        unit=unit,
        variables=variables,
        nonnegative=spec.nonnegative,
        name=name,
        over=over,
        _spec_parameters=spec.parameters,
    )
    # (what a missing variable's message tells to give instead)
    made._renaming = (rule, tuple(renamed))
    return made


@_documented("bugmann2012")
def bugmann2012(W0, eta, w="w", pool="pool", name="bugmann2012*"):
    """
    Bugmann's (2012) heterosynaptic rule, with a weight pool per neuron.

    For a spike arriving at synapse (i, j), with ``x`` the synapse's weight
    before the spike, every synapse ``k`` of the same `Synapses` onto the
    same neuron ``j`` whose weight ``w_k`` is larger than ``x`` gives
    ``d = w_k * (w_k - x) / (W0 + w_k)`` to synapse (i, j), which also takes
    ``eta * pool`` from the neuron's pool; the call returns the synapse's new
    weight. The sum of the weights onto a neuron plus its pool is conserved.

    Parameters
    ----------
    W0 : `Quantity` or float
        The positive scale of the transfer between synapses. Its units are
        those of the weights, the pools and of what the function returns.
    eta : float
        The fraction of a neuron's pool that a spike moves to its synapse,
        in [0, 1].
    w : str, optional
        The name of the calling `Synapses`' per-synapse variable holding the
        weights. Defaults to ``'w'``.
    pool : str, optional
        The name of the target group's per-neuron variable holding the pool.
        Defaults to ``'pool'``. Several `Synapses` onto one group that name
        the same variable share that pool.
    name : str, optional
        A unique name for the rule, see `Nameable`.

    Returns
    -------
    rule : `HeteroRule`
        Call it as ``getw(i, j)`` in ``on_pre`` code; ``rule.W0`` and
        ``rule.eta`` are its parameters, which can be changed between runs.

    Notes
    -----
    Weights and pools must be finite and non-negative; each run checks that
    first. The rule is over the target neuron only (no ``over=``): the pool
    is the resource of the neuron that receives the spike, from which its
    incoming synapses grow; a rule over a source neuron's outgoing synapses
    with a pool of that neuron is written with `HeteroRule` and
    ``over='pre'`` (``pool_pre``). In the rule language::

        {statements}

    References
    ----------
    G. Bugmann (2012). Modeling fast stimulus-response association learning
    along the occipito-parieto-frontal pathway following rule instructions.
    Brain Research 1434, 73-89, rule (10).

    Examples
    --------
    >>> from brian2 import *
    >>> from brian2_hetero import bugmann2012
    >>> P = PoissonGroup(3, 100*Hz)
    >>> G = NeuronGroup(1, '''dv/dt = -v/(50*ms) : 1
    ...                       pool : 1''', method='exact')
    >>> getw = bugmann2012(W0=3, eta=0.8)
    >>> S = Synapses(P, G, 'w : 1', on_pre='v_post += getw(i, j)')
    >>> S.connect()
    >>> getw.W0
    <bugmann2012.W0: 3.0>
    """
    return _make("bugmann2012", {"W0": W0, "eta": eta}, name, w=w, pool=pool)


@_documented("normalise_multiplicative")
def normalise_multiplicative(W_total, eta=1.0, w="w", name="normalise_multiplicative*", over="post"):
    """
    Multiplicative normalisation of the weights onto each neuron (or, with
    ``over='pre'``, leaving each neuron) toward a total ``W_total``: every
    synapse onto the neuron that receives the spike (leaving the neuron that
    sent it) becomes ``w_k * (1 + eta * (W_total / sum(w) - 1))`` (exact
    when ``eta = 1``). The call returns the spiking synapse's new weight.

    Parameters
    ----------
    W_total : `Quantity` or float
        The positive total, in the units of the weights.
    eta : float, optional
        The rate, in [0, 1]. Defaults to 1.
    w : str, optional
        The name of the calling `Synapses`' per-synapse variable holding the
        weights. Defaults to ``'w'``.
    name : str, optional
        A unique name for the rule.
    over : {'post', 'pre'}, optional
        Whose synapses the rule acts on: those onto the spiking synapse's
        target neuron (``'post'``, the default) or those leaving its source
        neuron (``'pre'``).

    Returns
    -------
    rule : `HeteroRule`

    Notes
    -----
    {triggers}

    Weights must be finite and non-negative; a neuron whose weights sum to 0
    gets NaN weights, which the check after the run reports. In the rule
    language::

        {statements}

    References
    ----------
    A. Lazar, G. Pipa, J. Triesch (2009). SORN: a self-organizing recurrent
    neural network. Frontiers in Computational Neuroscience 3, 23.
    """
    return _make("normalise_multiplicative", {"W_total": W_total, "eta": eta}, name, w=w, over=over)


@_documented("normalise_subtractive")
def normalise_subtractive(W_total, w="w", name="normalise_subtractive*", over="post"):
    """
    Subtractive normalisation of the weights onto each neuron (or, with
    ``over='pre'``, leaving each neuron) toward a total ``W_total``: every
    synapse onto the neuron that receives the spike (leaving the neuron that
    sent it) becomes ``max(0, w_k - (sum(w) - W_total) / n)``, with ``n``
    the number of those synapses. The call returns the spiking synapse's new
    weight.

    Parameters
    ----------
    W_total : `Quantity` or float
        The non-negative total, in the units of the weights.
    w : str, optional
        The name of the weights' variable. Defaults to ``'w'``.
    name : str, optional
        A unique name for the rule.
    over : {'post', 'pre'}, optional
        Whose synapses the rule acts on: those onto the spiking synapse's
        target neuron (``'post'``, the default) or those leaving its source
        neuron (``'pre'``).

    Returns
    -------
    rule : `HeteroRule`

    Notes
    -----
    {triggers}

    In the rule language::

        {statements}

    References
    ----------
    K. D. Miller, D. J. C. MacKay (1994). The role of constraints in Hebbian
    learning. Neural Computation 6, 100-126.
    """
    return _make("normalise_subtractive", {"W_total": W_total}, name, w=w, over=over)


@_documented("field2020")
def field2020(a=1.65, b=0.62, w="w", unit=None, name="field2020*", over="post"):
    """
    Strongest-other depression: a spike at synapse (i, j) multiplies its own
    weight by ``a`` and the weight of the strongest other synapse onto ``j``
    (with ``over='pre'``: leaving ``i``; the first in synapse order on ties)
    by ``b``. The call returns the synapse's new weight.

    Parameters
    ----------
    a, b : float, optional
        Non-negative factors; the defaults 1.65 and 0.62 are those of Field
        et al. (2020), Fig. 3A.
    w : str, optional
        The name of the weights' variable. Defaults to ``'w'``.
    unit : `Unit`, optional
        The units of the weights. Defaults to dimensionless.
    name : str, optional
        A unique name for the rule.
    over : {'post', 'pre'}, optional
        Whose synapses the rule acts on: those onto the spiking synapse's
        target neuron (``'post'``, the default) or those leaving its source
        neuron (``'pre'``).

    Returns
    -------
    rule : `HeteroRule`

    Notes
    -----
    In the rule language::

        {statements}

    References
    ----------
    R. E. Field, J. A. D'amour, R. Tremblay, C. Miehl, B. Rudy, J. Gjorgjieva,
    R. C. Froemke (2020). Heterosynaptic plasticity determines the set point
    for cortical excitatory-inhibitory balance. Neuron 106, 842-854.
    """
    return _make("field2020", {"a": a, "b": b}, name, unit=unit, w=w, over=over)


@_documented("redistribution")
def redistribution(alpha, w="w", unit=None, name="redistribution*", over="post"):
    """
    Conservative redistribution: a spike at synapse (i, j) takes the fraction
    ``alpha`` of the weight of every synapse onto ``j`` (with
    ``over='pre'``: leaving ``i``; its own included) and gives the sum to
    synapse (i, j). The sum of those weights is conserved. The call returns
    the synapse's new weight.

    Parameters
    ----------
    alpha : float
        The fraction taken, in [0, 1].
    w : str, optional
        The name of the weights' variable. Defaults to ``'w'``.
    unit : `Unit`, optional
        The units of the weights. Defaults to dimensionless.
    name : str, optional
        A unique name for the rule.
    over : {'post', 'pre'}, optional
        Whose synapses the rule acts on: those onto the spiking synapse's
        target neuron (``'post'``, the default) or those leaving its source
        neuron (``'pre'``).

    Returns
    -------
    rule : `HeteroRule`

    Notes
    -----
    In the rule language::

        {statements}
    """
    return _make("redistribution", {"alpha": alpha}, name, unit=unit, w=w, over=over)
