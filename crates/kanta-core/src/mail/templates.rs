//! The mail templates: `templates/mail/{name}.{fi,en}.{txt,html}`, embedded in the
//! binary.
//!
//! The first line of a `.txt` file is the subject (`Subject: ...`); the body starts
//! after the blank line below it. `{{name}}` is replaced by the value of `name`: as it
//! is in the subject and the text, escaped (`& < > " '`) in the HTML. A value is not
//! read again, so a `{{x}}` inside one stays as it is. Every template exists in both
//! languages and both forms, with the same placeholders (a test keeps it so).

use super::{MailError, Message};

/// A language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Fi,
    En,
}

impl Lang {
    /// Every language, Finnish first.
    pub const ALL: [Lang; 2] = [Lang::Fi, Lang::En];

    /// `fi` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fi => "fi",
            Lang::En => "en",
        }
    }

    /// `fi`, `fi-FI`, `suomi`; `en`, `en-GB`, `en-US`, `english`; any case.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fi" | "fi-fi" | "suomi" => Some(Lang::Fi),
            "en" | "en-gb" | "en-us" | "english" => Some(Lang::En),
            _ => None,
        }
    }
}

/// A rendered template: everything of a [`Message`] but the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    /// The message to `to`.
    pub fn to(self, to: impl Into<String>) -> Message {
        Message {
            to: to.into(),
            subject: self.subject,
            text: self.text,
            html: Some(self.html),
        }
    }
}

struct Sources {
    name: &'static str,
    fi_txt: &'static str,
    fi_html: &'static str,
    en_txt: &'static str,
    en_html: &'static str,
}

macro_rules! template {
    ($name:literal) => {
        Sources {
            name: $name,
            fi_txt: include_str!(concat!("../../templates/mail/", $name, ".fi.txt")),
            fi_html: include_str!(concat!("../../templates/mail/", $name, ".fi.html")),
            en_txt: include_str!(concat!("../../templates/mail/", $name, ".en.txt")),
            en_html: include_str!(concat!("../../templates/mail/", $name, ".en.html")),
        }
    };
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        const SOURCES: &[Sources] = &[$(template!($name)),*];

        /// The names of the templates. Their placeholders:
        /// - `test` (`kanta mail test`): `site` (the instance's name), `time` (when sent).
        /// - `job_failed` (to admins, when a background job failed for good): `site`,
        ///   `kind` (the job's kind), `id` (the job's id), `error` (its last error).
        /// - `escalation` (to a customer's owner, else the managers, when a mistake lands
        ///   on a customer in trust deficit): `customer` (name, else id), `customer_id`,
        ///   `reason` (the mistake), `when` (its time in the store's zone), `balance`
        ///   (with the mistake), `case` (the escalation case's id), `path` (its page,
        ///   `/cases/<id>`).
        /// - `sla_warning` (to a case's owner, else the managers, before a target) and
        ///   `sla_breach` (to the managers, after one): `site`, `case` (its id),
        ///   `customer` (name, else id), `category`, `severity`, `step` (first response
        ///   or resolution, in the message's language), `due` (in the store's zone),
        ///   `owner` (the owner's name, else `-`), `path` (the case's page, `/cases/<id>`).
        /// - `queue_digest` (weekly, to each owner with the digest on): `site`, `name` (the
        ///   user's), `week` (`2026-W49`), `total` (their rows in the contact queue),
        ///   `shown` (rows listed), `rows` (one line per customer with the reasons in
        ///   words), `path` (`/today`).
        /// - `survey_invite` (a survey wave's or trigger's invitation, to a customer in
        ///   their language) and `survey_reminder` (its one reminder): `name` (the
        ///   customer's name, else a polite stand-in), `survey` (the survey's name),
        ///   `link` (the personal signed link), `expires` (the link's last day, in the
        ///   store's zone), `unsubscribe` (the one-click unsubscribe page).
        /// - `kudos_weekly` (Mondays, to each staff member customers named the week
        ///   before): `site`, `name` (their first name), `week` (`2026-W48`), `count`
        ///   (their kudos that week), `items` (one line per answer: its day and words),
        ///   `path` (`/thanks`).
        /// - `offer` (an offer's mail to its offer group, in the customer's language):
        ///   `name` (the customer's name, else a polite stand-in), `offer` (its name),
        ///   `text` (the offer's text), `code` (`Koodi: X` / `Code: X`, or empty),
        ///   `valid_until` (its last day), `unsubscribe` (the signed one-click page that
        ///   turns marketing consent off).
        pub const TEMPLATES: &[&str] = &[$($name),*];
    };
}

templates!(
    "test",
    "job_failed",
    "escalation",
    "sla_warning",
    "sla_breach",
    "queue_digest",
    "survey_invite",
    "survey_reminder",
    "kudos_weekly",
    "offer"
);

/// Renders the template `template` in `lang` with the values `vars` (name, value).
/// Values no placeholder uses are ignored; a placeholder without a value is an error.
pub fn render(template: &str, lang: Lang, vars: &[(&str, &str)]) -> Result<Rendered, MailError> {
    let error = |reason: String| MailError::Template {
        template: format!("{template} ({})", lang.code()),
        reason,
    };
    let sources =
        SOURCES
            .iter()
            .find(|s| s.name == template)
            .ok_or_else(|| MailError::Template {
                template: template.to_string(),
                reason: format!("no such template (there are: {})", TEMPLATES.join(", ")),
            })?;
    let (txt, html) = match lang {
        Lang::Fi => (sources.fi_txt, sources.fi_html),
        Lang::En => (sources.en_txt, sources.en_html),
    };
    let (first, body) = txt.split_once('\n').unwrap_or((txt, ""));
    let Some(subject) = first.trim_end().strip_prefix("Subject:") else {
        return Err(error(
            "the first line of the .txt file is not 'Subject: ...'".to_string(),
        ));
    };
    let subject = fill(subject.trim(), vars, false).map_err(&error)?;
    // A subject is one line, whatever the values hold.
    let subject = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let body = body.strip_prefix('\n').unwrap_or(body);
    Ok(Rendered {
        subject,
        text: fill(body, vars, false).map_err(&error)?,
        html: fill(html, vars, true).map_err(&error)?,
    })
}

/// Replaces each `{{name}}` of `source` by its value, HTML-escaped when `escape`.
fn fill(source: &str, vars: &[(&str, &str)], escape: bool) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 64);
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a '{{' has no closing '}}'".to_string())?;
        let name = after[..end].trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("'{{{{{name}}}}}' is not a placeholder"));
        }
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("no value for the placeholder {{{{{name}}}}}"))?;
        if escape {
            escape_html(value, &mut out);
        } else {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}
