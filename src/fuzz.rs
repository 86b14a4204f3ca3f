//! Fuzzing in the ordinary test run: valid department files from `sim::sample`, mutated by a
//! seeded generator, fed to every reader (CSV in UTF-8 and GBK, XLSX, JSON, XML), and their rows
//! to the shipped penalties mapping; mutated cells go to the mapping directly too.
//!
//! Nothing may panic, and every row a reader yields must be within its [`Limits`] (set small
//! here, so that small mutations reach them). The same mutations run every time, so a failure
//! names its case (`fuzz case N`) and comes back on every run; the whole harness takes a few
//! seconds. A panic inside calamine is not seen here: the XLSX reader's thread turns it into
//! an unreadable row by design.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::format::{self, Limits, RawRow, ReadOptions};
use crate::issues::Issues;
use crate::mapping::{Mapping, RowScratch};
use crate::sim::fake::Rng;
use crate::sim::sample::{SampleFormat, SampleItem, SampleSpec, write_sample};

/// Rows read from one file at most: a mutation can make one row into many.
const MAX_ROWS: usize = 2000;

/// Small limits, reached by the long runs [`mutate`] inserts.
fn limits() -> Limits {
    Limits { max_cell_bytes: 2048, max_row_bytes: 8192, max_row_cells: 64, ..Limits::default() }
}

/// What often breaks a reader: quotes, delimiters, brackets, markup, escapes, bad UTF-8.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&bogus;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<!DOCTYPE r [<!ENTITY e \"x\">]>",
    b"<?pi ?>",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"1e999",
    b"-0",
    b"null",
    b"\0",
    b"\xff",
    b"\xe4\xb8",
    b"\xef\xbb\xbf",
    b"\xfe\xff",
    b"=",
    b"'",
    b"\xe3\x80\x80",
];

/// Applies one to four random mutations; now and then one that passes the small limits.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = bytes.len();
        let at = rng.index(len + 1);
        match rng.below(20) {
            0..=4 if len > 0 => {
                let i = rng.index(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            5..=7 if len > 0 => {
                let end = (at + 1 + rng.index(32)).min(len);
                bytes.drain(at.min(end)..end);
            }
            8..=12 => {
                insert(bytes, at, rng.pick(TOKENS));
            }
            13..=15 if len > 0 => {
                let start = rng.index(len);
                let n = 1 + rng.index(256).min(len - start - 1);
                let copy = bytes[start..start + n].to_vec();
                insert(bytes, at, &copy);
            }
            16 => {
                insert(bytes, at, &vec![b'x'; 1000 + rng.index(9000)]);
            }
            17 if rng.one_in(4) => bytes.truncate(at),
            _ => bytes.insert(at, rng.below(256) as u8),
        }
    }
}

fn insert(bytes: &mut Vec<u8>, at: usize, new: &[u8]) {
    let tail = bytes.split_off(at);
    bytes.extend_from_slice(new);
    bytes.extend_from_slice(&tail);
}

fn sample(dir: &Path, name: &str, format: SampleFormat) -> PathBuf {
    let path = dir.join(name);
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows: 12,
        seed: 17,
        bad_share: 0.25,
        summary_share: 0.1,
        format,
        first_date: NaiveDate::from_ymd_opt(2024, 3, 1).expect("date"),
        days: 60,
        first_number: 0,
    };
    write_sample(&spec, &path).expect("sample");
    path
}

/// The rows of a valid sample file, header first.
fn sample_rows(dir: &Path) -> Vec<RawRow> {
    let path = sample(dir, "rows.csv", SampleFormat::Csv);
    format::open(&path, &ReadOptions::default()).expect("open sample").map(|r| r.expect("sample row")).collect()
}

fn penalties_mapping() -> Mapping {
    let catalogue = crate::catalogue::shipped_for_tests();
    let spec = toml::from_str(include_str!("../mappings/market-penalties.toml")).expect("mapping parses");
    let mut issues = Issues::default();
    Mapping::from_spec(Path::new("mappings/market-penalties.toml"), spec, &catalogue, &mut issues).expect("mapping")
}

/// Reads a file to its end (or [`MAX_ROWS`]), checks every row against the limits, and maps
/// the rows.
fn read_and_map(path: &Path, opts: &ReadOptions, mapping: &Mapping, case: u64) {
    let Ok(reader) = format::open(path, opts) else {
        return; // a refused file is a fine outcome
    };
    let limits = &opts.limits;
    let mut rows = Vec::new();
    for row in reader.take(MAX_ROWS).flatten() {
        let bytes: usize = row.cells.iter().map(String::len).sum();
        assert!(row.cells.len() <= limits.max_row_cells, "fuzz case {case}: {} cells", row.cells.len());
        assert!(row.cells.iter().all(|c| c.len() <= limits.max_cell_bytes), "fuzz case {case}: cell over the limit");
        assert!(bytes <= limits.max_row_bytes, "fuzz case {case}: row of {bytes} bytes");
        rows.push(row);
    }
    map_rows(mapping, &rows);
}

fn map_rows(mapping: &Mapping, rows: &[RawRow]) {
    let scanned = &rows[..rows.len().min(mapping.header_scan_rows)];
    let Ok(at) = mapping.find_header(scanned) else { return };
    let Ok(binding) = mapping.bind(&rows[at]) else { return };
    let mut scratch = RowScratch::default();
    for row in &rows[at + 1..] {
        let _ = mapping.map_row(&binding, row, &mut scratch);
        let _ = mapping.values_by_key(&scratch.values);
        for field in 0..scratch.values.len() {
            let _ = mapping.raw_value(&binding, row, field);
        }
    }
}

