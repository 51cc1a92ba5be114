//! Reading a file into records of text fields, whatever its format.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::ImportError;

/// The longest field a file may have, in bytes (a note, a comment: far beyond any
/// honest value).
pub const MAX_FIELD_BYTES: usize = 65_536;
/// The longest line a file may have, in bytes: a line past it is not a record of a
/// customer file (a wrong file, a wrong delimiter, a file without line ends), and
/// reading stops there instead of holding it in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The longest column name of a header, in bytes.
pub const MAX_HEADER_BYTES: usize = 1_000;

/// Passes a file through, counting lines, and fails (stops reading) at a line longer
/// than [`MAX_LINE_BYTES`].
struct LineCap<R> {
    inner: R,
    /// Lines ended so far.
    lines: u64,
    /// Bytes of the current line so far.
    since_newline: usize,
}

/// The error [`LineCap`] stops with: the 1-based number of the long line.
#[derive(Debug)]
struct LineTooLong(u64);

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is too long", self.0)
    }
}

impl std::error::Error for LineTooLong {}

impl<R: Read> Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        match memchr::memchr(b'\n', got) {
            Some(first) => {
                // The line that ends here began in earlier reads; the lines wholly
                // within this read are shorter than it (reads are at most 1 MiB, the
                // buffer's size), and the last one goes on into the next read.
                if self.since_newline + first > MAX_LINE_BYTES {
                    return Err(std::io::Error::other(LineTooLong(self.lines + 1)));
                }
                let last = memchr::memrchr(b'\n', got).unwrap_or(first);
                self.lines += memchr::memchr_iter(b'\n', got).count() as u64;
                self.since_newline = n - last - 1;
            }
            None => self.since_newline += n,
        }
        if self.since_newline > MAX_LINE_BYTES {
            return Err(std::io::Error::other(LineTooLong(self.lines + 1)));
        }
        Ok(n)
    }
}

/// The line of a [`LineCap`] error in `e`, if it is one.
fn line_too_long(e: &std::io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LineTooLong>())
        .map(|l| l.0)
}

/// The error of a line past [`MAX_LINE_BYTES`].
fn long_line_error(line: u64) -> ImportError {
    ImportError::LineTooLong { line }
}

/// The file formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with optional quoting (RFC 4180); the delimiter is given or sniffed.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Fields separated by runs of spaces or tabs (fixed-width exports such as CDNOW).
    Whitespace,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "csv" | "tsv" => Format::Csv,
            "jsonl" | "ndjson" | "json" | "jsonlines" => Format::JsonLines,
            "whitespace" | "text" | "txt" => Format::Whitespace,
            _ => return None,
        })
    }
}

/// A column delimiter: one character, or any run of whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Char(u8),
    Whitespace,
}

impl Delimiter {
    /// `,` `;` `|`, `tab` or `\t`, `space`, `whitespace`.
    pub fn parse(s: &str) -> Option<Delimiter> {
        match s {
            "whitespace" | "ws" => Some(Delimiter::Whitespace),
            "tab" | "\\t" | "\t" => Some(Delimiter::Char(b'\t')),
            "space" | " " => Some(Delimiter::Char(b' ')),
            "comma" => Some(Delimiter::Char(b',')),
            "semicolon" => Some(Delimiter::Char(b';')),
            _ if s.len() == 1 && s.is_ascii() => Some(Delimiter::Char(s.as_bytes()[0])),
            _ => None,
        }
    }
}

/// One record of the file: its line number and its fields as text. For JSON Lines
/// the fields follow `keys`, which grow as new keys appear.
#[derive(Debug, Default, Clone)]
pub struct SourceRecord {
    pub line: u64,
    pub fields: Vec<String>,
}

/// Reads records one at a time, whatever the format.
pub struct SourceReader {
    inner: Inner,
    /// Column names: the header row, or the keys seen so far in JSON Lines.
    pub header: Option<Vec<String>>,
    bytes_total: u64,
    /// The first line, when its delimiter was to be sniffed and none was found.
    unsniffed: Option<Vec<u8>>,
}

enum Inner {
    Csv(csv::Reader<Box<dyn Read + Send>>, csv::ByteRecord),
    Lines(Box<dyn BufRead + Send>, LineState),
}

