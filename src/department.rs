//! The departments that provide data (`config/departments.toml`).

use std::path::Path;

use serde::Deserialize;

use crate::issues::{Issues, check_version};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentsSpec {
    version: u32,
    #[serde(default)]
    departments: Vec<DepartmentSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentSpec {
    id: String,
    name: String,
}

/// A data provider: 税务, 水务, 法院, 市场监管, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Short ASCII id used in files, URLs and roles (`market`).
    pub id: String,
    /// The name clerks know (`市场监督管理局`).
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct Departments(Vec<Department>);

impl Departments {
    /// The departments of `departments.toml` (`file` names it in issues).
    pub fn from_spec(file: &Path, spec: DepartmentsSpec, issues: &mut Issues) -> Departments {
        check_version(file, spec.version, issues);
        let mut list: Vec<Department> = Vec::new();
        for (i, d) in spec.departments.into_iter().enumerate() {
            let key = format!("departments[{i}].id");
            if d.id.is_empty()
                || !d.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                issues.push(file, key, format!("expected lowercase ascii letters, digits, - or _, found {:?}", d.id));
            } else if list.iter().any(|o| o.id == d.id) {
                issues.push(file, key, format!("duplicate department id {:?}", d.id));
            } else {
                list.push(Department { id: d.id, name: d.name });
            }
        }
        Departments(list)
    }

    pub fn get(&self, id: &str) -> Option<&Department> {
        self.0.iter().find(|d| d.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Department> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_are_built_from_their_spec_and_bad_ids_named() {
        let spec = toml::from_str(
            r#"
version = 1
departments = [
  { id = "market", name = "市场监督管理局" },
  { id = "Tax", name = "税务局" },
  { id = "market", name = "again" },
]
"#,
        )
        .unwrap();
        let mut issues = Issues::default();
        let departments = Departments::from_spec(Path::new("departments.toml"), spec, &mut issues);
        assert_eq!(departments.get("market").unwrap().name, "市场监督管理局");
        assert_eq!(departments.iter().count(), 1);
        let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            issues,
            [
                "departments.toml: departments[1].id: expected lowercase ascii letters, digits, - or _, found \"Tax\"",
                "departments.toml: departments[2].id: duplicate department id \"market\"",
            ]
        );
    }
}
