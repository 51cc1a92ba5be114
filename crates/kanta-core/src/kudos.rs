//! Kudos: answers that name a staff member reach that person (seed 001: the thanks
//! customers give reach the staff they name).
//!
//! - **Matching** ([`NameMatcher`], pure): the free text of an answer (`did_well`,
//!   `do_better`, `comment`: [`FIELDS`]) is split into words (letters, with inner
//!   hyphens: `Anna-Liisa` is one word, `Mika's` and `Mika:lle` are `Mika` and a
//!   suffix) and each word is looked up among the Finnish forms of the active staff's
//!   first names ([`inflections`]): the base form, genitive `-n`, partitive, illative,
//!   essive, translative and the local cases (`Mikalle`, `Mikan`, `Mikaa`, `Mikalta`,
//!   `Mikasta`, `Mikalla`, `Mikassa`, `Mikaan`), with back or front vowels by the
//!   name (`Päiville`, `Päiviltä`), the weak grade of `kk`, `tt`, `pp` before the last
//!   vowel (`Pekka` → `Pekalle`, `Pekan`; `Matti` → `Matin`), `-nen` surnames
//!   (`Virtanen` → `Virtaselle`, `Virtasen`, `Virtasta`), consonant endings (`Tuomas` →
//!   `Tuomakselle`; `John` → `Johnille`) and the clitics `-kin`, `-kaan`/`-kään`,
//!   `-han`/`-hän` (`Mikallekin`). Case does not matter, and a word must be a whole
//!   form: `Mikael` does not name Mika. A full name is a first-name form followed by a
//!   surname form (`Mika Virtaselle`).
//! - **Names that are also common words** (`Anna` "give", `annan` "I give", `Usko`
//!   "faith", `Toivo` "hope", `Will`, `Mark`, ...: [`CAPITALISED_NAMES`],
//!   [`CAPITALISED_FORMS`]): such a form names a person only when written with a
//!   capital (`Annalle` in lowercase still counts; `anna` and `annan` do not). A
//!   capitalised verb at the start of a sentence (`Annan palautetta...`) is taken for
//!   the name: a known limit.
//! - **Ambiguous names**: when two active staff members share a first name, only
//!   their full names count (`Mika Virtanen`, `Mika Korhoselle`), never `Mika` alone;
//!   surnames alone never count.
//! - [`after_write`]: in the transaction of every write of feedback, the written
//!   answers' kudos are replaced by those found now, set-wise (one read of the
//!   answers' text and of the staff, one delete and one insert): a rewritten answer's
//!   kudos follow its text.
//! - [`Core::my_thanks`] (`/thanks`): the signed-in user's thanks (the staff row of
//!   their email), newest first, the customer shown to staff and above;
//!   [`Core::kudos_overview`] (`/kudos`, managers): kudos per person and month (store
//!   time zone); [`Core::kudos_of_staff`]: one person's (managers, or the person).
//! - [`Core::run_kudos_weekly`]: the weekly job `kudos.weekly` (Monday 08:00 store
//!   time): to each active staff member with an email and kudos in the week before,
//!   one mail in their language (their user's, else the store's) listing them, through
//!   the outbox with the unique key `kudos:{week}:{email}`; one audit entry.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_store::kudos::{KudosCount, KudosRow, NewKudos, StaffRow};
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::{Acting, Actor};
use crate::mail::{Lang, render};
use crate::write::WriteTx;
use crate::{Core, CoreError, Result};

/// The job kind of the weekly thanks mail.
pub const WEEKLY_JOB: &str = "kudos.weekly";
/// The answers' fields searched for names.
pub const FIELDS: [&str; 3] = ["did_well", "do_better", "comment"];
/// Kudos a weekly mail lists at most.
pub const MAIL_ITEMS: usize = 10;

