//! Sending surveys (issue 13): waves, the invitation log, the fatigue rules, triggers
//! and reminders.
//!
//! - [`Core::send_wave`] (managers): one transaction writes the wave, one
//!   `survey_invitations` row per customer of the [`Audience`] (invited, or skipped
//!   with a reason: `ended`, `no_consent`, `no_email`, `already_invited`, `cooldown`
//!   within `survey_cooldown_days` across all surveys, `open_critical_case` when
//!   `survey_skip_critical`), and for the email channel each invited customer's mail
//!   (template `survey_invite` in the customer's locale, else the store's language,
//!   with the personal link `core.survey_url(sign_link(..))` valid
//!   `survey_link_days`, and the one-click unsubscribe page `{link}/unsubscribe`) in
//!   the outbox with its `mail.send` job, all set-based (`kanta_store::survey_send`),
//!   and one audit entry with the counts. Jobs run after the quiet hours
//!   (`survey_quiet_hours`, store time) when the wave is sent inside them. The link
//!   channel makes the invitations and returns the links (no mail). `dry_run` counts
//!   and rolls back.
//! - [`Core::run_survey_reminders`] (job `survey.reminders`, hourly): at most one
//!   reminder per invitation, `survey_reminder_days` after it, unanswered, the link
//!   not expired, consent still given (outbox key `survey-reminder:{invitation}`).
//! - [`Core::run_survey_triggers`] (job `survey.triggers`, every 15 minutes): for active
//!   surveys with `send_after` order, case_resolved or onboarding_done, the events of
//!   `send_after_days` ago within a [`TRIGGER_LOOKBACK_HOURS`] window (older events,
//!   historical imports included, never trigger), one invitation per event keyed
//!   `{kind}:{event}:{survey}`, the same fatigue rules.
//! - [`unsubscribe_url_of_mail`]: the `List-Unsubscribe` URL of a survey mail, signed
//!   again from its invitation when the `mail.send` job sends it;
//!   [`Core::signed_unsubscribe_url`]: the one URL every survey-consent mail carries.
//! - [`Core::record_past_waves`]: waves of the past with their invitation logs (the
//!   demo's), so that response rates have history.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use kanta_domain::schema::{SURVEYS, TIERS};
use kanta_domain::time::Tz;
use kanta_store::survey_send::{
    Fatigue, Invitation, Invited, NewWave, SurveyMail, TriggerKind, Wave, invitation_of_key,
    invite_key, reminder_key,
};
use serde::Serialize;
use serde_json::json;

pub use kanta_store::survey_send::{Audience, PastInvitation, PastWave};

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::feedback_settings::FeedbackRules;
use crate::mail::{Lang, render};
use crate::surveys::{LinkClaims, sign_link};
use crate::write::run_info;
use crate::{Core, CoreError, Result};

/// The reminder job's kind.
pub const REMINDERS_JOB: &str = "survey.reminders";
/// The triggers job's kind.
pub const TRIGGERS_JOB: &str = "survey.triggers";
/// How far back a trigger looks for events of `send_after_days` ago: events older than
/// this window (imports of history) never trigger a survey.
pub const TRIGGER_LOOKBACK_HOURS: i64 = 48;
/// Reminders queued per run of the reminder job (the next run takes the rest).
const REMINDERS_PER_RUN: i64 = 20_000;

/// The reason codes of skipped invitations, in the order the rules apply.
pub const REASONS: [&str; 7] = [
    "ended",
    "do_not_contact",
    "no_consent",
    "no_email",
    "already_invited",
    "cooldown",
    "open_critical_case",
];

/// How invitations reach the customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SendChannel {
    Email,
    Link,
}

impl SendChannel {
    pub fn parse(s: &str) -> Option<SendChannel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" | "mail" | "sähköposti" => Some(SendChannel::Email),
            "link" | "linkki" => Some(SendChannel::Link),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SendChannel::Email => "email",
            SendChannel::Link => "link",
        }
    }
}

/// What a wave did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveResult {
    /// `None` for a dry run (nothing kept).
    pub wave_id: Option<i64>,
    pub survey: String,
    pub channel: SendChannel,
    pub audience: String,
    pub considered: i64,
    pub invited: i64,
    pub skipped: i64,
    /// Skipped customers per reason code, in [`REASONS`] order (zeros left out).
    pub reasons: Vec<(String, i64)>,
    /// Mails queued (email channel).
    pub mails: u64,
    /// When the mails' jobs run (after the quiet hours).
    pub send_at: DateTime<Utc>,
    /// The personal links (link channel): customer external id, URL.
    pub links: Vec<(String, String)>,
    pub dry_run: bool,
}

