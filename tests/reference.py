"""Plain-Python statements of the rules, independent of the package's code.

The built-in rules below change the list ``w`` (per synapse) for a trigger
at synapse ``s`` (None when a neuron triggers it) whose siblings are
``sib`` (synapse indices, in synapse order)."""


def apply_spike(w, pool, synapses_onto, s, target, W0, eta):
    """
    Apply one spike at synapse ``s`` onto neuron ``target``: ``w`` is a list
    (per synapse), ``pool`` a list (per neuron) and ``synapses_onto[target]``
    the synapses onto that neuron. Returns the synapse's new weight.
    """
    x = w[s]
    gain = 0.0
    for k in synapses_onto[target]:
        if k != s and w[k] > x:
            d = w[k] * (w[k] - x) / (W0 + w[k])
            w[k] -= d
            gain += d
    w[s] = x + gain + eta * pool[target]
    pool[target] -= eta * pool[target]
    return w[s]


class Pathway:
    """
    One Synapses' on_pre pathway: synapse ``s`` goes from ``pre[s]`` to
    ``post[s]`` (an index into the pool list) and delivers ``delay[s]`` steps
    after its source spiked. ``on_post(w, s)``, if given, runs for every
    synapse onto a neuron that spikes (``post_spikes``: step -> neurons).
    """

    def __init__(self, pre, post, w, W0, eta, delay=None, post_spikes=None, on_post=None):
        self.pre, self.post = list(pre), list(post)
        self.w = list(w)
        self.W0, self.eta = W0, eta
        self.delay = list(delay) if delay is not None else [0] * len(self.pre)
        self.post_spikes = post_spikes or {}
        self.on_post = on_post
        self.onto = {}
        for s, t in enumerate(self.post):
            self.onto.setdefault(t, []).append(s)
        self.received = {}
        self.arrivals = {}

    def schedule(self, spikes):
        """
        The order in which Brian delivers: by arrival step; within a step by
        the step the source spiked, then source index, then synapse index.
        """
        for step in sorted(spikes):
            for source in sorted(spikes[step]):
                for s in range(len(self.pre)):
                    if self.pre[s] == source:
                        self.arrivals.setdefault(step + self.delay[s], []).append(s)

    def step(self, step, pool):
        for s in self.arrivals.get(step, ()):
            t = self.post[s]
            value = apply_spike(self.w, pool, self.onto, s, t, self.W0, self.eta)
            self.received[t] = self.received.get(t, 0.0) + value
        if self.on_post is not None:
            for t in self.post_spikes.get(step, ()):
                for s in self.onto.get(t, ()):
                    self.w[s] = self.on_post(self.w[s])


def simulate(pathways, pool, n_steps):
    """
    Run ``pathways`` (scheduled, in the order Brian runs them within a step)
    for ``n_steps``; ``pool`` (a list, copied) is shared by all of them.
    Returns the final pool and the weights at the start of every step (one
    list per pathway per step).
    """
    pool = list(pool)
    history = []
    for step in range(n_steps):
        history.append([list(p.w) for p in pathways])
        for pathway in pathways:
            pathway.step(step, pool)
    return pool, history


def multiplicative(w, s, sib, W_total, eta):
    total = sum(w[k] for k in sib)
    for k in sib:
        w[k] *= 1 + eta * (W_total / total - 1)


def subtractive(w, s, sib, W_total):
    total = sum(w[k] for k in sib)
    for k in sib:
        w[k] = max(0.0, w[k] - (total - W_total) / len(sib))


def strongest_other(w, s, sib, a, b):
    others = [k for k in sib if k != s]
    if others:
        # the strongest, the first in synapse order on ties
        strongest = max(others, key=lambda k: (w[k], -k))
        w[strongest] *= b
    w[s] *= a


def redistribution(w, s, sib, alpha):
    taken = 0.0
    for k in sib:
        taken += alpha * w[k]
        w[k] -= alpha * w[k]
    w[s] += taken
