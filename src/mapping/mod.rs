//! Declarative mappings: source columns → catalogue fields, through named transforms.
//!
//! `mapping` does no IO once loaded: it turns a header and rows of cells into canonical
//! values and problems. Bad data comes back as [`Problem`]s, never as errors.

mod checks;
mod spec;
mod transform_chain;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::catalogue::validate::validate;
use crate::catalogue::{Catalogue, FieldKind, Item, Unit};
use crate::format::{Encoding, RawRow};
use crate::issues::{Issues, check_version};
use crate::problem::{Problem, ProblemCode};
use crate::transform::normalize_text;
pub use checks::amounts_after;
pub use spec::MappingSpec;
use spec::{ColumnsDefault, FieldMapSpec, MappingTestSpec};
pub use transform_chain::Transform;

/// Where a field's value comes from, before the header is known.
#[derive(Debug, Clone)]
enum Source {
    /// Header names (normalised) that may hold the column.
    Column(Vec<String>),
    /// 0-based position.
    Position(usize),
    Concat(Vec<String>, String),
    Const(String),
    Unmapped,
}

#[derive(Debug, Clone)]
struct FieldMap {
    source: Source,
    /// For `Source::Column`: the unit each candidate header names (`罚款金额（元）`), if any.
    header_units: Vec<Option<Unit>>,
    default: Option<String>,
    map: HashMap<String, String>,
    transforms: Vec<Transform>,
}

/// A validated mapping file, bound to its catalogue item.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// File stem: `market-penalties`.
    pub name: String,
    pub item: Arc<Item>,
    pub encoding: Encoding,
    pub sheet: Option<String>,
    /// JSON path or XML element of the records (see the mapping file).
    pub records: Option<String>,
    header_row: Option<u64>,
    pub header_scan_rows: usize,
    /// Minor penalties of this source are published (see the mapping file).
    pub publish_minor: bool,
    fields: Vec<FieldMap>,
    tests: Vec<MappingTestSpec>,
    catalogue: Catalogue,
}

/// The mapping fixed to one file's header: field → cell positions.
#[derive(Debug, Clone)]
pub struct Binding {
    sources: Vec<Bound>,
    /// Per field: the unit the bound header names, which unit-less amounts are taken in.
    units: Vec<Option<Unit>>,
    /// The column marking a row as 补报 (back-filled history), when the file has one.
    backfill: Option<usize>,
    /// The day the file is read (Asia/Shanghai): decisions after it are refused. `None` in a
    /// mapping's own tests.
    pub today: Option<chrono::NaiveDate>,
    /// Columns in the header.
    pub width: usize,
    /// Optional columns the file does not have (read as empty).
    pub missing_optional: Vec<String>,
    /// Header columns the mapping does not read.
    pub unused: Vec<String>,
    /// Refuse rows shorter than the header. Workbooks leave trailing empty cells out, so
    /// this is for text files only.
    pub strict_width: bool,
}

#[derive(Debug, Clone)]
enum Bound {
    Cell(usize),
    Cells(Vec<usize>, String),
    Const(String),
    Missing,
}

/// Why a header cannot be used at all: the whole file is refused with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error("no header row found in the first {0} rows")]
    NoHeader(usize),
    #[error("required columns missing: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
}

impl BindError {
    pub fn zh(&self) -> String {
        match self {
            BindError::NoHeader(n) => format!("前 {n} 行中未找到表头，请使用省平台模板的列名"),
            BindError::MissingColumns(cols) => format!("缺少必填列：{}", cols.join("、")),
        }
    }
}

/// What one source row became.
#[derive(Debug)]
pub enum RowOutcome {
    /// Valid: `values` holds the record; warnings may be present in `problems`.
    Accepted,
    /// Filtered out by a catalogue rule (e.g. 简易程序), with the reason.
    Skipped(String),
    /// At least one error in `problems`.
    Rejected,
}

/// Buffers reused across rows so the hot path does not allocate per field.
#[derive(Debug, Default)]
pub struct RowScratch {
    /// The row is marked 补报 (back-filled history) in the file's 补报 column.
    pub backfill: bool,
    pub values: Vec<Option<String>>,
    pub skip: Vec<bool>,
    pub problems: Vec<Problem>,
}

