//! `kanta health fit` and `kanta health predict`: the health scorecard
//! (`kanta_models::scorecard`, the engine behind the store's health score) on any CSV
//! file, for the analyst.
//!
//! `fit` reads a file with a binary target column and any numeric and categorical
//! columns and validates the scorecard on repeated stratified holdouts (`--repeats`,
//! 10 by default; split k holds out a random share of each class with seed
//! `--seed + k`, is fitted on the rest and scored on the held-out rows). One 30%
//! holdout of a few thousand rows has an AUC standard error near 0.01, so the report's
//! `auc` is the mean over the holdouts, with their sd, min and max, the mean Brier
//! score and log-loss, each split's figures, and calibration tenths of all holdout
//! predictions pooled. The penalty (`λ` and the smoothness ratio) is chosen by
//! cross-validation once, on the first split's training rows, and reused for the
//! other splits and for the final fit on all rows, whose bins and weights are shown
//! and saved (`--save`). `--split-out` writes the first split's held-out ids, so
//! `--repeats 1 --split-out` reproduces one split for another model. `predict` applies a
//! saved scorecard to a file: each row's probability of the target, its health score
//! (`round(100 × (1 − probability))`) and the factors that move it most.
//!
//! Columns are typed by their content: a column whose non-blank cells all read as
//! numbers (`12.5`, Finnish `12,50`, `1 234,50`) is numeric, any other is
//! categorical. Blank cells and `NA`, `N/A`, `NaN`, `null` are missing values (a bin
//! of their own). Target values: yes/no, 1/0, true/false, kyllä/ei (any case);
//! the first of each pair is the event.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use kanta_models::scorecard::{
    Cells, Column, Dataset, FeatureKind, FitOptions, Scorecard, Validation, stratified_split,
    validate,
};
use serde::{Deserialize, Serialize};

use crate::cli::{HealthFitArgs, HealthPredictArgs};

/// The format name written into a saved model file.
const MODEL_FORMAT: &str = "kanta-health-scorecard";

/// A CSV file as text cells, each record with its 1-based line.
struct Table {
    path: PathBuf,
    headers: Vec<String>,
    records: Vec<csv::StringRecord>,
    lines: Vec<u64>,
}

impl Table {
    fn read(path: &Path) -> anyhow::Result<Table> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("{}: the file is not UTF-8 text", path.display()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let first = text.lines().next().unwrap_or("");
        if first.trim().is_empty() {
            bail!("{}: the file is empty (no header line)", path.display());
        }
        let delimiter = kanta_import::sniff_delimiter(first.as_bytes()).unwrap_or(b',');
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = r
            .headers()
            .with_context(|| format!("{}: cannot read the header", path.display()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        for (i, h) in headers.iter().enumerate() {
            if h.is_empty() {
                bail!("{}:1: column {} has no name", path.display(), i + 1);
            }
            if headers[..i].contains(h) {
                bail!("{}:1: the column name '{h}' appears twice", path.display());
            }
        }
        let mut records = Vec::new();
        let mut lines = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => anyhow!(
                        "{}:{line}: the line has {len} fields but the header has {expected_len}",
                        path.display()
                    ),
                    _ => anyhow!("{}:{line}: not valid CSV ({e})", path.display()),
                }
            })?;
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            lines.push(rec.position().map_or(0, |p| p.line()));
            records.push(rec);
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            records,
            lines,
        })
    }

    fn column(&self, flag: &str, name: &str) -> anyhow::Result<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "{flag}: {} has no column '{name}' (its columns: {})",
                self.path.display(),
                self.headers.join(", ")
            )
        })
    }

    fn cell(&self, row: usize, col: usize) -> &str {
        self.records[row].get(col).unwrap_or("").trim()
    }
}

fn is_missing(t: &str) -> bool {
    let t = t.trim();
    t.is_empty() || ["na", "n/a", "nan", "null"].contains(&t.to_lowercase().as_str())
}