/// First names that are common words in every form: written only with a capital do
/// they name someone.
pub const CAPITALISED_NAMES: &[&str] = &[
    // Finnish nouns and adjectives.
    "aamu", "aino", "armas", "aura", "halla", "helmi", "ilo", "into", "kai", "kari", "kukka",
    "lempi", "lumi", "marja", "meri", "oiva", "onni", "rauha", "ruusu", "satu", "sini", "sisko",
    "säde", "taimi", "toivo", "tuuli", "tyyne", "usko", "valo", "veli", "vesa", "vieno", "vilja",
    "voitto", // English words.
    "amber", "april", "art", "bill", "bob", "carol", "chase", "dawn", "dean", "drew", "faith",
    "frank", "gene", "grace", "grant", "guy", "hope", "iris", "ivy", "jack", "joy", "june", "mark",
    "max", "may", "miles", "nick", "pat", "penny", "ray", "rich", "rob", "rose", "ruby", "sandy",
    "sky", "summer", "sunny", "will",
];

/// Single forms of names that are common words (`anna` "give", `annan` "I give",
/// `pian` "soon", `ilona` "as joy"): these forms need a capital, the name's other
/// forms do not.
pub const CAPITALISED_FORMS: &[&str] = &[
    "anna", "annan", "pian", "ilona", "eila", "olli", "mari", "tapio", "tuomas", "aila", "ellen",
    "terttu", "kaino",
];

const CLITICS: [&str; 5] = ["kin", "kaan", "kään", "han", "hän"];

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ä' | 'ö' | 'å')
}

/// `a` for names with back vowels (a, o, u), else `ä`.
fn harmony(w: &str) -> char {
    if w.chars().any(|c| matches!(c, 'a' | 'o' | 'u')) {
        'a'
    } else {
        'ä'
    }
}

/// The weak grade of a vowel stem: `kk`, `tt`, `pp` before the last vowel lose one
/// consonant (`pekka` → `peka`, `matti` → `mati`); `None` when there is none.
fn weak_grade(stem: &str) -> Option<String> {
    let c: Vec<char> = stem.chars().collect();
    let n = c.len();
    if n >= 4 && is_vowel(c[n - 1]) && c[n - 2] == c[n - 3] && matches!(c[n - 2], 'k' | 't' | 'p') {
        let mut out: String = c[..n - 2].iter().collect();
        out.push(c[n - 1]);
        return Some(out);
    }
    None
}

/// The case endings on a vowel stem (weak grade): genitive, the local cases,
/// translative.
fn weak_endings(a: char) -> Vec<String> {
    ["n", "lle", "lta", "lla", "sta", "ssa", "ksi", "lt"]
        .iter()
        .map(|e| e.replace('a', &a.to_string()))
        .collect()
}

/// The Finnish forms (lowercase) of a name, base form first; `Mika` →
/// `mika, mikan, mikalle, mikalta, mikalla, mikasta, mikassa, mikaksi, mikaa,
/// mikana, mikaan`. Names ending `-nen` inflect as surnames do (`virtanen` →
/// `virtasen`, `virtaselle`, `virtasta`).
pub fn inflections(name: &str) -> Vec<String> {
    let w = name.trim().to_lowercase();
    let mut out: Vec<String> = vec![w.clone()];
    let Some(last) = w.chars().last() else {
        return Vec::new();
    };
    let a = harmony(&w);
    let a_s = a.to_string();
    let push_all = |out: &mut Vec<String>, stem: &str| {
        for e in weak_endings(a) {
            out.push(format!("{stem}{e}"));
        }
    };
    if w.chars().count() > 4 && w.ends_with("nen") {
        let base = &w[..w.len() - 3];
        let se = format!("{base}se");
        push_all(&mut out, &se);
        out.push(format!("{base}st{a}"));
        out.push(format!("{se}en"));
        out.push(format!("{se}n{a}"));
        // The family: Virtaset, Virtasille, Virtasten.
        out.push(format!("{base}set"));
        out.push(format!("{base}sten"));
        out.push(format!("{base}sille"));
        out.push(format!("{base}sill{a}"));
    } else if is_vowel(last) {
        let weak = weak_grade(&w);
        push_all(&mut out, weak.as_deref().unwrap_or(&w));
        if weak.is_some() {
            // Written without the weak grade too (Pekkalle): common enough in answers.
            push_all(&mut out, &w);
        }
        let chars: Vec<char> = w.chars().collect();
        let two_vowels = chars.len() >= 2 && is_vowel(chars[chars.len() - 2]);
        // Partitive, essive, illative on the strong stem.
        out.push(format!("{w}{a}"));
        if two_vowels {
            out.push(format!("{w}t{a}"));
            out.push(format!("{w}h{last}n"));
        }
        out.push(format!("{w}n{a}"));
        out.push(format!("{w}{last}n"));
        if last == 'e' {
            // e-stems as in Laine → Laineen, Laineelle.
            push_all(&mut out, &format!("{w}e"));
            out.push(format!("{w}en"));
        }
    } else {
        // A consonant ending: Finnish -s names (Tuomas → Tuomakse-), and any name
        // with a connecting i (John → Johni-, Tuomas → Tuomasi- as spoken).
        if last == 's' {
            let kse = format!("{}kse", &w[..w.len() - 1]);
            push_all(&mut out, &kse);
            out.push(format!("{kse}en"));
            out.push(format!("{w}t{a}"));
        }
        let i = format!("{w}i");
        push_all(&mut out, &i);
        out.push(format!("{i}{a}"));
        out.push(format!("{i}in"));
        out.push(format!("{i}n{a}"));
    }
    let _ = a_s;
    let mut seen = HashSet::new();
    out.retain(|f| seen.insert(f.clone()));
    out
}

