//! Checks of a mapped row beyond each field's own syntax: a decision dated after today, a
//! subject type its credit code contradicts, an amount whose unit the decision's own text
//! contradicts or that is beyond belief.
//!
//! Pure: values, the catalogue and today in, problems out. Each rule reads the catalogue's
//! configuration (`subject_kind_by_code` in the code tables, `plausible_max` and `stated_in`
//! on amount fields), never a constant of its own.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::catalogue::{Catalogue, FieldKind, Item, Unit};
use crate::ids::CREDIT_CODE_PLACEHOLDER;
use crate::problem::{Problem, ProblemCode, Severity};
use crate::transform::format_decimal;

/// Adds the row-level problems of a row whose fields are each valid. A field that already
/// carries an error is not judged again.
pub fn check_row(
    catalogue: &Catalogue,
    item: &Item,
    values: &[Option<String>],
    today: Option<NaiveDate>,
    problems: &mut Vec<Problem>,
) {
    let has_error =
        |problems: &[Problem], i: usize| problems.iter().any(|p| p.field == Some(i) && p.severity == Severity::Error);
    if let Some(today) = today
        && !has_error(problems, item.decision_date)
        && let Some(p) = future_decision(item, values, today)
    {
        problems.push(p);
    }
    if let Some(p) = subject_type(catalogue, item, values) {
        problems.push(p);
    }
    for (i, field) in item.fields.iter().enumerate() {
        let FieldKind::Decimal { unit, plausible_max, stated_in, .. } = &field.kind else {
            continue;
        };
        if has_error(problems, i) {
            continue;
        }
        let Some(value) = values[i].as_deref().and_then(|v| v.parse::<Decimal>().ok()) else {
            continue;
        };
        let unit_zh = unit_name(*unit);
        if let Some(stated) = stated_in {
            let text = values[stated.field].as_deref().unwrap_or("");
            if let Some(p) =
                stated_amount(i, &field.name, value, *unit, text, &stated.after, &item.fields[stated.field].name)
            {
                problems.push(p);
                continue;
            }
        }
        if let Some(max) = plausible_max
            && value > *max
        {
            problems.push(Problem::warning(
                Some(i),
                ProblemCode::AmountImplausible,
                format!(
                    "金额 {}{unit_zh} 超过合理上限 {}{unit_zh}，请核对金额和单位",
                    format_decimal(value),
                    format_decimal(*max)
                ),
            ));
        }
    }
}

/// A decision dated after today (Asia/Shanghai) cannot have been taken yet.
fn future_decision(item: &Item, values: &[Option<String>], today: NaiveDate) -> Option<Problem> {
    let i = item.decision_date;
    let date: NaiveDate = values[i].as_deref()?.parse().ok()?;
    (date > today).then(|| {
        Problem::error(
            Some(i),
            ProblemCode::FutureDecision,
            format!("{}为 {date}，晚于今天（{today}）：未来日期的决定不能报送，请核对日期", item.fields[i].name),
        )
    })
}

/// The 行政相对人类别 against what the credit code's first characters say (GB 32100-2015).
fn subject_type(catalogue: &Catalogue, item: &Item, values: &[Option<String>]) -> Option<Problem> {
    let (kind_field, code_field) = (item.subject_kind?, item.subject_code?);
    let kind = values[kind_field].as_deref()?;
    let code = values[code_field].as_deref()?;
    if code == CREDIT_CODE_PLACEHOLDER {
        return None;
    }
    let implied = catalogue.subject_kind_of_code(code)?;
    (implied != kind).then(|| {
        Problem::warning(
            Some(kind_field),
            ProblemCode::SubjectTypeMismatch,
            format!(
                "{}为“{kind}”，但统一社会信用代码 {code} 的前两位“{}”表示“{implied}”",
                item.fields[kind_field].name,
                code.get(..2).unwrap_or(code),
            ),
        )
    })
}

