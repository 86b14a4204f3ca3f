//! The provincial public credit catalogue (公共信用信息目录): items, fields, code tables.
//!
//! Loaded from `config/catalogue/*.toml` and `config/code-tables.toml`, validated into
//! index-based types so the hot path never looks a field up by name.

pub mod spec;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::issues::{Issues, check_version};
use crate::transform::normalize_text;
use spec::{CodeTablesSpec, ConditionSpec, FieldSpec, FieldType, ItemSpec};
pub use spec::{StoreAs, UnitSpec as Unit};

/// A code table: accepts the code, the text or a synonym; stores one canonical form.
#[derive(Debug)]
pub struct CodeTable {
    pub id: String,
    pub name: String,
    pub store: StoreAs,
    pub entries: Vec<CodeEntry>,
    lookup: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub code: Option<String>,
    pub text: String,
}

impl CodeTable {
    /// The stored form of `input` (already normalised), if the table knows it.
    pub fn canonical(&self, input: &str) -> Option<&str> {
        let idx = self.lookup.get(input).copied().or_else(|| {
            // Excel drops leading zeros from codes typed as numbers: 2 → 02.
            let trimmed = input.trim_start_matches('0');
            if !trimmed.is_empty() && trimmed.len() < input.len() || input.bytes().all(|b| b.is_ascii_digit()) {
                self.lookup.get(&format!("#{trimmed}")).copied()
            } else {
                None
            }
        })?;
        Some(self.stored(idx))
    }

    fn stored(&self, idx: usize) -> &str {
        let entry = &self.entries[idx];
        match (self.store, &entry.code) {
            (StoreAs::Code, Some(code)) => code,
            _ => &entry.text,
        }
    }

    /// Whether `value` is already in the stored form.
    pub fn is_stored_form(&self, value: &str) -> bool {
        (0..self.entries.len()).any(|i| self.stored(i) == value)
    }

    /// `02 罚款` for messages: both forms, whatever is stored.
    pub fn describe(&self, stored: &str) -> String {
        self.entries
            .iter()
            .find(|e| e.text == stored || e.code.as_deref() == Some(stored))
            .map(|e| match &e.code {
                Some(code) => format!("{code} {}", e.text),
                None => e.text.clone(),
            })
            .unwrap_or_else(|| stored.to_string())
    }

    /// The accepted values, for an error message: `01 警告、02 罚款…`.
    pub fn listing(&self) -> String {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| match &e.code {
                Some(code) => format!("{code} {}", e.text),
                None => e.text.clone(),
            })
            .collect();
        parts.join("、")
    }
}

/// How a field is checked, with its type's own settings.
#[derive(Debug, Clone)]
pub enum FieldKind {
    Text,
    Date {
        /// 长期 is accepted and stored as 2099-12-31.
        open_ended: bool,
        not_before: Option<usize>,
    },
    Decimal {
        scale: u32,
        min: Option<Decimal>,
        max: Option<Decimal>,
        unit: Option<Unit>,
        /// Above this the amount is warned as implausible.
        plausible_max: Option<Decimal>,
        /// Where the decision's text states the amount, for the unit cross-check.
        stated_in: Option<StatedIn>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Code {
        table: Arc<CodeTable>,
        multiple: bool,
    },
    CreditCode {
        placeholder: bool,
    },
    OrgCode,
    IdDocument {
        id_type: IdTypeSource,
    },
}

/// A text field that states an amount after one of `after` (处罚内容 “罚款人民币2000元”).
#[derive(Debug, Clone)]
pub struct StatedIn {
    pub field: usize,
    pub after: Vec<String>,
}

/// Where an ID document's type comes from: another field, or fixed by the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTypeSource {
    Field(usize),
    Fixed(String),
}

/// The code of 身份证 in the 证件类型 table: only these numbers have check digits.
pub const RESIDENT_ID_TYPE: &str = "01";

