//! The demo's surveys and what its customers wrote in them (issue 13).
//!
//! [`write_surveys`] adds five surveys ([`DEMO_SURVEYS`]): the café's seed-001 survey
//! after a visit (active) and the older one it replaced (closed), and the B2B firm's
//! relationship survey, its survey after a support case and its pulse survey.
//!
//! [`word_answers`] then goes over the feedback rows the businesses wrote (their scores
//! and which free-text fields are filled were drawn there, on streams 2 and 4) and
//! links each to its survey (`survey_id`, `survey_version` 1, `channel`), and words
//! every filled free-text field from the planted themes ([`ANSWER_THEMES`]) with the
//! stated probabilities ([`THEME_MIX`]) on its own streams (10 café, 11 B2B), so the
//! model draws and every other figure stay where they were. Detractors draw the
//! negative themes far more often than promoters, so the detractor drivers show. An
//! answer that thanks a staff member (the row's `staff_id`) names them by first name
//! in a Finnish case form ("Kiitos Mikolle", "Lauralta", "Joonaksen").

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;

use rand::Rng;

use crate::clock::{Window, helsinki};
use crate::draw::{self, pick, weighted};
use crate::tables::{RowMut, Tables};
use crate::texts::Text;
use crate::{DemoConfig, b2b, cafe};

/// `(external id, name, status, questions JSON, send_after, send_after_days,
/// anonymous_asks)` of the demo's surveys.
pub const DEMO_SURVEYS: [(&str, &str, &str, &str, &str, i64, &str); 5] = [
    (
        "cafe-survey-visit",
        "Käynnin jälkeen",
        "active",
        SEED_001,
        "order",
        1,
        "loyalty",
    ),
    (
        "cafe-survey-old",
        "Asiakaskysely (vanha)",
        "closed",
        SEED_001,
        "none",
        0,
        "none",
    ),
    (
        "b2b-survey-relationship",
        "Asiakassuhdekysely",
        "active",
        r#"[{"field":"nps","fi":"Kuinka todennäköisesti suosittelisitte meitä kollegalle (0-10)?","en":"How likely are you to recommend us to a colleague (0-10)?"},{"field":"did_well","fi":"Mitä teimme hyvin?","en":"What did we do well?"},{"field":"do_better","fi":"Mitä voisimme tehdä paremmin?","en":"What should we do better?"}]"#,
        "none",
        0,
        "none",
    ),
    (
        "b2b-survey-case",
        "Tukipyynnön jälkeen",
        "active",
        r#"[{"field":"csat","fi":"Kuinka tyytyväinen olit tukipyyntösi käsittelyyn (1-5)?","en":"How satisfied were you with how your request was handled (1-5)?"},{"field":"ces","fi":"Kuinka helppoa asian hoitaminen oli (1-7)?","en":"How easy was it to get the issue handled (1-7)?"},{"field":"comment","fi":"Haluatko kertoa lisää?","en":"Anything you would like to add?"}]"#,
        "case_resolved",
        1,
        "none",
    ),
    (
        "b2b-survey-pulse",
        "Pulssikysely",
        "active",
        r#"[{"field":"nps","fi":"Kuinka todennäköisesti suosittelisitte meitä kollegalle (0-10)?","en":"How likely are you to recommend us to a colleague (0-10)?"},{"field":"do_better","fi":"Mitä voisimme tehdä paremmin?","en":"What should we do better?"}]"#,
        "none",
        0,
        "none",
    ),
];

/// Seed 001's three questions (the default survey).
const SEED_001: &str = r#"[{"field":"nps","fi":"Kuinka todennäköisesti suosittelisit meitä ystävällesi (0-10)?","en":"How likely are you to recommend us to a friend (0-10)?"},{"field":"did_well","fi":"Mitä teimme hyvin?","en":"What did we do well?"},{"field":"do_better","fi":"Mitä voisimme tehdä paremmin?","en":"What should we do better?"}]"#;

/// Café answers older than this many days before the demo's "now" belong to the
/// closed survey, later ones to the one after a visit.
pub const OLD_SURVEY_DAYS: i64 = 548;

