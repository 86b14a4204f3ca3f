//! Loading every declarative file: `gateway.toml` and the files it points to.
//!
//! The only module that reads declarative files: each is read into its serde spec here and
//! handed to its domain type's `from_spec`, which does no IO. Domain modules never import this
//! one; they report mistakes to [`crate::issues::Issues`].
//!
//! Loading never stops at the first mistake: every problem is collected as
//! `file: key: expectation`, so one `check-config` run shows them all.

mod calendar;
mod files;
mod gateway;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::connector::{Connector, Known};
use crate::deadline::DeadlineRules;
use crate::delivery::Destination;
use crate::department::Departments;
use crate::feed::Feed;
use crate::feed::route::Divisions;
use crate::mapping::Mapping;
use crate::objection::ObjectionRules;
use crate::publicity::Publicity;
use crate::sector::Sectors;

pub use crate::issues::{ConfigError, ConfigIssue};
pub use calendar::{CalendarFolder, load_calendar_dir};
pub use gateway::{GatewayConfig, OtherDepartments, SenderSpec};

use crate::issues::Issues;
use files::{read_toml, toml_files};
use gateway::GatewaySpec;

/// Everything declarative, loaded and cross-checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub gateway: GatewayConfig,
    pub catalogue: Catalogue,
    pub departments: Departments,
    pub mappings: Vec<Mapping>,
    pub connectors: Vec<Connector>,
    /// Working days; swapped whole when a year's file is added (never edited in place).
    pub calendar: Arc<Calendar>,
    pub deadlines: DeadlineRules,
    /// Publicity periods of penalties (`config/publicity.toml`).
    pub publicity: Publicity,
    pub destinations: Vec<Destination>,
    pub feeds: Vec<Feed>,
    pub divisions: Divisions,
    /// Sectors of reverse-feed records (`config/sectors.toml`); empty when the file is absent.
    pub sectors: Sectors,
    pub objections: ObjectionRules,
    /// Credit grading (`config/grading.toml`); default (no items) when the file is absent.
    pub grading: crate::grading::Grading,
    /// Per mapping, a hash of the files an ingest's outcome depends on (the mapping, the code
    /// tables, the catalogue, the deadline and publicity rules): see [`Settings::rules_hash`].
    pub rule_hashes: std::collections::BTreeMap<String, String>,
}

impl Settings {
    /// A destination's title as people read it (`省平台`), or its name when none is configured.
    pub fn destination_title<'a>(&'a self, name: &'a str) -> &'a str {
        self.destinations.iter().find(|d| d.name == name).map_or(name, |d| d.title.as_str())
    }

    /// A feed's title as people read it (`省平台回流数据`), or its name when none is configured.
    pub fn feed_title<'a>(&'a self, name: &'a str) -> &'a str {
        self.feeds.iter().find(|f| f.name == name).map_or(name, |f| f.title.as_str())
    }

