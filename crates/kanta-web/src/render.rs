//! Turning templates into responses, and small helpers every page needs.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::Me;
use crate::i18n::Tr;

/// Renders a template as an HTML response (500 with a plain message if it fails).
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// The HTML error page: the status's title and `message` in the user's language, with
/// the navigation when someone is signed in (`me`), and a link to the front page.
#[derive(askama::Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub tr: Tr,
    pub me: Option<Me>,
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    /// A technical detail in English (what axum or the parser said), shown small.
    pub detail: Option<&'a str>,
}

/// The title of an error page for `status`, in `tr`'s language.
pub fn error_title(tr: &Tr, status: StatusCode) -> &'static str {
    tr.t(match status.as_u16() {
        400 => "error.400.title",
        403 => "auth.forbidden_title",
        404 => "error.404.title",
        405 => "error.405.title",
        413 => "error.413.title",
        415 | 422 => "error.422.title",
        429 => "error.429.title",
        s if s >= 500 => "error.500.title",
        _ => "error.400.title",
    })
}

/// The pages' error answer: an HTML page with `status`, its title and `message`
/// (already in the user's language: pass `tr.t("KEY")` or a text built from one) and
/// the navigation of `me`. Every handler of a page that refuses a request calls this,
/// so a bad query (`/retention?as_of=garbage`, `/customers?tier=Z`) gets the same page
/// as the router's own errors.
///
/// ```ignore
/// let msg = signed.tr.t("retention.bad_as_of");
/// return crate::render::error_page(signed.tr, Some(signed.me()), StatusCode::BAD_REQUEST, msg);
/// ```
///
/// The API's counterpart is [`crate::api::problem`].
#[allow(dead_code)] // for the page handlers that refuse a request
pub fn error_page(tr: Tr, me: Option<Me>, status: StatusCode, message: &str) -> Response {
    error_page_with(tr, me, status, message, None)
}

/// [`error_page`] with a technical detail shown beneath the message.
pub fn error_page_with(
    tr: Tr,
    me: Option<Me>,
    status: StatusCode,
    message: &str,
    detail: Option<&str>,
) -> Response {
    let page = ErrorPage {
        tr,
        me,
        status: status.as_u16(),
        title: error_title(&tr, status),
        message,
        detail,
    };
    let mut r = render(&page);
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

/// The `tel:` link of a stored phone, from its normalised form (digits, a leading `+`,
/// an extension); `None` for a text that is no phone number (stored before phones were
/// checked), which is then shown as text, never as a link.
pub fn tel_href(phone: &str) -> Option<String> {
    kanta_domain::value::Phone::tel_href(phone)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn urlencode_keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(super::urlencode("a-b_c.d~"), "a-b_c.d~");
        assert_eq!(super::urlencode("/x?y=1&z"), "%2Fx%3Fy%3D1%26z");
        assert_eq!(super::urlencode("ä"), "%C3%A4");
    }
}
