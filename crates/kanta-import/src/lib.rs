//! Reads a user's file (CSV, JSON Lines, whitespace-separated text) into validated
//! rows of one entity, ready for the store's writer.
//!
//! - [`source`] turns a file into records of text fields with line numbers.
//! - [`Mapping`] says which column feeds which field (`--map SOURCE=FIELD`, header
//!   names that equal field names, or column numbers).
//! - [`parse_file`] validates every row, reporting each invalid one as
//!   `FILE:LINE: FIELD: reason`; groups order lines that share an `order_id` into one
//!   order; derives a stable id for rows without one; and returns a
//!   [`kanta_domain::WriteBatch`] of the valid rows with the [`RowError`]s of the rest.
//!
//! Nothing here touches the database: references to other records are checked by the
//! caller against the store ([`Parsed::reject_missing_refs`]).

pub mod source;

use rustc_hash::FxHashMap as HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use kanta_domain::WriteBatch;
use kanta_domain::ids::{content_digest, id_from_digest};
use kanta_domain::schema::{Entity, Field, Kind, TRANSACTIONS};
use kanta_domain::value::{ParseContext, parse_field};
use kanta_domain::{Currency, Decimal, Value};
use thiserror::Error;

pub use source::{Delimiter, Format, SourceReader, SourceRecord, sniff_delimiter};

/// Errors that stop an import before any row is judged.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
    #[error("line {line}: {reason}")]
    Syntax { line: u64, reason: String },
    #[error("line {line} is not UTF-8 text (save the file as UTF-8)")]
    Encoding { line: u64 },
    #[error(
        "line {line} is longer than {} bytes, so reading stopped there: a field takes at most {} bytes (is it the right file, with line ends and the right --delimiter?)",
        thousands(source::MAX_LINE_BYTES),
        thousands(source::MAX_FIELD_BYTES)
    )]
    LineTooLong { line: u64 },
    #[error("{0}")]
    Mapping(String),
    #[error("the file is empty: there is nothing to import")]
    Empty,
    /// Any of the above, in a file: `FILE:LINE: reason` or `FILE: reason`.
    #[error("{}", in_file(file, inner))]
    InFile {
        file: String,
        inner: Box<ImportError>,
    },
}

fn in_file(file: &str, e: &ImportError) -> String {
    match e {
        ImportError::Syntax { line, reason } => format!("{file}:{line}: {reason}"),
        ImportError::Encoding { line } => {
            format!("{file}:{line}: the line is not UTF-8 text (save the file as UTF-8)")
        }
        ImportError::LineTooLong { .. } | ImportError::Open { .. } => format!("{file}: {e}"),
        ImportError::InFile { .. } => e.to_string(),
        e => format!("{file}: {e}"),
    }
}

impl ImportError {
    /// The error, naming `file`.
    pub fn in_file(self, file: &Path) -> ImportError {
        match self {
            e @ (ImportError::InFile { .. } | ImportError::Open { .. }) => e,
            e => ImportError::InFile {
                file: file.display().to_string(),
                inner: Box::new(e),
            },
        }
    }
}

/// What is wrong with a row's values, if anything: the field and the reason.
pub type RowCheck<'a> = dyn Fn(&[Value]) -> Option<(String, String)> + 'a;

/// `65,536`: a count as the messages write it.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a field's value comes from: a header name or a 1-based column number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceColumn {
    Name(String),
    Number(usize),
}

/// `SOURCE=FIELD` pairs from the command line.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub pairs: Vec<(SourceColumn, String)>,
}

impl Mapping {
    /// Parses `SOURCE=FIELD`; a SOURCE of digits only is a column number.
    pub fn add(&mut self, spec: &str) -> Result<(), ImportError> {
        let (src, field) = spec.rsplit_once('=').ok_or_else(|| {
            ImportError::Mapping(format!(
                "--map '{spec}' is not SOURCE=FIELD (e.g. --map 2=customer_id)"
            ))
        })?;
        let src = src.trim();
        let field = field.trim().to_ascii_lowercase();
        if src.is_empty() || field.is_empty() {
            return Err(ImportError::Mapping(format!(
                "--map '{spec}' is not SOURCE=FIELD (e.g. --map 2=customer_id)"
            )));
        }
        let col = match src.parse::<usize>() {
            Ok(0) => {
                return Err(ImportError::Mapping(format!(
                    "--map '{spec}': columns are numbered from 1"
                )));
            }
            Ok(n) => SourceColumn::Number(n),
            Err(_) => SourceColumn::Name(src.to_string()),
        };
        self.pairs.push((col, field));
        Ok(())
    }
}

/// How to read the file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub entity: &'static Entity,
    pub format: Option<Format>,
    pub delimiter: Option<Delimiter>,
    pub has_header: bool,
    pub mapping: Mapping,
    pub date_format: Option<String>,
    /// Currency of rows that carry none.
    pub currency: Currency,
    /// The zone of dates and times written without an offset (the store's).
    pub zone: kanta_domain::time::Tz,
}

/// One rejected row.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub reason: String,
    /// The row as read, for the reject file.
    pub record: Vec<String>,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.line, self.field, self.reason)
    }
}

