#!/usr/bin/env python3
"""Writes the themes benchmark's answers as CSV in `kanta import`'s formats,
deterministic (seed 13): 10,000 customers and N (default 100,000) feedback answers
over the 18 months before TODAY, each with an NPS, a `did_well` and (two in three) a
`do_better` text in Finnish (60 %) or English, built from PLANTED themes:

  fi did_well: ystävällinen henkilökunta 40 %, kahvin laatu 35 %, tunnelma 25 %
  fi do_better: jonotus/odotus 45 %, hinta 35 %, siisteys 20 %
  en did_well: friendly staff 40 %, coffee quality 35 %, atmosphere 25 %
  en do_better: waiting time 45 %, price 35 %, cleanliness 20 %

Each text is a random template of its theme with inflected words ("hinta", "hinnat",
"hintoja", "kallis"; "jono", "jonottaa", "jonotus", "odottaa"), optional fillers and
one in ten with a noise word.

    gen_themes.py DIR [N] [TODAY]

Files: customers.csv, feedback.csv, labels.csv (answer id, field, planted theme).
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

T = {
    ("fi", "did_well"): [
        ("ystävällisyys", 0.40, [
            "Ystävällinen henkilökunta", "Henkilökunta oli todella ystävällistä", "Ystävällistä palvelua",
            "Ystävällinen ja iloinen myyjä", "Henkilökunnan ystävällisyys", "Palvelu oli ystävällistä",
            "Ystävällinen vastaanotto", "Mukava ja ystävällinen henkilökunta", "Ystävällinen palvelu aina",
        ]),
        ("kahvi", 0.35, [
            "Kahvin laatu", "Kahvi oli erinomaista", "Maukas kahvi", "Laadukas kahvi", "Tuore kahvi",
            "Parasta kahvia kaupungissa", "Kahvi maistui hyvältä", "Hyvä kahvi ja laatu", "Kahvin maku",
        ]),
        ("tunnelma", 0.25, [
            "Viihtyisä tunnelma", "Tunnelma oli rento", "Kodikas tunnelma", "Viihtyisä kahvila",
            "Mukava tunnelma ja musiikki", "Tunnelmallinen paikka", "Viihtyisät tilat",
        ]),
    ],
    ("fi", "do_better"): [
        ("jonotus", 0.45, [
            "Jono oli pitkä", "Jouduin jonottamaan kauan", "Jonotus kesti liian kauan", "Pitkä jono kassalle",
            "Odottaa piti pitkään", "Odotus oli pitkä", "Jonot liian pitkiä", "Odotin tilausta kauan",
            "Lisää kassoja, jonot ovat pitkiä", "Jonottaminen aamuisin", "Liian pitkä odotusaika",
        ]),
        ("hinta", 0.35, [
            "Hinnat ovat liian korkeat", "Liian kallis", "Hintoja voisi laskea", "Kallis kahvila",
            "Hinta liian korkea", "Hinnat nousseet", "Kalliit leivonnaiset", "Halvemmat hinnat",
            "Hinnat kohdilleen", "Kalliit hinnat", "Hintataso korkea",
        ]),
        ("siisteys", 0.20, [
            "Pöydät olivat likaisia", "Siisteys parantaa", "Likaiset pöydät", "Wc oli likainen",
            "Siivous puutteellista", "Pöytien siisteys", "Lattia likainen",
        ]),
    ],
    ("en", "did_well"): [
        ("friendly", 0.40, [
            "Friendly staff", "The staff were very friendly", "Friendly and helpful staff", "Lovely friendly staff",
            "Friendliness of the staff", "Very friendly service", "Friendly barista", "Staff friendly and kind",
        ]),
        ("coffee", 0.35, [
            "Great coffee quality", "The coffee was excellent", "Tasty coffee", "Fresh coffee",
            "Best coffee in town", "Quality coffee", "Coffee tasted great", "Excellent coffee",
        ]),
        ("atmosphere", 0.25, [
            "Cosy atmosphere", "Relaxed atmosphere", "Nice atmosphere and music", "Cosy place",
            "Lovely atmosphere", "Pleasant atmosphere",
        ]),
    ],
    ("en", "do_better"): [
        ("waiting", 0.45, [
            "The queue was too long", "Waited too long for my order", "Long waiting time", "The wait was long",
            "Long queue at the till", "Waiting time too long", "Had to wait ages", "Long queues in the morning",
            "Too much waiting", "Shorter waiting times",
        ]),
        ("price", 0.35, [
            "Prices are too high", "Too expensive", "Expensive sandwiches", "Lower the prices",
            "Prices keep rising", "High prices", "Cheaper prices", "Expensive pastries", "The price is too high",
        ]),
        ("cleanliness", 0.20, [
            "Dirty tables", "The tables were dirty", "Cleaner toilets", "Clean the tables more often",
            "Cleanliness could improve", "Dirty floor",
        ]),
    ],
}
FILL = {"fi": ["", "", "", "Kiitos!", "Todella", "Aina", "Tosi"], "en": ["", "", "", "Thanks!", "Really", "Always", "Overall"]}
NOISE = {"fi": ["pysäköinti", "wifi", "musiikki", "aukioloajat", "sijainti"], "en": ["parking", "wifi", "music", "opening hours", "location"]}


def pick(lang, field):
    themes = T[(lang, field)]
    r = rnd.random()
    for name, share, texts in themes:
        if r < share:
            break
        r -= share
    text = rnd.choice(texts)
    f = rnd.choice(FILL[lang])
    if f:
        text = f"{f} {text[0].lower()}{text[1:]}" if rnd.random() < 0.5 else f"{text}. {f}"
    if rnd.random() < 0.1:
        text = f"{text}, {rnd.choice(NOISE[lang])}"
    return name, text


def q(s):
    return '"' + s.replace('"', '""') + '"'


with open(os.path.join(out, "customers.csv"), "w") as f:
    f.write("id,kind,name,locale\n")
    for i in range(10_000):
        f.write(f"c{i:05d},person,Asiakas {i},{'fi' if i % 5 < 3 else 'en'}\n")
with open(os.path.join(out, "feedback.csv"), "w") as f, open(os.path.join(out, "labels.csv"), "w") as lab:
    f.write("id,customer_id,answered_at,nps,did_well,do_better,language\n")
    lab.write("id,field,label\n")
    for k in range(n):
        c = rnd.randrange(10_000)
        lang = "fi" if c % 5 < 3 else "en"
        when = dt.datetime.combine(today, dt.time(12)) - dt.timedelta(days=rnd.random() * 548)
        nps = rnd.choice([3, 5, 7, 8, 9, 9, 10, 10, 10])
        l1, t1 = pick(lang, "did_well")
        lab.write(f"f{k},did_well,{l1}\n")
        better = ""
        if rnd.random() < 2 / 3:
            l2, better = pick(lang, "do_better")
            lab.write(f"f{k},do_better,{l2}\n")
        f.write(f"f{k},c{c:05d},{when.strftime('%Y-%m-%dT%H:%M:%SZ')},{nps},{q(t1)},{q(better)},{lang}\n")
print(f"wrote {n} answers to {out}", file=sys.stderr)