/// A theme planted in the free-text answers: the sentences it is written in (each
/// `(Finnish, English)`; a sentence may get a short opening or ending), with
/// `positive` ones for "what did we do well" and good comments and `negative` ones
/// for "what should we do better" and bad comments.
#[derive(Debug, Clone, Copy)]
pub struct AnswerTheme {
    /// `cafe` or `b2b`.
    pub business: &'static str,
    pub key: &'static str,
    /// `(Finnish, English)`.
    pub label: Text,
    /// The words it is written with, `(Finnish, English)`, as documented.
    pub words: Text,
    pub positive: &'static [Text],
    pub negative: &'static [Text],
}

/// The planted themes, and `other` of each business: short answers on many small
/// topics that belong to no theme.
pub const ANSWER_THEMES: &[AnswerTheme] = &[
    AnswerTheme {
        business: "cafe",
        key: "queue",
        label: ("Jonotus ja odotus", "Queues and waiting"),
        words: (
            "jono, jonot, jonossa, jonotin, jonotus, odotus, odottaa",
            "queue, queues, queued, wait, waiting",
        ),
        positive: &[],
        negative: &[
            (
                "Jono oli taas todella pitkä",
                "The queue was really long again",
            ),
            (
                "Jonotin yli kymmenen minuuttia",
                "Queued and waited for over ten minutes",
            ),
            (
                "Aamuisin jonot ovat liian pitkiä",
                "Morning queues are too long",
            ),
            (
                "Jonossa odotus kesti liian kauan",
                "The wait in the queue was far too long",
            ),
            (
                "Jonossa seisominen vie aikaa",
                "Waiting in the queue takes time",
            ),
            (
                "Jouduin odottamaan jonossa pitkään",
                "Had to wait in the queue for ages",
            ),
            (
                "Jonon odotusaika ruuhkassa on liian pitkä",
                "Long queues and waiting in the rush hour",
            ),
            (
                "Jonotus aamuruuhkassa turhauttaa",
                "Queueing in the morning rush is frustrating",
            ),
            (
                "Lisää kassoja, jonot ovat pitkiä",
                "Open another till, the queues are long",
            ),
        ],
    },
    AnswerTheme {
        business: "cafe",
        key: "coffee",
        label: ("Kahvin laatu", "Coffee quality"),
        words: ("kahvi, kahvin, kahvit, maku", "coffee, taste, tasted"),
        positive: &[
            ("Kahvi oli todella hyvää", "The coffee was really good"),
            ("Kahvin maku on erinomainen", "The coffee tastes excellent"),
            (
                "Hyvä kahvi ja tasainen laatu",
                "Great coffee, always the same taste",
            ),
            (
                "Paras kahvi kaupungissa",
                "Best coffee in town, great taste",
            ),
            (
                "Kahvissa on täyteläinen maku",
                "The coffee has a rich taste",
            ),
            (
                "Maukas kahvi joka kerta",
                "The coffee tastes good every time",
            ),
            ("Kahvit ovat aina hyviä", "The coffee always tastes good"),
        ],
        negative: &[
            (
                "Kahvi oli haaleaa ja mautonta",
                "The coffee was lukewarm and tasted of nothing",
            ),
            ("Kahvin maku oli kitkerä", "The coffee tasted bitter"),
            ("Kahvi maistui palaneelta", "The coffee tasted burnt"),
            (
                "Kahvin laatu ja maku vaihtelee",
                "The coffee's taste varies",
            ),
            (
                "Kahvin maku ei ole entisensä",
                "The coffee's taste is not what it was",
            ),
            ("Kahvi oli liian laihaa", "The coffee tasted too weak"),
        ],
    },
    AnswerTheme {
        business: "cafe",
        key: "friendly",
        label: ("Ystävällinen henkilökunta", "Friendly staff"),
        words: (
            "ystävällinen, ystävällistä, henkilökunta, henkilökunnan (and thanks naming a barista)",
            "friendly, staff (and thanks naming a barista)",
        ),
        positive: &[
            ("Ystävällinen henkilökunta", "Friendly staff"),
            (
                "Henkilökunta oli todella ystävällistä",
                "The staff were really friendly",
            ),
            (
                "Ystävällistä ja iloista henkilökuntaa",
                "Friendly, cheerful staff",
            ),
            (
                "Henkilökunnalle kiitos ystävällisestä palvelusta",
                "Thanks to the friendly staff",
            ),
            (
                "Henkilökunta on aina ystävällinen",
                "The staff are always friendly",
            ),
            (
                "Henkilökunnan ystävällisyys ilahdutti",
                "The staff's friendliness made my day",
            ),
            (
                "Ystävällinen ja nopea henkilökunta",
                "Friendly and quick staff",
            ),
        ],
        negative: &[],
    },
    AnswerTheme {
        business: "cafe",
        key: "price",
        label: ("Hinta", "Price"),
        words: (
            "hinta, hinnat, hintoja, hinnoissa, kallis, kallista",
            "price, prices, pricey, expensive",
        ),
        positive: &[],
        negative: &[
            (
                "Hinnat ovat nousseet liikaa",
                "Prices have gone up too much",
            ),
            ("Hinta on liian korkea", "The price is too high"),
            ("Hintoja voisi vähän laskea", "Lower the prices a bit"),
            (
                "Liian kalliit hinnat",
                "Too expensive, the prices are too high",
            ),
            (
                "Hinnat ovat kalliit opiskelijalle",
                "The prices are expensive for a student",
            ),
            ("Hinnoissa olisi parannettavaa", "The prices could be lower"),
            ("Hinnat nousivat taas", "The prices went up again"),
            ("Pullan hinta on kallis", "The price of a bun is expensive"),
        ],
    },
    AnswerTheme {
        business: "cafe",
        key: "clean",
        label: ("Siisteys", "Cleanliness"),
        words: (
            "siisteys, siisti, pöydät, likainen, likaisia",
            "clean, cleanliness, tables, dirty",
        ),
        positive: &[
            (
                "Siisti paikka, pöydät puhtaita",
                "A clean place, clean tables",
            ),
            ("Pöydät ovat aina siistejä", "The tables are always clean"),
        ],
        negative: &[
            ("Pöydät olivat likaisia", "The tables were dirty"),
            (
                "Pöydät voisi pyyhkiä useammin",
                "Wipe the tables more often",
            ),
            (
                "Pöytien siisteyteen enemmän huomiota",
                "Keep the tables clean",
            ),
            (
                "Vessa ja pöydät olivat likaisia",
                "The toilet and the tables were dirty",
            ),
            (
                "Likaiset astiat jäivät pöydille",
                "Dirty dishes were left on the tables",
            ),
            (
                "Siisteys on heikentynyt, pöydät likaisia",
                "Dirty tables, not as clean as before",
            ),
        ],
    },
    AnswerTheme {
        business: "cafe",
        key: "other",
        label: ("Muut", "Other"),
        words: ("(many small topics)", "(many small topics)"),
        positive: &[
            ("Tuoreet korvapuustit", "Fresh cinnamon buns"),
            ("Viihtyisä tunnelma", "Cosy atmosphere"),
        ],
        negative: &[
            ("Enemmän istumapaikkoja", "More seating"),
            ("Wifi pätkii", "The wifi keeps dropping"),
        ],
    },
    AnswerTheme {
        business: "b2b",
        key: "response",
        label: ("Vastausaika", "Response time"),
        words: (
            "vastausaika, vastaus, vastausta, vastaa, hitaasti, hidas",
            "response, responses, respond, slow",
        ),
        positive: &[],
        negative: &[
            ("Tuki vastaa hitaasti", "Support is slow to respond"),
            ("Vastausaika on liian pitkä", "Response times are too long"),
            (
                "Vastausta joutuu odottamaan päiviä",
                "We waited days for a response",
            ),
            (
                "Vastausajat ovat liian pitkiä",
                "Response times are far too long",
            ),
            (
                "Tukipyyntöihin vastataan hitaasti",
                "Slow responses to support tickets",
            ),
            (
                "Hidas vastaus kiireelliseen asiaan",
                "Slow response to an urgent issue",
            ),
            ("Vastaukset tulevat hitaasti", "Responses come slowly"),
        ],
    },
    AnswerTheme {
        business: "b2b",
        key: "invoicing",
        label: ("Laskutusvirheet", "Invoicing errors"),
        words: (
            "lasku, laskussa, laskut, laskutus, laskutusvirheitä, virhe",
            "invoice, invoices, invoicing, error, errors",
        ),
        positive: &[],
        negative: &[
            ("Laskussa oli taas virhe", "Another error on our invoice"),
            (
                "Laskutusvirheitä on liian usein",
                "Too many invoicing errors",
            ),
            ("Laskut ovat virheellisiä", "Invoices with errors"),
            ("Laskutuksen virheet harmittavat", "Invoicing errors again"),
            (
                "Virheellinen lasku jouduttiin korjaamaan",
                "An invoice error had to be corrected",
            ),
            (
                "Laskuissa on virheitä joka kuukausi",
                "Invoice errors every month",
            ),
        ],
    },
    AnswerTheme {
        business: "b2b",
        key: "expertise",
        label: ("Asiantuntemus", "Expertise"),
        words: (
            "asiantunteva, asiantuntevaa, asiantuntemus, asiantuntijoita (and thanks naming staff)",
            "expert, expertise (and thanks naming staff)",
        ),
        positive: &[
            ("Asiantuntevaa apua", "Expert help every time"),
            ("Asiantunteva yhteyshenkilö", "An expert account manager"),
            ("Asiantuntemus on huippuluokkaa", "Top-class expertise"),
            ("Saimme asiantuntevia neuvoja", "We got expert advice"),
            ("Asiantuntevaa ja nopeaa apua", "Expert and quick help"),
            ("Todellisia asiantuntijoita", "Real experts in your team"),
        ],
        negative: &[],
    },
    AnswerTheme {
        business: "b2b",
        key: "onboarding",
        label: ("Käyttöönotto", "Onboarding"),
        words: ("käyttöönotto, käyttöönoton, käyttöönotossa", "onboarding"),
        positive: &[
            ("Sujuva käyttöönotto", "Smooth onboarding"),
            ("Käyttöönotto sujui hyvin", "Onboarding went well"),
            ("Käyttöönotto oli helppo", "Onboarding was easy"),
        ],
        negative: &[
            ("Käyttöönotto takkusi", "Onboarding was bumpy"),
            (
                "Käyttöönoton aikataulu petti",
                "The onboarding schedule slipped",
            ),
            ("Käyttöönotossa oli ongelmia", "Onboarding had problems"),
        ],
    },
    AnswerTheme {
        business: "b2b",
        key: "other",
        label: ("Muut", "Other"),
        words: ("(many small topics)", "(many small topics)"),
        positive: &[
            ("Helppokäyttöinen järjestelmä", "An easy to use system"),
            ("Raportit säästävät aikaa", "The reports save us time"),
        ],
        negative: &[
            ("Integraatiot katkeilevat", "Integrations keep breaking"),
            (
                "Mobiilisovellus kaipaa parannusta",
                "The mobile app needs work",
            ),
        ],
    },
];