/// Valid rows of the file, handed over as the file is read: at most `chunk_rows`
/// rows each, except that a file whose order lines are merged by `order_id` comes in
/// chunks only once all of it is read.
#[derive(Debug)]
pub struct Chunk {
    pub batch: WriteBatch,
    /// The first line of each row of the batch (parallel to its rows).
    pub lines: Vec<u64>,
    /// The raw records of the batch's rows (an order's lines, each as its fields),
    /// kept only to reject rows later; empty when the import keeps none.
    raw: Vec<RawLines>,
    /// Rows rejected so far in the file.
    pub rejected_so_far: u64,
    /// `batch.create_customers` already lists the customers first met in this chunk.
    pub customers_listed: bool,
}

/// What reading the whole file found, besides the rows handed over in chunks.
#[derive(Debug)]
pub struct Parsed {
    pub file: PathBuf,
    /// Every rejected row, in line order.
    pub errors: Vec<RowError>,
    /// Data rows read (header and blank lines not counted).
    pub rows_read: u64,
    /// Records handed over (an order of several lines is one).
    pub records: u64,
    /// Columns of the file that feed no field.
    pub ignored_columns: Vec<String>,
}

/// Virtual fields of transactions: not stored, used to compute the amount.
const UNIT_PRICE: &str = "unit_price";

/// The field each column feeds, worked out from the header and the mapping.
struct Plan {
    /// (column index, what it feeds): the id, a field (index into `fields`), or
    /// the unit price that transactions multiply by the quantity.
    columns: Vec<(usize, Target)>,
    fields: Vec<&'static Field>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Id,
    Field(usize),
    UnitPrice,
}

fn field_list(e: &Entity) -> String {
    let mut names: Vec<&str> = vec!["id"];
    names.extend(e.fields.iter().map(|f| f.name));
    if std::ptr::eq(e, &TRANSACTIONS) {
        names.push(UNIT_PRICE);
    }
    names.join(", ")
}

fn make_plan(
    opts: &ImportOptions,
    header: Option<&[String]>,
) -> Result<(Plan, Vec<String>), ImportError> {
    let e = opts.entity;
    let is_tx = std::ptr::eq(e, &TRANSACTIONS);
    let mut wanted: Vec<(usize, &str)> = Vec::new();
    for (src, field) in &opts.mapping.pairs {
        let known = field == "id" || e.field(field).is_some() || (is_tx && field == UNIT_PRICE);
        if !known {
            return Err(ImportError::Mapping(format!(
                "--map {}: {} has no field '{field}'; its fields are: {}",
                match src {
                    SourceColumn::Name(n) => n.clone(),
                    SourceColumn::Number(n) => n.to_string(),
                },
                e.name,
                field_list(e)
            )));
        }
        let idx = match src {
            SourceColumn::Number(n) => n - 1,
            SourceColumn::Name(name) => {
                let h = header.ok_or_else(|| {
                    ImportError::Mapping(format!(
                        "--map {name}={field}: the file has no header, so name columns by number"
                    ))
                })?;
                h.iter().position(|c| c.eq_ignore_ascii_case(name)).ok_or_else(|| {
                    ImportError::Mapping(format!("--map {name}={field}: the file has no column '{name}'; its columns are: {}", column_list(h)))
                })?
            }
        };
        let field_name: &str = e
            .field(field)
            .map_or(if field == "id" { "id" } else { UNIT_PRICE }, |f| f.name);
        if let Some((_, prev)) = wanted.iter().find(|(_, f)| *f == field_name) {
            return Err(ImportError::Mapping(format!(
                "field '{prev}' is mapped twice"
            )));
        }
        wanted.push((idx, field_name));
    }
    // Header names that are field names map themselves, unless mapped already.
    let mut ignored = Vec::new();
    if let Some(h) = header {
        for (i, name) in h.iter().enumerate() {
            if wanted.iter().any(|(idx, _)| *idx == i) {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let field = if lower == "id" {
                Some("id")
            } else if is_tx && lower == UNIT_PRICE {
                Some(UNIT_PRICE)
            } else {
                e.field(&lower).map(|f| f.name)
            };
            match field {
                Some(f) if !wanted.iter().any(|(_, w)| *w == f) => wanted.push((i, f)),
                _ => ignored.push(name.clone()),
            }
        }
    }
    let mut fields: Vec<&'static Field> = Vec::new();
    let mut columns = Vec::new();
    for (idx, name) in &wanted {
        let target = match *name {
            "id" => Target::Id,
            UNIT_PRICE => Target::UnitPrice,
            n => {
                let f = e.field(n).expect("checked above");
                fields.push(f);
                Target::Field(fields.len() - 1)
            }
        };
        columns.push((*idx, target));
    }
    // Fields a transaction always writes, computed when not mapped.
    if is_tx {
        for name in ["amount", "kind", "quantity"] {
            let mapped = fields.iter().any(|f| f.name == name);
            let needed = name != "quantity" || columns.iter().any(|(_, t)| *t == Target::UnitPrice);
            if !mapped && needed {
                fields.push(e.field(name).expect("transactions have it"));
            }
        }
        let has_amount_source = columns
            .iter()
            .any(|(_, t)| matches!(t, Target::Field(i) if fields[*i].name == "amount"));
        let has_price = columns.iter().any(|(_, t)| *t == Target::UnitPrice);
        let has_qty = columns
            .iter()
            .any(|(_, t)| matches!(t, Target::Field(i) if fields[*i].name == "quantity"));
        if !(has_amount_source || (has_price && has_qty)) {
            return Err(ImportError::Mapping(
                "transactions need an amount, or a quantity and a unit_price: map them with --map (e.g. --map 5=amount)".into(),
            ));
        }
    }
    // Money needs a currency: the file's, or --currency.
    if e.has_money() && !fields.iter().any(|f| f.kind == Kind::Currency) {
        fields.push(e.field("currency").expect("money entities have a currency"));
    }
    for f in e.fields.iter().filter(|f| f.required) {
        if !fields.iter().any(|g| g.name == f.name) {
            return Err(ImportError::Mapping(format!(
                "{} need the field '{}' ({}), but no column feeds it: name a column {} or use --map SOURCE={}",
                e.name, f.name, f.doc, f.name, f.name
            )));
        }
    }
    Ok((Plan { columns, fields }, ignored))
}

/// A file's column names as messages list them: each an excerpt, at most 20.
pub fn column_list(names: &[String]) -> String {
    let mut out: Vec<String> = names
        .iter()
        .take(20)
        .map(|n| kanta_domain::value::excerpt(n))
        .collect();
    if names.len() > 20 {
        out.push(format!("... ({} in all)", names.len()));
    }
    out.join(", ")
}

/// Checks a `--date-format` before any row is read: a format chrono cannot read
/// (`%Q`) would otherwise fail every row.
pub fn check_date_format(f: &str) -> Result<(), ImportError> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err(ImportError::Mapping(format!(
            "--date-format '{}' is not a format chrono can read: use strftime codes such as %d.%m.%Y or %Y-%m-%d %H:%M",
            kanta_domain::value::excerpt(f)
        )));
    }
    let has_date = ["%Y", "%y", "%C", "%G", "%F", "%D", "%x", "%s", "%c", "%+"]
        .iter()
        .any(|c| f.contains(c));
    if !has_date {
        return Err(ImportError::Mapping(format!(
            "--date-format '{}' has no year (such as %Y): use one like %d.%m.%Y",
            kanta_domain::value::excerpt(f)
        )));
    }
    Ok(())
}

