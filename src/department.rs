//! The departments that provide data (`config/departments.toml`).

use std::path::Path;

use serde::Deserialize;

use crate::config::{Issues, check_version, read_toml};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsSpec {
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
    pub fn load(file: &Path, issues: &mut Issues) -> Departments {
        let Some(spec) = read_toml::<DepartmentsSpec>(file, issues) else {
            return Departments::default();
        };
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