/// A staff member as the matcher knows them.
#[derive(Debug, Clone)]
struct Person {
    staff_id: i64,
    /// Whether another active staff member has the same first name.
    ambiguous: bool,
    /// The surname's forms, when the name has more than one word.
    last: HashSet<String>,
}

/// One staff member named in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    pub staff_id: i64,
    /// The words as written (`Mikalle`, `Mika Virtaselle`).
    pub matched: String,
}

/// Finds staff members named in texts (see the module).
#[derive(Debug, Clone, Default)]
pub struct NameMatcher {
    people: Vec<Person>,
    /// A first name's form → (person, whether the form needs a capital).
    forms: HashMap<String, Vec<(usize, bool)>>,
}

/// A staff row's first name and surname: `Mika Virtanen`, or `Virtanen, Mika`.
fn split_name(name: &str) -> Option<(String, Option<String>)> {
    let (first_part, last_part) = match name.split_once(',') {
        Some((last, first)) => (first.trim().to_string(), Some(last.trim().to_string())),
        None => (name.trim().to_string(), None),
    };
    let words: Vec<&str> = first_part.split_whitespace().collect();
    let first = words.first()?.to_lowercase();
    let last = match last_part {
        Some(l) if !l.is_empty() => l.split_whitespace().last().map(str::to_lowercase),
        _ if words.len() > 1 => words.last().map(|s| s.to_lowercase()),
        _ => None,
    };
    Some((first, last))
}

impl NameMatcher {
    /// A matcher over the active staff: (internal id, name).
    pub fn new(staff: &[(i64, String)]) -> NameMatcher {
        let split: Vec<(i64, String, Option<String>)> = staff
            .iter()
            .filter_map(|(id, name)| split_name(name).map(|(f, l)| (*id, f, l)))
            .collect();
        let mut by_first: HashMap<&str, usize> = HashMap::new();
        for (_, f, _) in &split {
            *by_first.entry(f.as_str()).or_default() += 1;
        }
        let mut m = NameMatcher::default();
        for (id, first, last) in &split {
            let idx = m.people.len();
            m.people.push(Person {
                staff_id: *id,
                ambiguous: by_first.get(first.as_str()).copied().unwrap_or(0) > 1,
                last: last
                    .as_deref()
                    .map(|l| inflections(l).into_iter().collect())
                    .unwrap_or_default(),
            });
            let all_capital = CAPITALISED_NAMES.contains(&first.as_str());
            for form in inflections(first) {
                let capital = all_capital || CAPITALISED_FORMS.contains(&form.as_str());
                m.forms.entry(form).or_default().push((idx, capital));
            }
        }
        m
    }