/// Reads and validates the whole file, handing valid rows to `on_chunk` as they
/// are ready; `on_chunk` returns false to stop reading. `progress` is called now and
/// then with (bytes read, bytes in all). Errors name the file.
pub fn parse_file(
    path: &Path,
    opts: &ImportOptions,
    chunk_rows: usize,
    progress: &mut dyn FnMut(u64, u64),
    on_chunk: &mut dyn FnMut(Chunk) -> bool,
) -> Result<Parsed, ImportError> {
    parse_file_inner(path, opts, chunk_rows, progress, on_chunk).map_err(|e| e.in_file(path))
}

/// Checks the mapping's column numbers against the file's `width` columns.
fn check_columns(opts: &ImportOptions, width: usize) -> Result<(), ImportError> {
    for (src, field) in &opts.mapping.pairs {
        if let SourceColumn::Number(n) = src
            && *n > width
        {
            return Err(ImportError::Mapping(format!(
                "--map {n}={field}: there is no column {n}: the file has {width} column{}",
                if width == 1 { "" } else { "s" }
            )));
        }
    }
    Ok(())
}

/// When a delimited file's first line has none of the delimiters the sniffer knows,
/// the one column it was read as is most likely a wrong guess: say so instead of
/// blaming the fields that no column feeds.
fn delimiter_hint(reader: &SourceReader, width: usize, e: ImportError) -> ImportError {
    match (&e, reader.unsniffed_first_line()) {
        (ImportError::Mapping(_), Some(first)) if width <= 1 => {
            let seen: Vec<String> = [b':', b' ', b'/', b'-', b'#', b'~', b'^']
                .iter()
                .filter(|c| first.contains(c))
                .map(|c| match c {
                    b' ' => "space".to_string(),
                    c => format!("'{}'", *c as char),
                })
                .collect();
            let guess = if seen.is_empty() {
                String::new()
            } else {
                format!(" (it has {})", seen.join(", "))
            };
            ImportError::Mapping(format!(
                "cannot tell how the columns are separated: the first line has none of the delimiters tried (comma, semicolon, tab, |){guess}; name it with --delimiter (e.g. --delimiter ':', --delimiter tab or --delimiter whitespace)"
            ))
        }
        _ => e,
    }
}

