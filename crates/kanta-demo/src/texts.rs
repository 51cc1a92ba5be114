//! What people wrote: notes, case summaries and survey answers, in Finnish and
//! English. Each entry is `(Finnish, English)`; the customer's locale picks one.

use rand::Rng;

use crate::draw::pick;

pub(crate) type Text = (&'static str, &'static str);

pub(crate) fn say(t: Text, english: bool) -> &'static str {
    if english { t.1 } else { t.0 }
}

pub(crate) fn pick_say(rng: &mut impl Rng, list: &[Text], english: bool) -> &'static str {
    say(pick(rng, list), english)
}

/// A café complaint category: code, how often, how likely our fault, summaries.
pub(crate) struct CafeCategory {
    pub code: &'static str,
    pub weight: f64,
    pub our_fault: f64,
    pub summaries: &'static [Text],
    /// What a detractor writes under "do better" after such a case.
    pub do_better: Text,
}

pub(crate) const CAFE_CATEGORIES: &[CafeCategory] = &[
    CafeCategory {
        code: "cold-coffee",
        weight: 22.0,
        our_fault: 0.9,
        summaries: &[
            (
                "Kahvi oli haaleaa, tehtiin tilalle uusi.",
                "Coffee was lukewarm; we made a fresh one.",
            ),
            (
                "Latte jäähtyi, kun tilaus odotti tiskillä.",
                "The latte went cold waiting on the counter.",
            ),
        ],
        do_better: ("Kahvi oli haaleaa", "The coffee was lukewarm"),
    },
    CafeCategory {
        code: "wrong-order",
        weight: 25.0,
        our_fault: 0.9,
        summaries: &[
            (
                "Sai kauramaidon sijaan lehmänmaitoa.",
                "Got cow's milk instead of oat milk.",
            ),
            (
                "Tilauksesta puuttui korvapuusti.",
                "The cinnamon bun was missing from the order.",
            ),
            ("Väärän kokoinen kahvi.", "Wrong size of coffee."),
        ],
        do_better: (
            "Tilaukset menevät välillä väärin",
            "Orders sometimes come out wrong",
        ),
    },
    CafeCategory {
        code: "long-queue",
        weight: 18.0,
        our_fault: 0.85,
        summaries: &[
            (
                "Jonotti aamuruuhkassa yli 15 minuuttia.",
                "Queued over 15 minutes in the morning rush.",
            ),
            (
                "Mobiilitilaus ei ollut valmis luvattuna aikana.",
                "Mobile order was not ready at the promised time.",
            ),
        ],
        do_better: (
            "Jono on aamuisin liian pitkä",
            "The morning queue is too long",
        ),
    },
    CafeCategory {
        code: "stale-pastry",
        weight: 8.0,
        our_fault: 0.9,
        summaries: &[
            ("Pulla oli eilistä.", "The bun was yesterday's."),
            ("Voileipä oli kuivunut.", "The sandwich had dried out."),
        ],
        do_better: (
            "Leivonnaiset eivät aina ole tuoreita",
            "Pastries are not always fresh",
        ),
    },
    CafeCategory {
        code: "cleanliness",
        weight: 8.0,
        our_fault: 0.9,
        summaries: &[
            ("Pöydät olivat likaisia.", "Tables were dirty."),
            (
                "Asiakas-WC:stä puuttui paperi.",
                "The customer toilet was out of paper.",
            ),
        ],
        do_better: (
            "Pöydät voisi pyyhkiä useammin",
            "Wipe the tables more often",
        ),
    },
    CafeCategory {
        code: "rude-service",
        weight: 6.0,
        our_fault: 0.75,
        summaries: &[
            (
                "Asiakas koki palvelun tylyksi.",
                "Customer felt the service was curt.",
            ),
            (
                "Barista ei tervehtinyt kiireessä.",
                "The barista did not greet them in the rush.",
            ),
        ],
        do_better: (
            "Ystävällisempää palvelua kiireessäkin",
            "Friendlier service even when busy",
        ),
    },
    CafeCategory {
        code: "card-payment",
        weight: 6.0,
        our_fault: 0.8,
        summaries: &[
            (
                "Korttimaksu veloitettiin kahdesti.",
                "Card payment was charged twice.",
            ),
            ("Maksupääte ei toiminut.", "The card terminal was down."),
        ],
        do_better: ("Maksupääte temppuilee", "The card terminal plays up"),
    },
    CafeCategory {
        code: "price",
        weight: 7.0,
        our_fault: 0.1,
        summaries: &[
            (
                "Asiakas piti hinnankorotusta liian suurena.",
                "Customer found the price increase too steep.",
            ),
            (
                "Kauramaidon lisähinta harmitti.",
                "Unhappy about the extra charge for oat milk.",
            ),
        ],
        do_better: (
            "Hinnat ovat nousseet liikaa",
            "Prices have gone up too much",
        ),
    },
];

