#!/usr/bin/env python3
"""Simulated customer summaries for the models benchmark, written as CSV with
lifetimes' column names (frequency, recency, T in weeks), deterministic by seed.

    models_data.py bgnbd N OUT      BG/NBD customers (r .243, alpha 4.41, a .793, b 2.43)
    models_data.py pnbd N OUT       Pareto/NBD customers (r .55, alpha 10.6, s .61, beta 11.7)

Each customer is observed for T ~ U(20, 78) weeks; purchases follow the model's
process (exponential gaps; dropout after each purchase with probability p for
BG/NBD, at an exponential lifetime for Pareto/NBD). Vectorised with numpy.
"""
import sys

import numpy as np


def simulate(model, n, rng):
    T = rng.uniform(20.0, 78.0, n).round(2)
    if model == "bgnbd":
        lam = rng.gamma(0.243, 1 / 4.41, n)
        p = rng.beta(0.793, 2.43, n)
        death = np.full(n, np.inf)
    else:
        lam = rng.gamma(0.55, 1 / 10.6, n)
        mu = rng.gamma(0.61, 1 / 11.7, n)
        death = rng.exponential(1 / mu)
        p = np.zeros(n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    # The first purchase is at time 0 (T counts from it); repeat purchases follow, and
    # a BG/NBD customer may drop out after each repeat purchase.
    while active.any():
        idx = np.nonzero(active)[0]
        t_next = t[idx] + rng.exponential(1 / np.maximum(lam[idx], 1e-12))
        ok = (t_next < T[idx]) & (t_next < death[idx])
        done = idx[~ok]
        active[done] = False
        idx = idx[ok]
        t[idx] = t_next[ok]
        x[idx] += 1
        tx[idx] = t_next[ok]
        if model == "bgnbd":
            active[idx] &= rng.random(idx.size) > p[idx]
    return x, tx.round(2), T


def main():
    model, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(7)
    x, tx, T = simulate(model, n, rng)
    tx = np.minimum(tx, T)
    with open(out, "w") as f:
        f.write("frequency,recency,T\n")
        np.savetxt(f, np.column_stack([x, tx, T]), fmt=["%d", "%.2f", "%.2f"], delimiter=",")


if __name__ == "__main__":
    main()