/// Thanks naming a café barista: `{nom}`, `{gen}`, `{all}`, `{abl}` are the first
/// name in the nominative, genitive, allative and ablative (English: the name).
/// Part of the `friendly` theme.
pub const CAFE_THANKS: &[Text] = &[
    (
        "Kiitos {all} ystävällisestä palvelusta!",
        "Thanks to {nom}, so friendly!",
    ),
    ("{nom} oli tosi ystävällinen", "{nom} was really friendly"),
    (
        "Iso kiitos {all}, ystävällinen palvelu!",
        "Big thanks to {nom} for the friendly service",
    ),
    (
        "{gen} ystävällinen palvelu piristi päivää",
        "{nom}'s friendly service made my day",
    ),
    (
        "Sain {abl} ystävällistä palvelua",
        "Got such friendly service from {nom}",
    ),
];

/// Thanks naming a B2B staff member (the same forms). Part of the `expertise` theme.
pub const B2B_THANKS: &[Text] = &[
    (
        "Kiitos {all} asiantuntevasta avusta!",
        "Thanks to {nom} for the expert help!",
    ),
    (
        "{nom} ratkaisi asian asiantuntevasti",
        "{nom} solved it like a true expert",
    ),
    (
        "Saimme {abl} asiantuntevaa apua",
        "We got expert help from {nom}",
    ),
    (
        "{gen} asiantuntemus ratkaisi ongelman",
        "{nom}'s expertise solved the problem",
    ),
];

