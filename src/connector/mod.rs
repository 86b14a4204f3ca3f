//! Connectors (`connectors/*.toml`): which department's data, fetched how, mapped by what,
//! and when.
//!
//! Every kind hands the pipeline the same thing: a file. A watched folder's files are the
//! department's own; an HTTP page or a batch of database rows is first written to the
//! connector's spool folder. The [`runner`] then ingests each file exactly like a dropped one,
//! moves it out of the way only after its rows are committed, and only then saves the
//! connector's checkpoint. A crash at any point leaves either the file or the old checkpoint
//! in place, and ingesting the same rows again changes nothing: nothing lost, nothing doubled.
//!
//! A new kind is one module implementing [`Source`], plus its section in the connector file.

pub mod folder;
pub mod http;
pub mod runner;
mod schedule;
pub mod sql;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::department::Departments;
use crate::issues::{Issues, check_version};
use crate::mapping::Mapping;

pub use schedule::{Schedule, ScheduleError};

/// The serde shape of a connector file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    version: u32,
    department: String,
    item: String,
    mapping: String,
    kind: ConnectorKind,
    #[serde(default = "yes")]
    enabled: bool,
    /// Cron (seconds first; a five-field minute-first expression is accepted too), in
    /// Asia/Shanghai time. Required for pulled kinds; a folder without one is watched.
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    folder: Option<folder::FolderSpec>,
    #[serde(default)]
    http: Option<http::HttpSpec>,
    #[serde(default)]
    sql: Option<sql::SqlSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    Folder,
    Http,
    Sql,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Folder => "folder",
            ConnectorKind::Http => "http",
            ConnectorKind::Sql => "sql",
        }
    }
}

/// The kind-specific settings of a connector.
#[derive(Debug, Clone)]
pub enum SourceSettings {
    Folder(folder::FolderSettings),
    Http(Box<http::HttpSettings>),
    Sql(sql::SqlSettings),
}

/// A declared connector, cross-checked against departments, catalogue and mappings.
#[derive(Debug, Clone)]
pub struct Connector {
    /// File stem: `market-penalties`.
    pub name: String,
    pub department: String,
    pub item: String,
    pub mapping: String,
    pub enabled: bool,
    pub schedule: Option<Schedule>,
    pub source: SourceSettings,
    /// `<data>/connectors/<name>`: spool, processed and failed files of pulled kinds.
    pub work_dir: PathBuf,
    /// Where the department finds error reports and notes about its data.
    pub outbox: PathBuf,
}

/// What a connector file is checked against and resolved by.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// Folders and secret files are relative to this.
    pub base_dir: &'a Path,
    /// `<data>/connectors/<name>` and `<data>/outbox/<department>` are under this.
    pub data_dir: &'a Path,
    pub catalogue: &'a Catalogue,
    pub departments: &'a Departments,
    pub mappings: &'a [Mapping],
    /// Mapping files that exist but did not load (their own mistakes are reported already):
    /// a connector naming one is not told the file is missing.
    pub broken_mappings: &'a [String],
}

/// A file a source has ready for the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// `None` when there is nothing to ingest but the checkpoint moves (an empty last page).
    pub path: Option<PathBuf>,
    /// Where the rows came from, for lineage: the file's path, or the URL and page.
    pub source: String,
    /// Saved once the file's rows are committed; `None` leaves the checkpoint as it is.
    pub checkpoint: Option<String>,
    /// Set when the file must not be opened at all (a link, not a plain file, a name that is
    /// not UTF-8): it goes to `failed/` with this reason.
    pub refused: Option<Refusal>,
}

/// Why a file is refused without being opened, in English and for the department in Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub reason_zh: String,
}