    /// Loads `gateway.toml` and every file it points to; all mistakes come back together.
    pub fn load(config_file: &Path) -> Result<Settings, ConfigError> {
        let mut issues = Issues::default();
        let Some(spec) = read_toml::<GatewaySpec>(config_file, &mut issues) else {
            return Err(issues.into_error());
        };
        let gateway = GatewayConfig::from_spec(config_file, spec, &mut issues);
        let catalogue = load_catalogue(&gateway, &mut issues);
        let departments = read_toml(&gateway.departments_file, &mut issues)
            .map(|spec| Departments::from_spec(&gateway.departments_file, spec, &mut issues))
            .unwrap_or_default();
        let calendar = load_calendar(&gateway, &mut issues);
        let deadlines = read_toml(&gateway.deadlines_file, &mut issues)
            .map(|spec| DeadlineRules::from_spec(&gateway.deadlines_file, spec, &catalogue, &mut issues))
            .unwrap_or_default();
        let publicity = read_toml(&gateway.publicity_file, &mut issues)
            .map(|spec| Publicity::from_spec(&gateway.publicity_file, spec, &catalogue, &mut issues))
            .unwrap_or_default();
        let (mappings, broken_mappings) = load_mappings(&gateway, &catalogue, &mut issues);
        let connectors = load_connectors(&gateway, &catalogue, &departments, &mappings, &broken_mappings, &mut issues);
        let destinations = load_destinations(&gateway, &catalogue, &mut issues);
        let divisions = load_divisions(&gateway.divisions_file, &mut issues);
        let sectors = if gateway.sectors_file.exists() {
            read_toml(&gateway.sectors_file, &mut issues)
                .map(|spec| Sectors::from_spec(&gateway.sectors_file, spec, &catalogue, &mut issues))
                .unwrap_or_default()
        } else {
            Sectors::default()
        };
        let known = crate::feed::route::Known { divisions: &divisions, sectors: &sectors };
        crate::feed::route::check_destinations(&destinations, &known, &gateway.destinations_dir, &mut issues);
        let feeds = load_feeds(&gateway, &catalogue, &mut issues);
        let objections = read_toml(&gateway.objections_file, &mut issues)
            .map(|spec| ObjectionRules::from_spec(&gateway.objections_file, spec, &mut issues))
            .unwrap_or_default();
        let grading = if gateway.grading_file.exists() {
            read_toml(&gateway.grading_file, &mut issues)
                .map(|spec| crate::grading::Grading::from_spec(&gateway.grading_file, spec, &catalogue, &mut issues))
                .unwrap_or_default()
        } else {
            crate::grading::Grading::default()
        };
        // Only a grading's result rests on reasons (the records behind a grade); without
        // grading.toml nothing is graded and the rule is idle.
        if !grading.result_item.is_empty() {
            for item in sectors.reason_items().filter(|i| *i != grading.result_item) {
                issues.push(
                    &gateway.sectors_file,
                    "items",
                    format!(
                        "{item}: `from = \"reasons\"`, but only grading.toml's result item {} rests on reasons",
                        grading.result_item
                    ),
                );
            }
        }
        let rule_hashes = rule_hashes(&gateway, &mappings);
        issues.into_result(Settings {
            grading,
            objections,
            rule_hashes,
            destinations,
            feeds,
            divisions,
            sectors,
            gateway,
            catalogue,
            departments,
            mappings,
            connectors,
            calendar: Arc::new(calendar),
            deadlines,
            publicity,
        })
    }

    pub fn connector(&self, name: &str) -> Option<&Connector> {
        self.connectors.iter().find(|c| c.name == name)
    }

    /// (destination, item) for every enabled destination: what the record writer joins new versions to.
    pub fn destination_items(&self) -> Vec<(String, String)> {
        self.destinations
            .iter()
            .filter(|d| d.enabled && !d.is_lower())
            .flat_map(|d| d.items.iter().map(|i| (d.name.clone(), i.clone())))
            .collect()
    }

    pub fn destination(&self, name: &str) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.name == name)
    }

    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.name == name)
    }

    pub fn mapping(&self, name: &str) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.name == name)
    }

    /// What an ingest through `mapping` depends on, as loaded, in one hash: a file ingested
    /// completely under another hash is ingested again (a fixed code table may accept its rows).
    pub fn rules_hash(&self, mapping: &str) -> &str {
        self.rule_hashes.get(mapping).map_or("", String::as_str)
    }
}

/// Per mapping, the BLAKE3 of the files its ingests' outcome depends on, as read at load.
fn rule_hashes(gateway: &GatewayConfig, mappings: &[Mapping]) -> std::collections::BTreeMap<String, String> {
    let mut shared = blake3::Hasher::new();
    shared.update(format!("{:?}", gateway.credit_code_exceptions).as_bytes());
    let mut catalogue: Vec<PathBuf> = std::fs::read_dir(&gateway.catalogue_dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect())
        .unwrap_or_default();
    catalogue.sort();
    // The publicity rules decide a penalty's warnings and its stored period.
    let files = [&gateway.code_tables_file, &gateway.deadlines_file, &gateway.publicity_file];
    for file in files.into_iter().chain(&catalogue) {
        shared.update(file.display().to_string().as_bytes());
        shared.update(&std::fs::read(file).unwrap_or_default());
    }
    mappings
        .iter()
        .map(|m| {
            let mut hasher = shared.clone();
            let file = gateway.mappings_dir.join(format!("{}.toml", m.name));
            hasher.update(&std::fs::read(file).unwrap_or_default());
            (m.name.clone(), hasher.finalize().to_hex().to_string())
        })
        .collect()
}

/// The code tables, then every item file of the catalogue folder.
fn load_catalogue(gateway: &GatewayConfig, issues: &mut Issues) -> Catalogue {
    let tables = read_toml(&gateway.code_tables_file, issues);
    let mut catalogue =
        Catalogue::from_spec(&gateway.code_tables_file, tables, &gateway.credit_code_exceptions, issues);
    for file in toml_files(&gateway.catalogue_dir, issues, &gateway.file, "paths.catalogue") {
        if let Some(spec) = read_toml(&file, issues) {
            catalogue.add_item(&file, spec, issues);
        }
    }
    catalogue
}