impl Mapping {
    /// A mapping file's spec, checked against the catalogue; its name is the file's stem and
    /// its `[[tests]]` run here, so a mapping that fails them is reported.
    pub fn from_spec(file: &Path, spec: MappingSpec, catalogue: &Catalogue, issues: &mut Issues) -> Option<Mapping> {
        check_version(file, spec.version, issues);
        let name = file.file_stem()?.to_string_lossy().into_owned();
        let Some(item) = catalogue.item(&spec.item).cloned() else {
            issues.push(file, "item", format!("unknown catalogue item {:?}", spec.item));
            return None;
        };
        let before = issues.len();
        for key in spec.fields.keys() {
            if item.field_index(key).is_none() {
                issues.push(file, format!("fields.{key}"), format!("{} has no field {key}", item.code));
            }
        }
        let empty = FieldMapSpec::default();
        let mut fields = Vec::with_capacity(item.fields.len());
        for field in &item.fields {
            let explicit = spec.fields.get(&field.key);
            let fm = explicit.unwrap_or(&empty);
            let at = |k: &str| format!("fields.{}.{k}", field.key);
            let source = match (&fm.column, fm.position, &fm.concat, &fm.constant) {
                (None, None, None, None) if explicit.is_none() && spec.columns == ColumnsDefault::Explicit => {
                    Source::Unmapped
                }
                (None, None, None, None) => {
                    let mut names = vec![normalize_header(&field.name), normalize_header(&field.key)];
                    names.extend(fm.aliases.iter().map(|a| normalize_header(a)));
                    Source::Column(names)
                }
                (Some(col), None, None, None) => {
                    let mut names = vec![normalize_header(col)];
                    names.extend(fm.aliases.iter().map(|a| normalize_header(a)));
                    Source::Column(names)
                }
                (None, Some(pos), None, None) if pos >= 1 => Source::Position(pos - 1),
                (None, Some(_), None, None) => {
                    issues.push(file, at("position"), "expected a 1-based column number");
                    Source::Unmapped
                }
                (None, None, Some(cols), None) if !cols.is_empty() => {
                    Source::Concat(cols.iter().map(|c| normalize_header(c)).collect(), fm.separator.clone())
                }
                (None, None, None, Some(c)) => Source::Const(c.clone()),
                _ => {
                    issues.push(file, at(""), "expected one of column, position, concat or const");
                    Source::Unmapped
                }
            };
            let is_subject_name = item.subject_name.is_some_and(|n| item.fields[n].key == field.key);
            let transforms = match &fm.transforms {
                None if is_subject_name => Transform::name_defaults(),
                None => Transform::defaults(&field.kind),
                Some(names) => names
                    .iter()
                    .filter_map(|n| match Transform::parse(n, &field.kind) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            issues.push(file, at("transforms"), e.to_string());
                            None
                        }
                    })
                    .collect(),
            };
            let transforms = match fm.unit {
                Some(unit) => transforms.into_iter().map(|t| t.assuming(unit)).collect(),
                None => transforms,
            };
            if fm.unit.is_some() && !matches!(field.kind, FieldKind::Decimal { .. }) {
                issues.push(file, at("unit"), "only decimal fields have a unit");
            }
            // The catalogue's own name and key mean the field's unit; other headers say theirs.
            let field_unit = match field.kind {
                FieldKind::Decimal { unit, .. } => unit,
                _ => None,
            };
            let catalogue_names = [normalize_header(&field.name), normalize_header(&field.key)];
            let header_units: Vec<Option<Unit>> = match &source {
                Source::Column(names) if field_unit.is_some() => names
                    .iter()
                    .map(|n| header_unit(n).or_else(|| field_unit.filter(|_| catalogue_names.contains(n))))
                    .collect(),
                _ => Vec::new(),
            };
            let declared = fm.unit.is_some() || transforms.iter().any(|t| t.assumes_unit());
            if let Some(field_unit) = field_unit
                && !declared
            {
                // An amount's unit is never guessed: the header names it, or the mapping does.
                let unnamed: Vec<&String> = match &source {
                    Source::Column(names) => {
                        names.iter().zip(&header_units).filter(|(_, u)| u.is_none()).map(|(n, _)| n).collect()
                    }
                    _ => Vec::new(),
                };
                let positional = matches!(source, Source::Position(_) | Source::Concat(..));
                if positional || !unnamed.is_empty() {
                    let what = if positional {
                        "this column".to_string()
                    } else {
                        unnamed.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                    };
                    let unit = match field_unit {
                        Unit::Yuan => "元",
                        Unit::Wan => "万元",
                    };
                    issues.push(
                        file,
                        at("unit"),
                        format!(
                            "{what} names no unit: declare unit = \"yuan\" (元) or \"wan\" (万元) (the field is in {unit})"
                        ),
                    );
                }
            }
            fields.push(FieldMap {
                header_units,
                source,
                default: fm.default.clone(),
                map: fm.map.iter().map(|(k, v)| (k.trim().to_string(), v.clone())).collect(),
                transforms,
            });
        }
        if fields.iter().all(|f| matches!(f.source, Source::Unmapped)) {
            issues.push(file, "fields", "maps no field: list fields or set columns = \"catalogue\"");
        }
        if issues.len() > before {
            return None;
        }
        let mapping = Mapping {
            name,
            item,
            encoding: spec.encoding,
            sheet: spec.sheet,
            records: spec.records,
            header_row: spec.header_row,
            header_scan_rows: spec.header_scan_rows.max(1),
            publish_minor: spec.publish_minor,
            fields,
            tests: spec.tests,
            catalogue: catalogue.clone(),
        };
        for failure in mapping.run_tests() {
            issues.push(file, "tests", failure);
        }
        Some(mapping)
    }

    /// Picks the header among the first rows: an explicit `header_row`, else the row naming
    /// the most mapped columns (a title row above it names none).
    pub fn find_header<'r>(&self, rows: impl IntoIterator<Item = &'r RawRow>) -> Result<usize, BindError> {
        let mut rows = rows.into_iter();
        if let Some(line) = self.header_row {
            return rows.position(|r| r.line == line).ok_or(BindError::NoHeader(self.header_scan_rows));
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, row) in rows.enumerate().take(self.header_scan_rows) {
            let score = row
                .cells
                .iter()
                .filter(|c| {
                    let name = normalize_header(c);
                    self.fields.iter().any(|f| match &f.source {
                        Source::Column(names) => names.contains(&name),
                        Source::Concat(names, _) => names.contains(&name),
                        _ => false,
                    })
                })
                .count();
            if score > 0 && best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i).ok_or(BindError::NoHeader(self.header_scan_rows))
    }

    /// Binds every field to its cells in this header.
    pub fn bind(&self, header: &RawRow) -> Result<Binding, BindError> {
        let names: Vec<String> = header.cells.iter().map(|c| normalize_header(c)).collect();
        let find = |wanted: &str| names.iter().position(|n| n == wanted);
        let mut used = vec![false; names.len()];
        let mut missing_required = Vec::new();
        let mut missing_optional = Vec::new();
        let mut sources = Vec::with_capacity(self.fields.len());
        let mut units = Vec::with_capacity(self.fields.len());
        for (fm, field) in self.fields.iter().zip(&self.item.fields) {
            let mut unit = None;
            let bound = match &fm.source {
                Source::Unmapped => Bound::Missing,
                Source::Const(c) => Bound::Const(c.clone()),
                Source::Position(p) => Bound::Cell(*p),
                Source::Column(candidates) => {
                    match candidates.iter().enumerate().find_map(|(j, c)| Some((j, find(c)?))) {
                        Some((j, idx)) => {
                            unit = fm.header_units.get(j).copied().flatten();
                            Bound::Cell(idx)
                        }
                        None => {
                            if matches!(field.required, crate::catalogue::Requirement::Always) && fm.default.is_none() {
                                missing_required.push(field.name.clone());
                            } else {
                                missing_optional.push(field.name.clone());
                            }
                            Bound::Missing
                        }
                    }
                }
                Source::Concat(cols, sep) => {
                    let idx: Vec<usize> = cols.iter().filter_map(|c| find(c)).collect();
                    if idx.len() < cols.len() {
                        missing_required.push(field.name.clone());
                    }
                    Bound::Cells(idx, sep.clone())
                }
            };
            match &bound {
                Bound::Cell(i) if *i < used.len() => used[*i] = true,
                Bound::Cells(list, _) => list.iter().for_each(|i| used[*i] = true),
                _ => {}
            }
            sources.push(bound);
            units.push(unit);
        }
        if !missing_required.is_empty() {
            return Err(BindError::MissingColumns(missing_required));
        }
        let backfill = names.iter().position(|n| BACKFILL_HEADERS.contains(&n.as_str()));
        if let Some(i) = backfill {
            used[i] = true;
        }
        let unused = header
            .cells
            .iter()
            .zip(&used)
            .filter(|(c, u)| !**u && !c.trim().is_empty())
            .map(|(c, _)| c.clone())
            .collect();
        Ok(Binding {
            sources,
            units,
            backfill,
            today: None,
            width: header.cells.len(),
            missing_optional,
            unused,
            strict_width: true,
        })
    }

    /// The header columns a field is read from (none for a constant or a missing column):
    /// `bench compare` gives its peers' table the business key's columns as its unique key.
    pub fn columns_of(&self, binding: &Binding, field: usize) -> Vec<usize> {
        match binding.sources.get(field) {
            Some(Bound::Cell(i)) => vec![*i],
            Some(Bound::Cells(list, _)) => list.clone(),
            _ => Vec::new(),
        }
    }

    /// Maps and validates one row into `scratch`.
    pub fn map_row(&self, binding: &Binding, row: &RawRow, scratch: &mut RowScratch) -> RowOutcome {
        let n = self.fields.len();
        scratch.values.clear();
        scratch.values.resize(n, None);
        scratch.skip.clear();
        scratch.skip.resize(n, false);
        scratch.problems.clear();
        scratch.backfill = binding.backfill.and_then(|i| row.cells.get(i)).is_some_and(|c| is_yes(c));

        if let Some(p) = ragged(binding.width, binding.strict_width, &row.cells) {
            scratch.problems.push(p);
            return RowOutcome::Rejected;
        }
        for (i, (fm, bound)) in self.fields.iter().zip(&binding.sources).enumerate() {
            let raw: Cow<'_, str> = match bound {
                Bound::Missing => Cow::Borrowed(""),
                Bound::Const(c) => Cow::Borrowed(c.as_str()),
                Bound::Cell(idx) => Cow::Borrowed(row.cells.get(*idx).map_or("", String::as_str)),
                Bound::Cells(list, sep) => {
                    let parts: Vec<&str> = list
                        .iter()
                        .filter_map(|i| row.cells.get(*i).map(|s| s.trim()))
                        .filter(|s| !s.is_empty())
                        .collect();
                    Cow::Owned(parts.join(sep))
                }
            };
            match self.field_value(i, fm, binding.units.get(i).copied().flatten(), &raw) {
                Ok(v) => scratch.values[i] = v,
                Err(p) => {
                    scratch.problems.push(p);
                    scratch.skip[i] = true;
                }
            }
        }
        for filter in &self.item.filters {
            if let Some(v) = scratch.values[filter.field].as_deref()
                && filter.equals.iter().any(|e| e == v)
            {
                return RowOutcome::Skipped(filter.reason.clone());
            }
        }
        validate(&self.catalogue, &self.item, &scratch.values, &scratch.skip, &mut scratch.problems);
        checks::check_row(&self.catalogue, &self.item, &scratch.values, binding.today, &mut scratch.problems);
        if scratch.problems.iter().any(|p| p.severity == crate::problem::Severity::Error) {
            RowOutcome::Rejected
        } else {
            RowOutcome::Accepted
        }
    }

    fn field_value(&self, i: usize, fm: &FieldMap, unit: Option<Unit>, raw: &str) -> Result<Option<String>, Problem> {
        let trimmed = raw.trim();
        let start: &str = if trimmed.is_empty() {
            match &fm.default {
                Some(d) => d,
                None => return Ok(None),
            }
        } else {
            fm.map.get(trimmed).map_or(trimmed, String::as_str)
        };
        let field = &self.item.fields[i];
        let mut value: Cow<'_, str> = Cow::Borrowed(start);
        for t in &fm.transforms {
            // The unit the file's header names wins over the mapping's.
            let t = match unit {
                Some(u) => t.assuming(u),
                None => *t,
            };
            value = t.apply(value, field).map_err(|reason| Problem::error(Some(i), t.problem_code(), reason))?;
            if value.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(value.into_owned()))
    }

    /// The raw text a field was read from, for the department's error report.
    pub fn raw_value<'r>(&self, binding: &Binding, row: &'r RawRow, field: usize) -> Cow<'r, str> {
        match binding.sources.get(field) {
            Some(Bound::Cell(idx)) => Cow::Borrowed(row.cells.get(*idx).map_or("", String::as_str)),
            Some(Bound::Cells(list, sep)) => Cow::Owned(
                list.iter().filter_map(|i| row.cells.get(*i).map(String::as_str)).collect::<Vec<_>>().join(sep),
            ),
            Some(Bound::Const(c)) => Cow::Owned(c.clone()),
            _ => Cow::Borrowed(""),
        }
    }

    /// Runs the mapping's own `[[tests]]`; returns one message per failure.
    pub fn run_tests(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for (n, test) in self.tests.iter().enumerate() {
            let header = RawRow { line: 1, cells: test.row.keys().cloned().collect() };
            let row = RawRow { line: 2, cells: test.row.values().cloned().collect() };
            let binding = match self.bind(&header) {
                Ok(b) => b,
                Err(e) => {
                    failures.push(format!("test {}: {e}", n + 1));
                    continue;
                }
            };
            let mut scratch = RowScratch::default();
            let outcome = self.map_row(&binding, &row, &mut scratch);
            let got: Vec<String> = scratch
                .problems
                .iter()
                .map(|p| {
                    let field = p.field.map_or("row", |f| self.item.fields[f].key.as_str());
                    format!("{field}:{}", p.code.as_str())
                })
                .collect();
            match (&outcome, test.skipped) {
                (RowOutcome::Skipped(_), true) => continue,
                (RowOutcome::Skipped(r), false) => {
                    failures.push(format!("test {}: row was skipped ({r})", n + 1));
                    continue;
                }
                (_, true) => failures.push(format!("test {}: expected the row to be skipped", n + 1)),
                _ => {}
            }
            let mut want = test.problems.clone();
            want.sort();
            let mut got_sorted = got.clone();
            got_sorted.sort();
            if want != got_sorted {
                failures.push(format!("test {}: expected problems {want:?}, got {got:?}", n + 1));
            }
            for (key, expected) in &test.expect {
                let Some(idx) = self.item.field_index(key) else {
                    failures.push(format!("test {}: unknown field {key}", n + 1));
                    continue;
                };
                let actual = scratch.values[idx].as_deref().unwrap_or("");
                if actual != expected {
                    failures.push(format!("test {}: {key}: expected {expected:?}, got {actual:?}", n + 1));
                }
            }
        }
        failures
    }

    /// Field key → value of a mapped row, for tests and tools.
    pub fn values_by_key(&self, values: &[Option<String>]) -> BTreeMap<String, String> {
        self.item
            .fields
            .iter()
            .zip(values)
            .filter_map(|(f, v)| v.as_ref().map(|v| (f.key.clone(), v.clone())))
            .collect()
    }
}

