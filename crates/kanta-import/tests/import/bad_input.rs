//! Bad files get one clear error naming the file, the line and the field, and never
//! echo more than an excerpt of a value.

use std::io::Write;
use std::path::PathBuf;

use kanta_domain::Currency;
use kanta_domain::schema::{CUSTOMERS, Entity, TRANSACTIONS};
use kanta_import::{Chunk, ImportError, ImportOptions, Mapping, Parsed, parse_file};

fn file(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p).unwrap().write_all(text).unwrap();
    p
}

fn opts(entity: &'static Entity) -> ImportOptions {
    ImportOptions {
        entity,
        format: None,
        delimiter: None,
        has_header: true,
        mapping: Mapping::default(),
        date_format: None,
        currency: Currency::EUR,
        zone: kanta_domain::time::Tz::UTC,
    }
}

fn run(path: &std::path::Path, o: &ImportOptions) -> Result<(Parsed, Vec<Chunk>), ImportError> {
    let mut chunks = Vec::new();
    let parsed = parse_file(path, o, 10_000, &mut |_, _| {}, &mut |c| {
        chunks.push(c);
        true
    })?;
    Ok((parsed, chunks))
}

fn err(path: &std::path::Path, o: &ImportOptions) -> String {
    match run(path, o) {
        Ok((p, _)) => panic!("accepted, with {} errors", p.errors.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_empty_file_says_it_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("empty.csv", &b""[..]), ("blank.csv", b"\n\n  \n")] {
        let p = file(&dir, name, text);
        let e = err(&p, &opts(&TRANSACTIONS));
        assert!(e.contains(&p.display().to_string()), "{e}");
        assert!(e.contains("the file is empty"), "{e}");
        assert!(!e.contains("need an amount"), "{e}");
    }
    let p = file(&dir, "empty.jsonl", b"");
    assert!(err(&p, &opts(&TRANSACTIONS)).contains("the file is empty"));
}

#[test]
fn a_colon_separated_file_is_told_to_name_its_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "colons.csv",
        b"customer_id:occurred_at:amount\nc1:2024-01-01:12.50\n",
    );
    let e = err(&p, &opts(&TRANSACTIONS));
    assert!(e.contains("comma, semicolon, tab, |"), "{e}");
    assert!(e.contains("--delimiter"), "{e}");
    assert!(e.contains("':'"), "{e}");
    assert!(!e.contains("need an amount"), "{e}");
}

#[test]
fn a_mapped_column_the_file_lacks_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "three.csv",
        b"c1,2024-01-01,12.50\nc2,2024-01-02,3.00\nc3,2024-01-03,4.00\n",
    );
    let mut o = opts(&TRANSACTIONS);
    o.has_header = false;
    for m in ["1=customer_id", "2=occurred_at", "9=amount"] {
        o.mapping.add(m).unwrap();
    }
    let e = err(&p, &o);
    assert!(
        e.contains("there is no column 9: the file has 3 columns"),
        "{e}"
    );
    assert_eq!(e.matches("column 9").count(), 1, "{e}");
}

#[test]
fn an_invalid_date_format_is_flagged_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "t.csv",
        b"customer_id,occurred_at,amount\nc1,2024-01-01,1\n",
    );
    let mut o = opts(&TRANSACTIONS);
    o.date_format = Some("%Q".into());
    let e = err(&p, &o);
    assert!(e.contains("--date-format '%Q'"), "{e}");
    assert!(!e.contains(":2:"), "not blamed on a row: {e}");
}

#[test]
fn json_lines_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "t.jsonl",
        b"{\"customer_id\":\"c1\",\"occurred_at\":\"2024-01-01\",\"amount\":1}\n{not json\n",
    );
    let e = err(&p, &opts(&TRANSACTIONS));
    assert!(e.starts_with(&format!("{}:2: ", p.display())), "{e}");
}

#[test]
fn huge_numbers_are_out_of_range_not_not_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "t.jsonl",
        b"{\"customer_id\":\"c1\",\"occurred_at\":\"2024-01-01\",\"amount\":1e23}\n\
          {\"customer_id\":\"c2\",\"occurred_at\":\"2024-01-01\",\"amount\":1,\"quantity\":1e23}\n\
          {\"customer_id\":\"c3\",\"occurred_at\":\"2024-01-01\",\"amount\":9223372036854775807}\n",
    );
    let (parsed, _) = run(&p, &opts(&TRANSACTIONS)).unwrap();
    let msgs: Vec<String> = parsed.errors.iter().map(|e| parsed.describe(e)).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(
        msgs[0].ends_with(":1: amount: 100000000000000000000000.00 is beyond the largest amount Kanta accepts, ±100,000,000,000.00"),
        "{msgs:?}"
    );
    assert!(
        msgs[1]
            .contains("quantity: 1e+23 is out of range (too large for a whole number of 64 bits)"),
        "{msgs:?}"
    );
    assert!(
        // A file's numbers are major units (an API number is minor units).
        msgs[2].contains("amount: 9223372036854775807.00 is beyond the largest amount"),
        "{msgs:?}"
    );
    assert!(
        !msgs.iter().any(|m| m.contains("not a whole number")),
        "{msgs:?}"
    );
}

#[test]
fn a_long_field_is_refused_by_name_with_an_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"id,name,email\nc1,".to_vec();
    text.extend(std::iter::repeat_n(b'A', 300_000));
    text.extend(b",a@example.fi\nc2,Bea,b@example.fi\n");
    let p = file(&dir, "c.csv", &text);
    let (parsed, chunks) = run(&p, &opts(&CUSTOMERS)).unwrap();
    assert_eq!(parsed.errors.len(), 1);
    let m = parsed.describe(&parsed.errors[0]);
    assert!(
        m.contains(":2: name: is longer than 65,536 bytes (300,000 bytes)"),
        "{m}"
    );
    assert!(m.len() < 300, "no more than an excerpt: {} bytes", m.len());
    assert!(parsed.errors[0].record.iter().all(|f| f.len() < 300));
    assert_eq!(chunks.iter().map(|c| c.batch.len()).sum::<usize>(), 1);
}

