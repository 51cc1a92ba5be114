#!/usr/bin/env python3
"""Writes the contact queue benchmark's store as CSV files in `kanta import`'s formats,
deterministic (seed 21) for a given day: 100,000 customers, 1,000,000 orders and
5,000,000 usage events, with the interactions, feedback, cases, trust entries and
subscriptions of a store where a third of the customers are looked after by an
account manager (benches/queue.sh).

    gen_queue.py DIR [TODAY]     (TODAY: YYYY-MM-DD, default the current UTC day)

Files (import them in this order): staff.csv, customers.csv, transactions.csv,
subscriptions.csv, usage.csv, interactions.csv, feedback.csv, cases.csv, trust.csv.

- staff: 40 account managers st00-st39 (staff00@kanta.test ...).
- customers c000000-c099999: every tenth a company (segment yritys), the rest persons
  (kanta, satunnainen); tiers A 5 %, B 15 %, C 30 %, D 50 % (scoring sets them again);
  every company and a quarter of the persons have an owner (about 32,500 owned,
  ~810 per manager); acquired over the three years before TODAY; every
  seventh ended.
- transactions: 1,000,000 orders in the three years before TODAY, spread over each
  customer's own active span (a third stop buying before TODAY: P(alive) falls), the
  number per customer gamma-distributed, companies buying more.
- subscriptions: every company and 10,000 persons (monthly and yearly plans, each
  renewed or not at every period's end: 4 % of the monthly ones leave each month,
  20 % of the yearly ones each year), so that renewal dates, MRR and sBG fits exist.
- usage: 5,000,000 events (metric `logins`, value 1) over the 20 weeks (140 days)
  before TODAY, for every company and 15,000 persons; c000000 alone has 100,000 (the
  heaviest account, a company owned by st00); the others share the rest by a lognormal
  weight. 12 % of these customers' usage drops in the last 4 weeks (to 30-70 % of
  their rate, 2 % of them to nothing), 5 % rises, the rest is steady (Poisson noise).
- interactions: 400,000 in the two years before TODAY, two thirds with owned
  customers; half proactive (check_in, sales, renewal, onboarding, other), the rest
  inbound service contacts; by the owner when there is one.
- feedback: 150,000 NPS answers over two years (15 % detractors), 8,000 in the last 30
  days.
- cases: 60,000 over three years, resolved but for 3,000 opened in the 14 days before
  TODAY and still open.
- trust: 200,000 ledger entries; about one customer in seven ends in deficit.
"""
import datetime as dt
import math
import os
import random
import sys

N_CUSTOMERS = 100_000
N_TX = 1_000_000
N_USAGE = 5_000_000
HEAVY = 0  # c000000: 100,000 usage events
HEAVY_USAGE = 100_000
N_STAFF = 40
FIRST = ["Aino", "Eero", "Helmi", "Ilmari", "Kaisa", "Lauri", "Maija", "Oskari", "Sanna", "Ville"]
LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Koskinen", "Järvinen"]
FIRMS = ["Oy", "Ab", "Ky", "Tmi"]


class Days:
    """ISO dates and times counted in days back from TODAY, formatted once per day."""

    def __init__(self, today):
        self.today = today
        self.cache = {}

    def date(self, back):
        d = self.cache.get(back)
        if d is None:
            d = (self.today - dt.timedelta(days=back)).isoformat()
            self.cache[back] = d
        return d

    def ts(self, back_float):
        """A time `back_float` days before TODAY's midnight (UTC)."""
        back = math.ceil(back_float) if back_float > 0 else 0
        secs = int((back - back_float) * 86400) if back_float > 0 else 0
        secs = min(max(secs, 0), 86399)
        return f"{self.date(back)}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"


def cid(i):
    return f"c{i:06d}"


def allocate(weights, total, rnd):
    """Integer counts proportional to weights summing exactly to total."""
    s = sum(weights)
    counts = [int(w / s * total) for w in weights]
    rest = total - sum(counts)
    for k in rnd.sample(range(len(weights)), rest):
        counts[k] += 1
    return counts


