//! 到期: records by deadline, filtered by department, item and status, and exported to CSV or
//! XLSX for the clerks who chase them.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::api::ApiError;
use super::auth::Caller;
use super::pages::{esc, page};
use crate::deadline::Status;
use crate::error_report::neutralise_formula;
use crate::store::{DeadlineFilter, DeadlineRow};

/// Rows on a page; an export takes up to [`EXPORT_LIMIT`].
const PAGE_LIMIT: i64 = 500;
const EXPORT_LIMIT: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct DeadlineQuery {
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// `csv` or `xlsx` for an export.
    #[serde(default)]
    format: Option<String>,
}

impl DeadlineQuery {
    /// The filter this caller may ask for: a department user is held to its own department.
    fn filter(&self, caller: &Caller, limit: i64) -> DeadlineFilter {
        let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        DeadlineFilter {
            department: caller.scope().map(str::to_string).or_else(|| nonempty(&self.department)),
            item: nonempty(&self.item),
            status: self.status.as_deref().and_then(Status::parse),
            limit,
        }
    }
}

pub async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeadlineQuery>,
) -> Result<Json<Vec<DeadlineRow>>, ApiError> {
    let rows = state.store.deadlines(state.today(), &q.filter(&caller, PAGE_LIMIT)).await?;
    let _ = state.store.audit(&caller.name, "view", "api:deadlines", state.now()).await;
    Ok(Json(rows))
}

const STATUSES: [Status; 5] =
    [Status::Overdue, Status::DueSoon, Status::Pending, Status::ReportedLate, Status::ReportedOnTime];

fn options(values: &[(String, String)], selected: Option<&str>) -> String {
    let mut out = String::from("<option value=\"\">全部</option>");
    for (value, label) in values {
        let sel = if selected == Some(value.as_str()) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{}\"{sel}>{}</option>", esc(value), esc(label));
    }
    out
}

pub async fn page_or_export(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeadlineQuery>,
) -> Result<Response, ApiError> {
    match q.format.as_deref() {
        Some("csv") | Some("xlsx") => return export(&state, &caller, &q).await,
        _ => {}
    }
    let filter = q.filter(&caller, PAGE_LIMIT);
    let rows = state.store.deadlines(state.today(), &filter).await?;
    let _ = state.store.audit(&caller.name, "view", "page:deadlines", state.now()).await;
    let departments: Vec<(String, String)> = state
        .settings()
        .departments
        .iter()
        .filter(|d| caller.sees(&d.id))
        .map(|d| (d.id.clone(), d.name.clone()))
        .collect();
    let items: Vec<(String, String)> =
        state.settings().catalogue.items().iter().map(|i| (i.code.clone(), format!("{} {}", i.code, i.name))).collect();
    let statuses: Vec<(String, String)> =
        STATUSES.iter().map(|s| (s.as_str().to_string(), s.zh().to_string())).collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/deadlines\" id=\"filter\">部门 <select name=\"department\">{}</select> \
         信息类别 <select name=\"item\">{}</select> 状态 <select name=\"status\">{}</select> \
         <button type=\"submit\">筛选</button> \
         <button type=\"submit\" name=\"format\" value=\"csv\">导出 CSV</button> \
         <button type=\"submit\" name=\"format\" value=\"xlsx\">导出 Excel</button></form>",
        options(&departments, filter.department.as_deref()),
        options(&items, filter.item.as_deref()),
        options(&statuses, filter.status.map(Status::as_str)),
    );
    let _ = write!(
        body,
        "<p>共 {} 条{}</p><table id=\"deadline-list\"><tr><th>部门</th><th>信息类别</th><th>业务主键</th>\
         <th>决定日期</th><th>截止日期</th><th>上报日期</th><th>状态</th></tr>",
        rows.len(),
        if rows.len() as i64 >= PAGE_LIMIT { "（仅显示前 500 条，完整列表请导出）" } else { "" }
    );
    let settings = state.settings();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let disputed: std::collections::HashSet<i64> =
        state.store.records_under_objection(&ids).await?.into_iter().collect();
    for r in &rows {
        let department = settings.departments.get(&r.department).map_or(r.department.as_str(), |d| &d.name);
        let _ = write!(
            body,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td><a href=\"/records/{}\">{}</a></td><td>{}</td><td>{}{}</td>\
             <td>{}</td><td>{}{}</td></tr>",
            r.status.as_str(),
            esc(department),
            esc(&r.item),
            r.id,
            esc(&r.business_key.replace(crate::record::KEY_SEPARATOR, " / ")),
            esc(r.decision_date.as_deref().unwrap_or("")),
            esc(r.deadline.as_deref().unwrap_or("")),
            if r.provisional { "（临时）" } else { "" },
            esc(r.reported_on.as_deref().unwrap_or("")),
            r.status.zh(),
            if disputed.contains(&r.id) { "（异议处理中）" } else { "" },
        );
    }
    body.push_str("</table>");
    Ok(page("到期", Some(&caller), &body).into_response())
}

