#!/usr/bin/env python3
"""Writes trust entries, cases and subscriptions for gen_customers.py's 100,000
customers, deterministic (seed 11): the customer list's sorts by trust balance, open
cases, MRR and renewal on a store where these are not empty.

    gen_accounts.py DIR      (writes DIR/trust.csv, DIR/cases.csv, DIR/subscriptions.csv)

300,000 trust entries (every customer has some; about a fifth end in deficit), 30,000
cases (a tenth still open), 20,000 subscriptions of the companies and some persons
(monthly and yearly plans, a third ended).
"""
import os
import random
import sys


def main():
    out = sys.argv[1]
    rnd = random.Random(11)
    with open(os.path.join(out, "trust.csv"), "w", buffering=1 << 20) as f:
        f.write("id,customer_id,occurred_at,delta,reason\n")
        for i in range(300_000):
            c = rnd.randrange(100_000)
            delta = rnd.choice([1, 1, 1, 2, -1, -3, -10])
            f.write(f"tr{i},c{c:06d},2023-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}T10:00:00Z,{delta},bench\n")
    with open(os.path.join(out, "cases.csv"), "w", buffering=1 << 20) as f:
        f.write("id,customer_id,opened_at,category,severity,resolved_at\n")
        for i in range(30_000):
            c = rnd.randrange(100_000)
            m = rnd.randrange(1, 12)
            resolved = "" if rnd.random() < 0.1 else f"2023-{m + 1:02d}-01T12:00:00Z"
            f.write(f"case{i},c{c:06d},2023-{m:02d}-10T09:00:00Z,delivery,{rnd.choice(['low', 'medium', 'high'])},{resolved}\n")
    with open(os.path.join(out, "subscriptions.csv"), "w", buffering=1 << 20) as f:
        f.write("id,customer_id,plan,amount,currency,period,started_on,ended_on\n")
        for i in range(20_000):
            c = rnd.randrange(100_000)
            plan, period, amount = rnd.choice([("Perus", "month", "49.00"), ("Pro", "month", "149.00"), ("Vuosi", "year", "990.00")])
            start = f"{rnd.randrange(2021, 2024)}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
            ended = f"2023-{rnd.randrange(1, 13):02d}-15" if rnd.random() < 0.33 and start < "2023-01" else ""
            f.write(f"s{i},c{c:06d},{plan},{amount},EUR,{period},{start},{ended}\n")


if __name__ == "__main__":
    main()
