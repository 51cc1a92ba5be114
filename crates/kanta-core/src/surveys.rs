//! Surveys: definitions and their versions, signed personal links, the public answer
//! (issue 13).
//!
//! - A survey is an entity (`surveys`) of one to three [`Question`]s, each a field of
//!   [`SURVEY_FIELDS`] worded in Finnish and English. [`after_write`] runs in the
//!   transaction of every write of surveys (pages, API, imports): it refuses bad
//!   questions by row and reason and, when a survey's questions differ from its newest
//!   `survey_versions` row, adds the next version and sets `surveys.version`. Answers
//!   keep the version they answered (`feedback.survey_version`).
//! - A personal link is `{public_url}/s/{token}`: [`sign_link`] puts [`LinkClaims`]
//!   (survey, customer, a random token id, expiry) in URL-safe base64 and signs it with
//!   HMAC-SHA256 under [`Core::survey_key`] (the configured `security.secret_key`, else
//!   a random key kept once in the store); [`verify_link`] refuses an altered token
//!   (`BadSignature`). Expiry and single use are the answer's business.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use kanta_domain::schema::{
    CUSTOMERS, FEEDBACK, Field, SURVEY_ANONYMOUS_ASKS, SURVEY_FIELDS, SURVEY_SEND_AFTER,
    SURVEY_STATUSES, SURVEYS,
};
use kanta_domain::{Value, WriteBatch};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::access::{Role, require};
use crate::feedback_settings::FeedbackRules;
use crate::write::{WriteTx, change, run_info};
use crate::{Acting, Channel, Core, CoreError, Problem, Result};

/// One question of a survey: the answer's field (one of [`SURVEY_FIELDS`]) and its
/// wording in Finnish and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub field: String,
    pub fi: String,
    pub en: String,
}

impl Question {
    /// The wording in `lang` (`fi`, else English).
    pub fn text(&self, lang: &str) -> &str {
        if lang == "fi" { &self.fi } else { &self.en }
    }
}

/// Seed 001's survey: how likely to recommend, what we did well, what we should do
/// better.
pub fn default_questions() -> Vec<Question> {
    let q = |field: &str, fi: &str, en: &str| Question {
        field: field.into(),
        fi: fi.into(),
        en: en.into(),
    };
    vec![
        q(
            "nps",
            "Kuinka todennäköisesti suosittelisit meitä ystävällesi tai kollegallesi?",
            "How likely are you to recommend us to a friend or colleague?",
        ),
        q("did_well", "Mitä teimme hyvin?", "What did we do well?"),
        q(
            "do_better",
            "Mitä voisimme tehdä paremmin?",
            "What should we do better?",
        ),
    ]
}

/// What a personal survey link carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The survey (internal id).
    pub survey_id: i64,
    /// The customer asked (internal id); `None` for a link to no one in particular.
    pub customer_id: Option<i64>,
    /// The link's random id ([`new_token_id`]): single use is kept by it.
    pub token_id: String,
    /// When the link stops being answerable (epoch milliseconds).
    pub expires_ms: i64,
}

/// Why a token is not a link we made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token's shape at all.
    #[error("the link is not a survey link")]
    Malformed,
    /// Well formed, but not signed by our key: altered, or made elsewhere.
    #[error("the link has been altered")]
    BadSignature,
}

type HmacSha256 = Hmac<Sha256>;

/// Version tag of the claims' text (a later format can be told apart).
const CLAIMS_VERSION: &str = "1";

fn mac(key: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(payload);
    m
}