    /// Whether the matcher knows anyone.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The candidates of one word: its forms with and without a clitic.
    fn lookup(&self, lower: &str) -> Option<&Vec<(usize, bool)>> {
        if let Some(c) = self.forms.get(lower) {
            return Some(c);
        }
        CLITICS
            .iter()
            .filter_map(|c| lower.strip_suffix(c))
            .find_map(|stem| self.forms.get(stem))
    }

    fn is_surname_form(set: &HashSet<String>, lower: &str) -> bool {
        set.contains(lower)
            || CLITICS
                .iter()
                .filter_map(|c| lower.strip_suffix(c))
                .any(|s| set.contains(s))
    }

    /// The staff members `texts` name, each once with the first words that named
    /// them, in the order found.
    pub fn find<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<NameMatch> {
        let mut out: Vec<NameMatch> = Vec::new();
        if self.people.is_empty() {
            return out;
        }
        for text in texts {
            let words = words(text);
            let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
            for (i, w) in words.iter().enumerate() {
                let Some(candidates) = self.lookup(&lower[i]) else {
                    continue;
                };
                let capitalised = w.chars().next().is_some_and(char::is_uppercase);
                for &(p, needs_capital) in candidates {
                    if needs_capital && !capitalised {
                        continue;
                    }
                    let person = &self.people[p];
                    if out.iter().any(|m| m.staff_id == person.staff_id) {
                        continue;
                    }
                    let full = i + 1 < words.len()
                        && !person.last.is_empty()
                        && Self::is_surname_form(&person.last, &lower[i + 1]);
                    if full {
                        out.push(NameMatch {
                            staff_id: person.staff_id,
                            matched: format!("{w} {}", words[i + 1]),
                        });
                    } else if !person.ambiguous {
                        out.push(NameMatch {
                            staff_id: person.staff_id,
                            matched: w.to_string(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// The words of a text: runs of letters, a hyphen inside a run kept (`Anna-Liisa`).
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner_hyphen =
            c == '-' && start.is_some() && chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
        if c.is_alphabetic() || inner_hyphen {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// Runs in the transaction of every write of feedback: replaces the written
/// answers' kudos by the staff members their text names now.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let w = tx.writer_mut();
    let staff = w.kudos_staff().await?;
    let matcher = NameMatcher::new(&staff);
    let mut rows = Vec::new();
    if !matcher.is_empty() {
        for a in w.kudos_answers(ids).await? {
            let texts = [&a.did_well, &a.do_better, &a.comment]
                .into_iter()
                .filter_map(|t| t.as_deref());
            for m in matcher.find(texts) {
                rows.push(NewKudos {
                    feedback_id: a.feedback_id,
                    staff_id: m.staff_id,
                    matched: m.matched,
                    answered_ms: a.answered_ms,
                });
            }
        }
    }
    w.replace_kudos(ids, &rows).await?;
    Ok(())
}

/// One kudos as the pages, the API and the mail show it.
#[derive(Debug, Clone, Serialize)]
pub struct KudosItem {
    pub staff_id: String,
    pub staff_name: String,
    /// The answer's id.
    pub feedback_id: String,
    pub answered_at: DateTime<Utc>,
    /// The words that named the staff member.
    pub matched: String,
    /// The customer (staff and above only).
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub nps: Option<i64>,
    pub did_well: Option<String>,
    pub do_better: Option<String>,
    pub comment: Option<String>,
}

impl KudosItem {
    fn of(r: KudosRow, show_customer: bool) -> KudosItem {
        KudosItem {
            staff_id: r.staff_id,
            staff_name: r.staff_name,
            feedback_id: r.feedback_id,
            answered_at: r.answered_at,
            matched: r.matched,
            customer_id: r.customer_id.filter(|_| show_customer),
            customer_name: r.customer_name.filter(|_| show_customer),
            nps: r.nps,
            did_well: r.did_well,
            do_better: r.do_better,
            comment: r.comment,
        }
    }

    /// The answer's text that names the person (else its first text).
    pub fn quote(&self) -> &str {
        let texts = [&self.did_well, &self.comment, &self.do_better];
        let first = self.matched.split_whitespace().next().unwrap_or("");
        texts
            .iter()
            .filter_map(|t| t.as_deref())
            .find(|t| words(t).contains(&first))
            .or_else(|| texts.iter().find_map(|t| t.as_deref()))
            .unwrap_or("")
    }
}

/// A signed-in user's thanks.
#[derive(Debug, Clone, Serialize)]
pub struct Thanks {
    /// The staff row of the user's email; `None`: no staff member has it.
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    /// Newest first.
    pub items: Vec<KudosItem>,
    /// How many they have in all.
    pub total: i64,
}

/// Kudos per person and month.
#[derive(Debug, Clone, Serialize)]
pub struct KudosOverview {
    /// Oldest first, `YYYY-MM` in the store's time zone.
    pub months: Vec<String>,
    pub time_zone: String,
    /// Per staff member: id, name, count per month (in `months`' order), total.
    pub people: Vec<KudosPerson>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KudosPerson {
    pub staff_id: String,
    pub name: String,
    pub months: Vec<i64>,
    pub total: i64,
}

/// What a weekly run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct KudosWeeklyRun {
    /// The week the mails tell of (`2026-W48`).
    pub week: String,
    /// Staff members with an email and kudos that week.
    pub recipients: u64,
    /// Mails queued (a week's mail to a person once).
    pub mails: u64,
}

/// Items listed at most on the thanks page and by the API.
pub const LIST_LIMIT: u32 = 200;

/// The first day of each of the last `months` months up to `today`'s, oldest first,
/// with its first instant in `zone`.
fn month_bounds<Z: TimeZone>(
    zone: &Z,
    today: NaiveDate,
    months: u32,
) -> Vec<(String, DateTime<Utc>)> {
    let mut first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    for _ in 1..months {
        first = first
            .pred_opt()
            .and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1))
            .unwrap_or(first);
    }
    let mut out = Vec::new();
    let mut m = first;
    while m <= today {
        out.push((m.format("%Y-%m").to_string(), local_midnight(zone, m)));
        m = (m + Duration::days(32))
            .with_day(1)
            .unwrap_or(m + Duration::days(31));
    }
    out
}

fn local_midnight<Z: TimeZone>(zone: &Z, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// The week before `now`'s (store time): its key `YYYY-Www` and its bounds
/// `[Monday 00:00, next Monday 00:00)` as UTC.
pub fn previous_week<Z: TimeZone>(
    zone: &Z,
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(zone).date_naive();
    let this_monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let monday = this_monday - Duration::days(7);
    let week = monday.iso_week();
    (
        format!("{}-W{:02}", week.year(), week.week()),
        local_midnight(zone, monday),
        local_midnight(zone, this_monday),
    )
}

/// When this week's thanks mail runs: Monday 08:00 on the store's wall clock, as UTC,
/// with the key of the ISO week it runs in.
pub fn weekly_time<Z: TimeZone>(zone: &Z, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let local = now.with_timezone(zone).date_naive();
    let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let at = monday.and_hms_opt(8, 0, 0).unwrap_or_default();
    let utc = zone
        .from_local_datetime(&at)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&at));
    let week = monday.iso_week();
    (format!("{}-W{:02}", week.year(), week.week()), utc)
}

/// One line of text, at most `max` characters (an ellipsis when cut).
fn excerpt(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let mut t: String = one.chars().take(max).collect();
        t.push('…');
        t
    }
}

impl Core {
    /// The staff row of the acting user's email (`None` for tokens, the command line,
    /// or a user no staff row has).
    pub async fn staff_of_user(&self, acting: &Acting) -> Result<Option<StaffRow>> {
        match &acting.actor {
            Actor::User { email, .. } => Ok(self.store().staff_by_email(email).await?),
            _ => Ok(None),
        }
    }

    /// The signed-in user's thanks: the kudos of the staff row of their email, newest
    /// first (at most [`LIST_LIMIT`]); the customers named for staff and above. Any
    /// role.
    pub async fn my_thanks(&self, acting: &Acting) -> Result<Thanks> {
        require(acting, Role::Viewer)?;
        let Some(staff) = self.staff_of_user(acting).await? else {
            return Ok(Thanks {
                staff_id: None,
                staff_name: None,
                items: Vec::new(),
                total: 0,
            });
        };
        let (rows, total) = self.store().kudos_of(staff.id, LIST_LIMIT).await?;
        let show = acting.role() >= Role::Staff;
        Ok(Thanks {
            staff_id: Some(staff.external_id),
            staff_name: Some(staff.name),
            items: rows.into_iter().map(|r| KudosItem::of(r, show)).collect(),
            total,
        })
    }

    /// One staff member's kudos, newest first (at most `limit`, 1-1000): managers, or
    /// the staff member themself (by their email).
    pub async fn kudos_of_staff(
        &self,
        acting: &Acting,
        staff: &str,
        limit: u32,
    ) -> Result<(Vec<KudosItem>, i64)> {
        require(acting, Role::Viewer)?;
        if !(1..=1000).contains(&limit) {
            return Err(CoreError::invalid("limit", "give 1 to 1000"));
        }
        let row = self.store().staff_row(staff.trim()).await?.ok_or_else(|| {
            CoreError::NotFound(format!("no staff member with id '{}'", staff.trim()))
        })?;
        if acting.role() < Role::Manager {
            let mine = self.staff_of_user(acting).await?;
            if mine.map(|m| m.id) != Some(row.id) {
                return Err(CoreError::Forbidden(format!(
                    "this needs the role '{}' or above, or to be the staff member",
                    Role::Manager
                )));
            }
        }
        let (rows, total) = self.store().kudos_of(row.id, limit).await?;
        let show = acting.role() >= Role::Staff;
        Ok((
            rows.into_iter().map(|r| KudosItem::of(r, show)).collect(),
            total,
        ))
    }

    /// Kudos per staff member and month over the last `months` months (1-36, this one
    /// included, store time zone): managers.
    pub async fn kudos_overview(&self, acting: &Acting, months: u32) -> Result<KudosOverview> {
        require(acting, Role::Manager)?;
        if !(1..=36).contains(&months) {
            return Err(CoreError::invalid("months", "give 1 to 36 months"));
        }
        let zone = self.time_zone().await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let bounds = month_bounds(&zone, today, months);
        let counts: Vec<KudosCount> = self.store().kudos_counts(&bounds).await?;
        let keys: Vec<String> = bounds.iter().map(|(m, _)| m.clone()).collect();
        let mut people: Vec<KudosPerson> = Vec::new();
        for c in counts {
            let i = match people.iter().position(|p| p.staff_id == c.staff_id) {
                Some(i) => i,
                None => {
                    people.push(KudosPerson {
                        staff_id: c.staff_id.clone(),
                        name: c.name.clone(),
                        months: vec![0; keys.len()],
                        total: 0,
                    });
                    people.len() - 1
                }
            };
            if let Some(m) = keys.iter().position(|k| *k == c.month) {
                people[i].months[m] += c.kudos;
                people[i].total += c.kudos;
            }
        }
        people.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
        Ok(KudosOverview {
            months: keys,
            time_zone: zone.name().to_string(),
            people,
        })
    }

    /// The weekly thanks mail (job `kudos.weekly`): for the week before `now`'s (store
    /// time), to each active staff member with an email and kudos in it, one mail
    /// in their language listing up to [`MAIL_ITEMS`] of them; once per person and week
    /// (the outbox's unique key). One write, one audit entry when anything was queued.
    pub async fn run_kudos_weekly(&self, now: DateTime<Utc>) -> Result<KudosWeeklyRun> {
        let acting = Acting::job(WEEKLY_JOB);
        let settings = self.store_settings().await?;
        let zone = self.time_zone().await?;
        let store_lang = Lang::parse(&settings.language).unwrap_or(Lang::Fi);
        let (week, from, to) = previous_week(&zone, now);
        let people = self.store().kudos_between(from, to).await?;
        let site = format!("Kanta ({})", self.store().url());
        let mut run = KudosWeeklyRun {
            week: week.clone(),
            recipients: people.len() as u64,
            mails: 0,
        };
        let mut mails = Vec::new();
        for p in &people {
            let lang = p
                .lang
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or(store_lang);
            let fi = lang == Lang::Fi;
            let mut lines = Vec::new();
            for r in p.items.iter().take(MAIL_ITEMS) {
                let item = KudosItem::of(r.clone(), false);
                let day = item
                    .answered_at
                    .with_timezone(&zone)
                    .format(if fi { "%-d.%-m.%Y" } else { "%Y-%m-%d" })
                    .to_string();
                lines.push(format!("{day}: \"{}\"", excerpt(item.quote(), 300)));
            }
            if p.items.len() > MAIL_ITEMS {
                let more = p.items.len() - MAIL_ITEMS;
                lines.push(if fi {
                    format!("... ja {more} muuta")
                } else {
                    format!("... and {more} more")
                });
            }
            let first = p
                .name
                .split_whitespace()
                .next()
                .unwrap_or(&p.name)
                .to_string();
            let count = p.items.len().to_string();
            let items = lines.join("\n");
            let vars = [
                ("site", site.as_str()),
                ("name", first.as_str()),
                ("week", week.as_str()),
                ("count", count.as_str()),
                ("items", items.as_str()),
                ("path", "/thanks"),
            ];
            let m = render("kudos_weekly", lang, &vars).map_err(|e| CoreError::Other(e.into()))?;
            let key = format!("kudos:{week}:{}", p.email.trim().to_lowercase());
            mails.push((key, m.to(p.email.trim().to_string())));
        }
        let recipients = run.recipients;
        let queued = self
            .queue_mail_batch(&acting, mails, |queued| {
                (queued > 0).then(|| {
                    let mut entry = acting.audit("kudos", None, "weekly_mail");
                    entry.details =
                        json!({ "week": week, "recipients": recipients, "mails": queued });
                    entry
                })
            })
            .await?;
        run.mails = queued;
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(names: &[&str]) -> NameMatcher {
        let v: Vec<(i64, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64 + 1, n.to_string()))
            .collect();
        NameMatcher::new(&v)
    }

    fn found(m: &NameMatcher, text: &str) -> Vec<(i64, String)> {
        m.find([text])
            .into_iter()
            .map(|x| (x.staff_id, x.matched))
            .collect()
    }

    fn ids(m: &NameMatcher, text: &str) -> Vec<i64> {
        m.find([text]).into_iter().map(|x| x.staff_id).collect()
    }

    #[test]
    fn finnish_forms_of_first_names() {
        let f = inflections("Mika");
        for form in [
            "mika", "mikalle", "mikan", "mikaa", "mikalta", "mikasta", "mikalla", "mikassa",
            "mikaan", "mikana", "mikaksi",
        ] {
            assert!(f.contains(&form.to_string()), "{form}: {f:?}");
        }
        let f = inflections("Päivi");
        for form in [
            "päiville",
            "päivin",
            "päiviä",
            "päiviltä",
            "päivillä",
            "päivistä",
        ] {
            assert!(f.contains(&form.to_string()), "{form}: {f:?}");
        }
        let f = inflections("Pekka");
        for form in ["pekalle", "pekan", "pekkaa", "pekalta", "pekkana"] {
            assert!(f.contains(&form.to_string()), "{form}: {f:?}");
        }
        assert!(inflections("Matti").contains(&"matille".to_string()));
        assert!(inflections("Seppo").contains(&"sepon".to_string()));
        assert!(inflections("Jussi").contains(&"jussille".to_string()));
        assert!(inflections("Jussi").contains(&"jussin".to_string()));
        assert!(inflections("Liisa").contains(&"liisalle".to_string()));
        assert!(inflections("Anna").contains(&"annalle".to_string()));
        assert!(inflections("Kalle").contains(&"kallelle".to_string()));
        let f = inflections("Virtanen");
        for form in [
            "virtaselle",
            "virtasen",
            "virtasta",
            "virtaselta",
            "virtasella",
        ] {
            assert!(f.contains(&form.to_string()), "{form}: {f:?}");
        }
        assert!(inflections("Tuomas").contains(&"tuomakselle".to_string()));
        assert!(inflections("John").contains(&"johnille".to_string()));
    }

    #[test]
    fn answers_name_staff_in_any_case_form() {
        let m = staff(&[
            "Mika Virtanen",
            "Anna Korhonen",
            "Jussi Lahti",
            "Päivi Mäkelä",
            "Pekka Nieminen",
            "Liisa Koski",
        ]);
        assert_eq!(
            found(&m, "Kiitos Mikalle hyvästä palvelusta!"),
            [(1, "Mikalle".into())]
        );
        assert_eq!(ids(&m, "Mikan neuvot auttoivat"), [1]);
        assert_eq!(ids(&m, "kysyin mikalta ja hän auttoi"), [1]);
        assert_eq!(
            ids(&m, "Saimme Mikasta hyvän kuvan, Mikalla oli aikaa"),
            [1]
        );
        assert_eq!(ids(&m, "Annalle iso kiitos"), [2]);
        assert_eq!(ids(&m, "Jussille ja Päiville kiitos"), [3, 4]);
        assert_eq!(ids(&m, "Pekalle kiitos, Pekan kahvi on parasta"), [5]);
        assert_eq!(ids(&m, "Liisalle kukkia"), [6]);
        assert_eq!(ids(&m, "Mika's advice was great"), [1]);
        assert_eq!(ids(&m, "Thanks to Mika’s help"), [1]);
        assert_eq!(ids(&m, "Kiitos Mikallekin!"), [1]);
        assert_eq!(ids(&m, "KIITOS MIKALLE"), [1]);
        // Whole words only.
        assert!(ids(&m, "Mikael auttoi meitä").is_empty());
        assert!(ids(&m, "mikado oli hauska").is_empty());
        assert!(ids(&m, "Annastiina oli paikalla").is_empty());
        // The full name: the surname in any form, the matched words as written.
        assert_eq!(
            found(&m, "kiitos Mika Virtaselle"),
            [(1, "Mika Virtaselle".into())]
        );
        // Surnames alone name nobody.
        assert!(ids(&m, "Virtaselle kiitos").is_empty());
    }

    #[test]
    fn names_that_are_common_words_need_a_capital() {
        let m = staff(&["Anna Korhonen", "Toivo Salo", "Will Smith"]);
        assert!(ids(&m, "anna meille lisää kahvia").is_empty());
        assert!(ids(&m, "annan teille täydet pisteet").is_empty());
        assert!(ids(&m, "toivon että jatkatte näin").is_empty());
        assert!(ids(&m, "I will come again").is_empty());
        assert_eq!(ids(&m, "Anna oli ihana"), [1]);
        assert_eq!(
            ids(&m, "kiitos annalle"),
            [1],
            "a form that is no word needs no capital"
        );
        assert_eq!(ids(&m, "Toivolle kiitos"), [2]);
        assert_eq!(ids(&m, "Will was helpful"), [3]);
    }

    #[test]
    fn a_shared_first_name_needs_the_full_name() {
        let m = staff(&["Mika Virtanen", "Mika Korhonen", "Jussi Lahti"]);
        assert!(ids(&m, "Kiitos Mikalle").is_empty());
        assert_eq!(ids(&m, "Kiitos Mika Korhoselle ja Jussille"), [2, 3]);
        assert_eq!(ids(&m, "Mika Virtanen oli loistava"), [1]);
        // "Virtanen, Mika" in the staff list is the same person.
        let m = staff(&["Virtanen, Mika"]);
        assert_eq!(ids(&m, "Mikalle kiitos"), [1]);
    }

    #[test]
    fn words_keep_inner_hyphens() {
        assert_eq!(
            words("Anna-Liisa, Mika's: Mika:lle -x"),
            ["Anna-Liisa", "Mika", "s", "Mika", "lle", "x"]
        );
        let m = staff(&["Anna-Liisa Aho", "Anna Berg"]);
        assert_eq!(ids(&m, "Anna-Liisalle kiitos"), [1]);
        assert_eq!(ids(&m, "Anna-Liisa ja Anna"), [1, 2]);
    }
}
