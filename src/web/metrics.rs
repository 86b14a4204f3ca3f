//! `/metrics` in the Prometheus text format, computed from the store at scrape time (one
//! source of truth, right on every instance sharing a database).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use super::api::ApiError;
use super::auth::{Caller, Denied, Role};

pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse, Response> {
    caller.require(&[Role::Admin, Role::Ops]).map_err(Response::Denied)?;
    let text = render(&state).await.map_err(Response::Api)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text))
}

pub enum Response {
    Denied(Denied),
    Api(ApiError),
}

impl IntoResponse for Response {
    fn into_response(self) -> axum::response::Response {
        match self {
            Response::Denied(d) => d.into_response(),
            Response::Api(e) => e.into_response(),
        }
    }
}

async fn render(state: &AppState) -> Result<String, ApiError> {
    let today = state.today();
    let counts = state.store.overview_counts(today, None).await?;
    let mut out = String::new();
    header_line(&mut out, "credit_gateway_records", "gauge", "Records in the store.");
    write_sample(&mut out, "credit_gateway_records", "", counts.records);
    header_line(
        &mut out,
        "credit_gateway_records_by_status",
        "gauge",
        "Records open against their deadline, returned, or late this month.",
    );
    for (status, n) in [
        ("overdue", counts.overdue),
        ("due_soon", counts.due_soon),
        ("returned", counts.returned),
        ("late_this_month", counts.late),
    ] {
        write_sample(&mut out, "credit_gateway_records_by_status", &format!("status=\"{status}\""), n);
    }
    let deliveries = state.store.delivery_status_counts().await?;
    let mut queue = 0;
    for (status, n) in &deliveries {
        if status == "pending" || status == "in_flight" {
            queue += n;
        }
    }
    let delivery_lines: Vec<(String, i64)> =
        deliveries.into_iter().map(|(status, n)| (format!("status=\"{}\"", label(&status)), n)).collect();
    let health = state.store.connector_health().await?;
    header_line(&mut out, "credit_gateway_deliveries", "gauge", "Deliveries to the platforms by outcome.");
    for (labels, n) in &delivery_lines {
        write_sample(&mut out, "credit_gateway_deliveries", labels, *n);
    }
    header_line(&mut out, "credit_gateway_delivery_queue_depth", "gauge", "Deliveries pending or in flight.");
    write_sample(&mut out, "credit_gateway_delivery_queue_depth", "", queue);
    header_line(&mut out, "credit_gateway_connector_errors_total", "counter", "Failed connector passes.");
    for h in &health {
        write_sample(
            &mut out,
            "credit_gateway_connector_errors_total",
            &format!("connector=\"{}\"", label(&h.connector)),
            h.errors_total,
        );
    }
    header_line(&mut out, "credit_gateway_connector_rows_total", "counter", "Rows pulled by each connector.");
    for h in &health {
        write_sample(
            &mut out,
            "credit_gateway_connector_rows_total",
            &format!("connector=\"{}\"", label(&h.connector)),
            h.rows_total,
        );
    }
    header_line(
        &mut out,
        "credit_gateway_calendar_missing_years",
        "gauge",
        "Years without a calendar file that deadlines reach into.",
    );
    write_sample(&mut out, "credit_gateway_calendar_missing_years", "", state.missing_years().len() as i64);
    objections(state, &mut out).await?;
    wrong_codes(state, today, &mut out).await?;
    push_latency(&mut out);
    task_panics(&mut out);
    Ok(out)
}

