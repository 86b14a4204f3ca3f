//! Problems found in a source row: bad data is data, not an error.
//!
//! A problem names the field (by catalogue index), a stable code that code and dashboards
//! branch on, and a reason in Chinese for the department clerk who must fix the row.

use serde::Serialize;

/// How bad a problem is: an error rejects the row, a warning is kept beside the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Stable problem codes: stored, shown and counted, so never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    Required,
    TooLong,
    BadDate,
    DateOrder,
    OpenEndedNotAllowed,
    BadAmount,
    TooManyDecimals,
    BelowMin,
    AboveMax,
    BadInteger,
    UnknownCode,
    BadCreditCode,
    CreditCodeException,
    BadOrgCode,
    BadIdNumber,
    BadEncoding,
    CellTooLarge,
    RaggedRow,
    Malformed,
    PublicityTooShort,
    PublicityTooLong,
    UnknownRecord,
    /// A decision dated after today (Asia/Shanghai): refused.
    FutureDecision,
    /// 行政相对人类别 contradicts the credit code's prefix: warned.
    SubjectTypeMismatch,
    /// One credit code under another name in the store: warned.
    CodeNameConflict,
    /// An amount differs from the one the decision's text states: warned.
    AmountUnitMismatch,
    /// An amount 10,000× off the one the decision's text states (元 taken as 万元): refused.
    AmountUnit10000,
    /// An amount above the configured plausibility ceiling: warned.
    AmountImplausible,
    /// A row repeating a decision already stored under another key: warned.
    DuplicateDecision,
}

impl ProblemCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::Required => "required",
            ProblemCode::TooLong => "too_long",
            ProblemCode::BadDate => "bad_date",
            ProblemCode::DateOrder => "date_order",
            ProblemCode::OpenEndedNotAllowed => "open_ended_not_allowed",
            ProblemCode::BadAmount => "bad_amount",
            ProblemCode::TooManyDecimals => "too_many_decimals",
            ProblemCode::BelowMin => "below_min",
            ProblemCode::AboveMax => "above_max",
            ProblemCode::BadInteger => "bad_integer",
            ProblemCode::UnknownCode => "unknown_code",
            ProblemCode::BadCreditCode => "bad_credit_code",
            ProblemCode::CreditCodeException => "credit_code_exception",
            ProblemCode::BadOrgCode => "bad_org_code",
            ProblemCode::BadIdNumber => "bad_id_number",
            ProblemCode::BadEncoding => "bad_encoding",
            ProblemCode::CellTooLarge => "cell_too_large",
            ProblemCode::RaggedRow => "ragged_row",
            ProblemCode::Malformed => "malformed",
            ProblemCode::PublicityTooShort => "publicity_too_short",
            ProblemCode::PublicityTooLong => "publicity_too_long",
            ProblemCode::UnknownRecord => "unknown_record",
            ProblemCode::FutureDecision => "future_decision",
            ProblemCode::SubjectTypeMismatch => "subject_type_mismatch",
            ProblemCode::CodeNameConflict => "code_name_conflict",
            ProblemCode::AmountUnitMismatch => "amount_unit_mismatch",
            ProblemCode::AmountUnit10000 => "amount_unit_10000",
            ProblemCode::AmountImplausible => "amount_implausible",
            ProblemCode::DuplicateDecision => "duplicate_decision",
        }
    }
}

/// One thing wrong with one row. `field` indexes the item's fields; `None` is the whole row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: Option<usize>,
    pub code: ProblemCode,
    pub severity: Severity,
    /// The reason in Chinese, for the department.
    pub reason: String,
}

impl Problem {
    pub fn error(field: Option<usize>, code: ProblemCode, reason: impl Into<String>) -> Self {
        Problem { field, code, severity: Severity::Error, reason: reason.into() }
    }

    pub fn warning(field: Option<usize>, code: ProblemCode, reason: impl Into<String>) -> Self {
        Problem { field, code, severity: Severity::Warning, reason: reason.into() }
    }
}
