//! `kanta summary`: a transaction file to per-customer `frequency, recency, T,
//! monetary_value` (and the holdout columns), with the conventions of `lifetimes`.
//!
//! Built for files of tens of millions of rows: a thread reads the file in blocks of
//! [`BLOCK`] bytes while the previous block is parsed; each block is cut at line ends
//! into one piece per thread and the pieces are parsed in parallel (customer ids
//! interned per piece, then merged into one table); only the compact transactions
//! (customer number, day, amount) are kept, so memory grows with the rows' count, not
//! the file's size. ISO dates and plain decimals are read by arithmetic; anything
//! else by the importer's parsers, and quoted CSV fields by the `csv` crate, line by
//! line. The summary itself is `kanta_models::summary` (one parallel sort and one
//! pass).

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use kanta_import::{Mapping, SourceColumn};
use kanta_models::summary::{TimeUnit, Transaction, day_number};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::cli::SummaryArgs;

/// Bytes read and parsed at a time.
const BLOCK: usize = 32 << 20;

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
    /// Line ends in the piece.
    lines: u64,
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
    let ymd = civil_day;
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

/// Days since 1970-01-01 of a proleptic Gregorian date, `None` if there is no such
/// date: [`day_number`] by arithmetic (days of the 400-year era, counted from
/// 1 March so that the leap day ends the year), for the millions of rows of a file.
fn civil_day(y: u32, m: u32, d: u32) -> Option<i32> {
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let month_days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if d == 0 || d > month_days || y > 262_142 {
        return None;
    }
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days from 0000-03-01 to 1970-01-01.
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

/// A plain decimal (`-`, digits, at most one `.`, at most 15 digits) as
/// `str::parse::<f64>` reads it: the digits as an integer, exact below 2^53,
/// divided by an exact power of ten, which IEEE division rounds correctly, as
/// the parser does. `None` for anything else.
fn plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mut mantissa, mut count, mut decimals, mut point) = (0u64, 0u32, 0i32, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                decimals += i32::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    let v = mantissa as f64 / 10f64.powi(decimals);
    Some(if negative { -v } else { v })
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
    /// `tx` is an empty buffer to fill, kept from an earlier block.
    fn piece<'b>(&self, bytes: &'b [u8], base: usize, mut tx: Vec<Transaction>) -> Piece<'b> {
        tx.reserve(bytes.len() / 40);
        let mut ids: Vec<Cow<'b, [u8]>> = Vec::new();
        // Ids of up to 15 bytes are looked up by value, longer ones by reference.
        let mut small: FxHashMap<u64, u32> = FxHashMap::default();
        let mut medium: FxHashMap<u128, u32> = FxHashMap::default();
        let mut table: FxHashMap<Cow<'b, [u8]>, u32> = FxHashMap::default();
        let mut at = 0;
        let mut last_time: (Vec<u8>, i32) = (Vec::new(), 0);
        let mut lines = 0;
        let fail = |at: usize, field: &'static str, reason: String| Piece {
            tx: Vec::new(),
            lines: 0,
            ids: Vec::new(),
            error: Some((base + at, field, reason)),
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        while at < bytes.len() {
            let end = match memchr::memchr(b'\n', &bytes[at..]) {
                Some(i) => {
                    lines += 1;
                    at + i
                }
                None => bytes.len(),
            };
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
                        last_time.0.clear();
                        last_time.0.extend_from_slice(time);
                        last_time.1 = d;
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
                Some(a) => match plain_decimal(a).or_else(|| {
                    std::str::from_utf8(a)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                }) {
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
            // The table lookups are most of the parsing time (cache misses), so
            // short ids are kept in tables of small entries.
            let mut intern = || {
                ids.push(customer.clone());
                ids.len() as u32 - 1
            };
            let n = match InlineKey::of(&customer) {
                InlineKey::Short(k) => *small.entry(k).or_insert_with(&mut intern),
                InlineKey::Medium(k) => *medium.entry(k).or_insert_with(&mut intern),
                InlineKey::Long => match table.get(customer.as_ref()) {
                    Some(n) => *n,
                    None => {
                        let n = ids.len() as u32;
                        ids.push(customer.clone());
                        table.insert(customer, n);
                        n
                    }
                },
            };
            let n = u64::from(n);
            tx.push(Transaction {
                customer: n,
                day,
                amount,
            });
        }
        Piece {
            tx,
            lines,
            ids,
            error: None,
        }
    }
}