fn number(t: &str) -> Option<f64> {
    kanta_domain::value::parse_float(t.trim())
        .ok()
        .filter(|v| v.is_finite())
}

fn target_value(t: &str) -> Option<bool> {
    match t.trim().to_lowercase().as_str() {
        "yes" | "1" | "true" | "kyllä" | "kylla" => Some(true),
        "no" | "0" | "false" | "ei" => Some(false),
        _ => None,
    }
}

/// The column's cells, typed by content: numeric when every non-missing cell is a
/// number.
fn typed_cells(t: &Table, col: usize) -> Cells {
    let n = t.records.len();
    let numeric = (0..n).all(|r| {
        let c = t.cell(r, col);
        is_missing(c) || number(c).is_some()
    });
    if numeric {
        Cells::Numeric(
            (0..n)
                .map(|r| {
                    let c = t.cell(r, col);
                    if is_missing(c) { None } else { number(c) }
                })
                .collect(),
        )
    } else {
        Cells::Categorical(
            (0..n)
                .map(|r| {
                    let c = t.cell(r, col);
                    (!is_missing(c)).then(|| c.to_string())
                })
                .collect(),
        )
    }
}

/// What `--save` writes and `predict --model` reads.
#[derive(Debug, Serialize, Deserialize)]
struct SavedModel {
    format: String,
    version: u32,
    /// The target column the model predicts (its yes/1/true/kyllä value).
    target: String,
    id: Option<String>,
    input: String,
    /// The first split's seed (split k of the repeats used `seed + k`).
    seed: u64,
    holdout: f64,
    /// Holdouts validated (1 in files saved before repeats existed).
    #[serde(default = "one")]
    repeats: usize,
    /// `auc`, `brier`, `log_loss`: means over the holdouts; `n`, `events` and
    /// `calibration`: all holdout predictions pooled.
    validation: Validation,
    /// Each holdout's figures.
    #[serde(default)]
    splits: Vec<SplitScore>,
    /// Fitted on all rows of `input` with the penalty chosen on the first split's
    /// training rows (its `cv` is that grid); files saved before repeats existed hold
    /// the fit on the split's training rows.
    scorecard: Scorecard,
}

fn one() -> usize {
    1
}

/// One holdout of the repeats.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SplitScore {
    seed: u64,
    auc: f64,
    brier: f64,
    log_loss: f64,
}

/// The JSON of `fit --json`: `auc` first (checks read the first number under it).
#[derive(Serialize)]
struct FitReport<'a> {
    /// Mean holdout AUC over the repeats.
    auc: f64,
    /// Sample standard deviation of the holdout AUCs (null with one holdout).
    auc_sd: Option<f64>,
    auc_min: f64,
    auc_max: f64,
    /// Mean holdout Brier score.
    brier: f64,
    /// Mean holdout log-loss.
    log_loss: f64,
    repeats: usize,
    splits: &'a [SplitScore],
    /// Rows fitted and held out per split (the same in every split).
    n_train: usize,
    n_holdout: usize,
    events: usize,
    events_train: usize,
    events_holdout: usize,
    /// Tenths of all holdout predictions pooled, by predicted probability.
    calibration: &'a [kanta_models::scorecard::CalibrationBin],
    /// What `features` and `intercept` were fitted on.
    model_fitted_on: &'static str,
    /// Rows the shown scorecard was fitted on.
    model_rows: usize,
    features: &'a [kanta_models::scorecard::Feature],
    intercept: f64,
    l2: f64,
    smoothness: f64,
    /// How the penalty was set: `cross-validation on the first split's training
    /// rows`, `--l2`, or `default` (too few events to cross-validate).
    penalty_from: &'static str,
    input: String,
    target: &'a str,
    id: Option<&'a str>,
    excluded: &'a [String],
    dropped: Vec<&'a str>,
    /// The first split's seed.
    seed: u64,
    holdout: f64,
    /// The first split: binning, cross-validation of the penalty, fit, holdout
    /// scoring (not reading the CSV).
    fit_seconds: f64,
    /// Every split and the final fit on all rows.
    total_seconds: f64,
}

