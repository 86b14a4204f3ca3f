//! The named transforms a mapping applies to a cell, in order.

use std::borrow::Cow;

use crate::catalogue::{Field, FieldKind, Unit};
use crate::problem::ProblemCode;
use crate::transform::{
    AmountUnit, format_decimal, normalize_name, normalize_text, parse_amount, parse_date, yuan_to_wan,
};

/// What 长期 (open-ended) is stored as (SPEC §2.1).
pub const OPEN_ENDED_DATE: &str = "2099-12-31";
const OPEN_ENDED_WORDS: [&str; 5] = ["长期", "长期有效", "永久", "永久有效", "无固定期限"];

/// Code-table cells with several values use any of these between them.
const MULTI_SEPARATORS: [char; 6] = [';', '；', ',', '，', '、', '/'];

/// A mapping file names a transform that does not exist, or does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformNameError {
    #[error(
        "unknown transform {0:?} (expected trim, normalize, name, upper, lower, date, amount, yuan_to_wan or code)"
    )]
    Unknown(String),
    #[error("transform {0:?} does not fit a field of this type")]
    DoesNotFit(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Trim,
    /// Full-width → half-width, whitespace folded (see `transform::normalize_text`).
    Normalize,
    /// A subject's name: whitespace only, brackets and every other character kept as
    /// registered (see `transform::normalize_name`).
    Name,
    Upper,
    Lower,
    /// Any date form departments send → `YYYY-MM-DD`; 长期 → 2099-12-31 where allowed.
    Date,
    /// Thousands separators, 元/万元 suffixes; converted to the field's unit. A number with no
    /// unit is taken in `assume` (default: the field's own unit).
    Amount {
        assume: Option<Unit>,
    },
    /// Code, text or synonym → the code table's stored form.
    Code,
}

impl Transform {
    /// The chain a subject's name gets when its mapping names none: its registered form.
    pub fn name_defaults() -> Vec<Transform> {
        vec![Transform::Name]
    }

    /// The chain a field gets when its mapping names none.
    pub fn defaults(kind: &FieldKind) -> Vec<Transform> {
        use Transform::*;
        match kind {
            FieldKind::Text | FieldKind::Integer { .. } => vec![Normalize],
            FieldKind::Date { .. } => vec![Normalize, Date],
            FieldKind::Decimal { .. } => vec![Normalize, Amount { assume: None }],
            FieldKind::Code { .. } => vec![Normalize, Code],
            FieldKind::CreditCode { .. } | FieldKind::OrgCode | FieldKind::IdDocument { .. } => {
                vec![Normalize, Upper]
            }
        }
    }

    pub fn parse(name: &str, kind: &FieldKind) -> Result<Transform, TransformNameError> {
        let t = match name {
            "trim" => Transform::Trim,
            "normalize" => Transform::Normalize,
            "name" => Transform::Name,
            "upper" => Transform::Upper,
            "lower" => Transform::Lower,
            "date" => Transform::Date,
            "amount" => Transform::Amount { assume: None },
            "yuan_to_wan" => Transform::Amount { assume: Some(Unit::Yuan) },
            "code" => Transform::Code,
            other => return Err(TransformNameError::Unknown(other.to_string())),
        };
        let fits = match t {
            Transform::Date => matches!(kind, FieldKind::Date { .. }),
            Transform::Amount { .. } => matches!(kind, FieldKind::Decimal { .. }),
            Transform::Code => matches!(kind, FieldKind::Code { .. }),
            _ => true,
        };
        if !fits {
            return Err(TransformNameError::DoesNotFit(name.to_string()));
        }
        Ok(t)
    }

    /// The same transform, taking unit-less numbers in `unit`.
    pub fn assuming(self, unit: Unit) -> Transform {
        match self {
            Transform::Amount { .. } => Transform::Amount { assume: Some(unit) },
            other => other,
        }
    }

    /// Whether the transform says which unit unit-less amounts are in.
    pub fn assumes_unit(self) -> bool {
        matches!(self, Transform::Amount { assume: Some(_) })
    }