/// A customer id as an integer key where it fits: the bytes, then the length in
/// the top byte (so that ids differing only by trailing zero bytes differ).
#[derive(Debug, PartialEq)]
enum InlineKey {
    /// Up to 7 bytes.
    Short(u64),
    /// 8 to 15 bytes.
    Medium(u128),
    /// Longer: looked up by reference.
    Long,
}

impl InlineKey {
    fn of(id: &[u8]) -> InlineKey {
        let mut bytes = [0u8; 16];
        match id.len() {
            0..=7 => {
                bytes[..id.len()].copy_from_slice(id);
                bytes[7] = id.len() as u8;
                let mut short = [0u8; 8];
                short.copy_from_slice(&bytes[..8]);
                InlineKey::Short(u64::from_le_bytes(short))
            }
            8..=15 => {
                bytes[..id.len()].copy_from_slice(id);
                bytes[15] = id.len() as u8;
                InlineKey::Medium(u128::from_le_bytes(bytes))
            }
            _ => InlineKey::Long,
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
    match flag {
        // Runs of spaces, as in CDNOW's file.
        Some("space") => Ok(None),
        Some(d) => match kanta_import::Delimiter::parse(d) {
            Some(kanta_import::Delimiter::Char(c)) => Ok(Some(c)),
            Some(kanta_import::Delimiter::Whitespace) => Ok(None),
            None => {
                bail!("--delimiter: '{d}' is not one character, 'tab' or 'whitespace'")
            }
        },
        None => Ok(kanta_import::sniff_delimiter(first)),
    }
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
///
/// A thread reads the file in blocks of [`BLOCK`] bytes while the previous block is
/// parsed. Each block is parsed up to its last line end; the unfinished line is
/// carried over and, completed by the next block's first line, parsed on its own.
pub fn read_transactions(
    path: &Path,
    maps: &[String],
    delimiter_flag: Option<&str>,
    has_header: bool,
    date_format: Option<&str>,
) -> anyhow::Result<Transactions> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file_len = file.metadata().map_or(0, |m| m.len());
    let mut c = Collector {
        path,
        maps,
        delimiter_flag,
        has_header,
        date_format,
        file_len,
        reader: None,
        lines_before: 0,
        tx: Vec::new(),
        names: Vec::new(),
        global: FxHashMap::default(),
        spare: Vec::new(),
    };
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (full, blocks) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(1);
        let (recycle, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        scope.spawn(move || {
            loop {
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.clear();
                buf.reserve(BLOCK);
                let read = (&mut file).take(BLOCK as u64).read_to_end(&mut buf);
                let last = !matches!(read, Ok(n) if n == BLOCK);
                // The receiver is gone only if parsing failed.
                if full.send(read.map(|_| buf)).is_err() || last {
                    break;
                }
            }
        });
        let mut carry: Vec<u8> = Vec::new();
        for block in blocks {
            let block = block.with_context(|| format!("cannot read {}", path.display()))?;
            let last = block.len() < BLOCK;
            let whole = if last {
                block.len()
            } else {
                match memchr::memrchr(b'\n', &block) {
                    Some(i) => i + 1,
                    None => {
                        carry.extend_from_slice(&block);
                        continue;
                    }
                }
            };
            let mut from = 0;
            if !carry.is_empty() {
                from = memchr::memchr(b'\n', &block[..whole]).map_or(whole, |i| i + 1);
                carry.extend_from_slice(&block[..from]);
                c.block(&carry)?;
                carry.clear();
            }
            c.block(&block[from..whole])?;
            carry.extend_from_slice(&block[whole..]);
            let _ = recycle.send(block);
        }
        Ok(())
    })?;
    Ok((c.tx, c.names))
}

/// What [`read_transactions`] gathers block by block.
struct Collector<'a> {
    path: &'a Path,
    maps: &'a [String],
    delimiter_flag: Option<&'a str>,
    has_header: bool,
    date_format: Option<&'a str>,
    file_len: u64,
    /// Set by the first block, from its first line.
    reader: Option<Reader<'a>>,
    /// Lines before the current block, for error messages.
    lines_before: u64,
    tx: Vec<Transaction>,
    names: Vec<Box<[u8]>>,
    global: FxHashMap<Box<[u8]>, u64>,
    /// The pieces' transaction buffers, for the next block.
    spare: Vec<Vec<Transaction>>,
}

