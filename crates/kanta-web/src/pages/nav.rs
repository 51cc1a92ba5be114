//! The main navigation: the areas that exist, each one line. An area appears only
//! once it is built (no dead links, no placeholder pages), and only to the roles that
//! may use it. `templates/nav.html` shows the links; a page marks its area current by
//! overriding base.html's `nav` block with `{% let area = "ID" %}{% include "nav.html" %}`.

use kanta_core::access::{ADMIN_AREA, SETTINGS};
use kanta_store::accounts::Role;

use crate::auth::Me;
use crate::i18n::Tr;

/// One area of the UI.
pub struct Area {
    /// What a page passes as its `area`, to mark the link current.
    pub id: &'static str,
    pub href: &'static str,
    /// The i18n key of the link's text.
    pub label: &'static str,
    /// The least role that sees the area.
    pub min_role: Role,
}

/// The areas, in the order of the navigation. A later issue adds its area here with
/// one line (contact queue, retention, value, feedback, cases, surveys, settings).
pub const AREAS: &[Area] = &[
    Area {
        id: "today",
        href: "/today",
        label: "nav.today",
        min_role: Role::Viewer,
    },
    Area {
        id: "customers",
        href: "/customers",
        label: "nav.customers",
        min_role: Role::Viewer,
    },
    Area {
        id: "cases",
        href: "/cases",
        label: "nav.cases",
        min_role: Role::Viewer,
    },
    Area {
        id: "onboarding",
        href: "/onboarding",
        label: "nav.onboarding",
        min_role: Role::Viewer,
    },
    Area {
        id: "retention",
        href: "/retention",
        label: "nav.retention",
        min_role: Role::Viewer,
    },
    Area {
        id: "value",
        href: "/value",
        label: "nav.value",
        min_role: Role::Viewer,
    },
    Area {
        id: "offers",
        href: "/offers",
        label: "nav.offers",
        min_role: Role::Viewer,
    },
    Area {
        id: "owners",
        href: "/owners",
        label: "nav.owners",
        min_role: Role::Viewer,
    },
    Area {
        id: "health",
        href: "/health",
        label: "nav.health",
        min_role: Role::Viewer,
    },
    Area {
        id: "endings",
        href: "/endings",
        label: "nav.endings",
        min_role: Role::Staff,
    },
    Area {
        id: "service",
        href: "/service",
        label: "nav.service",
        min_role: Role::Viewer,
    },
    Area {
        id: "feedback",
        href: "/feedback",
        label: "nav.feedback",
        min_role: Role::Viewer,
    },
    Area {
        id: "surveys",
        href: "/surveys",
        label: "nav.surveys",
        min_role: Role::Viewer,
    },
    Area {
        id: "thanks",
        href: "/thanks",
        label: "nav.thanks",
        min_role: Role::Viewer,
    },
    Area {
        id: "ideas",
        href: "/ideas",
        label: "nav.ideas",
        min_role: Role::Viewer,
    },
    Area {
        id: "claims",
        href: "/claims",
        label: "nav.claims",
        min_role: Role::Manager,
    },
    Area {
        id: "kudos",
        href: "/kudos",
        label: "nav.kudos",
        min_role: Role::Manager,
    },
    Area {
        id: "settings",
        href: "/admin/settings",
        label: "nav.settings",
        min_role: SETTINGS,
    },
    Area {
        id: "users",
        href: "/admin/users",
        label: "nav.users",
        min_role: Role::Admin,
    },
    Area {
        id: "tokens",
        href: "/admin/tokens",
        label: "nav.tokens",
        min_role: Role::Admin,
    },
    Area {
        id: "audit",
        href: "/admin/audit",
        label: "nav.audit",
        min_role: ADMIN_AREA,
    },
    Area {
        id: "jobs",
        href: "/admin/jobs",
        label: "nav.jobs",
        min_role: ADMIN_AREA,
    },
];

tokio::task_local! {
    /// The query of the page being answered (a GET's; none for a form's POST), for
    /// the language switch.
    static PAGE_QUERY: Option<String>;
}

/// Middleware: remembers the request's query while the page is answered, so that
/// [`lang_href`] keeps the page's filters (`?kind=company&sort=mrr`, `?show=`).
pub async fn keep_query(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let query = matches!(*req.method(), Method::GET | Method::HEAD)
        .then(|| req.uri().query().map(str::to_string))
        .flatten();
    PAGE_QUERY.scope(query, next.run(req)).await
}

