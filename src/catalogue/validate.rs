//! Checks one mapped row against its catalogue item. Pure: values in, problems out.

use rust_decimal::Decimal;

use super::{Catalogue, Condition, ConditionTest, FieldKind, IdTypeSource, Item, RESIDENT_ID_TYPE, Requirement};
use crate::ids::{CREDIT_CODE_PLACEHOLDER, CreditCode, IdNumber, OrgCode};
use crate::problem::{Problem, ProblemCode};

/// Separator of multi-valued code fields (处罚类别 `01;02`).
pub const MULTI_SEPARATOR: char = ';';

/// Validates `values` (one per item field, already canonical) into `problems`.
/// Fields flagged in `skip` already carry a problem from mapping and are not checked again.
pub fn validate(
    catalogue: &Catalogue,
    item: &Item,
    values: &[Option<String>],
    skip: &[bool],
    problems: &mut Vec<Problem>,
) {
    for (i, field) in item.fields.iter().enumerate() {
        if skip.get(i).copied().unwrap_or(false) {
            continue;
        }
        let Some(value) = values[i].as_deref() else {
            let needed = match &field.required {
                Requirement::Optional => None,
                Requirement::Always => Some("必填项为空".to_string()),
                Requirement::When(c) => holds(c, values).then(|| format!("{}时必填", describe(item, c))),
            };
            if let Some(reason) = needed {
                problems.push(Problem::error(Some(i), ProblemCode::Required, reason));
            }
            continue;
        };
        if let Some(max) = field.max_len {
            // Bytes bound chars from above: count chars only when it may matter.
            if value.len() > max {
                let chars = value.chars().count();
                if chars > max {
                    problems.push(Problem::error(
                        Some(i),
                        ProblemCode::TooLong,
                        format!("长度超过 {max} 个字（实为 {chars} 个字）"),
                    ));
                    continue;
                }
            }
        }
        if let Some(p) = check_kind(catalogue, item, i, value, values) {
            problems.push(p);
        }
    }
}

fn check_kind(catalogue: &Catalogue, item: &Item, i: usize, value: &str, values: &[Option<String>]) -> Option<Problem> {
    let err = |code, reason: String| Some(Problem::error(Some(i), code, reason));
    match &item.fields[i].kind {
        FieldKind::Text => None,
        FieldKind::Date { not_before, .. } => {
            if !is_iso_date(value) {
                return err(ProblemCode::BadDate, format!("日期应为 YYYY-MM-DD 格式：“{value}”"));
            }
            let earlier = not_before.and_then(|j| values[j].as_deref().filter(|d| is_iso_date(d)).map(|d| (j, d)))?;
            (value < earlier.1).then(|| {
                Problem::error(
                    Some(i),
                    ProblemCode::DateOrder,
                    format!("不能早于{}（{}），实为 {value}", item.fields[earlier.0].name, earlier.1),
                )
            })
        }
        FieldKind::Decimal { scale, min, max, .. } => {
            let Ok(d) = value.parse::<Decimal>() else {
                return err(ProblemCode::BadAmount, format!("不是有效数值：“{value}”"));
            };
            if d.normalize().scale() > *scale {
                return err(ProblemCode::TooManyDecimals, format!("小数位数不能超过 {scale} 位：{value}"));
            }
            bounds(i, d, *min, *max, value)
        }
        FieldKind::Integer { min, max } => {
            let Ok(n) = value.parse::<i64>() else {
                return err(ProblemCode::BadInteger, format!("应为整数：“{value}”"));
            };
            bounds(i, Decimal::from(n), min.map(Decimal::from), max.map(Decimal::from), value)
        }
        FieldKind::Code { table, multiple } => {
            let bad = if *multiple {
                value.split(MULTI_SEPARATOR).find(|v| !table.is_stored_form(v))
            } else {
                (!table.is_stored_form(value)).then_some(value)
            }?;
            err(ProblemCode::UnknownCode, format!("“{bad}”不在{}代码表中（可选：{}）", table.name, table.listing()))
        }
        FieldKind::CreditCode { placeholder } => {
            if *placeholder && value == CREDIT_CODE_PLACEHOLDER {
                return None;
            }
            let e = CreditCode::parse(value).err()?;
            if catalogue.is_credit_code_exception(value) {
                return Some(Problem::warning(
                    Some(i),
                    ProblemCode::CreditCodeException,
                    format!("校验未通过，但属于配置的已知例外代码：{}", e.zh()),
                ));
            }
            err(ProblemCode::BadCreditCode, format!("统一社会信用代码无效：{}", e.zh()))
        }
        FieldKind::OrgCode => {
            let e = OrgCode::parse(value).err()?;
            err(ProblemCode::BadOrgCode, format!("组织机构代码无效：{}", e.zh()))
        }
        FieldKind::IdDocument { id_type } => {
            let kind = match id_type {
                IdTypeSource::Field(j) => values[*j].as_deref(),
                IdTypeSource::Fixed(t) => Some(t.as_str()),
            };
            if kind != Some(RESIDENT_ID_TYPE) {
                return None;
            }
            let e = IdNumber::parse(value).err()?;
            err(ProblemCode::BadIdNumber, format!("身份证号码无效：{}", e.zh()))
        }
    }
}

fn bounds(i: usize, d: Decimal, min: Option<Decimal>, max: Option<Decimal>, value: &str) -> Option<Problem> {
    if let Some(min) = min
        && d < min
    {
        return Some(Problem::error(Some(i), ProblemCode::BelowMin, format!("不能小于 {min}：{value}")));
    }
    if let Some(max) = max
        && d > max
    {
        return Some(Problem::error(Some(i), ProblemCode::AboveMax, format!("不能大于 {max}：{value}")));
    }
    None
}

/// `YYYY-MM-DD` naming a real day. Mapping already canonicalised: this guards other paths.
pub fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// Whether a conditional requirement applies to this row.
pub fn holds(c: &Condition, values: &[Option<String>]) -> bool {
    let v = values[c.field].as_deref();
    match &c.test {
        ConditionTest::Equals(list) => v.is_some_and(|v| list.iter().any(|x| x == v)),
        ConditionTest::NotEquals(list) => v.is_some_and(|v| !list.iter().any(|x| x == v)),
        ConditionTest::Contains(list) => {
            v.is_some_and(|v| v.split(MULTI_SEPARATOR).any(|part| list.iter().any(|x| x == part)))
        }
        ConditionTest::Empty => v.is_none(),
        ConditionTest::NotEmpty => v.is_some(),
    }
}

/// The condition in words for the clerk: `行政相对人类别为“自然人”`.
fn describe(item: &Item, c: &Condition) -> String {
    let other = &item.fields[c.field];
    let show = |values: &[String]| -> String {
        let shown: Vec<String> = values
            .iter()
            .map(|v| match &other.kind {
                FieldKind::Code { table, .. } => format!("“{}”", table.describe(v)),
                _ => format!("“{v}”"),
            })
            .collect();
        shown.join("或")
    };
    match &c.test {
        ConditionTest::Equals(v) => format!("{}为{}", other.name, show(v)),
        ConditionTest::NotEquals(v) => format!("{}不为{}", other.name, show(v)),
        ConditionTest::Contains(v) => format!("{}含{}", other.name, show(v)),
        ConditionTest::Empty => format!("{}为空", other.name),
        ConditionTest::NotEmpty => format!("{}不为空", other.name),
    }
}
