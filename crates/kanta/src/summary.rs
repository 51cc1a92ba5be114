//! `kanta summary`: a transaction file to per-customer `frequency, recency, T,
//! monetary_value` (and the holdout columns), with the conventions of `lifetimes`.
//!
//! Built for files of tens of millions of rows: the file is read in blocks of
//! [`BLOCK`] bytes; each block is cut at line ends into one piece per thread and the
//! pieces are parsed in parallel (customer ids interned per piece, then merged into
//! one table); only the compact transactions (customer number, day, amount) are kept,
//! so memory grows with the rows' count, not the file's size. Quoted CSV fields take
//! the `csv` crate's path, line by line. The summary itself is
//! `kanta_models::summary` (one parallel sort and one pass).

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use chrono::NaiveDate;
use kanta_import::{Mapping, SourceColumn};
use kanta_models::summary::{TimeUnit, Transaction, day_number};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cli::SummaryArgs;

/// Bytes read and parsed at a time.
const BLOCK: usize = 64 << 20;

/// The columns a summary reads, by 0-based index.
#[derive(Debug, Clone, Copy)]
struct Columns {
    customer: usize,
    time: usize,
    amount: Option<usize>,
}

/// A line's customer, time and amount fields.
type Fields<T> = (T, T, Option<T>);

/// The transactions of a file, and the customer ids by the numbers they carry.
pub type Transactions = (Vec<Transaction>, Vec<Box<[u8]>>);

/// How each piece of a block reads its lines.
struct Reader<'a> {
    /// `None`: fields are separated by runs of spaces and tabs.
    delimiter: Option<u8>,
    columns: Columns,
    date_format: Option<&'a str>,
}

/// A piece's result: transactions numbered by the piece's own customer table.
struct Piece<'b> {
    tx: Vec<Transaction>,
    ids: Vec<Cow<'b, [u8]>>,
    /// The first bad value: (byte offset in the block, field, reason).
    error: Option<(usize, &'static str, String)>,
}