fn parse_file_inner(
    path: &Path,
    opts: &ImportOptions,
    chunk_rows: usize,
    progress: &mut dyn FnMut(u64, u64),
    on_chunk: &mut dyn FnMut(Chunk) -> bool,
) -> Result<Parsed, ImportError> {
    if let Some(f) = &opts.date_format {
        check_date_format(f)?;
    }
    let mut reader = SourceReader::open(path, opts.format, opts.delimiter, opts.has_header)?;
    let total = reader.bytes_total();
    let mut rows_read = 0u64;
    let mut records = 0u64;
    let mut go_on = true;
    let mut emit = |b: &mut Builder, records: &mut u64| {
        let chunk = b.take_chunk();
        *records += chunk.batch.len() as u64;
        on_chunk(chunk)
    };
    let (mut builder, ignored) = if reader.is_json_lines() {
        // Keys may first appear on any line: read them all, then plan.
        let mut lines = Vec::new();
        while let Some(r) = reader.next_record()? {
            lines.push(r);
            if lines.len() % 65_536 == 0 {
                progress(reader.bytes_read(), total);
            }
        }
        if lines.is_empty() {
            return Err(ImportError::Empty);
        }
        let (plan, ignored) = make_plan(opts, reader.header.as_deref())?;
        let mut b = Builder::new(opts, plan);
        for r in &lines {
            b.row(r);
            if go_on && !b.grouping && b.lines.len() >= chunk_rows {
                go_on = emit(&mut b, &mut records);
            }
        }
        rows_read = lines.len() as u64;
        (b, ignored)
    } else {
        // The first data row, to know the file's width before planning.
        let first = reader.next_record()?;
        let header_width = reader.header.as_ref().map_or(0, Vec::len);
        if header_width == 0 && first.is_none() {
            return Err(ImportError::Empty);
        }
        if let Some(h) = &reader.header
            && let Some((i, long)) = h
                .iter()
                .enumerate()
                .find(|(_, n)| n.len() > source::MAX_HEADER_BYTES)
        {
            return Err(ImportError::Mapping(format!(
                "line 1, column {}: the header '{}' is longer than {} bytes; is line 1 a header (else use --no-header)?",
                i + 1,
                kanta_domain::value::excerpt(long),
                thousands(source::MAX_HEADER_BYTES)
            )));
        }
        let width = header_width.max(first.as_ref().map_or(0, |r| r.fields.len()));
        check_columns(opts, width)?;
        let (plan, ignored) = make_plan(opts, reader.header.as_deref())
            .map_err(|e| delimiter_hint(&reader, width, e))?;
        let mut b = Builder::new(opts, plan);
        b.by_id.reserve((total / 48).min(1 << 24) as usize);
        if let Some(r) = &first {
            rows_read += 1;
            b.row(r);
        }
        let mut rec = SourceRecord::default();
        while go_on && reader.next_into(&mut rec)? {
            rows_read += 1;
            b.row(&rec);
            if !b.grouping && b.lines.len() >= chunk_rows {
                go_on = emit(&mut b, &mut records);
            }
            if rows_read.is_multiple_of(65_536) {
                progress(reader.bytes_read(), total);
            }
        }
        (b, ignored)
    };
    progress(total, total);
    builder.drop_tombstones();
    while go_on && !builder.lines.is_empty() {
        let rest = builder.split_off_front(chunk_rows);
        records += rest.batch.len() as u64;
        go_on = on_chunk(rest);
    }
    let mut errors = builder.errors;
    errors.sort_by_key(|e| e.line);
    Ok(Parsed {
        file: path.to_path_buf(),
        errors,
        rows_read,
        records,
        ignored_columns: ignored,
    })
}

/// A row being built: its values (aligned with the plan's fields), the external id,
/// and for transactions the pieces of the amount.
struct Builder {
    opts: ImportOptions,
    plan: Plan,
    batch: WriteBatch,
    lines: Vec<u64>,
    raw: Vec<RawLines>,
    errors: Vec<RowError>,
    /// Index of each external id in the batch, to merge order lines and catch repeats.
    by_id: HashMap<String, (usize, u64)>,
    /// Occurrences of each content hash, for ids of identical rows.
    seen: HashMap<[u8; 10], u32>,
    /// Orders with an invalid line: all their lines are rejected.
    bad_orders: HashMap<String, u64>,
    is_tx: bool,
    /// Order lines are merged by order_id, so no row is final before the file ends.
    grouping: bool,
    /// Kept rows may still be rejected later (their order, or a reference to
    /// nothing), so their raw text is kept for the reject file.
    keep_raw: bool,
    /// Customers met so far, when rows stream out and create their customers.
    customers_seen: Option<rustc_hash::FxHashSet<String>>,
    /// Customers first met since the last chunk.
    new_customers: Vec<String>,
    idx_customer: Option<usize>,
    idx_amount: Option<usize>,
    idx_quantity: Option<usize>,
    idx_kind: Option<usize>,
    idx_currency: Option<usize>,
    idx_order: Option<usize>,
    idx_time: Option<usize>,
    idx_cost: Option<usize>,
    kind_mapped: bool,
    amount_mapped: bool,
    quantity_mapped: bool,
}