/// Why a pull failed; the pass stops and the next one starts from the saved checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("database: {0}")]
    Sql(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error("bad checkpoint {0:?}")]
    Checkpoint(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One kind of connector: hands over files, one at a time, until it has nothing new.
pub trait Source: Send {
    /// A scheduled pass begins (pulled kinds start again from the checkpoint).
    fn start_pass(&mut self) {}

    /// Something is on its way (a file still being written): look again soon.
    fn settling(&self) -> bool {
        false
    }

    /// The next file to ingest, given the checkpoint the store holds now; `None` when there
    /// is nothing more in this pass.
    fn next_file<'a>(&'a mut self, checkpoint: Option<&'a str>) -> BoxFuture<'a, Result<Option<Pulled>, SourceError>>;

    /// The file at `path` could not be taken, not even moved to `failed/`: leave it out of the
    /// next passes for a while (longer each time), so it blocks nothing behind it.
    fn set_aside(&mut self, _path: &Path) {}

    /// The file at `path` changed while it was read and stays: take it again only once it has
    /// settled anew.
    fn changed(&mut self, _path: &Path) {}
}

impl Connector {
    pub fn kind(&self) -> ConnectorKind {
        match self.source {
            SourceSettings::Folder(_) => ConnectorKind::Folder,
            SourceSettings::Http(_) => ConnectorKind::Http,
            SourceSettings::Sql(_) => ConnectorKind::Sql,
        }
    }

    /// The watched folder of a folder connector.
    pub fn inbox(&self) -> Option<&Path> {
        match &self.source {
            SourceSettings::Folder(f) => Some(&f.inbox),
            _ => None,
        }
    }

    /// Where a file goes once its rows are committed, and where an unreadable one goes.
    pub fn processed_dir(&self) -> PathBuf {
        match &self.source {
            SourceSettings::Folder(f) => f.processed.clone(),
            _ => self.work_dir.join("processed"),
        }
    }

    pub fn failed_dir(&self) -> PathBuf {
        match &self.source {
            SourceSettings::Folder(f) => f.failed.clone(),
            _ => self.work_dir.join("failed"),
        }
    }

    /// Pulled kinds write their pages and batches here before ingesting them.
    pub fn spool_dir(&self) -> PathBuf {
        self.work_dir.join("spool")
    }

    /// A source for this connector; it lives as long as the connector's task.
    /// The connector's source; pulled kinds name their spooled files by `clock`.
    pub fn open_source(&self, mapping: &Mapping, clock: &Clock) -> Result<Box<dyn Source>, SourceError> {
        Ok(match &self.source {
            SourceSettings::Folder(f) => Box::new(folder::FolderSource::new(f.clone())),
            SourceSettings::Http(h) => {
                Box::new(http::HttpSource::new((**h).clone(), mapping, self.spool_dir(), clock.clone())?)
            }
            SourceSettings::Sql(s) => Box::new(sql::SqlSource::new(s.clone(), self.spool_dir(), clock.clone())?),
        })
    }

    /// A connector file's spec (its name is the file's stem), checked against what it names.
    pub fn from_spec(file: &Path, spec: ConnectorSpec, known: &Known<'_>, issues: &mut Issues) -> Option<Connector> {
        let Known { base_dir, data_dir, catalogue, departments, mappings, broken_mappings } = *known;
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
            None if broken_mappings.contains(&spec.mapping) => {}
            None => issues.push(file, "mapping", format!("no mapping file mappings/{}.toml", spec.mapping)),
            Some(m) if m.item.code != spec.item => issues.push(
                file,
                "mapping",
                format!("mapping {} is for item {}, not {}", spec.mapping, m.item.code, spec.item),
            ),
            Some(_) => {}
        }
        let schedule = spec.schedule.as_deref().and_then(|text| match Schedule::parse(text) {
            Ok(s) => Some(s),
            Err(e) => {
                issues.push(file, "schedule", e.to_string());
                None
            }
        });
        let base = base_dir;
        let sections = [("folder", spec.folder.is_some()), ("http", spec.http.is_some()), ("sql", spec.sql.is_some())];
        for (section, present) in sections {
            if present && section != spec.kind.as_str() {
                issues.push(file, section, format!("a [{section}] section in a {} connector", spec.kind.as_str()));
            }
        }
        let source = match spec.kind {
            ConnectorKind::Folder => match spec.folder {
                Some(f) => Some(SourceSettings::Folder(f.check(base))),
                None => {
                    issues.push(file, "folder", "a folder connector needs a [folder] section with inbox");
                    None
                }
            },
            ConnectorKind::Http => match spec.http {
                Some(h) => h.check(base, file, issues).map(|h| SourceSettings::Http(Box::new(h))),
                None => {
                    issues.push(file, "http", "an http connector needs an [http] section with url");
                    None
                }
            },
            ConnectorKind::Sql => match spec.sql {
                Some(s) => s.check(base, file, issues).map(SourceSettings::Sql),
                None => {
                    issues.push(file, "sql", "a sql connector needs a [sql] section with url and query");
                    None
                }
            },
        };
        if spec.kind != ConnectorKind::Folder && spec.schedule.is_none() {
            issues.push(file, "schedule", "a pulled connector needs a cron schedule, e.g. \"0 */10 * * * *\"");
        }
        if issues.len() > before {
            return None;
        }
        let source = source?;
        let work_dir = data_dir.join("connectors").join(&name);
        let outbox = match &source {
            SourceSettings::Folder(f) => f.outbox.clone(),
            _ => data_dir.join("outbox").join(&spec.department),
        };
        Some(Connector {
            name,
            department: spec.department,
            item: spec.item,
            mapping: spec.mapping,
            enabled: spec.enabled,
            schedule,
            source,
            work_dir,
            outbox,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::MappingSpec;

    fn build(text: &str) -> (Option<Connector>, Vec<String>) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let mut issues = Issues::default();
        let departments = toml::from_str("version = 1\ndepartments = [{ id = \"market\", name = \"市场监督管理局\" }]")
            .map(|spec| Departments::from_spec(Path::new("departments.toml"), spec, &mut issues))
            .unwrap();
        let mapping: MappingSpec = toml::from_str(include_str!("../../mappings/market-penalties.toml")).unwrap();
        let mappings: Vec<Mapping> =
            Mapping::from_spec(Path::new("mappings/market-penalties.toml"), mapping, &catalogue, &mut issues)
                .into_iter()
                .collect();
        let known = Known {
            base_dir: Path::new("/srv/gw"),
            data_dir: Path::new("/srv/gw/data"),
            catalogue: &catalogue,
            departments: &departments,
            mappings: &mappings,
            broken_mappings: &[],
        };
        let spec = toml::from_str(text).unwrap();
        let connector = Connector::from_spec(Path::new("connectors/market-penalties.toml"), spec, &known, &mut issues);
        (connector, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_connector_is_built_from_its_spec() {
        let (connector, issues) = build(include_str!("../../connectors/market-penalties.toml"));
        assert!(issues.is_empty(), "{issues:?}");
        let c = connector.unwrap();
        assert_eq!(
            (c.name.as_str(), c.kind(), c.department.as_str()),
            ("market-penalties", ConnectorKind::Folder, "market")
        );
        assert_eq!(c.inbox().unwrap(), Path::new("/srv/gw/data/inbox/market-penalties"));
        assert_eq!(c.work_dir, Path::new("/srv/gw/data/connectors/market-penalties"));
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let (connector, issues) =
            build("version = 1\ndepartment = \"tax\"\nitem = \"CF\"\nmapping = \"nope\"\nkind = \"http\"\n");
        assert!(connector.is_none());
        assert_eq!(
            issues,
            [
                "connectors/market-penalties.toml: department: unknown department \"tax\" (known: market)",
                "connectors/market-penalties.toml: mapping: no mapping file mappings/nope.toml",
                "connectors/market-penalties.toml: http: an http connector needs an [http] section with url",
                "connectors/market-penalties.toml: schedule: a pulled connector needs a cron schedule, e.g. \"0 */10 * * * *\"",
            ]
        );
    }
}
