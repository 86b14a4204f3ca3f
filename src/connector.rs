//! Connector declarations (`connectors/*.toml`): which department's data, read how, mapped by what.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::config::{GatewayConfig, Issues, check_version, read_toml, toml_files};
use crate::department::Departments;
use crate::mapping::Mapping;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorSpec {
    version: u32,
    department: String,
    item: String,
    mapping: String,
    kind: ConnectorKind,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    folder: Option<FolderSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    Folder,
    Http,
    Sql,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderSpec {
    /// The department's drop folder (relative to base_dir).
    inbox: PathBuf,
}

/// A declared connector, cross-checked against departments, catalogue and mappings.
#[derive(Debug, Clone)]
pub struct Connector {
    /// File stem: `market-penalties`.
    pub name: String,
    pub department: String,
    pub item: String,
    pub mapping: String,
    pub kind: ConnectorKind,
    pub enabled: bool,
    pub inbox: Option<PathBuf>,
}

impl Connector {
    pub fn load_dir(
        gateway: &GatewayConfig,
        catalogue: &Catalogue,
        departments: &Departments,
        mappings: &[Mapping],
        issues: &mut Issues,
    ) -> Vec<Connector> {
        let mut out = Vec::new();
        for file in toml_files(&gateway.connectors_dir, issues, &gateway.file, "paths.connectors") {
            if let Some(c) = Connector::load(&file, gateway, catalogue, departments, mappings, issues) {
                out.push(c);
            }
        }
        out
    }

    fn load(
        file: &Path,
        gateway: &GatewayConfig,
        catalogue: &Catalogue,
        departments: &Departments,
        mappings: &[Mapping],
        issues: &mut Issues,
    ) -> Option<Connector> {
        let spec = read_toml::<ConnectorSpec>(file, issues)?;
        check_version(file, spec.version, issues);
        let name = file.file_stem()?.to_string_lossy().into_owned();
        let before = issues.len();
        if departments.get(&spec.department).is_none() {
            let known: Vec<&str> = departments.iter().map(|d| d.id.as_str()).collect();
            issues.push(
                file,
                "department",
                format!("unknown department {:?} (known: {})", spec.department, known.join(", ")),
            );
        }
        if catalogue.item(&spec.item).is_none() {
            issues.push(file, "item", format!("unknown catalogue item {:?}", spec.item));
        }
        match mappings.iter().find(|m| m.name == spec.mapping) {
            None => issues.push(file, "mapping", format!("no mapping file mappings/{}.toml", spec.mapping)),
            Some(m) if m.item.code != spec.item => issues.push(
                file,
                "mapping",
                format!("mapping {} is for item {}, not {}", spec.mapping, m.item.code, spec.item),
            ),
            Some(_) => {}
        }
        if spec.kind == ConnectorKind::Folder && spec.folder.is_none() {
            issues.push(file, "folder", "a folder connector needs a [folder] section with inbox");
        }
        if issues.len() > before {
            return None;
        }
        Some(Connector {
            name,
            department: spec.department,
            item: spec.item,
            mapping: spec.mapping,
            kind: spec.kind,
            enabled: spec.enabled,
            inbox: spec.folder.map(|f| gateway.base_dir.join(f.inbox)),
        })
    }
}
