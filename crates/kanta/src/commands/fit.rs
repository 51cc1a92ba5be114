//! `kanta fit` and `kanta predict`: the models library on CSV files with the column
//! names analysts know from `lifetimes` (`frequency`, `recency`, `T`,
//! `monetary_value`; `periods` for BG/BB; `period`, `alive` for sBG).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use kanta_models::{
    DiscreteData, DiscreteRow, FitOptions, Fitted, ModelError, ModelKind, Params, RfmData, RfmRow,
    SpendData, SpendRow, TransactionParams, bgbb, gammagamma, sbg,
};
use serde_json::{Map, Value as Json, json};

use crate::cli::{FitArgs, PredictArgs};

/// The model a name means: the short codes (`bgnbd`, `pnbd`, `gg`, ...) or any
/// spelling the library knows (`paretonbd`, `BG/NBD`, `gamma-gamma`, ...).
pub fn model_kind(name: &str) -> anyhow::Result<ModelKind> {
    name.parse::<ModelKind>()
        .map_err(|e| anyhow!("--model: {}", e.to_string().trim_start_matches("model ")))
}

/// The delimiter of a file, as its header line shows it (the importer's sniffer;
/// a comma when the header has one column).
fn header_delimiter(header: &str) -> u8 {
    kanta_import::sniff_delimiter(header.as_bytes()).unwrap_or(b',')
}

/// A CSV file read into named numeric columns, each value with its line number.
struct Table {
    path: PathBuf,
    headers: Vec<String>,
    /// The raw records, for `predict` to copy through.
    records: Vec<csv::StringRecord>,
    /// 1-based line of each record.
    lines: Vec<u64>,
    delimiter: u8,
}

impl Table {
    fn read(path: &Path) -> anyhow::Result<Table> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let first = text.lines().next().unwrap_or("");
        // The header decides: a semicolon or tab file carries no commas in its names.
        let delimiter = header_delimiter(first);
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = r
            .headers()
            .with_context(|| format!("{}: cannot read the header", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut records = Vec::new();
        let mut lines = Vec::new();
        for rec in r.records() {
            let rec = rec.with_context(|| format!("{}: not valid CSV", path.display()))?;
            lines.push(rec.position().map_or(0, |p| p.line()));
            records.push(rec);
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            records,
            lines,
            delimiter,
        })
    }

    fn column(&self, name: &str) -> anyhow::Result<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "{}: no column '{name}' (the header has: {})",
                self.path.display(),
                self.headers.join(", ")
            )
        })
    }

    /// The numbers of a column, or `FILE:LINE: COLUMN: reason`.
    fn numbers(&self, name: &str) -> anyhow::Result<Vec<f64>> {
        let c = self.column(name)?;
        self.records
            .iter()
            .zip(&self.lines)
            .map(|(r, line)| {
                let t = r.get(c).unwrap_or("");
                kanta_domain::value::parse_float(t).map_err(|_| {
                    anyhow!(
                        "{}:{line}: {name}: '{t}' is not a number",
                        self.path.display()
                    )
                })
            })
            .collect()
    }

    /// Whole non-negative numbers of a column (BG/BB counts, sBG periods).
    fn counts(&self, name: &str) -> anyhow::Result<Vec<u32>> {
        let v = self.numbers(name)?;
        v.iter()
            .zip(&self.lines)
            .map(|(x, line)| {
                if *x >= 0.0 && x.fract() == 0.0 && *x <= f64::from(u32::MAX) {
                    Ok(*x as u32)
                } else {
                    bail!(
                        "{}:{line}: {name}: '{x}' is not a whole number of periods",
                        self.path.display()
                    )
                }
            })
            .collect()
    }

    fn weights(&self, column: Option<&str>) -> anyhow::Result<Vec<f64>> {
        match column {
            None => Ok(vec![1.0; self.records.len()]),
            Some(c) => self.numbers(c),
        }
    }

    /// A model's complaint about row `i`, as `FILE:LINE: COLUMN: reason`.
    fn row_error(&self, e: ModelError) -> anyhow::Error {
        match e {
            ModelError::InvalidRow { row, field, reason } => {
                let line = self.lines.get(row).copied().unwrap_or(0);
                anyhow!("{}:{line}: {field}: {reason}", self.path.display())
            }
            other => anyhow!("{}: {other}", self.path.display()),
        }
    }
}