/// The UTC day of a time as files carry it: ISO dates and times (`2024-05-02`,
/// `2024-05-02T08:00:00Z`, `2024-05-02 08:00`), `20240502`, Finnish `2.5.2024`, or
/// anything `kanta import` reads (offsets are turned into UTC).
fn day_of(text: &[u8], format: Option<&str>) -> Option<i32> {
    let digits = |s: &[u8]| -> Option<u32> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let ymd = |y: u32, m: u32, d: u32| NaiveDate::from_ymd_opt(y as i32, m, d).map(day_number);
    if format.is_none() {
        // 2024-05-02, alone or followed by a UTC time (Z, +00:00 or no zone).
        if text.len() >= 10 && text[4] == b'-' && text[7] == b'-' {
            let rest = &text[10..];
            let utc = rest.is_empty()
                || ((rest[0] == b'T' || rest[0] == b' ')
                    && !rest[1..].iter().any(|b| *b == b'+' || *b == b'-')
                    || rest.ends_with(b"+00:00"));
            if utc {
                return ymd(
                    digits(&text[..4])?,
                    digits(&text[5..7])?,
                    digits(&text[8..10])?,
                );
            }
        } else if text.len() == 8 && text.iter().all(u8::is_ascii_digit) {
            return ymd(
                digits(&text[..4])?,
                digits(&text[4..6])?,
                digits(&text[6..])?,
            );
        } else if !text.contains(&b' ') {
            // 2.5.2024 (a date alone; Finnish times with klo take the slow path).
            let mut parts = text.split(|b| *b == b'.');
            if let (Some(d), Some(m), Some(y), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
                && y.len() == 4
            {
                return ymd(digits(y)?, digits(m)?, digits(d)?);
            }
        }
    } else if format == Some("%Y%m%d") && text.len() == 8 {
        return ymd(
            digits(&text[..4])?,
            digits(&text[4..6])?,
            digits(&text[6..])?,
        );
    }
    let s = std::str::from_utf8(text).ok()?.trim();
    kanta_domain::time::parse_timestamp(s, format)
        .ok()
        .map(|t| day_number(t.date_naive()))
}

fn amount_of(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?.trim();
    if s.is_empty() {
        return Some(0.0);
    }
    kanta_domain::value::parse_float(s).ok()
}

impl Reader<'_> {
    /// The (customer, time, amount) fields of a line.
    fn fields<'l>(&self, line: &'l [u8]) -> Option<Fields<&'l [u8]>> {
        let c = self.columns;
        let want = c.customer.max(c.time).max(c.amount.unwrap_or(0));
        let mut out: [Option<&[u8]>; 3] = [None; 3];
        let mut put = |i: usize, f: &'l [u8]| {
            if i == c.customer {
                out[0] = Some(f);
            }
            if i == c.time {
                out[1] = Some(f);
            }
            if Some(i) == c.amount {
                out[2] = Some(f);
            }
        };
        match self.delimiter {
            Some(d) => {
                let mut start = 0;
                for (i, end) in memchr::memchr_iter(d, line)
                    .chain(std::iter::once(line.len()))
                    .enumerate()
                    .take(want + 1)
                {
                    put(i, &line[start..end]);
                    start = end + 1;
                }
            }
            None => {
                for (i, f) in line
                    .split(|b| *b == b' ' || *b == b'\t')
                    .filter(|f| !f.is_empty())
                    .enumerate()
                    .take(want + 1)
                {
                    put(i, f);
                }
            }
        }
        Some((out[0]?, out[1]?, out[2]))
    }

    /// Parses whole lines `bytes[..]` (the piece starts at `base` in the block).
    fn piece<'b>(&self, bytes: &'b [u8], base: usize) -> Piece<'b> {
        let mut tx = Vec::with_capacity(bytes.len() / 40);
        let mut ids: Vec<Cow<'b, [u8]>> = Vec::new();
        let mut table: FxHashMap<Cow<'b, [u8]>, u64> = FxHashMap::default();
        let mut at = 0;
        let mut last_time: (Vec<u8>, i32) = (Vec::new(), 0);
        let fail = |at: usize, field: &'static str, reason: String| Piece {
            tx: Vec::new(),
            ids: Vec::new(),
            error: Some((base + at, field, reason)),
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        while at < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
            let mut line = &bytes[at..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let start = at;
            at = end + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let fields: Option<Fields<Cow<'b, [u8]>>> =
                if let (Some(d), Some(_)) = (self.delimiter, memchr::memchr(b'"', line)) {
                    let mut q = unquote(line, d);
                    let c = self.columns;
                    let mut take = |i: usize| q.get_mut(i).map(|v| Cow::Owned(std::mem::take(v)));
                    let amount = c.amount.and_then(&mut take);
                    match (take(c.customer), take(c.time)) {
                        (Some(cu), Some(t)) => Some((cu, t, amount)),
                        _ => None,
                    }
                } else {
                    self.fields(line)
                        .map(|(c, t, a)| (Cow::Borrowed(c), Cow::Borrowed(t), a.map(Cow::Borrowed)))
                };
            let Some((customer, time, amount)) = fields else {
                return fail(start, "customer_id", "the line has too few columns".into());
            };
            let customer = match customer {
                Cow::Borrowed(c) => Cow::Borrowed(c.trim_ascii()),
                Cow::Owned(c) => Cow::Owned(c.trim_ascii().to_vec()),
            };
            if customer.is_empty() {
                return fail(start, "customer_id", "is required".into());
            }
            let time = time.trim_ascii();
            let day = if time == last_time.0.as_slice() {
                last_time.1
            } else {
                match day_of(time, self.date_format) {
                    Some(d) => {
                        last_time = (time.to_vec(), d);
                        d
                    }
                    None => {
                        return fail(
                            start,
                            "occurred_at",
                            format!("'{}' is not a date or time", text(time)),
                        );
                    }
                }
            };
            let amount = match amount.as_deref() {
                None => 0.0,
                Some(a) => match std::str::from_utf8(a)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(v) if v.is_finite() => v,
                    _ => match amount_of(a) {
                        Some(v) => v,
                        None => {
                            return fail(
                                start,
                                "amount",
                                format!("'{}' is not an amount", text(a)),
                            );
                        }
                    },
                },
            };
            let n = match table.get(customer.as_ref()) {
                Some(n) => *n,
                None => {
                    let n = ids.len() as u64;
                    ids.push(customer.clone());
                    table.insert(customer, n);
                    n
                }
            };
            tx.push(Transaction {
                customer: n,
                day,
                amount,
            });
        }
        Piece {
            tx,
            ids,
            error: None,
        }
    }
}