/// At most this many holdouts.
const MAX_REPEATS: usize = 100;

pub fn fit(a: &HealthFitArgs) -> anyhow::Result<ExitCode> {
    if !(a.holdout > 0.0 && a.holdout < 1.0) {
        bail!(
            "--holdout: give the share of rows to hold out, between 0 and 1 (e.g. 0.3), not {}",
            a.holdout
        );
    }
    if !(1..=MAX_REPEATS).contains(&a.repeats) {
        bail!(
            "--repeats: the number of holdouts, from 1 to {MAX_REPEATS}, not {}",
            a.repeats
        );
    }
    if a.max_bins < 2 {
        bail!("--max-bins: at least 2, not {}", a.max_bins);
    }
    if let Some(l) = a.l2
        && !(l.is_finite() && l >= 0.0)
    {
        bail!("--l2: a penalty of 0 or more, not {l}");
    }
    let t = Table::read(&a.input)?;
    let file = t.path.display().to_string();
    let target_col = t.column("--target", &a.target)?;
    let id_col = a.id.as_deref().map(|id| t.column("--id", id)).transpose()?;
    let mut excluded_cols = Vec::new();
    for name in a.exclude.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        excluded_cols.push(t.column("--exclude", name)?);
    }
    if id_col == Some(target_col) || excluded_cols.contains(&target_col) {
        bail!(
            "--target: the column '{}' cannot be both the target and the id or excluded",
            a.target
        );
    }
    if t.records.is_empty() {
        bail!("{file}: the file has a header but no rows");
    }
    let mut target = Vec::with_capacity(t.records.len());
    for r in 0..t.records.len() {
        let v = t.cell(r, target_col);
        match target_value(v) {
            Some(b) => target.push(b),
            None => bail!(
                "{file}:{}: column {}: '{}' is not a target value (use Yes/No, 1/0, true/false or kyllä/ei)",
                t.lines[r],
                a.target,
                kanta_domain::value::excerpt(v)
            ),
        }
    }
    let events = target.iter().filter(|b| **b).count();
    if events == 0 || events == target.len() {
        bail!(
            "{file}: column {} has only {} values in its {} rows; fitting needs both classes",
            a.target,
            if events == 0 {
                "no (0/false)"
            } else {
                "yes (1/true)"
            },
            target.len()
        );
    }
    let columns: Vec<Column> = (0..t.headers.len())
        .filter(|c| *c != target_col && Some(*c) != id_col && !excluded_cols.contains(c))
        .map(|c| Column {
            name: t.headers[c].clone(),
            cells: typed_cells(&t, c),
        })
        .collect();
    let data = Dataset { columns, target };
    let n = data.target.len();
    let mut opts = FitOptions {
        max_bins: a.max_bins,
        l2: a.l2,
        holdout: a.holdout,
        seed: a.seed,
        ..FitOptions::default()
    };
    let started = Instant::now();
    let mut splits: Vec<SplitScore> = Vec::with_capacity(a.repeats);
    let (mut pooled_p, mut pooled_y) = (Vec::new(), Vec::new());
    let mut first_test = Vec::new();
    let (mut n_train, mut events_train, mut fit_seconds) = (0, 0, 0.0);
    let mut cv = Vec::new();
    for k in 0..a.repeats {
        let seed = a.seed.wrapping_add(k as u64);
        let (train, test) = stratified_split(&data.target, a.holdout, seed);
        let ev_train = train.iter().filter(|&&r| data.target[r]).count();
        let ev_holdout = events - ev_train;
        if ev_train == 0 || ev_train == train.len() || ev_holdout == 0 || ev_holdout == test.len() {
            bail!(
                "{file}: too few rows of one class ({events} yes, {} no) to fit on one part and validate on the other; use more rows",
                n - events
            );
        }
        let card =
            Scorecard::fit(&data.subset(&train), &opts).map_err(|e| anyhow!("{file}: {e}"))?;
        let held = data.subset(&test);
        let probs = card.predict(&held);
        let v = validate(&probs, &held.target);
        if k == 0 {
            // the penalty of the first split's cross-validation serves the others and
            // the final fit
            opts.l2 = Some(card.l2);
            opts.smoothness = Some(card.smoothness);
            cv = card.cv;
            n_train = train.len();
            events_train = ev_train;
            first_test = test;
            fit_seconds = started.elapsed().as_secs_f64();
        }
        splits.push(SplitScore {
            seed,
            auc: v.auc,
            brier: v.brier,
            log_loss: v.log_loss,
        });
        pooled_p.extend(probs);
        pooled_y.extend(held.target);
    }
    let penalty_from = if a.l2.is_some() {
        "--l2"
    } else if cv.is_empty() {
        "default"
    } else {
        "cross-validation on the first split's training rows"
    };
    let mut card = Scorecard::fit(&data, &opts).map_err(|e| anyhow!("{file}: {e}"))?;
    card.cv = cv;
    let total_seconds = started.elapsed().as_secs_f64();

    let r = splits.len() as f64;
    let mean = |f: fn(&SplitScore) -> f64| splits.iter().map(f).sum::<f64>() / r;
    let auc = mean(|s| s.auc);
    let brier = mean(|s| s.brier);
    let log_loss = mean(|s| s.log_loss);
    let auc_sd = (splits.len() > 1)
        .then(|| (splits.iter().map(|s| (s.auc - auc).powi(2)).sum::<f64>() / (r - 1.0)).sqrt());
    let auc_min = splits.iter().map(|s| s.auc).fold(f64::INFINITY, f64::min);
    let auc_max = splits
        .iter()
        .map(|s| s.auc)
        .fold(f64::NEG_INFINITY, f64::max);
    let pooled = validate(&pooled_p, &pooled_y);
    let n_holdout = first_test.len();

    if let Some(out) = &a.split_out {
        let mut text = String::new();
        text.push_str(a.id.as_deref().unwrap_or("row"));
        text.push('\n');
        for &r in &first_test {
            match id_col {
                Some(c) => text.push_str(t.cell(r, c)),
                None => text.push_str(&(r + 1).to_string()),
            }
            text.push('\n');
        }
        std::fs::write(out, text)
            .with_context(|| format!("--split-out: cannot write {}", out.display()))?;
    }
    let dropped: Vec<&str> = data
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !card.features.iter().any(|f| f.name == *n))
        .collect();
    if let Some(path) = &a.save {
        let saved = SavedModel {
            format: MODEL_FORMAT.to_string(),
            version: 1,
            target: a.target.clone(),
            id: a.id.clone(),
            input: file.clone(),
            seed: a.seed,
            holdout: a.holdout,
            repeats: a.repeats,
            validation: Validation {
                auc,
                brier,
                log_loss,
                ..pooled.clone()
            },
            splits: splits.clone(),
            scorecard: card.clone(),
        };
        let json = serde_json::to_string_pretty(&saved)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("--save: cannot write {}", path.display()))?;
    }
    let excluded: Vec<String> = excluded_cols
        .iter()
        .map(|&c| t.headers[c].clone())
        .collect();
    if a.json {
        crate::output::print_json(&FitReport {
            auc,
            auc_sd,
            auc_min,
            auc_max,
            brier,
            log_loss,
            repeats: a.repeats,
            splits: &splits,
            n_train,
            n_holdout,
            events,
            events_train,
            events_holdout: events - events_train,
            calibration: &pooled.calibration,
            model_fitted_on: "all rows",
            model_rows: n,
            features: &card.features,
            intercept: card.intercept,
            l2: card.l2,
            smoothness: card.smoothness,
            penalty_from,
            input: file,
            target: &a.target,
            id: a.id.as_deref(),
            excluded: &excluded,
            dropped,
            seed: a.seed,
            holdout: a.holdout,
            fit_seconds,
            total_seconds,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let share = format!("{}%", 100.0 * a.holdout);
    println!(
        "{file}: {} = yes in {events} of {n} rows ({:.1}%).",
        a.target,
        100.0 * events as f64 / n as f64,
    );
    if a.repeats == 1 {
        println!(
            "Holdout ({share}, seed {}; fitted on {n_train} rows, validated on {n_holdout}): AUC {auc:.4}, Brier {brier:.4}, log-loss {log_loss:.4}.",
            a.seed
        );
    } else {
        println!(
            "Holdout: mean of {} holdouts ({share} each, seeds {}–{}; fitted on {n_train} rows, validated on {n_holdout} each): AUC {auc:.4} (sd {:.4}, min {auc_min:.4}, max {auc_max:.4}), Brier {brier:.4}, log-loss {log_loss:.4}.",
            a.repeats,
            a.seed,
            a.seed.wrapping_add(a.repeats as u64 - 1),
            auc_sd.unwrap_or(0.0),
        );
    }
    println!(
        "Penalty λ = {}, smoothness {} ({penalty_from}); the first split in {fit_seconds:.2} s, all in {total_seconds:.2} s.",
        card.l2, card.smoothness
    );
    if a.repeats > 1 {
        println!();
        let rows: Vec<Vec<String>> = splits
            .iter()
            .map(|s| {
                vec![
                    s.seed.to_string(),
                    format!("{:.4}", s.auc),
                    format!("{:.4}", s.brier),
                    format!("{:.4}", s.log_loss),
                ]
            })
            .collect();
        crate::output::table(
            &["seed", "AUC", "Brier", "log-loss"],
            &rows,
            &[true, true, true, true],
        );
    }
    println!();
    if a.repeats == 1 {
        println!("Calibration on the holdout (tenths by predicted probability):");
    } else {
        println!(
            "Calibration on the {} holdouts pooled ({} predictions; tenths by predicted probability):",
            a.repeats, pooled.n
        );
    }
    let rows: Vec<Vec<String>> = pooled
        .calibration
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                (i + 1).to_string(),
                format!("{:.3}–{:.3}", c.min_predicted, c.max_predicted),
                format!("{:.3}", c.mean_predicted),
                format!("{:.3}", c.observed_rate),
                c.count.to_string(),
                c.events.to_string(),
            ]
        })
        .collect();
    crate::output::table(
        &["tenth", "range", "predicted", "observed", "rows", "events"],
        &rows,
        &[true, false, true, true, true, true],
    );
    println!();
    println!(
        "The scorecard, fitted on all {n} rows with the penalty above. Features by importance. A weight is the bin's part of the logit of {} = yes against an average row (+ more likely, − less); intercept {:.4}.",
        a.target, card.intercept
    );
    let mut rows = Vec::new();
    for f in &card.features {
        for (b, bin) in f.bins.iter().enumerate() {
            rows.push(vec![
                if b == 0 {
                    format!(
                        "{} ({})",
                        f.name,
                        match f.kind {
                            FeatureKind::Numeric => "numeric",
                            FeatureKind::Categorical => "categorical",
                        }
                    )
                } else {
                    String::new()
                },
                if b == 0 {
                    format!("{:.3}", f.importance)
                } else {
                    String::new()
                },
                bin.label.clone(),
                bin.count.to_string(),
                if bin.count > 0 {
                    format!("{:.1}%", 100.0 * bin.events as f64 / bin.count as f64)
                } else {
                    "-".to_string()
                },
                format!("{:+.3}", bin.weight),
            ]);
        }
    }
    crate::output::table(
        &["feature", "importance", "bin", "rows", "rate", "weight"],
        &rows,
        &[false, true, false, true, true, true],
    );
    if !dropped.is_empty() {
        println!();
        println!(
            "Not used (one value, or every value too rare to learn from): {}.",
            dropped.join(", ")
        );
    }
    if let Some(path) = &a.save {
        println!();
        println!("Saved the scorecard to {}.", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Factor<'a> {
    feature: &'a str,
    bin: &'a str,
    /// Part of the target's logit.
    contribution: f64,
    /// Health points: −10 × contribution, rounded.
    points: i64,
}

#[derive(Serialize)]
struct Prediction<'a> {
    id: String,
    probability: f64,
    health_score: i64,
    factors: Vec<Factor<'a>>,
}