struct LineState {
    line: u64,
    bytes: u64,
    buf: String,
    format: LineFormat,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LineFormat {
    Whitespace,
    Json,
}

impl SourceReader {
    /// Opens `path`. With `format` None, the format comes from the delimiter or the
    /// extension (`.jsonl`, `.ndjson` → JSON Lines; otherwise CSV with a sniffed
    /// delimiter). `has_header` applies to CSV and whitespace files.
    pub fn open(
        path: &Path,
        format: Option<Format>,
        delimiter: Option<Delimiter>,
        has_header: bool,
    ) -> Result<SourceReader, ImportError> {
        let file = File::open(path).map_err(|e| ImportError::Open {
            path: path.display().to_string(),
            source: e,
        })?;
        let bytes_total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = format.unwrap_or(match (delimiter, ext.as_str()) {
            (Some(Delimiter::Whitespace), _) => Format::Whitespace,
            (_, "jsonl" | "ndjson") => Format::JsonLines,
            _ => Format::Csv,
        });
        let mut buf = BufReader::with_capacity(
            1 << 20,
            LineCap {
                inner: file,
                lines: 0,
                since_newline: 0,
            },
        );
        let mut reader = match format {
            Format::Csv => {
                let mut unsniffed = None;
                let delim = match delimiter {
                    Some(Delimiter::Char(c)) => c,
                    Some(Delimiter::Whitespace) => b' ',
                    None => {
                        let head = buf.fill_buf().unwrap_or(&[]);
                        sniff_delimiter(head).unwrap_or_else(|| {
                            let first = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
                            unsniffed = Some(first[..first.len().min(4096)].to_vec());
                            b','
                        })
                    }
                };
                let rdr = csv::ReaderBuilder::new()
                    .delimiter(delim)
                    .has_headers(false)
                    .flexible(true)
                    .trim(csv::Trim::None)
                    .from_reader(Box::new(buf) as Box<dyn Read + Send>);
                SourceReader {
                    inner: Inner::Csv(rdr, csv::ByteRecord::new()),
                    header: None,
                    bytes_total,
                    unsniffed,
                }
            }
            Format::Whitespace | Format::JsonLines => SourceReader {
                inner: Inner::Lines(
                    Box::new(buf),
                    LineState {
                        line: 0,
                        bytes: 0,
                        buf: String::new(),
                        format: if format == Format::JsonLines {
                            LineFormat::Json
                        } else {
                            LineFormat::Whitespace
                        },
                    },
                ),
                header: if format == Format::JsonLines {
                    Some(Vec::new())
                } else {
                    None
                },
                bytes_total,
                unsniffed: None,
            },
        };
        if has_header && format != Format::JsonLines {
            let first = reader.next_record()?;
            let names = first.map(|r| r.fields).unwrap_or_default();
            // Names without blanks or byte-order marks around them (found by fuzzing:
            // a mark after leading blanks stayed in the first name).
            let clean = |n: String| {
                n.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                    .to_string()
            };
            reader.header = Some(names.into_iter().map(clean).collect());
        }
        Ok(reader)
    }

    /// The first line of a delimited file whose delimiter was to be sniffed but none
    /// of `,` `;` tab `|` occurs in it.
    pub fn unsniffed_first_line(&self) -> Option<&[u8]> {
        self.unsniffed.as_deref()
    }

    /// Size of the file, for progress.
    pub fn bytes_total(&self) -> u64 {
        self.bytes_total
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::Csv(r, _) => r.position().byte(),
            Inner::Lines(_, st) => st.bytes,
        }
    }

    /// Whether the file is JSON Lines (its keys are known only once all is read).
    pub fn is_json_lines(&self) -> bool {
        matches!(&self.inner, Inner::Lines(_, st) if st.format == LineFormat::Json)
    }

    /// The next record, or None at the end. Blank lines are skipped.
    pub fn next_record(&mut self) -> Result<Option<SourceRecord>, ImportError> {
        let mut out = SourceRecord::default();
        if self.next_into(&mut out)? {
            Ok(Some(out))
        } else {
            Ok(None)
        }
    }

