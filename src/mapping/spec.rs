//! Serde shape of a mapping file (`mappings/*.toml`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::catalogue::Unit;
use crate::format::Encoding;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    pub version: u32,
    /// The catalogue item the rows become (`CF`).
    pub item: String,
    /// `catalogue`: every field is read from the column named by its 中文 name (or its key)
    /// unless `fields` says otherwise; `explicit` (default): only the fields listed.
    #[serde(default)]
    pub columns: ColumnsDefault,
    #[serde(default)]
    pub encoding: Encoding,
    /// Where the records are in a JSON file or answer (dotted path, `data.items`) or the
    /// record element of an XML one (`record`).
    #[serde(default)]
    pub records: Option<String>,
    /// Sheet of a workbook (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// The header's row number; default: found among the first `header_scan_rows` rows.
    #[serde(default)]
    pub header_row: Option<u64>,
    #[serde(default = "default_scan_rows")]
    pub header_scan_rows: usize,
    /// The department deems publication of its minor (轻微) penalties necessary
    /// (config/publicity.toml): they are published, at most 3 months, not held back.
    #[serde(default)]
    pub publish_minor: bool,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMapSpec>,
    #[serde(default)]
    pub tests: Vec<MappingTestSpec>,
}

fn default_scan_rows() -> usize {
    20
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnsDefault {
    #[default]
    Explicit,
    Catalogue,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapSpec {
    /// Header text of the source column.
    #[serde(default)]
    pub column: Option<String>,
    /// Other header texts departments use for the same column.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// 1-based column position, for files without a usable header.
    #[serde(default)]
    pub position: Option<usize>,
    /// Concatenate these columns (with `separator`).
    #[serde(default)]
    pub concat: Option<Vec<String>>,
    #[serde(default)]
    pub separator: String,
    /// A constant value; the source is not read.
    #[serde(default, rename = "const")]
    pub constant: Option<String>,
    /// Used when the source cell is empty.
    #[serde(default)]
    pub default: Option<String>,
    /// Source value → value, applied to the trimmed cell before transforms.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// What a number without a unit means in this source (default: the field's unit).
    #[serde(default)]
    pub unit: Option<Unit>,
    /// Replaces the field type's default transform chain.
    #[serde(default)]
    pub transforms: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingTestSpec {
    /// Header text → cell.
    pub row: BTreeMap<String, String>,
    /// Field key → expected stored value ("" for empty).
    #[serde(default)]
    pub expect: BTreeMap<String, String>,
    /// Expected problems as `FIELD:code`; a row with problems is rejected.
    #[serde(default)]
    pub problems: Vec<String>,
    /// Expect the row to be filtered out (e.g. 简易程序).
    #[serde(default)]
    pub skipped: bool,
}
