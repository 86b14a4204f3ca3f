//! Department ledgers (台账): how many decisions a department declares per item and month.
//! They make missing reports (漏报) measurable. A ledger file is a CSV with the columns
//! 部门, 信息类别, 月份, 决定数 (or department, item, month, declared). Parsing only: the
//! caller opens the file.

use std::io::Read;

use crate::catalogue::Catalogue;
use crate::department::Departments;
use crate::store::LedgerEntry;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read the ledger: {0}")]
    Csv(#[from] csv::Error),
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("missing column {0}")]
    MissingColumn(&'static str),
}

const COLUMNS: [(&str, &str); 4] =
    [("部门", "department"), ("信息类别", "item"), ("月份", "month"), ("决定数", "declared")];

/// Reads and checks a ledger: departments and items by id or name, months as YYYY-MM.
pub fn read(
    ledger: impl Read,
    departments: &Departments,
    catalogue: &Catalogue,
) -> Result<Vec<LedgerEntry>, LedgerError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(ledger);
    let headers: Vec<String> = reader.headers()?.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
    let mut at = [0usize; 4];
    for (slot, (zh, en)) in at.iter_mut().zip(COLUMNS) {
        *slot = headers.iter().position(|h| h == zh || h == en).ok_or(LedgerError::MissingColumn(zh))?;
    }
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record?;
        let line = n as u64 + 2;
        let bad = |message: String| LedgerError::Line { line, message };
        let cell = |i: usize| record.get(at[i]).unwrap_or("");
        let department = departments
            .iter()
            .find(|d| d.id == cell(0) || d.name == cell(0))
            .ok_or_else(|| bad(format!("unknown department {:?}", cell(0))))?;
        let item = catalogue
            .items()
            .iter()
            .find(|i| i.code == cell(1) || i.name == cell(1))
            .ok_or_else(|| bad(format!("unknown catalogue item {:?}", cell(1))))?;
        let month = cell(2).replace('/', "-");
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() || month.len() != 7 {
            return Err(bad(format!("month should be YYYY-MM, found {:?}", cell(2))));
        }
        let declared: i64 = cell(3)
            .parse()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or_else(|| bad(format!("count should be a number, found {:?}", cell(3))))?;
        out.push(LedgerEntry { department: department.id.clone(), item: item.code.clone(), month, declared });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::issues::Issues;

    #[test]
    fn a_ledger_is_read_by_ids_or_names() {
        let mut issues = Issues::default();
        let spec =
            toml::from_str("version = 1\ndepartments = [{ id = \"market\", name = \"市场监督管理局\" }]").unwrap();
        let departments = Departments::from_spec(Path::new("departments.toml"), spec, &mut issues);
        let catalogue = crate::catalogue::shipped_for_tests();
        let text = "\u{feff}部门,信息类别,月份,决定数\n市场监督管理局,CF,2026/11,12\nmarket,行政许可信息,2026-10,0\n";
        let entries = read(text.as_bytes(), &departments, &catalogue).unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.department.as_str(), e.item.as_str(), e.month.as_str(), e.declared))
                .collect::<Vec<_>>(),
            [("market", "CF", "2026-11", 12), ("market", "XK", "2026-10", 0)]
        );
        let err =
            read("部门,信息类别,月份,决定数\ntax,CF,2026-11,1\n".as_bytes(), &departments, &catalogue).unwrap_err();
        assert_eq!(err.to_string(), "line 2: unknown department \"tax\"");
    }
}
