//! Serde shapes of the catalogue files (`config/catalogue/*.toml`, `config/code-tables.toml`).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTablesSpec {
    pub version: u32,
    #[serde(default)]
    pub tables: BTreeMap<String, CodeTableSpec>,
    /// 统一社会信用代码 positions 1–2 (or 1) → the 行政相对人类别 it implies.
    #[serde(default)]
    pub subject_kind_by_code: Option<SubjectKindByCodeSpec>,
}

/// The subject type a credit code's first characters imply (GB 32100-2015): a row whose
/// 行政相对人类别 says otherwise is warned.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectKindByCodeSpec {
    /// The regulation the table follows, named in the file.
    pub regulation: String,
    /// Prefix (`91`, `92`, `5`) → stored 行政相对人类别; the longest matching prefix counts.
    pub prefixes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTableSpec {
    pub name: String,
    pub store: StoreAs,
    pub entries: Vec<CodeEntrySpec>,
}

/// Which form a record keeps: the code (`02`) or the text (`罚款`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreAs {
    Code,
    Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntrySpec {
    #[serde(default)]
    pub code: Option<String>,
    pub text: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    pub version: u32,
    pub code: String,
    pub name: String,
    /// 双公示 items are due at the provincial platform within 7 working days.
    #[serde(default)]
    pub dual_publicity: bool,
    /// Business key parts; `A|B` takes the first non-empty of A and B.
    pub key: Vec<String>,
    pub decision_date: String,
    /// The key fields that name the decision whatever its subject (文书号, 决定日期): a row
    /// repeating them under another key is that decision again (a correction or a duplicate).
    /// Only items whose records are decisions with a document number have one; a list item
    /// (欠费, 经营异常, A 级纳税人) repeats its date for many subjects, so has none.
    #[serde(default)]
    pub decision_key: Vec<String>,
    #[serde(default)]
    pub authority_code: Option<String>,
    #[serde(default)]
    pub subject_name: Option<String>,
    #[serde(default)]
    pub subject_code: Option<String>,
    /// A natural person's ID number (证件号码): the subject of a record without a credit code.
    #[serde(default)]
    pub subject_id: Option<String>,
    /// The 行政相对人类别 field, checked against the subject's credit code.
    #[serde(default)]
    pub subject_kind: Option<String>,
    #[serde(default)]
    pub filters: Vec<FilterSpec>,
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    pub field: String,
    pub equals: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub required_when: Option<ConditionSpec>,
    #[serde(default)]
    pub max_len: Option<usize>,
    /// `false` for control fields read only to filter rows (never pushed).
    #[serde(default = "yes")]
    pub report: bool,
    // date
    #[serde(default)]
    pub open_ended: bool,
    #[serde(default)]
    pub not_before: Option<String>,
    // decimal and integer
    #[serde(default)]
    pub scale: Option<u32>,
    #[serde(default)]
    pub min: Option<toml::Value>,
    #[serde(default)]
    pub max: Option<toml::Value>,
    #[serde(default)]
    pub unit: Option<UnitSpec>,
    /// Above this (in the field's unit) an amount is kept with a warning: likely mistyped.
    #[serde(default)]
    pub plausible_max: Option<toml::Value>,
    /// The text field where the decision writes this amount out (处罚内容 “罚款2000元”),
    /// and the words the amount follows there: the two are cross-checked.
    #[serde(default)]
    pub stated_in: Option<StatedInSpec>,
    // code
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub multiple: bool,
    // credit_code
    #[serde(default)]
    pub placeholder: bool,
    // id_document
    #[serde(default)]
    pub id_type_field: Option<String>,
    #[serde(default)]
    pub id_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedInSpec {
    pub field: String,
    pub after: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Date,
    Decimal,
    Integer,
    Code,
    CreditCode,
    OrgCode,
    IdDocument,
}

/// The money unit of a decimal field (SPEC §2: 双公示 amounts are in 万元).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitSpec {
    Yuan,
    Wan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    pub field: String,
    #[serde(default)]
    pub equals: Option<Vec<String>>,
    #[serde(default)]
    pub not_equals: Option<Vec<String>>,
    #[serde(default)]
    pub contains: Option<Vec<String>>,
    #[serde(default)]
    pub empty: Option<bool>,
    #[serde(default)]
    pub not_empty: Option<bool>,
}
