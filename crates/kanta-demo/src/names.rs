//! Names of people and companies, emails and phone numbers.
//!
//! Everything is drawn from built-in lists; emails use only domains reserved for
//! examples (RFC 2606: `example.com`, `example.net`, `example.org` and the `.example`
//! top-level domain), so demo data can never mail a real person.

use std::collections::HashSet;

use rand::Rng;

use crate::draw::pick;

pub(crate) const FI_WOMEN: &[&str] = &[
    "Aino", "Anna", "Anni", "Eeva", "Elina", "Emilia", "Emma", "Hanna", "Heidi", "Helmi", "Iida",
    "Inka", "Jenni", "Johanna", "Julia", "Katja", "Kaisa", "Laura", "Leena", "Liisa", "Maija",
    "Marja", "Minna", "Noora", "Oona", "Päivi", "Pirjo", "Riikka", "Sanna", "Satu", "Suvi",
    "Tiina", "Tuija", "Venla", "Veera", "Sofia", "Ella", "Aada", "Elli", "Lotta",
];

pub(crate) const FI_MEN: &[&str] = &[
    "Aleksi", "Antti", "Eero", "Eino", "Elias", "Henri", "Ilkka", "Jaakko", "Janne", "Jari",
    "Joni", "Juha", "Juho", "Jussi", "Kalle", "Kari", "Lauri", "Leo", "Markku", "Matti", "Mikko",
    "Niko", "Olli", "Onni", "Pekka", "Petri", "Risto", "Sami", "Teemu", "Timo", "Tuomas", "Veikko",
    "Ville", "Väinö", "Oskari", "Eetu", "Topi", "Arttu", "Joonas", "Heikki",
];

pub(crate) const FI_SURNAMES: &[&str] = &[
    "Korhonen",
    "Virtanen",
    "Mäkinen",
    "Nieminen",
    "Mäkelä",
    "Hämäläinen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Järvinen",
    "Lehtonen",
    "Lehtinen",
    "Saarinen",
    "Salminen",
    "Heinonen",
    "Niemi",
    "Heikkilä",
    "Kinnunen",
    "Salonen",
    "Turunen",
    "Salo",
    "Laitinen",
    "Tuominen",
    "Rantanen",
    "Karjalainen",
    "Jokinen",
    "Mattila",
    "Savolainen",
    "Lahtinen",
    "Ahonen",
    "Ketola",
    "Lindholm",
    "Aaltonen",
    "Peltonen",
    "Hiltunen",
    "Kallio",
    "Manninen",
    "Koivisto",
    "Leinonen",
    "Räsänen",
    "Toivonen",
    "Ojala",
    "Mustonen",
    "Laaksonen",
    "Pesonen",
    "Kettunen",
    "Harju",
    "Väisänen",
    "Lindqvist",
    "Nyström",
];

pub(crate) const EN_FIRST: &[&str] = &[
    "Emily", "Olivia", "Sophie", "Grace", "Chloe", "Hannah", "Lucy", "Amelia", "Sarah", "Rachel",
    "Jessica", "Megan", "Maria", "Priya", "Mei", "Ana", "James", "Oliver", "Jack", "Thomas",
    "Daniel", "Samuel", "William", "George", "Harry", "Matthew", "Ryan", "Lucas", "David",
    "Michael", "Ethan", "Adam", "Rahul", "Marco", "Tomasz", "Ahmed",
];

pub(crate) const EN_SURNAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
    "Jackson", "Clarke", "Baker", "Harris", "Lewis", "Turner", "Murphy", "Kelly", "O'Brien",
    "Patel", "Nguyen", "Garcia", "Rossi", "Kowalski", "Novak", "Silva", "Chen", "Kim", "Singh",
    "Ivanova", "Schmidt", "Müller",
];

/// A person's first and last name in the given locale.
pub(crate) fn person(rng: &mut impl Rng, english: bool) -> (&'static str, &'static str) {
    if english {
        (pick(rng, EN_FIRST), pick(rng, EN_SURNAMES))
    } else if rng.random_bool(0.5) {
        (pick(rng, FI_WOMEN), pick(rng, FI_SURNAMES))
    } else {
        (pick(rng, FI_MEN), pick(rng, FI_SURNAMES))
    }
}