pub(crate) const CAFE_INBOUND_NOTES: &[Text] = &[
    (
        "Kysyi kauramaidon saatavuutta.",
        "Asked whether we have oat milk.",
    ),
    (
        "Kysyi aukioloajoista pyhinä.",
        "Asked about opening hours on public holidays.",
    ),
    (
        "Tiedusteli tarjoilua 20 hengen tilaisuuteen.",
        "Enquired about catering for a party of 20.",
    ),
    (
        "Kysyi gluteenittomista leivonnaisista.",
        "Asked about gluten-free pastries.",
    ),
    ("Kiitti uudesta paahdosta.", "Thanked us for the new roast."),
    (
        "Ehdotti lisää pistorasioita ikkunapöytiin.",
        "Suggested more power outlets at the window tables.",
    ),
    (
        "Kysyi kanta-asiakaskortin leimoista.",
        "Asked about loyalty card stamps.",
    ),
    (
        "Unohti sateenvarjon, se löytyi takahuoneesta.",
        "Left an umbrella; we found it in the back.",
    ),
    (
        "Kysyi, voiko oman mukin tuoda.",
        "Asked whether they can bring their own cup.",
    ),
    (
        "Halusi ostaa kahvipapuja kotiin.",
        "Wanted to buy coffee beans to take home.",
    ),
];

pub(crate) const CAFE_PROACTIVE_NOTES: &[Text] = &[
    (
        "Tarjottiin maistiainen uudesta kahvista.",
        "Offered a taste of the new coffee.",
    ),
    (
        "Muistettiin asiakkaan tavallinen tilaus.",
        "Remembered the customer's usual order.",
    ),
    (
        "Kutsuttiin kahvinmaistajaisiin.",
        "Invited to the coffee tasting evening.",
    ),
    (
        "Kerrottiin uudesta vegaanisesta leivonnaisesta.",
        "Told them about the new vegan pastry.",
    ),
];

pub(crate) const CAFE_APOLOGY: Text = (
    "Pahoittelut sähköpostilla ja lahjakortti kahviin.",
    "Apologised by email with a voucher for a coffee.",
);

pub(crate) const CAFE_DID_WELL: &[Text] = &[
    ("Ystävällinen palvelu", "Friendly service"),
    ("Hyvä kahvi", "Great coffee"),
    ("Tuoreet korvapuustit", "Fresh cinnamon buns"),
    (
        "Nopea palvelu ruuhkasta huolimatta",
        "Quick service despite the rush",
    ),
    ("Viihtyisä tunnelma", "Cosy atmosphere"),
    ("Kauramaito ilman lisähintaa", "Oat milk at no extra charge"),
    ("Muistitte tilaukseni", "You remembered my order"),
    ("Hyvä musiikki", "Nice music"),
    ("Paras cappuccino kaupungissa", "Best cappuccino in town"),
];

/// Kudos naming a barista; `{}` is the first name.
pub(crate) const CAFE_KUDOS: &[Text] = &[
    ("{} oli tosi ystävällinen", "{} was really friendly"),
    ("{} muisti tilaukseni", "{} remembered my order"),
    ("Kiitos {}, paras latte!", "Thanks {}, best latte!"),
];

pub(crate) const CAFE_DO_BETTER: &[Text] = &[
    (
        "Jono on aamuisin liian pitkä",
        "The morning queue is too long",
    ),
    ("Hinnat ovat nousseet", "Prices have gone up"),
    ("Enemmän istumapaikkoja", "More seating"),
    (
        "Pöydät voisi pyyhkiä useammin",
        "Wipe the tables more often",
    ),
    ("Wifi pätkii", "The wifi keeps dropping"),
    ("Lisää vegaanisia vaihtoehtoja", "More vegan options"),
    ("Sunnuntaisin auki pidempään", "Open longer on Sundays"),
    ("Musiikki liian kovalla", "Music too loud"),
];

/// A B2B case category: code, weight among everyday cases, our fault,
/// severities (low, normal, high, critical), summaries.
pub(crate) struct B2bCategory {
    pub code: &'static str,
    pub weight: f64,
    pub our_fault: f64,
    pub severity: [f64; 4],
    pub summaries: &'static [Text],
}