/// Every mapping file, each checked against the catalogue and its own `[[tests]]`.
/// The mappings that load, and the names of the mapping files that do not (their mistakes
/// are in `issues`).
fn load_mappings(gateway: &GatewayConfig, catalogue: &Catalogue, issues: &mut Issues) -> (Vec<Mapping>, Vec<String>) {
    let mut out = Vec::new();
    let mut broken = Vec::new();
    for file in toml_files(&gateway.mappings_dir, issues, &gateway.file, "paths.mappings") {
        match read_toml(&file, issues).and_then(|spec| Mapping::from_spec(&file, spec, catalogue, issues)) {
            Some(m) => out.push(m),
            None => broken.extend(file.file_stem().map(|s| s.to_string_lossy().into_owned())),
        }
    }
    (out, broken)
}

/// Every connector file, checked against the departments, the catalogue and the mappings.
fn load_connectors(
    gateway: &GatewayConfig,
    catalogue: &Catalogue,
    departments: &Departments,
    mappings: &[Mapping],
    broken_mappings: &[String],
    issues: &mut Issues,
) -> Vec<Connector> {
    let known = Known {
        base_dir: &gateway.base_dir,
        data_dir: &gateway.data_dir,
        catalogue,
        departments,
        mappings,
        broken_mappings,
    };
    let mut out = Vec::new();
    for file in toml_files(&gateway.connectors_dir, issues, &gateway.file, "paths.connectors") {
        if let Some(c) = read_toml(&file, issues).and_then(|spec| Connector::from_spec(&file, spec, &known, issues)) {
            out.push(c);
        }
    }
    out
}

/// Every destination file; without the folder there are none.
fn load_destinations(gateway: &GatewayConfig, catalogue: &Catalogue, issues: &mut Issues) -> Vec<Destination> {
    if !gateway.destinations_dir.exists() {
        return Vec::new();
    }
    toml_files(&gateway.destinations_dir, issues, &gateway.file, "paths.destinations")
        .iter()
        .filter_map(|file| {
            let spec = read_toml(file, issues)?;
            Destination::from_spec(file, spec, &gateway.base_dir, catalogue, issues)
        })
        .collect()
}

/// Every reverse-feed file; without the folder there are none.
fn load_feeds(gateway: &GatewayConfig, catalogue: &Catalogue, issues: &mut Issues) -> Vec<Feed> {
    if !gateway.feeds_dir.exists() {
        return Vec::new();
    }
    toml_files(&gateway.feeds_dir, issues, &gateway.file, "paths.feeds")
        .iter()
        .filter_map(|file| {
            let spec = read_toml(file, issues)?;
            Feed::from_spec(file, spec, &gateway.base_dir, catalogue, issues)
        })
        .collect()
}

/// The division-code table; without its file, routing goes by code structure only.
fn load_divisions(file: &Path, issues: &mut Issues) -> Divisions {
    if !file.exists() {
        return Divisions::default();
    }
    read_toml(file, issues).map(|spec| Divisions::from_spec(file, spec, issues)).unwrap_or_default()
}

/// Loads the calendar folder; its mistakes join the others.
fn load_calendar(gateway: &GatewayConfig, issues: &mut Issues) -> Calendar {
    match load_calendar_dir(&gateway.calendar_dir) {
        Ok(calendar) => calendar,
        Err(e) => {
            for problem in e.issues() {
                issues.push(&gateway.calendar_dir, "", problem.clone());
            }
            Calendar::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configuration_loads() {
        let settings = Settings::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.toml")).unwrap();
        assert!(settings.catalogue.item("CF").is_some());
        assert!(settings.mapping("market-penalties").is_some());
        assert!(settings.calendar.has_year(2026));
    }

    #[test]
    fn a_missing_file_is_one_mistake_among_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, "version = 2\nbase_dir = \".\"\n").unwrap();
        let err = Settings::load(&file).unwrap_err();
        let all: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert!(all.contains(&format!("{}: version: expected 1, found 2", file.display())), "{all:?}");
        assert!(all.iter().any(|i| i.contains("code-tables.toml: cannot read:")), "{all:?}");
        assert!(all.iter().any(|i| i.contains("paths.catalogue: cannot read folder")), "{all:?}");
    }
}
