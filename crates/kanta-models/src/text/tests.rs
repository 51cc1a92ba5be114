//! Labelled Finnish and English answers: the themes must come back.

use super::*;

/// (label, answers): four Finnish and three English themes, inflected forms mixed.
pub(crate) const LABELLED: &[(&str, &[&str])] = &[
    (
        "hinta",
        &[
            "Hinnat ovat liian korkeat",
            "Kallis paikka",
            "Hintoja voisi laskea",
            "Liian kallista opiskelijalle",
            "Hinta ei vastaa laatua",
            "Hinnat nousseet liikaa",
            "Kalliit leivonnaiset",
            "Hinnan takia en käy useammin",
            "Hinnoissa olisi parannettavaa",
            "Kallis lounas",
            "Hinnat kohdilleen",
            "Halvemmat hinnat kiitos",
            "Kalliit hinnat",
            "Hintataso on korkea",
            "Liian kalliit voileivät",
        ],
    ),
    (
        "jonotus",
        &[
            "Jono oli pitkä",
            "Jouduin jonottamaan kauan",
            "Jonotus kesti liian kauan",
            "Pitkä jono kassalle",
            "Odottaa piti pitkään",
            "Odotus oli pitkä",
            "Jonot liian pitkiä aamulla",
            "Jonottaa sai vartin",
            "Odotin tilausta puoli tuntia",
            "Kassalla jonotettiin pitkään",
            "Lisää kassoja, jonot ovat pitkiä",
            "Odotusaika liian pitkä",
            "Jonossa seisoi paljon ihmisiä",
            "Tilauksen odottaminen kesti",
            "Hidas jono",
        ],
    ),
    (
        "ystävällisyys",
        &[
            "Ystävällinen palvelu",
            "Henkilökunta oli ystävällistä",
            "Ystävällisyys ja hymy",
            "Palvelu oli ystävällistä ja nopeaa",
            "Ystävällinen henkilökunta",
            "Iloinen ja ystävällinen myyjä",
            "Asiakaspalvelu ystävällistä",
            "Ystävällistä palvelua aina",
            "Henkilökunnan ystävällisyys",
            "Ystävällinen ja avulias palvelu",
            "Myyjä palveli ystävällisesti",
            "Lämmin ja ystävällinen palvelu",
            "Ystävällinen vastaanotto",
            "Mukava ja ystävällinen henkilökunta",
            "Palvelu ystävällistä",
        ],
    ),
    (
        "kahvi",
        &[
            "Kahvi oli hyvää",
            "Kahvin laatu erinomainen",
            "Maukas kahvi",
            "Kahvi maistui palaneelta",
            "Laadukas kahvi",
            "Kahvi oli kylmää",
            "Parasta kahvia kaupungissa",
            "Kahvin maku vaihtelee",
            "Tuore kahvi",
            "Kahvia voisi olla vahvempaa",
            "Kahvin laatu heikentynyt",
            "Erinomainen kahvi",
            "Kahvi laimeaa",
            "Kahvi aina tuoretta",
            "Hyvä kahvi",
        ],
    ),
    (
        "price",
        &[
            "Prices are too high",
            "Too expensive",
            "Expensive sandwiches",
            "The price has gone up",
            "Lower the prices please",
            "Expensive for what you get",
            "Prices keep rising",
            "Lunch is expensive",
            "Price of lunch too high",
            "Cheaper prices would help",
            "Expensive but nice",
            "The prices are steep",
            "High prices",
            "The price increase was too much",
            "Expensive pastries",
        ],
    ),
    (
        "waiting",
        &[
            "The queue was very long",
            "Waited too long for my order",
            "Long waiting time",
            "The wait was long",
            "Queue at the till",
            "Waiting time was twenty minutes",
            "Slow, long queue",
            "Had to wait ages",
            "Long queues in the morning",
            "Waiting for my order took forever",
            "Too much waiting",
            "Queueing took ages",
            "Waited for a table",
            "Long wait",
            "The queue moved slowly",
        ],
    ),
    (
        "friendly",
        &[
            "Friendly staff",
            "The staff were very friendly",
            "Friendly and helpful staff",
            "Staff always smile",
            "Lovely friendly staff",
            "Friendliness of the staff",
            "Helpful staff",
            "Kind and friendly",
            "The barista was friendly",
            "Staff are welcoming",
            "Very friendly staff",
            "Friendly people",
            "Staff friendly and quick",
            "Great staff",
            "Friendly team",
        ],
    ),
];