pub(crate) const B2B_CATEGORIES: &[B2bCategory] = &[
    B2bCategory {
        code: "bug",
        weight: 40.0,
        our_fault: 0.9,
        severity: [0.2, 0.5, 0.25, 0.05],
        summaries: &[
            (
                "Raportin vienti Exceliin epäonnistuu.",
                "Report export to Excel fails.",
            ),
            (
                "Hakutulokset eivät päivity.",
                "Search results do not refresh.",
            ),
            (
                "Mobiilinäkymä kaatuu kirjautuessa.",
                "The mobile view crashes on login.",
            ),
            (
                "Kojelaudan luvut eivät täsmää.",
                "Dashboard figures do not add up.",
            ),
        ],
    },
    B2bCategory {
        code: "billing",
        weight: 25.0,
        our_fault: 0.5,
        severity: [0.5, 0.45, 0.05, 0.0],
        summaries: &[
            (
                "Lasku lähti väärällä summalla.",
                "Invoice was sent with the wrong amount.",
            ),
            (
                "Laskulta puuttui viitenumero.",
                "Invoice was missing the reference number.",
            ),
            (
                "Kuukausimaksu veloitettiin kahdesti.",
                "The monthly fee was charged twice.",
            ),
        ],
    },
    B2bCategory {
        code: "integration",
        weight: 15.0,
        our_fault: 0.4,
        severity: [0.2, 0.5, 0.25, 0.05],
        summaries: &[
            (
                "Integraatio kirjanpitoon katkesi.",
                "The integration with accounting broke.",
            ),
            (
                "Webhookit eivät saavu perille.",
                "Webhooks are not arriving.",
            ),
        ],
    },
    B2bCategory {
        code: "access",
        weight: 10.0,
        our_fault: 0.2,
        severity: [0.5, 0.4, 0.1, 0.0],
        summaries: &[
            ("Käyttäjä lukittui ulos.", "A user got locked out."),
            (
                "Kertakirjautuminen (SSO) ei toimi.",
                "Single sign-on does not work.",
            ),
        ],
    },
    B2bCategory {
        code: "question",
        weight: 10.0,
        our_fault: 0.0,
        severity: [0.8, 0.2, 0.0, 0.0],
        summaries: &[
            (
                "Kysymys käyttöoikeuksien asetuksista.",
                "Question about permission settings.",
            ),
            (
                "Miten raportin saa ajastettua?",
                "How do I schedule a report?",
            ),
        ],
    },
];

pub(crate) const ONBOARDING: B2bCategory = B2bCategory {
    code: "onboarding",
    weight: 0.0,
    our_fault: 0.35,
    severity: [0.3, 0.55, 0.15, 0.0],
    summaries: &[
        ("Tietojen tuonti on jumissa.", "The data import is stuck."),
        (
            "Käyttäjäkutsut eivät mene perille.",
            "User invitations are not arriving.",
        ),
        (
            "Pääkäyttäjä tarvitsee apua asetuksissa.",
            "The admin needs help with the settings.",
        ),
    ],
};

pub(crate) const OUTAGE: B2bCategory = B2bCategory {
    code: "outage",
    weight: 0.0,
    our_fault: 1.0,
    severity: [0.0, 0.0, 0.7, 0.3],
    summaries: &[
        (
            "Palvelu ei vastannut häiriön aikana.",
            "Service unavailable during the incident.",
        ),
        (
            "Kirjautuminen ei onnistunut katkon aikana.",
            "Could not log in during the outage.",
        ),
    ],
};

pub(crate) const B2B_PROACTIVE_NOTES: &[Text] = &[
    (
        "Kvartaalikatsaus: käyttö ja tavoitteet käytiin läpi.",
        "Quarterly review: went through usage and goals.",
    ),
    (
        "Soitettiin kuulumiset, ei avoimia asioita.",
        "Check-in call, nothing open.",
    ),
    (
        "Esiteltiin uusi raportointiominaisuus.",
        "Demoed the new reporting feature.",
    ),
    (
        "Tarjottiin koulutusta uusille käyttäjille.",
        "Offered training for new users.",
    ),
    (
        "Sovittiin seuraavan kvartaalin tavoitteet.",
        "Agreed the goals for next quarter.",
    ),
    (
        "Lähetettiin kuukausiraportti ja suositukset.",
        "Sent the monthly report with recommendations.",
    ),
];

pub(crate) const B2B_SALES_NOTES: &[Text] = &[
    (
        "Tarjottiin lisäkäyttäjiä ensi vuoden alusta.",
        "Offered more user licences from the start of next year.",
    ),
    (
        "Esiteltiin ylemmän paketin ominaisuudet ja hinta.",
        "Presented the features and price of the higher plan.",
    ),
    (
        "Lähetettiin tarjous integraatiopaketista.",
        "Sent an offer for the integration package.",
    ),
];