impl Builder {
    fn new(opts: &ImportOptions, plan: Plan) -> Builder {
        let pos = |n: &str| plan.fields.iter().position(|f| f.name == n);
        let mapped = |n: &str| {
            plan.columns
                .iter()
                .any(|(_, t)| matches!(t, Target::Field(i) if plan.fields[*i].name == n))
        };
        let is_tx = std::ptr::eq(opts.entity, &TRANSACTIONS);
        let checked_refs = plan.fields.iter().any(|f| {
            matches!(f.kind, Kind::Ref(t) if !(t == "customers" && opts.entity.creates_customers))
        });
        Builder {
            grouping: is_tx && pos("order_id").is_some(),
            keep_raw: (is_tx && pos("order_id").is_some()) || checked_refs,
            customers_seen: (opts.entity.creates_customers
                && !(is_tx && pos("order_id").is_some()))
            .then(rustc_hash::FxHashSet::default),
            new_customers: Vec::new(),
            is_tx,
            idx_customer: opts.entity.customer_field().and_then(|f| pos(f.name)),
            idx_amount: pos("amount"),
            idx_quantity: pos("quantity"),
            idx_kind: pos("kind"),
            idx_currency: pos("currency"),
            idx_order: pos("order_id"),
            idx_time: pos("occurred_at"),
            idx_cost: pos("cost"),
            kind_mapped: mapped("kind"),
            amount_mapped: mapped("amount"),
            quantity_mapped: mapped("quantity"),
            batch: WriteBatch::new(opts.entity, plan.fields.clone()),
            opts: opts.clone(),
            plan,
            lines: Vec::new(),
            raw: Vec::new(),
            errors: Vec::new(),
            by_id: HashMap::default(),
            seen: HashMap::default(),
            bad_orders: HashMap::default(),
        }
    }

    fn reject(&mut self, line: u64, field: &str, reason: String, rec: &SourceRecord) {
        self.errors.push(RowError {
            line,
            field: field.to_string(),
            reason,
            record: rec.fields.clone(),
        });
    }

