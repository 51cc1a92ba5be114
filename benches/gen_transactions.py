#!/usr/bin/env python3
"""Writes N transaction rows as CSV, deterministic: the import benchmark's input.

Columns: id,customer_id,occurred_at,amount,currency,channel — one transaction per
row, ISO timestamps, amounts with a decimal point, 100,000 customers.
"""
import random
import sys

def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rnd = random.Random(42)
    channels = ["web", "store", "app"]
    with open(out, "w", buffering=1 << 20) as f:
        f.write("id,customer_id,occurred_at,amount,currency,channel\n")
        for i in range(n):
            c = rnd.randrange(100_000)
            day = rnd.randrange(1, 1096)
            y, rest = divmod(day, 365)
            m = rest // 31 + 1
            d = rest % 28 + 1
            secs = rnd.randrange(86400)
            cents = rnd.randrange(100, 50000)
            f.write(f"t{i},c{c:06d},{2021 + y}-{m:02d}-{d:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z,"
                    f"{cents // 100}.{cents % 100:02d},EUR,{channels[i % 3]}\n")

if __name__ == "__main__":
    main()