/// The fit as `kanta fit --json` prints it.
fn fit_json<P: Params>(name: &str, f: &Fitted<P>, seconds: f64) -> Json {
    let names = P::KIND.param_names();
    let obj = |v: Vec<f64>| -> Json {
        names
            .iter()
            .zip(v)
            .map(|(n, x)| ((*n).to_string(), json!(x)))
            .collect::<Map<_, _>>()
            .into()
    };
    json!({
        "model": name,
        "params": obj(f.params.to_vec()),
        "std_errors": f.std_errors.map_or(Json::Null, |s| obj(s.to_vec())),
        "log_likelihood": f.log_likelihood,
        "n": f.n,
        "rows": f.rows,
        "converged": f.converged,
        "iterations": f.iterations,
        "seconds": seconds,
    })
}

fn rfm_rows(t: &Table) -> anyhow::Result<Vec<RfmRow>> {
    let (x, tx, big_t) = (
        t.numbers("frequency")?,
        t.numbers("recency")?,
        t.numbers("T")?,
    );
    Ok((0..x.len())
        .map(|i| RfmRow::new(x[i], tx[i], big_t[i]))
        .collect())
}

fn discrete_rows(t: &Table) -> anyhow::Result<Vec<DiscreteRow>> {
    let (x, tx, n) = (
        t.counts("frequency")?,
        t.counts("recency")?,
        t.counts("periods")?,
    );
    Ok((0..x.len())
        .map(|i| DiscreteRow::new(x[i], tx[i], n[i]))
        .collect())
}

/// sBG survivors by period: the `alive` column in `period` order, periods 0, 1, ...
fn survivors(t: &Table) -> anyhow::Result<Vec<f64>> {
    let periods = t.counts("period")?;
    let alive = t.numbers("alive")?;
    let mut pairs: Vec<(u32, f64, u64)> = periods
        .into_iter()
        .zip(alive)
        .zip(t.lines.iter().copied())
        .map(|((p, a), l)| (p, a, l))
        .collect();
    pairs.sort_by_key(|p| p.0);
    for (i, (p, _, line)) in pairs.iter().enumerate() {
        if *p as usize != i {
            bail!(
                "{}:{line}: period: expected period {i} (periods run 0, 1, 2, ... without gaps or repeats), got {p}",
                t.path.display()
            );
        }
    }
    Ok(pairs.into_iter().map(|p| p.1).collect())
}

/// Fits the model of `--model` to `--input`; returns the JSON of the fit.
fn fit_file(kind: ModelKind, t: &Table, weights: Option<&str>) -> anyhow::Result<Json> {
    let opts = FitOptions::default();
    let w = t.weights(weights)?;
    let name = ModelKind::code(kind);
    // "seconds" is the fit's own time: collapsing the rows and optimising, not reading.
    Ok(match kind {
        ModelKind::BgNbd | ModelKind::MbgNbd | ModelKind::ParetoNbd => {
            fit_rfm(kind, &rfm_rows(t)?, &w, |e| t.row_error(e))?
        }
        ModelKind::GammaGamma => {
            let (x, m) = (t.numbers("frequency")?, t.numbers("monetary_value")?);
            // Gamma-Gamma describes repeat customers: rows with frequency 0 carry no
            // spend information and are left out, as analysts do with lifetimes.
            let mut rows = Vec::new();
            let mut ws = Vec::new();
            let mut lines = Vec::new();
            for i in 0..x.len() {
                if x[i] > 0.0 {
                    rows.push(SpendRow::new(x[i], m[i]));
                    ws.push(w[i]);
                    lines.push(t.lines[i]);
                }
            }
            let started = Instant::now();
            let data = SpendData::from_weighted_rows(&rows, &ws).map_err(|e| match e {
                ModelError::InvalidRow { row, field, reason } => anyhow!(
                    "{}:{}: {field}: {reason}",
                    t.path.display(),
                    lines.get(row).copied().unwrap_or(0)
                ),
                other => anyhow!("{}: {other}", t.path.display()),
            })?;
            let f = gammagamma::fit(&data, &opts)?;
            fit_json(name, &f, started.elapsed().as_secs_f64())
        }
        ModelKind::BgBb => {
            let rows = discrete_rows(t)?;
            let started = Instant::now();
            let data = DiscreteData::from_weighted_rows(&rows, &w).map_err(|e| t.row_error(e))?;
            let f = bgbb::fit(&data, &opts)?;
            fit_json(name, &f, started.elapsed().as_secs_f64())
        }
        ModelKind::Sbg => {
            if weights.is_some() {
                bail!("--weights-column: sBG takes survivor counts, which are weights already");
            }
            let alive = survivors(t)?;
            let started = Instant::now();
            let data = sbg::SurvivorData::from_survivors(&alive)
                .map_err(|e| anyhow!("{}: {e}", t.path.display()))?;
            let f = sbg::fit(&data, &opts)?;
            fit_json(name, &f, started.elapsed().as_secs_f64())
        }
    })
}