/// The amount against the one the decision's text states after one of `after`: off by
/// 10,000× is a unit mistake and refused; any other difference is warned.
fn stated_amount(
    i: usize,
    name: &str,
    value: Decimal,
    unit: Option<Unit>,
    text: &str,
    after: &[String],
    text_name: &str,
) -> Option<Problem> {
    let stated: Vec<(Decimal, &str)> = after.iter().flat_map(|w| amounts_after(text, w)).collect();
    let first = stated.first()?;
    let in_unit = |(v, u): &(Decimal, &str)| -> Decimal {
        match (u_is_wan(u), unit) {
            (true, Some(Unit::Yuan)) => v * Decimal::from(10_000),
            (false, Some(Unit::Wan)) => crate::transform::yuan_to_wan(*v),
            _ => *v,
        }
    };
    if stated.iter().any(|s| in_unit(s) == value) {
        return None;
    }
    let expected = in_unit(first);
    let unit_zh = unit_name(unit);
    let ten_thousand = Decimal::from(10_000);
    let said = format!("{}{}", format_decimal(first.0), first.1);
    if value == expected * ten_thousand || value * ten_thousand == expected {
        return Some(Problem::error(
            Some(i),
            ProblemCode::AmountUnit10000,
            format!(
                "{name}填写为 {}，{text_name}写明“{said}”（即 {}{unit_zh}），相差一万倍：单位有误",
                format_decimal(value),
                format_decimal(expected)
            ),
        ));
    }
    Some(Problem::warning(
        Some(i),
        ProblemCode::AmountUnitMismatch,
        format!(
            "{name}填写为 {}，与{text_name}写明的“{said}”（即 {}{unit_zh}）不一致",
            format_decimal(value),
            format_decimal(expected)
        ),
    ))
}

fn u_is_wan(u: &str) -> bool {
    u.starts_with('万')
}

fn unit_name(unit: Option<Unit>) -> &'static str {
    match unit {
        Some(Unit::Wan) => "万元",
        Some(Unit::Yuan) => "元",
        None => "",
    }
}