/// The token of a personal link: the claims (`1:survey:customer:expires:token id`) in
/// URL-safe base64 without padding, a dot, and the HMAC-SHA256 of that text under `key`
/// in the same encoding. Only `A-Z a-z 0-9 - _ .` appear in it.
pub fn sign_link(key: &[u8], c: &LinkClaims) -> String {
    let customer = c.customer_id.map(|i| i.to_string()).unwrap_or_default();
    let text = format!(
        "{CLAIMS_VERSION}:{}:{customer}:{}:{}",
        c.survey_id, c.expires_ms, c.token_id
    );
    let payload = URL_SAFE_NO_PAD.encode(text.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac(key, payload.as_bytes()).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// The claims of a token [`sign_link`] made under `key`. Any change to the token's text
/// is [`LinkError::BadSignature`]; a string that is no token at all,
/// [`LinkError::Malformed`]. Expiry is not checked here (the answer page says so in
/// its own words).
pub fn verify_link(key: &[u8], token: &str) -> Result<LinkClaims, LinkError> {
    let token = token.trim();
    if token.len() > 1024 {
        return Err(LinkError::Malformed);
    }
    let (payload, sig) = token.split_once('.').ok_or(LinkError::Malformed)?;
    if payload.is_empty() || sig.contains('.') {
        return Err(LinkError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::BadSignature)?;
    mac(key, payload.as_bytes())
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)?;
    let text = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| LinkError::Malformed)?;
    let text = String::from_utf8(text).map_err(|_| LinkError::Malformed)?;
    let mut parts = text.splitn(5, ':');
    let mut next = || parts.next().ok_or(LinkError::Malformed);
    if next()? != CLAIMS_VERSION {
        return Err(LinkError::Malformed);
    }
    let survey_id = next()?.parse().map_err(|_| LinkError::Malformed)?;
    let customer_id = match next()? {
        "" => None,
        c => Some(c.parse().map_err(|_| LinkError::Malformed)?),
    };
    let expires_ms = next()?.parse().map_err(|_| LinkError::Malformed)?;
    let token_id = next()?.to_string();
    if token_id.is_empty() {
        return Err(LinkError::Malformed);
    }
    Ok(LinkClaims {
        survey_id,
        customer_id,
        token_id,
        expires_ms,
    })
}

/// A new random token id: 16 random bytes in hex.
pub fn new_token_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The settings row that keeps the generated signing key (hidden from the settings
/// page and API: not a store setting).
pub const SIGNING_KEY_SETTING: &str = "survey_signing_key";

/// Percent-encodes a path segment (RFC 3986 unreserved characters kept).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Core {
    /// The key that signs survey links: the configured `security.secret_key`, else a
    /// random key created once in the store (settings row [`SIGNING_KEY_SETTING`],
    /// inserted only if absent so that every instance on the store agrees).
    pub async fn survey_key(&self) -> Result<Vec<u8>> {
        if let Some(k) = &self.links().secret_key
            && !k.expose().is_empty()
        {
            return Ok(k.expose().as_bytes().to_vec());
        }
        if let Some(k) = self.store_settings().await?.value(SIGNING_KEY_SETTING)
            && !k.is_empty()
        {
            return Ok(k.as_bytes().to_vec());
        }
        let fresh = crate::secrets::new_secret();
        let acting = Acting::job("survey.key");
        let mut entry = acting.audit("settings", Some(SIGNING_KEY_SETTING), "create");
        entry.details = serde_json::json!({ "note": "a random key for signing survey links" });
        let key = self
            .store()
            .setting_or_insert(SIGNING_KEY_SETTING, &fresh, &entry)
            .await?;
        Ok(key.into_bytes())
    }

    /// The answer page of a personal link: `{public_url}/s/{token}`.
    pub fn survey_url(&self, token: &str) -> String {
        format!("{}/s/{token}", self.links().public_url)
    }

    /// The anonymous answer page of a survey (the QR code's):
    /// `{public_url}/q/{survey's external id}`.
    pub fn survey_qr_url(&self, survey: &str) -> String {
        format!("{}/q/{}", self.links().public_url, path_segment(survey))
    }

    /// The one-click unsubscribe page of a personal link (also the mail's
    /// `List-Unsubscribe`): `{public_url}/s/{token}/unsubscribe`.
    pub fn survey_unsubscribe_url(&self, token: &str) -> String {
        format!("{}/s/{token}/unsubscribe", self.links().public_url)
    }
}

/// The longest wording of a question, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
/// The longest free-text answer kept, in characters.
pub const MAX_ANSWER_CHARS: usize = 4000;

/// The questions of a survey from their JSON text, checked: one to three, each a
/// distinct field of [`SURVEY_FIELDS`] worded in both languages (at most
/// [`MAX_QUESTION_CHARS`] each). The reason names the question and what is wrong.
pub fn parse_questions(text: &str) -> std::result::Result<Vec<Question>, String> {
    let qs: Vec<Question> = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a JSON list of questions like [{{\"field\": \"nps\", \"fi\": \"...\", \"en\": \"...\"}}]: {e}"
        )
    })?;
    check_questions(qs)
}

/// Why a survey's questions are refused: each kind has an English text (its
/// `Display`, what the API and the command line say) and a key for the pages
/// ([`QuestionError::key`], `surveys.error.*`, with `{n}`, `{field}` and `{max}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuestionError {
    /// No question at all.
    NoQuestion,
    /// More than three.
    TooMany(usize),
    /// Question `n` (1-based) asks for no field of [`SURVEY_FIELDS`].
    NotAField { n: usize, field: String },
    /// Question `n` asks for a field an earlier one asks for.
    Twice { n: usize, field: String },
    /// Question `n` has no wording in `lang` (`fi` or `en`).
    NoWording {
        n: usize,
        field: String,
        lang: &'static str,
    },
    /// Question `n`'s wording in `lang` is longer than [`MAX_QUESTION_CHARS`].
    TooLong {
        n: usize,
        field: String,
        lang: &'static str,
    },
}

fn language_name(lang: &str) -> &'static str {
    if lang == "fi" { "Finnish" } else { "English" }
}

impl std::fmt::Display for QuestionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuestionError::NoQuestion => write!(f, "choose at least one question"),
            QuestionError::TooMany(k) => {
                write!(f, "a survey asks one to three questions, not {k}")
            }
            QuestionError::NotAField { n, field } if field.is_empty() => {
                write!(
                    f,
                    "question {n}: choose what it asks; the fields are {}",
                    SURVEY_FIELDS.join(", ")
                )
            }
            QuestionError::NotAField { n, field } => write!(
                f,
                "question {n}: '{}' is not a survey field; the fields are {}",
                kanta_domain::value::excerpt(field),
                SURVEY_FIELDS.join(", ")
            ),
            QuestionError::Twice { n, field } => {
                write!(f, "question {n}: '{field}' is asked twice")
            }
            QuestionError::NoWording { n, field, lang } => write!(
                f,
                "question {n} ('{field}') has no {} wording",
                language_name(lang)
            ),
            QuestionError::TooLong { n, field, lang } => write!(
                f,
                "question {n} ('{field}'): the {} wording is longer than {MAX_QUESTION_CHARS} characters",
                language_name(lang)
            ),
        }
    }
}