    pub fn problem_code(self) -> ProblemCode {
        match self {
            Transform::Date => ProblemCode::BadDate,
            Transform::Amount { .. } => ProblemCode::BadAmount,
            Transform::Code => ProblemCode::UnknownCode,
            _ => ProblemCode::Malformed,
        }
    }

    /// Applies the transform; the error is the reason in Chinese.
    pub fn apply<'a>(self, value: Cow<'a, str>, field: &Field) -> Result<Cow<'a, str>, String> {
        Ok(match self {
            Transform::Trim => match value {
                Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
                Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
            },
            Transform::Normalize => match value {
                Cow::Borrowed(s) => normalize_text(s),
                Cow::Owned(s) => Cow::Owned(normalize_text(&s).into_owned()),
            },
            Transform::Name => match value {
                Cow::Borrowed(s) => normalize_name(s),
                Cow::Owned(s) => Cow::Owned(normalize_name(&s).into_owned()),
            },
            Transform::Upper => {
                if value.bytes().any(|b| b.is_ascii_lowercase()) {
                    Cow::Owned(value.to_ascii_uppercase())
                } else {
                    value
                }
            }
            Transform::Lower => Cow::Owned(value.to_lowercase()),
            Transform::Date => {
                let open_ended = matches!(field.kind, FieldKind::Date { open_ended: true, .. });
                if OPEN_ENDED_WORDS.contains(&value.as_ref()) {
                    if open_ended {
                        return Ok(Cow::Borrowed(OPEN_ENDED_DATE));
                    }
                    return Err(format!("本字段不能填写“{value}”，请填写具体日期"));
                }
                if is_short_number(&value) {
                    // `2023` or `2023.06` would read as an Excel serial in 1905: a year or a month
                    // typed where a date belongs. Real serials of decisions have five digits.
                    return Err(format!("“{value}”不是完整日期，请填写年月日"));
                }
                let date = parse_date(&value).map_err(|e| e.zh())?;
                Cow::Owned(crate::iso_date::format(date))
            }
            Transform::Amount { assume } => {
                let amount = parse_amount(&value).map_err(|e| e.zh())?;
                let FieldKind::Decimal { unit: field_unit, .. } = field.kind else {
                    return Ok(Cow::Owned(format_decimal(amount.value)));
                };
                let given = match amount.unit {
                    AmountUnit::Yuan => Some(Unit::Yuan),
                    AmountUnit::Wan => Some(Unit::Wan),
                    AmountUnit::Unspecified => assume.or(field_unit),
                };
                let v = match (given, field_unit) {
                    (Some(Unit::Yuan), Some(Unit::Wan)) => yuan_to_wan(amount.value),
                    (Some(Unit::Wan), Some(Unit::Yuan)) => amount.value * rust_decimal::Decimal::from(10_000),
                    _ => amount.value,
                };
                Cow::Owned(format_decimal(v))
            }
            Transform::Code => {
                let FieldKind::Code { table, multiple } = &field.kind else {
                    return Ok(value);
                };
                if *multiple {
                    let mut out = String::new();
                    for part in value.split(MULTI_SEPARATORS).map(str::trim).filter(|p| !p.is_empty()) {
                        let stored = table.canonical(part).ok_or_else(|| unknown(part, table))?;
                        if !out.split(';').any(|x| x == stored) {
                            if !out.is_empty() {
                                out.push(';');
                            }
                            out.push_str(stored);
                        }
                    }
                    Cow::Owned(out)
                } else {
                    let stored = table.canonical(&value).ok_or_else(|| unknown(&value, table))?;
                    if stored == value { value } else { Cow::Owned(stored.to_string()) }
                }
            }
        })
    }
}

/// A number whose whole part has at most four digits (`2023`, `2023.06`).
fn is_short_number(value: &str) -> bool {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    !whole.is_empty()
        && whole.len() <= 4
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn unknown(value: &str, table: &crate::catalogue::CodeTable) -> String {
    format!("“{value}”不在{}代码表中（可选：{}）", table.name, table.listing())
}