/// Mutates `seed` `cases` times and reads each result as a file named `name`.
fn fuzz_bytes(seed: &[u8], name: &str, opts: &ReadOptions, cases: u64, stream: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = penalties_mapping();
    let path = dir.path().join(name);
    for case in 0..cases {
        let mut rng = Rng::for_record(17, stream, case);
        let mut bytes = seed.to_vec();
        mutate(&mut rng, &mut bytes);
        std::fs::write(&path, &bytes).expect("write case");
        read_and_map(&path, opts, &mapping, case);
    }
}

fn small_limits() -> ReadOptions {
    ReadOptions { limits: limits(), ..ReadOptions::default() }
}

#[test]
fn csv_utf8_survives_mutation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::fs::read(sample(dir.path(), "seed.csv", SampleFormat::CsvBom)).expect("read");
    fuzz_bytes(&seed, "case.csv", &small_limits(), 400, 1);
}

#[test]
fn csv_gbk_survives_mutation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = std::fs::read(sample(dir.path(), "seed.csv", SampleFormat::CsvGbk)).expect("read");
    let opts = ReadOptions { encoding: format::Encoding::Gbk, ..small_limits() };
    fuzz_bytes(&seed, "case.csv", &opts, 300, 2);
    fuzz_bytes(&seed, "case.csv", &small_limits(), 100, 3); // detected, not declared
}

#[test]
fn json_survives_mutation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = sample_rows(dir.path());
    let (header, records) = rows.split_first().expect("header");
    let objects: Vec<String> = records
        .iter()
        .map(|r| {
            let fields: Vec<String> = header
                .cells
                .iter()
                .zip(&r.cells)
                .map(|(k, v)| {
                    format!("{}:{}", serde_json::Value::from(k.as_str()), serde_json::Value::from(v.as_str()))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    let array = format!("{{\"code\":0,\"data\":[{}]}}", objects.join(",\n"));
    fuzz_bytes(array.as_bytes(), "case.json", &small_limits(), 300, 4);
    fuzz_bytes(objects.join("\n").as_bytes(), "case.jsonl", &small_limits(), 100, 5);
}

#[test]
fn xml_survives_mutation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = sample_rows(dir.path());
    let (header, records) = rows.split_first().expect("header");
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<data><head><count>1</count></head>");
    for r in records {
        xml.push_str("<record>");
        for (k, v) in header.cells.iter().zip(&r.cells) {
            let _ = write!(xml, "<{k}>{}</{k}>", escape(v));
        }
        xml.push_str("</record>\n");
    }
    xml.push_str("</data>");
    fuzz_bytes(xml.as_bytes(), "case.xml", &small_limits(), 300, 6);
    let named = ReadOptions { records: Some("record".into()), ..small_limits() };
    fuzz_bytes(xml.as_bytes(), "case.xml", &named, 100, 7);
}

/// The parts of a workbook, inflated.
fn unzip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).expect("entry");
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("inflate");
            (entry.name().to_owned(), bytes)
        })
        .collect()
}

fn rezip(path: &Path, parts: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in parts {
        zip.start_file(name.as_str(), stored).expect("start");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish");
}

#[test]
fn xlsx_survives_mutation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = sample(dir.path(), "seed.xlsx", SampleFormat::Xlsx { title_row: true });
    let parts = unzip(&seed);
    let mapping = penalties_mapping();
    let opts = small_limits();
    let path = dir.path().join("case.xlsx");
    // The XML inside: what calamine parses.
    for case in 0..150 {
        let mut rng = Rng::for_record(17, 8, case);
        let mut mutated = parts.clone();
        let part = if rng.one_in(4) {
            rng.index(mutated.len())
        } else {
            mutated.iter().position(|(name, _)| name.contains("worksheets/")).expect("a sheet")
        };
        mutate(&mut rng, &mut mutated[part].1);
        rezip(&path, &mutated);
        read_and_map(&path, &opts, &mapping, case);
    }
    // The zip itself.
    let bytes = std::fs::read(&seed).expect("read");
    fuzz_bytes(&bytes, "case.xlsx", &opts, 60, 9);
}

/// Values a department really sends, and worse, for the transforms behind the mapping.
const CELLS: &[&str] = &[
    "",
    " ",
    "\u{3000}",
    "9999-99-99",
    "2024年13月45日",
    "２０２４年２月３０日",
    "0000-00-00",
    "1900-02-29",
    "45079",
    "-45079",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "1,2,3元",
    "２，０００元",
    "99999999999999999999999999999999万元",
    "0.000000000000000000000001",
    "长期",
    "永久",
    "91340600MA2PBM9HX",
    "91340600MA2PBM9HXD0",
    "11010519491231002x",
    "1101051949123100",
    "😀",
    "\u{202e}abc",
    "e\u{301}",
    "=cmd|' /C calc'!A0",
    "法人;自然人;;",
    "01;02;03;04;05;06;07;08;09;99;00",
    "\u{0}",
];

#[test]
fn mapping_survives_mutated_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = sample_rows(dir.path());
    let mapping = penalties_mapping();
    let binding = mapping.bind(&rows[0]).expect("bind");
    let mut scratch = RowScratch::default();
    for case in 0..3000 {
        let mut rng = Rng::for_record(17, 10, case);
        let mut row = rows[1 + rng.index(rows.len() - 1)].clone();
        for _ in 0..=rng.below(3) {
            let i = rng.index(row.cells.len());
            row.cells[i] = match rng.below(3) {
                0 => rng.pick(CELLS).to_owned(),
                1 => {
                    let mut bytes = row.cells[i].clone().into_bytes();
                    mutate(&mut rng, &mut bytes);
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                _ => format!("{}{}", row.cells[i], rng.pick(CELLS)),
            };
        }
        let _ = mapping.map_row(&binding, &row, &mut scratch);
        let _ = mapping.values_by_key(&scratch.values);
    }
}
