//! The importer's row parsing: `kanta_import::parse_file`, the public entry point of
//! the (private) row builder `Builder::row`, which validates each row with
//! `kanta_domain::value::parse_field`, merges order lines by `order_id`, derives ids
//! and rejects rows. The file is written to a scratch file for each input.
//!
//! Input: 5 bytes of options, then the file.
//! - byte 0: the entity (an index into `schema::ENTITIES`);
//! - byte 1: bits 0-1 the format (by extension, CSV, JSON Lines, whitespace), bit 2
//!   no header, bits 3-5 the delimiter (0-3 sniffed, then `,` `;` tab whitespace),
//!   bit 6 the extension `.jsonl` instead of `.csv`, bit 7 a `--date-format`;
//! - byte 2: bits 0-2 the date format, bits 3-4 the currency, bits 5-7 the zone;
//! - byte 3: rows per chunk (1 + byte mod 16);
//! - byte 4: bit 7 maps columns by number (`--map 1=id --map 2=FIELD ...`, the
//!   first (bits 0-3) names of `id` and the entity's fields).
//!
//! Properties, besides "never panics":
//! - chunks are well formed: a whole number of rows, one line (> 0) per row, an id
//!   (a non-empty text) first, required fields present, every value of its field's
//!   kind and bounds (money within ±MAX_MINOR except the sums of merged order
//!   lines, which the core's write path bounds; dates and times within
//!   MIN_YEAR..=MAX_YEAR, texts within their lengths, choices among their words,
//!   currencies three capitals, whole numbers within their range);
//! - ids are unique in the file;
//! - the errors are in line order; `records` counts the rows handed over; every data
//!   row read is handed over or rejected exactly once (for transactions, whose lines
//!   merge into orders, at most once).
#![no_main]

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use chrono::Datelike;
use kanta_domain::money::{Currency, MAX_MINOR};
use kanta_domain::schema::{self, Kind};
use kanta_domain::time::Tz;
use kanta_domain::value::{MAX_SHORT_TEXT, MAX_TEXT, MAX_YEAR, MIN_YEAR, Value};
use kanta_import::{Delimiter, Format, ImportOptions, Mapping, parse_file};
use libfuzzer_sys::fuzz_target;

const DATE_FORMATS: &[&str] = &[
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%d.%m.%Y %H.%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%Y%m%d",
    "%Y-%m-%dT%H:%M:%S%z",
    "%s",
];

