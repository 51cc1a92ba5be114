//! Themes found in the free-text answers (`feedback_themes`, `feedback_theme_members`,
//! `feedback_theme_runs`) and "you said, we did" (`feedback_changes`): the SQL behind
//! kanta-core's `themes` module. Reads go through the pool; writes through a
//! [`Writer`] inside the core's write transaction (the core adds the audit entry).
//! Members are replaced as a whole by a run, in multi-row inserts of 1,000 rows (the
//! values are numbers and the three fixed field names, written into the statement).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use crate::onboarding::{is_pg, parse_time, time_col};
use crate::write::on_tx;
use crate::{Result, Store, Writer, with_pool};

/// The answer fields whose text themes are found in.
pub const TEXT_FIELDS: [&str; 3] = ["did_well", "do_better", "comment"];

/// One stored theme, as `feedback_themes` keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeRow {
    pub id: i64,
    pub theme_key: String,
    pub label: String,
    /// A manager renamed it: runs keep the label.
    pub manual_label: bool,
    /// Key words, comma-separated (surface forms).
    pub words: String,
    pub merged_into: Option<i64>,
    /// Of a theme split from another: the word whose answers it takes.
    pub split_words: Option<String>,
    pub split_from: Option<i64>,
    pub answers: i64,
    pub active: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A theme to insert or update.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeWrite {
    pub theme_key: String,
    pub label: String,
    pub manual_label: bool,
    pub words: String,
    pub merged_into: Option<i64>,
    pub split_words: Option<String>,
    pub split_from: Option<i64>,
    pub answers: i64,
    pub active: bool,
}

/// One answer text to find themes in.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerText {
    pub feedback_id: i64,
    /// One of [`TEXT_FIELDS`].
    pub field: &'static str,
    pub text: String,
    /// The answer's recorded language (`fi`, `en`).
    pub language: Option<String>,
}

/// One member of a theme, with its answer's time, customer and text.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub theme_id: i64,
    pub feedback_id: i64,
    pub field: String,
    pub weight: f64,
    pub answered_at: DateTime<Utc>,
    pub customer_id: Option<i64>,
    pub text: String,
    /// The answer's external id (as imported, or as the API or a survey gave it).
    pub external_id: String,
}

/// A member to write: (feedback id, field, theme id, weight).
pub type NewMember = (i64, &'static str, i64, f64);

/// A change recorded because of a theme.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub id: i64,
    pub theme_id: Option<i64>,
    pub title: String,
    pub description: Option<String>,
    /// `YYYY-MM-DD`.
    pub changed_on: String,
    pub notify: bool,
    pub notified: bool,
    pub created_by: Option<i64>,
    pub created_ms: i64,
}

/// A customer who raised a theme, as a mail needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeCustomer {
    pub customer_id: i64,
    pub external_id: String,
    pub name: Option<String>,
    pub email: String,
    pub locale: Option<String>,
}

type ThemeTuple = (
    i64,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
);

const THEME_COLS: &str = "id, theme_key, label, CAST(CASE WHEN manual_label THEN 1 ELSE 0 END AS BIGINT), words, \
     merged_into, split_words, split_from, CAST(answers AS BIGINT), \
     CAST(CASE WHEN active THEN 1 ELSE 0 END AS BIGINT), created_ms, updated_ms";

fn theme_row(t: ThemeTuple) -> ThemeRow {
    ThemeRow {
        id: t.0,
        theme_key: t.1,
        label: t.2,
        manual_label: t.3 != 0,
        words: t.4,
        merged_into: t.5,
        split_words: t.6,
        split_from: t.7,
        answers: t.8,
        active: t.9 != 0,
        created_ms: t.10,
        updated_ms: t.11,
    }
}

fn field_of(s: &str) -> &'static str {
    TEXT_FIELDS
        .iter()
        .copied()
        .find(|f| *f == s)
        .unwrap_or("comment")
}