/// Amounts written in figures after `word` (“罚款人民币2,000元”, “罚款0.2万元”), each
/// with its unit (`元` or `万元`). Amounts in words (贰仟元) or without a unit are not read.
pub fn amounts_after<'t>(text: &'t str, word: &str) -> Vec<(Decimal, &'t str)> {
    let mut found = Vec::new();
    if word.is_empty() {
        return found;
    }
    let mut rest = text;
    // memchr's search: `str::find` sets up a two-way searcher on every call, for every row.
    let finder = memchr::memmem::Finder::new(word.as_bytes());
    while let Some(at) = finder.find(rest.as_bytes()) {
        rest = &rest[at + word.len()..];
        // A few words may stand between: 人民币, 金额, a colon.
        let start = rest
            .char_indices()
            .take(8)
            .find(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .filter(|i| !rest[..*i].contains(['，', '。', '；', ',', ';', '、']));
        let Some(start) = start else {
            continue;
        };
        let digits = &rest[start..];
        let len = digits.find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.')).unwrap_or(digits.len());
        let number: String = digits[..len].trim_end_matches(['.', ',']).chars().filter(|c| *c != ',').collect();
        let after_number = &digits[len..];
        let unit = if after_number.starts_with("万元") {
            "万元"
        } else if after_number.starts_with('万') {
            "万"
        } else if after_number.starts_with('元') {
            "元"
        } else {
            continue;
        };
        if let Ok(v) = number.parse::<Decimal>() {
            found.push((v, unit));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf() -> (Catalogue, std::sync::Arc<Item>) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let item = catalogue.item("CF").unwrap().clone();
        (catalogue, item)
    }

    fn row(item: &Item, pairs: &[(&str, &str)]) -> Vec<Option<String>> {
        let mut values = vec![None; item.fields.len()];
        for (k, v) in pairs {
            values[item.field_index(k).unwrap()] = Some(v.to_string());
        }
        values
    }

    fn codes(catalogue: &Catalogue, item: &Item, values: &[Option<String>], today: Option<NaiveDate>) -> Vec<String> {
        let mut problems = Vec::new();
        check_row(catalogue, item, values, today, &mut problems);
        problems.iter().map(|p| format!("{}:{}", p.code.as_str(), p.severity.as_str())).collect()
    }

    #[test]
    fn amounts_are_read_after_their_words_with_their_unit() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(amounts_after("罚款人民币20000元", "罚款"), [(d("20000"), "元")]);
        assert_eq!(amounts_after("警告并罚款2,000元", "罚款"), [(d("2000"), "元")]);
        assert_eq!(amounts_after("罚款0.5万元，没收违法所得300元", "没收违法所得"), [(d("300"), "元")]);
        assert_eq!(amounts_after("罚款：1.5万元", "罚款"), [(d("1.5"), "万元")]);
        assert!(amounts_after("罚款贰仟元", "罚款").is_empty());
        assert!(amounts_after("罚款，责令改正3日内", "罚款").is_empty());
        assert!(amounts_after("罚款2000", "罚款").is_empty());
        assert!(amounts_after("", "罚款").is_empty());
    }

    #[test]
    fn a_future_decision_is_refused_today_is_not() {
        let (catalogue, item) = cf();
        let today = NaiveDate::from_ymd_opt(2026, 12, 3);
        let values = row(&item, &[("CF_JDRQ", "2026-12-04")]);
        assert_eq!(codes(&catalogue, &item, &values, today), ["future_decision:error"]);
        let values = row(&item, &[("CF_JDRQ", "2026-12-03")]);
        assert!(codes(&catalogue, &item, &values, today).is_empty());
        // Without a day to compare with (a mapping's own tests), nothing is said.
        let values = row(&item, &[("CF_JDRQ", "2099-01-01")]);
        assert!(codes(&catalogue, &item, &values, None).is_empty());
    }

    #[test]
    fn the_subject_type_must_agree_with_the_code_prefix() {
        let (catalogue, item) = cf();
        let case = |kind: &str, code: &str| {
            codes(&catalogue, &item, &row(&item, &[("CF_XDR_LB", kind), ("CF_XDR_SHXYM", code)]), None)
        };
        assert_eq!(case("个体工商户", "91340600MA2PBM9HXD"), ["subject_type_mismatch:warning"]);
        assert_eq!(case("法人及非法人组织", "92340602MA2PBMEM24"), ["subject_type_mismatch:warning"]);
        assert!(case("个体工商户", "92340602MA2PBMEM24").is_empty());
        assert!(case("法人及非法人组织", "91340600MA2PBM9HXD").is_empty());
        assert!(case("法人及非法人组织", "121200004013590816").is_empty());
        assert!(case("法人及非法人组织", "51340600MJ0000000X").is_empty());
        assert!(case("个体工商户", "00000000000000000X").is_empty());
        // A prefix the table does not list is not judged.
        assert!(case("个体工商户", "Y1340600MA2PBM9HXD").is_empty());
    }

    #[test]
    fn amounts_are_checked_against_the_decision_text_and_a_ceiling() {
        let (catalogue, item) = cf();
        let case = |fk: &str, text: &str| {
            codes(&catalogue, &item, &row(&item, &[("CF_NR_FK", fk), ("CF_NR", text), ("CF_CFLB", "02")]), None)
        };
        assert!(case("0.2", "罚款2000元").is_empty());
        assert!(case("2", "罚款人民币2万元").is_empty());
        assert_eq!(case("20000", "罚款人民币20000元"), ["amount_unit_10000:error"]);
        assert_eq!(case("0.00002", "罚款0.2万元"), ["amount_unit_10000:error"]);
        assert_eq!(case("0.3", "罚款2000元"), ["amount_unit_mismatch:warning"]);
        assert!(case("0.3", "罚款贰仟元").is_empty());
        assert_eq!(case("20000", "罚款"), ["amount_implausible:warning"]);
        assert!(case("10000", "罚款").is_empty());
        let mut problems = Vec::new();
        let values = row(&item, &[("CF_NR_FK", "20000"), ("CF_NR", "罚款人民币20000元")]);
        check_row(&catalogue, &item, &values, None, &mut problems);
        assert!(problems[0].reason.contains("20000") && problems[0].reason.contains("2万元"), "{}", problems[0].reason);
    }
}