#[derive(Debug, Clone)]
pub enum Requirement {
    Optional,
    Always,
    When(Condition),
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub field: usize,
    pub test: ConditionTest,
}

#[derive(Debug, Clone)]
pub enum ConditionTest {
    Equals(Vec<String>),
    NotEquals(Vec<String>),
    Contains(Vec<String>),
    Empty,
    NotEmpty,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The national key, e.g. `CF_XDR_MC`.
    pub key: String,
    /// The 中文 name clerks read, e.g. 行政相对人名称.
    pub name: String,
    pub kind: FieldKind,
    pub required: Requirement,
    /// In characters, not bytes.
    pub max_len: Option<usize>,
    pub report: bool,
    /// Personal data: masked in logs, reports and the UI.
    pub personal: bool,
}

/// Rows whose field has one of these stored values are not reported (e.g. 简易程序).
#[derive(Debug, Clone)]
pub struct Filter {
    pub field: usize,
    pub equals: Vec<String>,
    pub reason: String,
}

/// One dataset of the catalogue (行政处罚信息, 欠税信息, …).
#[derive(Debug, Clone)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub dual_publicity: bool,
    /// Each part lists alternatives; the first non-empty one counts.
    pub key: Vec<Vec<usize>>,
    pub decision_date: usize,
    /// The key fields naming the decision whatever its subject (empty: the item has none).
    pub decision_key: Vec<usize>,
    pub authority_code: Option<usize>,
    pub subject_name: Option<usize>,
    pub subject_code: Option<usize>,
    /// The 行政相对人类别 field, checked against `subject_code`'s prefix.
    pub subject_kind: Option<usize>,
    pub filters: Vec<Filter>,
    pub fields: Vec<Field>,
    index: HashMap<String, usize>,
}

impl Item {
    pub fn field_index(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    items: Vec<Arc<Item>>,
    tables: HashMap<String, Arc<CodeTable>>,
    credit_code_exceptions: Arc<HashSet<String>>,
    /// Credit-code prefix → the subject kind it implies (longest prefix first).
    subject_kind_by_code: Arc<Vec<(String, String)>>,
}

impl Catalogue {
    pub fn item(&self, code: &str) -> Option<&Arc<Item>> {
        self.items.iter().find(|i| i.code == code)
    }

    pub fn items(&self) -> &[Arc<Item>] {
        &self.items
    }

    pub fn table(&self, id: &str) -> Option<&Arc<CodeTable>> {
        self.tables.get(id)
    }

    pub fn is_credit_code_exception(&self, code: &str) -> bool {
        self.credit_code_exceptions.contains(code)
    }

    /// The subject kind a credit code implies, when the configured table knows its prefix.
    pub fn subject_kind_of_code(&self, code: &str) -> Option<&str> {
        self.subject_kind_by_code.iter().find(|(p, _)| code.starts_with(p.as_str())).map(|(_, k)| k.as_str())
    }

    /// A catalogue without items yet: its code tables (`None` when `code-tables.toml` could not
    /// be read) and the credit codes accepted despite a wrong check character.
    pub fn from_spec(
        tables_file: &Path,
        tables: Option<CodeTablesSpec>,
        credit_code_exceptions: &[String],
        issues: &mut Issues,
    ) -> Catalogue {
        let by_code = tables.as_ref().and_then(|t| t.subject_kind_by_code.as_ref()).map(|spec| {
            let mut prefixes: Vec<(String, String)> =
                spec.prefixes.iter().map(|(p, k)| (p.trim().to_ascii_uppercase(), k.trim().to_string())).collect();
            if spec.regulation.trim().is_empty() {
                issues.push(
                    tables_file,
                    "subject_kind_by_code.regulation",
                    "expected the regulation the table follows",
                );
            }
            for (p, _) in &prefixes {
                if p.is_empty() || p.len() > 2 {
                    issues.push(
                        tables_file,
                        format!("subject_kind_by_code.prefixes.{p}"),
                        "expected 1 or 2 characters",
                    );
                }
            }
            // The longest prefix wins: `92` before `9`.
            prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            prefixes
        });
        let tables = tables.map(|spec| compile_tables(tables_file, spec, issues)).unwrap_or_default();
        if let (Some(prefixes), Some(kinds)) = (&by_code, tables.get("subject_kind")) {
            for (p, k) in prefixes {
                if !kinds.is_stored_form(k) {
                    issues.push(
                        tables_file,
                        format!("subject_kind_by_code.prefixes.{p}"),
                        format!("{k:?} is not in the subject_kind table"),
                    );
                }
            }
        }
        Catalogue {
            items: Vec::new(),
            subject_kind_by_code: Arc::new(by_code.unwrap_or_default()),
            tables,
            credit_code_exceptions: Arc::new(
                credit_code_exceptions.iter().map(|c| c.trim().to_ascii_uppercase()).collect(),
            ),
        }
    }