impl QuestionError {
    /// The pages' text key (`surveys.error.*`; its `{n}`, `{field}` and `{max}` are
    /// [`QuestionError::args`]).
    pub fn key(&self) -> &'static str {
        match self {
            QuestionError::NoQuestion => "surveys.error.no-question",
            QuestionError::TooMany(_) => "surveys.error.too-many",
            QuestionError::NotAField { field, .. } if field.is_empty() => "surveys.error.no-field",
            QuestionError::NotAField { .. } => "surveys.error.not-a-field",
            QuestionError::Twice { .. } => "surveys.error.twice",
            QuestionError::NoWording { lang: "fi", .. } => "surveys.error.no-fi",
            QuestionError::NoWording { .. } => "surveys.error.no-en",
            QuestionError::TooLong { lang: "fi", .. } => "surveys.error.long-fi",
            QuestionError::TooLong { .. } => "surveys.error.long-en",
        }
    }

    /// The values of the key's placeholders.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("max", MAX_QUESTION_CHARS.to_string())];
        match self {
            QuestionError::NoQuestion => {}
            QuestionError::TooMany(k) => out.push(("n", k.to_string())),
            QuestionError::NotAField { n, field }
            | QuestionError::Twice { n, field }
            | QuestionError::NoWording { n, field, .. }
            | QuestionError::TooLong { n, field, .. } => {
                out.push(("n", n.to_string()));
                out.push(("field", kanta_domain::value::excerpt(field)));
            }
        }
        out
    }
}

/// [`parse_questions`] for questions already read: trimmed and checked.
pub fn check_questions(qs: Vec<Question>) -> std::result::Result<Vec<Question>, String> {
    checked_questions(qs).map_err(|e| e.to_string())
}

/// [`check_questions`] with the reason as a [`QuestionError`].
pub fn checked_questions(qs: Vec<Question>) -> std::result::Result<Vec<Question>, QuestionError> {
    if qs.is_empty() {
        return Err(QuestionError::NoQuestion);
    }
    if qs.len() > 3 {
        return Err(QuestionError::TooMany(qs.len()));
    }
    let mut out: Vec<Question> = Vec::with_capacity(qs.len());
    for (i, q) in qs.into_iter().enumerate() {
        let n = i + 1;
        let field = q.field.trim().to_lowercase();
        if !SURVEY_FIELDS.contains(&field.as_str()) {
            return Err(QuestionError::NotAField { n, field });
        }
        if out.iter().any(|o| o.field == field) {
            return Err(QuestionError::Twice { n, field });
        }
        let (fi, en) = (q.fi.trim().to_string(), q.en.trim().to_string());
        for (text, lang) in [(&fi, "fi"), (&en, "en")] {
            if text.is_empty() {
                return Err(QuestionError::NoWording { n, field, lang });
            }
            if text.chars().count() > MAX_QUESTION_CHARS {
                return Err(QuestionError::TooLong { n, field, lang });
            }
        }
        out.push(Question { field, fi, en });
    }
    Ok(out)
}

/// The questions as the store keeps them (compact JSON).
pub fn questions_json(qs: &[Question]) -> String {
    serde_json::to_string(qs).expect("questions serialise")
}

/// Runs in the transaction of every write of surveys (pages, API, imports): refuses a
/// survey whose questions are not one to three good ones ([`parse_questions`], the
/// problem naming the survey and the field `questions`), and, when a survey's
/// questions differ from its newest `survey_versions` row (or it has none), adds the
/// next version and sets `surveys.version` to it.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = tx.writer_mut().surveys_to_version(ids).await?;
    let mut problems = Vec::new();
    let mut changes = Vec::new();
    for r in rows {
        let qs = match parse_questions(&r.questions) {
            Ok(qs) => qs,
            Err(reason) => {
                problems.push(Problem {
                    index: ids.iter().position(|i| *i == r.external_id),
                    field: "questions".into(),
                    reason: format!("survey '{}': {reason}", r.external_id),
                });
                continue;
            }
        };
        match r.newest {
            Some((v, q)) if parse_questions(&q).ok().as_ref() == Some(&qs) => {
                if r.version != v {
                    changes.push((r.id, v, None));
                }
            }
            Some((v, _)) => changes.push((r.id, v + 1, Some(questions_json(&qs)))),
            None => changes.push((r.id, 1, Some(questions_json(&qs)))),
        }
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems));
    }
    let now = chrono::Utc::now().timestamp_millis();
    for (id, version, questions) in changes {
        match questions {
            Some(q) => {
                tx.writer_mut()
                    .add_survey_version(id, version, &q, now)
                    .await?
            }
            None => tx.writer_mut().set_survey_version(id, version).await?,
        }
    }
    Ok(())
}

