//! `kanta customers list` and `kanta customers show`.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use kanta_domain::schema::{CONTACTS, CUSTOMER_KINDS, CUSTOMER_STATUSES, SUBSCRIPTIONS, TIERS};
use kanta_domain::{Currency, Money, Value};
use kanta_store::records::{CustomerFilter, CustomerSort, Record, TimelineEvent, TrustFilter};

use kanta_core::figures::CustomerFigures;

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
    let choice = |flag: &str, v: &Option<String>, allowed: &[&str]| match v {
        Some(x) if !allowed.contains(&x.as_str()) => {
            Err(anyhow!("--{flag} {x} is not one of {}", allowed.join(", ")))
        }
        other => Ok(other.clone()),
    };
    let status = choice("status", &a.status, CUSTOMER_STATUSES)?;
    let kind = choice("kind", &a.kind, CUSTOMER_KINDS)?;
    let tier = choice("tier", &a.tier, TIERS)?;
    let trust = match &a.trust {
        None => None,
        Some(t) => Some(TrustFilter::parse(t).ok_or_else(|| {
            anyhow!(
                "--trust {t} is not one of {}",
                TrustFilter::NAMES.join(", ")
            )
        })?),
    };
    let core = cli.open_core().await?;
    let currency = core.currency().await?;
    let zone = core.display_zone(None).await?;
    let store = core.store();
    let page = store
        .customers(&CustomerFilter {
            search: a.search.clone(),
            segment: a.segment.clone(),
            status,
            kind,
            tier,
            trust,
            open_cases: a.open_cases.then_some(true),
            sort,
            limit: a.limit.min(10_000),
            offset: (a.page - 1) * u64::from(a.limit),
            ..CustomerFilter::default()
        })
        .await?;
    store.close().await;
    if a.json {
        // Each row with the core's figures (revenue = orders net of refunds plus
        // subscriptions billed), as the API's list gives them.
        #[derive(serde::Serialize)]
        struct Item<'a> {
            #[serde(flatten)]
            row: &'a kanta_store::CustomerSummary,
            figures: CustomerFigures,
        }
        #[derive(serde::Serialize)]
        struct Page<'a> {
            total: u64,
            customers: Vec<Item<'a>>,
        }
        output::print_json(&Page {
            total: page.total,
            customers: page
                .customers
                .iter()
                .map(|c| {
                    let mut figures = CustomerFigures::of_summary(c, currency.code());
                    figures.trust_balance = Some(c.trust_balance);
                    Item { row: c, figures }
                })
                .collect(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = page
        .customers
        .iter()
        .map(|c| {
            // The core's figures: revenue is orders net of refunds plus subscriptions billed.
            let f = CustomerFigures::of_summary(c, currency.code());
            vec![
                c.id.clone(),
                c.name.clone().unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
                c.segment.clone().unwrap_or_default(),
                c.status.clone(),
                c.tier.clone().unwrap_or_default(),
                f.orders.to_string(),
                f.refunds.to_string(),
                Money::new(f.revenue_minor, currency).plain(),
                f.plan.clone().unwrap_or_default(),
                if f.plan.is_some() || f.mrr_minor != 0 {
                    Money::new(f.mrr_minor, currency).plain()
                } else {
                    String::new()
                },
                f.next_renewal_on
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                c.clv_12_minor
                    .map(|v| Money::new(v, currency).plain())
                    .unwrap_or_default(),
                c.p_alive.map(|p| format!("{p:.2}")).unwrap_or_default(),
                c.trust_balance.to_string(),
                c.open_cases.to_string(),
                c.last_purchase_at.map(|t| zone.date(t)).unwrap_or_default(),
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
            "tier",
            "orders",
            "refunds",
            "revenue",
            "plan",
            "mrr",
            "renews",
            "clv 12m",
            "p(alive)",
            "trust",
            "open cases",
            "last purchase",
        ],
        &rows,
        &[
            false, false, false, false, false, false, true, true, true, false, true, false, true,
            true, true, true, false,
        ],
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
    // Times on the store's wall clock, the zone named once by the timeline.
    let zone = core.display_zone(None).await?;
    let Some((customer, figures)) = core.customer_with_figures(&a.id).await? else {
        store.close().await;
        bail!(
            "there is no customer with id '{}' (kanta customers list --search finds them)",
            a.id
        );
    };
    let page = store
        .timeline_page(customer.id, None, a.events.clamp(1, 100_000))
        .await?;
    let contacts = store.records_of_customer(&CONTACTS, customer.id).await?;
    let subscriptions = store
        .records_of_customer(&SUBSCRIPTIONS, customer.id)
        .await?;
    let score = store.customer_score(customer.id).await?;
    store.close().await;
    if a.json {
        // A struct, not `json!`: its fields keep their order (the figures' orders
        // and refunds before the money refunded), as the API's answer does.
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            customer: &'a Record,
            figures: &'a kanta_core::figures::CustomerFigures,
            contacts: &'a [Record],
            subscriptions: &'a [Record],
            /// The newest scores and the run that made them.
            scores: Option<ScoresShown<'a>>,
            timeline: &'a [TimelineEvent],
            more_events: bool,
        }
        #[derive(serde::Serialize)]
        struct ScoresShown<'a> {
            run_id: i64,
            model: &'a str,
            as_of: chrono::NaiveDate,
            #[serde(flatten)]
            score: &'a kanta_store::scores::CustomerScore,
        }
        output::print_json(&Shown {
            customer: &customer,
            figures: &figures,
            contacts: &contacts,
            subscriptions: &subscriptions,
            scores: score.as_ref().map(|(run, s)| ScoresShown {
                run_id: run.id,
                model: &run.model,
                as_of: run.as_of,
                score: s,
            }),
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
        println!("  {:<22} {}", "last purchase", zone.date(t));
    }
    let trust = figures.trust_balance.unwrap_or(0);
    println!(
        "  {:<22} {trust:+}{}",
        "trust balance",
        if trust < 0 { " (trust deficit)" } else { "" }
    );
    if figures.subscription_revenue_minor != 0 || figures.plan.is_some() {
        println!(
            "  {:<22} {} orders + {} subscriptions (billed periods)",
            "revenue parts",
            money(figures.order_revenue_minor),
            money(figures.subscription_revenue_minor)
        );
        println!(
            "  {:<22} {}",
            "plan",
            figures.plan.as_deref().unwrap_or("none active")
        );
        println!("  {:<22} {}", "MRR", money(figures.mrr_minor));
        if let Some(d) = figures.next_renewal_on {
            println!("  {:<22} {d}", "next renewal");
        }
    }
    println!("\nContacts");
    if contacts.is_empty() {
        println!("  none");
    }
    for c in &contacts {
        let part = |n: &str| c.text(n).map(str::to_string);
        let line: Vec<String> = [
            part("name"),
            part("title"),
            part("email"),
            part("phone"),
            (c.get("is_primary") == &Value::Bool(true)).then(|| "main contact".to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!("  {}", line.join(", "));
    }
    println!("\nSubscriptions");
    if subscriptions.is_empty() {
        println!("  none");
    }
    for sub in &subscriptions {
        let c = currency_of(sub, store_currency);
        let amount = sub.get("amount").as_int().unwrap_or(0);
        let ended = match sub.get("ended_on") {
            Value::Date(d) => format!(", ended {d}"),
            _ => String::new(),
        };
        println!(
            "  {:<22} {} {c} per {}, from {}{ended}",
            sub.text("plan").unwrap_or(""),
            Money::new(amount, c).plain(),
            sub.text("period").unwrap_or("month"),
            sub.get("started_on").canonical(),
        );
    }
    println!("\nScores");
    match &score {
        None => println!("  not scored yet (kanta score)"),
        Some((run, s)) => {
            let c: Currency = run
                .currency
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(store_currency);
            let m = |v: Option<i64>| {
                v.map_or("-".to_string(), |v| {
                    format!("{} {c}", Money::new(v, c).plain())
                })
            };
            println!("  {:<22} {}", "tier", s.tier);
            println!("  {:<22} {:.2}", "P(alive)", s.p_alive);
            println!("  {:<22} {}", "CLV 12 months", m(s.clv_12_minor));
            println!("  {:<22} {}", "CLV 36 months", m(s.clv_36_minor));
            if let Some(p) = s.renewal_probability {
                println!("  {:<22} {p:.2}", "renewal probability");
            }
            println!(
                "  {:<22} run {} ({}, as of {})",
                "scored by", run.id, run.model, run.as_of
            );
        }
    }
    let more = if page.next.is_some() {
        format!(", the newest {}; --events N shows more", page.events.len())
    } else {
        String::new()
    };
    println!(
        "\nTimeline ({} events{more}, newest first; times in {})",
        page.events.len(),
        zone.name()
    );
    for ev in &page.events {
        println!(
            "  {}  {:<22} {}",
            zone.date_time(ev.at),
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