impl Store {
    /// Every stored theme (active or not, merged or not), by id.
    pub async fn feedback_theme_rows(&self) -> Result<Vec<ThemeRow>> {
        let sql = format!("SELECT {THEME_COLS} FROM feedback_themes ORDER BY id");
        let rows: Vec<ThemeTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(theme_row).collect())
    }

    /// Every non-blank free-text answer (`did_well`, `do_better`, `comment`), by
    /// answer id and field.
    pub async fn theme_answer_texts(&self) -> Result<Vec<AnswerText>> {
        let sql = TEXT_FIELDS
            .iter()
            .map(|f| {
                format!(
                    "SELECT id, '{f}' AS field, {f} AS text, language FROM feedback \
                     WHERE {f} IS NOT NULL AND trim({f}) <> ''"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
            + " ORDER BY 1, 2";
        type T = (i64, String, String, Option<String>);
        let rows: Vec<T> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, f, text, language)| AnswerText {
                feedback_id: id,
                field: field_of(&f),
                text,
                language,
            })
            .collect())
    }

    /// The members of themes (all of them, or those of `theme`), with their answers'
    /// times, customers and texts, heaviest first within a theme.
    pub async fn theme_members(&self, theme: Option<i64>) -> Result<Vec<MemberRow>> {
        let pg = is_pg(self);
        let filter = if theme.is_some() {
            "WHERE m.theme_id = $1"
        } else {
            "WHERE $1 IS NULL OR TRUE"
        };
        let sql = format!(
            "SELECT m.theme_id, m.feedback_id, m.field, m.weight, {at} AS at, f.customer_id, \
                    CASE m.field WHEN 'did_well' THEN f.did_well WHEN 'do_better' THEN f.do_better \
                    ELSE f.comment END AS text, f.external_id \
             FROM feedback_theme_members m JOIN feedback f ON f.id = m.feedback_id {filter} \
             ORDER BY m.theme_id, m.weight DESC, m.feedback_id, m.field",
            at = time_col(pg, "f.answered_at"),
        );
        let rows = with_pool!(self, pool => sqlx::query(AssertSqlSafe(sql))
            .bind(theme)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| -> Result<MemberRow> {
                let at: String = r.try_get("at")?;
                Ok(MemberRow {
                    theme_id: r.try_get(0)?,
                    feedback_id: r.try_get(1)?,
                    field: r.try_get(2)?,
                    weight: r.try_get(3)?,
                    answered_at: parse_time(&at).unwrap_or_default(),
                    customer_id: r.try_get(5)?,
                    text: r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                    external_id: r.try_get(7)?,
                })
            })
            .collect::<Result<Vec<_>>>()?);
        Ok(rows)
    }

    /// The changes recorded (of `theme`, or all), newest first.
    pub async fn feedback_changes(&self, theme: Option<i64>) -> Result<Vec<ChangeRow>> {
        let sql = "SELECT id, theme_id, title, description, changed_on, \
                   CAST(CASE WHEN notify THEN 1 ELSE 0 END AS BIGINT), CAST(CASE WHEN notified THEN 1 ELSE 0 END AS BIGINT), \
                   created_by, created_ms FROM feedback_changes \
                   WHERE $1 IS NULL OR theme_id = $1 ORDER BY changed_on DESC, id DESC";
        type T = (
            i64,
            Option<i64>,
            String,
            Option<String>,
            String,
            i64,
            i64,
            Option<i64>,
            i64,
        );
        let rows: Vec<T> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(theme)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| ChangeRow {
                id: t.0,
                theme_id: t.1,
                title: t.2,
                description: t.3,
                changed_on: t.4,
                notify: t.5 != 0,
                notified: t.6 != 0,
                created_by: t.7,
                created_ms: t.8,
            })
            .collect())
    }

    /// The customers with an email and survey consent whose answers are members of
    /// any of `themes`, once each, by id.
    pub async fn theme_customers(&self, themes: &[i64]) -> Result<Vec<ThemeCustomer>> {
        if themes.is_empty() {
            return Ok(Vec::new());
        }
        let list = themes
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT DISTINCT c.id, c.external_id, c.name, c.email, c.locale FROM customers c \
             JOIN feedback f ON f.customer_id = c.id \
             JOIN feedback_theme_members m ON m.feedback_id = f.id \
             WHERE m.theme_id IN ({list}) AND c.survey_consent AND c.email IS NOT NULL \
               AND trim(c.email) <> '' ORDER BY c.id"
        );
        type T = (i64, String, Option<String>, String, Option<String>);
        let rows: Vec<T> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| ThemeCustomer {
                customer_id: t.0,
                external_id: t.1,
                name: t.2,
                email: t.3,
                locale: t.4,
            })
            .collect())
    }
}

impl Writer {
    /// Inserts a theme; its id.
    pub async fn insert_theme(&mut self, t: &ThemeWrite, now_ms: i64) -> Result<i64> {
        let sql = "INSERT INTO feedback_themes (theme_key, label, manual_label, words, merged_into, \
                   split_words, split_from, answers, active, created_ms, updated_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id";
        Ok(on_tx!(&mut self.tx, tx => sqlx::query_scalar(sql)
            .bind(&t.theme_key)
            .bind(&t.label)
            .bind(t.manual_label)
            .bind(&t.words)
            .bind(t.merged_into)
            .bind(&t.split_words)
            .bind(t.split_from)
            .bind(t.answers as i32)
            .bind(t.active)
            .bind(now_ms)
            .fetch_one(&mut **tx)
            .await?))
    }