def main():
    out = sys.argv[1]
    today = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else dt.datetime.now(dt.timezone.utc).date()
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(21)
    days = Days(today)
    W = lambda name: open(os.path.join(out, name), "w", buffering=1 << 20)  # noqa: E731

    with W("staff.csv") as f:
        f.write("id,name,email,title\n")
        for s in range(N_STAFF):
            f.write(f"st{s:02d},{rnd.choice(FIRST)} Myyjä {s:02d},staff{s:02d}@kanta.test,account manager\n")

    # Customers: kind, owner, acquisition day (days back), active span for orders.
    company = [i % 10 == 0 for i in range(N_CUSTOMERS)]
    owner = [None] * N_CUSTOMERS
    acquired = [0] * N_CUSTOMERS
    stop = [0] * N_CUSTOMERS  # the last day back with orders (0: buys until today)
    with W("customers.csv") as f:
        f.write("id,kind,name,email,segment,tier,status,locale,acquired_on,owner_id\n")
        for i in range(N_CUSTOMERS):
            kind = "company" if company[i] else "person"
            if company[i]:
                name = f"{rnd.choice(LAST)} {rnd.choice(FIRMS)} {i}"
                segment = "yritys"
            else:
                name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {i}"
                segment = rnd.choice(["kanta", "satunnainen"])
            r = rnd.random()
            tier = "A" if r < 0.05 else "B" if r < 0.20 else "C" if r < 0.50 else "D"
            if i == HEAVY:
                owner[i] = 0
            elif company[i] or rnd.random() < 0.25:
                owner[i] = rnd.randrange(N_STAFF)
            acquired[i] = rnd.randrange(30, 1095)
            stop[i] = rnd.randrange(0, acquired[i]) if rnd.random() < 0.33 and i != HEAVY else 0
            status = "ended" if i % 7 == 0 and i != HEAVY else "active"
            locale = "en" if rnd.random() < 0.1 else "fi"
            own = f"st{owner[i]:02d}" if owner[i] is not None else ""
            f.write(f"{cid(i)},{kind},{name},asiakas{i}@example.fi,{segment},{tier},{status},{locale},"
                    f"{days.date(acquired[i])},{own}\n")

    # Orders: per-customer counts by a gamma weight, companies heavier; each order at a
    # uniform moment of the customer's active span [acquired, stop].
    weights = [rnd.gammavariate(0.8, 1.0) * (4.0 if company[i] else 1.0) for i in range(N_CUSTOMERS)]
    counts = allocate(weights, N_TX, rnd)
    with W("transactions.csv") as f:
        f.write("id,customer_id,occurred_at,amount,currency,channel\n")
        t = 0
        channels = ["web", "store", "app"]
        for i in range(N_CUSTOMERS):
            a, b = acquired[i], stop[i]
            c = cid(i)
            scale = 40000 if company[i] else 6000
            for k in range(counts[i]):
                back = b + rnd.random() * (a - b) if k else float(a) - rnd.random()
                cents = 100 + int(rnd.expovariate(1 / scale))
                f.write(f"t{t},{c},{days.ts(back)},{cents // 100}.{cents % 100:02d},EUR,{channels[t % 3]}\n")
                t += 1

    # Subscriptions: every company, 10,000 persons.
    persons = [i for i in range(N_CUSTOMERS) if not company[i]]
    subscribers = [i for i in range(N_CUSTOMERS) if company[i]] + rnd.sample(persons, 10_000)
    with W("subscriptions.csv") as f:
        f.write("id,customer_id,plan,amount,currency,period,started_on,ended_on\n")
        for n, i in enumerate(subscribers):
            if company[i]:
                plan, period, amount = rnd.choice([("Pro", "month", "149.00"), ("Yritys", "year", "2990.00"),
                                                   ("Yritys+", "year", "5990.00")])
            else:
                plan, period, amount = rnd.choice([("Perus", "month", "19.00"), ("Plus", "month", "39.00"),
                                                   ("Vuosi", "year", "290.00")])
            start = acquired[i]
            ended = ""
            # Renewed or not at each period's end: 4 % of the monthly ones leave a month,
            # 20 % of the yearly ones a year (the sBG's story).
            step, churn = (30, 0.04) if period == "month" else (365, 0.20)
            for k in range(1, start // step + 1):
                if i != HEAVY and rnd.random() < churn:
                    ended = days.date(start - k * step)
                    break
            f.write(f"s{n},{cid(i)},{plan},{amount},EUR,{period},{days.date(start)},{ended}\n")

    # Usage: 140 days; the last 28 are "recent" (4 weeks), the 112 before the baseline.
    users = [i for i in range(N_CUSTOMERS) if company[i]] + rnd.sample(persons, 15_000)
    others = [i for i in users if i != HEAVY]
    uw = [rnd.lognormvariate(0, 1.0) * (2.0 if company[i] else 1.0) for i in others]
    ucounts = dict(zip(others, allocate(uw, N_USAGE - HEAVY_USAGE, rnd)))
    ucounts[HEAVY] = HEAVY_USAGE
    with W("usage.csv") as f:
        f.write("id,customer_id,occurred_at,metric,value\n")
        u = 0
        for i in sorted(ucounts):
            r = rnd.random()
            if i == HEAVY:
                factor = 1.0
            elif r < 0.02:
                factor = 0.0  # stopped using the service four weeks ago
            elif r < 0.12:
                factor = rnd.uniform(0.3, 0.7)  # dropped by 30-70 %
            elif r < 0.17:
                factor = rnd.uniform(1.3, 2.0)
            else:
                factor = 1.0
            mass = 112 + 28 * factor
            c = cid(i)
            for _ in range(ucounts[i]):
                x = rnd.random() * mass
                # Days back from today: the baseline is 140..28, the recent weeks 28..0.
                back = 140 - x if x < 112 else 28 - (x - 112) / factor
                f.write(f"u{u},{c},{days.ts(back)},logins,1\n")
                u += 1
        assert u == N_USAGE, u

    owned = [i for i in range(N_CUSTOMERS) if owner[i] is not None]
    kinds = ["call", "call", "email", "email", "meeting", "visit", "chat"]
    with W("interactions.csv") as f:
        f.write("id,customer_id,occurred_at,kind,direction,staff_id,outcome,proactive,purpose,note\n")
        for n in range(400_000):
            i = rnd.choice(owned) if n % 3 else rnd.randrange(N_CUSTOMERS)
            back = rnd.random() * min(730, acquired[i])
            staff = owner[i] if owner[i] is not None else rnd.randrange(N_STAFF)
            if rnd.random() < 0.5:
                direction, proactive = "outbound", "true"
                p = rnd.random()
                purpose = ("check_in" if p < 0.5 else "sales" if p < 0.7 else "renewal" if p < 0.8
                           else "onboarding" if p < 0.9 else "other")
            else:
                direction, proactive = "inbound", "false"
                purpose = "service" if rnd.random() < 0.6 else ""
            outcome = rnd.choice(["positive", "positive", "neutral", "negative"])
            f.write(f"i{n},{cid(i)},{days.ts(back)},{rnd.choice(kinds)},{direction},st{staff:02d},{outcome},"
                    f"{proactive},{purpose},contact {n}\n")

    with W("feedback.csv") as f:
        f.write("id,customer_id,answered_at,survey_ref,nps,comment,language\n")
        for n in range(150_000):
            i = rnd.randrange(N_CUSTOMERS)
            back = rnd.random() * 30 if n < 8_000 else 30 + rnd.random() * 700
            r = rnd.random()
            nps = rnd.randrange(0, 7) if r < 0.15 else rnd.randrange(7, 9) if r < 0.45 else rnd.randrange(9, 11)
            comment = "ei toimi kunnolla" if nps <= 6 else "hyvä palvelu"
            f.write(f"f{n},{cid(i)},{days.ts(back)},nps-{n % 8},{nps},{comment},fi\n")

    categories = ["delivery", "quality", "billing", "service", "product"]
    with W("cases.csv") as f:
        f.write("id,customer_id,opened_at,category,severity,status,channel,summary,first_response_at,"
                "resolved_at,closed_at,staff_id\n")
        for n in range(60_000):
            i = rnd.randrange(N_CUSTOMERS)
            sev = rnd.choice(["low", "normal", "normal", "high", "critical"])
            staff = owner[i] if owner[i] is not None else rnd.randrange(N_STAFF)
            if n < 57_000:
                back = 14 + rnd.random() * 1080
                first = days.ts(max(back - rnd.expovariate(4), 0))
                done = max(back - rnd.expovariate(0.5), 0)
                status = "closed" if rnd.random() < 0.7 else "resolved"
                closed = days.ts(max(done - 2, 0)) if status == "closed" else ""
                resolved = days.ts(done)
            else:
                back = rnd.random() * 14
                status = rnd.choice(["open", "open", "in_progress", "waiting"])
                first = "" if status == "open" else days.ts(max(back - 0.05, 0))
                resolved = closed = ""
            f.write(f"k{n},{cid(i)},{days.ts(back)},{rnd.choice(categories)},{sev},{status},"
                    f"{rnd.choice(['phone', 'email', 'web'])},case {n},{first},{resolved},{closed},st{staff:02d}\n")

    with W("trust.csv") as f:
        f.write("id,customer_id,occurred_at,delta,reason\n")
        for n in range(200_000):
            i = rnd.randrange(N_CUSTOMERS)
            delta = rnd.choice([1, 1, 1, 2, 2, 2, -3])
            f.write(f"tr{n},{cid(i)},{days.ts(rnd.random() * 700)},{delta},bench\n")


if __name__ == "__main__":
    main()