/// A planted theme's row: business, language, theme, and its share per answer group.
pub type ThemeMixRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, f64)],
);

/// How an answer's free text is drawn: `(business, kind, group, [(theme key,
/// probability)])`; kind `well` for "what did we do well" and good comments (CSAT
/// 4-5), `better` for "what should we do better" and other comments; group by the
/// answer's NPS (0-6 detractor, 7-8 passive, 9-10 promoter) or, without one, its CSAT
/// (1-2, 3, 4-5). Thanks naming a staff member come before this draw (where the
/// business wrote one) and count in `friendly` / `expertise`.
pub const THEME_MIX: &[ThemeMixRow] = &[
    (
        "cafe",
        "better",
        "detractor",
        &[
            ("queue", 0.38),
            ("price", 0.20),
            ("coffee", 0.17),
            ("clean", 0.17),
            ("other", 0.08),
        ],
    ),
    (
        "cafe",
        "better",
        "passive",
        &[
            ("queue", 0.25),
            ("price", 0.25),
            ("coffee", 0.10),
            ("clean", 0.15),
            ("other", 0.25),
        ],
    ),
    (
        "cafe",
        "better",
        "promoter",
        &[
            ("queue", 0.15),
            ("price", 0.15),
            ("coffee", 0.05),
            ("clean", 0.10),
            ("other", 0.55),
        ],
    ),
    (
        "cafe",
        "well",
        "detractor",
        &[
            ("friendly", 0.40),
            ("coffee", 0.25),
            ("clean", 0.10),
            ("other", 0.25),
        ],
    ),
    (
        "cafe",
        "well",
        "passive",
        &[
            ("friendly", 0.40),
            ("coffee", 0.30),
            ("clean", 0.10),
            ("other", 0.20),
        ],
    ),
    (
        "cafe",
        "well",
        "promoter",
        &[
            ("friendly", 0.40),
            ("coffee", 0.35),
            ("clean", 0.10),
            ("other", 0.15),
        ],
    ),
    (
        "b2b",
        "better",
        "detractor",
        &[
            ("response", 0.40),
            ("invoicing", 0.30),
            ("onboarding", 0.10),
            ("other", 0.20),
        ],
    ),
    (
        "b2b",
        "better",
        "passive",
        &[
            ("response", 0.25),
            ("invoicing", 0.20),
            ("onboarding", 0.10),
            ("other", 0.45),
        ],
    ),
    (
        "b2b",
        "better",
        "promoter",
        &[
            ("response", 0.10),
            ("invoicing", 0.10),
            ("onboarding", 0.05),
            ("other", 0.75),
        ],
    ),
    (
        "b2b",
        "well",
        "detractor",
        &[("expertise", 0.45), ("onboarding", 0.20), ("other", 0.35)],
    ),
    (
        "b2b",
        "well",
        "passive",
        &[("expertise", 0.45), ("onboarding", 0.20), ("other", 0.35)],
    ),
    (
        "b2b",
        "well",
        "promoter",
        &[("expertise", 0.45), ("onboarding", 0.20), ("other", 0.35)],
    ),
];