/// A survey as pages, the API and the command line show it.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyView {
    pub id: String,
    pub name: String,
    pub status: String,
    pub questions: Vec<Question>,
    pub version: i64,
    pub send_after: String,
    pub send_after_days: i64,
    pub anonymous_asks: String,
    pub answers: i64,
    /// The QR code's anonymous page.
    pub qr_url: String,
}

/// One version of a survey's questions.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyVersion {
    pub version: i64,
    pub questions: Vec<Question>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A survey as a manager makes or changes it (`None`: as it is, or the default).
#[derive(Debug, Clone, Default)]
pub struct SurveyInput {
    pub name: Option<String>,
    pub questions: Option<Vec<Question>>,
    pub anonymous_asks: Option<String>,
    pub send_after: Option<String>,
    pub send_after_days: Option<i64>,
}

/// Where an answer comes from, as `feedback.channel` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerChannel {
    /// A personal link (`email` when its invitation was mailed, else `link`).
    Link,
    /// The QR code's anonymous page.
    Qr,
}

/// Whether a link or survey can be answered, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Open for an answer.
    Open,
    /// Answered just now.
    Answered,
    /// The link's time is over.
    Expired,
    /// The token was altered or made elsewhere.
    Altered,
    /// Not a link at all.
    Malformed,
    /// The link has been answered already.
    Used,
    /// The survey is not active (a draft or closed) or no longer exists.
    Closed,
    /// There is no survey by that id (the QR page of a mistyped address).
    Unknown,
}

/// What a public page shows of a survey.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSurvey {
    pub survey: String,
    pub version: i64,
    pub questions: Vec<Question>,
    /// The customer's language, when known.
    pub locale: Option<String>,
    /// The customer's first name (a person) or company name.
    pub name: Option<String>,
    /// What the anonymous page asks: none, loyalty, email.
    pub asks: String,
    /// Whether the customer has withdrawn survey consent.
    pub unsubscribed: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A public page's state: its gate and, when known, the survey.
#[derive(Debug, Clone, Serialize)]
pub struct PublicView {
    pub gate: Gate,
    pub survey: Option<PublicSurvey>,
    /// The answer's id (feedback), when one was just written.
    pub answer_id: Option<String>,
}

impl PublicView {
    fn gate(gate: Gate) -> PublicView {
        PublicView {
            gate,
            survey: None,
            answer_id: None,
        }
    }
}

/// The answers a customer gave: field → text as typed (`"7"`, `"yes"`, words).
pub type AnswerInput = std::collections::BTreeMap<String, String>;

fn view(r: kanta_store::surveys::SurveyRow, core: &Core) -> SurveyView {
    SurveyView {
        qr_url: core.survey_qr_url(&r.external_id),
        questions: parse_questions(&r.questions).unwrap_or_default(),
        id: r.external_id,
        name: r.name,
        status: r.status,
        version: r.version,
        send_after: r.send_after,
        send_after_days: r.send_after_days,
        anonymous_asks: r.anonymous_asks,
        answers: r.answers,
    }
}

fn choice(field: &str, v: &str, allowed: &[&str]) -> Result<Value> {
    let t = v.trim();
    if allowed.contains(&t) {
        Ok(Value::Text(t.to_string()))
    } else {
        Err(CoreError::invalid(
            field,
            format!(
                "'{}' is not one of {}",
                kanta_domain::value::excerpt(t),
                allowed.join(", ")
            ),
        ))
    }
}

/// One answer's value, checked against its field: NPS 0-10, CSAT 1-5, CES 1-7, a yes or
/// no, or text; `None` when left empty.
pub fn answer_value(field: &str, raw: &str) -> Result<Option<Value>> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let range = match field {
        "nps" => Some((0, 10)),
        "csat" => Some((1, 5)),
        "ces" => Some((1, 7)),
        _ => None,
    };
    if let Some((lo, hi)) = range {
        return match t.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(Value::Int(n))),
            _ => Err(CoreError::invalid(
                field,
                format!(
                    "'{}' is not a whole number from {lo} to {hi}",
                    kanta_domain::value::excerpt(t)
                ),
            )),
        };
    }
    if field == "yes_no" {
        return match kanta_domain::value::parse_bool(t) {
            Ok(b) => Ok(Some(Value::Bool(b))),
            Err(_) => Err(CoreError::invalid(
                field,
                format!("'{}' is not yes or no", kanta_domain::value::excerpt(t)),
            )),
        };
    }
    if t.chars().count() > MAX_ANSWER_CHARS {
        return Err(CoreError::invalid(
            field,
            format!("the answer is longer than {MAX_ANSWER_CHARS} characters"),
        ));
    }
    Ok(Some(Value::Text(t.to_string())))
}

/// A field's default as a value (`Null` without one).
fn default_of(f: &Field) -> Value {
    match (f.default, f.kind) {
        (None, _) => Value::Null,
        (Some(d), kanta_domain::schema::Kind::Int { .. }) => {
            d.parse().map_or(Value::Null, Value::Int)
        }
        (Some(d), _) => Value::Text(d.to_string()),
    }
}

fn display_name(name: Option<&str>, kind: Option<&str>) -> Option<String> {
    let n = name.map(str::trim).filter(|n| !n.is_empty())?;
    match kind {
        Some("company") => Some(n.to_string()),
        _ => crate::goals::first_name(n),
    }
}