/// The language switch's link: the same page with the same query, only `lang`
/// replaced (and a one-time `saved` notice left out). A relative reference (`?…`),
/// so it always stays on this site and this path; the template escapes it.
pub fn lang_href(lang: crate::i18n::Lang) -> String {
    let query = PAGE_QUERY.try_with(|q| q.clone()).ok().flatten();
    with_lang(query.as_deref(), lang)
}

/// `query` (as sent, percent-encoded) with `lang=CODE` in place of any `lang`.
fn with_lang(query: Option<&str>, lang: crate::i18n::Lang) -> String {
    let mut out = String::from("?");
    for pair in query.unwrap_or("").split('&') {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if pair.is_empty() || key == "lang" || key == "saved" {
            continue;
        }
        out.push_str(pair);
        out.push('&');
    }
    out.push_str("lang=");
    out.push_str(lang.code());
    out
}

/// One link of the navigation, ready to show.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The links `me` may follow, the current area marked.
pub fn links(tr: &Tr, me: &Me, current: &str) -> Vec<NavLink> {
    AREAS
        .iter()
        .filter(|a| me.role >= a.min_role)
        // The value figures are for managers, admins and viewers (analysts), not staff.
        .filter(|a| !(a.id == "value" && me.role == Role::Staff))
        .map(|a| NavLink {
            href: a.href,
            label: tr.t(a.label),
            current: a.id == current,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn me(role: Role) -> Me {
        Me {
            name: "x".into(),
            email: "x@example.fi".into(),
            role,
            csrf: String::new(),
        }
    }

    #[test]
    fn the_language_switch_keeps_the_query() {
        assert_eq!(with_lang(None, Lang::Fi), "?lang=fi");
        assert_eq!(
            with_lang(Some("kind=company&lang=en&sort=mrr"), Lang::Fi),
            "?kind=company&sort=mrr&lang=fi"
        );
        assert_eq!(
            with_lang(Some("show=cases&show=trust&saved=note"), Lang::En),
            "?show=cases&show=trust&lang=en"
        );
        assert_eq!(
            with_lang(Some("q=%3Cb%3E&&"), Lang::En),
            "?q=%3Cb%3E&lang=en"
        );
    }

    #[test]
    fn each_role_sees_its_areas_and_every_area_has_both_texts() {
        let tr = Tr::new(Lang::En);
        let hrefs = |r| {
            links(&tr, &me(r), "")
                .iter()
                .map(|l| l.href)
                .collect::<Vec<_>>()
        };
        let mut viewer = vec![
            "/today",
            "/customers",
            "/cases",
            "/onboarding",
            "/retention",
            "/value",
            "/offers",
            "/owners",
            "/health",
            "/service",
            "/feedback",
            "/surveys",
            "/thanks",
            "/ideas",
        ];
        assert_eq!(hrefs(Role::Viewer), viewer);
        // Staff propose endings; the value figures are not theirs.
        let staff: Vec<&str> = [
            "/today",
            "/customers",
            "/cases",
            "/onboarding",
            "/retention",
            "/offers",
            "/owners",
            "/health",
            "/endings",
            "/service",
            "/feedback",
            "/surveys",
            "/thanks",
            "/ideas",
        ]
        .to_vec();
        assert_eq!(hrefs(Role::Staff), staff);
        viewer.insert(9, "/endings");
        let mut manager = viewer.clone();
        manager.extend(["/claims", "/kudos", "/admin/settings"]);
        assert_eq!(hrefs(Role::Manager), manager);
        let mut admin = manager.clone();
        admin.extend([
            "/admin/users",
            "/admin/tokens",
            "/admin/audit",
            "/admin/jobs",
        ]);
        assert_eq!(hrefs(Role::Admin), admin);
        let l = links(&tr, &me(Role::Admin), "users");
        let users = l.iter().find(|x| x.href == "/admin/users").unwrap();
        assert!(users.current && !l[0].current);
        for lang in [Lang::Fi, Lang::En] {
            for a in AREAS {
                assert_ne!(Tr::new(lang).t(a.label), a.label, "{} has no text", a.label);
            }
        }
    }
}