/// Openings and endings a sentence may get, `(Finnish, English)`, one draw each
/// (the empty ones most often).
const OPENINGS_BAD: &[Text] = &[("", "")];
const ENDINGS_BAD: &[Text] = &[("", ""), (".", "."), ("!", "!"), ("...", "...")];
const OPENINGS_GOOD: &[Text] = &[("", "")];
const ENDINGS_GOOD: &[Text] = &[("", ""), (".", "."), ("!", "!"), (" :)", " :)")];

/// The stream of the café's answers' wording, of the B2B firm's, and of the
/// anonymous answers at the café's counter.
const CAFE_WORDING: u64 = 10;
const B2B_WORDING: u64 = 11;
const CAFE_ANONYMOUS: u64 = 12;

/// Anonymous answers through the QR code at the café's counter (no customer): a day's
/// count is Poisson with this mean for 5,000 customers (in proportion to
/// `cafe_customers`) ...
pub const ANONYMOUS_PER_DAY: f64 = 2.0;
/// ... in English with this probability (visitors), else in Finnish ...
pub const ANONYMOUS_ENGLISH: f64 = 0.3;
/// ... with NPS `round(N(8.2, 1.8))` clamped to 0-10, "what did we do well" filled
/// with probability 0.7 / 0.5 / 0.3 and "what should we do better" 0.3 / 0.6 / 0.85 for
/// a promoter / passive / detractor.
const ANONYMOUS_NPS: (f64, f64) = (8.2, 1.8);