    /// Compiles one item file against the code tables; an item defined twice is refused.
    pub fn add_item(&mut self, file: &Path, spec: ItemSpec, issues: &mut Issues) {
        if let Some(item) = compile_item(file, spec, &self.tables, issues) {
            if self.items.iter().any(|i| i.code == item.code) {
                issues.push(file, "code", format!("item {} is defined twice", item.code));
            } else {
                self.items.push(Arc::new(item));
            }
        }
    }
}

fn compile_tables(file: &Path, spec: CodeTablesSpec, issues: &mut Issues) -> HashMap<String, Arc<CodeTable>> {
    check_version(file, spec.version, issues);
    let mut tables = HashMap::new();
    for (id, t) in spec.tables {
        let mut lookup = HashMap::new();
        let mut entries = Vec::new();
        for (i, e) in t.entries.into_iter().enumerate() {
            if t.store == StoreAs::Code && e.code.is_none() {
                issues.push(file, format!("tables.{id}.entries[{i}].code"), "expected a code: the table stores codes");
            }
            let mut forms: Vec<String> = vec![e.text.clone()];
            forms.extend(e.synonyms.iter().cloned());
            if let Some(code) = &e.code {
                forms.push(code.clone());
                // Remember the code without leading zeros for cells Excel turned into numbers.
                forms.push(format!("#{}", code.trim_start_matches('0')));
            }
            for form in forms {
                let form = normalize_text(&form).into_owned();
                if let Some(prev) = lookup.insert(form.clone(), i)
                    && prev != i
                {
                    issues.push(file, format!("tables.{id}"), format!("{form:?} means two different entries"));
                }
            }
            entries.push(CodeEntry { code: e.code, text: e.text });
        }
        tables.insert(id.clone(), Arc::new(CodeTable { id, name: t.name, store: t.store, entries, lookup }));
    }
    tables
}

fn compile_item(
    file: &Path,
    spec: ItemSpec,
    tables: &HashMap<String, Arc<CodeTable>>,
    issues: &mut Issues,
) -> Option<Item> {
    check_version(file, spec.version, issues);
    let before = issues.len();
    let mut index = HashMap::new();
    for (i, f) in spec.fields.iter().enumerate() {
        if index.insert(f.key.clone(), i).is_some() {
            issues.push(file, format!("fields[{i}].key"), format!("duplicate field {}", f.key));
        }
    }
    let lookup = |key: &str, at: String, issues: &mut Issues| -> Option<usize> {
        let found = index.get(key).copied();
        if found.is_none() {
            issues.push(file, at, format!("unknown field {key:?}"));
        }
        found
    };

    let mut fields = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        let at = |k: &str| format!("fields.{}.{k}", f.key);
        fields.push(compile_field(file, f, &at, tables, &lookup, issues));
    }
    let fields: Vec<Field> = fields.into_iter().flatten().collect();