fn scratch(ext: &str) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("kanta-fuzz-import-{}.{ext}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (opt, file) = data.split_at(5);
    let entity = schema::ENTITIES[usize::from(opt[0]) % schema::ENTITIES.len()];
    let format = match opt[1] & 3 {
        0 => None,
        1 => Some(Format::Csv),
        2 => Some(Format::JsonLines),
        _ => Some(Format::Whitespace),
    };
    let has_header = opt[1] & 4 == 0;
    let delimiter = match (opt[1] >> 3) & 7 {
        4 => Some(Delimiter::Char(b',')),
        5 => Some(Delimiter::Char(b';')),
        6 => Some(Delimiter::Char(b'\t')),
        7 => Some(Delimiter::Whitespace),
        _ => None,
    };
    let ext = if opt[1] & 0x40 != 0 { "jsonl" } else { "csv" };
    let date_format =
        (opt[1] & 0x80 != 0).then(|| DATE_FORMATS[usize::from(opt[2] & 7)].to_string());
    let currency = [Currency::EUR, Currency::USD, "JPY".parse().unwrap(), "BHD".parse().unwrap()]
        [usize::from((opt[2] >> 3) & 3)];
    let zone = [
        Tz::Europe__Helsinki,
        Tz::UTC,
        Tz::America__New_York,
        Tz::Pacific__Kiritimati,
        Tz::Pacific__Chatham,
        Tz::Asia__Kolkata,
        Tz::America__St_Johns,
        Tz::Australia__Lord_Howe,
    ][usize::from(opt[2] >> 5)];
    let chunk_rows = 1 + usize::from(opt[3] % 16);
    let mut mapping = Mapping::default();
    if opt[4] & 0x80 != 0 {
        let names = std::iter::once("id").chain(entity.fields.iter().map(|f| f.name));
        for (i, name) in names.take(usize::from(opt[4] & 0x0f)).enumerate() {
            mapping.add(&format!("{}={name}", i + 1)).expect("a valid mapping");
        }
    }
    let opts = ImportOptions {
        entity,
        format,
        delimiter,
        has_header,
        mapping,
        date_format,
        currency,
        zone,
    };
    let path = scratch(ext);
    {
        let mut f = std::fs::File::create(&path).expect("scratch file");
        f.write_all(file).expect("write scratch file");
    }

    let mut records_seen = 0u64;
    let mut ids: HashSet<String> = HashSet::new();
    let mut on_chunk = |chunk: kanta_import::Chunk| {
        let b = &chunk.batch;
        assert!(std::ptr::eq(b.entity, entity));
        let stride = b.stride();
        // Order lines merged by order_id add up their amounts (saturating): the sum
        // may pass MAX_MINOR, which the core's write path refuses
        // (`kanta_core::write::row_problem`), not the importer.
        let merged = std::ptr::eq(entity, &schema::TRANSACTIONS)
            && b.fields.iter().any(|f| f.name == "order_id");
        assert_eq!(b.values.len() % stride, 0, "a chunk of part rows");
        assert_eq!(chunk.lines.len(), b.len(), "lines and rows differ");
        assert!(chunk.lines.iter().all(|l| *l > 0), "a row of line 0: {:?}", chunk.lines);
        records_seen += b.len() as u64;
        for row in b.values.chunks(stride) {
            let id = match &row[0] {
                Value::Text(t) if !t.is_empty() => t.clone(),
                other => panic!("a row without an id: {other:?}"),
            };
            assert!(ids.insert(id.clone()), "the id {id:?} is handed over twice");
            for (f, v) in b.fields.iter().zip(&row[1..]) {
                check_value(f, v, &id, merged);
            }
        }
        true
    };
    let result = parse_file(&path, &opts, chunk_rows, &mut |_, _| {}, &mut on_chunk);
    let _ = std::fs::remove_file(&path);
    let parsed = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(parsed.records, records_seen, "records counted wrong");
    assert!(
        parsed.errors.windows(2).all(|w| w[0].line <= w[1].line),
        "errors out of line order"
    );
    for e in &parsed.errors {
        assert!(e.line > 0, "an error on line 0: {e}");
        let _ = parsed.describe(e);
    }
    let accounted = parsed.records + parsed.errors.len() as u64;
    if std::ptr::eq(entity, &schema::TRANSACTIONS) {
        assert!(
            accounted <= parsed.rows_read,
            "{} records + {} errors > {} rows read",
            parsed.records,
            parsed.errors.len(),
            parsed.rows_read
        );
    } else {
        assert_eq!(
            accounted,
            parsed.rows_read,
            "{} records + {} errors for {} rows read",
            parsed.records,
            parsed.errors.len(),
            parsed.rows_read
        );
    }
});

fn check_value(f: &schema::Field, v: &Value, id: &str, merged: bool) {
    let bad = || format!("row {id:?}: field {} ({:?}) holds {v:?}", f.name, f.kind);
    if v.is_null() {
        assert!(!f.required, "{}", bad());
        return;
    }
    match (f.kind, v) {
        (Kind::Text | Kind::Ref(_) | Kind::Email | Kind::Phone, Value::Text(t)) => {
            assert!(!t.is_empty() && t.trim() == t, "{}", bad());
            assert!(t.chars().count() <= MAX_SHORT_TEXT, "{}", bad());
        }
        (Kind::LongText, Value::Text(t)) => {
            assert!(!t.is_empty() && t.chars().count() <= MAX_TEXT, "{}", bad())
        }
        (Kind::Money, Value::Int(m)) => assert!(merged || m.abs() <= MAX_MINOR, "{}", bad()),
        (Kind::Int { min, max }, Value::Int(i)) => assert!((min..=max).contains(i), "{}", bad()),
        (Kind::Float, Value::Float(x)) => assert!(x.is_finite(), "{}", bad()),
        (Kind::Bool, Value::Bool(_)) => {}
        (Kind::Currency, Value::Text(c)) => {
            assert!(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()), "{}", bad())
        }
        (Kind::Choice(words), Value::Text(w)) => assert!(words.contains(&w.as_str()), "{}", bad()),
        (Kind::Date, Value::Date(d)) => {
            assert!((MIN_YEAR..=MAX_YEAR).contains(&d.year()), "{}", bad())
        }
        (Kind::Timestamp, Value::Time(t)) => {
            assert!((MIN_YEAR..=MAX_YEAR).contains(&t.year()), "{}", bad())
        }
        _ => panic!("{}", bad()),
    }
}