/// Fits a transaction model to rows and weights; `row_error` words a model's
/// complaint about a row.
fn fit_rfm(
    kind: ModelKind,
    rows: &[RfmRow],
    w: &[f64],
    row_error: impl Fn(ModelError) -> anyhow::Error,
) -> anyhow::Result<Json> {
    let opts = FitOptions::default();
    let name = ModelKind::code(kind);
    // "seconds" is the fit's own time: collapsing the rows and optimising, not reading.
    let started = Instant::now();
    let data = RfmData::from_weighted_rows(rows, w).map_err(row_error)?;
    let f = kanta_models::fit_transaction_model(kind, &data, &opts)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(match f.params {
        TransactionParams::BgNbd(_) => fit_json(name, &f.map_params(unwrap_bgnbd), seconds),
        TransactionParams::MbgNbd(_) => fit_json(name, &f.map_params(unwrap_mbgnbd), seconds),
        TransactionParams::ParetoNbd(_) => fit_json(name, &f.map_params(unwrap_pnbd), seconds),
    })
}

/// The `frequency`, `recency`, `T` rows and the values of the column `fourth`
/// (else 1: the weights of `kanta fit`, the monetary values of `kanta predict`) of a
/// plain CSV file, read in parallel without the general CSV reader, which costs
/// more than the fit on a million rows. Plain means: no quotes, no byte-order mark,
/// no blank lines, every line with the header's number of fields, every value a
/// number; for anything else `None`, and [`Table`] reads the file, errors and all.
/// Values are parsed as [`Table::numbers`] parses them, so the rows are the same.
fn plain_rfm(text: &[u8], fourth: Option<&str>) -> Option<(Vec<RfmRow>, Vec<f64>)> {
    use rayon::prelude::*;
    if text.contains(&b'"') || text.starts_with(b"\xef\xbb\xbf") {
        return None;
    }
    let header_end = memchr::memchr(b'\n', text).unwrap_or(text.len());
    let first = std::str::from_utf8(&text[..header_end]).ok()?;
    let first = first.strip_suffix('\r').unwrap_or(first);
    // The delimiter as Table::read chooses it.
    let delimiter = header_delimiter(first);
    let names: Vec<&str> = first.split(delimiter as char).map(str::trim).collect();
    let column = |name: &str| names.iter().position(|h| *h == name);
    let columns = [
        column("frequency")?,
        column("recency")?,
        column("T")?,
        match fourth {
            Some(w) => column(w)?,
            None => usize::MAX,
        },
    ];
    let body = text.get(header_end + 1..).unwrap_or(&[]);
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if body.is_empty() {
        return None;
    }
    let parse = |field: &[u8]| -> Option<f64> {
        let s = std::str::from_utf8(field).ok()?.trim();
        kanta_domain::value::parse_float(s).ok()
    };
    let line = |l: &[u8]| -> Option<(RfmRow, f64)> {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.contains(&b'\r') {
            return None;
        }
        let mut v = [0.0, 0.0, 0.0, 1.0];
        let mut fields = 0;
        for (i, f) in l.split(|b| *b == delimiter).enumerate() {
            fields += 1;
            if columns.contains(&i) {
                let x = parse(f)?;
                for (k, c) in columns.iter().enumerate() {
                    if *c == i {
                        v[k] = x;
                    }
                }
            }
        }
        (fields == names.len()).then_some((RfmRow::new(v[0], v[1], v[2]), v[3]))
    };
    // Pieces cut at line ends, parsed in parallel, joined in order.
    let pieces = rayon::current_num_threads() * 4;
    let mut cuts = vec![0];
    // Cut k is the start of a line; the last one, one past the end.
    let end = body.len() + 1;
    for k in 1..pieces {
        let from = (body.len() * k / pieces).max(*cuts.last()?);
        let cut = match body.get(from..) {
            Some(rest) => memchr::memchr(b'\n', rest).map_or(end, |i| from + i + 1),
            None => end,
        };
        cuts.push(cut);
    }
    cuts.push(end);
    let parsed: Vec<Option<Vec<(RfmRow, f64)>>> = cuts
        .par_windows(2)
        .map(|c| {
            if c[0] >= c[1] {
                return Some(Vec::new());
            }
            body[c[0]..c[1] - 1]
                .split(|b| *b == b'\n')
                .map(line)
                .collect()
        })
        .collect();
    let mut rows = Vec::with_capacity(body.len() / 16);
    let mut w = Vec::with_capacity(body.len() / 16);
    for p in parsed {
        for (r, x) in p? {
            rows.push(r);
            w.push(x);
        }
    }
    Some((rows, w))
}

