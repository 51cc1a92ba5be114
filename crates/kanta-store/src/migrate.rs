//! The migrations of each backend, embedded in the binary. A migration is never
//! edited once applied (sqlx checks each one's checksum): add a new file instead.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::{Backend, Result, Store};

/// (version, description, SQL) per backend, in order.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "auth",
        include_str!("../migrations/sqlite/0002_auth.sql"),
    ),
    (
        3,
        "customer page",
        include_str!("../migrations/sqlite/0003_customer_page.sql"),
    ),
    (
        4,
        "scores",
        include_str!("../migrations/sqlite/0004_scores.sql"),
    ),
    (
        5,
        "first purchase",
        include_str!("../migrations/sqlite/0005_first_purchase.sql"),
    ),
    (
        6,
        "core",
        include_str!("../migrations/sqlite/0006_core.sql"),
    ),
    (
        7,
        "subscriptions",
        include_str!("../migrations/sqlite/0007_subscriptions.sql"),
    ),
    (
        8,
        "user time zone",
        include_str!("../migrations/sqlite/0008_user_time_zone.sql"),
    ),
    (
        9,
        "sign-in throttle",
        include_str!("../migrations/sqlite/0009_sign_in_throttle.sql"),
    ),
    (
        10,
        "subscriber scores",
        include_str!("../migrations/sqlite/0010_subscriber_scores.sql"),
    ),
    (
        11,
        "service recovery",
        include_str!("../migrations/sqlite/0011_service_recovery.sql"),
    ),
    (
        12,
        "contact queue",
        include_str!("../migrations/sqlite/0012_contact_queue.sql"),
    ),
    (
        13,
        "surveys",
        include_str!("../migrations/sqlite/0013_surveys.sql"),
    ),
    (
        14,
        "value",
        include_str!("../migrations/sqlite/0014_value.sql"),
    ),
    (
        15,
        "privacy",
        include_str!("../migrations/sqlite/0015_privacy.sql"),
    ),
    (
        16,
        "window index",
        include_str!("../migrations/sqlite/0016_window_index.sql"),
    ),
    (
        17,
        "two factor",
        include_str!("../migrations/sqlite/0017_two_factor.sql"),
    ),
    (
        18,
        "offer arms index",
        include_str!("../migrations/sqlite/0018_offer_arms_index.sql"),
    ),
    (
        19,
        "orders covering index",
        include_str!("../migrations/sqlite/0019_orders_covering_index.sql"),
    ),
    (
        20,
        "customer sort keys",
        include_str!("../migrations/sqlite/0020_customer_sort_keys.sql"),
    ),
    (
        21,
        "sort keys set by the writer",
        include_str!("../migrations/sqlite/0021_sort_keys_set_by_the_writer.sql"),
    ),
    (
        22,
        "search indexes short pending list",
        include_str!("../migrations/sqlite/0022_search_indexes_short_pending_list.sql"),
    ),
    (
        23,
        "contact queue size",
        include_str!("../migrations/sqlite/0023_contact_queue_size.sql"),
    ),
    (
        24,
        "queue pending",
        include_str!("../migrations/sqlite/0024_queue_pending.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "auth",
        include_str!("../migrations/postgres/0002_auth.sql"),
    ),
    (
        3,
        "customer page",
        include_str!("../migrations/postgres/0003_customer_page.sql"),
    ),
    (
        4,
        "scores",
        include_str!("../migrations/postgres/0004_scores.sql"),
    ),
    (
        5,
        "first purchase",
        include_str!("../migrations/postgres/0005_first_purchase.sql"),
    ),
    (
        6,
        "core",
        include_str!("../migrations/postgres/0006_core.sql"),
    ),
    (
        7,
        "subscriptions",
        include_str!("../migrations/postgres/0007_subscriptions.sql"),
    ),
    (
        8,
        "user time zone",
        include_str!("../migrations/postgres/0008_user_time_zone.sql"),
    ),
    (
        9,
        "sign-in throttle",
        include_str!("../migrations/postgres/0009_sign_in_throttle.sql"),
    ),
    (
        10,
        "subscriber scores",
        include_str!("../migrations/postgres/0010_subscriber_scores.sql"),
    ),
    (
        11,
        "service recovery",
        include_str!("../migrations/postgres/0011_service_recovery.sql"),
    ),
    (
        12,
        "contact queue",
        include_str!("../migrations/postgres/0012_contact_queue.sql"),
    ),
    (
        13,
        "surveys",
        include_str!("../migrations/postgres/0013_surveys.sql"),
    ),
    (
        14,
        "value",
        include_str!("../migrations/postgres/0014_value.sql"),
    ),
    (
        15,
        "privacy",
        include_str!("../migrations/postgres/0015_privacy.sql"),
    ),
    (
        16,
        "window index",
        include_str!("../migrations/postgres/0016_window_index.sql"),
    ),
    (
        17,
        "two factor",
        include_str!("../migrations/postgres/0017_two_factor.sql"),
    ),
    (
        18,
        "offer arms index",
        include_str!("../migrations/postgres/0018_offer_arms_index.sql"),
    ),
    (
        19,
        "customers hot updates",
        include_str!("../migrations/postgres/0019_customers_hot_updates.sql"),
    ),
    (
        20,
        "customer sort keys",
        include_str!("../migrations/postgres/0020_customer_sort_keys.sql"),
    ),
    (
        21,
        "sort keys set by the writer",
        include_str!("../migrations/postgres/0021_sort_keys_set_by_the_writer.sql"),
    ),
    (
        22,
        "search indexes short pending list",
        include_str!("../migrations/postgres/0022_search_indexes_short_pending_list.sql"),
    ),
    (
        23,
        "contact queue size",
        include_str!("../migrations/postgres/0023_contact_queue_size.sql"),
    ),
    (
        24,
        "queue pending",
        include_str!("../migrations/postgres/0024_queue_pending.sql"),
    ),
];

fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The newest migration this program knows.
pub(crate) fn newest_version() -> i64 {
    SQLITE.iter().map(|m| m.0).max().unwrap_or(0)
}

pub(crate) async fn run(store: &Store) -> Result<()> {
    match &store.backend {
        Backend::Sqlite(pool) => migrator(SQLITE).run(pool).await?,
        Backend::Postgres(pool) => migrator(POSTGRES).run(pool).await?,
    }
    Ok(())
}
