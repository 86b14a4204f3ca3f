//! The error report a department opens in Excel: `<file>.errors.csv`, UTF-8 with BOM,
//! columns 行号, 字段, 原因, 原始值. ID numbers are masked in the reason and the value as
//! they are written (a reason may quote the value, e.g. “…”不是完整日期).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ids::mask_ids_in_text;

/// Longest original value echoed back, in characters.
const MAX_VALUE_CHARS: usize = 200;

/// Writes the report to a temporary file and moves it into place on `finish`, so a
/// department never opens half a report.
pub struct ErrorReport {
    path: PathBuf,
    tmp: PathBuf,
    out: csv::Writer<BufWriter<File>>,
    lines: u64,
}

impl ErrorReport {
    /// The report's place beside a source file.
    pub fn path_beside(source: &Path) -> PathBuf {
        let name = source.file_name().unwrap_or_default().to_string_lossy();
        source.with_file_name(outbox_name(&name, ".errors.csv"))
    }

    pub fn create(path: PathBuf) -> std::io::Result<ErrorReport> {
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut file = BufWriter::new(File::create(&tmp)?);
        file.write_all(b"\xEF\xBB\xBF")?;
        let mut out = csv::Writer::from_writer(file);
        out.write_record(["行号", "字段", "原因", "原始值"])?;
        Ok(ErrorReport { path, tmp, out, lines: 0 })
    }

    /// `row` is None for problems with the whole file.
    pub fn add(&mut self, row: Option<u64>, field: &str, reason: &str, value: &str) -> std::io::Result<()> {
        let row = row.map(|r| r.to_string()).unwrap_or_default();
        let reason = mask_ids_in_text(reason);
        // Masked before it is cut, so no part of a number survives past the cut.
        let value = neutralise_formula(&truncate(&mask_ids_in_text(value)));
        self.out.write_record([row.as_str(), field, reason.as_ref(), value.as_str()])?;
        self.lines += 1;
        Ok(())
    }

    /// Moves the report into place, or removes it (and any stale one) when it is empty.
    pub fn finish(self) -> std::io::Result<Option<PathBuf>> {
        let ErrorReport { path, tmp, out, lines } = self;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        if lines == 0 {
            std::fs::remove_file(&tmp)?;
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            return Ok(None);
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Some(path))
    }
}

/// Longest name of a note or report in the outbox, in bytes: file systems allow 255, and a
/// report is written under its name plus `.tmp` first.
const MAX_NAME_BYTES: usize = 240;

/// The name of the department's note about file `file_name`: `<file_name><suffix>`
/// (`<name>.errors.csv`), or when that is too long for a file name, the stem cut by bytes on
/// a character boundary, a short hash of the whole name, then the extension and the suffix.
pub fn outbox_name(file_name: &str, suffix: &str) -> String {
    let whole = format!("{file_name}{suffix}");
    if whole.len() <= MAX_NAME_BYTES {
        return whole;
    }
    let hash = blake3::hash(file_name.as_bytes()).to_hex();
    let hash = &hash[..8];
    let (stem, ext) = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 16 => (stem, format!(".{ext}")),
        _ => (file_name, String::new()),
    };
    let room = MAX_NAME_BYTES.saturating_sub(suffix.len() + ext.len() + hash.len() + 1);
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hash}{ext}{suffix}", &stem[..cut])
}

pub fn truncate(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…（共 {} 字）", &value[..cut], value.chars().count()),
        None => value.to_string(),
    }
}

/// A cell starting with = + - @ would run as a formula when the report is opened in Excel.
pub fn neutralise_formula(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_too_long_for_its_report_is_shortened_keeping_the_extension() {
        assert_eq!(outbox_name("处罚.csv", ".errors.csv"), "处罚.csv.errors.csv");
        let long = format!("{}.xlsx", "处罚决定书".repeat(16)); // 245 bytes
        let name = outbox_name(&long, ".errors.csv");
        assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
        assert!(name.ends_with(".xlsx.errors.csv") && name.starts_with("处罚决定书"), "{name}");
        let other = format!("{}.xlsx", "处罚决定书".repeat(15) + "处罚决定X");
        assert_ne!(outbox_name(&other, ".errors.csv"), name, "the hash tells long names apart");
    }

    #[test]
    fn formulas_are_neutralised_and_long_values_cut() {
        assert_eq!(neutralise_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise_formula("淮北"), "淮北");
        let long = "字".repeat(500);
        let cut = truncate(&long);
        assert!(cut.starts_with(&"字".repeat(200)));
        assert!(cut.ends_with("（共 500 字）"));
    }

    #[test]
    fn id_numbers_are_masked_in_reasons_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv.errors.csv");
        let mut report = ErrorReport::create(path.clone()).unwrap();
        report.add(Some(2), "欠费类型", "“ID11010519491231002X”不在欠费类型代码表中", "ID11010519491231002X").unwrap();
        report.add(Some(3), "统计日期", "“１１０１０５１９４９１２３１００２Ｘ”不是完整日期", "x").unwrap();
        report.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("19491231") && !text.contains("１９４９１２３１"), "{text}");
        assert!(text.contains("“ID110105********002X”不在欠费类型代码表中,ID110105********002X"), "{text}");
        assert!(text.contains("“１１０１０５********００２Ｘ”不是完整日期"), "{text}");
    }

    #[test]
    fn an_empty_report_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv.errors.csv");
        std::fs::write(&path, "stale").unwrap();
        let report = ErrorReport::create(path.clone()).unwrap();
        assert_eq!(report.finish().unwrap(), None);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_report_starts_with_a_bom_and_the_chinese_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv.errors.csv");
        let mut report = ErrorReport::create(path.clone()).unwrap();
        report.add(Some(3), "处罚决定日期", "不是有效日期", "2023-02-30").unwrap();
        assert_eq!(report.finish().unwrap(), Some(path.clone()));
        let text = std::fs::read(&path).unwrap();
        assert!(text.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(text[3..].to_vec()).unwrap();
        assert_eq!(text, "行号,字段,原因,原始值\n3,处罚决定日期,不是有效日期,2023-02-30\n");
    }
}