fn labelled() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut texts = Vec::new();
    let mut truth = Vec::new();
    for (label, answers) in LABELLED {
        for a in *answers {
            texts.push(*a);
            truth.push(*label);
        }
    }
    (texts, truth)
}

fn run(texts: &[&str]) -> Themes {
    let docs: Vec<Document> = texts
        .iter()
        .map(|t| Document {
            text: t,
            lang: None,
        })
        .collect();
    find_themes(&docs, &ThemeOptions::default())
}

#[test]
fn labelled_themes_are_recovered() {
    let (texts, truth) = labelled();
    let found = run(&texts);
    for t in &found.themes {
        eprintln!(
            "{:>3} {:<24} {:?} e.g. {:?}",
            t.members.len(),
            t.label,
            t.words,
            t.examples.iter().map(|&i| texts[i]).collect::<Vec<_>>()
        );
    }
    let p = purity(&found, &truth);
    let covered: usize = found.themes.iter().map(|t| t.members.len()).sum();
    eprintln!(
        "k {} silhouette {:.3} purity {p:.3} covered {covered}/{}",
        found.k,
        found.silhouette,
        texts.len()
    );
    assert!(p >= 0.8, "purity {p}");
    assert!(covered * 10 >= texts.len() * 8, "covered {covered}");
    // Each label is the majority of some theme, with a readable label.
    let readable: &[(&str, &[&str])] = &[
        (
            "hinta",
            &["hinnat", "hinta", "kallis", "kalliit", "hintoja"],
        ),
        (
            "jonotus",
            &["jono", "jonot", "jonotus", "odotus", "pitkä jono"],
        ),
        (
            "ystävällisyys",
            &["ystävällinen", "ystävällistä", "palvelu"],
        ),
        ("kahvi", &["kahvi", "kahvin laatu"]),
        ("price", &["prices", "price", "expensive"]),
        (
            "waiting",
            &["queue", "waiting", "wait", "waiting time", "long wait"],
        ),
        ("friendly", &["friendly", "staff", "friendly staff"]),
    ];
    for (label, ok) in readable {
        let theme = found.themes.iter().find(|t| {
            let mut c: HashMap<&str, usize> = HashMap::new();
            for &(i, _) in &t.members {
                *c.entry(truth[i]).or_default() += 1;
            }
            c.into_iter().max_by_key(|x| x.1).map(|x| x.0) == Some(label)
        });
        let theme = theme.unwrap_or_else(|| panic!("no theme for {label}"));
        assert!(
            ok.contains(&theme.label.as_str()),
            "{label}: label {:?}",
            theme.label
        );
    }
}

#[test]
fn same_answers_same_themes() {
    let (texts, _) = labelled();
    assert_eq!(run(&texts), run(&texts));
}

#[test]
fn stop_words_and_numbers_alone_make_no_theme() {
    let found = run(&["ja se oli", "the and of", "123 456", "", "ok"]);
    assert!(found.themes.is_empty());
    assert_eq!(found.clustered, 0);
}

use std::collections::HashMap;

#[test]
fn two_more_answers_keep_the_themes() {
    let (base, _) = labelled();
    let owned: Vec<String> = (0..4)
        .flat_map(|n| base.iter().map(move |t| format!("{t} {n}")))
        .collect();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    let first = run(&texts);
    // Several pairs of added answers: on topic, off topic, and in between.
    let additions: &[[&str; 2]] = &[
        [
            "Jonotin yli kymmenen minuuttia",
            "Great coffee, friendly staff",
        ],
        ["Hinnat ovat kohtuulliset", "The queue was short today"],
        ["Ihan ok", "Nice place"],
        ["Kahvi loppui kesken", "Too expensive for students"],
    ];
    for added in additions {
        let mut more = texts.clone();
        more.extend_from_slice(added);
        let second = run(&more);
        for t in first.themes.iter().filter(|t| t.members.len() >= 10) {
            let same = second
                .themes
                .iter()
                .max_by_key(|u| u.stems.iter().filter(|s| t.stems.contains(s)).count())
                .filter(|u| u.stems.iter().any(|s| t.stems.contains(s)))
                .unwrap_or_else(|| panic!("{added:?}: theme {} vanished", t.label));
            let (a, b) = (t.members.len() as f64, same.members.len() as f64);
            assert!(
                (b - a).abs() <= a * 0.15,
                "{added:?}: {}: {a} answers, then {} with {b}",
                t.label,
                same.label
            );
        }
    }
}