    /// Reads the next record into `out`, reusing its allocations; false at the end.
    pub fn next_into(&mut self, out: &mut SourceRecord) -> Result<bool, ImportError> {
        match &mut self.inner {
            Inner::Csv(rdr, rec) => loop {
                let more = rdr.read_byte_record(rec).map_err(|e| {
                    if let csv::ErrorKind::Io(io) = e.kind()
                        && let Some(line) = line_too_long(io)
                    {
                        return long_line_error(line);
                    }
                    let line = e.position().map_or(0, |p| p.line());
                    ImportError::Syntax {
                        line,
                        reason: e.to_string(),
                    }
                })?;
                if !more {
                    return Ok(false);
                }
                let line = rec.position().map_or(0, |p| p.line());
                if rec.len() == 1 && rec[0].iter().all(|b| b.is_ascii_whitespace())
                    || rec.is_empty()
                {
                    continue;
                }
                out.line = line;
                out.fields.resize(rec.len(), String::new());
                out.fields.truncate(rec.len());
                for (dst, src) in out.fields.iter_mut().zip(rec.iter()) {
                    dst.clear();
                    let s = std::str::from_utf8(src).map_err(|_| ImportError::Encoding { line })?;
                    dst.push_str(s);
                }
                return Ok(true);
            },
            Inner::Lines(r, st) => loop {
                st.buf.clear();
                let n = r.read_line(&mut st.buf).map_err(|e| {
                    if let Some(line) = line_too_long(&e) {
                        long_line_error(line)
                    } else if e.kind() == std::io::ErrorKind::InvalidData {
                        ImportError::Encoding { line: st.line + 1 }
                    } else {
                        ImportError::Read(e)
                    }
                })?;
                if n == 0 {
                    return Ok(false);
                }
                st.line += 1;
                st.bytes += n as u64;
                let line_no = &st.line;
                let buf = &st.buf;
                let text = buf.trim_end_matches(['\n', '\r']);
                let text = if *line_no == 1 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    text
                };
                if text.trim().is_empty() {
                    continue;
                }
                out.line = *line_no;
                out.fields.clear();
                match st.format {
                    LineFormat::Whitespace => out
                        .fields
                        .extend(text.split_whitespace().map(str::to_string)),
                    LineFormat::Json => {
                        let keys = self.header.get_or_insert_with(Vec::new);
                        json_record(text, *line_no, keys, &mut out.fields)?;
                    }
                }
                return Ok(true);
            },
        }
    }
}

/// Splits one JSON object into fields by key; new keys extend `keys`.
fn json_record(
    text: &str,
    line: u64,
    keys: &mut Vec<String>,
    out: &mut Vec<String>,
) -> Result<(), ImportError> {
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ImportError::Syntax {
            line,
            reason: format!("not a JSON object: {e}"),
        })?;
    out.resize(keys.len(), String::new());
    for (k, v) in obj {
        let idx = match keys.iter().position(|x| *x == k) {
            Some(i) => i,
            None => {
                keys.push(k);
                out.push(String::new());
                keys.len() - 1
            }
        };
        out[idx] = match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
    }
    Ok(())
}

/// The delimiter of a file, as its first line shows it: the most frequent of `,` `;`
/// tab `|` (a Finnish Excel file uses semicolons), `None` when none occurs. The one
/// sniffer of every reader of delimited files (imports, `kanta summary`, `kanta fit`).
pub fn sniff_delimiter(head: &[u8]) -> Option<u8> {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    [b',', b';', b'\t', b'|']
        .into_iter()
        .map(|d| (first_line.iter().filter(|b| **b == d).count(), d))
        .max_by_key(|(n, _)| *n)
        .filter(|(n, _)| *n > 0)
        .map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_finnish_excel_semicolons() {
        assert_eq!(sniff_delimiter(b"id;name;amount\n1;A;12,50\n"), Some(b';'));
        assert_eq!(sniff_delimiter(b"id,name\n"), Some(b','));
        assert_eq!(sniff_delimiter(b"id\tname\n"), Some(b'\t'));
        assert_eq!(sniff_delimiter(b"id\n"), None);
    }

    #[test]
    fn header_names_lose_blanks_and_byte_order_marks() {
        // Found by fuzzing (fuzz/regressions/csv_sniff/crash-bom-after-blanks).
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in [
            "\u{feff}id;name\n1;A\n",
            "\x0c\x0c\u{feff}id ;\u{feff} name\n1;A\n",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("h{i}.csv"));
            std::fs::write(&path, text).unwrap();
            let r = SourceReader::open(&path, None, None, true).unwrap();
            assert_eq!(
                r.header.as_deref(),
                Some(&["id".to_string(), "name".to_string()][..]),
                "{text:?}"
            );
        }
    }

    #[test]
    fn delimiters_by_name() {
        assert_eq!(Delimiter::parse("whitespace"), Some(Delimiter::Whitespace));
        assert_eq!(Delimiter::parse(";"), Some(Delimiter::Char(b';')));
        assert_eq!(Delimiter::parse("tab"), Some(Delimiter::Char(b'\t')));
        assert_eq!(Delimiter::parse("ab"), None);
    }
}