    fn row(&mut self, rec: &SourceRecord) {
        if let Some(col) = rec
            .fields
            .iter()
            .position(|f| f.len() > source::MAX_FIELD_BYTES)
        {
            let name = self
                .plan
                .columns
                .iter()
                .find(|(c, _)| *c == col)
                .map(|(_, t)| match t {
                    Target::Id => "id".to_string(),
                    Target::UnitPrice => UNIT_PRICE.to_string(),
                    Target::Field(i) => self.plan.fields[*i].name.to_string(),
                })
                .unwrap_or_else(|| format!("column {}", col + 1));
            let reason = format!(
                "is longer than {} bytes ({} bytes): '{}'",
                thousands(source::MAX_FIELD_BYTES),
                thousands(rec.fields[col].len()),
                kanta_domain::value::excerpt(&rec.fields[col])
            );
            // The reject file gets the row with its long fields cut.
            let record = rec
                .fields
                .iter()
                .map(|f| {
                    if f.len() > source::MAX_FIELD_BYTES {
                        kanta_domain::value::excerpt(f)
                    } else {
                        f.clone()
                    }
                })
                .collect();
            self.errors.push(RowError {
                line: rec.line,
                field: name,
                reason,
                record,
            });
            return;
        }
        let nf = self.plan.fields.len();
        let mut values: Vec<Value> = vec![Value::Null; nf];
        let mut id: Option<String> = None;
        let mut unit_price: Option<Decimal> = None;
        let mut quantity_dec: Option<Decimal> = None;
        let cx_currency = self
            .idx_currency
            .and_then(|ci| {
                self.plan
                    .columns
                    .iter()
                    .find(|(_, t)| *t == Target::Field(ci))
            })
            .and_then(|(col, _)| rec.fields.get(*col))
            .and_then(|s| s.trim().parse::<Currency>().ok())
            .unwrap_or(self.opts.currency);
        let cx = ParseContext {
            currency: cx_currency,
            date_format: self.opts.date_format.as_deref(),
            zone: self.opts.zone,
        };
        let mut first_error: Option<(String, String)> = None;
        for &(col, target) in &self.plan.columns {
            let text = rec.fields.get(col).map(String::as_str).unwrap_or("");
            match target {
                Target::Id => {
                    let t = text.trim();
                    if !t.is_empty() {
                        id = Some(t.to_string());
                    }
                }
                Target::UnitPrice => match Decimal::parse(text) {
                    Ok(d) => unit_price = Some(d),
                    Err(e) => {
                        if first_error.is_none() {
                            first_error = Some((UNIT_PRICE.into(), e.to_string()));
                        }
                    }
                },
                Target::Field(i) => {
                    let f = self.plan.fields[i];
                    if self.is_tx && f.name == "quantity" && !text.trim().is_empty() {
                        match Decimal::parse(text) {
                            Ok(d) => quantity_dec = Some(d),
                            Err(e) => {
                                if first_error.is_none() {
                                    first_error = Some((f.name.into(), e.to_string()));
                                }
                                continue;
                            }
                        }
                    }
                    match parse_field(f.kind, text, &cx) {
                        Ok(v) => values[i] = v,
                        Err(e) => {
                            if first_error.is_none() {
                                first_error = Some((f.name.into(), e.to_string()));
                            }
                        }
                    }
                }
            }
        }
        if let Some((field, reason)) = first_error {
            self.reject_row(rec, &values, &field, reason);
            return;
        }
        // Money rows without a currency column take the file's currency.
        if let Some(ci) = self.idx_currency
            && values[ci].is_null()
        {
            values[ci] = Value::Text(self.opts.currency.code().to_string());
        }
        if self.is_tx
            && let Err((field, reason)) =
                self.complete_transaction(&mut values, unit_price, quantity_dec)
        {
            self.reject_row(rec, &values, field, reason);
            return;
        }
        // Empty values of fields with a default take it, as the database would.
        for (i, f) in self.plan.fields.iter().enumerate() {
            if let (Value::Null, Some(d)) = (&values[i], f.default)
                && let Ok(v) = parse_field(f.kind, d, &cx)
            {
                values[i] = v;
            }
        }
        for (i, f) in self.plan.fields.iter().enumerate() {
            if f.required && values[i].is_null() {
                let reason = if rec.fields.len()
                    < self
                        .plan
                        .columns
                        .iter()
                        .map(|(c, _)| c + 1)
                        .max()
                        .unwrap_or(0)
                {
                    format!(
                        "is required (the row has only {} columns)",
                        rec.fields.len()
                    )
                } else {
                    "is required".to_string()
                };
                self.reject_row(rec, &values, f.name, reason);
                return;
            }
        }
        // The record's id: its own, its order's, or one derived from its content.
        let order = self
            .idx_order
            .and_then(|i| values[i].as_text().map(str::to_string));
        let mut derived = false;
        let ext_id = match (&id, &order) {
            (_, Some(o)) if self.is_tx => o.clone(),
            (Some(id), _) => id.clone(),
            _ => {
                let digest = content_digest(self.opts.entity.name.as_bytes(), &values);
                let n = self.seen.entry(digest).or_insert(0);
                *n += 1;
                derived = true;
                id_from_digest(&digest, *n)
            }
        };
        if let Some(bad_line) = order.as_ref().and_then(|o| self.bad_orders.get(o)).copied() {
            let o = order.clone().unwrap_or_default();
            self.reject(
                rec.line,
                "order_id",
                format!("order {o} has an invalid line {bad_line}"),
                rec,
            );
            return;
        }
        let known = if derived {
            None
        } else {
            self.by_id.get(&ext_id).copied()
        };
        match known {
            Some((row, _)) if self.grouping => {
                if let Err((field, reason)) = self.merge_order_line(row, &values) {
                    let o = order.unwrap_or_default();
                    self.reject(rec.line, field, reason, rec);
                    self.reject_order(&o, rec.line);
                    return;
                }
                if self.keep_raw {
                    self.raw[row].push(rec.fields.clone());
                }
            }
            Some((_, first)) => {
                self.reject(
                    rec.line,
                    "id",
                    format!(
                        "'{}' is also on line {first}",
                        kanta_domain::value::excerpt(&ext_id)
                    ),
                    rec,
                );
            }
            None => {
                // Derived ids are unique by construction; others are remembered to
                // merge order lines and catch repeats.
                if !derived {
                    self.by_id
                        .insert(ext_id.clone(), (self.lines.len(), rec.line));
                }
                if let (Some(seen), Some(ci)) = (&mut self.customers_seen, self.idx_customer)
                    && let Some(c) = values[ci].as_text()
                    && !seen.contains(c)
                {
                    seen.insert(c.to_string());
                    self.new_customers.push(c.to_string());
                }
                self.batch.push(ext_id, values);
                self.lines.push(rec.line);
                self.raw.push(if self.keep_raw {
                    vec![rec.fields.clone()]
                } else {
                    Vec::new()
                });
            }
        }
    }

    fn reject_row(&mut self, rec: &SourceRecord, values: &[Value], field: &str, reason: String) {
        self.reject(rec.line, field, reason, rec);
        // An invalid line spoils its whole order.
        if let Some(o) = self
            .idx_order
            .and_then(|i| values.get(i))
            .and_then(Value::as_text)
        {
            let o = o.to_string();
            self.reject_order(&o, rec.line);
        } else if self.is_tx
            && let Some(col) = self
                .idx_order
                .and_then(|oi| {
                    self.plan
                        .columns
                        .iter()
                        .find(|(_, t)| *t == Target::Field(oi))
                })
                .map(|(c, _)| *c)
            && let Some(o) = rec
                .fields
                .get(col)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        {
            self.reject_order(&o, rec.line);
        }
    }

    /// Marks an order bad; lines of it already kept are moved to the rejects.
    fn reject_order(&mut self, order: &str, bad_line: u64) {
        if self.bad_orders.contains_key(order) {
            return;
        }
        self.bad_orders.insert(order.to_string(), bad_line);
        if let Some((row, _)) = self.by_id.remove(order) {
            let line = self.lines[row];
            for r in records(std::mem::take(&mut self.raw[row])) {
                self.errors.push(RowError {
                    line,
                    field: "order_id".into(),
                    reason: format!("order {order} has an invalid line {bad_line}"),
                    record: r,
                });
            }
            // Tombstone: the row is dropped in finish().
            self.lines[row] = 0;
        }
    }