    let key: Vec<Vec<usize>> = spec
        .key
        .iter()
        .enumerate()
        .map(|(i, part)| part.split('|').filter_map(|k| lookup(k.trim(), format!("key[{i}]"), issues)).collect())
        .collect();
    if key.is_empty() {
        issues.push(file, "key", "expected at least one key field");
    }
    let decision_date = lookup(&spec.decision_date, "decision_date".into(), issues);
    let decision_key: Vec<usize> = spec
        .decision_key
        .iter()
        .enumerate()
        .filter_map(|(i, k)| lookup(k, format!("decision_key[{i}]"), issues))
        .collect();
    let optional =
        |k: &Option<String>, at: &str, issues: &mut Issues| k.as_ref().and_then(|k| lookup(k, at.into(), issues));
    let authority_code = optional(&spec.authority_code, "authority_code", issues);
    let subject_name = optional(&spec.subject_name, "subject_name", issues);
    let subject_code = optional(&spec.subject_code, "subject_code", issues);
    let subject_kind = optional(&spec.subject_kind, "subject_kind", issues);
    let filters = spec
        .filters
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let field = lookup(&f.field, format!("filters[{i}].field"), issues)?;
            Some(Filter { field, equals: f.equals.clone(), reason: f.reason.clone() })
        })
        .collect();

    if issues.len() > before || fields.len() != spec.fields.len() {
        return None;
    }
    let decision_date = decision_date?;
    if !matches!(fields[decision_date].kind, FieldKind::Date { .. }) {
        issues.push(file, "decision_date", "expected a date field");
        return None;
    }
    // The decision's records are found by their business key's first part (store::decisions).
    if let Some(&first) = decision_key.first()
        && (key.len() < 2 || key[0] != [first])
    {
        issues.push(
            file,
            "decision_key[0]",
            format!(
                "{} must be the key's first part, alone, and the key must name the subject after it",
                spec.decision_key[0]
            ),
        );
        return None;
    }
    for (i, &f) in decision_key.iter().enumerate() {
        let in_key = key.iter().any(|part| part.contains(&f));
        if !in_key || Some(f) == subject_code || Some(f) == subject_name {
            issues.push(
                file,
                format!("decision_key[{i}]"),
                format!("{} must be a key field that does not name the subject", spec.decision_key[i]),
            );
            return None;
        }
    }
    let item = Item {
        code: spec.code,
        name: spec.name,
        dual_publicity: spec.dual_publicity,
        key,
        decision_date,
        decision_key,
        authority_code,
        subject_name,
        subject_code,
        subject_kind,
        filters,
        fields,
        index,
    };
    check_condition_values(file, &item, issues);
    Some(item)
}

