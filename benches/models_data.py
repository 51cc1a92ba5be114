#!/usr/bin/env python3
"""Simulated customer summaries for the models benchmark, written as CSV with
lifetimes' column names (frequency, recency, T in weeks), deterministic by seed.

    models_data.py bgnbd N OUT      BG/NBD customers (r .243, alpha 4.41, a .793, b 2.43)
    models_data.py pnbd N OUT       Pareto/NBD customers (r .55, alpha 10.6, s .61, beta 11.7)
    models_data.py bgnbd-continuous N OUT
                                    BG/NBD customers as bgnbd, but in continuous time:
                                    recency and T written with 6 decimals (about a
                                    second in weeks), so nearly every row is distinct;
                                    prints the number of distinct rows to stderr

Each customer is observed for T ~ U(20, 78) weeks (rounded to 2 decimals except in
bgnbd-continuous); purchases follow the model's
process (exponential gaps; dropout after each purchase with probability p for
BG/NBD, at an exponential lifetime for Pareto/NBD). Vectorised with numpy.
"""
import sys

import numpy as np


def simulate(model, n, rng, decimals=2):
    T = rng.uniform(20.0, 78.0, n).round(decimals)
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
    return x, tx.round(decimals), T


def main():
    model, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(7)
    continuous = model == "bgnbd-continuous"
    decimals = 6 if continuous else 2
    x, tx, T = simulate("bgnbd" if continuous else model, n, rng, decimals)
    tx = np.minimum(tx, T)
    fmt = f"%.{decimals}f"
    with open(out, "w") as f:
        f.write("frequency,recency,T\n")
        np.savetxt(f, np.column_stack([x, tx, T]), fmt=["%d", fmt, fmt], delimiter=",")
    if continuous:
        distinct = len(np.unique(np.column_stack([x, tx, T]), axis=0))
        print(f"{n} customers, {distinct} distinct (frequency, recency, T) rows", file=sys.stderr)


if __name__ == "__main__":
    main()
