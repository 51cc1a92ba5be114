#!/usr/bin/env python3
"""Writes cases and compensation claims for gen_customers.py's 100,000 customers,
deterministic (seed 12): the service benchmark's store (benches/service.sh).

    gen_service.py DIR [NOW]   (writes DIR/cases.csv, DIR/claims.csv, DIR/staff.csv)

300,000 cases: 285,000 from 2021-2023 (the transactions' years), most resolved (within
and past their targets), some never resolved, our fault or not; 15,000 opened in the 14
days before NOW (default: the current UTC time) and still open, in progress or waiting,
so that the breaching and due-soon filters and the SLA job have work. 60,000 claims on
them: most small (approved at once), some large (approved, refused, 2,000 pending), and
the customers of 400 recent cases with 4-8 small claims each (repeat claimants). 40 staff members own
the cases.
"""
import datetime as dt
import os
import random
import sys

CATEGORIES = ["delivery", "quality", "billing", "service", "product", "website", "other"]
SEVERITIES = ["low", "normal", "normal", "normal", "high", "critical"]
CHANNELS = ["phone", "email", "chat", "visit", "web"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    out = sys.argv[1]
    now = (
        dt.datetime.fromisoformat(sys.argv[2]).replace(tzinfo=None)
        if len(sys.argv) > 2
        else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    )
    rnd = random.Random(12)
    with open(os.path.join(out, "staff.csv"), "w") as f:
        f.write("id,name,email\n")
        for s in range(40):
            f.write(f"st{s:02d},Staff {s:02d},staff{s:02d}@kanta.test\n")
    t0 = dt.datetime(2021, 1, 4, 8, 0, 0)
    span = (dt.datetime(2023, 12, 20) - t0).total_seconds()
    cases = []
    with open(os.path.join(out, "cases.csv"), "w", buffering=1 << 20) as f:
        f.write(
            "id,customer_id,opened_at,category,severity,status,channel,our_fault,summary,"
            "first_response_at,resolved_at,closed_at,staff_id\n"
        )
        for i in range(300_000):
            c = rnd.randrange(100_000)
            sev = rnd.choice(SEVERITIES)
            fault = rnd.choice(["true", "false", ""])
            if i < 285_000:
                opened = t0 + dt.timedelta(seconds=rnd.random() * span)
                r = rnd.random()
                first = opened + dt.timedelta(hours=rnd.expovariate(1 / 6))
                if r < 0.08:
                    status, resolved, closed = "open", "", ""
                else:
                    done = opened + dt.timedelta(hours=rnd.expovariate(1 / 30))
                    resolved = iso(done)
                    status = "closed" if r < 0.7 else "resolved"
                    closed = iso(done + dt.timedelta(days=2)) if status == "closed" else ""
                first = iso(first)
            else:
                opened = now - dt.timedelta(seconds=rnd.random() * 14 * 86400)
                status = rnd.choice(["open", "open", "in_progress", "waiting"])
                first = "" if status == "open" else iso(opened + dt.timedelta(hours=1))
                resolved, closed = "", ""
            cases.append((i, c, opened))
            f.write(
                f"k{i},c{c:06d},{iso(opened)},{rnd.choice(CATEGORIES)},{sev},{status},"
                f"{rnd.choice(CHANNELS)},{fault},case {i},{first},{resolved},{closed},st{rnd.randrange(40):02d}\n"
            )
    with open(os.path.join(out, "claims.csv"), "w", buffering=1 << 20) as f:
        f.write("id,case_id,claimed_at,amount,currency,kind,status,decided_at,decision_reason,paid_at\n")
        n = 0
        for i, _c, opened in rnd.sample(cases, 57_000):
            n += 1
            small = rnd.random() < 0.8
            amount = rnd.randrange(500, 5001) if small else rnd.randrange(5001, 50_000)
            at = opened + dt.timedelta(minutes=30)
            if small:
                status, decided, reason = "approved", iso(at), ""
            elif n % 25 == 0:
                status, decided, reason = "pending", "", ""
            else:
                status = "approved" if rnd.random() < 0.7 else "refused"
                decided = min(at + dt.timedelta(hours=rnd.expovariate(1 / 20)), now - dt.timedelta(minutes=1))
                decided, reason = iso(max(decided, at)), "bench decision"
            paid = iso(at + dt.timedelta(days=1)) if status == "approved" and at + dt.timedelta(days=1) < now else ""
            f.write(
                f"cl{n},k{i},{iso(at)},{amount // 100}.{amount % 100:02d},EUR,"
                f"{rnd.choice(['refund', 'replacement', 'voucher'])},{status},{decided},{reason},{paid}\n"
            )
        # Repeat claimants: 400 customers with a recent case each and 4-8 claims on it.
        for r in range(400):
            i, _c, opened = cases[285_000 + r]
            for k in range(rnd.randrange(4, 9)):
                n += 1
                at = opened + dt.timedelta(minutes=k)
                f.write(f"cl{n},k{i},{iso(at)},19.90,EUR,voucher,approved,{iso(at)},,\n")


if __name__ == "__main__":
    main()