    /// Amount from quantity × unit price, kind from the sign.
    fn complete_transaction(
        &self,
        values: &mut [Value],
        unit_price: Option<Decimal>,
        quantity: Option<Decimal>,
    ) -> Result<(), (&'static str, String)> {
        let ai = self.idx_amount.expect("transactions write amount");
        let currency: Currency = self
            .idx_currency
            .and_then(|i| values[i].as_text())
            .and_then(|c| c.parse().ok())
            .unwrap_or(self.opts.currency);
        if !self.amount_mapped || values[ai].is_null() {
            match (quantity, unit_price) {
                (Some(q), Some(p)) => {
                    let amount = q
                        .mul(&p)
                        .and_then(|d| d.to_minor(currency))
                        .map_err(|e| ("amount", format!("quantity × unit_price: {e}")))?;
                    values[ai] = Value::Int(amount);
                }
                (None, _) if !self.amount_mapped => {
                    return Err(("quantity", "is required (or give an amount)".into()));
                }
                (_, None) if !self.amount_mapped => {
                    return Err(("unit_price", "is required (or give an amount)".into()));
                }
                _ => return Err(("amount", "is required".into())),
            }
        }
        if let (Some(qi), Some(q)) = (self.idx_quantity, quantity)
            && self.quantity_mapped
        {
            let whole = q.to_units(0).map_err(|e| ("quantity", e.to_string()))?;
            values[qi] = Value::Int(whole);
        }
        if let Some(ki) = self.idx_kind
            && (!self.kind_mapped || values[ki].is_null())
        {
            let amount = values[ai].as_int().unwrap_or(0);
            values[ki] = Value::Text(kanta_domain::schema::transaction_kind_for(amount).into());
        }
        Ok(())
    }

    /// Adds a line to an order kept earlier: amounts, costs and quantities add up, the
    /// earliest time wins, and the customer must be the same.
    fn merge_order_line(
        &mut self,
        row: usize,
        values: &[Value],
    ) -> Result<(), (&'static str, String)> {
        let stride = self.batch.stride();
        let base = row * stride + 1;
        let (ci, ai) = (self.idx_customer, self.idx_amount);
        if let Some(ci) = ci {
            let a = &self.batch.values[base + ci];
            if a != &values[ci] {
                return Err((
                    "customer_id",
                    format!(
                        "order {} has lines for customers {} and {}",
                        self.idx_order
                            .and_then(|o| values[o].as_text())
                            .unwrap_or(""),
                        a.canonical(),
                        values[ci].canonical()
                    ),
                ));
            }
        }
        if let Some(ci) = self.idx_currency
            && self.batch.values[base + ci] != values[ci]
        {
            return Err((
                "currency",
                "an order's lines must share one currency".into(),
            ));
        }
        for idx in [ai, self.idx_cost, self.idx_quantity].into_iter().flatten() {
            let slot = &mut self.batch.values[base + idx];
            *slot = match (&*slot, &values[idx]) {
                (Value::Int(a), Value::Int(b)) => Value::Int(a.saturating_add(*b)),
                (Value::Null, v) => v.clone(),
                (v, _) => v.clone(),
            };
        }
        if let Some(ti) = self.idx_time
            && let (Value::Time(a), Value::Time(b)) = (&self.batch.values[base + ti], &values[ti])
            && b < a
        {
            self.batch.values[base + ti] = values[ti].clone();
        }
        if let (Some(ki), Some(ai)) = (self.idx_kind, ai)
            && !self.kind_mapped
        {
            let amount = self.batch.values[base + ai].as_int().unwrap_or(0);
            self.batch.values[base + ki] =
                Value::Text(kanta_domain::schema::transaction_kind_for(amount).into());
        }
        Ok(())
    }

    /// Hands over every row kept so far.
    fn take_chunk(&mut self) -> Chunk {
        Chunk {
            batch: WriteBatch {
                values: std::mem::take(&mut self.batch.values),
                create_customers: std::mem::take(&mut self.new_customers),
                ..WriteBatch::new(self.batch.entity, self.batch.fields.clone())
            },
            lines: std::mem::take(&mut self.lines),
            raw: std::mem::take(&mut self.raw),
            rejected_so_far: self.errors.len() as u64,
            customers_listed: self.customers_seen.is_some(),
        }
    }

    /// Hands over the first `n` rows kept (after the file is read).
    fn split_off_front(&mut self, n: usize) -> Chunk {
        let n = n.min(self.lines.len());
        let stride = self.batch.stride();
        let rest_values = self.batch.values.split_off(n * stride);
        let rest_lines = self.lines.split_off(n);
        let rest_raw = self.raw.split_off(n);
        Chunk {
            batch: WriteBatch {
                values: std::mem::replace(&mut self.batch.values, rest_values),
                ..WriteBatch::new(self.batch.entity, self.batch.fields.clone())
            },
            lines: std::mem::replace(&mut self.lines, rest_lines),
            raw: std::mem::replace(&mut self.raw, rest_raw),
            rejected_so_far: self.errors.len() as u64,
            customers_listed: false,
        }
    }

