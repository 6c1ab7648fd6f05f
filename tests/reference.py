"""Plain-Python statement of the rule, independent of the package's code."""


def apply_spike(W, pool, i, j, W0, eta):
    """Apply one spike at synapse (i, j) to W (list of lists) and pool (list)."""
    x = W[i][j]
    gain = 0.0
    for k in range(len(W)):
        if k != i and W[k][j] > x:
            d = W[k][j] * (W[k][j] - x) / (W0 + W[k][j])
            W[k][j] -= d
            gain += d
    W[i][j] = x + gain + eta * pool[j]
    pool[j] -= eta * pool[j]
    return W[i][j]


def simulate(spikes, n_steps, W, pool, W0, eta):
    """
    Run the rule over all-to-all synapses.

    Parameters
    ----------
    spikes : dict
        Time step -> presynaptic indices spiking in it.
    n_steps : int
    W : list of lists (M, N), pool : list (N,)
        Initial values (copied).

    Returns
    -------
    W, pool : final values
    received : list
        Per target, the sum of the values getw returned for it.
    states : list of (W, pool)
        The values at the start of every time step.
    """
    W = [list(row) for row in W]
    pool = list(pool)
    received = [0.0] * len(pool)
    states = []
    for step in range(n_steps):
        states.append(([list(row) for row in W], list(pool)))
        for i in sorted(spikes.get(step, ())):
            for j in range(len(pool)):
                received[j] += apply_spike(W, pool, i, j, W0, eta)
    return W, pool, received, states
