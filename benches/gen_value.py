#!/usr/bin/env python3
"""Writes the profitability benchmark's store as CSV files in `kanta import`'s formats,
deterministic (seed 14) for a given day (benches/value.sh):

    gen_value.py DIR [TODAY] [CUSTOMERS] [ORDERS]   (TODAY: YYYY-MM-DD, default the UTC
                                                     day; CUSTOMERS default 100000;
                                                     ORDERS: uniform (default) or bgnbd)

Files, in import order: customers.csv, transactions.csv, subscriptions.csv,
interactions.csv, cases.csv, claims.csv. At the default size:

- customers c000000-c099999, every tenth a company; the last fifth (20,000) are
  subscribers;
- transactions: 1,000,000 orders (10 per customer on average, gamma-distributed) over
  the two years before TODAY among every customer, 60 % with a recorded cost, 3 %
  refunds; with ORDERS = bgnbd (benches/scale.sh) instead each customer's orders are
  drawn as BG/NBD says (r 0.9, alpha 2.0, a 0.6, b 4.0 per week, about 10 per customer,
  the first on a uniform day of the two years, times to the second, so that summaries
  hardly collapse) and each order's amount from the customer's own Gamma-Gamma spend
  (p 6, q 4, gamma 4 euros, as benches/score_data.py): customers drop out and differ in
  what they spend, as the models assume;
- subscriptions: one per subscriber, monthly or yearly, started 1-36 months ago, 15 %
  ended;
- interactions: 300,000 over the two years (call, email, meeting, visit, chat, note);
- cases: 30,000 over the two years, severities low 30 %, normal 50 %, high 15 %,
  critical 5 %, all resolved;
- claims: 6,000 approved vouchers of 5-50 € on those cases, 90 % paid.
"""
import datetime as dt
import os
import random
import sys

out = sys.argv[1]
today = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else dt.datetime.utcnow().date()
n_customers = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
scale = n_customers / 100_000
n_tx = int(1_000_000 * scale)
n_int = int(300_000 * scale)
n_cases = int(30_000 * scale)
n_claims = int(6_000 * scale)
n_subs = n_customers // 5
rng = random.Random(14)
os.makedirs(out, exist_ok=True)


def cid(i):
    return f"c{i:06d}"


def at(days_back, secs):
    t = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=days_back) + dt.timedelta(seconds=secs)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


with open(f"{out}/customers.csv", "w") as f:
    f.write("id,kind,name,segment,acquired_on\n")
    for i in range(n_customers):
        company = i % 10 == 0
        acquired = today - dt.timedelta(days=rng.randrange(60, 1100))
        f.write(f"{cid(i)},{'company' if company else 'person'},Asiakas {i},"
                f"{'yritys' if company else 'kanta'},{acquired}\n")

orders_model = sys.argv[4] if len(sys.argv) > 4 else "uniform"
if orders_model not in ("uniform", "bgnbd"):
    sys.exit(f"ORDERS must be uniform or bgnbd, not {orders_model!r}")


def order_row(f, k, i, amount, at_text):
    if rng.random() < 0.03:
        amount = -amount // 2
    cost = "" if rng.random() < 0.4 or amount < 0 else f"{amount * rng.uniform(0.3, 0.7) / 100:.2f}"
    f.write(f"t{k:07d},{cid(i)},{at_text},{amount / 100:.2f},EUR,{cost}\n")


def bgnbd_orders(f):
    weeks = 730 / 7
    start = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=730)
    k = 0
    for i in range(n_customers):
        lam = rng.gammavariate(0.9, 1.0 / 2.0)
        p = rng.betavariate(0.6, 4.0)
        nu = rng.gammavariate(4.0, 1.0 / 4.0)
        t = rng.uniform(0.0, weeks - 1.0)
        while True:
            at_text = (start + dt.timedelta(weeks=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
            order_row(f, k, i, max(1, round(rng.gammavariate(6.0, 1.0 / nu) * 100)), at_text)
            k += 1
            if lam <= 0:
                break
            t += rng.expovariate(lam)
            if t >= weeks or rng.random() < p:
                break


weights = [rng.gammavariate(0.8, 1.0) for _ in range(n_customers)]
total = sum(weights)
with open(f"{out}/transactions.csv", "w") as f:
    f.write("id,customer_id,occurred_at,amount,currency,cost\n")
    k = 0
    for i in range(n_customers if orders_model == "uniform" else 0):
        n = int(round(weights[i] / total * n_tx))
        for _ in range(n):
            amount = rng.randrange(300, 12_000)
            if rng.random() < 0.03:
                amount = -amount // 2
            cost = "" if rng.random() < 0.4 or amount < 0 else f"{amount * rng.uniform(0.3, 0.7) / 100:.2f}"
            f.write(f"t{k:07d},{cid(i)},{at(rng.randrange(1, 730), rng.randrange(25_200, 72_000))},"
                    f"{amount / 100:.2f},EUR,{cost}\n")
            k += 1
    if orders_model == "bgnbd":
        bgnbd_orders(f)

with open(f"{out}/subscriptions.csv", "w") as f:
    f.write("id,customer_id,plan,amount,currency,period,started_on,ended_on\n")
    for j in range(n_subs):
        i = n_customers - n_subs + j
        yearly = rng.random() < 0.2
        started = today - dt.timedelta(days=rng.randrange(30, 1095))
        ended = ""
        if rng.random() < 0.15:
            e = started + dt.timedelta(days=rng.randrange(30, 400))
            ended = str(e) if e < today else ""
        amount = rng.choice([29, 49, 99]) * (10 if yearly else 1)
        f.write(f"s{j:06d},{cid(i)},{'Pro' if amount > 50 else 'Perus'},{amount}.00,EUR,"
                f"{'year' if yearly else 'month'},{started},{ended}\n")

kinds = ["call"] * 40 + ["email"] * 30 + ["meeting"] * 10 + ["visit"] * 5 + ["chat"] * 10 + ["note"] * 5
with open(f"{out}/interactions.csv", "w") as f:
    f.write("id,customer_id,occurred_at,kind,direction\n")
    for k in range(n_int):
        i = rng.randrange(n_customers)
        f.write(f"i{k:07d},{cid(i)},{at(rng.randrange(1, 730), rng.randrange(28_800, 57_600))},"
                f"{rng.choice(kinds)},{rng.choice(['inbound', 'outbound'])}\n")

sev = ["low"] * 30 + ["normal"] * 50 + ["high"] * 15 + ["critical"] * 5
opened = []
with open(f"{out}/cases.csv", "w") as f:
    f.write("id,customer_id,opened_at,category,severity,status,resolved_at\n")
    for k in range(n_cases):
        i = rng.randrange(n_customers)
        d = rng.randrange(2, 730)
        s = rng.randrange(28_800, 50_000)
        opened.append((k, d, s))
        f.write(f"k{k:06d},{cid(i)},{at(d, s)},quality,{rng.choice(sev)},resolved,{at(d, s + 3600)}\n")

with open(f"{out}/claims.csv", "w") as f:
    f.write("id,case_id,claimed_at,amount,currency,kind,status,decided_at,paid_at\n")
    for k in range(n_claims):
        c, d, s = opened[rng.randrange(len(opened))]
        paid = at(d, s + 7200) if rng.random() < 0.9 else ""
        f.write(f"cl{k:06d},k{c:06d},{at(d, s + 600)},{rng.randrange(5, 51)}.00,EUR,voucher,approved,"
                f"{at(d, s + 600)},{paid}\n")
