#!/usr/bin/env python3
"""Writes the transactions of N customers drawn from BG/NBD and Gamma-Gamma, as CSV:
the input of benches/score.sh. Deterministic (seed 7).

    score_data.py N OUT.csv END_DATE

Customers are won uniformly over the three years before END_DATE; purchases in
weeks follow BG/NBD with r 0.9, alpha 2.5, a 0.6, b 3.5 (the demo café's values);
each purchase is worth a Gamma-Gamma draw with p 6, q 4, gamma 4 (euros).
Columns: id,customer_id,occurred_at,amount,currency.
"""
import datetime as dt
import random
import sys

R, ALPHA, A, B = 0.9, 2.5, 0.6, 3.5
P, Q, GAMMA = 6.0, 4.0, 4.0
WEEKS = 3 * 52.0


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    end = dt.datetime.fromisoformat(sys.argv[3]).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    start = end - dt.timedelta(weeks=WEEKS)
    rnd = random.Random(7)
    k = 0

    def write(f, c, t, nu):
        nonlocal k
        at = start + dt.timedelta(weeks=t)
        cents = max(1, round(rnd.gammavariate(P, 1.0 / nu) * 100))
        f.write(f"t{k},c{c:07d},{at:%Y-%m-%dT%H:%M:%SZ},{cents // 100}.{cents % 100:02d},EUR\n")
        k += 1

    with open(out, "w", buffering=1 << 20) as f:
        f.write("id,customer_id,occurred_at,amount,currency\n")
        for c in range(n):
            lam = rnd.gammavariate(R, 1.0 / ALPHA)
            p = rnd.betavariate(A, B)
            nu = rnd.gammavariate(Q, 1.0 / GAMMA)
            t = rnd.uniform(0.0, WEEKS)
            write(f, c, t, nu)  # the first purchase opens the customer
            while lam > 0:
                t += rnd.expovariate(lam)
                if t >= WEEKS:
                    break
                write(f, c, t, nu)
                if rnd.random() < p:  # gone for good after this repeat purchase
                    break

if __name__ == "__main__":
    main()