/// Adds the anonymous answers at the café's counter (`cafe-qr-000001`, ...; channel
/// `qr`, no customer, so no trust entry and no queue), at opening hours 7.30-18.30
/// Helsinki time, over the whole window; their text is worded by [`word_answers`].
pub(crate) fn anonymous_answers(cfg: &DemoConfig, w: &Window, t: &mut Tables) {
    let mut rng = draw::stream(cfg.seed, CAFE_ANONYMOUS);
    let mean = ANONYMOUS_PER_DAY * cfg.cafe_customers as f64 / 5_000.0;
    let mut n = 0u32;
    for day in 0..w.days {
        let date = w.date(day);
        for _ in 0..draw::poisson(&mut rng, mean) {
            let at = helsinki(date, rng.random_range(7 * 3600 + 1800..18 * 3600 + 1800));
            let english = rng.random_bool(ANONYMOUS_ENGLISH);
            let nps = draw::normal(&mut rng, ANONYMOUS_NPS.0, ANONYMOUS_NPS.1)
                .round()
                .clamp(0.0, 10.0) as i64;
            let (p_well, p_better) = match nps {
                9.. => (0.7, 0.3),
                7 | 8 => (0.5, 0.6),
                _ => (0.3, 0.85),
            };
            // Placeholders: the wording is drawn by `word_answers`.
            let well = rng.random_bool(p_well).then_some("-");
            let better = rng.random_bool(p_better).then_some("-");
            if at >= w.end {
                continue;
            }
            n += 1;
            t.feedback
                .row(format!("cafe-qr-{n:06}"))
                .set("answered_at", at)
                .set("survey_ref", "counter-qr")
                .set("nps", nps)
                .set("did_well", well)
                .set("do_better", better)
                .set("language", if english { "en" } else { "fi" })
                .push();
        }
    }
}

/// The audience the relationship survey's waves name.
pub const WAVE_AUDIENCE: &str = "B2B accounts served for 30 days or more";
/// Days a wave's personal links stayed answerable (the setting `survey_link_days`'s
/// default).
pub const WAVE_LINK_DAYS: i64 = 30;

/// A wave of the B2B relationship survey (`b2b-survey-relationship`, by email, at
/// 8.00 Helsinki time on its day, as the offices open, so before every answer) with
/// its invitation log: every account of its audience ([`WAVE_AUDIENCE`]) invited, or
/// skipped with the reason `no_consent` when it has not consented to surveys; the
/// invited accounts that answered carry their answer. Written by `kanta demo` through
/// the core (plain tables, no batch).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoWave {
    /// The answers' `survey_ref`: `nps-2025-h1`, ...
    pub key: String,
    /// The survey's external id.
    pub survey: &'static str,
    /// `email`.
    pub channel: &'static str,
    pub sent_at: DateTime<Utc>,
    /// One per account considered, in the order the accounts were made.
    pub invitations: Vec<DemoInvitation>,
}

/// One row of a wave's invitation log.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoInvitation {
    /// The customer's external id.
    pub customer: String,
    /// `answered`, `invited` (not answered) or `skipped`.
    pub status: &'static str,
    /// Why a skipped customer was not invited (`no_consent`).
    pub reason: Option<&'static str>,
    /// The mail's language (the account's locale).
    pub language: &'static str,
    /// The answer's external id and time, when answered.
    pub answer: Option<(String, DateTime<Utc>)>,
}

/// Logs `customer` in the wave `key` sent on `sent` (the wave made on first use):
/// skipped with `reason`, else answered with `answer`, else invited.
pub(crate) fn invitation(
    t: &mut Tables,
    key: &str,
    sent: chrono::NaiveDate,
    customer: &str,
    language: &'static str,
    reason: Option<&'static str>,
    answer: Option<(String, DateTime<Utc>)>,
) {
    let wave = t.waves.entry(key.to_string()).or_insert_with(|| DemoWave {
        key: key.to_string(),
        survey: "b2b-survey-relationship",
        channel: "email",
        sent_at: helsinki(sent, 8 * 3600),
        invitations: Vec::new(),
    });
    wave.invitations.push(DemoInvitation {
        customer: customer.to_string(),
        status: match (reason, &answer) {
            (Some(_), _) => "skipped",
            (None, Some(_)) => "answered",
            (None, None) => "invited",
        },
        reason,
        language,
        answer,
    });
}

/// Adds the demo's surveys ([`DEMO_SURVEYS`]).
pub(crate) fn write_surveys(t: &mut Tables) {
    for (id, name, status, questions, after, days, asks) in DEMO_SURVEYS {
        t.surveys
            .row(id)
            .set("name", name)
            .set("status", status)
            .set("questions", questions)
            .set("send_after", after)
            .set("send_after_days", days)
            .set("anonymous_asks", asks)
            .push();
    }
}