pub fn predict(a: &HealthPredictArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.model)
        .with_context(|| format!("--model: cannot read {}", a.model.display()))?;
    let saved: SavedModel = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--model: {} is not a scorecard saved by kanta health fit --save ({e})",
            a.model.display()
        )
    })?;
    if saved.format != MODEL_FORMAT {
        bail!(
            "--model: {} is a '{}' file, not a {MODEL_FORMAT}",
            a.model.display(),
            saved.format
        );
    }
    let card = saved.scorecard;
    let t = Table::read(&a.input)?;
    let file = t.path.display().to_string();
    let id_name = a.id.clone().or(saved.id.clone());
    let id_col = match (&a.id, &id_name) {
        (Some(id), _) => Some(t.column("--id", id)?),
        // the model's id column, when this file has it
        (None, Some(id)) => t.headers.iter().position(|h| h == id),
        _ => None,
    };
    let n = t.records.len();
    let mut columns = Vec::new();
    for f in &card.features {
        let c = t.headers.iter().position(|h| *h == f.name).ok_or_else(|| {
            anyhow!(
                "{file} has no column '{}', which the model uses (its columns: {})",
                f.name,
                t.headers.join(", ")
            )
        })?;
        let cells = match f.kind {
            FeatureKind::Numeric => {
                let mut v = Vec::with_capacity(n);
                for r in 0..n {
                    let cell = t.cell(r, c);
                    if is_missing(cell) {
                        v.push(None);
                    } else {
                        match number(cell) {
                            Some(x) => v.push(Some(x)),
                            None => bail!(
                                "{file}:{}: column {}: '{}' is not a number (the model's {} is numeric)",
                                t.lines[r],
                                f.name,
                                kanta_domain::value::excerpt(cell),
                                f.name
                            ),
                        }
                    }
                }
                Cells::Numeric(v)
            }
            FeatureKind::Categorical => Cells::Categorical(
                (0..n)
                    .map(|r| {
                        let cell = t.cell(r, c);
                        (!is_missing(cell)).then(|| cell.to_string())
                    })
                    .collect(),
            ),
        };
        columns.push(Column {
            name: f.name.clone(),
            cells,
        });
    }
    let data = Dataset {
        columns,
        target: Vec::new(),
    };
    let out: Vec<Prediction> = (0..n)
        .map(|r| {
            let mut parts = card.contributions(&data, r);
            let logit = parts.iter().fold(card.intercept, |s, c| s + c.2);
            let p = 1.0 / (1.0 + (-logit).exp());
            parts.sort_by(|x, y| y.2.abs().total_cmp(&x.2.abs()));
            let factors = parts
                .iter()
                .filter(|c| c.2 != 0.0)
                .take(a.top)
                .map(|&(f, b, c)| Factor {
                    feature: &card.features[f].name,
                    bin: &card.features[f].bins[b].label,
                    contribution: c,
                    points: (-10.0 * c).round() as i64,
                })
                .collect();
            Prediction {
                id: match id_col {
                    Some(c) => t.cell(r, c).to_string(),
                    None => (r + 1).to_string(),
                },
                probability: p,
                health_score: (100.0 * (1.0 - p)).round() as i64,
                factors,
            }
        })
        .collect();
    if a.json {
        crate::output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record([
        id_name
            .as_deref()
            .filter(|_| id_col.is_some())
            .unwrap_or("row"),
        "probability",
        "health_score",
        "factors",
    ])?;
    for p in &out {
        let factors = p
            .factors
            .iter()
            .map(|f| format!("{}={}: {:+}", f.feature, f.bin, f.points))
            .collect::<Vec<_>>()
            .join("; ");
        w.write_record([
            p.id.as_str(),
            &format!("{:.4}", p.probability),
            &p.health_score.to_string(),
            &factors,
        ])?;
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}
