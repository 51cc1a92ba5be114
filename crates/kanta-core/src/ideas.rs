//! The ideas box (seed 001: hear the employees' own ideas): any signed-in user hands
//! in an idea (its text, optionally a customer and a feedback theme it is about);
//! managers give it a status ([`IDEA_STATUSES`]: new, considered, doing, done,
//! declined) with a reply; the submitter sees their ideas with the status and reply.
//!
//! - [`Core::submit_idea`]: any user (viewer and above; an API token is no person and
//!   is refused), text 1-[`MAX_TEXT`] characters, the customer by external id and the
//!   theme by id must exist. One write with the audit entry `ideas` `create`.
//! - [`Core::set_idea_status`]: managers; the reply replaces the one before when given
//!   (an empty reply clears it). Audited as `ideas` `status` with the status and reply
//!   before and after.
//! - [`Core::ideas`]: managers (and tokens of manager role) see every idea, others
//!   their own; [`Core::idea`]: one, to its submitter or a manager.
//!
//! Writes go through [`Core::begin_plain_write`] (the write turn, one transaction, the
//! audit entry in it) with the least role the action needs.

use chrono::Utc;
use kanta_domain::schema::{CUSTOMERS, FEEDBACK};
pub use kanta_store::ideas::{IdeaQuery, IdeaRow};
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::write::run_info;
use crate::{Core, CoreError, Problem, Result};

/// An idea's statuses, in the order it usually goes.
pub const IDEA_STATUSES: [&str; 5] = ["new", "considered", "doing", "done", "declined"];
/// The longest idea or reply, in characters.
pub const MAX_TEXT: usize = 4000;
/// Who sets an idea's status.
pub const DECIDES: Role = Role::Manager;

/// An idea as handed in.
#[derive(Debug, Clone, Default)]
pub struct IdeaInput {
    pub body: String,
    /// A customer's external id.
    pub customer: Option<String>,
    /// A feedback theme's id.
    pub theme: Option<i64>,
}

/// Which ideas a user lists.
#[derive(Debug, Clone, Default)]
pub struct IdeaFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only the caller's own (managers; others see only theirs anyway).
    pub mine: bool,
    /// At most this many (1-1000; 0: 500).
    pub limit: u32,
}

fn status_of(s: &str) -> Result<&'static str> {
    let t = s.trim().to_lowercase();
    IDEA_STATUSES
        .iter()
        .copied()
        .find(|x| *x == t)
        .ok_or_else(|| {
            CoreError::invalid(
                "status",
                format!(
                    "'{}' is not a status: {}",
                    kanta_domain::value::excerpt(s.trim()),
                    IDEA_STATUSES.join(", ")
                ),
            )
        })
}

fn text_problem(field: &str, s: &str, required: bool) -> Option<Problem> {
    let n = s.trim().chars().count();
    if required && n == 0 {
        Some(Problem::new(field, "write the idea (it is empty)"))
    } else if n > MAX_TEXT {
        Some(Problem::new(
            field,
            format!("at most {MAX_TEXT} characters, not {n}"),
        ))
    } else {
        None
    }
}