    /// Updates every column of theme `id` but its key and creation time.
    pub async fn update_theme(&mut self, id: i64, t: &ThemeWrite, now_ms: i64) -> Result<()> {
        let sql = "UPDATE feedback_themes SET label = $2, manual_label = $3, words = $4, \
                   merged_into = $5, split_words = $6, split_from = $7, answers = $8, active = $9, \
                   updated_ms = $10 WHERE id = $1";
        on_tx!(&mut self.tx, tx => sqlx::query(sql)
            .bind(id)
            .bind(&t.label)
            .bind(t.manual_label)
            .bind(&t.words)
            .bind(t.merged_into)
            .bind(&t.split_words)
            .bind(t.split_from)
            .bind(t.answers as i32)
            .bind(t.active)
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Replaces every theme member with `members`.
    pub async fn replace_theme_members(&mut self, members: &[NewMember]) -> Result<()> {
        on_tx!(&mut self.tx, tx => sqlx::query("DELETE FROM feedback_theme_members")
            .execute(&mut **tx)
            .await
            .map(|_| ())?);
        for chunk in members.chunks(1000) {
            let mut sql = String::from(
                "INSERT INTO feedback_theme_members (feedback_id, field, theme_id, weight) VALUES ",
            );
            for (i, (f, field, t, w)) in chunk.iter().enumerate() {
                let w = if w.is_finite() { *w } else { 0.0 };
                let _ = write!(
                    sql,
                    "{}({f}, '{}', {t}, {w:.6})",
                    if i > 0 { ", " } else { "" },
                    field_of(field)
                );
            }
            on_tx!(&mut self.tx, tx => sqlx::query(AssertSqlSafe(sql))
                .execute(&mut **tx)
                .await
                .map(|_| ())?);
        }
        Ok(())
    }

    /// Moves the members of theme `from` (those of `only`, (feedback id, field), when
    /// given) to theme `to`; how many moved.
    pub async fn move_theme_members(
        &mut self,
        from: i64,
        to: i64,
        only: Option<&[(i64, String)]>,
    ) -> Result<u64> {
        match only {
            None => Ok(on_tx!(&mut self.tx, tx => sqlx::query(
                "UPDATE feedback_theme_members SET theme_id = $2 WHERE theme_id = $1")
                .bind(from)
                .bind(to)
                .execute(&mut **tx)
                .await?
                .rows_affected())),
            Some(list) => {
                let mut n = 0;
                for (f, field) in list {
                    n += on_tx!(&mut self.tx, tx => sqlx::query(
                        "UPDATE feedback_theme_members SET theme_id = $2 \
                         WHERE theme_id = $1 AND feedback_id = $3 AND field = $4")
                        .bind(from)
                        .bind(to)
                        .bind(*f)
                        .bind(field)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected());
                }
                Ok(n)
            }
        }
    }

    /// Sets each theme's `answers` to its distinct members' answers now.
    pub async fn recount_themes(&mut self, now_ms: i64) -> Result<()> {
        let sql = "UPDATE feedback_themes SET answers = (SELECT count(DISTINCT m.feedback_id) \
                   FROM feedback_theme_members m WHERE m.theme_id = feedback_themes.id), \
                   updated_ms = $1";
        on_tx!(&mut self.tx, tx => sqlx::query(sql)
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Records a run.
    pub async fn insert_theme_run(
        &mut self,
        ran_ms: i64,
        answers: i64,
        themes: i64,
        millis: i64,
        details: &serde_json::Value,
    ) -> Result<i64> {
        let sql = "INSERT INTO feedback_theme_runs (ran_ms, answers, themes, millis, details) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Ok(on_tx!(&mut self.tx, tx => sqlx::query_scalar(sql)
            .bind(ran_ms)
            .bind(answers as i32)
            .bind(themes as i32)
            .bind(millis as i32)
            .bind(details.to_string())
            .fetch_one(&mut **tx)
            .await?))
    }

    /// Records a change made because of a theme; its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_feedback_change(
        &mut self,
        theme_id: Option<i64>,
        title: &str,
        description: Option<&str>,
        changed_on: &str,
        notify: bool,
        created_by: Option<i64>,
        now_ms: i64,
    ) -> Result<i64> {
        let sql = "INSERT INTO feedback_changes (theme_id, title, description, changed_on, notify, \
                   notified, created_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   RETURNING id";
        Ok(on_tx!(&mut self.tx, tx => sqlx::query_scalar(sql)
            .bind(theme_id)
            .bind(title)
            .bind(description)
            .bind(changed_on)
            .bind(notify)
            .bind(false)
            .bind(created_by)
            .bind(now_ms)
            .fetch_one(&mut **tx)
            .await?))
    }

    /// Marks change `id` as told to the customers.
    pub async fn mark_change_notified(&mut self, id: i64) -> Result<()> {
        on_tx!(&mut self.tx, tx => sqlx::query(
            "UPDATE feedback_changes SET notified = $2 WHERE id = $1")
            .bind(id)
            .bind(true)
            .execute(&mut **tx)
            .await
            .map(|_| ())?);
        Ok(())
    }
}

impl Store {
    /// Whether any answer has free text (the daily themes job runs only then).
    pub async fn has_answer_texts(&self) -> Result<bool> {
        let sql = "SELECT 1 FROM feedback WHERE did_well IS NOT NULL OR do_better IS NOT NULL \
                   OR comment IS NOT NULL LIMIT 1";
        Ok(with_pool!(self, pool => sqlx::query(sql)
            .fetch_optional(pool)
            .await?
            .is_some()))
    }
}
