//! Delivery to the upper platforms: destinations (`config/destinations/*.toml`), the wire
//! formats ([`package`]), the transports ([`adapter`]) and the outbox worker ([`worker`]).
//!
//! The outbox lives in the store: storing a record version creates one delivery per
//! destination that carries its item, in the same transaction (the record writer queues a
//! statement's new versions with one set-based insert). Workers claim
//! batches, push them, and record one outcome per record; every push carries an idempotency
//! key per record version, so a batch pushed again after a crash is never counted twice.

pub mod adapter;
pub mod latency;
pub mod package;
pub mod reminder;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::http_client::RetryPolicy;
use crate::issues::{Issues, check_version};
use crate::secret::SecretSource;

/// The longest `Retry-After` a platform can impose on a delivery.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// The serde shape of a destination file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    version: u32,
    /// 中文 name for the dashboard: 省公共信用信息平台.
    title: String,
    items: Vec<String>,
    adapter: AdapterKind,
    #[serde(default = "yes")]
    enabled: bool,
    /// Acceptance here is what the reporting deadline measures (the provincial platform).
    #[serde(default)]
    deadline: bool,
    #[serde(default)]
    url: Option<String>,
    /// File adapter: where packages are written, and where receipts come back.
    #[serde(default)]
    outbound: Option<PathBuf>,
    #[serde(default)]
    receipts: Option<PathBuf>,
    #[serde(default = "default_batch")]
    batch_size: usize,
    /// Pushes (batches) per second at most.
    #[serde(default = "default_rate")]
    rate_per_second: f64,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
    #[serde(default = "default_attempts")]
    max_attempts: u32,
    #[serde(default = "default_backoff_initial")]
    backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max")]
    backoff_max_ms: u64,
    /// A claimed batch not finished in this time is claimed again (its instance died).
    #[serde(default = "default_lease")]
    lease_seconds: u64,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    /// A lower destination (下级平台, department folder): it receives the reverse feeds'
    /// records whose region lies within one of these division codes, and (listing `FJFL`) the
    /// grade results of subjects there, and nothing from below.
    #[serde(default)]
    regions: Vec<String>,
    /// A lower destination may take only the records of these sectors (`config/sectors.toml`:
    /// 安全生产 to the emergency-management bureau, seed 001); without `regions`, of our own
    /// jurisdiction (`divisions.toml` `own`).
    #[serde(default)]
    sectors: Vec<String>,
    /// Sign each package (`X-Signature`) with this secret.
    #[serde(default)]
    signing_secret_env: Option<String>,
    #[serde(default)]
    signing_secret_file: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn default_batch() -> usize {
    500
}
fn default_rate() -> f64 {
    50.0
}
fn default_timeout() -> f64 {
    30.0
}
fn default_attempts() -> u32 {
    10
}
fn default_backoff_initial() -> u64 {
    1_000
}
fn default_backoff_max() -> u64 {
    600_000
}
fn default_lease() -> u64 {
    300
}

/// How a destination is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// `POST` a JSON package; per-record receipts in the answer.
    HttpJson,
    /// `POST` a GB/T 39443-style XML data package; per-record receipts in the answer.
    HttpXml,
    /// The XML package written atomically into an outbound folder; receipts come back as files.
    File,
    /// A department folder: the JSON package written atomically into `outbound`; accepted
    /// once written (a department sends no receipts).
    Folder,
}

/// An upper (or lower) platform records are pushed to.
#[derive(Debug, Clone)]
pub struct Destination {
    /// File stem: `provincial`.
    pub name: String,
    pub title: String,
    pub items: Vec<String>,
    pub adapter: AdapterKind,
    pub enabled: bool,
    pub deadline: bool,
    pub url: Option<reqwest::Url>,
    pub outbound: Option<PathBuf>,
    pub receipts: Option<PathBuf>,
    pub batch_size: usize,
    pub rate_per_second: f64,
    pub timeout: Duration,
    /// Backoff between attempts, and the attempts after which a delivery is dead.
    pub retry: RetryPolicy,
    pub lease: Duration,
    pub token: Option<SecretSource>,
    pub signing_secret: Option<SecretSource>,
    /// Division codes of a lower destination (reverse feeds); empty for an upper platform.
    pub regions: Vec<String>,
    /// Sectors a lower destination takes (all when empty).
    pub sectors: Vec<String>,
}