impl Core {
    /// Hands in an idea as the acting user (see the module). Returns it.
    pub async fn submit_idea(&self, acting: &Acting, input: IdeaInput) -> Result<IdeaRow> {
        require(acting, Role::Viewer)?;
        let Some(user) = acting.user_id() else {
            return Err(CoreError::Forbidden(
                "ideas are handed in by a signed-in user (an API token is no person)".into(),
            ));
        };
        let mut problems = Vec::new();
        if let Some(p) = text_problem("body", &input.body, true) {
            problems.push(p);
        }
        let customer = input
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let mut tx = self
            .begin_plain_write(acting, Role::Viewer, &FEEDBACK)
            .await?;
        let customer_key = match &customer {
            None => None,
            Some(c) => {
                let known = tx.known(&CUSTOMERS, std::slice::from_ref(c)).await?;
                let k = known.get(c).copied();
                if k.is_none() {
                    problems.push(Problem::new(
                        "customer_id",
                        format!("no customer with id '{}'", kanta_domain::value::excerpt(c)),
                    ));
                }
                k
            }
        };
        if let Some(t) = input.theme
            && !tx.writer_mut().theme_exists(t).await?
        {
            problems.push(Problem::new("theme_id", format!("no theme with id {t}")));
        }
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let body = input.body.trim().to_string();
        let id = tx
            .writer_mut()
            .insert_idea(user, &body, customer_key, input.theme, Utc::now())
            .await?;
        let mut entry = acting.audit("ideas", Some(&id.to_string()), "create");
        entry.changes = json!({
            "body": {"before": null, "after": body},
            "customer_id": {"before": null, "after": customer},
            "theme_id": {"before": null, "after": input.theme},
            "status": {"before": null, "after": "new"},
        });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        self.store()
            .idea(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no idea {id}")))
    }

    /// Sets an idea's status and, when given, its reply (managers). Returns it.
    pub async fn set_idea_status(
        &self,
        acting: &Acting,
        id: i64,
        status: &str,
        reply: Option<&str>,
    ) -> Result<IdeaRow> {
        require(acting, DECIDES)?;
        let status = status_of(status)?;
        if let Some(r) = reply
            && let Some(p) = text_problem("reply", r, false)
        {
            return Err(CoreError::Invalid(vec![p]));
        }
        let before = self
            .store()
            .idea(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no idea {id}")))?;
        let reply = match reply {
            Some(r) => Some(r.trim().to_string()).filter(|r| !r.is_empty()),
            None => before.reply.clone(),
        };
        let replied_by = if reply.is_some() {
            acting.user_id().or(before.replied_by)
        } else {
            None
        };
        let mut tx = self.begin_plain_write(acting, DECIDES, &FEEDBACK).await?;
        let Some((old_status, old_reply)) = tx
            .writer_mut()
            .set_idea_status(id, status, reply.as_deref(), replied_by, Utc::now())
            .await?
        else {
            return Err(CoreError::NotFound(format!("no idea {id}")));
        };
        let mut changes = serde_json::Map::new();
        if old_status != status {
            changes.insert(
                "status".into(),
                json!({"before": old_status, "after": status}),
            );
        }
        if old_reply != reply {
            changes.insert("reply".into(), json!({"before": old_reply, "after": reply}));
        }
        let mut entry = acting.audit("ideas", Some(&id.to_string()), "status");
        entry.changes = serde_json::Value::Object(changes);
        tx.finish(&run_info("", 0), vec![entry]).await?;
        self.store()
            .idea(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no idea {id}")))
    }

    /// Ideas newest first: every idea for managers (unless `mine`), else the
    /// caller's own (none for a token below manager).
    pub async fn ideas(&self, acting: &Acting, f: &IdeaFilter) -> Result<Vec<IdeaRow>> {
        require(acting, Role::Viewer)?;
        let status = match f.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(status_of(s)?.to_string()),
        };
        if f.limit > 1000 {
            return Err(CoreError::invalid("limit", "give 1 to 1000"));
        }
        let all = acting.role() >= DECIDES && !f.mine;
        let submitted_by = if all {
            None
        } else {
            match acting.user_id() {
                Some(u) => Some(u),
                None => return Ok(Vec::new()),
            }
        };
        Ok(self
            .store()
            .ideas(&IdeaQuery {
                submitted_by,
                status,
                limit: if f.limit == 0 { 500 } else { f.limit },
            })
            .await?)
    }

    /// One idea, to its submitter or a manager.
    pub async fn idea(&self, acting: &Acting, id: i64) -> Result<IdeaRow> {
        require(acting, Role::Viewer)?;
        let idea = self
            .store()
            .idea(id)
            .await?
            .filter(|i| acting.role() >= DECIDES || acting.user_id() == Some(i.submitted_by))
            .ok_or_else(|| CoreError::NotFound(format!("no idea {id}")))?;
        Ok(idea)
    }
}
