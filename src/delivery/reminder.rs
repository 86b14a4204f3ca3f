//! The department's correction list: records the platforms returned (退回) and the department
//! has not yet corrected (补正), in `<data>/outbox/<department>/退回待补正.csv`. A record not
//! corrected within the configured working days is marked 已超期 (overdue for correction).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::calendar::Calendar;
use crate::error_report::neutralise_formula;
use crate::ids::mask_ids_in_text;
use crate::record::KEY_SEPARATOR;
use crate::store::ReturnRow;

pub const FILE_NAME: &str = "退回待补正.csv";

/// Working days a returned record has waited, and whether that is past the allowed time.
pub fn waiting(calendar: &Calendar, returned_on: &str, today: NaiveDate, allowed: u32) -> (u32, bool) {
    let Ok(day) = returned_on.parse::<NaiveDate>() else { return (0, false) };
    let (n, _) = calendar.working_days_between(day, today);
    (n, n > allowed)
}

/// Writes one list per department that has open returns, and removes the list of a
/// department that has none left. Returns the files written.
/// How the list names an item and a platform for people (`行政处罚`, `省平台`).
pub struct ListNames<'a> {
    pub item: &'a dyn Fn(&str) -> String,
    pub destination: &'a dyn Fn(&str) -> String,
}

pub fn write_lists(
    outbox_root: &Path,
    departments: &[String],
    returns: &[ReturnRow],
    names: &ListNames<'_>,
    calendar: &Calendar,
    today: NaiveDate,
    allowed: u32,
) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for department in departments {
        let dir = outbox_root.join(department);
        let path = dir.join(FILE_NAME);
        let mine: Vec<&ReturnRow> = returns.iter().filter(|r| &r.department == department).collect();
        if mine.is_empty() {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => continue,
            }
        }
        std::fs::create_dir_all(&dir)?;
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record([
            "信息类别",
            "业务主键",
            "退回平台",
            "规则编号",
            "退回原因",
            "退回日期",
            "已等待工作日",
            "状态",
        ])?;
        for r in mine {
            let (days, overdue) = waiting(calendar, &r.returned_on, today, allowed);
            // An export leaves the gateway: ID numbers in keys and reasons are masked.
            let key = mask_ids_in_text(&r.business_key).replace(KEY_SEPARATOR, " | ");
            out.write_record([
                (names.item)(&r.item).as_str(),
                &neutralise_formula(&key),
                &(names.destination)(&r.destination),
                r.rule.as_deref().unwrap_or(""),
                &neutralise_formula(&mask_ids_in_text(&r.reason)),
                r.returned_on.as_str(),
                &days.to_string(),
                if overdue { "已超期，请尽快补正" } else { "待补正" },
            ])?;
        }
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(out.into_inner().map_err(|e| e.into_error())?);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> ListNames<'static> {
        ListNames {
            item: &|code| if code == "CF" { "行政处罚".into() } else { code.into() },
            destination: &|name| if name == "provincial" { "省平台".into() } else { name.into() },
        }
    }

    fn row(department: &str, returned_on: &str) -> ReturnRow {
        ReturnRow {
            id: 1,
            record_id: 1,
            destination: "provincial".into(),
            department: department.into(),
            item: "CF".into(),
            business_key: format!("淮相市监处罚〔2024〕1号{KEY_SEPARATOR}91340600MA2PBM9HXD"),
            version: 1,
            rule: Some("1001".into()),
            reason: "=主体名称与统一社会信用代码不匹配".into(),
            returned_on: returned_on.into(),
            closed_at: None,
        }
    }

    #[test]
    fn id_numbers_in_keys_and_reasons_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let today: NaiveDate = "2026-11-23".parse().unwrap();
        let mut returned = row("court", "2026-11-20");
        returned.business_key = format!("（2024）皖0602执1号{KEY_SEPARATOR}11010519491231002X");
        returned.reason = "身份证号 11010519491231002X 与姓名不符".into();
        let departments = vec!["court".to_string()];
        let written =
            write_lists(dir.path(), &departments, &[returned], &names(), &Calendar::default(), today, 5).unwrap();
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert!(!text.contains("19491231"), "{text}");
        assert!(text.contains("（2024）皖0602执1号 | 110105********002X"), "{text}");
        assert!(text.contains("身份证号 110105********002X 与姓名不符"), "{text}");
    }

    #[test]
    fn lists_are_per_department_with_overdue_marks() {
        let dir = tempfile::tempdir().unwrap();
        let calendar = Calendar::default();
        let today: NaiveDate = "2026-11-23".parse().unwrap(); // a Monday
        let returns = [row("market", "2026-11-20"), row("market", "2026-11-02")];
        let departments = vec!["market".to_string(), "tax".to_string()];
        let written = write_lists(dir.path(), &departments, &returns, &names(), &calendar, today, 5).unwrap();
        assert_eq!(written, [dir.path().join("market").join(FILE_NAME)]);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].ends_with(",1,待补正"), "{}", lines[1]);
        assert!(lines[2].ends_with(",15,已超期，请尽快补正"), "{}", lines[2]);
        assert!(lines[1].contains("'=主体名称"), "formulas are neutralised: {}", lines[1]);
        assert!(lines[1].starts_with("行政处罚,") && lines[1].contains(",省平台,"), "names for people: {}", lines[1]);
        assert!(!dir.path().join("tax").join(FILE_NAME).exists());
        // Unchanged content is not written again; a corrected department's list goes away.
        assert!(write_lists(dir.path(), &departments, &returns, &names(), &calendar, today, 5).unwrap().is_empty());
        write_lists(dir.path(), &departments, &[], &names(), &calendar, today, 5).unwrap();
        assert!(!dir.path().join("market").join(FILE_NAME).exists());
    }
}