fn compile_field(
    file: &Path,
    f: &FieldSpec,
    at: &dyn Fn(&str) -> String,
    tables: &HashMap<String, Arc<CodeTable>>,
    lookup: &dyn Fn(&str, String, &mut Issues) -> Option<usize>,
    issues: &mut Issues,
) -> Option<Field> {
    let before = issues.len();
    let decimal = |v: &Option<toml::Value>, k: &str, issues: &mut Issues| -> Option<Decimal> {
        let v = v.as_ref()?;
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(x) => x.to_string(),
            _ => String::new(),
        };
        let parsed = text.parse::<Decimal>().ok();
        if parsed.is_none() {
            issues.push(file, at(k), "expected a number");
        }
        parsed
    };
    let integer = |v: &Option<toml::Value>| v.as_ref().and_then(|v| v.as_integer());
    let kind = match f.kind {
        FieldType::Text => FieldKind::Text,
        FieldType::Date => FieldKind::Date {
            open_ended: f.open_ended,
            not_before: f.not_before.as_ref().and_then(|k| lookup(k, at("not_before"), issues)),
        },
        FieldType::Decimal => FieldKind::Decimal {
            scale: f.scale.unwrap_or(6),
            min: decimal(&f.min, "min", issues),
            max: decimal(&f.max, "max", issues),
            unit: f.unit,
            plausible_max: decimal(&f.plausible_max, "plausible_max", issues),
            stated_in: f.stated_in.as_ref().and_then(|s| {
                let field = lookup(&s.field, at("stated_in.field"), issues)?;
                if s.after.iter().all(|w| w.trim().is_empty()) {
                    issues.push(file, at("stated_in.after"), "expected the words the amount follows");
                }
                Some(StatedIn { field, after: s.after.clone() })
            }),
        },
        FieldType::Integer => FieldKind::Integer { min: integer(&f.min), max: integer(&f.max) },
        FieldType::Code => {
            let Some(table_id) = &f.table else {
                issues.push(file, at("table"), "expected the code table of this field");
                return None;
            };
            let Some(table) = tables.get(table_id) else {
                issues.push(file, at("table"), format!("unknown code table {table_id:?}"));
                return None;
            };
            FieldKind::Code { table: table.clone(), multiple: f.multiple }
        }
        FieldType::CreditCode => FieldKind::CreditCode { placeholder: f.placeholder },
        FieldType::OrgCode => FieldKind::OrgCode,
        FieldType::IdDocument => {
            let id_type = match (&f.id_type_field, &f.id_type) {
                (Some(k), None) => IdTypeSource::Field(lookup(k, at("id_type_field"), issues)?),
                (None, Some(t)) => IdTypeSource::Fixed(t.clone()),
                _ => {
                    issues.push(file, at("id_type"), "expected exactly one of id_type_field and id_type");
                    return None;
                }
            };
            FieldKind::IdDocument { id_type }
        }
    };
    let required = match (&f.required, &f.required_when) {
        (true, None) => Requirement::Always,
        (false, None) => Requirement::Optional,
        (false, Some(c)) => Requirement::When(compile_condition(file, c, at, lookup, issues)?),
        (true, Some(_)) => {
            issues.push(file, at("required_when"), "a field is either required or required_when, not both");
            return None;
        }
    };
    if issues.len() != before {
        return None;
    }
    Some(Field {
        key: f.key.clone(),
        name: f.name.clone(),
        personal: matches!(kind, FieldKind::IdDocument { .. }),
        kind,
        required,
        max_len: f.max_len,
        report: f.report,
    })
}

fn compile_condition(
    file: &Path,
    c: &ConditionSpec,
    at: &dyn Fn(&str) -> String,
    lookup: &dyn Fn(&str, String, &mut Issues) -> Option<usize>,
    issues: &mut Issues,
) -> Option<Condition> {
    let field = lookup(&c.field, at("required_when.field"), issues)?;
    let tests: Vec<ConditionTest> = [
        c.equals.clone().map(ConditionTest::Equals),
        c.not_equals.clone().map(ConditionTest::NotEquals),
        c.contains.clone().map(ConditionTest::Contains),
        c.empty.filter(|e| *e).map(|_| ConditionTest::Empty),
        c.not_empty.filter(|e| *e).map(|_| ConditionTest::NotEmpty),
    ]
    .into_iter()
    .flatten()
    .collect();
    if tests.len() != 1 {
        issues.push(
            file,
            at("required_when"),
            "expected exactly one of equals, not_equals, contains, empty = true, not_empty = true",
        );
        return None;
    }
    Some(Condition { field, test: tests.into_iter().next().expect("one test, checked above") })
}