/// The fields of one quoted CSV line.
fn unquote(line: &[u8], delimiter: u8) -> Vec<Vec<u8>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(line);
    let mut rec = csv::ByteRecord::new();
    match r.read_byte_record(&mut rec) {
        Ok(true) => rec.iter().map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// The delimiter (`None` for runs of whitespace): the flag, else the most frequent of
/// `, ; tab |` in the first line, else whitespace.
fn delimiter(flag: Option<&str>, first: &[u8]) -> anyhow::Result<Option<u8>> {
    if let Some(d) = flag {
        return match d {
            "whitespace" | "space" => Ok(None),
            "tab" | "\\t" | "\t" => Ok(Some(b'\t')),
            d if d.len() == 1 => Ok(Some(d.as_bytes()[0])),
            other => bail!("--delimiter: '{other}' is not one character, 'tab' or 'whitespace'"),
        };
    }
    let (best, n) = [b',', b';', b'\t', b'|']
        .into_iter()
        .map(|d| (d, first.iter().filter(|b| **b == d).count()))
        .max_by_key(|(_, n)| *n)
        .unwrap_or((b',', 0));
    Ok((n > 0).then_some(best))
}

/// Which columns hold the customer, the time and the amount: `--map`, else header
/// names equal to the field names (`customer_id`, `occurred_at`, `amount`).
fn columns(maps: &[String], header: Option<&[String]>, path: &Path) -> anyhow::Result<Columns> {
    let mut mapping = Mapping::default();
    for m in maps {
        mapping.add(m).map_err(|e| anyhow!("{e}"))?;
    }
    let mut found: [Option<usize>; 3] = [None; 3];
    const FIELDS: [&str; 3] = ["customer_id", "occurred_at", "amount"];
    for (src, field) in &mapping.pairs {
        let Some(k) = FIELDS.iter().position(|f| f == field) else {
            bail!("--map: a summary reads only customer_id, occurred_at and amount, not '{field}'");
        };
        found[k] = Some(match src {
            SourceColumn::Number(n) => n - 1,
            SourceColumn::Name(name) => header
                .ok_or_else(|| {
                    anyhow!(
                        "--map {name}={field}: the file has no header, so name columns by number"
                    )
                })?
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    anyhow!(
                        "--map {name}={field}: {} has no column '{name}'",
                        path.display()
                    )
                })?,
        });
    }
    if let Some(h) = header {
        for (k, f) in FIELDS.iter().enumerate() {
            if found[k].is_none() {
                found[k] = h.iter().position(|c| c.eq_ignore_ascii_case(f));
            }
        }
    }
    let need = |k: usize| {
        found[k].ok_or_else(|| {
            anyhow!(
                "{}: no column for {} (name a column with --map SOURCE={})",
                path.display(),
                FIELDS[k],
                FIELDS[k]
            )
        })
    };
    Ok(Columns {
        customer: need(0)?,
        time: need(1)?,
        amount: found[2],
    })
}