pub(crate) const B2B_REACTIVE_NOTES: &[Text] = &[
    (
        "Asiakas pyysi eriteltyä laskua.",
        "Customer asked for an itemised invoice.",
    ),
    (
        "Asiakas pyysi lisää käyttäjälisenssejä.",
        "Customer asked for more user licences.",
    ),
    (
        "Kysymys rajapinnan käyttöoikeuksista.",
        "Question about API permissions.",
    ),
    (
        "Asiakas halusi neuvoja raporttien tekoon.",
        "Customer wanted advice on building reports.",
    ),
    (
        "Asiakas kertoi organisaatiomuutoksesta.",
        "Customer told us about a reorganisation.",
    ),
];

pub(crate) const B2B_KICKOFF: Text = (
    "Käyttöönoton aloituspalaveri, sovittiin aikataulu ja tavoitteet.",
    "Onboarding kick-off; agreed the schedule and goals.",
);

pub(crate) const B2B_RENEWAL: Text = (
    "Uusimiskeskustelu ennen vuosisopimuksen jatkoa.",
    "Renewal discussion ahead of the yearly contract.",
);

pub(crate) const B2B_WARNING: &[Text] = &[
    (
        "Asiakas tyytymätön, harkitsee vaihtoehtoja.",
        "Customer unhappy, considering alternatives.",
    ),
    (
        "Käyttö vähentynyt, tiimillä ei ole aikaa ottaa palvelua käyttöön.",
        "Usage is down; the team has no time to adopt the service.",
    ),
    (
        "Asiakas kysyi irtisanomisehdoista.",
        "Customer asked about the notice period.",
    ),
];

/// `{}` is the reason.
pub(crate) const B2B_NOTICE: Text = (
    "Asiakas ilmoitti irtisanovansa sopimuksen: {}.",
    "Customer gave notice to cancel: {}.",
);

/// Why accounts leave: key, text, weight.
pub(crate) const CHURN_REASONS: &[(&str, Text, f64)] = &[
    ("price", ("hinta", "price"), 25.0),
    (
        "competitor",
        ("siirtyi kilpailijalle", "moved to competitor"),
        20.0,
    ),
    ("no-need", ("ei enää tarvetta", "no longer needed"), 20.0),
    ("support", ("huono tuki", "bad support"), 15.0),
    (
        "closed",
        ("yritys lopetti toimintansa", "company closed down"),
        8.0,
    ),
    ("budget", ("budjettileikkaukset", "budget cuts"), 12.0),
];

pub(crate) const B2B_DID_WELL: &[Text] = &[
    ("Nopea ja asiantunteva tuki", "Fast, knowledgeable support"),
    ("Helppokäyttöinen palvelu", "Easy to use"),
    (
        "Yhteyshenkilö tuntee liiketoimintamme",
        "Our account manager knows our business",
    ),
    ("Raportit säästävät aikaa", "The reports save us time"),
    ("Luotettava, ei katkoja", "Reliable, no outages"),
    ("Sujuva käyttöönotto", "Smooth onboarding"),
];

/// Kudos naming a staff member; `{}` is the first name.
pub(crate) const B2B_KUDOS: &[Text] = &[
    ("{} ratkaisi asian nopeasti", "{} solved it quickly"),
    (
        "Kiitos {}, erinomaista palvelua",
        "Thanks {}, excellent service",
    ),
    ("{} pitää meidät ajan tasalla", "{} keeps us up to date"),
];

pub(crate) const B2B_DO_BETTER: &[Text] = &[
    ("Hinta on korkea", "The price is high"),
    ("Tuki vastaa hitaasti", "Support is slow to respond"),
    (
        "Raportointiin lisää joustavuutta",
        "More flexible reporting",
    ),
    ("Integraatiot katkeilevat", "Integrations keep breaking"),
    ("Laskutus on sekavaa", "Billing is confusing"),
    (
        "Mobiilisovellus kaipaa parannusta",
        "The mobile app needs work",
    ),
    (
        "Häiriöistä pitäisi tiedottaa nopeammin",
        "Tell us sooner about outages",
    ),
];

pub(crate) const CSAT_GOOD: &[Text] = &[
    (
        "Ongelma ratkesi nopeasti, kiitos!",
        "Problem solved quickly, thanks!",
    ),
    ("Selkeät ohjeet", "Clear instructions"),
    ("Hyvä palvelu", "Good service"),
];