/// Header text compared loosely: full-width forms, spaces and a trailing `*` (required
/// marker in many templates) do not matter.
pub fn normalize_header(s: &str) -> String {
    let n = normalize_text(s);
    n.trim_end_matches('*').trim_start_matches('*').chars().filter(|c| !c.is_whitespace()).collect()
}

/// Headers of the column a department marks 补报 (back-filled history) rows in.
const BACKFILL_HEADERS: [&str; 3] = ["补报", "是否补报", "补报标记"];

/// A 补报 cell that says yes.
fn is_yes(cell: &str) -> bool {
    matches!(cell.trim(), "是" | "补报" | "1" | "Y" | "y" | "yes" | "YES" | "true" | "TRUE" | "√")
}

/// The unit a (normalised) header names: `罚款金额(万元)` → 万元, `欠费金额(元)` → 元.
fn header_unit(name: &str) -> Option<Unit> {
    if name.contains("万元") || name.ends_with("(万)") {
        Some(Unit::Wan)
    } else if name.contains('元') {
        Some(Unit::Yuan)
    } else {
        None
    }
}

/// A row whose cells do not line up with the header would put values in the wrong fields.
fn ragged(width: usize, strict: bool, cells: &[String]) -> Option<Problem> {
    let found = cells.len();
    let extra_filled = cells.iter().skip(width).any(|c| !c.trim().is_empty());
    if (strict && found < width) || extra_filled {
        let found = if extra_filled {
            cells.iter().rposition(|c| !c.trim().is_empty()).map_or(found, |p| p + 1)
        } else {
            found
        };
        return Some(Problem::error(
            None,
            ProblemCode::RaggedRow,
            format!("本行有 {found} 列，表头有 {width} 列，列数不一致"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(file: &str, text: &str) -> (Option<Mapping>, Vec<String>) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let mut issues = Issues::default();
        let mapping = Mapping::from_spec(Path::new(file), toml::from_str(text).unwrap(), &catalogue, &mut issues);
        (mapping, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_shipped_mapping_is_built_from_its_spec_and_passes_its_tests() {
        let (mapping, issues) =
            build("mappings/market-penalties.toml", include_str!("../../mappings/market-penalties.toml"));
        assert!(issues.is_empty(), "{issues:?}");
        let mapping = mapping.unwrap();
        assert_eq!(mapping.name, "market-penalties");
        assert_eq!(mapping.item.code, "CF");
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let (mapping, issues) = build("bad.toml", "version = 1\nitem = \"CF\"\n[fields.CF_NOPE]\ncolumn = \"x\"\n");
        assert!(mapping.is_none());
        assert!(issues.contains(&"bad.toml: fields.CF_NOPE: CF has no field CF_NOPE".to_string()), "{issues:?}");
        let (_, issues) = build("bad.toml", "version = 1\nitem = \"ZZ\"\n");
        assert_eq!(issues, ["bad.toml: item: unknown catalogue item \"ZZ\""]);
    }
}
