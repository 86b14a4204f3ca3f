//! 分级分类与信用承诺 figures (issue 19; seeds 000, 002, 003, 004), per month:
//! - the subjects in each grade A–D on the month's last day (today for the current month): each
//!   subject's latest stored grade on or before that day (`subject_grades` keeps a row per
//!   change, so that row is the grade then);
//! - the changes of grade: the 分级分类结果 records decided in the month (one per change, the
//!   records delivered upward);
//! - the commitments (信用承诺) made in the month (承诺日期) and, as they stand now, how many were
//!   kept (践诺), broken (违诺) or are still open;
//! - over the months shown: commitments ÷ enterprises the office knows
//!   (信用承诺信息上报数量占企业总量的比例), the enterprises being the platform's subject library
//!   where one is kept, else the subjects our records name.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::config::Settings;
use crate::grading::Grade;
use crate::store::{Store, StoreError};

/// One month's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreditMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// The day the grades are counted on: the month's last day, or today in the current month.
    pub as_of: String,
    /// Subjects graded A, B, C and D on `as_of`.
    pub grades: GradeCounts,
    /// Changes of grade decided in the month (分级分类结果 records).
    pub changes: i64,
    /// Commitments made in the month, and of them kept, broken and still open.
    pub commitments: i64,
    pub kept: i64,
    pub broken: i64,
    pub open: i64,
}

/// Subjects per grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GradeCounts {
    #[serde(rename = "A")]
    pub a: i64,
    #[serde(rename = "B")]
    pub b: i64,
    #[serde(rename = "C")]
    pub c: i64,
    #[serde(rename = "D")]
    pub d: i64,
}

impl GradeCounts {
    /// In the order of [`Grade::ALL`].
    pub fn each(&self) -> [i64; 4] {
        [self.a, self.b, self.c, self.d]
    }
}

impl From<[i64; 4]> for GradeCounts {
    fn from([a, b, c, d]: [i64; 4]) -> GradeCounts {
        GradeCounts { a, b, c, d }
    }
}

/// The figures of the months shown, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CreditFigures {
    pub months: Vec<CreditMonth>,
    /// Enterprises the office knows, and from where: `subject_library` or `records`.
    pub enterprises: i64,
    pub enterprise_basis: String,
    /// Commitments made in the months shown ÷ `enterprises` (null without enterprises).
    pub commitment_share: Option<f64>,
}