/// Objections per department (all months): how many were answered on time or late, are open
/// or overdue, upheld or rejected, and the mean handling time in working days.
async fn objections(state: &AppState, out: &mut String) -> Result<(), ApiError> {
    use std::collections::BTreeMap;
    let cases = state.store.objections(&crate::store::ObjectionFilter::default()).await?;
    let settings = state.settings();
    let calendar = state.calendar.borrow().clone();
    let figures = crate::objection::handle::figures(&settings.objections, &calendar, state.today(), &cases);
    let mut per_department: BTreeMap<&str, [i64; 7]> = BTreeMap::new();
    let mut handling: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for f in &figures {
        let n = per_department.entry(f.department.as_str()).or_default();
        for (slot, v) in [f.received, f.answered_on_time, f.answered_late, f.open, f.open_overdue, f.upheld, f.rejected]
            .into_iter()
            .enumerate()
        {
            n[slot] += v as i64;
        }
        if let Some(avg) = f.average_working_days {
            let answered = f.answered_on_time + f.answered_late;
            let h = handling.entry(f.department.as_str()).or_default();
            h.0 += avg * answered as f64;
            h.1 += answered;
        }
    }
    let name = "credit_gateway_objections";
    header_line(
        out,
        name,
        "gauge",
        "Objections per department: received, answered on time or late, open, open past the deadline, upheld, rejected.",
    );
    for (department, n) in &per_department {
        for (state, v) in
            ["received", "answered_on_time", "answered_late", "open", "open_overdue", "upheld", "rejected"]
                .iter()
                .zip(n)
        {
            write_sample(out, name, &format!("department=\"{}\",state=\"{state}\"", label(department)), *v);
        }
    }
    let name = "credit_gateway_objection_handling_working_days";
    header_line(out, name, "gauge", "Mean working days from routing an objection to the department's answer.");
    for (department, (total, n)) in &handling {
        let _ = writeln!(out, "{name}{{department=\"{}\"}} {:.2}", label(department), total / *n as f64);
    }
    Ok(())
}

/// 重错码率 of this month per department (SPEC §3), beside the policy's target.
async fn wrong_codes(state: &AppState, today: chrono::NaiveDate, out: &mut String) -> Result<(), ApiError> {
    let month = today.format("%Y-%m").to_string();
    let figures = state.store.figures(today, Some(&month), None).await?;
    let mut per_department: std::collections::BTreeMap<&str, (i64, i64)> = std::collections::BTreeMap::new();
    for f in &figures {
        let e = per_department.entry(f.department.as_str()).or_default();
        e.0 += f.wrong_code_rows;
        e.1 += f.submitted_rows;
    }
    let name = "credit_gateway_wrong_code_rate";
    header_line(
        out,
        name,
        "gauge",
        "重错码率 this month: rows with an invalid, mismatched or conflicting credit code / rows.",
    );
    for (department, (wrong, rows)) in &per_department {
        if *rows > 0 {
            let labels = format!("department=\"{}\",month=\"{month}\"", label(department));
            let _ = writeln!(out, "{name}{{{labels}}} {}", *wrong as f64 / *rows as f64);
        }
    }
    let target = "credit_gateway_wrong_code_rate_target";
    header_line(out, target, "gauge", "The 重错码率 the policy sets (seed policy: 1‰).");
    let _ = writeln!(out, "{target} {}", state.settings().gateway.wrong_code_rate_target);
    Ok(())
}

/// Panics of this instance's supervised tasks (each was started again).
fn task_panics(out: &mut String) {
    let name = "credit_gateway_task_panics_total";
    header_line(out, name, "counter", "Panics of the daemon's long-running tasks, each started again, by task.");
    for (task, n) in crate::supervisor::panic_counts() {
        write_sample(out, name, &format!("task=\"{}\"", label(&task)), n as i64);
    }
}

/// The push-time histograms of this instance.
fn push_latency(out: &mut String) {
    use crate::delivery::latency::{BUCKETS, snapshot};
    let name = "credit_gateway_push_seconds";
    header_line(out, name, "histogram", "Time to push one package to a platform and read its receipts.");
    for (destination, result, h) in snapshot() {
        let labels = format!("destination=\"{}\",result=\"{result}\"", label(&destination));
        for (bound, n) in BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_seconds);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}

fn header_line(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn write_sample(out: &mut String, name: &str, labels: &str, value: i64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// A label value with `\`, `"` and newlines escaped as the text format wants.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