impl Destination {
    /// A destination file's spec (its name is the file's stem), checked against the catalogue;
    /// its folders and secret files are taken relative to `base_dir`.
    pub fn from_spec(
        file: &Path,
        spec: DestinationSpec,
        base_dir: &Path,
        catalogue: &Catalogue,
        issues: &mut Issues,
    ) -> Option<Destination> {
        check_version(file, spec.version, issues);
        let name = file.file_stem()?.to_string_lossy().into_owned();
        let before = issues.len();
        for item in &spec.items {
            if catalogue.item(item).is_none() {
                issues.push(file, "items", format!("unknown catalogue item {item:?}"));
            }
        }
        let base = base_dir;
        let url = match (spec.adapter, &spec.url) {
            (AdapterKind::File | AdapterKind::Folder, _) => None,
            (_, None) => {
                issues.push(file, "url", "an http adapter needs a url");
                None
            }
            (_, Some(u)) => match reqwest::Url::parse(u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
                _ => {
                    issues.push(file, "url", format!("expected an http:// or https:// URL, found {u:?}"));
                    None
                }
            },
        };
        if spec.adapter == AdapterKind::File && (spec.outbound.is_none() || spec.receipts.is_none()) {
            issues.push(file, "outbound", "a file adapter needs `outbound` and `receipts` folders");
        }
        if spec.adapter == AdapterKind::Folder && spec.outbound.is_none() {
            issues.push(file, "outbound", "a folder adapter needs an `outbound` folder");
        }
        if spec.adapter == AdapterKind::Folder && spec.regions.is_empty() && spec.sectors.is_empty() {
            issues.push(
                file,
                "regions",
                "a folder adapter serves a lower destination: list its `regions` or `sectors`",
            );
        }
        if spec.deadline && !(spec.regions.is_empty() && spec.sectors.is_empty()) {
            // The deadline measures acceptance above; a lower destination receives from above.
            issues.push(file, "deadline", "a lower destination (`regions`, `sectors`) cannot be the deadline's");
        }
        for region in &spec.regions {
            if region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit()) {
                issues.push(file, "regions", format!("expected 6-digit division codes, found {region:?}"));
            }
        }
        if spec.batch_size == 0 || spec.batch_size > 10_000 {
            issues.push(file, "batch_size", "expected 1 to 10000");
        }
        if spec.rate_per_second.is_nan() || spec.rate_per_second <= 0.0 {
            issues.push(file, "rate_per_second", "expected a rate above 0");
        }
        if !(spec.timeout_seconds > 0.0 && spec.timeout_seconds <= 3600.0) {
            issues.push(file, "timeout_seconds", "expected seconds between 0 and 3600");
        }
        if spec.max_attempts == 0 {
            issues.push(file, "max_attempts", "expected at least 1");
        }
        if issues.len() > before {
            return None;
        }
        Some(Destination {
            name,
            title: spec.title,
            items: spec.items,
            adapter: spec.adapter,
            enabled: spec.enabled,
            deadline: spec.deadline,
            url,
            outbound: spec.outbound.map(|p| base.join(p)),
            receipts: spec.receipts.map(|p| base.join(p)),
            batch_size: spec.batch_size,
            rate_per_second: spec.rate_per_second,
            timeout: Duration::from_secs_f64(spec.timeout_seconds),
            retry: RetryPolicy {
                backoff_initial: Duration::from_millis(spec.backoff_initial_ms),
                backoff_max: Duration::from_millis(spec.backoff_max_ms.max(spec.backoff_initial_ms)),
                max_attempts: spec.max_attempts,
                retry_after_max: RETRY_AFTER_MAX,
            },
            lease: Duration::from_secs(spec.lease_seconds.max(1)),
            token: SecretSource::from_keys(spec.token_env, spec.token_file.map(|f| base.join(f))),
            signing_secret: SecretSource::from_keys(
                spec.signing_secret_env,
                spec.signing_secret_file.map(|f| base.join(f)),
            ),
            regions: spec.regions,
            sectors: spec.sectors,
        })
    }

    /// A lower destination takes reverse-feed records and grade results by region and sector,
    /// never records from below.
    pub fn is_lower(&self) -> bool {
        !self.regions.is_empty() || !self.sectors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> (Option<Destination>, Vec<String>) {
        let catalogue = crate::catalogue::shipped_for_tests();
        let mut issues = Issues::default();
        let file = Path::new("destinations/provincial.toml");
        let destination =
            Destination::from_spec(file, toml::from_str(text).unwrap(), Path::new("/srv/gw"), &catalogue, &mut issues);
        (destination, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_destination_is_built_from_its_spec() {
        let (destination, issues) = build(include_str!("../../config/destinations/provincial.toml"));
        assert!(issues.is_empty(), "{issues:?}");
        let d = destination.unwrap();
        assert_eq!(
            (d.name.as_str(), d.adapter, d.deadline, d.is_lower()),
            ("provincial", AdapterKind::HttpJson, true, false)
        );
        assert!(d.items.iter().any(|i| i == "CF"));
    }

    #[test]
    fn mistakes_name_the_file_and_key_and_folders_are_under_the_base() {
        let (destination, issues) =
            build("version = 1\ntitle = \"x\"\nitems = [\"ZZ\"]\nadapter = \"http_json\"\nbatch_size = 0\n");
        assert!(destination.is_none());
        assert_eq!(
            issues,
            [
                "destinations/provincial.toml: items: unknown catalogue item \"ZZ\"",
                "destinations/provincial.toml: url: an http adapter needs a url",
                "destinations/provincial.toml: batch_size: expected 1 to 10000",
            ]
        );
        let (destination, issues) = build(
            "version = 1\ntitle = \"区县\"\nitems = [\"CF\"]\nadapter = \"folder\"\noutbound = \"out/west\"\nregions = [\"330106\"]\n",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(destination.unwrap().outbound.unwrap(), Path::new("/srv/gw/out/west"));
    }

    #[test]
    fn a_department_may_take_by_sector_but_cannot_be_the_deadline_destination() {
        let (d, issues) = build(
            "version = 1\ntitle = \"应急管理局\"\nitems = [\"CF\"]\nadapter = \"folder\"\n\
             outbound = \"out/emergency\"\nsectors = [\"安全生产\"]\n",
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert!(d.unwrap().is_lower(), "sectors alone make a lower destination");
        let (_, issues) = build(
            "version = 1\ntitle = \"x\"\nitems = [\"CF\"]\nadapter = \"http_json\"\nurl = \"http://x/\"\n\
             deadline = true\nsectors = [\"安全生产\"]\n",
        );
        assert_eq!(
            issues,
            [
                "destinations/provincial.toml: deadline: a lower destination (`regions`, `sectors`) cannot be the deadline's"
            ]
        );
    }
}
