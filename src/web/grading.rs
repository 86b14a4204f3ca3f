//! 分级分类: per month, the subjects in each grade, the changes of grade and the commitments
//! (信用承诺) made and kept (`crate::credit_figures`), each figure a link to what is behind it.
//! The office's view: the grades cover every department's records, so department users are
//! refused (they see their own subjects' grades on the credit file).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::AppState;
use super::api::ApiError;
use super::auth::{Caller, Role};
use super::lists::query;
use super::pages::{header_row, page, thousands};
use crate::config::Settings;
use crate::credit_figures::{self, CreditFigures, CreditMonth};
use crate::grading::Grade;

async fn figures(state: &AppState) -> Result<CreditFigures, ApiError> {
    let today = state.today();
    let months = credit_figures::last_twelve(today);
    Ok(credit_figures::figures(&state.settings(), &state.store, &months, today).await?)
}

/// `GET /api/v1/grading`: the twelve months up to today.
#[utoipa::path(
    get,
    path = "/api/v1/grading",
    operation_id = "grading",
    summary = "分级分类与信用承诺：近 12 个月每月末各信用等级主体数、等级变化数、信用承诺数及履约情况、承诺占企业总量比例",
    responses(
        (status = 200, description = "每月数字", body = CreditFigures),
        (status = 403, description = "部门用户无权查看（分级分类覆盖全部部门的记录）", body = super::api::ErrorBody),
        super::api::Refusals,
    )
)]
pub async fn api(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let f = figures(&state).await?;
    let _ = state.store.audit(&caller.name, "view", "api:grading", state.now()).await;
    Ok(Json(f).into_response())
}

/// A count linking to the list behind it (no link for nothing).
fn linked(n: i64, href: &str) -> Markup {
    html! {
        td class="n" {
            @if n > 0 { a href=(href) { (thousands(n)) } } @else { "0" }
        }
    }
}

/// The records of `item` decided in `month`, optionally those whose `field` holds `value`.
fn records_of(item: &str, month: &str, field: Option<(&str, &str)>) -> String {
    format!(
        "/deadlines{}",
        query(&[
            ("status", Some("all")),
            ("item", Some(item)),
            ("decision_month", Some(month)),
            ("field", field.map(|f| f.0)),
            ("value", field.map(|f| f.1)),
        ])
    )
}

fn month_row(settings: &Settings, m: &CreditMonth) -> Markup {
    let g = &settings.grading;
    let c = g.commitments.as_ref();
    // A status text links exactly when one text has that meaning (the list searches for it).
    let only = |texts: &[String]| if texts.len() == 1 { Some(texts[0].clone()) } else { None };
    let kept = c.and_then(|c| only(&c.kept));
    let broken = c.and_then(|c| only(&c.broken));
    let item = c.map_or("", |c| c.item.as_str());
    let status = c.map_or("", |c| c.status_field.as_str());
    html! {
        tr {
            td { (m.month) }
            td { (m.as_of) }
            @for (grade, n) in Grade::ALL.iter().zip(m.grades.each()) {
                (linked(n, &format!("/subjects{}", query(&[("grade", Some(grade.as_str())), ("as_of", Some(&m.as_of))]))))
            }
            (linked(m.changes, &records_of(&g.result_item, &m.month, None)))
            @if c.is_some() {
                (linked(m.commitments, &records_of(item, &m.month, None)))
                (linked(m.kept, &records_of(item, &m.month, kept.as_deref().map(|k| (status, k)))))
                (linked(m.broken, &records_of(item, &m.month, broken.as_deref().map(|b| (status, b)))))
                td class="n" { (thousands(m.open)) }
            }
        }
    }
}

/// `GET /grading`.
pub async fn page_html(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Err(denied) = caller.require(&[Role::Admin, Role::Ops]) {
        return Ok(denied.into_response());
    }
    let f = figures(&state).await?;
    let _ = state.store.audit(&caller.name, "view", "page:grading", state.now()).await;
    let settings = state.settings();
    let g = &settings.grading;
    let mut titles: Vec<String> = vec!["月份".into(), "统计日".into()];
    titles.extend(Grade::ALL.iter().map(|x| format!("{} {}", x.as_str(), g.text(*x).name)));
    titles.push("等级变化".into());
    if g.commitments.is_some() {
        titles.extend(["信用承诺", "已履约", "未履约", "履约中"].map(String::from));
    }
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    let made: i64 = f.months.iter().map(|m| m.commitments).sum();
    // Months with nothing to show (before the first grading) are left out, as on 部门.
    let shown: Vec<&CreditMonth> = f
        .months
        .iter()
        .filter(|m| m.grades.each().iter().any(|n| *n > 0) || m.changes > 0 || m.commitments > 0)
        .collect();
    let basis =
        if f.enterprise_basis == "subject_library" { "省平台主体库" } else { "本地记录涉及的主体" };
    let body = html! {
        p { "信用等级按 config/grading.toml（" (g.regulation) "）评定，近 " (g.window_months) " 个月的记录计入。" }
        dl class="defs" {
            dt { "各等级主体数" } dd { "统计日（月末，本月为今日）各主体最近一次评定的等级" }
            dt { "等级变化" } dd { "当月评定中等级发生变化的主体数（即生成的分级分类结果记录）" }
            @if g.commitments.is_some() {
                dt { "信用承诺" } dd { "承诺日期在当月的信用承诺记录数；履约情况为其现状" }
            }
        }
        @if shown.is_empty() {
            p id="not-graded" {
                "近 12 个月尚无评定结果和信用承诺：运行 " code { "credit-gateway grade" }
                " 评定，或由守护进程在 config/grading.toml 的 yearly_on 日评定。"
            }
        } @else {
            div class="scroll" {
                table id="grading" {
                    (header_row(&titles))
                    @for m in &shown { (month_row(&settings, m)) }
                }
            }
        }
        @if g.commitments.is_some() {
            p id="commitment-share" {
                "信用承诺占企业总量比例："
                b { (f.commitment_share.map_or_else(|| "—".to_string(), |s| format!("{:.2}%", s * 100.0))) }
                "（近 12 个月信用承诺 " (thousands(made)) " 条 ÷ 企业 " (thousands(f.enterprises)) " 家，企业数取自" (basis) "）"
            }
        }
    };
    Ok(page("分级分类", Some(&caller), body).into_response())
}