pub(crate) const CSAT_BAD: &[Text] = &[
    ("Kesti aivan liian kauan", "Took far too long"),
    (
        "Jouduin selittämään asian monta kertaa",
        "Had to explain the issue several times",
    ),
    (
        "Ongelma ei oikeasti korjaantunut",
        "The problem is not really fixed",
    ),
];

/// Why a manager approved a claim above the small-claim limit.
pub(crate) const CLAIM_APPROVED: &[Text] = &[
    (
        "Virhe oli meidän, hyvitys kohtuullinen.",
        "The mistake was ours; the amount is fair.",
    ),
    (
        "Pitkäaikainen asiakas, korvataan kokonaan.",
        "A long-standing customer; refunded in full.",
    ),
    (
        "Tilaus meni pieleen, korvataan tilauksen hinta.",
        "The order went wrong; we refund its price.",
    ),
];

/// Why a manager refused a claim above the small-claim limit.
pub(crate) const CLAIM_REFUSED: &[Text] = &[
    (
        "Vahinko ei johtunut meistä; tarjottu lahjakortti tilalle.",
        "The damage was not caused by us; offered a voucher instead.",
    ),
    (
        "Sama lasku hyvitettiin jo aiemmin.",
        "The same invoice was already credited.",
    ),
    (
        "Summa ylittää sopimuksen vastuurajan; käyty läpi asiakkaan kanssa.",
        "The amount exceeds the contract's liability cap; talked through with the customer.",
    ),
];

/// Entries a manager adds by hand: delta and reason.
pub(crate) const TRUST_MANUAL: &[(i64, Text)] = &[
    (
        5,
        (
            "Auttoi meitä tapahtuman järjestelyissä",
            "Helped us organise an event",
        ),
    ),
    (
        2,
        (
            "Hyvitys pitkästä odotuksesta puhelimessa",
            "Goodwill for a long wait on the phone",
        ),
    ),
    (
        3,
        (
            "Suositteli meitä ystävilleen",
            "Recommended us to their friends",
        ),
    ),
    (
        -5,
        (
            "Lupasimme soittaa takaisin, emme soittaneet",
            "We promised to call back and did not",
        ),
    ),
];

/// What was done to put a case right, by category code.
pub(crate) fn resolutions(code: &str) -> &'static [Text] {
    match code {
        "cold-coffee" | "wrong-order" | "stale-pastry" => &[
            (
                "Tehtiin uusi tilalle heti.",
                "Made a fresh one straight away.",
            ),
            (
                "Vaihdettiin tuote ja pyydettiin anteeksi.",
                "Replaced it and apologised.",
            ),
        ],
        "long-queue" => &[
            (
                "Lisättiin aamuvuoroon toinen barista.",
                "Added a second barista to the morning shift.",
            ),
            (
                "Tarjottiin kahvi odottamisesta.",
                "Offered a coffee for the wait.",
            ),
        ],
        "cleanliness" => &[(
            "Siivottiin pöydät ja tarkistettiin siivouslista.",
            "Cleaned the tables and checked the cleaning rota.",
        )],
        "price" => &[(
            "Selitettiin hinnoittelu ja korjattiin hintalappu.",
            "Explained the prices and fixed the price tag.",
        )],
        "rude-service" => &[(
            "Keskusteltiin asiasta vuorossa olleen kanssa ja pyydettiin anteeksi.",
            "Talked it through with the staff on shift and apologised.",
        )],
        "card-payment" => &[(
            "Maksupääte käynnistettiin uudelleen ja veloitus tarkistettiin.",
            "Restarted the card terminal and checked the charge.",
        )],
        "billing" => &[
            ("Lähetettiin korjattu lasku.", "Sent a corrected invoice."),
            (
                "Hyvitettiin ylimääräinen veloitus.",
                "Credited the extra charge.",
            ),
        ],
        "outage" => &[(
            "Palvelu palautettiin ja häiriöraportti lähetettiin.",
            "Service restored and the incident report sent.",
        )],
        "onboarding" => &[(
            "Käytiin asetukset läpi yhdessä etäpalaverissa.",
            "Went through the settings together in a video call.",
        )],
        "question" => &[(
            "Vastattiin ja lähetettiin ohjeen linkki.",
            "Answered and sent a link to the guide.",
        )],
        "access" => &[("Käyttöoikeudet palautettiin.", "Access restored.")],
        _ => &[
            (
                "Vika korjattiin ja korjaus julkaistiin.",
                "Fixed the fault and released the fix.",
            ),
            (
                "Korjattu asetus, toimii taas.",
                "Corrected the setting; it works again.",
            ),
        ],
    }
}

/// `template` with its `{}` replaced by `value`.
pub(crate) fn fill(template: &str, value: &str) -> String {
    template.replacen("{}", value, 1)
}