const HEADER: [&str; 8] = ["记录编号", "部门", "信息类别", "业务主键", "决定日期", "截止日期", "上报日期", "状态"];

fn cells(r: &DeadlineRow) -> [String; 8] {
    [
        r.id.to_string(),
        r.department.clone(),
        r.item.clone(),
        r.business_key.replace(crate::record::KEY_SEPARATOR, " / "),
        r.decision_date.clone().unwrap_or_default(),
        format!("{}{}", r.deadline.as_deref().unwrap_or(""), if r.provisional { "（临时）" } else { "" }),
        r.reported_on.clone().unwrap_or_default(),
        r.status.zh().to_string(),
    ]
}

/// The filtered list as a file; every cell that a spreadsheet would take for a formula is
/// neutralised. The CSV is masked by the masking layer like any text answer.
async fn export(state: &AppState, caller: &Caller, q: &DeadlineQuery) -> Result<Response, ApiError> {
    let rows = state.store.deadlines(state.today(), &q.filter(caller, EXPORT_LIMIT)).await?;
    let csv = q.format.as_deref() == Some("csv");
    let target = format!("export:deadlines:{}:{} rows", if csv { "csv" } else { "xlsx" }, rows.len());
    let _ = state.store.audit(&caller.name, "export", &target, state.now()).await;
    let stem = format!("到期-{}", state.today());
    let disposition = |ext: &str| {
        let encoded: String = format!("{stem}.{ext}").bytes().map(|b| format!("%{b:02X}")).collect();
        format!("attachment; filename=\"deadlines.{ext}\"; filename*=UTF-8''{encoded}")
    };
    if csv {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        let _ = w.write_record(HEADER);
        for r in &rows {
            let _ = w.write_record(cells(r).iter().map(|c| neutralise_formula(c)));
        }
        let bytes = w.into_inner().unwrap_or_default();
        let headers = [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition("csv")),
        ];
        return Ok((headers, bytes).into_response());
    }
    let mask = !caller.is_admin();
    let bytes = tokio::task::spawn_blocking(move || xlsx(&rows, mask)).await.ok().flatten();
    let Some(bytes) = bytes else {
        return Ok((axum::http::StatusCode::INTERNAL_SERVER_ERROR, "导出失败").into_response());
    };
    let headers = [
        (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
        (header::CONTENT_DISPOSITION, disposition("xlsx")),
    ];
    Ok((headers, bytes).into_response())
}

/// Strings only, so nothing is ever evaluated; neutralised as in the CSV for users who copy
/// cells onward. A workbook is a zip the masking layer cannot read, so ID numbers are
/// masked here, cell by cell, when `mask` (the caller is not an admin).
fn xlsx(rows: &[DeadlineRow], mask: bool) -> Option<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory().ok()?;
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).ok()?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in cells(r).iter().enumerate() {
            let v = if mask { crate::ids::mask_ids_in_text(v) } else { std::borrow::Cow::Borrowed(v.as_str()) };
            sheet.write_string(i as u32 + 1, c as u16, neutralise_formula(&v)).ok()?;
        }
    }
    book.save_to_buffer().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workbook_text(bytes: Vec<u8>) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        let mut text = String::new();
        for i in 0..zip.len() {
            let _ = std::io::Read::read_to_string(&mut zip.by_index(i).expect("entry"), &mut text);
        }
        text
    }

    #[test]
    fn the_workbook_masks_id_numbers_unless_asked_not_to() {
        let row = DeadlineRow {
            id: 1,
            department: "court".into(),
            item: "COURT_SX".into(),
            business_key: format!("（2024）皖0602执1号{}11010519491231002X", crate::record::KEY_SEPARATOR),
            decision_date: Some("2024-03-01".into()),
            deadline: Some("2024-03-12".into()),
            provisional: false,
            reported_on: None,
            status: Status::Overdue,
        };
        let masked = workbook_text(xlsx(std::slice::from_ref(&row), true).expect("a workbook"));
        assert!(masked.contains("110105********002X") && !masked.contains("19491231"));
        let full = workbook_text(xlsx(&[row], false).expect("a workbook"));
        assert!(full.contains("11010519491231002X"));
    }
}