/// The tier a wave names (`A`-`D`, any case), or `None` when it is not one.
pub fn parse_tier(t: &str) -> Option<&'static str> {
    let t = t.trim();
    TIERS.iter().copied().find(|x| x.eq_ignore_ascii_case(t))
}

/// Why a tier is refused: `'Z' is not one of A, B, C, D`.
pub fn unknown_tier_message(t: &str) -> String {
    format!("'{}' is not one of {}", t.trim(), TIERS.join(", "))
}

/// Why a wave to an audience without customers is refused (the reason of the
/// `audience` problem [`Core::send_wave`] returns): `no customers match segment 'x'`.
pub fn no_customers_message(a: &Audience) -> String {
    match a {
        Audience::All => "there are no customers".into(),
        Audience::Segment(s) => format!("no customers match segment '{s}'"),
        Audience::Tier(t) => format!("no customers match tier '{t}'"),
        Audience::Customers(c) => format!(
            "no customers match the ids given ({})",
            c.iter()
                .take(5)
                .map(|x| format!("'{x}'"))
                .collect::<Vec<_>>()
                .join(", ")
                + if c.len() > 5 { ", ..." } else { "" }
        ),
        Audience::Queue => "no customers are on the contact queue".into(),
    }
}

/// The first moment at or after `now` outside the quiet hours (store time).
pub fn after_quiet_hours(rules: &FeedbackRules, zone: &Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let Some((_, end)) = rules.quiet_hours else {
        return now;
    };
    let local = now.with_timezone(zone);
    if !rules.is_quiet(local.hour()) {
        return now;
    }
    let mut day = local.date_naive();
    for _ in 0..3 {
        if let Some(at) = day
            .and_hms_opt(end, 0, 0)
            .and_then(|t| zone.from_local_datetime(&t).earliest())
            && at.with_timezone(&Utc) > now
        {
            return at.with_timezone(&Utc);
        }
        day = day.succ_opt().unwrap_or(day);
    }
    now
}

fn expires_text(lang: Lang, zone: &Tz, ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
        .with_timezone(zone);
    match lang {
        Lang::Fi => t.format("%-d.%-m.%Y").to_string(),
        Lang::En => t.format("%-d %B %Y").to_string(),
    }
}

/// What rendering needs besides the invitation.
struct Renderer<'a> {
    core: &'a Core,
    key: Vec<u8>,
    zone: Tz,
}

impl Renderer<'_> {
    fn link(&self, inv: &Invited) -> String {
        self.core.survey_url(&self.token(inv))
    }

    fn token(&self, inv: &Invited) -> String {
        sign_link(
            &self.key,
            &LinkClaims {
                survey_id: inv.survey_id,
                customer_id: Some(inv.customer_id),
                token_id: inv.token_id.clone(),
                expires_ms: inv.expires_ms,
            },
        )
    }

    fn mail(&self, template: &str, key: String, inv: &Invited, survey: &str) -> Result<SurveyMail> {
        let lang = Lang::parse(&inv.language).unwrap_or(Lang::Fi);
        let token = self.token(inv);
        let link = self.core.survey_url(&token);
        let unsubscribe = self.core.survey_unsubscribe_url(&token);
        let name = match inv.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match lang {
                Lang::Fi => "hyvä asiakas".into(),
                Lang::En => "there".into(),
            },
        };
        let expires = expires_text(lang, &self.zone, inv.expires_ms);
        let r = render(
            template,
            lang,
            &[
                ("name", &name),
                ("survey", survey),
                ("link", &link),
                ("expires", &expires),
                ("unsubscribe", &unsubscribe),
            ],
        )
        .map_err(|e| CoreError::Other(anyhow::anyhow!(e)))?;
        Ok(SurveyMail {
            key,
            to: inv.email.clone().unwrap_or_default(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            unsubscribe: Some(unsubscribe),
        })
    }
}

fn fatigue(rules: &FeedbackRules, now: DateTime<Utc>, needs_email: bool, lang: &str) -> Fatigue {
    let now_ms = now.timestamp_millis();
    Fatigue {
        now_ms,
        cooldown_since_ms: if rules.cooldown_days > 0 {
            now_ms - rules.cooldown_days * 86_400_000
        } else {
            i64::MAX
        },
        skip_critical: rules.skip_critical,
        needs_email,
        default_lang: Lang::parse(lang).unwrap_or(Lang::Fi).code().to_string(),
        expires_ms: now_ms + rules.link_days.max(1) * 86_400_000,
    }
}

