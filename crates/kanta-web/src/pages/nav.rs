//! The main navigation: the areas that exist, each one line. An area appears only
//! once it is built (no dead links, no placeholder pages), and only to the roles that
//! may use it.

use crate::i18n::Tr;

/// One area of the UI.
pub struct Area {
    /// What pages of the area pass as their `area`, to mark the link current.
    pub id: &'static str,
    pub href: &'static str,
    /// The i18n key of the link's text.
    pub label: &'static str,
    pub admin_only: bool,
}

/// The areas, in the order of the navigation. A later issue adds its area here (for
/// instance the contact queue, retention, value, feedback, cases, surveys).
pub const AREAS: &[Area] = &[Area {
    id: "customers",
    href: "/customers",
    label: "nav.customers",
    admin_only: false,
}];

/// One link of the navigation, ready to show.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The links a user sees, the current area marked.
pub fn links(tr: &Tr, current: &str, admin: bool) -> Vec<NavLink> {
    AREAS
        .iter()
        .filter(|a| admin || !a.admin_only)
        .map(|a| NavLink {
            href: a.href,
            label: tr.t(a.label),
            current: a.id == current,
        })
        .collect()
}