impl Collector<'_> {
    /// Parses whole lines (the first call: the file's start, header included).
    fn block(&mut self, buf: &[u8]) -> anyhow::Result<()> {
        let path = self.path;
        let mut body: &[u8] = buf;
        if self.reader.is_none() {
            let end = memchr::memchr(b'\n', body).map_or(body.len(), |i| i + 1);
            let first = body[..end].trim_ascii_end();
            let d = delimiter(self.delimiter_flag, first)?;
            let header: Option<Vec<String>> = self.has_header.then(|| {
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
            let columns = columns(self.maps, header.as_deref(), path)?;
            if self.has_header {
                body = &body[end..];
                self.lines_before = 1;
            }
            self.reader = Some(Reader {
                delimiter: d,
                columns,
                date_format: self.date_format,
            });
        }
        let r = self.reader.as_ref().expect("set above");
        // One piece per thread, cut at line ends.
        let threads = rayon::current_num_threads().max(1);
        let mut cuts = vec![0usize];
        for k in 1..threads {
            let target = body.len() * k / threads;
            let prev = *cuts.last().expect("non-empty");
            let cut = memchr::memchr(b'\n', &body[target.max(prev)..])
                .map_or(body.len(), |i| target.max(prev) + i + 1);
            cuts.push(cut);
        }
        cuts.push(body.len());
        // Each piece fills a buffer of the last block's pieces: memory that the
        // process already has, where fresh memory costs a page fault per page.
        self.spare.resize_with(threads, Vec::new);
        let buffers: Vec<Vec<Transaction>> = self.spare.drain(..).collect();
        let pieces: Vec<Piece> = cuts
            .par_windows(2)
            .zip(buffers)
            .map(|(w, buffer)| r.piece(&body[w[0]..w[1]], w[0], buffer))
            .collect();
        for p in &pieces {
            if let Some((at, field, reason)) = &p.error {
                let line =
                    self.lines_before + memchr::memchr_iter(b'\n', &body[..*at]).count() as u64 + 1;
                bail!("{}:{line}: {field}: {reason}", path.display());
            }
        }
        if self.tx.is_empty() && !body.is_empty() {
            // Room for the whole file's rows, estimated from this block's.
            let rows: usize = pieces.iter().map(|p| p.tx.len()).sum();
            let per_byte = rows as f64 / body.len() as f64;
            self.tx
                .reserve(((per_byte * self.file_len as f64 * 1.02) as usize).max(rows));
        }
        for p in pieces {
            let remap: Vec<u64> = p
                .ids
                .iter()
                .map(|id| {
                    if let Some(n) = self.global.get(id.as_ref()) {
                        return *n;
                    }
                    let n = self.names.len() as u64;
                    self.names.push(id.as_ref().into());
                    self.global.insert(id.as_ref().into(), n);
                    n
                })
                .collect();
            self.tx.par_extend(p.tx.par_iter().map(|t| Transaction {
                customer: remap[t.customer as usize],
                ..*t
            }));
            self.lines_before += p.lines;
            let mut buffer = p.tx;
            buffer.clear();
            self.spare.push(buffer);
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn civil_day_agrees_with_chrono() {
        for y in (0..=9999)
            .step_by(7)
            .chain([1900, 2000, 2023, 2024, 2100, 2400])
        {
            for m in 0..=13 {
                for d in 0..=32 {
                    let chrono = NaiveDate::from_ymd_opt(y as i32, m, d).map(day_number);
                    assert_eq!(civil_day(y, m, d), chrono, "{y}-{m}-{d}");
                }
            }
        }
    }

    #[test]
    fn plain_decimals_parse_as_the_standard_parser_does() {
        for t in [
            "0",
            "-0.00",
            "12.",
            ".5",
            "493.78",
            "79.61",
            "0.1",
            "-17.0303",
            "123456789012345",
            "90071992547.409",
            "1.00000000000001",
        ] {
            let got = plain_decimal(t.as_bytes()).expect(t);
            assert_eq!(got.to_bits(), t.parse::<f64>().unwrap().to_bits(), "{t}");
        }
        for t in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e5",
            " 1",
            "+1",
            "1,5",
            "1234567890123456",
            "1.000000000000001",
        ] {
            assert_eq!(plain_decimal(t.as_bytes()), None, "{t}");
        }
        assert_eq!(InlineKey::of(b"c000001"), InlineKey::of(b"c000001"));
        assert_ne!(InlineKey::of(b"a"), InlineKey::of(b"a\0"));
        assert_ne!(InlineKey::of(b"c0000001"), InlineKey::of(b"c0000001\0"));
        assert_eq!(InlineKey::of(b"0123456789abcdef"), InlineKey::Long);
    }
}
