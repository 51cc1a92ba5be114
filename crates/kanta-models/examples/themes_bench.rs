//! Times `kanta_models::text::find_themes` on the answers of benches/gen_themes.py and
//! measures the purity of the themes against the planted ones.
//!
//!     cargo run --release -p kanta-models --example themes_bench -- DIR

use std::collections::HashMap;
use std::time::Instant;

use kanta_models::text::{Document, Lang, ThemeOptions, find_themes, purity};

/// The fields of one CSV line (double-quoted fields with "" escapes).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn main() {
    let dir = std::env::args().nth(1).expect("DIR of gen_themes.py");
    let feedback = std::fs::read_to_string(format!("{dir}/feedback.csv")).expect("feedback.csv");
    let labels = std::fs::read_to_string(format!("{dir}/labels.csv")).expect("labels.csv");
    let planted: HashMap<(String, String), String> = labels
        .lines()
        .skip(1)
        .map(|l| {
            let f = fields(l);
            ((f[0].clone(), f[1].clone()), f[2].clone())
        })
        .collect();
    let mut texts: Vec<(String, Option<Lang>)> = Vec::new();
    let mut truth: Vec<String> = Vec::new();
    for l in feedback.lines().skip(1) {
        let f = fields(l);
        for (field, text) in [("did_well", &f[4]), ("do_better", &f[5])] {
            if !text.is_empty() {
                texts.push((text.clone(), Lang::from_code(&f[6])));
                truth.push(planted[&(f[0].clone(), field.to_string())].clone());
            }
        }
    }
    let docs: Vec<Document> = texts
        .iter()
        .map(|(t, l)| Document { text: t, lang: *l })
        .collect();
    let t0 = Instant::now();
    let found = find_themes(&docs, &ThemeOptions::default());
    let secs = t0.elapsed().as_secs_f64();
    for t in &found.themes {
        let mut c: HashMap<&str, usize> = HashMap::new();
        for &(i, _) in &t.members {
            *c.entry(truth[i].as_str()).or_default() += 1;
        }
        let major = c.iter().max_by_key(|x| x.1).map(|x| *x.0).unwrap_or("");
        println!(
            "{:>6} {:<28} planted {:<14} {:?}",
            t.members.len(),
            t.label,
            major,
            t.words
        );
    }
    let covered: usize = found.themes.iter().map(|t| t.members.len()).sum();
    println!(
        "texts {} (answers {}), themes {}, vocabulary {}, purity {:.3}, covered {:.3}, seconds {:.2}",
        docs.len(),
        feedback.lines().count() - 1,
        found.themes.len(),
        found.vocabulary,
        purity(&found, &truth),
        covered as f64 / docs.len() as f64,
        secs
    );
}
