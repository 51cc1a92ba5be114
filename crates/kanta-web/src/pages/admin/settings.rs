//! `/admin/settings`: the store settings (currency, time zone, language, business
//! hours) as one form. Managers and admins change them; staff and viewers get the 403
//! page (the settings are the managers' tool, and nothing on them is needed to serve a
//! customer). Every value is checked by the core's own rule before anything is saved,
//! so a form with one bad value saves nothing and comes back (422) with the reason by
//! the field; the changed values are then saved one by one through
//! `Core::set_store_setting`, each audited with its value before and after.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::CoreError;
use kanta_core::access::SETTINGS;
use kanta_core::settings::{STORE_SETTINGS, ShownStoreSetting};
use serde::Deserialize;

use super::Frame;
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::{Lang, Tr};
use crate::pages::{PageError, core_error, render_status, see_other};

/// The page's query string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    saved: Option<String>,
}

/// One setting's field.
pub(crate) struct FieldView {
    key: &'static str,
    label: String,
    help: String,
    value: String,
    /// Nothing stored: the configuration's default applies.
    default: bool,
    error: Option<String>,
    /// The values to choose from (the language), else a text field.
    choices: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
pub(crate) struct SettingsPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    fields: Vec<FieldView>,
    saved: bool,
}

/// Why a value was refused, in the page's language: the core's own sentence in
/// English, the setting's explanation in Finnish.
fn reason(tr: &Tr, key: &str, core_reason: String) -> String {
    match tr.lang {
        Lang::En => core_reason,
        Lang::Fi => tr.text_or(&format!("settings.{key}.invalid"), &core_reason),
    }
}

/// The fields: the values in force, or as sent with their errors.
fn fields(
    tr: &Tr,
    shown: &[ShownStoreSetting],
    sent: Option<&HashMap<String, String>>,
    errors: &[(&'static str, String)],
) -> Vec<FieldView> {
    shown
        .iter()
        .map(|s| FieldView {
            key: s.key,
            label: tr.text_or(&format!("settings.{}", s.key), s.key),
            help: tr.text_or(&format!("settings.{}.help", s.key), s.description),
            value: sent
                .and_then(|f| f.get(s.key))
                .map_or_else(|| s.value.clone(), |v| v.trim().to_string()),
            default: !s.set,
            error: errors
                .iter()
                .find(|(k, _)| *k == s.key)
                .map(|(_, e)| e.clone()),
            choices: match s.key {
                "language" => ["fi", "en"].into_iter().map(|l| (l, tr.value(l))).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let Frame { tr, me, csrf } = Frame::open(&signed, SETTINGS)?;
    let shown = s.core.shown_store_settings().await?;
    let v = SettingsPage {
        fields: fields(&tr, &shown, None, &[]),
        saved: q.saved.is_some(),
        tr,
        me,
        csrf,
    };
    Ok(render_status(&v, StatusCode::OK))
}

/// The form: every value checked first (nothing saved when one is bad), then each
/// changed one saved through the core, then 303 back with a notice.
pub(crate) async fn save(
    State(s): State<AppState>,
    signed: SignedIn,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let csrf = form.get("csrf").map_or("", String::as_str);
    let Frame { tr, me, csrf } = Frame::post(&signed, SETTINGS, csrf)?;
    let shown = s.core.shown_store_settings().await?;
    let mut errors = Vec::new();
    let mut changed = Vec::new();
    for d in STORE_SETTINGS {
        let Some(text) = form.get(d.key) else {
            continue;
        };
        match (d.parse)(text) {
            Ok(value) => {
                if shown.iter().all(|x| x.key != d.key || x.value != value) {
                    changed.push((d.key, text.as_str()));
                }
            }
            Err(why) => errors.push((d.key, reason(&tr, d.key, why))),
        }
    }
    if errors.is_empty() {
        let acting = signed.acting();
        for (key, text) in changed {
            match s.core.set_store_setting(&acting, key, text).await {
                Ok(_) => {}
                Err(CoreError::Invalid(problems)) => {
                    errors.extend(
                        problems
                            .into_iter()
                            .map(|p| (key, reason(&tr, key, p.reason))),
                    );
                    break;
                }
                Err(e) => return Err(core_error(&signed)(e)),
            }
        }
        if errors.is_empty() {
            return Ok(see_other("/admin/settings?saved=1".into()));
        }
    }
    let v = SettingsPage {
        fields: fields(&tr, &shown, Some(&form), &errors),
        saved: false,
        tr,
        me,
        csrf,
    };
    Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_label_a_help_and_a_reason_in_both_languages() {
        for lang in [Lang::Fi, Lang::En] {
            let tr = Tr::new(lang);
            for d in STORE_SETTINGS {
                for key in [
                    format!("settings.{}", d.key),
                    format!("settings.{}.help", d.key),
                    format!("settings.{}.invalid", d.key),
                ] {
                    assert_ne!(tr.text_or(&key, ""), "", "{}: {key}", lang.code());
                }
            }
        }
    }
}