    /// Removes rows of orders rejected after they were kept.
    fn drop_tombstones(&mut self) {
        if !self.lines.contains(&0) {
            return;
        }
        let stride = self.batch.stride();
        let values = std::mem::take(&mut self.batch.values);
        let lines = std::mem::take(&mut self.lines);
        let raw = std::mem::take(&mut self.raw);
        let mut it = values.into_iter();
        for (line, raw) in lines.into_iter().zip(raw) {
            let row: Vec<Value> = it.by_ref().take(stride).collect();
            if line != 0 {
                self.batch.values.extend(row);
                self.lines.push(line);
                self.raw.push(raw);
            }
        }
        self.by_id.clear();
    }
}

/// A row's raw records: one for most rows, one per line for a merged order, none
/// when the import keeps no raw text. Kept as fields, not joined into one text: a
/// field may hold any character, a separator too (fuzzing found U+001E, the old
/// separator of an order's lines, splitting one line into two rejects).
type RawLines = Vec<Vec<String>>;

/// The records a rejected row leaves in the reject file: its raw lines, or one
/// empty record when none were kept.
fn records(raw: RawLines) -> RawLines {
    if raw.is_empty() {
        vec![vec![String::new()]]
    } else {
        raw
    }
}

impl Chunk {
    /// External ids referenced by field `k` of the batch (0-based in `batch.fields`),
    /// each once, in order of first use.
    pub fn referenced(&self, k: usize) -> Vec<String> {
        let stride = self.batch.stride();
        let mut seen = rustc_hash::FxHashSet::default();
        let mut ids = Vec::new();
        for r in self.batch.values.chunks(stride) {
            if let Some(id) = r[k + 1].as_text()
                && seen.insert(id)
            {
                ids.push(id.to_string());
            }
        }
        ids
    }

    /// Moves rows whose reference in field `k` is not in `known` to the errors.
    pub fn reject_missing_refs(
        &mut self,
        k: usize,
        known: &dyn Fn(&str) -> bool,
        errors: &mut Vec<RowError>,
    ) {
        let field = self.batch.fields[k];
        let target = match field.kind {
            Kind::Ref(t) => t,
            _ => return,
        };
        self.reject_rows(
            &|row: &[Value]| {
                let id = row[k].as_text()?;
                (!known(id)).then(|| {
                    (
                        field.name.to_string(),
                        format!(
                            "no {target} record with id '{}' (import the {target} first)",
                            kanta_domain::value::excerpt(id)
                        ),
                    )
                })
            },
            errors,
        );
    }

    /// Moves the rows for which `bad` names a field and a reason to the errors (each
    /// line of a merged order with the order's first line). `bad` sees a row's values
    /// in the order of `batch.fields`.
    pub fn reject_rows(&mut self, bad: &RowCheck<'_>, errors: &mut Vec<RowError>) {
        let stride = self.batch.stride();
        let rows = self.batch.len();
        let mut keep = vec![true; rows];
        for (r, row) in self.batch.values.chunks(stride).enumerate() {
            if let Some((field, reason)) = bad(&row[1..]) {
                keep[r] = false;
                for rec in records(self.raw[r].clone()) {
                    errors.push(RowError {
                        line: self.lines[r],
                        field: field.clone(),
                        reason: reason.clone(),
                        record: rec,
                    });
                }
            }
        }
        if keep.iter().all(|k| *k) {
            return;
        }
        let values = std::mem::take(&mut self.batch.values);
        let lines = std::mem::take(&mut self.lines);
        let raw = std::mem::take(&mut self.raw);
        let mut it = values.into_iter();
        for ((k, line), raw) in keep.into_iter().zip(lines).zip(raw) {
            let row: Vec<Value> = it.by_ref().take(stride).collect();
            if k {
                self.batch.values.extend(row);
                self.lines.push(line);
                self.raw.push(raw);
            }
        }
    }
}

impl Parsed {
    /// Lines rejected (an order's lines count one each).
    pub fn rejected(&self) -> u64 {
        self.errors.len() as u64
    }

    /// `FILE:LINE: FIELD: reason` for an error.
    pub fn describe(&self, e: &RowError) -> String {
        format!("{}:{e}", self.file.display())
    }

    /// Writes the rejected rows, each with its line, field and reason, as CSV.
    pub fn write_rejects(&self, path: &Path) -> std::io::Result<()> {
        let mut w = csv::Writer::from_path(path)?;
        let width = self
            .errors
            .iter()
            .map(|e| e.record.len())
            .max()
            .unwrap_or(0);
        let mut head = vec!["line".to_string(), "field".into(), "reason".into()];
        head.extend((1..=width).map(|i| format!("column_{i}")));
        w.write_record(&head)?;
        for e in &self.errors {
            let mut row = vec![e.line.to_string(), e.field.clone(), e.reason.clone()];
            row.extend(e.record.iter().cloned());
            row.resize(width + 3, String::new());
            w.write_record(&row)?;
        }
        w.flush()
    }
}