#[test]
fn a_line_past_the_limit_stops_the_read_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    // A header of 3 MB with no line end, as a file without newlines would be.
    let mut text = b"id,".to_vec();
    text.extend(std::iter::repeat_n(b'x', 3 << 20));
    let p = file(&dir, "header.csv", &text);
    let e = err(&p, &opts(&CUSTOMERS));
    assert!(
        e.starts_with(&format!(
            "{}: line 1 is longer than 1,048,576 bytes",
            p.display()
        )),
        "{e}"
    );
    assert!(e.len() < 400, "{e}");
    // A long data line, in CSV and in JSON Lines.
    let mut text = b"id,name\nc1,Aino\nc2,".to_vec();
    text.extend(std::iter::repeat_n(b'y', 2 << 20));
    text.extend(b"\nc3,Bea\n");
    let p = file(&dir, "line.csv", &text);
    let e = err(&p, &opts(&CUSTOMERS));
    assert!(e.contains("line 3 is longer than 1,048,576 bytes"), "{e}");
    // A line just past the limit that ends within a later read.
    let mut text = b"id,name\nc1,".to_vec();
    text.extend(std::iter::repeat_n(b'w', (1 << 20) + 300_000));
    text.extend(b"\nc3,Bea\n");
    let p = file(&dir, "ends.csv", &text);
    let e = err(&p, &opts(&CUSTOMERS));
    assert!(e.contains("line 2 is longer than 1,048,576 bytes"), "{e}");
    let mut text = b"{\"id\":\"c1\",\"name\":\"".to_vec();
    text.extend(std::iter::repeat_n(b'z', 2 << 20));
    text.extend(b"\"}\n");
    let p = file(&dir, "line.jsonl", &text);
    let e = err(&p, &opts(&CUSTOMERS));
    assert!(e.contains("line 1 is longer than 1,048,576 bytes"), "{e}");
    assert!(e.len() < 400, "{e}");
}

#[test]
fn a_header_name_too_long_is_refused_with_an_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"id,".to_vec();
    text.extend(std::iter::repeat_n(b'h', 5_000));
    text.extend(b"\nc1,x\n");
    let p = file(&dir, "h.csv", &text);
    let e = err(&p, &opts(&CUSTOMERS));
    assert!(e.contains("line 1, column 2: the header"), "{e}");
    assert!(e.len() < 400, "{e}");
}

#[test]
fn phones_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "c.csv",
        b"id,name,phone\nc1,Aino,+358 40 123 4567\nc2,Eve,javascript:alert(1)\n",
    );
    let (parsed, _) = run(&p, &opts(&CUSTOMERS)).unwrap();
    assert_eq!(parsed.errors.len(), 1);
    let m = parsed.describe(&parsed.errors[0]);
    assert!(
        m.contains(":3: phone: 'javascript:alert(1)' is not a phone number"),
        "{m}"
    );
}

#[test]
fn dates_before_1900_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "t.csv",
        b"customer_id,occurred_at,amount\nc1,1899-12-31,1\nc1,9999-12-31,1\n",
    );
    let (parsed, _) = run(&p, &opts(&TRANSACTIONS)).unwrap();
    let msgs: Vec<String> = parsed.errors.iter().map(|e| parsed.describe(e)).collect();
    assert!(
        msgs[0].contains(":2: occurred_at: 1899-12-31T00:00:00.000Z is before 1900"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].contains(":3: occurred_at: 9999-12-31T00:00:00.000Z is after 2200"),
        "{msgs:?}"
    );
}

/// An invalid line spoils its whole order: each of the order's lines is rejected
/// once, with its own fields, whatever characters they hold. Found by fuzzing
/// (`fuzz/regressions/import_row/crash-order-line-with-record-separator`): a line
/// holding U+001E, once the separator of an order's kept lines, came back as two
/// rejects, so the file had more rejects (5) than rows (4).
#[test]
fn an_orders_lines_are_rejected_once_each_whatever_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "orders.csv",
        b"order_id,customer_id,occurred_at,quantity,unit_price,channel\n\
          A1,c1,2025-12-31 10:00,2,\"11,50\",web\n\
          A1,c1,2025-12-31 10:05,1,3.20,w\x1eb\x1fx\n\
          A2,c2,2025-12-31 11:00,1,1.00,shop\n\
          A1,c1,2025-12-31 10:30,1,9.99(shop\n",
    );
    let (parsed, chunks) = run(&p, &opts(&TRANSACTIONS)).unwrap();
    assert_eq!(parsed.rows_read, 4);
    assert_eq!(parsed.records, 1, "order A2 is handed over");
    assert_eq!(chunks.iter().map(|c| c.batch.len()).sum::<usize>(), 1);
    let rejects: Vec<(u64, Vec<String>)> = parsed
        .errors
        .iter()
        .map(|e| (e.line, e.record.clone()))
        .collect();
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert_eq!(
        parsed.records + parsed.errors.len() as u64,
        parsed.rows_read,
        "every row handed over or rejected once"
    );
    assert!(
        rejects
            .iter()
            .any(|(_, r)| r.last().map(String::as_str) == Some("w\u{1e}b\u{1f}x")),
        "the line's last field comes back whole: {rejects:?}"
    );
    assert!(
        parsed.errors.iter().any(|e| parsed
            .describe(e)
            .contains("unit_price: '9.99(shop' is not a number")),
        "{:?}",
        parsed.errors
    );
}
