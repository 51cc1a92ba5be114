//! `kanta customers list` and `kanta customers show`.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use kanta_domain::{Currency, Money, Value};
use kanta_store::records::{CustomerFilter, CustomerSort, Record, TimelineEvent};

use crate::cli::{Cli, ListArgs, ShowArgs};
use crate::output;

pub async fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let sort = CustomerSort::parse(&a.sort).ok_or_else(|| {
        anyhow!(
            "--sort {} is not one of {}",
            a.sort,
            CustomerSort::NAMES.join(", ")
        )
    })?;
    if a.page == 0 || a.limit == 0 {
        bail!("--page and --limit start from 1");
    }
    let core = cli.open_core().await?;
    let currency = core.currency().await?;
    let store = core.store();
    let page = store
        .customers(&CustomerFilter {
            search: a.search.clone(),
            segment: a.segment.clone(),
            status: a.status.clone(),
            kind: a.kind.clone(),
            tier: None,
            sort,
            limit: a.limit.min(10_000),
            offset: (a.page - 1) * u64::from(a.limit),
        })
        .await?;
    store.close().await;
    if a.json {
        output::print_json(&page)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = page
        .customers
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.name.clone().unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
                c.segment.clone().unwrap_or_default(),
                c.status.clone(),
                c.orders_count.to_string(),
                c.refunds_count.to_string(),
                Money::new(c.revenue_minor, currency).plain(),
                c.last_purchase_at
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "id",
            "name",
            "email",
            "segment",
            "status",
            "orders",
            "refunds",
            "revenue",
            "last purchase",
        ],
        &rows,
        &[false, false, false, false, false, true, true, true, false],
    );
    let first = (a.page - 1) * u64::from(a.limit) + 1;
    let last = first + page.customers.len() as u64 - 1;
    if page.customers.is_empty() {
        println!("No customers match (of {} in all).", page.total);
    } else {
        println!("Customers {first}-{last} of {}.", page.total);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn show(cli: &Cli, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let store = core.store();
    let store_currency = core.currency().await?;
    let Some((customer, figures)) = core.customer_with_figures(&a.id).await? else {
        store.close().await;
        bail!(
            "there is no customer with id '{}' (kanta customers list --search finds them)",
            a.id
        );
    };
    let page = store
        .timeline_page(&customer, None, a.events.clamp(1, 100_000))
        .await?;
    store.close().await;
    if a.json {
        // A struct, not `json!`: its fields keep their order (the figures' orders
        // and refunds before the money refunded), as the API's answer does.
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            customer: &'a Record,
            figures: &'a kanta_core::figures::CustomerFigures,
            timeline: &'a [TimelineEvent],
            more_events: bool,
        }
        output::print_json(&Shown {
            customer: &customer,
            figures: &figures,
            timeline: &page.events,
            more_events: page.next.is_some(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Customer {}", customer.external_id);
    for (name, v) in &customer.fields {
        if !v.is_null() {
            println!(
                "  {name:<22} {}",
                show_value(&customer, name, v, store_currency)
            );
        }
    }
    let currency: Currency = figures.currency.parse().unwrap_or(store_currency);
    let money = |m: i64| format!("{} {currency}", Money::new(m, currency).plain());
    println!("\nFigures");
    println!("  {:<22} {}", "revenue", money(figures.revenue_minor));
    println!("  {:<22} {}", "orders", figures.orders);
    println!(
        "  {:<22} {} ({} refunded)",
        "refunds",
        figures.refunds,
        money(figures.refunded_minor)
    );
    if let Some(avg) = figures.average_order_minor {
        println!("  {:<22} {}", "average order", money(avg));
    }
    if let Some(t) = figures.last_purchase_at {
        println!("  {:<22} {}", "last purchase", t.format("%Y-%m-%d"));
    }
    println!(
        "  {:<22} {}",
        "trust balance",
        figures.trust_balance.unwrap_or(0)
    );
    let more = if page.next.is_some() {
        format!(", the newest {}; --events N shows more", page.events.len())
    } else {
        String::new()
    };
    println!(
        "\nTimeline ({} events{more}, newest first)",
        page.events.len()
    );
    for ev in &page.events {
        println!(
            "  {}  {:<22} {}",
            ev.at.format("%Y-%m-%d %H:%M"),
            ev.kind,
            describe(ev, store_currency)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The currency of a record's money: its own, else the store's.
fn currency_of(r: &Record, store_currency: Currency) -> Currency {
    r.text("currency")
        .and_then(|c| c.parse().ok())
        .unwrap_or(store_currency)
}

fn show_value(r: &Record, name: &str, v: &Value, store_currency: Currency) -> String {
    let is_money = r
        .entity
        .field(name)
        .is_some_and(|f| f.kind == kanta_domain::Kind::Money);
    match v {
        Value::Int(m) if is_money => {
            let c = currency_of(r, store_currency);
            format!("{} {c}", Money::new(*m, c).plain())
        }
        other => other.canonical(),
    }
}

/// The fields of the event's record that say what happened, as one line.
fn describe(ev: &TimelineEvent, store_currency: Currency) -> String {
    let r = &ev.record;
    let skip = [
        "customer_id",
        "occurred_at",
        "opened_at",
        "answered_at",
        "kind",
        "currency",
    ];
    r.fields
        .iter()
        .filter(|(n, v)| !v.is_null() && !skip.contains(n))
        .map(|(n, v)| {
            let s = show_value(r, n, v, store_currency);
            let s: String = if s.chars().count() > 60 {
                s.chars().take(57).chain("...".chars()).collect()
            } else {
                s
            };
            format!("{n}={s}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
