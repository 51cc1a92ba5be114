//! The CSV sniffer and the file reader: `kanta_import::sniff_delimiter` (the delimiter
//! of a file's first line) and `kanta_import::SourceReader` (`open`, which sniffs
//! the delimiter, reads the header and strips a UTF-8 BOM, and `next_record`, which
//! refuses text that is not UTF-8). The file is written to a scratch file.
//!
//! Input: byte 0 is the options (bit 0 no header; bits 1-2 the format: by
//! extension, CSV, JSON Lines, whitespace; bits 3-4 the delimiter: sniffed, `;`,
//! tab, whitespace), the rest the file.
//!
//! Properties, besides "never panics":
//! - the sniffer answers one of `,` `;` tab `|` or nothing; nothing exactly when the
//!   first line has none of them; else one that occurs most often on it; it reads
//!   the first line only;
//! - a CSV file whose delimiter was sniffed keeps its first line as unsniffed
//!   exactly when the sniffer found nothing;
//! - header names are trimmed and the first has no BOM; records come in line order
//!   (line >= 1, never decreasing), never empty; a JSON Lines record has one field
//!   per key seen;
//! - a UTF-8 BOM in front of the file changes nothing: the same header, the same
//!   records on the same lines, the same kind of error.
#![no_main]

use std::io::Write;
use std::path::{Path, PathBuf};

use kanta_import::{Delimiter, Format, ImportError, SourceReader, sniff_delimiter};
use libfuzzer_sys::fuzz_target;

const BOM: &[u8] = b"\xef\xbb\xbf";

fn scratch(n: u32) -> PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("kanta-fuzz-sniff-{}-{n}.csv", std::process::id()))
}

/// What reading a file gave, comparable across a BOM: the header and the records,
/// or the error's kind and line.
#[derive(Debug, PartialEq)]
enum Outcome {
    Read {
        header: Option<Vec<String>>,
        records: Vec<(u64, Vec<String>)>,
    },
    Failed(String, u64),
}

fn failed(e: &ImportError) -> Outcome {
    let _ = e.to_string();
    match e {
        ImportError::Syntax { line, .. } => Outcome::Failed("syntax".into(), *line),
        ImportError::Encoding { line } => Outcome::Failed("encoding".into(), *line),
        ImportError::LineTooLong { line } => Outcome::Failed("too long".into(), *line),
        other => Outcome::Failed(format!("{other:?}"), 0),
    }
}

fn read(
    path: &Path,
    file: &[u8],
    format: Option<Format>,
    delimiter: Option<Delimiter>,
    has_header: bool,
) -> Outcome {
    {
        let mut f = std::fs::File::create(path).expect("scratch file");
        f.write_all(file).expect("write scratch file");
    }
    let opened = SourceReader::open(path, format, delimiter, has_header);
    // The reader holds the file open; its name can go now.
    let _ = std::fs::remove_file(path);
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let csv = matches!(format, None | Some(Format::Csv)) && delimiter != Some(Delimiter::Whitespace);
    if csv && delimiter.is_none() && !file.starts_with(BOM) {
        assert_eq!(
            r.unsniffed_first_line().is_some(),
            sniff_delimiter(file).is_none(),
            "unsniffed first line and sniffer disagree"
        );
    }
    if has_header && !r.is_json_lines() {
        let h = r.header.as_ref().expect("a header was asked for");
        if let Some(first) = h.first() {
            assert!(!first.starts_with('\u{feff}'), "a BOM in the header: {h:?}");
        }
        assert!(h.iter().all(|n| n.trim() == n), "untrimmed header: {h:?}");
    }
    let header = r.header.clone();
    let mut records = Vec::new();
    let mut last = 0;
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                // Non-decreasing only: the csv crate counts lines by `\n`, so the
                // records of a file with bare `\r` line ends share one line number.
                assert!(rec.line >= last.max(1), "line {} after line {last}", rec.line);
                last = rec.line;
                if r.is_json_lines() {
                    let keys = r.header.as_ref().map_or(0, Vec::len);
                    assert_eq!(rec.fields.len(), keys, "fields and keys differ");
                } else {
                    assert!(!rec.fields.is_empty(), "an empty record on line {}", rec.line);
                }
                let _ = r.bytes_read();
                records.push((rec.line, rec.fields));
            }
            Ok(None) => break,
            Err(e) => return failed(&e),
        }
    }
    Outcome::Read { header, records }
}

fuzz_target!(|data: &[u8]| {
    let Some((&opt, file)) = data.split_first() else {
        return;
    };

    // The sniffer alone.
    let got = sniff_delimiter(file);
    let first_line = file.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let count = |d: u8| first_line.iter().filter(|b| **b == d).count();
    let best = [b',', b';', b'\t', b'|'].map(count).into_iter().max().unwrap_or(0);
    match got {
        None => assert_eq!(best, 0, "no delimiter found in {first_line:?}"),
        Some(d) => {
            assert!(matches!(d, b',' | b';' | b'\t' | b'|'), "sniffed {d:?}");
            assert!(count(d) == best && best > 0, "sniffed {:?} in {first_line:?}", d as char);
        }
    }
    assert_eq!(sniff_delimiter(first_line), got);

    // The reader.
    let has_header = opt & 1 == 0;
    let format = match (opt >> 1) & 3 {
        0 => None,
        1 => Some(Format::Csv),
        2 => Some(Format::JsonLines),
        _ => Some(Format::Whitespace),
    };
    let delimiter = match (opt >> 3) & 3 {
        0 => None,
        1 => Some(Delimiter::Char(b';')),
        2 => Some(Delimiter::Char(b'\t')),
        _ => Some(Delimiter::Whitespace),
    };
    let plain = read(&scratch(0), file, format, delimiter, has_header);
    if !file.starts_with(BOM) {
        let mut with_bom = BOM.to_vec();
        with_bom.extend_from_slice(file);
        let bommed = read(&scratch(1), &with_bom, format, delimiter, has_header);
        assert_eq!(plain, bommed, "a BOM in front of the file changed what was read");
    }
});