fn unwrap_bgnbd(p: TransactionParams) -> kanta_models::bgnbd::BgNbdParams {
    match p {
        TransactionParams::BgNbd(p) => p,
        _ => unreachable!("fitted as BG/NBD"),
    }
}
fn unwrap_mbgnbd(p: TransactionParams) -> kanta_models::mbgnbd::MbgNbdParams {
    match p {
        TransactionParams::MbgNbd(p) => p,
        _ => unreachable!("fitted as MBG/NBD"),
    }
}
fn unwrap_pnbd(p: TransactionParams) -> kanta_models::paretonbd::ParetoNbdParams {
    match p {
        TransactionParams::ParetoNbd(p) => p,
        _ => unreachable!("fitted as Pareto/NBD"),
    }
}

/// The analyst's commands on files (`fit`, `predict`, `validate`) use no store: the
/// global `--data` and `--database-url`, given on their command line, are refused
/// rather than silently ignored (the `KANTA_DATA` and `KANTA_DATABASE_URL`
/// variables of the environment stay harmless).
pub fn refuse_store_flags(command: &str) -> anyhow::Result<()> {
    refuse_store_flags_in(command, std::env::args_os().skip(1))
}

fn refuse_store_flags_in(
    command: &str,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> anyhow::Result<()> {
    for arg in args {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        for flag in ["--data", "--database-url"] {
            if arg == flag || arg.starts_with(&format!("{flag}=")) {
                bail!(
                    "{flag}: kanta {command} works on files and uses no store; leave {flag} out (the input file is its argument)"
                );
            }
        }
    }
    Ok(())
}

pub fn fit(a: &FitArgs) -> anyhow::Result<ExitCode> {
    let kind = model_kind(&a.model)?;
    let plain = match kind {
        ModelKind::BgNbd | ModelKind::MbgNbd | ModelKind::ParetoNbd => {
            let text = std::fs::read(&a.input)
                .with_context(|| format!("cannot read {}", a.input.display()))?;
            plain_rfm(&text, a.weights_column.as_deref())
        }
        _ => None,
    };
    let out = match plain {
        // Without blank lines or quotes, row i is on line i + 2.
        Some((rows, w)) => fit_rfm(kind, &rows, &w, |e| match e {
            ModelError::InvalidRow { row, field, reason } => {
                anyhow!("{}:{}: {field}: {reason}", a.input.display(), row + 2)
            }
            other => anyhow!("{}: {other}", a.input.display()),
        })?,
        None => {
            let table = Table::read(&a.input)?;
            fit_file(kind, &table, a.weights_column.as_deref())?
        }
    };
    if a.json {
        crate::output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let names = kind.param_names();
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let v = out["params"][n].as_f64().unwrap_or(f64::NAN);
            let se = out["std_errors"][n].as_f64();
            vec![
                (*n).to_string(),
                format!("{v:.6}"),
                se.map_or_else(|| "-".into(), |s| format!("{s:.6}")),
                se.map_or_else(
                    || "-".into(),
                    |s| format!("{:.4} … {:.4}", v - 1.96 * s, v + 1.96 * s),
                ),
            ]
        })
        .collect();
    println!(
        "{} fitted to {} customers ({} distinct rows) from {}",
        ModelKind::code(kind),
        out["n"]
            .as_f64()
            .map_or_else(String::new, |n| format!("{n}")),
        out["rows"],
        a.input.display()
    );
    crate::output::table(
        &["parameter", "estimate", "std. error", "95% interval"],
        &rows,
        &[false, true, true, true],
    );
    println!(
        "log-likelihood {:.4}; {} after {} iterations in {:.3} s",
        out["log_likelihood"].as_f64().unwrap_or(f64::NAN),
        if out["converged"] == true {
            "converged"
        } else {
            "NOT converged"
        },
        out["iterations"],
        out["seconds"].as_f64().unwrap_or(0.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// Parameters from `--params`: inline JSON or a file (`@FILE` or a path), either the
/// object `kanta fit --json` prints or its `params` alone.
fn params_of(kind: ModelKind, arg: &str, flag: &str) -> anyhow::Result<Vec<f64>> {
    let text = if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path).with_context(|| format!("{flag}: cannot read {path}"))?
    } else if !arg.trim_start().starts_with('{') && Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("{flag}: cannot read {arg}"))?
    } else {
        arg.to_string()
    };
    let v: Json = serde_json::from_str(&text).map_err(|e| anyhow!("{flag}: not JSON ({e})"))?;
    if let Some(m) = v.get("model").and_then(Json::as_str)
        && model_kind(m)? != kind
    {
        bail!(
            "{flag}: the parameters are of the model '{m}', not '{}'",
            ModelKind::code(kind)
        );
    }
    let params = v.get("params").unwrap_or(&v);
    kind.param_names()
        .iter()
        .map(|n| {
            params.get(n).and_then(Json::as_f64).ok_or_else(|| {
                anyhow!(
                    "{flag}: no number '{n}' (a {} needs {})",
                    ModelKind::code(kind),
                    kind.param_names().join(", ")
                )
            })
        })
        .collect()
}