/// The feedback row's external id of a personal link's answer (one per link).
fn link_answer_id(token_id: &str) -> String {
    format!("svy-{token_id}")
}

impl Core {
    /// Every survey with its answers, newest first (everyone signed in).
    pub async fn surveys(&self, acting: &Acting) -> Result<Vec<SurveyView>> {
        require(acting, Role::Viewer)?;
        let rows = self.store.surveys().await?;
        Ok(rows.into_iter().map(|r| view(r, self)).collect())
    }

    /// One survey (everyone signed in).
    pub async fn survey(&self, acting: &Acting, id: &str) -> Result<SurveyView> {
        require(acting, Role::Viewer)?;
        self.store
            .survey(id)
            .await?
            .map(|r| view(r, self))
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{id}'")))
    }

    /// The versions of a survey's questions, newest first (everyone signed in).
    pub async fn survey_versions(&self, acting: &Acting, id: &str) -> Result<Vec<SurveyVersion>> {
        require(acting, Role::Viewer)?;
        let s = self
            .store
            .survey(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{id}'")))?;
        let rows = self.store.survey_versions(s.id).await?;
        Ok(rows
            .into_iter()
            .map(|v| SurveyVersion {
                version: v.version,
                questions: parse_questions(&v.questions).unwrap_or_default(),
                created_at: chrono::DateTime::from_timestamp_millis(v.created_ms)
                    .unwrap_or_default(),
            })
            .collect())
    }

    fn survey_values(
        &self,
        input: &SurveyInput,
        creating: bool,
    ) -> Result<(Vec<&'static Field>, Vec<Value>)> {
        let mut fields = Vec::new();
        let mut values = Vec::new();
        let field = |n: &str| SURVEYS.field(n).expect("schema");
        let name = match &input.name {
            Some(n) => Some(n.trim().to_string()),
            None if creating => Some(String::new()),
            None => None,
        };
        if let Some(n) = name {
            if n.is_empty() {
                return Err(CoreError::invalid("name", "a survey needs a name"));
            }
            fields.push(field("name"));
            values.push(Value::Text(n));
        }
        let questions = match &input.questions {
            Some(q) => Some(q.clone()),
            None if creating => Some(default_questions()),
            None => None,
        };
        if let Some(q) = questions {
            let q = check_questions(q).map_err(|r| CoreError::invalid("questions", r))?;
            fields.push(field("questions"));
            values.push(Value::Text(questions_json(&q)));
        }
        if let Some(a) = &input.anonymous_asks {
            fields.push(field("anonymous_asks"));
            values.push(choice("anonymous_asks", a, SURVEY_ANONYMOUS_ASKS)?);
        }
        if let Some(a) = &input.send_after {
            fields.push(field("send_after"));
            values.push(choice("send_after", a, SURVEY_SEND_AFTER)?);
        }
        if let Some(d) = input.send_after_days {
            if !(0..=365).contains(&d) {
                return Err(CoreError::invalid(
                    "send_after_days",
                    format!("{d} is not a number of days from 0 to 365"),
                ));
            }
            fields.push(field("send_after_days"));
            values.push(Value::Int(d));
        }
        if creating {
            fields.push(field("status"));
            values.push(Value::Text("draft".into()));
        }
        Ok((fields, values))
    }

    /// Creates a survey as a draft (managers): the default questions unless others are
    /// given; `id` made from the name when not given. Returns its id.
    pub async fn create_survey(
        &self,
        acting: &Acting,
        id: Option<&str>,
        input: SurveyInput,
    ) -> Result<String> {
        require(acting, Role::Manager)?;
        let (fields, values) = self.survey_values(&input, true)?;
        let id = match id.map(str::trim).filter(|i| !i.is_empty()) {
            Some(i) => i.to_string(),
            None => format!("survey-{}", crate::onboarding::short_id()),
        };
        let all: Vec<&'static Field> = SURVEYS.fields.iter().collect();
        let full: Vec<Value> = all
            .iter()
            .map(|f| {
                fields
                    .iter()
                    .position(|g| g.name == f.name)
                    .map_or_else(|| default_of(f), |k| values[k].clone())
            })
            .collect();
        self.create_record(acting, &SURVEYS, &id, full).await?;
        Ok(id)
    }

    /// Changes a survey's name, questions (a new version when they differ), what the
    /// anonymous page asks, or its trigger (managers).
    pub async fn update_survey(&self, acting: &Acting, id: &str, input: SurveyInput) -> Result<()> {
        require(acting, Role::Manager)?;
        let (fields, values) = self.survey_values(&input, false)?;
        if fields.is_empty() {
            return Err(CoreError::invalid("name", "nothing to change"));
        }
        self.update_record(acting, &SURVEYS, id, fields, values)
            .await?;
        Ok(())
    }

    /// Sets a survey's status: `active` (answerable, sendable) or `closed` (managers).
    pub async fn set_survey_status(&self, acting: &Acting, id: &str, status: &str) -> Result<()> {
        require(acting, Role::Manager)?;
        let v = choice("status", status, SURVEY_STATUSES)?;
        let f = SURVEYS.field("status").expect("schema");
        self.update_record(acting, &SURVEYS, id, vec![f], vec![v])
            .await?;
        Ok(())
    }

    /// A personal link to survey `id` for `customer` (staff), valid for the setting
    /// `survey_link_days`: the answer page's URL.
    pub async fn survey_link(&self, acting: &Acting, id: &str, customer: &str) -> Result<String> {
        require(acting, Role::Staff)?;
        let s = self
            .store
            .survey(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{id}'")))?;
        let known = self
            .store
            .existing_ids(&CUSTOMERS, &[customer.to_string()])
            .await?;
        let Some((_, cid)) = known.into_iter().next() else {
            return Err(CoreError::NotFound(format!(
                "no customer with id '{customer}'"
            )));
        };
        let rules = FeedbackRules::from_settings(&self.store_settings().await?);
        let claims = LinkClaims {
            survey_id: s.id,
            customer_id: Some(cid),
            token_id: new_token_id(),
            expires_ms: (chrono::Utc::now() + chrono::Duration::days(rules.link_days))
                .timestamp_millis(),
        };
        Ok(self.survey_url(&sign_link(&self.survey_key().await?, &claims)))
    }

    /// [`Core::survey_link`] for a customer who has consented to surveys (staff). A
    /// customer whose `survey_consent` is not yes (withdrawn, declined or never asked)
    /// is refused ([`CoreError::Conflict`] on `customer`) unless `ignore_consent`: a
    /// link handed over in person, which the customer chooses to open.
    pub async fn consented_survey_link(
        &self,
        acting: &Acting,
        id: &str,
        customer: &str,
        ignore_consent: bool,
    ) -> Result<String> {
        require(acting, Role::Staff)?;
        if !ignore_consent
            && let Some(r) = self.store.customer(customer).await?
            && r.get("survey_consent") != &Value::Bool(true)
        {
            return Err(CoreError::Conflict {
                field: Some("customer".into()),
                message: format!(
                    "customer {customer} has not consented to surveys; pass --ignore-consent \
                     to make a link to hand over in person"
                ),
            });
        }
        self.survey_link(acting, id, customer).await
    }

    /// What the page of a personal link shows, for no actor: its gate (open, expired,
    /// altered, used, closed) and, when open, the survey in the customer's language.
    pub async fn open_survey_link(&self, token: &str) -> Result<PublicView> {
        self.link_view(token, chrono::Utc::now()).await.map(|x| x.0)
    }

    async fn link_view(
        &self,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(
        PublicView,
        Option<(LinkClaims, kanta_store::surveys::LinkTarget)>,
    )> {
        let key = self.survey_key().await?;
        let claims = match verify_link(&key, token) {
            Ok(c) => c,
            Err(LinkError::BadSignature) => return Ok((PublicView::gate(Gate::Altered), None)),
            Err(LinkError::Malformed) => return Ok((PublicView::gate(Gate::Malformed), None)),
        };
        let Some(t) = self
            .store
            .link_target(claims.survey_id, claims.customer_id, &claims.token_id)
            .await?
        else {
            return Ok((PublicView::gate(Gate::Closed), None));
        };
        let gate = if t.survey.status != "active" {
            Gate::Closed
        } else if t.used {
            Gate::Used
        } else if claims.expires_ms < now.timestamp_millis() {
            Gate::Expired
        } else {
            Gate::Open
        };
        let survey = PublicSurvey {
            survey: t.survey.external_id.clone(),
            version: t.survey.version,
            questions: parse_questions(&t.survey.questions).unwrap_or_default(),
            locale: t.locale.clone(),
            name: display_name(t.customer_name.as_deref(), t.customer_kind.as_deref()),
            asks: "none".into(),
            unsubscribed: t.consent == Some(false),
            expires_at: chrono::DateTime::from_timestamp_millis(claims.expires_ms),
        };
        Ok((
            PublicView {
                gate,
                survey: Some(survey),
                answer_id: None,
            },
            Some((claims, t)),
        ))
    }

    /// Records a customer's answer through their personal link, for no actor but the
    /// link (`Acting::public("survey link")` on `channel`, from `ip`): in ONE
    /// transaction the token is marked used (`survey_tokens_used`: a second answer
    /// finds it and is refused, [`Gate::Used`]), the feedback row is written through the
    /// write path (so the trust ledger, the contact queue and the other rules of an
    /// answer run) and the invitation is marked answered. Bad answers are
    /// [`CoreError::Invalid`] by field; a link that cannot be answered returns its gate.
    pub async fn answer_survey_link(
        &self,
        token: &str,
        input: &AnswerInput,
        lang: &str,
        channel: Channel,
        ip: Option<String>,
    ) -> Result<PublicView> {
        let now = chrono::Utc::now();
        let (mut v, found) = self.link_view(token, now).await?;
        let Some((claims, target)) = found else {
            return Ok(v);
        };
        if v.gate != Gate::Open {
            return Ok(v);
        }
        let questions = v
            .survey
            .as_ref()
            .map(|s| s.questions.clone())
            .unwrap_or_default();
        let values = answers(&questions, input)?;
        let acting = Acting::public("survey link", channel).from_ip(ip);
        let fid = link_answer_id(&claims.token_id);
        let ch = if target.invitation_channel.as_deref() == Some("email") {
            "email"
        } else {
            "link"
        };
        let mut batch_values = values;
        batch_values.customer = target.customer.clone();
        let (fields, row) = feedback_row(&batch_values, &target.survey, lang, ch, now);
        let mut tx = self.begin_write(&acting, &FEEDBACK, fields.clone()).await?;
        let now_ms = now.timestamp_millis();
        if !tx
            .writer_mut()
            .use_survey_token(target.survey.id, &claims.token_id, now_ms)
            .await?
        {
            drop(tx);
            v.gate = Gate::Used;
            return Ok(v);
        }
        let mut batch = WriteBatch::new(&FEEDBACK, fields.clone());
        batch.push(fid.clone(), row.clone());
        tx.write(batch).await?;
        tx.writer_mut()
            .invitation_answered(target.survey.id, &claims.token_id, now_ms, &fid)
            .await?;
        let entry = answer_audit(&acting, &fid, &fields, &row, &target.survey.external_id);
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        v.gate = Gate::Answered;
        v.answer_id = Some(fid);
        Ok(v)
    }

    /// What the QR code's anonymous page of survey `id` shows (no actor).
    pub async fn open_survey_qr(&self, id: &str) -> Result<PublicView> {
        let Some(s) = self.store.survey(id).await? else {
            return Ok(PublicView::gate(Gate::Unknown));
        };
        let gate = if s.status == "active" {
            Gate::Open
        } else {
            Gate::Closed
        };
        Ok(PublicView {
            gate,
            survey: Some(PublicSurvey {
                survey: s.external_id.clone(),
                version: s.version,
                questions: parse_questions(&s.questions).unwrap_or_default(),
                locale: None,
                name: None,
                asks: s.anonymous_asks.clone(),
                unsubscribed: false,
                expires_at: None,
            }),
            answer_id: None,
        })
    }

    /// Records an anonymous answer from the QR code's page of survey `id`: tied to the
    /// customer whose loyalty number (external id) or email `who` is, when the survey
    /// asks for it and one is found; otherwise anonymous. Written through the write path
    /// as `Acting::public("survey qr")`, channel `qr`.
    pub async fn answer_survey_qr(
        &self,
        id: &str,
        input: &AnswerInput,
        who: Option<&str>,
        lang: &str,
        ip: Option<String>,
    ) -> Result<PublicView> {
        let mut v = self.open_survey_qr(id).await?;
        if v.gate != Gate::Open {
            return Ok(v);
        }
        let s = self
            .store
            .survey(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no survey with id '{id}'")))?;
        let questions = v
            .survey
            .as_ref()
            .map(|s| s.questions.clone())
            .unwrap_or_default();
        let mut values = answers(&questions, input)?;
        let who = who.map(str::trim).filter(|w| !w.is_empty());
        if let Some(w) = who {
            let by_email = match s.anonymous_asks.as_str() {
                "email" => true,
                "loyalty" => false,
                _ => w.contains('@'),
            };
            if by_email && !w.contains('@') {
                return Err(CoreError::invalid("who", "this is not an email address"));
            }
            values.customer = self
                .store
                .customer_for_answer(by_email, w)
                .await?
                .map(|c| c.0);
        }
        let now = chrono::Utc::now();
        let acting = Acting::public("survey qr", Channel::Ui).from_ip(ip);
        let fid = format!("qr-{}", new_token_id());
        let (fields, row) = feedback_row(&values, &s, lang, "qr", now);
        let mut tx = self.begin_write(&acting, &FEEDBACK, fields.clone()).await?;
        let mut batch = WriteBatch::new(&FEEDBACK, fields.clone());
        batch.push(fid.clone(), row.clone());
        tx.write(batch).await?;
        let entry = answer_audit(&acting, &fid, &fields, &row, &s.external_id);
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        v.gate = Gate::Answered;
        v.answer_id = Some(fid);
        Ok(v)
    }

    /// What the unsubscribe page of a personal link shows: the link's survey when its
    /// signature holds (expired or used links may still unsubscribe).
    pub async fn open_survey_unsubscribe(&self, token: &str) -> Result<PublicView> {
        let (mut v, found) = self.link_view(token, chrono::Utc::now()).await?;
        if let Some((c, t)) = found {
            v.gate = if c.customer_id.is_some() && t.customer.is_some() {
                Gate::Open
            } else {
                Gate::Closed
            };
        }
        Ok(v)
    }

    /// One-click unsubscribe from surveys through a personal link (RFC 8058): the
    /// customer's `survey_consent` set to false and `survey_consent_at` to now, through
    /// the write path as `Acting::public("survey link")`, audited. Done once; again is
    /// a no-op. Returns the gate (Answered when recorded or already so).
    pub async fn unsubscribe_survey_link(
        &self,
        token: &str,
        channel: Channel,
        ip: Option<String>,
    ) -> Result<PublicView> {
        let (mut v, found) = self.link_view(token, chrono::Utc::now()).await?;
        let Some((_, t)) = found else {
            return Ok(v);
        };
        let Some(customer) = t.customer.clone() else {
            v.gate = Gate::Closed;
            return Ok(v);
        };
        if t.consent != Some(false) {
            let acting = Acting::public("survey link", channel).from_ip(ip);
            let f = |n: &str| CUSTOMERS.field(n).expect("schema");
            self.update_record(
                &acting,
                &CUSTOMERS,
                &customer,
                vec![f("survey_consent"), f("survey_consent_at")],
                vec![Value::Bool(false), Value::Time(chrono::Utc::now())],
            )
            .await?;
        }
        if let Some(s) = v.survey.as_mut() {
            s.unsubscribed = true;
        }
        v.gate = Gate::Answered;
        Ok(v)
    }
}

/// An answer's checked values, and the customer it belongs to.
#[derive(Debug, Default)]
struct Answers {
    values: Vec<(&'static str, Value)>,
    customer: Option<String>,
}

/// Checks the answers to `questions`; refuses an empty answer and fields not asked.
fn answers(questions: &[Question], input: &AnswerInput) -> Result<Answers> {
    let mut out = Answers::default();
    let mut problems = Vec::new();
    for q in questions {
        let Some(field) = SURVEY_FIELDS.iter().find(|f| **f == q.field) else {
            continue;
        };
        let raw = input.get(*field).map(String::as_str).unwrap_or("");
        match answer_value(field, raw) {
            Ok(Some(v)) => out.values.push((field, v)),
            Ok(None) => {}
            Err(CoreError::Invalid(p)) => problems.extend(p),
            Err(e) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Err(CoreError::Invalid(problems));
    }
    if out.values.is_empty() {
        let field = questions.first().map_or("nps", |q| q.field.as_str());
        return Err(CoreError::invalid(field, "answer at least one question"));
    }
    Ok(out)
}

/// The feedback row of an answer: its fields and values.
fn feedback_row(
    a: &Answers,
    s: &kanta_store::surveys::SurveyRow,
    lang: &str,
    channel: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<&'static Field>, Vec<Value>) {
    let names = [
        "customer_id",
        "answered_at",
        "survey_id",
        "survey_version",
        "language",
        "channel",
    ];
    let mut fields: Vec<&'static Field> = names
        .iter()
        .map(|n| FEEDBACK.field(n).expect("schema"))
        .collect();
    let lang = if lang == "fi" { "fi" } else { "en" };
    let mut values = vec![
        a.customer.clone().map_or(Value::Null, Value::Text),
        Value::Time(now),
        Value::Text(s.external_id.clone()),
        Value::Int(s.version),
        Value::Text(lang.into()),
        Value::Text(channel.into()),
    ];
    for (f, v) in &a.values {
        fields.push(FEEDBACK.field(f).expect("schema"));
        values.push(v.clone());
    }
    (fields, values)
}

fn answer_audit(
    acting: &Acting,
    id: &str,
    fields: &[&'static Field],
    row: &[Value],
    survey: &str,
) -> kanta_store::audit::AuditEntry {
    let mut entry = acting.audit(FEEDBACK.name, Some(id), "create");
    let mut changes = serde_json::Map::new();
    for (f, v) in fields.iter().zip(row) {
        if !v.is_null() {
            changes.insert(f.name.into(), change(&Value::Null, v));
        }
    }
    entry.changes = serde_json::Value::Object(changes);
    entry.details = serde_json::json!({ "survey": survey });
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            survey_id: 12,
            customer_id: Some(345),
            token_id: new_token_id(),
            expires_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_signed_link_reads_back() {
        let c = claims();
        let t = sign_link(b"key", &c);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(verify_link(b"key", &t), Ok(c.clone()));
        let anon = LinkClaims {
            customer_id: None,
            ..c
        };
        assert_eq!(verify_link(b"key", &sign_link(b"key", &anon)), Ok(anon));
    }

    #[test]
    fn an_altered_link_is_refused() {
        let c = claims();
        let t = sign_link(b"key", &c);
        // Every single character changed, anywhere, is a bad signature.
        for i in 0..t.len() {
            if t.as_bytes()[i] == b'.' {
                continue;
            }
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(b).unwrap();
            assert_eq!(
                verify_link(b"key", &altered),
                Err(LinkError::BadSignature),
                "position {i}"
            );
        }
        // Another customer's claims with the old signature.
        let other = sign_link(
            b"key",
            &LinkClaims {
                customer_id: Some(346),
                ..c.clone()
            },
        );
        let forged = format!(
            "{}.{}",
            other.split('.').next().unwrap(),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(verify_link(b"key", &forged), Err(LinkError::BadSignature));
        assert_eq!(verify_link(b"other", &t), Err(LinkError::BadSignature));
        assert_eq!(verify_link(b"key", "nonsense"), Err(LinkError::Malformed));
        assert_eq!(verify_link(b"key", ""), Err(LinkError::Malformed));
        assert_eq!(verify_link(b"key", "a.b.c"), Err(LinkError::Malformed));
    }

    #[test]
    fn token_ids_are_random_hex() {
        let a = new_token_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_token_id());
    }

    #[test]
    fn the_default_survey_is_seed_001s() {
        let q = default_questions();
        let fields: Vec<&str> = q.iter().map(|q| q.field.as_str()).collect();
        assert_eq!(fields, ["nps", "did_well", "do_better"]);
        assert_eq!(q[1].fi, "Mitä teimme hyvin?");
        assert_eq!(q[2].en, "What should we do better?");
    }
}
