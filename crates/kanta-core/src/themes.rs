//! Themes in the free-text answers, managers' edits to them, and "you said, we did"
//! (issue 13).
//!
//! # A run (`feedback.themes`, daily, and `kanta themes run`, "Run now")
//!
//! Every non-blank `did_well`, `do_better` and `comment` of every answer is one text;
//! [`kanta_models::text::find_themes`] clusters them (stems, TF-IDF, spherical
//! k-means, merged by likeness; c-TF-IDF key words; readable labels). Each cluster is
//! matched to a stored theme by the overlap of their key stems (the stored key is the
//! sorted top stems of the run that made it; the pair sharing most stems first, at
//! least two, or one when either has no more than two): a matched theme keeps its id
//! and key, so edits stay with it; an unmatched cluster becomes a new theme; a stored
//! theme no cluster matches keeps the answers in no theme ("other") that still write
//! its key words when there are at least [`KEEP_MIN`], else it is made inactive (and
//! can be matched again by a later run). Answers in no theme are stored in none: the
//! "other / muut" bucket is not a theme and is never ranked.
//! Managers' edits survive the run:
//! - rename: `manual_label` keeps the manager's label;
//! - merge B into A: `B.merged_into = A`; the answers of B's cluster go to A;
//! - split word W off theme T: a theme with `split_from = T`, `split_words = W` takes
//!   T's answers that contain W (stem or written form).
//!
//! Members, themes, the run's row and one audit entry are written in one transaction.
//!
//! # "You said, we did"
//!
//! A manager records a change (title, description, date) linked to a theme; the page
//! shows the theme's answers per month before and after. With `notify`, each customer
//! who raised the theme (an answer in it) and has survey consent and an email gets one
//! mail (key `change:{id}:{customer}`, their language), queued in the same transaction,
//! with the one-click unsubscribe from surveys of the invitations (in the text and the
//! HTML, and as `List-Unsubscribe` carried in the mail job:
//! [`Core::signed_unsubscribe_url`] over a link of the newest survey for the customer
//! that expired as it was made, so it only unsubscribes; a store without surveys
//! sends the mail without one). Customers without survey consent get none.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use kanta_domain::schema::FEEDBACK;
use kanta_models::text::{Analyzer, Document, Lang, ThemeOptions, Themes, find_themes, tokenize};
use kanta_store::survey_send::SurveyMail;
use kanta_store::themes::{NewMember, ThemeRow, ThemeWrite};
use kanta_store::write::RunInfo;
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::surveys::LinkClaims;
use crate::{Core, CoreError, Result};

/// The daily job's kind.
pub const JOB: &str = "feedback.themes";

/// A stored theme no cluster matches stays active while at least this many answers
/// in no theme still write its key words.
pub const KEEP_MIN: usize = 10;

/// One theme as pages, the API and reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeView {
    pub id: i64,
    /// The stable key (the sorted top stems) a rerun matches themes by.
    pub key: String,
    /// The manager's label, else the words' most frequent surface forms.
    pub label: String,
    /// Key words (surface forms), most distinctive first.
    pub words: Vec<String>,
    /// Answers in the theme (merged themes' answers included).
    pub count: u64,
    /// The most central answers: (feedback id, text).
    pub examples: Vec<(i64, String)>,
    /// Every answer's external id (the id it was imported with, or the one the API
    /// or a survey gave it), in the order the answers were stored.
    pub answer_ids: Vec<String>,
    /// Answers per month (`YYYY-MM`, store time zone), oldest first.
    pub trend: Vec<(String, u64)>,
    /// A manager renamed it.
    pub manual: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeRun {
    pub run_id: i64,
    /// Texts read (an answer has up to three).
    pub texts: usize,
    /// Themes active after the run.
    pub themes: usize,
    /// Clusters matched to stored themes, and new themes.
    pub matched: usize,
    pub created: usize,
    /// Texts in a theme.
    pub members: usize,
    pub millis: u64,
}

/// A change recorded because of a theme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeView {
    pub id: i64,
    pub theme_id: Option<i64>,
    pub title: String,
    pub description: Option<String>,
    pub changed_on: String,
    pub notify: bool,
    pub notified: bool,
    /// Answers of the theme per month before and after `changed_on` (store zone).
    pub before: Vec<(String, u64)>,
    pub after: Vec<(String, u64)>,
}