/// Links every feedback row to its survey and words its free text (see the module).
pub(crate) fn word_answers(cfg: &DemoConfig, w: &Window, t: &mut Tables) {
    let mut cafe_rng = draw::stream(cfg.seed, CAFE_WORDING);
    let mut b2b_rng = draw::stream(cfg.seed, B2B_WORDING);
    let old_before = w.end - chrono::TimeDelta::days(OLD_SURVEY_DAYS);
    t.feedback.update(|row| {
        let cafe_row = row.id().starts_with("cafe-");
        let (rng, business) = if cafe_row {
            (&mut cafe_rng, "cafe")
        } else {
            (&mut b2b_rng, "b2b")
        };
        let survey_ref = row.get("survey_ref").as_text().unwrap_or("").to_string();
        let (survey, channel) = match (business, survey_ref.as_str()) {
            ("cafe", r) => {
                let old = matches!(row.get("answered_at"), kanta_domain::Value::Time(at) if *at < old_before);
                let survey = if old {
                    "cafe-survey-old"
                } else {
                    "cafe-survey-visit"
                };
                (survey, if r == "email-after-visit" { "email" } else { "qr" })
            }
            (_, "case-csat") => ("b2b-survey-case", "email"),
            (_, "nps-pulse") => ("b2b-survey-pulse", "link"),
            _ => ("b2b-survey-relationship", "email"),
        };
        row.set("survey_id", survey);
        row.set("survey_version", 1i64);
        row.set("channel", channel);
        word_row(rng, business, row);
    });
}

fn group(nps: Option<i64>, csat: Option<i64>) -> &'static str {
    match (nps, csat) {
        (Some(0..=6), _) | (None, Some(1 | 2)) => "detractor",
        (Some(7 | 8), _) | (None, Some(3)) => "passive",
        _ => "promoter",
    }
}

fn word_row(rng: &mut ChaCha8Rng, business: &str, row: &mut RowMut<'_>) {
    let english = row.get("language").as_text() == Some("en");
    let nps = row.get("nps").as_int();
    let csat = row.get("csat").as_int();
    let g = group(nps, csat);
    let thanked = row
        .get("staff_id")
        .as_text()
        .and_then(|s| cafe::staff_first_name(s).or_else(|| b2b::staff_first_name(s)));
    // The field a thanks goes to: "what did we do well", else the comment.
    let thanks_field = if !row.get("did_well").is_null() {
        "did_well"
    } else {
        "comment"
    };
    for field in ["did_well", "do_better", "comment"] {
        if row.get(field).is_null() {
            continue;
        }
        let text = match thanked {
            Some(name) if field == thanks_field => {
                let list = if business == "cafe" {
                    CAFE_THANKS
                } else {
                    B2B_THANKS
                };
                thanks(pick(rng, list), name, english)
            }
            _ => {
                let good = match field {
                    "did_well" => true,
                    "do_better" => false,
                    _ => csat.is_some_and(|c| c >= 4),
                };
                sentence(rng, business, good, g, english)
            }
        };
        row.set(field, text);
    }
}

fn sentence(
    rng: &mut ChaCha8Rng,
    business: &str,
    good: bool,
    group: &str,
    english: bool,
) -> String {
    let kind = if good { "well" } else { "better" };
    let mix = THEME_MIX
        .iter()
        .find(|(b, k, g, _)| *b == business && *k == kind && *g == group)
        .map(|m| m.3)
        .expect("a mix for every business, kind and group");
    let key = weighted(rng, mix);
    let theme = ANSWER_THEMES
        .iter()
        .find(|t| t.business == business && t.key == key)
        .expect("every mixed theme is stated");
    let list = if good { theme.positive } else { theme.negative };
    let (openings, endings) = if good {
        (OPENINGS_GOOD, ENDINGS_GOOD)
    } else {
        (OPENINGS_BAD, ENDINGS_BAD)
    };
    let core = say(pick(rng, list), english);
    let open = say(pick(rng, openings), english);
    let end = say(pick(rng, endings), english);
    let core = if open.is_empty() {
        core.to_string()
    } else {
        lower_first(core)
    };
    format!("{open}{core}{end}")
}

fn say(t: Text, english: bool) -> &'static str {
    if english { t.1 } else { t.0 }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A thanks template filled with `name` in its case forms.