/// The transactions of a file and the customer ids by number.
pub fn read_transactions(
    path: &Path,
    maps: &[String],
    delimiter_flag: Option<&str>,
    has_header: bool,
    date_format: Option<&str>,
) -> anyhow::Result<Transactions> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let threads = rayon::current_num_threads().max(1);
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
    let mut carry: Vec<u8> = Vec::new();
    let mut tx: Vec<Transaction> = Vec::new();
    let mut names: Vec<Box<[u8]>> = Vec::new();
    let mut global: FxHashMap<Box<[u8]>, u64> = FxHashMap::default();
    let mut reader: Option<Reader> = None;
    // Lines before the current block, for error messages.
    let mut lines_before: u64 = 0;
    let mut eof = false;
    while !eof {
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        let want = BLOCK.saturating_sub(buf.len());
        let n = (&mut file)
            .take(want as u64)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        eof = n < want;
        // Keep the unfinished last line for the next block.
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => {
                    carry.extend_from_slice(&buf[i + 1..]);
                    buf.truncate(i + 1);
                }
                None => continue,
            }
        }
        let mut body: &[u8] = &buf;
        if reader.is_none() {
            let end = memchr::memchr(b'\n', body).map_or(body.len(), |i| i + 1);
            let first = body[..end].trim_ascii_end();
            let d = delimiter(delimiter_flag, first)?;
            let header: Option<Vec<String>> = has_header.then(|| {
                let line = String::from_utf8_lossy(first);
                let line = line.trim_start_matches('\u{feff}');
                let names: Vec<&str> = match d {
                    Some(d) => line.split(d as char).collect(),
                    None => line.split_whitespace().collect(),
                };
                names
                    .into_iter()
                    .map(|s| s.trim().trim_matches('"').to_string())
                    .collect()
            });
            let columns = columns(maps, header.as_deref(), path)?;
            if has_header {
                body = &body[end..];
                lines_before = 1;
            }
            reader = Some(Reader {
                delimiter: d,
                columns,
                date_format,
            });
        }
        let r = reader.as_ref().expect("set above");
        // One piece per thread, cut at line ends.
        let mut cuts = vec![0usize];
        for k in 1..threads {
            let target = body.len() * k / threads;
            let prev = *cuts.last().expect("non-empty");
            let cut = memchr::memchr(b'\n', &body[target.max(prev)..])
                .map_or(body.len(), |i| target.max(prev) + i + 1);
            cuts.push(cut);
        }
        cuts.push(body.len());
        let pieces: Vec<Piece> = cuts
            .par_windows(2)
            .map(|w| r.piece(&body[w[0]..w[1]], w[0]))
            .collect();
        for p in &pieces {
            if let Some((at, field, reason)) = &p.error {
                let line =
                    lines_before + memchr::memchr_iter(b'\n', &body[..*at]).count() as u64 + 1;
                bail!("{}:{line}: {field}: {reason}", path.display());
            }
        }
        for p in pieces {
            let remap: Vec<u64> = p
                .ids
                .iter()
                .map(|id| {
                    if let Some(n) = global.get(id.as_ref()) {
                        return *n;
                    }
                    let n = names.len() as u64;
                    names.push(id.as_ref().into());
                    global.insert(id.as_ref().into(), n);
                    n
                })
                .collect();
            tx.extend(p.tx.into_iter().map(|mut t| {
                t.customer = remap[t.customer as usize];
                t
            }));
        }
        lines_before += memchr::memchr_iter(b'\n', body).count() as u64;
    }
    Ok((tx, names))
}

pub fn day_arg(flag: &str, s: &str) -> anyhow::Result<i32> {
    kanta_domain::time::parse_date(s, None)
        .map(day_number)
        .map_err(|e| anyhow!("{flag}: {e}"))
}

pub fn run(a: &SummaryArgs) -> anyhow::Result<ExitCode> {
    let unit: TimeUnit = a.unit.parse().map_err(|e| anyhow!("--unit: {e}"))?;
    let cal_end = day_arg("--calibration-end", &a.calibration_end)?;
    let holdout_end = a
        .holdout_end
        .as_deref()
        .map(|h| day_arg("--holdout-end", h))
        .transpose()?;
    if let Some(h) = holdout_end
        && h <= cal_end
    {
        bail!("--holdout-end must come after --calibration-end");
    }
    let (mut tx, names) = read_transactions(
        &a.transactions,
        &a.map,
        a.delimiter.as_deref(),
        !a.no_header,
        a.date_format.as_deref(),
    )?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let id = |n: u64| String::from_utf8_lossy(&names[n as usize]).into_owned();
    let mut w = csv::WriterBuilder::new().from_writer(&mut out);
    match holdout_end {
        None => {
            let rows = kanta_models::summary::summarize(&mut tx, unit, cal_end)
                .map_err(|e| anyhow!("{}: {e}", a.transactions.display()))?;
            w.write_record(["customer_id", "frequency", "recency", "T", "monetary_value"])?;
            for r in rows {
                w.write_record([
                    id(r.customer),
                    num(r.frequency),
                    num(r.recency),
                    num(r.t),
                    num(r.monetary_value),
                ])?;
            }
        }
        Some(h) => {
            let rows = kanta_models::summary::calibration_and_holdout(&mut tx, unit, cal_end, h)
                .map_err(|e| anyhow!("{}: {e}", a.transactions.display()))?;
            w.write_record([
                "customer_id",
                "frequency",
                "recency",
                "T",
                "monetary_value",
                "frequency_holdout",
                "duration_holdout",
            ])?;
            for r in rows {
                w.write_record([
                    id(r.customer),
                    num(r.frequency_cal),
                    num(r.recency_cal),
                    num(r.t_cal),
                    num(r.monetary_value_cal),
                    num(r.frequency_holdout),
                    num(r.duration_holdout),
                ])?;
            }
        }
    }
    w.flush()?;
    drop(w);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn num(x: f64) -> String {
    format!("{x}")
}