pub fn predict(a: &PredictArgs) -> anyhow::Result<ExitCode> {
    let kind = model_kind(&a.model)?;
    if !(a.horizon > 0.0 && a.horizon.is_finite()) {
        bail!(
            "--horizon: must be a positive number of time units, got {}",
            a.horizon
        );
    }
    let values = params_of(kind, &a.params, "--params")?;
    if matches!(
        kind,
        ModelKind::BgNbd | ModelKind::MbgNbd | ModelKind::ParetoNbd
    ) {
        return predict_transactions(a, kind, &values);
    }
    let t = Table::read(&a.input)?;
    let mut out = csv::WriterBuilder::new()
        .delimiter(t.delimiter)
        .from_writer(std::io::stdout().lock());
    let mut header: Vec<String> = t.headers.clone();
    match kind {
        ModelKind::BgNbd | ModelKind::MbgNbd | ModelKind::ParetoNbd => {
            unreachable!("predict_transactions")
        }
        ModelKind::GammaGamma => {
            let g = gammagamma::GammaGammaParams::from_slice(&values);
            let (x, m) = (t.numbers("frequency")?, t.numbers("monetary_value")?);
            header.push("expected_spend".into());
            out.write_record(&header)?;
            for i in 0..x.len() {
                let mut rec: Vec<String> = t.records[i].iter().map(str::to_string).collect();
                rec.push(num(g.expected_average_spend(x[i], m[i])));
                out.write_record(&rec)?;
            }
        }
        ModelKind::BgBb => {
            let p = bgbb::BgBbParams::from_slice(&values);
            let rows = discrete_rows(&t)?;
            let horizon = a.horizon.round() as u32;
            header.extend(["p_alive", "expected_purchases"].map(String::from));
            out.write_record(&header)?;
            for (i, r) in rows.iter().enumerate() {
                r.validate(i).map_err(|e| t.row_error(e))?;
                let mut rec: Vec<String> = t.records[i].iter().map(str::to_string).collect();
                rec.push(num(p.p_alive(0, r)));
                rec.push(num(p.conditional_expected_purchases(horizon, r)));
                out.write_record(&rec)?;
            }
        }
        ModelKind::Sbg => {
            let p = sbg::SbgParams::from_slice(&values);
            let alive = survivors(&t)?;
            let initial = alive.first().copied().unwrap_or(0.0);
            out.write_record([
                "period",
                "survivors",
                "survival",
                "retention_rate",
                "churn_probability",
            ])?;
            for row in p.project(initial, a.horizon.round() as u32) {
                out.write_record([
                    row.period.to_string(),
                    num(row.survivors),
                    num(row.survival),
                    num(row.retention_rate),
                    num(row.churn_probability),
                ])?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A number as CSV carries it: enough digits to round-trip.
fn num(x: f64) -> String {
    format!("{x}")
}

/// Where `predict`'s input records come from: a plain file (see [`plain_rfm`]),
/// whose lines are copied through as they are, or a [`Table`].
enum Records<'a> {
    Plain {
        header: &'a str,
        lines: Vec<&'a [u8]>,
    },
    Table(Table),
}

/// `kanta predict` for BG/NBD, MBG/NBD and Pareto/NBD: every row scored in parallel
/// (once per distinct history) and written with its input line.
fn predict_transactions(
    a: &PredictArgs,
    kind: ModelKind,
    values: &[f64],
) -> anyhow::Result<ExitCode> {
    let model = TransactionParams::from_values(kind, values)?;
    let spend = match &a.spend_params {
        Some(s) => Some(gammagamma::GammaGammaParams::from_slice(&params_of(
            ModelKind::GammaGamma,
            s,
            "--spend-params",
        )?)),
        None => None,
    };
    let text =
        std::fs::read(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    let plain = plain_rfm(&text, spend.as_ref().map(|_| "monetary_value"));
    let (rows, monetary, records) = match plain {
        Some((rows, fourth)) => {
            let header_end = memchr::memchr(b'\n', &text).unwrap_or(text.len());
            let header = std::str::from_utf8(&text[..header_end])?;
            let body = text.get(header_end + 1..).unwrap_or(&[]);
            let body = body.strip_suffix(b"\n").unwrap_or(body);
            let lines: Vec<&[u8]> = body
                .split(|b| *b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .collect();
            let header = header.strip_suffix('\r').unwrap_or(header);
            let monetary = spend.is_some().then_some(fourth);
            (rows, monetary, Records::Plain { header, lines })
        }
        None => {
            let t = Table::read(&a.input)?;
            let rows = rfm_rows(&t)?;
            let monetary = match spend {
                Some(_) => Some(t.numbers("monetary_value")?),
                None => None,
            };
            (rows, monetary, Records::Table(t))
        }
    };
    // A row's error names its line: after the header, one line per row in a plain file.
    let row_error = |e: ModelError| match &records {
        Records::Table(t) => t.row_error(e),
        Records::Plain { .. } => match e {
            ModelError::InvalidRow { row, field, reason } => {
                anyhow!("{}:{}: {field}: {reason}", a.input.display(), row + 2)
            }
            other => anyhow!("{}: {other}", a.input.display()),
        },
    };
    for (i, r) in rows.iter().enumerate() {
        r.validate(i).map_err(row_error)?;
    }
    let unit: kanta_models::summary::TimeUnit =
        a.unit.parse().map_err(|e| anyhow!("--unit: {e}"))?;
    let units_per_month = unit.lifetimes_units_per_month();
    let months = (a.horizon / units_per_month).round().max(1.0) as u32;
    let clv_opts = kanta_models::clv::ClvOptions {
        months,
        monthly_discount_rate: a.discount_rate,
        margin: a.margin,
        units_per_month,
    };
    if spend.is_some() {
        clv_opts.check().map_err(|e| anyhow!("{e}"))?;
    }
    // Scored in parallel, once per distinct (frequency, recency, T).
    let options = kanta_models::score::ScoreOptions {
        horizon: a.horizon,
        clv: spend.is_some().then_some(clv_opts),
    };
    let scores = kanta_models::score::score_customers(
        &model,
        spend.as_ref(),
        &rows,
        monetary.as_deref(),
        &options,
    )
    .map_err(row_error)?;
    let mut added = vec!["p_alive", "expected_purchases"];
    if spend.is_some() {
        added.extend(["expected_spend", "clv"]);
    }
    let extra = |i: usize| {
        let s = &scores[i];
        let mut v = vec![s.p_alive, s.expected_purchases];
        if let (Some(e), Some(c)) = (s.expected_average_spend, s.clv) {
            v.extend([e, c]);
        }
        v
    };
    match &records {
        Records::Table(t) => {
            let mut header = t.headers.clone();
            header.extend(added.iter().map(|s| s.to_string()));
            write_with_columns(t, &header, extra)?;
        }
        Records::Plain { header, lines } => {
            write_lines_with_columns(header, lines, header_delimiter(header), &added, extra)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `lines` as they are with the numbers `extra(i)` appended to line `i`,
/// formatted in parallel, under `header` plus the `added` column names.
fn write_lines_with_columns(
    header: &str,
    lines: &[&[u8]],
    delimiter: u8,
    added: &[&str],
    extra: impl Fn(usize) -> Vec<f64> + Sync,
) -> anyhow::Result<()> {
    use rayon::prelude::*;
    use std::io::Write as _;
    let sep = char::from(delimiter);
    let mut stdout = std::io::stdout().lock();
    let mut head = header.to_string();
    for a in added {
        head.push(sep);
        head.push_str(a);
    }
    head.push('\n');
    stdout.write_all(head.as_bytes())?;
    const CHUNK: usize = 16_384;
    let chunks: Vec<Vec<u8>> = (0..lines.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut buf = Vec::with_capacity(CHUNK * 64);
            for (i, line) in lines
                .iter()
                .enumerate()
                .take(((c + 1) * CHUNK).min(lines.len()))
                .skip(c * CHUNK)
            {
                buf.extend_from_slice(line);
                for x in extra(i) {
                    let _ = write!(buf, "{sep}{x}");
                }
                buf.push(b'\n');
            }
            buf
        })
        .collect();
    for c in chunks {
        stdout.write_all(&c)?;
    }
    stdout.flush()?;
    Ok(())
}

/// Writes `t`'s records through the CSV writer with the numbers `extra(i)`
/// appended to record `i`, under `header`.
fn write_with_columns(
    t: &Table,
    header: &[String],
    extra: impl Fn(usize) -> Vec<f64>,
) -> anyhow::Result<()> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(t.delimiter)
        .from_writer(std::io::stdout().lock());
    out.write_record(header)?;
    for (i, r) in t.records.iter().enumerate() {
        let mut rec: Vec<String> = r.iter().map(str::to_string).collect();
        rec.extend(extra(i).into_iter().map(num));
        out.write_record(&rec)?;
    }
    out.flush()?;
    Ok(())
}

/// `kanta validate`: fits a transaction model on the calibration period of a
/// transaction file and compares its forecast with the holdout period, customer by
/// customer and as the cohort's cumulative tracking series (Fader, Hardie & Lee 2005,
/// figure 2).
pub fn validate(a: &crate::cli::ValidateArgs) -> anyhow::Result<ExitCode> {
    use kanta_models::summary::{TimeUnit, date_of_day};
    use kanta_models::validation::{cumulative_tracking, holdout_metrics, predict_holdout};

    let kind = model_kind(&a.model)?;
    if !matches!(
        kind,
        ModelKind::BgNbd | ModelKind::MbgNbd | ModelKind::ParetoNbd
    ) {
        bail!("--model: validate compares transaction models: bgnbd, mbgnbd or pnbd");
    }
    let unit: TimeUnit = a.unit.parse().map_err(|e| anyhow!("--unit: {e}"))?;
    let cal_end = crate::commands::summary::day_arg("--calibration-end", &a.calibration_end)?;
    let holdout_end = crate::commands::summary::day_arg("--holdout-end", &a.holdout_end)?;
    if holdout_end <= cal_end {
        bail!("--holdout-end must come after --calibration-end");
    }
    let (mut tx, _) = crate::commands::summary::read_transactions(
        &a.transactions,
        &a.map,
        a.delimiter.as_deref(),
        !a.no_header,
        a.date_format.as_deref(),
    )?;
    let file = a.transactions.display();
    let rows = kanta_models::summary::calibration_and_holdout(&mut tx, unit, cal_end, holdout_end)
        .map_err(|e| anyhow!("{file}: {e}"))?;
    let rfm: Vec<RfmRow> = rows.iter().map(|r| r.rfm_row()).collect();
    let data = RfmData::from_rows(&rfm).map_err(|e| anyhow!("{file}: {e}"))?;
    let started = Instant::now();
    let fit = kanta_models::fit_transaction_model(kind, &data, &FitOptions::default())?;
    let seconds = started.elapsed().as_secs_f64();
    let predicted = predict_holdout(&fit.params, &rows);
    let actual: Vec<f64> = rows.iter().map(|r| r.frequency_holdout).collect();
    let metrics = holdout_metrics(&predicted, &actual)?;
    let start = tx.iter().map(|t| t.day).min().unwrap_or(cal_end);
    let periods = (f64::from(holdout_end - start + 1) / unit.days()).ceil() as u32;
    let tracking = cumulative_tracking(&mut tx, unit, periods, &fit.params)?;
    let params: Map<String, Json> = kind
        .param_names()
        .iter()
        .zip(match fit.params {
            TransactionParams::BgNbd(p) => p.to_vec(),
            TransactionParams::MbgNbd(p) => p.to_vec(),
            TransactionParams::ParetoNbd(p) => p.to_vec(),
        })
        .map(|(n, v)| ((*n).to_string(), json!(v)))
        .collect();
    let out = json!({
        "model": ModelKind::code(kind),
        "unit": unit.name(),
        "calibration_end": date_of_day(cal_end).to_string(),
        "holdout_end": date_of_day(holdout_end).to_string(),
        "fit": {
            "params": params,
            "log_likelihood": fit.log_likelihood,
            "n": fit.n,
            "converged": fit.converged,
            "seconds": seconds,
        },
        "holdout": metrics,
        "tracking": tracking.iter().map(|p| json!({
            "period": p.period,
            "date": date_of_day(p.day).to_string(),
            "actual": p.actual,
            "expected": p.expected,
        })).collect::<Vec<_>>(),
    });
    if a.json {
        crate::output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} fitted to {} customers up to {}, compared with {} to {}:",
        ModelKind::code(kind),
        rows.len(),
        date_of_day(cal_end),
        date_of_day(cal_end + 1),
        date_of_day(holdout_end)
    );
    let m = &metrics;
    crate::output::table(
        &["holdout", "value"],
        &[
            vec!["actual purchases".into(), format!("{:.0}", m.actual_total)],
            vec![
                "predicted purchases".into(),
                format!("{:.1}", m.predicted_total),
            ],
            vec![
                "total error".into(),
                format!("{:+.2} %", 100.0 * m.total_relative_error),
            ],
            vec!["MAE per customer".into(), format!("{:.4}", m.mae)],
            vec!["RMSE per customer".into(), format!("{:.4}", m.rmse)],
            vec!["correlation".into(), format!("{:.4}", m.correlation)],
        ],
        &[false, true],
    );
    Ok(ExitCode::SUCCESS)
}