/// The twelve months up to `today`'s, oldest first (`YYYY-MM`).
pub fn last_twelve(today: NaiveDate) -> Vec<String> {
    let first = today.with_day(1).unwrap_or(today);
    (0..12u32)
        .rev()
        .filter_map(|back| first.checked_sub_months(chrono::Months::new(back)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

/// The day a month's grades are counted on: its last day, or `today` while it runs.
pub fn count_day(month: &str, today: NaiveDate) -> Option<NaiveDate> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let last = first.checked_add_months(chrono::Months::new(1))?.pred_opt()?;
    Some(last.min(today))
}

/// Subjects per grade on each of several days, fed one subject's stored grades at a time.
#[derive(Debug)]
pub struct GradeTally {
    /// The days counted on, ascending, as `YYYY-MM-DD`.
    days: Vec<String>,
    counts: Vec<[i64; 4]>,
    subject: Option<String>,
    /// The current subject's (as_of, grade) rows, ascending.
    rows: Vec<(String, usize)>,
}

impl GradeTally {
    pub fn new(days: Vec<String>) -> GradeTally {
        let counts = vec![[0; 4]; days.len()];
        GradeTally { days, counts, subject: None, rows: Vec::new() }
    }

    /// One stored grade; rows come by subject, then day (the table's key order).
    pub fn row(&mut self, code: &str, as_of: &str, grade: &str) {
        if self.subject.as_deref() != Some(code) {
            self.flush();
            self.subject = Some(code.to_string());
        }
        if let Some(g) = Grade::parse(grade) {
            self.rows.push((as_of.to_string(), g as usize));
        }
    }

    fn flush(&mut self) {
        let mut at = 0;
        let mut current: Option<usize> = None;
        for (i, day) in self.days.iter().enumerate() {
            while at < self.rows.len() && self.rows[at].0.as_str() <= day.as_str() {
                current = Some(self.rows[at].1);
                at += 1;
            }
            if let Some(g) = current {
                self.counts[i][g] += 1;
            }
        }
        self.rows.clear();
    }

    /// Per day, the subjects in each grade.
    pub fn finish(mut self) -> Vec<[i64; 4]> {
        self.flush();
        self.counts
    }
}

/// The figures of `months` (`YYYY-MM`, ascending) as of `today`.
pub async fn figures(
    settings: &Settings,
    store: &Store,
    months: &[String],
    today: NaiveDate,
) -> Result<CreditFigures, StoreError> {
    let days: Vec<(String, NaiveDate)> =
        months.iter().filter_map(|m| Some((m.clone(), count_day(m, today)?))).collect();
    let mut out: Vec<CreditMonth> = days
        .iter()
        .map(|(m, d)| CreditMonth { month: m.clone(), as_of: d.to_string(), ..Default::default() })
        .collect();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(CreditFigures::default());
    };
    let from = format!("{}-01", first.0);
    let until = NaiveDate::parse_from_str(&format!("{}-01", last.0), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .map_or_else(|| "9999-12-31".to_string(), |d| d.to_string());
    let at = |decided: &str| out_index(&days, decided);

    let mut tally = GradeTally::new(days.iter().map(|(_, d)| d.to_string()).collect());
    store.each_stored_grade(|code, as_of, grade| tally.row(code, as_of, grade)).await?;
    for (m, counts) in out.iter_mut().zip(tally.finish()) {
        m.grades = counts.into();
    }

    let result_item = &settings.grading.result_item;
    let mut changes = vec![0i64; out.len()];
    if !result_item.is_empty() {
        store
            .each_item_record(result_item, &from, &until, |decided, _| {
                if let Some(i) = at(decided) {
                    changes[i] += 1;
                }
            })
            .await?;
    }
    for (m, n) in out.iter_mut().zip(changes) {
        m.changes = n;
    }

    if let Some(c) = &settings.grading.commitments {
        let mut rows: Vec<(usize, Option<String>)> = Vec::new();
        store
            .each_item_record(&c.item, &from, &until, |decided, content| {
                if let Some(i) = at(decided) {
                    rows.push((i, status_of(content, &c.status_field)));
                }
            })
            .await?;
        for (i, status) in rows {
            let m = &mut out[i];
            m.commitments += 1;
            match status {
                Some(s) if c.kept.contains(&s) => m.kept += 1,
                Some(s) if c.broken.contains(&s) => m.broken += 1,
                _ => m.open += 1,
            }
        }
    }

    let (enterprises, library) = store.enterprise_total().await?;
    let made: i64 = out.iter().map(|m| m.commitments).sum();
    Ok(CreditFigures {
        months: out,
        enterprises,
        enterprise_basis: if library { "subject_library" } else { "records" }.to_string(),
        commitment_share: (enterprises > 0 && settings.grading.commitments.is_some())
            .then(|| made as f64 / enterprises as f64),
    })
}

/// The month (index into `days`) a decision date falls in.
fn out_index(days: &[(String, NaiveDate)], decided: &str) -> Option<usize> {
    let month = decided.get(..7)?;
    days.iter().position(|(m, _)| m == month)
}

/// The text of `field` in a record's content.
fn status_of(content: &str, field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(content).ok()?;
    value.get(field)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_counts_in_the_grade_of_its_latest_row_on_or_before_each_day() {
        let mut t = GradeTally::new(vec!["2026-01-31".into(), "2026-02-28".into(), "2026-03-31".into()]);
        // Graded first in February (absent in January), C from 03-31 itself.
        t.row("X1", "2026-02-01", "A");
        t.row("X1", "2026-03-31", "C");
        // Graded B in December, unchanged since.
        t.row("X2", "2025-12-31", "B");
        // D on the last day of January, back to A in February.
        t.row("X3", "2026-01-31", "D");
        t.row("X3", "2026-02-15", "A");
        t.row("X4", "2026-04-01", "B");
        assert_eq!(t.finish(), vec![[0, 1, 0, 1], [2, 1, 0, 0], [1, 1, 1, 0]]);
    }

    #[test]
    fn months_are_counted_on_their_last_day_or_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(count_day("2024-02", today).unwrap().to_string(), "2024-02-29");
        assert_eq!(count_day("2026-11", today).unwrap().to_string(), "2026-11-30");
        assert_eq!(count_day("2026-12", today).unwrap().to_string(), "2026-12-07");
        assert_eq!(count_day("2026-13", today), None);
        let months = last_twelve(today);
        assert_eq!((months.len(), months[0].as_str(), months[11].as_str()), (12, "2026-01", "2026-12"));
    }

    #[test]
    fn the_status_is_read_from_the_content() {
        assert_eq!(status_of(r#"{"CN_LYZT":"已履约"}"#, "CN_LYZT").as_deref(), Some("已履约"));
        assert_eq!(status_of(r#"{"CN_LYZT":null}"#, "CN_LYZT"), None);
        assert_eq!(status_of("not json", "CN_LYZT"), None);
    }
}
