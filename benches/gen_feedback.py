#!/usr/bin/env python3
"""Writes the feedback analytics benchmark's data as CSV in `kanta import`'s formats,
deterministic (seed 13): 10,000 customers (segments kahvila, lounas, b2b or none;
tiers A-D or none; Finnish or English) and N (default 100,000) feedback answers over
the 24 months before TODAY (the `/feedback` page's default span), each with an NPS
(40 % promoters, 30 % passives, 30 % detractors), a CSAT in 60 %, a CES in 30 %, a
channel (email, link, qr, api, import) and, in two of three, a short free text (a
praise for promoters, a complaint otherwise) in the customer's language.

    gen_feedback.py DIR [N] [TODAY]

Files: customers.csv, feedback.csv.
"""
import datetime as dt
import os
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
today = dt.date.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else dt.datetime.now(dt.timezone.utc).date()
rnd = random.Random(13)
os.makedirs(out, exist_ok=True)

GOOD = {
    "fi": ["Ystävällinen henkilökunta", "Kahvi oli erinomaista", "Viihtyisä tunnelma", "Nopea palvelu",
           "Maukas lounas", "Ystävällistä palvelua"],
    "en": ["Friendly staff", "The coffee was excellent", "Cosy atmosphere", "Quick service",
           "Tasty lunch", "Very friendly service"],
}
BAD = {
    "fi": ["Jono oli pitkä", "Hinnat ovat liian korkeat", "Pöydät olivat likaisia", "Odotus oli pitkä",
           "Liian kallis", "Jonotus kesti liian kauan"],
    "en": ["The queue was too long", "Prices are too high", "Dirty tables", "Long waiting time",
           "Too expensive", "Waited too long for my order"],
}
customers = 10_000
locale = {}
with open(os.path.join(out, "customers.csv"), "w") as f:
    f.write("id,kind,name,segment,tier,locale\n")
    for i in range(customers):
        seg = rnd.choice(["kahvila", "kahvila", "lounas", "b2b", ""])
        tier = rnd.choice(["A", "B", "C", "D", ""])
        loc = "fi" if i % 5 < 3 else "en"
        locale[i] = loc
        f.write(f"c{i:05d},person,Asiakas {i},{seg},{tier},{loc}\n")
start = dt.datetime.combine(today, dt.time(0), dt.timezone.utc) - dt.timedelta(days=730)
span = 730 * 86400 - 3600
with open(os.path.join(out, "feedback.csv"), "w") as f:
    f.write("id,customer_id,answered_at,nps,csat,ces,did_well,do_better,language,channel\n")
    for k in range(n):
        c = rnd.randrange(customers)
        lang = locale[c]
        when = start + dt.timedelta(seconds=rnd.randrange(span))
        r = rnd.random()
        nps = rnd.choice([9, 10]) if r < 0.4 else rnd.choice([7, 8]) if r < 0.7 else rnd.randrange(0, 7)
        csat = str(min(5, max(1, round(nps / 2)))) if rnd.random() < 0.6 else ""
        ces = str(rnd.randint(1, 7)) if rnd.random() < 0.3 else ""
        well = better = ""
        if rnd.random() < 2 / 3:
            if nps >= 9:
                well = rnd.choice(GOOD[lang])
            else:
                better = rnd.choice(BAD[lang])
        channel = rnd.choice(["email", "link", "qr", "api", "import"])
        f.write(f"f{k},c{c:05d},{when.strftime('%Y-%m-%dT%H:%M:%SZ')},{nps},{csat},{ces},{well},{better},{lang},{channel}\n")