/// Condition and filter values must be stored forms, or the rule would never fire.
fn check_condition_values(file: &Path, item: &Item, issues: &mut Issues) {
    let check = |field: usize, values: &[String], at: String, issues: &mut Issues| {
        if let FieldKind::Code { table, .. } = &item.fields[field].kind {
            for v in values {
                if !table.is_stored_form(v) && v != crate::ids::CREDIT_CODE_PLACEHOLDER {
                    issues.push(
                        file,
                        at.clone(),
                        format!("{v:?} is not a stored value of code table {} ({})", table.id, table.listing()),
                    );
                }
            }
        }
    };
    for f in &item.fields {
        if let Requirement::When(c) = &f.required {
            if let ConditionTest::Equals(v) | ConditionTest::NotEquals(v) | ConditionTest::Contains(v) = &c.test {
                check(c.field, v, format!("fields.{}.required_when", f.key), issues);
            }
        }
    }
    for (i, flt) in item.filters.iter().enumerate() {
        check(flt.field, &flt.equals, format!("filters[{i}].equals"), issues);
    }
}

/// The shipped catalogue built from its files' text, for the unit tests of the modules that
/// need one (no file is read at run time).
#[cfg(test)]
pub(crate) fn shipped_for_tests() -> Catalogue {
    let mut issues = Issues::default();
    let tables = toml::from_str(include_str!("../../config/code-tables.toml")).expect("code-tables.toml parses");
    let mut catalogue = Catalogue::from_spec(Path::new("config/code-tables.toml"), Some(tables), &[], &mut issues);
    for (name, text) in [
        ("cf.toml", include_str!("../../config/catalogue/cf.toml")),
        ("commitment.toml", include_str!("../../config/catalogue/commitment.toml")),
        ("court_dishonest.toml", include_str!("../../config/catalogue/court_dishonest.toml")),
        ("court_judgments.toml", include_str!("../../config/catalogue/court_judgments.toml")),
        ("grading_result.toml", include_str!("../../config/catalogue/grading_result.toml")),
        ("market_abnormal.toml", include_str!("../../config/catalogue/market_abnormal.toml")),
        ("market_serious.toml", include_str!("../../config/catalogue/market_serious.toml")),
        ("supervision_items.toml", include_str!("../../config/catalogue/supervision_items.toml")),
        ("tax_a_grade.toml", include_str!("../../config/catalogue/tax_a_grade.toml")),
        ("tax_arrears.toml", include_str!("../../config/catalogue/tax_arrears.toml")),
        ("utility_arrears.toml", include_str!("../../config/catalogue/utility_arrears.toml")),
        ("xk.toml", include_str!("../../config/catalogue/xk.toml")),
    ] {
        let spec = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        catalogue.add_item(&Path::new("config/catalogue").join(name), spec, &mut issues);
    }
    assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
    catalogue
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: &str = r#"
version = 1
[tables.measure]
name = "处罚类别"
store = "code"
entries = [{ code = "01", text = "警告" }, { code = "02", text = "罚款", synonyms = ["罚金"] }]
"#;

    const ITEM: &str = r#"
version = 1
code = "T"
name = "测试事项"
key = ["T_WSH"]
decision_date = "T_JDRQ"
[[fields]]
key = "T_WSH"
name = "文书号"
type = "text"
required = true
[[fields]]
key = "T_JDRQ"
name = "决定日期"
type = "date"
required = true
[[fields]]
key = "T_LB"
name = "类别"
type = "code"
table = "measure"
"#;

    fn build(items: &[&str]) -> (Catalogue, Vec<String>) {
        let mut issues = Issues::default();
        let file = Path::new("code-tables.toml");
        let mut catalogue = Catalogue::from_spec(file, Some(toml::from_str(TABLES).unwrap()), &[], &mut issues);
        for (i, text) in items.iter().enumerate() {
            catalogue.add_item(Path::new(&format!("item{i}.toml")), toml::from_str(text).unwrap(), &mut issues);
        }
        (catalogue, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_catalogue_is_built_from_its_specs() {
        let (catalogue, issues) = build(&[ITEM]);
        assert!(issues.is_empty(), "{issues:?}");
        let item = catalogue.item("T").unwrap();
        assert_eq!(item.key, vec![vec![0]]);
        assert_eq!(item.decision_date, 1);
        assert_eq!(catalogue.table("measure").unwrap().canonical("罚金"), Some("02"));
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let bad = ITEM.replace("table = \"measure\"", "table = \"colour\"");
        let (catalogue, issues) = build(&[ITEM, ITEM, &bad.replace("code = \"T\"", "code = \"U\"")]);
        assert!(catalogue.item("U").is_none());
        assert!(issues.contains(&"item1.toml: code: item T is defined twice".to_string()), "{issues:?}");
        assert!(
            issues.iter().any(|i| i.starts_with("item2.toml: ") && i.contains("unknown code table \"colour\"")),
            "{issues:?}"
        );
    }

    #[test]
    fn a_decision_key_names_key_fields_only() {
        // T_LB stands for the subject here: the key names it after the document number.
        let with = |d: &str| {
            ITEM.replace("key = [\"T_WSH\"]", "key = [\"T_WSH\", \"T_LB\", \"T_JDRQ\"]")
                .replace("decision_date = \"T_JDRQ\"", &format!("decision_date = \"T_JDRQ\"\ndecision_key = {d}"))
        };
        let (catalogue, issues) = build(&[&with(r#"["T_WSH", "T_JDRQ"]"#)]);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(catalogue.item("T").unwrap().decision_key, vec![0, 1]);
        let (_, issues) = build(&[&with(r#"["T_JDRQ", "T_WSH"]"#)]);
        assert!(issues.iter().any(|i| i.contains("decision_key[0]") && i.contains("first part")), "{issues:?}");
        let (_, issues) = build(&[&with(r#"["T_XX"]"#)]);
        assert!(issues.iter().any(|i| i.contains("decision_key[0]") && i.contains("unknown field")), "{issues:?}");
        // With the key's only part as its decision, a decision could never have two records.
        let (_, issues) = build(&[
            &ITEM.replace("decision_date = \"T_JDRQ\"", "decision_date = \"T_JDRQ\"\ndecision_key = [\"T_WSH\"]")
        ]);
        assert!(issues.iter().any(|i| i.contains("decision_key[0]")), "{issues:?}");
    }

    #[test]
    fn the_shipped_catalogue_builds() {
        assert!(shipped_for_tests().item("CF").is_some());
    }

    #[test]
    fn the_shipped_code_prefixes_follow_gb_32100() {
        // SPEC §3: 91 enterprise, 93 farmers' cooperative, 1x 机构编制, 51–53 民政 → 法人及非法人组织;
        // 92 → 个体工商户.
        let catalogue = shipped_for_tests();
        let org = "法人及非法人组织";
        for (code, kind) in [
            ("91340600MA2PBM9HXD", Some(org)),
            ("92340602MA2PBMEM24", Some("个体工商户")),
            ("93340600MA2PBM9HXD", Some(org)),
            ("121200004013590816", Some(org)),
            ("11230500001755309F", Some(org)),
            ("51340600MJ0000000X", Some(org)),
            ("52340600MJ0000000X", Some(org)),
            ("53340600MJ0000000X", Some(org)),
            ("Y1340600MA2PBM9HXD", None),
        ] {
            assert_eq!(catalogue.subject_kind_of_code(code), kind, "{code}");
        }
        let text: toml::Value = toml::from_str(include_str!("../../config/code-tables.toml")).unwrap();
        assert!(text["subject_kind_by_code"]["regulation"].as_str().unwrap().contains("GB 32100-2015"));
    }

    #[test]
    fn revoking_a_business_licence_keeps_its_own_code() {
        // 吊销营业执照 is not 05 吊销许可证: the grading rules tell them apart (seed 003).
        let table = shipped_for_tests().table("penalty_kind").unwrap().clone();
        assert_eq!(table.canonical("吊销许可证"), Some("05"));
        assert_ne!(table.canonical("吊销营业执照"), Some("05"));
        assert_eq!(table.describe(table.canonical("吊销营业执照").unwrap()), "15 吊销营业执照");
    }
}