fn invalid(field: &str, reason: String) -> CoreError {
    CoreError::invalid(field, reason)
}

impl Core {
    /// Sends a wave of `survey` (external id) to `audience` by `channel`; see the
    /// module documentation. Managers only; the survey must be active.
    pub async fn send_wave(
        &self,
        acting: &Acting,
        survey: &str,
        audience: Audience,
        channel: SendChannel,
        dry_run: bool,
    ) -> Result<WaveResult> {
        require(acting, Role::Manager)?;
        let (survey_id, status, name) = self
            .store()
            .survey_by_external_id(survey)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{survey}'")))?;
        if status != "active" {
            return Err(invalid(
                "survey",
                format!("survey '{survey}' is {status}: activate it before sending"),
            ));
        }
        let audience = match audience {
            Audience::Segment(s) | Audience::Tier(s) if s.trim().is_empty() => {
                return Err(invalid("audience", "name a segment or tier".into()));
            }
            Audience::Customers(c) if c.is_empty() => {
                return Err(invalid("customers", "name at least one customer".into()));
            }
            Audience::Tier(t) => match parse_tier(&t) {
                Some(tier) => Audience::Tier(tier.to_string()),
                None => return Err(invalid("tier", unknown_tier_message(&t))),
            },
            a => a,
        };
        let settings = self.store_settings().await?;
        let rules = FeedbackRules::from_settings(&settings);
        let zone = self.time_zone().await?;
        let key = self.survey_key().await?;
        let now = Utc::now();
        let send_at = after_quiet_hours(&rules, &zone, now);
        let f = fatigue(
            &rules,
            now,
            channel == SendChannel::Email,
            &settings.language,
        );
        let r = Renderer {
            core: self,
            key,
            zone,
        };
        let mut tx = self.begin_write(acting, &SURVEYS, Vec::new()).await?;
        let (counts, invited) = tx
            .writer_mut()
            .insert_wave(&NewWave {
                survey_id,
                channel: channel.as_str().into(),
                audience: audience.clone(),
                created_by: acting.user_id(),
                fatigue: f,
            })
            .await?;
        if counts.considered == 0 {
            // Dropped unfinished: the wave row is not kept.
            return Err(invalid("audience", no_customers_message(&audience)));
        }
        let by_reason = tx.writer_mut().wave_reasons(counts.wave_id).await?;
        let reasons: Vec<(String, i64)> = REASONS
            .iter()
            .filter_map(|r| {
                by_reason
                    .iter()
                    .find(|(k, _)| k == r)
                    .map(|(k, n)| (k.clone(), *n))
            })
            .collect();
        let mut mails = 0;
        let mut links = Vec::new();
        match channel {
            SendChannel::Email => {
                let rendered = invited
                    .iter()
                    .map(|inv| r.mail("survey_invite", invite_key(inv.invitation_id), inv, &name))
                    .collect::<Result<Vec<_>>>()?;
                mails = tx
                    .writer_mut()
                    .queue_survey_mails(&rendered, send_at.timestamp_millis())
                    .await?;
            }
            SendChannel::Link => {
                links = invited
                    .iter()
                    .map(|inv| (inv.customer.clone(), r.link(inv)))
                    .collect();
            }
        }
        let result = WaveResult {
            wave_id: (!dry_run).then_some(counts.wave_id),
            survey: survey.to_string(),
            channel,
            audience: audience.label(),
            considered: counts.considered,
            invited: counts.invited,
            skipped: counts.skipped,
            reasons,
            mails,
            send_at,
            links,
            dry_run,
        };
        if dry_run {
            // Dropped unfinished: nothing is kept.
            return Ok(result);
        }
        let mut entry = acting.audit("surveys", Some(survey), "survey_wave");
        entry.details = json!({
            "wave_id": counts.wave_id,
            "channel": channel.as_str(),
            "audience": result.audience,
            "considered": counts.considered,
            "invited": counts.invited,
            "skipped": counts.skipped,
            "reasons": result.reasons.iter().map(|(k, n)| (k.clone(), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "mails": mails,
            "send_at": send_at.to_rfc3339(),
        });
        tx.finish(&run_info("survey wave", 0), vec![entry]).await?;
        Ok(result)
    }

    /// The waves of a survey (external id), newest first (any signed-in role).
    pub async fn survey_waves(&self, acting: &Acting, survey: &str) -> Result<Vec<Wave>> {
        require(acting, Role::Viewer)?;
        let id = self.survey_internal_id(survey).await?;
        Ok(self.store().survey_waves(id, 200).await?)
    }

    /// The invitation log of a survey (external id), newest first, filtered by status
    /// and reason (any signed-in role).
    #[allow(clippy::too_many_arguments)] // the log's filters and page, as the API and CLI pass them
    pub async fn survey_invitations(
        &self,
        acting: &Acting,
        survey: &str,
        status: Option<&str>,
        reason: Option<&str>,
        wave: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Invitation>> {
        require(acting, Role::Viewer)?;
        if let Some(s) = status
            && !["invited", "skipped", "answered"].contains(&s)
        {
            return Err(invalid(
                "status",
                format!("'{s}' is not a status: invited, skipped or answered"),
            ));
        }
        if let Some(r) = reason
            && !REASONS.contains(&r)
        {
            return Err(invalid(
                "reason",
                format!("'{r}' is not a reason: {}", REASONS.join(", ")),
            ));
        }
        let id = self.survey_internal_id(survey).await?;
        Ok(self
            .store()
            .survey_invitations(
                id,
                status,
                reason,
                wave,
                limit.clamp(1, 100_000),
                offset.max(0),
            )
            .await?)
    }

    /// The personal links of a wave's invited customers (managers): customer external
    /// id, URL (signed again from the invitations).
    pub async fn wave_links(
        &self,
        acting: &Acting,
        survey: &str,
        wave: i64,
    ) -> Result<Vec<(String, String)>> {
        require(acting, Role::Manager)?;
        let id = self.survey_internal_id(survey).await?;
        let key = self.survey_key().await?;
        Ok(self
            .store()
            .wave_link_parts(id, wave)
            .await?
            .into_iter()
            .map(|(c, p)| {
                let token = sign_link(
                    &key,
                    &LinkClaims {
                        survey_id: p.survey_id,
                        customer_id: Some(p.customer_id),
                        token_id: p.token_id,
                        expires_ms: p.expires_ms,
                    },
                );
                (c, self.survey_url(&token))
            })
            .collect())
    }

    async fn survey_internal_id(&self, survey: &str) -> Result<i64> {
        Ok(self
            .store()
            .survey_by_external_id(survey)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{survey}'")))?
            .0)
    }

    /// The reminder job: queues the one reminder of each invitation due for it; returns
    /// how many were queued.
    pub async fn run_survey_reminders(&self, now: DateTime<Utc>) -> Result<u64> {
        let settings = self.store_settings().await?;
        let rules = FeedbackRules::from_settings(&settings);
        if rules.reminder_days <= 0 {
            return Ok(0);
        }
        let zone = self.time_zone().await?;
        let key = self.survey_key().await?;
        let names = self.store().survey_names().await?;
        let r = Renderer {
            core: self,
            key,
            zone,
        };
        let acting = Acting::job(REMINDERS_JOB);
        let send_at = after_quiet_hours(&rules, &zone, now);
        let mut tx = self.begin_write(&acting, &SURVEYS, Vec::new()).await?;
        let now_ms = now.timestamp_millis();
        let due = tx
            .writer_mut()
            .due_reminders(
                now_ms,
                now_ms - rules.reminder_days * 86_400_000,
                REMINDERS_PER_RUN,
            )
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let rendered = due
            .iter()
            .map(|inv| {
                let name = names.get(&inv.survey_id).map(String::as_str).unwrap_or("");
                r.mail(
                    "survey_reminder",
                    reminder_key(inv.invitation_id),
                    inv,
                    name,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let n = tx
            .writer_mut()
            .queue_survey_mails(&rendered, send_at.timestamp_millis())
            .await?;
        let mut entry = acting.audit("surveys", None, "survey_reminders");
        entry.details = json!({ "reminders": n, "send_at": send_at.to_rfc3339() });
        tx.finish(&run_info("survey reminders", 0), vec![entry])
            .await?;
        Ok(n)
    }

    /// The triggers job: invitations after the events of active surveys' triggers;
    /// returns how many were invited.
    pub async fn run_survey_triggers(&self, now: DateTime<Utc>) -> Result<u64> {
        let surveys = self.store().triggered_surveys().await?;
        if surveys.is_empty() {
            return Ok(0);
        }
        let settings = self.store_settings().await?;
        let rules = FeedbackRules::from_settings(&settings);
        let zone = self.time_zone().await?;
        let key = self.survey_key().await?;
        let names = self.store().survey_names().await?;
        let r = Renderer {
            core: self,
            key,
            zone,
        };
        let acting = Acting::job(TRIGGERS_JOB);
        let send_at = after_quiet_hours(&rules, &zone, now);
        let mut total = 0;
        for (survey_id, send_after, days) in surveys {
            let Some(kind) = TriggerKind::parse(&send_after) else {
                continue;
            };
            let to = now - Duration::days(days.max(0));
            let from = to - Duration::hours(TRIGGER_LOOKBACK_HOURS);
            let f = fatigue(&rules, now, true, &settings.language);
            let mut tx = self.begin_write(&acting, &SURVEYS, Vec::new()).await?;
            let invited = tx
                .writer_mut()
                .insert_triggered(survey_id, kind, from, to, &f)
                .await?;
            let name = names.get(&survey_id).map(String::as_str).unwrap_or("");
            let rendered = invited
                .iter()
                .map(|inv| r.mail("survey_invite", invite_key(inv.invitation_id), inv, name))
                .collect::<Result<Vec<_>>>()?;
            let n = tx
                .writer_mut()
                .queue_survey_mails(&rendered, send_at.timestamp_millis())
                .await?;
            let entries = if invited.is_empty() {
                Vec::new()
            } else {
                let mut entry = acting.audit("surveys", None, "survey_trigger");
                entry.details = json!({
                    "survey_id": survey_id,
                    "trigger": kind.as_str(),
                    "invited": invited.len(),
                    "mails": n,
                    "send_at": send_at.to_rfc3339(),
                });
                vec![entry]
            };
            tx.finish(&run_info("survey triggers", 0), entries).await?;
            total += invited.len() as u64;
        }
        Ok(total)
    }
}

/// The one-click unsubscribe URL of a survey mail (outbox key `survey-invite:{id}` or
/// `survey-reminder:{id}`), signed again from its invitation; `None` for other mail.
pub async fn unsubscribe_url_of_mail(core: &Core, key: &str) -> Result<Option<String>> {
    let Some(inv) = invitation_of_key(key) else {
        return Ok(None);
    };
    let Some(parts) = core.store().invitation_link(inv).await? else {
        return Ok(None);
    };
    Ok(Some(core.signed_unsubscribe_url(
        &core.survey_key().await?,
        &LinkClaims {
            survey_id: parts.survey_id,
            customer_id: Some(parts.customer_id),
            token_id: parts.token_id,
            expires_ms: parts.expires_ms,
        },
    )))
}

impl Core {
    /// Writes waves sent in the past with their invitation logs (the demo's history;
    /// see [`PastWave`]) in one transaction with one audit entry (`survey_waves`,
    /// `import`, the counts). Managers. A wave written before is not written again,
    /// and a past invitation has no link, so it is never reminded. Returns the waves
    /// and the invitations written.
    pub async fn record_past_waves(
        &self,
        acting: &Acting,
        waves: &[PastWave],
    ) -> Result<(u64, u64)> {
        require(acting, Role::Manager)?;
        let mut tx = self.begin_write(acting, &SURVEYS, Vec::new()).await?;
        let (mut written, mut invitations) = (0u64, 0u64);
        for w in waves {
            if let Some(n) = tx.writer_mut().insert_past_wave(w).await? {
                written += 1;
                invitations += n;
            }
        }
        let entries = if written == 0 {
            Vec::new()
        } else {
            let mut entry = acting.audit("survey_waves", None, "import");
            entry.details = json!({ "waves": written, "invitations": invitations });
            vec![entry]
        };
        tx.finish(&run_info("past survey waves", invitations), entries)
            .await?;
        Ok((written, invitations))
    }

    /// The one-click unsubscribe URL (`{public_url}/s/{token}/unsubscribe`, also the
    /// mail's `List-Unsubscribe`) of the personal link `claims` signed with `key`
    /// ([`Core::survey_key`]): what every mail to a customer under their survey consent
    /// carries (invitations, reminders, the "you said, we did" mail). The page
    /// unsubscribes whatever the link's expiry or use.
    pub fn signed_unsubscribe_url(&self, key: &[u8], claims: &LinkClaims) -> String {
        self.survey_unsubscribe_url(&sign_link(key, claims))
    }
}