fn thanks(t: Text, name: &str, english: bool) -> String {
    if english {
        return t.1.replace("{nom}", name);
    }
    t.0.replace("{nom}", name)
        .replace("{gen}", &inflect(name, "n"))
        .replace("{all}", &inflect(name, "lle"))
        .replace("{abl}", &inflect(name, "lta"))
}

/// A Finnish first name with a case ending: `n` (genitive), `lle` (allative), `lta`
/// (ablative; `ltä` after front vowels). Names ending in a vowel take the ending on
/// their weak grade (Mikko → Mikolle, Riikka → Riikan, Antti → Antilta); names ending
/// in a vowel and `s` take `-kse-` (Joonas → Joonakselle).
pub fn inflect(name: &str, ending: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let n = chars.len();
    let back = chars
        .iter()
        .any(|c| matches!(c.to_ascii_lowercase(), 'a' | 'o' | 'u'));
    let ending = if ending == "lta" && !back {
        "ltä"
    } else {
        ending
    };
    let vowel = |c: char| "aeiouyäö".contains(c.to_ascii_lowercase());
    let stem: String = if n >= 3 && vowel(chars[n - 1]) {
        // Weak grade of a double stop in the last syllable: kk, pp, tt.
        if chars[n - 2] == chars[n - 3] && matches!(chars[n - 2], 'k' | 'p' | 't') {
            chars[..n - 2].iter().chain(&chars[n - 1..]).collect()
        } else {
            name.to_string()
        }
    } else if n >= 3 && chars[n - 1] == 's' && vowel(chars[n - 2]) {
        format!("{}kse", &name[..name.len() - 1])
    } else if n >= 1 && !vowel(chars[n - 1]) {
        format!("{name}i")
    } else {
        name.to_string()
    };
    format!("{stem}{ending}")
}

/// The planted theme of an answer's text, by its sentence or thanks (`other` for the
/// other topics), or `None` for a text the demo does not write. For the tests.
pub fn planted_theme(business: &str, text: &str) -> Option<&'static str> {
    let low = text.to_lowercase();
    for t in ANSWER_THEMES.iter().filter(|t| t.business == business) {
        for s in t.positive.iter().chain(t.negative) {
            if low.contains(&s.0.to_lowercase()) || low.contains(&s.1.to_lowercase()) {
                return Some(t.key);
            }
        }
    }
    let thanks = if business == "cafe" {
        (CAFE_THANKS, "friendly")
    } else {
        (B2B_THANKS, "expertise")
    };
    for (fi, en) in thanks.0 {
        for tpl in [fi, en] {
            // The template's fixed words around the name.
            let parts: Vec<String> = tpl
                .split(['{', '}'])
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, p)| p.trim().to_lowercase())
                .filter(|p| p.len() > 3)
                .collect();
            if !parts.is_empty() && parts.iter().all(|p| low.contains(p.as_str())) {
                return Some(thanks.1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_finnish_case_endings() {
        assert_eq!(inflect("Mikko", "lle"), "Mikolle");
        assert_eq!(inflect("Mikko", "n"), "Mikon");
        assert_eq!(inflect("Sanna", "lle"), "Sannalle");
        assert_eq!(inflect("Päivi", "lta"), "Päiviltä");
        assert_eq!(inflect("Laura", "lta"), "Lauralta");
        assert_eq!(inflect("Joonas", "lle"), "Joonakselle");
        assert_eq!(inflect("Tuomas", "n"), "Tuomaksen");
        assert_eq!(inflect("Riikka", "n"), "Riikan");
        assert_eq!(inflect("Antti", "lle"), "Antille");
        assert_eq!(inflect("Leo", "lle"), "Leolle");
    }

    #[test]
    fn every_mix_sums_to_one_and_names_stated_themes() {
        for (b, _, _, mix) in THEME_MIX {
            let sum: f64 = mix.iter().map(|m| m.1).sum();
            assert!((sum - 1.0).abs() < 1e-9);
            for (k, _) in *mix {
                assert!(
                    ANSWER_THEMES
                        .iter()
                        .any(|t| t.business == *b && t.key == *k)
                );
            }
        }
    }

    #[test]
    fn sentences_belong_to_one_theme() {
        for t in ANSWER_THEMES {
            for s in t.positive.iter().chain(t.negative) {
                assert_eq!(planted_theme(t.business, s.0), Some(t.key), "{}", s.0);
                assert_eq!(planted_theme(t.business, s.1), Some(t.key), "{}", s.1);
            }
        }
    }
}
