#!/usr/bin/env python3
"""Writes 100,000 customers as CSV, deterministic (seed 7): the customer list's and
the retention dashboard's benchmark input, beside gen_transactions.py's orders.

    gen_customers.py OUT.csv

Columns: id,kind,name,email,segment,tier,status; every tenth a company, every
seventh ended, tiers skewed towards D.
"""
import random
import sys

FIRST = ["Aino", "Eero", "Helmi", "Ilmari", "Kaisa", "Lauri", "Maija", "Oskari", "Sanna", "Ville"]
LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Koskinen", "Järvinen"]


def main():
    rnd = random.Random(7)
    with open(sys.argv[1], "w") as f:
        f.write("id,kind,name,email,segment,tier,status\n")
        for i in range(100_000):
            name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {i}"
            kind = "company" if i % 10 == 0 else "person"
            tier = "ABCD"[min(3, int(rnd.expovariate(1.0)))]
            status = "ended" if i % 7 == 0 else "active"
            segment = rnd.choice(["kanta", "satunnainen", "yritys"])
            f.write(f"c{i:06d},{kind},{name},asiakas{i}@example.fi,{segment},{tier},{status}\n")


if __name__ == "__main__":
    main()
