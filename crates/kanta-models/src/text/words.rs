//! Words of an answer: tokens, the language guess, stop words and Snowball stems.

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashSet as HashSet;
use unicode_segmentation::UnicodeSegmentation;

/// The languages the analyzer stems (Snowball Finnish and English).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    /// Finnish.
    Fi,
    /// English.
    En,
}

impl Lang {
    /// `fi` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fi => "fi",
            Lang::En => "en",
        }
    }

    /// The language of a code (`fi`, `fi-FI`, `en_GB`, ...), if one of ours.
    pub fn from_code(code: &str) -> Option<Lang> {
        let c = code.trim().to_ascii_lowercase();
        if c.starts_with("fi") {
            Some(Lang::Fi)
        } else if c.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// Feedback fillers beyond the NLTK lists: praise and intensifiers that say how, not
/// what (they would otherwise make a "good" theme out of every theme's answers).
const FILLERS_FI: &[&str] = &[
    "kiitos",
    "kiitoksia",
    "kiitokset",
    "hyvä",
    "hyvää",
    "hyvin",
    "hyviä",
    "hyvät",
    "erittäin",
    "tosi",
    "todella",
    "aina",
    "kaikki",
    "kaikkea",
    "ok",
    "oikein",
    "vähän",
    "liian",
    "aivan",
    "ihan",
    "niin",
    "jo",
    "myös",
    "vain",
    "vielä",
    "sekä",
    "paljon",
    "mitään",
    "kaikin",
    "kyllä",
    "hieman",
    "melko",
    "aika",
    "mukava",
    "mukavaa",
    "kiva",
    "kivaa",
    "loistava",
    "loistavaa",
    "parempi",
    "parempaa",
    "paremmin",
    "enemmän",
    "voisi",
    "voisitte",
    "pitäisi",
    "olisi",
    "olla",
    "ollut",
    "ole",
    "en",
    "ei",
    "eikä",
    "on",
    "oli",
    "ovat",
    "olivat",
    "jotain",
    "joskus",
    "usein",
    "nyt",
    "sitten",
    "tänään",
    "tällä",
    "kertaa",
    "kerran",
    "kerta",
];
const FILLERS_EN: &[&str] = &[
    "thanks",
    "thank",
    "really",
    "great",
    "good",
    "nice",
    "always",
    "very",
    "also",
    "would",
    "could",
    "should",
    "bit",
    "lot",
    "much",
    "everything",
    "nothing",
    "ok",
    "okay",
    "please",
    "well",
    "better",
    "best",
    "excellent",
    "awesome",
    "love",
    "loved",
    "like",
    "liked",
    "get",
    "got",
    "one",
    "time",
    "today",
    "little",
    "quite",
    "still",
    "even",
    "maybe",
    "make",
    "made",
    "keep",
    "thing",
    "things",
    "overall",
    "visit",
    "sometimes",
    "often",
    "way",
];

/// Splits text into lowercase words (Unicode word boundaries); numbers and words with
/// digits are dropped, and so are one-letter words.
pub fn tokenize(text: &str) -> Vec<String> {
    text.unicode_words()
        .filter(|w| !w.chars().any(|c| c.is_numeric()))
        .map(|w| w.to_lowercase())
        .map(|w| w.trim_matches(|c: char| c == '\'' || c == '’').to_string())
        .filter(|w| w.chars().count() > 1)
        .collect()
}

/// One content word of an answer: its stem and the form it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The Snowball stem in the answer's language.
    pub stem: String,
    /// The word as written (lowercase).
    pub surface: String,
}

/// Tokenizes, guesses the language, drops stop words and stems. Build once, share
/// between threads.
pub struct Analyzer {
    fi: Stemmer,
    en: Stemmer,
    stop_fi: HashSet<&'static str>,
    stop_en: HashSet<&'static str>,
    /// The NLTK lists alone (the language guess counts these).
    nltk_fi: HashSet<&'static str>,
    nltk_en: HashSet<&'static str>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer").finish_non_exhaustive()
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new()
    }
}

impl Analyzer {
    /// The analyzer with the NLTK stop-word lists of both languages and the fillers.
    pub fn new() -> Analyzer {
        let nltk_fi: HashSet<&'static str> = stop_words::lookup("fi")
            .unwrap_or_default()
            .iter()
            .copied()
            .collect();
        let nltk_en: HashSet<&'static str> = stop_words::lookup("en")
            .unwrap_or_default()
            .iter()
            .copied()
            .collect();
        let mut stop_fi = nltk_fi.clone();
        stop_fi.extend(FILLERS_FI.iter().copied());
        let mut stop_en = nltk_en.clone();
        stop_en.extend(FILLERS_EN.iter().copied());
        Analyzer {
            fi: Stemmer::create(Algorithm::Finnish),
            en: Stemmer::create(Algorithm::English),
            stop_fi,
            stop_en,
            nltk_fi,
            nltk_en,
        }
    }

