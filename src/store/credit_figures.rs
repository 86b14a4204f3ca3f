//! What the 分级分类 figures read (issue 19): the stored grades in one pass, the records of one
//! item per decision month, and the subjects holding a grade on a day (the list behind a
//! count). Set-based reads; the arithmetic is in `crate::credit_figures`.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Store, StoreError, SubjectHit, on_pool};

impl Store {
    /// Every stored grade, by subject and day: `(credit_code, as_of, grade)`. Streamed in the
    /// primary key's order, so the caller holds one subject at a time.
    pub async fn each_stored_grade(&self, mut f: impl FnMut(&str, &str, &str)) -> Result<(), StoreError> {
        const SQL: &str = "SELECT credit_code, as_of, grade FROM subject_grades ORDER BY credit_code, as_of";
        on_pool!(self.db(), pool => {
            let mut rows = sqlx::query(SQL).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                f(r.get::<&str, _>(0), r.get::<&str, _>(1), r.get::<&str, _>(2));
            }
        });
        Ok(())
    }

    /// The current content of each record of `item` decided on or after `from` and before
    /// `until` (`YYYY-MM-DD`), with its decision date; a repeat of a stored decision under
    /// another key left out, as every figure counts a decision once. Streamed.
    pub async fn each_item_record(
        &self,
        item: &str,
        from: &str,
        until: &str,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), StoreError> {
        const SQL: &str = "SELECT decision_date, content FROM records WHERE item = $1 AND duplicate = 0 \
             AND decision_date >= $2 AND decision_date < $3";
        on_pool!(self.db(), pool => {
            let mut rows = sqlx::query(SQL).bind(item).bind(from).bind(until).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                f(r.get::<&str, _>(0), r.get::<&str, _>(1));
            }
        });
        Ok(())
    }

    /// The enterprises the office knows: the platform's subject library where one is kept
    /// (`true`), else the subjects our records name, natural persons aside (`false`).
    pub async fn enterprise_total(&self) -> Result<(i64, bool), StoreError> {
        const LIBRARY: &str = "SELECT COUNT(*) FROM subject_library";
        const OURS: &str = "SELECT COUNT(DISTINCT subject_code) FROM subject_records WHERE source = 'record' \
             AND subject_code NOT LIKE 'ZR%'";
        let library: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(LIBRARY).fetch_one(pool).await?);
        if library > 0 {
            return Ok((library, true));
        }
        let ours: i64 = on_pool!(self.db(), pool => sqlx::query_scalar(OURS).fetch_one(pool).await?);
        Ok((ours, false))
    }

    /// One page of the subjects whose grade on `as_of` (their latest stored grade on or before
    /// it) is `grade`, by credit code, and how many there are.
    pub async fn subjects_with_grade(
        &self,
        grade: &str,
        as_of: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<SubjectHit>), StoreError> {
        const GRADED: &str = "SELECT g.credit_code FROM subject_grades g \
             JOIN (SELECT credit_code, MAX(as_of) AS m FROM subject_grades WHERE as_of <= $1 GROUP BY credit_code) l \
             ON l.credit_code = g.credit_code AND l.m = g.as_of WHERE g.grade = $2";
        let count = format!("SELECT COUNT(*) FROM ({GRADED}) x");
        let page = format!(
            "SELECT x.credit_code, (SELECT COUNT(*) FROM subject_records s WHERE s.subject_code = x.credit_code \
             AND s.source = 'record') FROM ({GRADED}) x ORDER BY x.credit_code LIMIT $3 OFFSET $4"
        );
        let total: i64 =
            on_pool!(self.db(), pool => sqlx::query_scalar(&count).bind(as_of).bind(grade).fetch_one(pool).await?);
        let rows: Vec<(String, i64)> = on_pool!(self.db(), pool => sqlx::query_as(&page)
            .bind(as_of).bind(grade).bind(limit.max(1)).bind(offset.max(0)).fetch_all(pool).await?);
        let codes: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let names = self.subject_display_names(&codes).await?;
        let hits = rows
            .iter()
            .map(|(code, records)| SubjectHit {
                name: names.get(code).cloned().unwrap_or_default(),
                credit_code: code.clone(),
                records: *records,
                other_records: None,
                matched_name: None,
            })
            .collect();
        Ok((total, hits))
    }
}