/// What a manager records.
#[derive(Debug, Clone, Default)]
pub struct NewChange {
    pub theme_id: i64,
    pub title: String,
    pub description: Option<String>,
    /// `YYYY-MM-DD` or Finnish `31.12.2026`.
    pub changed_on: String,
    /// Tell the customers who raised the theme by mail.
    pub notify: bool,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn words_of(row: &ThemeRow) -> Vec<String> {
    row.words
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn write_of(r: &ThemeRow) -> ThemeWrite {
    ThemeWrite {
        theme_key: r.theme_key.clone(),
        label: r.label.clone(),
        manual_label: r.manual_label,
        words: r.words.clone(),
        merged_into: r.merged_into,
        split_words: r.split_words.clone(),
        split_from: r.split_from,
        answers: r.answers,
        active: r.active,
    }
}

/// The stems a split word matches: its Finnish and English stems.
fn split_stems(a: &Analyzer, word: &str) -> HashSet<String> {
    let w = word.trim().to_lowercase();
    [a.stem(&w, Lang::Fi), a.stem(&w, Lang::En), w]
        .into_iter()
        .collect()
}

/// Whether a text (its stems and written words) contains the split word.
fn has_word(stems: &[String], text: &str, wanted: &HashSet<String>) -> bool {
    stems.iter().any(|s| wanted.contains(s)) || tokenize(text).iter().any(|w| wanted.contains(w))
}

/// Where an answer in theme `t` ends up: split children that take it, then merges.
fn resolve(
    mut t: i64,
    stems: &[String],
    text: &str,
    rows: &HashMap<i64, ThemeRow>,
    splits: &HashMap<i64, Vec<(i64, HashSet<String>)>>,
) -> i64 {
    let mut seen = HashSet::new();
    while seen.insert(t) {
        if let Some(child) = splits
            .get(&t)
            .and_then(|cs| cs.iter().find(|(_, w)| has_word(stems, text, w)))
        {
            t = child.0;
            continue;
        }
        match rows.get(&t).and_then(|r| r.merged_into) {
            Some(m) if rows.contains_key(&m) => t = m,
            _ => break,
        }
    }
    t
}

/// Pairs clusters with stored themes by shared key stems (see the module docs).
fn match_themes(found: &Themes, old: &[&ThemeRow]) -> HashMap<usize, i64> {
    let mut pairs: Vec<(usize, usize, usize, i64)> = Vec::new();
    for (i, t) in found.themes.iter().enumerate() {
        let new: HashSet<&str> = t.stems.iter().map(String::as_str).collect();
        for r in old {
            let stored: HashSet<&str> = r.theme_key.split(' ').collect();
            let shared = new.intersection(&stored).count();
            let need = if new.len().min(stored.len()) <= 2 {
                1
            } else {
                2
            };
            if shared >= need {
                pairs.push((shared, t.members.len(), i, r.id));
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let mut out = HashMap::new();
    let mut used = HashSet::new();
    for (_, _, i, id) in pairs {
        if !out.contains_key(&i) && used.insert(id) {
            out.insert(i, id);
        }
    }
    out
}

/// A label or word a manager types: trimmed, 1-80 characters.
fn checked_label(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(CoreError::invalid(field, "is empty"));
    }
    if s.chars().count() > 80 {
        return Err(CoreError::invalid(field, "is longer than 80 characters"));
    }
    Ok(s.to_string())
}

impl Core {
    /// Finds the themes of every free-text answer now and stores them (see the
    /// module documentation). Managers, the command line and the job.
    pub async fn run_themes(&self, acting: &Acting) -> Result<ThemeRun> {
        require(acting, Role::Manager)?;
        let started = std::time::Instant::now();
        let store = self.store();
        let texts = store.theme_answer_texts().await?;
        let old_rows = store.feedback_theme_rows().await?;
        let texts = std::sync::Arc::new(texts);
        let t2 = texts.clone();
        let found = tokio::task::spawn_blocking(move || {
            let docs: Vec<Document> = t2
                .iter()
                .map(|t| Document {
                    text: &t.text,
                    lang: t.language.as_deref().and_then(Lang::from_code),
                })
                .collect();
            find_themes(&docs, &ThemeOptions::default())
        })
        .await
        .map_err(|e| CoreError::Other(anyhow::anyhow!("the theme run stopped: {e}")))?;

        let auto: Vec<&ThemeRow> = old_rows.iter().filter(|r| r.split_from.is_none()).collect();
        let matched = match_themes(&found, &auto);
        let now = now_ms();
        let mut rows: HashMap<i64, ThemeRow> = old_rows.iter().map(|r| (r.id, r.clone())).collect();
        let mut keys: HashSet<String> = old_rows.iter().map(|r| r.theme_key.clone()).collect();

        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &FEEDBACK)
            .await?;
        // Every stored automatic theme is inactive unless a cluster matches it.
        let mut cluster_theme: Vec<i64> = Vec::with_capacity(found.themes.len());
        let mut created = 0usize;
        let mut active: HashSet<i64> = HashSet::new();
        for (i, t) in found.themes.iter().enumerate() {
            let words = t.words.join(", ");
            let id = match matched.get(&i) {
                Some(&id) => {
                    let r = rows.get_mut(&id).expect("matched theme");
                    if !r.manual_label {
                        r.label = t.label.clone();
                    }
                    r.words = words;
                    r.active = true;
                    id
                }
                None => {
                    let mut key = t.key.clone();
                    let mut n = 2;
                    while keys.contains(&key) {
                        key = format!("{} #{n}", t.key);
                        n += 1;
                    }
                    keys.insert(key.clone());
                    let w = ThemeWrite {
                        theme_key: key,
                        label: t.label.clone(),
                        manual_label: false,
                        words,
                        merged_into: None,
                        split_words: None,
                        split_from: None,
                        answers: 0,
                        active: true,
                    };
                    let id = tx.writer_mut().insert_theme(&w, now).await?;
                    created += 1;
                    rows.insert(
                        id,
                        ThemeRow {
                            id,
                            theme_key: w.theme_key,
                            label: w.label,
                            manual_label: false,
                            words: w.words,
                            merged_into: None,
                            split_words: None,
                            split_from: None,
                            answers: 0,
                            active: true,
                            created_ms: now,
                            updated_ms: now,
                        },
                    );
                    id
                }
            };
            active.insert(id);
            cluster_theme.push(id);
        }
        // A stored theme no cluster matched stays while its key words still occur in
        // at least KEEP_MIN answers that are in no theme: they become its members.
        let mut free: Vec<usize> = found.other.clone();
        let mut kept: Vec<(i64, usize)> = Vec::new();
        let mut unmatched: Vec<&ThemeRow> = auto
            .iter()
            .filter(|r| r.merged_into.is_none() && !active.contains(&r.id))
            .copied()
            .collect();
        unmatched.sort_by_key(|r| r.id);
        for r in unmatched {
            let key: HashSet<&str> = r
                .theme_key
                .split(' ')
                .filter(|w| !w.starts_with('#'))
                .collect();
            let need = if key.len() <= 2 { 1 } else { 2 };
            let (take, rest): (Vec<usize>, Vec<usize>) = free.iter().partition(|&&i| {
                found.stems[i]
                    .iter()
                    .map(String::as_str)
                    .filter(|s| key.contains(s))
                    .collect::<HashSet<_>>()
                    .len()
                    >= need
            });
            if take.len() >= KEEP_MIN {
                active.insert(r.id);
                kept.extend(take.iter().map(|&i| (r.id, i)));
                free = rest;
            }
        }
        // Splits stay active while their parent is; merged themes stay as they are.
        for r in rows.values_mut() {
            if r.split_from.is_none() {
                r.active = active.contains(&r.id);
            }
        }
        let parent_active: HashMap<i64, bool> =
            rows.iter().map(|(&id, r)| (id, r.active)).collect();
        for r in rows.values_mut() {
            if let Some(p) = r.split_from {
                r.active = parent_active.get(&p).copied().unwrap_or(false);
            }
        }
        let analyzer = Analyzer::new();
        let mut splits: HashMap<i64, Vec<(i64, HashSet<String>)>> = HashMap::new();
        for r in rows.values() {
            if let (Some(p), Some(w)) = (r.split_from, &r.split_words) {
                splits
                    .entry(p)
                    .or_default()
                    .push((r.id, split_stems(&analyzer, w)));
            }
        }
        for v in splits.values_mut() {
            v.sort_by_key(|x| x.0);
        }
        let mut members: Vec<NewMember> = Vec::new();
        for (ci, t) in found.themes.iter().enumerate() {
            for &(i, w) in &t.members {
                let doc = &texts[i];
                let theme = resolve(
                    cluster_theme[ci],
                    &found.stems[i],
                    &doc.text,
                    &rows,
                    &splits,
                );
                members.push((doc.feedback_id, doc.field, theme, w));
            }
        }
        for &(id, i) in &kept {
            let doc = &texts[i];
            let theme = resolve(id, &found.stems[i], &doc.text, &rows, &splits);
            members.push((doc.feedback_id, doc.field, theme, 0.0));
        }
        let w = tx.writer_mut();
        let mut ids: Vec<i64> = rows.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            let r = &rows[id];
            w.update_theme(*id, &write_of(r), now).await?;
        }
        w.replace_theme_members(&members).await?;
        w.recount_themes(now).await?;
        let millis = started.elapsed().as_millis() as u64;
        let n_active = rows
            .values()
            .filter(|r| r.active && r.merged_into.is_none())
            .count();
        let details = json!({
            "k": found.k,
            "vocabulary": found.vocabulary,
            "clustered": found.clustered,
            "silhouette": found.silhouette,
            "matched": matched.len(),
            "created": created,
        });
        let run_id = w
            .insert_theme_run(
                now,
                texts.len() as i64,
                n_active as i64,
                millis as i64,
                &details,
            )
            .await?;
        let mut entry = acting.audit("feedback_themes", Some(&run_id.to_string()), "themes_run");
        entry.details = json!({
            "texts": texts.len(),
            "themes": n_active,
            "members": members.len(),
            "matched": matched.len(),
            "created": created,
            "millis": millis,
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        tracing::info!(
            "themes: {} texts, {} themes ({} new), {millis} ms",
            texts.len(),
            n_active,
            created
        );
        Ok(ThemeRun {
            run_id,
            texts: texts.len(),
            themes: n_active,
            matched: matched.len(),
            created,
            members: members.len(),
            millis,
        })
    }

    /// The current themes (active, not merged into another), largest first. Any role.
    pub async fn feedback_themes(&self, acting: &Acting) -> Result<Vec<ThemeView>> {
        require(acting, Role::Viewer)?;
        let rows = self.store().feedback_theme_rows().await?;
        let members = self.store().theme_members(None).await?;
        let zone = self.time_zone().await?;
        let mut by_theme: HashMap<i64, Vec<&kanta_store::themes::MemberRow>> = HashMap::new();
        for m in &members {
            by_theme.entry(m.theme_id).or_default().push(m);
        }
        let mut out: Vec<ThemeView> = rows
            .iter()
            .filter(|t| t.active && t.merged_into.is_none())
            .map(|t| {
                let ms = by_theme.get(&t.id).map_or(&[][..], Vec::as_slice);
                let mut ids: Vec<(i64, &str)> = ms
                    .iter()
                    .map(|m| (m.feedback_id, m.external_id.as_str()))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let mut examples = Vec::new();
                let mut seen = HashSet::new();
                for m in ms {
                    if examples.len() >= 3 {
                        break;
                    }
                    if seen.insert(m.text.trim().to_lowercase()) {
                        examples.push((m.feedback_id, m.text.clone()));
                    }
                }
                let mut months: BTreeMap<String, HashSet<i64>> = BTreeMap::new();
                for m in ms {
                    let month = m
                        .answered_at
                        .with_timezone(&zone)
                        .format("%Y-%m")
                        .to_string();
                    months.entry(month).or_default().insert(m.feedback_id);
                }
                ThemeView {
                    id: t.id,
                    key: t.theme_key.clone(),
                    label: t.label.clone(),
                    words: words_of(t),
                    count: ids.len() as u64,
                    examples,
                    answer_ids: ids.into_iter().map(|(_, e)| e.to_string()).collect(),
                    trend: months
                        .into_iter()
                        .map(|(k, v)| (k, v.len() as u64))
                        .collect(),
                    manual: t.manual_label,
                }
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One stored theme by id (any state). Any role.
    pub async fn theme_row(&self, acting: &Acting, id: i64) -> Result<ThemeRow> {
        require(acting, Role::Viewer)?;
        self.store()
            .feedback_theme_rows()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no theme {id}")))
    }

    /// Renames a theme; later runs keep the label. Managers.
    pub async fn rename_theme(&self, acting: &Acting, id: i64, label: &str) -> Result<()> {
        require(acting, Role::Manager)?;
        let label = checked_label("label", label)?;
        let r = self.theme_row(acting, id).await?;
        let mut w = write_of(&r);
        w.label = label.clone();
        w.manual_label = true;
        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &FEEDBACK)
            .await?;
        tx.writer_mut().update_theme(id, &w, now_ms()).await?;
        let mut entry = acting.audit("feedback_themes", Some(&id.to_string()), "theme_rename");
        entry.changes = json!({"label": {"before": r.label, "after": label}});
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(())
    }

    /// Merges theme `from` into theme `into`: its answers go to `into`, now and in
    /// later runs. Managers.
    pub async fn merge_themes(&self, acting: &Acting, into: i64, from: i64) -> Result<()> {
        require(acting, Role::Manager)?;
        if into == from {
            return Err(CoreError::invalid("into", "is the theme being merged"));
        }
        let rows = self.store().feedback_theme_rows().await?;
        let by: HashMap<i64, &ThemeRow> = rows.iter().map(|r| (r.id, r)).collect();
        let a = by
            .get(&into)
            .ok_or_else(|| CoreError::NotFound(format!("no theme {into}")))?;
        let b = by
            .get(&from)
            .ok_or_else(|| CoreError::NotFound(format!("no theme {from}")))?;
        // No cycles: `into` must not already end up in `from`.
        let mut t = a.merged_into;
        let mut hops = 0;
        while let Some(x) = t {
            if x == from || hops > 100 {
                return Err(CoreError::invalid(
                    "into",
                    format!("theme {into} is merged into {from} already"),
                ));
            }
            t = by.get(&x).and_then(|r| r.merged_into);
            hops += 1;
        }
        let mut w = write_of(b);
        w.merged_into = Some(into);
        let now = now_ms();
        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &FEEDBACK)
            .await?;
        tx.writer_mut().update_theme(from, &w, now).await?;
        let moved = tx.writer_mut().move_theme_members(from, into, None).await?;
        tx.writer_mut().recount_themes(now).await?;
        let mut entry = acting.audit("feedback_themes", Some(&from.to_string()), "theme_merge");
        entry.details =
            json!({"into": into, "into_label": a.label, "label": b.label, "moved": moved});
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(())
    }

    /// Splits the answers containing `word` off theme `id` into a new theme (now and
    /// in later runs); the new theme's id. Managers.
    pub async fn split_theme(&self, acting: &Acting, id: i64, word: &str) -> Result<i64> {
        require(acting, Role::Manager)?;
        let word = checked_label("word", word)?.to_lowercase();
        if tokenize(&word).len() != 1 {
            return Err(CoreError::invalid("word", "must be one word"));
        }
        let parent = self.theme_row(acting, id).await?;
        let analyzer = Analyzer::new();
        let wanted = split_stems(&analyzer, &word);
        let members = self.store().theme_members(Some(id)).await?;
        let taken: Vec<(i64, String)> = members
            .iter()
            .filter(|m| {
                let (_, terms) = analyzer.terms(&m.text, None);
                let stems: Vec<String> = terms.into_iter().map(|t| t.stem).collect();
                has_word(&stems, &m.text, &wanted)
            })
            .map(|m| (m.feedback_id, m.field.clone()))
            .collect();
        if taken.is_empty() {
            return Err(CoreError::invalid(
                "word",
                format!("no answer of theme {id} contains '{word}'"),
            ));
        }
        let mut stem_key: Vec<&String> = wanted.iter().collect();
        stem_key.sort();
        let key = format!("split:{id}:{}", stem_key.first().map_or("", |s| s.as_str()));
        if self
            .store()
            .feedback_theme_rows()
            .await?
            .iter()
            .any(|r| r.theme_key == key)
        {
            return Err(CoreError::Conflict {
                field: Some("word".into()),
                message: format!("theme {id} is split by '{word}' already"),
            });
        }
        let now = now_ms();
        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &FEEDBACK)
            .await?;
        let child = tx
            .writer_mut()
            .insert_theme(
                &ThemeWrite {
                    theme_key: key,
                    label: word.clone(),
                    manual_label: false,
                    words: word.clone(),
                    merged_into: None,
                    split_words: Some(word.clone()),
                    split_from: Some(id),
                    answers: 0,
                    active: parent.active,
                },
                now,
            )
            .await?;
        let moved = tx
            .writer_mut()
            .move_theme_members(id, child, Some(&taken))
            .await?;
        tx.writer_mut().recount_themes(now).await?;
        let mut entry = acting.audit("feedback_themes", Some(&child.to_string()), "theme_split");
        entry.details = json!({"from": id, "word": word, "moved": moved});
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(child)
    }

    /// Records a change made because of a theme ("you said, we did"), and with
    /// `notify` queues one mail to each customer who raised it (survey consent and an
    /// email needed; their language). Managers. The change's id and the mails queued.
    pub async fn record_change(&self, acting: &Acting, c: &NewChange) -> Result<(i64, usize)> {
        require(acting, Role::Manager)?;
        let title = checked_label("title", &c.title)?;
        let day = parse_day(&c.changed_on)?;
        let theme = self.theme_row(acting, c.theme_id).await?;
        let customers = if c.notify {
            self.store().theme_customers(&[c.theme_id]).await?
        } else {
            Vec::new()
        };
        let settings = self.store_settings().await?;
        let store_lang = settings.value("language").unwrap_or("fi").to_string();
        // The one-click unsubscribe from surveys (withdrawing the consent these mails
        // need): a personal link of the newest survey that expired as it was made, so
        // it answers nothing and only unsubscribes (no survey: no link).
        let unsubscribe_key = if customers.is_empty() {
            None
        } else {
            match self.store().surveys().await?.iter().map(|s| s.id).max() {
                Some(survey) => Some((self.survey_key().await?, survey)),
                None => None,
            }
        };
        let description = c
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let now = now_ms();
        let mut tx = self
            .begin_plain_write(acting, Role::Manager, &FEEDBACK)
            .await?;
        let id = tx
            .writer_mut()
            .insert_feedback_change(
                Some(c.theme_id),
                &title,
                description,
                &day.format("%Y-%m-%d").to_string(),
                c.notify,
                acting.user_id(),
                now,
            )
            .await?;
        let mut queued = Vec::with_capacity(customers.len());
        for cu in &customers {
            let fi = cu.locale.as_deref().and_then(Lang::from_code).unwrap_or(
                if store_lang.starts_with("en") {
                    Lang::En
                } else {
                    Lang::Fi
                },
            ) == Lang::Fi;
            let unsubscribe = unsubscribe_key.as_ref().map(|(key, survey)| {
                self.signed_unsubscribe_url(
                    key,
                    &LinkClaims {
                        survey_id: *survey,
                        customer_id: Some(cu.customer_id),
                        token_id: format!("change-{id}-{}", cu.customer_id),
                        expires_ms: now,
                    },
                )
            });
            queued.push(change_mail(
                fi,
                &cu.email,
                cu.name.as_deref(),
                &title,
                description,
                unsubscribe,
                (id, cu.customer_id),
            ));
        }
        let mails = tx.writer_mut().queue_survey_mails(&queued, now).await? as usize;
        if c.notify {
            tx.writer_mut().mark_change_notified(id).await?;
        }
        let mut entry = acting.audit("feedback_changes", Some(&id.to_string()), "create");
        entry.details = json!({
            "theme": c.theme_id,
            "theme_label": theme.label,
            "title": title,
            "changed_on": day.format("%Y-%m-%d").to_string(),
            "notify": c.notify,
            "mails": mails,
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok((id, mails))
    }

    /// The changes recorded for a theme (or all), newest first, each with the
    /// theme's answers per month before and after it. Any role.
    pub async fn theme_changes(
        &self,
        acting: &Acting,
        theme: Option<i64>,
    ) -> Result<Vec<ChangeView>> {
        require(acting, Role::Viewer)?;
        let changes = self.store().feedback_changes(theme).await?;
        let zone = self.time_zone().await?;
        let mut months: HashMap<i64, BTreeMap<String, HashSet<i64>>> = HashMap::new();
        for m in self.store().theme_members(theme).await? {
            months
                .entry(m.theme_id)
                .or_default()
                .entry(
                    m.answered_at
                        .with_timezone(&zone)
                        .format("%Y-%m")
                        .to_string(),
                )
                .or_default()
                .insert(m.feedback_id);
        }
        Ok(changes
            .into_iter()
            .map(|c| {
                let month = c.changed_on.get(..7).unwrap_or("").to_string();
                let trend: Vec<(String, u64)> = c
                    .theme_id
                    .and_then(|t| months.get(&t))
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.len() as u64)).collect())
                    .unwrap_or_default();
                let (before, after): (Vec<_>, Vec<_>) =
                    trend.into_iter().partition(|(k, _)| *k < month);
                ChangeView {
                    id: c.id,
                    theme_id: c.theme_id,
                    title: c.title,
                    description: c.description,
                    changed_on: c.changed_on,
                    notify: c.notify,
                    notified: c.notified,
                    before,
                    after,
                }
            })
            .collect())
    }
}

/// A day as typed: `2026-12-31` or `31.12.2026`.
pub fn parse_day(s: &str) -> Result<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .map_err(|_| {
            CoreError::invalid(
                "changed_on",
                format!("'{s}' is not a date (31.12.2026 or 2026-12-31)"),
            )
        })
}

/// The mail telling a customer what was changed because of what they said, with the
/// one-click unsubscribe from surveys (`unsubscribe`, also its `List-Unsubscribe`)
/// in the text and the HTML, as survey invitations have it.
fn change_mail(
    fi: bool,
    to: &str,
    name: Option<&str>,
    title: &str,
    description: Option<&str>,
    unsubscribe: Option<String>,
    (change, customer): (i64, i64),
) -> SurveyMail {
    let greeting = match (fi, name) {
        (true, Some(n)) => format!("Hei {n},"),
        (true, None) => "Hei,".to_string(),
        (false, Some(n)) => format!("Hello {n},"),
        (false, None) => "Hello,".to_string(),
    };
    let (subject, intro, outro, opt_out) = if fi {
        (
            format!("Kuuntelimme palautettasi: {title}"),
            "kiitos palautteestasi. Sen ansiosta teimme muutoksen:",
            "Kiitos, että kerroit meille.",
            "Jos et halua enää kyselyjä etkä näitä viestejä meiltä, peru ne tästä:",
        )
    } else {
        (
            format!("You said, we did: {title}"),
            "thank you for your feedback. Because of it we made a change:",
            "Thank you for telling us.",
            "If you do not want any more surveys or messages like this from us, unsubscribe here:",
        )
    };
    let mut text = format!("{greeting}\n\n{intro}\n\n{title}\n");
    if let Some(d) = description {
        text.push_str(&format!("{d}\n"));
    }
    text.push_str(&format!("\n{outro}\n"));
    if let Some(u) = &unsubscribe {
        text.push_str(&format!("\n{opt_out} {u}\n"));
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let mut html = format!(
        "<p>{}</p><p>{}</p><p><strong>{}</strong></p>",
        esc(&greeting),
        esc(intro),
        esc(title)
    );
    if let Some(d) = description {
        html.push_str(&format!("<p>{}</p>", esc(d)));
    }
    html.push_str(&format!("<p>{}</p>", esc(outro)));
    if let Some(u) = &unsubscribe {
        html.push_str(&format!(
            "<p style=\"font-size:14px;color:#52606d\">{} <a href=\"{u}\" style=\"color:#1f5fa8\">{u}</a></p>",
            esc(opt_out),
            u = esc(u)
        ));
    }
    SurveyMail {
        key: format!("change:{change}:{customer}"),
        to: to.to_string(),
        subject,
        text,
        html,
        unsubscribe,
    }
}