    /// The language of tokenized text: stop-word hits of each language, Finnish
    /// letters (ä, ö, å) and double vowels for Finnish, letters Finnish words seldom
    /// have (c, q, w, x, z) and English endings for English; a tie goes to `hint`,
    /// else to Finnish.
    pub fn guess(&self, tokens: &[String], hint: Option<Lang>) -> Lang {
        let mut fi = 0.0f64;
        let mut en = 0.0f64;
        for t in tokens {
            let w = t.as_str();
            if self.nltk_fi.contains(w) {
                fi += 1.0;
            }
            if self.nltk_en.contains(w) {
                en += 1.0;
            }
            if w.contains(['ä', 'ö', 'å']) {
                fi += 1.5;
            }
            if ["aa", "ee", "ii", "oo", "uu", "yy", "ää", "öö"]
                .iter()
                .any(|d| w.contains(d))
                && !w.contains("oo")
            {
                fi += 0.5;
            }
            if w.ends_with("ssa") || w.ends_with("sta") || w.ends_with("lla") || w.ends_with("lle")
            {
                fi += 0.5;
            }
            if w.contains(['c', 'q', 'w', 'x', 'z']) {
                en += 0.5;
            }
            if w.ends_with("ing") || w.ends_with("ed") || w.ends_with("ly") || w.ends_with("th") {
                en += 0.5;
            }
            if w.len() > 1 && w.ends_with('y') && !w.contains(['ä', 'ö']) {
                en += 0.3;
            }
        }
        if fi > en {
            Lang::Fi
        } else if en > fi {
            Lang::En
        } else {
            hint.unwrap_or(Lang::Fi)
        }
    }

    /// The stem of one lowercase word in `lang`.
    pub fn stem(&self, word: &str, lang: Lang) -> String {
        match lang {
            Lang::Fi => self.fi.stem(word).into_owned(),
            Lang::En => self.en.stem(word).into_owned(),
        }
    }

    /// Whether `word` (lowercase) is a stop word or filler in `lang`.
    pub fn is_stop(&self, word: &str, lang: Lang) -> bool {
        match lang {
            Lang::Fi => self.stop_fi.contains(word),
            Lang::En => self.stop_en.contains(word),
        }
    }

    /// The content words of `text` with the language guessed (`hint`, e.g. the
    /// answer's recorded language, breaks ties), in order.
    pub fn terms(&self, text: &str, hint: Option<Lang>) -> (Lang, Vec<Term>) {
        let tokens = tokenize(text);
        let lang = self.guess(&tokens, hint);
        let terms = tokens
            .into_iter()
            .filter(|w| !self.stop_fi.contains(w.as_str()) && !self.stop_en.contains(w.as_str()))
            .filter_map(|w| {
                let stem = self.stem(&w, lang);
                (stem.chars().count() > 1).then_some(Term { stem, surface: w })
            })
            .collect();
        (lang, terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_words_without_numbers() {
        assert_eq!(
            tokenize("Hinta 12,50 €, liian KALLIS! 3kpl"),
            vec!["hinta", "liian", "kallis"]
        );
    }

    #[test]
    fn guesses_finnish_and_english() {
        let a = Analyzer::new();
        for (t, l) in [
            ("Jonotus kesti liian kauan", Lang::Fi),
            ("Ystävällinen palvelu", Lang::Fi),
            ("Hinnat ovat nousseet", Lang::Fi),
            ("The waiting time was too long", Lang::En),
            ("Friendly staff", Lang::En),
            ("Prices are too high", Lang::En),
        ] {
            assert_eq!(a.guess(&tokenize(t), None), l, "{t}");
        }
    }

    #[test]
    fn inflected_finnish_shares_stems() {
        let a = Analyzer::new();
        let s = |w: &str| a.stem(w, Lang::Fi);
        assert_eq!(s("hinta"), s("hinnat"));
        assert_eq!(s("hinta"), s("hinnan"));
        assert_eq!(s("kalliit"), s("kallista"));
        assert_eq!(s("jono"), s("jonossa"));
        assert_eq!(s("palvelu"), s("palvelua"));
        let e = |w: &str| a.stem(w, Lang::En);
        assert_eq!(e("waiting"), e("wait"));
        assert_eq!(e("prices"), e("price"));
    }
}