/// Lower-case ASCII for the local part or a label of an email address: `Päivi` gives
/// `paivi`, `O'Brien` gives `obrien`.
pub(crate) fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' | 'å' | 'á' | 'à' => out.push('a'),
            'ö' | 'ø' | 'ó' => out.push('o'),
            'ü' | 'ú' => out.push('u'),
            'é' | 'è' => out.push('e'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            ' ' | '-' if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

const PERSON_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

/// Unique email addresses: a name that is taken gets a number.
#[derive(Default)]
pub(crate) struct Emails {
    taken: HashSet<String>,
}

impl Emails {
    /// `first.last@example.com`, or `first.last42@...` when taken or by chance.
    pub(crate) fn person(&mut self, rng: &mut impl Rng, first: &str, last: &str) -> String {
        let local = format!("{}.{}", ascii_slug(first), ascii_slug(last));
        let domain = pick(rng, PERSON_DOMAINS);
        let numbered = rng.random_bool(0.5);
        for attempt in 0_u32.. {
            let email = match attempt {
                0 if !numbered => format!("{local}@{domain}"),
                0..20 => format!("{local}{}@{domain}", rng.random_range(1..1000)),
                _ => format!("{local}{attempt}@{domain}"),
            };
            if self.taken.insert(email.clone()) {
                return email;
            }
        }
        unreachable!("some attempt gives a new address")
    }

    /// `local@domain`, made unique with a number.
    pub(crate) fn at(&mut self, local: &str, domain: &str) -> String {
        let mut email = format!("{local}@{domain}");
        let mut n = 2;
        while !self.taken.insert(email.clone()) {
            email = format!("{local}{n}@{domain}");
            n += 1;
        }
        email
    }
}

/// A Finnish mobile number, `+358 40 123 4567`.
pub(crate) fn mobile(rng: &mut impl Rng) -> String {
    let prefix = pick(rng, &["40", "41", "44", "45", "46", "50"]);
    format!(
        "+358 {prefix} {:03} {:04}",
        rng.random_range(0..1000),
        rng.random_range(0..10_000)
    )
}

/// A Finnish landline or company number, `+358 9 123 4567` or `+358 10 123 4567`.
pub(crate) fn landline(rng: &mut impl Rng) -> String {
    let prefix = pick(rng, &["9", "10", "20", "3", "2", "14", "17"]);
    format!(
        "+358 {prefix} {:03} {:04}",
        rng.random_range(100..1000),
        rng.random_range(0..10_000)
    )
}

const FI_STEMS: &[&str] = &[
    "Kivi", "Virta", "Metsä", "Lumi", "Tuuli", "Kallio", "Revon", "Aalto", "Kuusi", "Haapa",
    "Saari", "Joki", "Harju", "Pohjan", "Järvi", "Koivu", "Tähti", "Halla", "Routa", "Paju",
    "Selkä", "Ilma", "Tammi", "Kaski", "Sammal", "Vuori", "Rasti", "Kotka", "Otava", "Kide",
];

const FI_ENDS: &[&str] = &[
    "laakso", "mäki", "niemi", "ranta", "tek", "soft", "data", "linja", "tieto", "kone", "rakenne",
    "polku", "palvelu", "verkko", "valo", "kulma", "portti", "paja",
];

const FI_TRADES: &[&str] = &[
    "Rakennus",
    "Kuljetus",
    "Tilitoimisto",
    "Kiinteistöhuolto",
    "Sähkö",
    "LVI",
    "Konepaja",
    "Lakitoimisto",
    "Mainostoimisto",
    "Siivous",
    "Puutarha",
    "Autohuolto",
];

const EN_STEMS: &[&str] = &[
    "Nordic", "Arctic", "Baltic", "Aurora", "Boreal", "Polar", "Northern", "Helix", "Cobalt",
    "Granite", "Birch", "Fjord", "Lumen", "Vector", "Meridian",
];

const EN_ENDS: &[&str] = &[
    "Logic",
    "Labs",
    "Systems",
    "Freight",
    "Analytics",
    "Media",
    "Works",
    "Solutions",
    "Partners",
    "Robotics",
    "Health",
    "Studio",
    "Consulting",
    "Energy",
];

const TOWNS: &[&str] = &[
    "Helsinki",
    "Espoo",
    "Tampere",
    "Vantaa",
    "Oulu",
    "Turku",
    "Jyväskylä",
    "Kuopio",
    "Lahti",
    "Pori",
    "Joensuu",
    "Lappeenranta",
    "Vaasa",
    "Seinäjoki",
    "Rovaniemi",
    "Kotka",
    "Hämeenlinna",
    "Mikkeli",
    "Kokkola",
    "Porvoo",
];

/// A company name that is not in `taken`, with its email domain (`name.example`).
/// The lists give about 1,300 names; when they run short a town is added, and then
/// a number, so any number of accounts gets unique names.
pub(crate) fn company(
    rng: &mut impl Rng,
    english: bool,
    taken: &mut HashSet<String>,
) -> (String, String) {
    for attempt in 0_u32.. {
        let (base, form) = if english {
            let base = format!("{} {}", pick(rng, EN_STEMS), pick(rng, EN_ENDS));
            (base, pick(rng, &["Oy", "Ltd", "Oy", "Ab"]))
        } else if rng.random_bool(0.25) {
            let base = format!("{} {}", pick(rng, FI_TRADES), pick(rng, FI_SURNAMES));
            (base, pick(rng, &["Oy", "Oy", "Ky"]))
        } else {
            let base = format!("{}{}", pick(rng, FI_STEMS), pick(rng, FI_ENDS));
            (base, pick(rng, &["Oy", "Oy", "Oy", "Ab", "Oy Ab"]))
        };
        let base = match attempt {
            0..20 => base,
            20..60 => format!("{base} {}", pick(rng, TOWNS)),
            _ => format!("{base} {attempt}"),
        };
        if taken.insert(base.clone()) {
            let domain = format!("{}.example", ascii_slug(&base));
            return (format!("{base} {form}"), domain);
        }
    }
    unreachable!("some attempt gives a new name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw;

    /// Far more companies than the lists have names: all unique, and it ends.
    #[test]
    fn company_names_never_run_out() {
        let mut rng = draw::stream(1, 99);
        let mut taken = HashSet::new();
        let mut names = HashSet::new();
        for i in 0..5_000 {
            let (name, domain) = company(&mut rng, i % 5 == 0, &mut taken);
            assert!(names.insert(name.clone()), "{name}");
            assert!(
                domain.ends_with(".example") && !domain.contains(' '),
                "{domain}"
            );
        }
    }

    #[test]
    fn person_emails_never_run_out() {
        let mut rng = draw::stream(1, 98);
        let mut emails = Emails::default();
        let mut seen = HashSet::new();
        for _ in 0..5_000 {
            assert!(seen.insert(emails.person(&mut rng, "Aino", "Mäkelä")));
        }
    }

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(ascii_slug("Päivi"), "paivi");
        assert_eq!(ascii_slug("O'Brien"), "obrien");
        assert_eq!(ascii_slug("Tilitoimisto Mäkelä"), "tilitoimisto-makela");
        assert_eq!(ascii_slug("Müller"), "muller");
    }
}
