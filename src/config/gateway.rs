//! `gateway.toml`: the gateway's own settings, with every path made absolute.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::issues::{Issues, check_version};
use crate::store::absolute_sqlite_url;
use crate::web::throttle::LoginPolicy;

/// The serde shape of `gateway.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GatewaySpec {
    version: u32,
    /// Folder the other paths are relative to, itself relative to this file (default "..").
    #[serde(default = "default_base_dir")]
    base_dir: PathBuf,
    #[serde(default)]
    database: DatabaseSpec,
    #[serde(default)]
    paths: PathsSpec,
    #[serde(default)]
    http: HttpSpec,
    #[serde(default)]
    ingest: IngestSpec,
    #[serde(default)]
    validation: ValidationSpec,
    #[serde(default)]
    daemon: DaemonSpec,
    #[serde(default)]
    sender: SenderSpec,
    #[serde(default)]
    auth: AuthSpec,
    #[serde(default)]
    credit_file: CreditFileSpec,
}

/// `[credit_file]`: what a department user's view of a subject's credit file (信用档案) and of
/// the subject search shows of other departments' records.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditFileSpec {
    /// `hidden` (default): only the department's own records, and only subjects it has records
    /// of; `count`: also how many records other departments hold, never their content.
    #[serde(default)]
    other_departments: OtherDepartments,
}

/// What a department user learns of other departments' records about a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtherDepartments {
    #[default]
    Hidden,
    Count,
}

/// `[auth]`: how long API tokens last and when failed logins lock a name or an address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSpec {
    #[serde(default = "AuthSpec::default_api_token_days")]
    api_token_days: u32,
    #[serde(default = "AuthSpec::default_failures_per_user")]
    login_failures_per_user: u32,
    #[serde(default = "AuthSpec::default_failures_per_address")]
    login_failures_per_address: u32,
    #[serde(default = "AuthSpec::default_window_minutes")]
    login_window_minutes: u32,
}

impl AuthSpec {
    fn default_api_token_days() -> u32 {
        90
    }
    fn default_failures_per_user() -> u32 {
        LoginPolicy::default().max_failures_per_user
    }
    fn default_failures_per_address() -> u32 {
        LoginPolicy::default().max_failures_per_address
    }
    fn default_window_minutes() -> u32 {
        15
    }
}

impl Default for AuthSpec {
    fn default() -> Self {
        AuthSpec {
            api_token_days: Self::default_api_token_days(),
            login_failures_per_user: Self::default_failures_per_user(),
            login_failures_per_address: Self::default_failures_per_address(),
            login_window_minutes: Self::default_window_minutes(),
        }
    }
}

/// Who this gateway reports as: the credit office's code and name in every data package.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderSpec {
    #[serde(default = "SenderSpec::default_code")]
    pub code: String,
    #[serde(default = "SenderSpec::default_name")]
    pub name: String,
}

impl SenderSpec {
    fn default_code() -> String {
        "11330100000000000X".into()
    }
    fn default_name() -> String {
        "示范市社会信用体系建设领导小组办公室".into()
    }
}

impl Default for SenderSpec {
    fn default() -> Self {
        SenderSpec { code: Self::default_code(), name: Self::default_name() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonSpec {
    /// How often the daemon looks for new or changed calendar files.
    #[serde(default = "DaemonSpec::default_calendar_poll")]
    calendar_poll_seconds: u64,
    /// A returned record not corrected within this many working days is listed as overdue
    /// in the department's outbox report.
    #[serde(default = "DaemonSpec::default_correction_days")]
    correction_working_days: u32,
    /// How long an instance's hold on a connector lasts unless renewed (several instances on
    /// one database): a dead instance's connectors are taken over after this.
    #[serde(default = "DaemonSpec::default_lease")]
    connector_lease_seconds: u64,
}

impl DaemonSpec {
    fn default_calendar_poll() -> u64 {
        30
    }
    fn default_correction_days() -> u32 {
        5
    }
    fn default_lease() -> u64 {
        30
    }
}

impl Default for DaemonSpec {
    fn default() -> Self {
        DaemonSpec {
            calendar_poll_seconds: Self::default_calendar_poll(),
            correction_working_days: Self::default_correction_days(),
            connector_lease_seconds: Self::default_lease(),
        }
    }
}

fn default_base_dir() -> PathBuf {
    PathBuf::from("..")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSpec {
    /// `sqlite://data/gateway.db` (relative to base_dir) or `postgres://…`.
    #[serde(default = "default_database_url")]
    url: String,
    /// Read the URL from this environment variable when it is set (e.g. DATABASE_URL).
    #[serde(default)]
    url_env: Option<String>,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        DatabaseSpec { url: default_database_url(), url_env: None }
    }
}

fn default_database_url() -> String {
    "sqlite://data/gateway.db".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathsSpec {
    #[serde(default = "PathsSpec::default_catalogue")]
    catalogue: PathBuf,
    #[serde(default = "PathsSpec::default_code_tables")]
    code_tables: PathBuf,
    #[serde(default = "PathsSpec::default_departments")]
    departments: PathBuf,
    #[serde(default = "PathsSpec::default_calendar")]
    calendar: PathBuf,
    #[serde(default = "PathsSpec::default_deadlines")]
    deadlines: PathBuf,
    #[serde(default = "PathsSpec::default_publicity")]
    publicity: PathBuf,
    #[serde(default = "PathsSpec::default_mappings")]
    mappings: PathBuf,
    #[serde(default = "PathsSpec::default_connectors")]
    connectors: PathBuf,
    #[serde(default = "PathsSpec::default_data")]
    data: PathBuf,
    #[serde(default = "PathsSpec::default_destinations")]
    destinations: PathBuf,
    #[serde(default = "PathsSpec::default_feeds")]
    feeds: PathBuf,
    #[serde(default = "PathsSpec::default_divisions")]
    divisions: PathBuf,
    #[serde(default = "PathsSpec::default_objections")]
    objections: PathBuf,
    #[serde(default = "PathsSpec::default_grading")]
    grading: PathBuf,
    #[serde(default = "PathsSpec::default_sectors")]
    sectors: PathBuf,
}

impl PathsSpec {
    fn default_catalogue() -> PathBuf {
        "config/catalogue".into()
    }
    fn default_code_tables() -> PathBuf {
        "config/code-tables.toml".into()
    }
    fn default_departments() -> PathBuf {
        "config/departments.toml".into()
    }
    fn default_calendar() -> PathBuf {
        "config/calendar".into()
    }
    fn default_deadlines() -> PathBuf {
        "config/deadlines.toml".into()
    }
    fn default_publicity() -> PathBuf {
        "config/publicity.toml".into()
    }
    fn default_mappings() -> PathBuf {
        "mappings".into()
    }
    fn default_connectors() -> PathBuf {
        "connectors".into()
    }
    fn default_data() -> PathBuf {
        "data".into()
    }
    fn default_destinations() -> PathBuf {
        "config/destinations".into()
    }
    fn default_feeds() -> PathBuf {
        "config/feeds".into()
    }
    fn default_divisions() -> PathBuf {
        "config/divisions.toml".into()
    }
    fn default_objections() -> PathBuf {
        "config/objections.toml".into()
    }
    fn default_grading() -> PathBuf {
        "config/grading.toml".into()
    }
    fn default_sectors() -> PathBuf {
        "config/sectors.toml".into()
    }
}

impl Default for PathsSpec {
    fn default() -> Self {
        PathsSpec {
            catalogue: Self::default_catalogue(),
            code_tables: Self::default_code_tables(),
            departments: Self::default_departments(),
            calendar: Self::default_calendar(),
            deadlines: Self::default_deadlines(),
            publicity: Self::default_publicity(),
            mappings: Self::default_mappings(),
            connectors: Self::default_connectors(),
            data: Self::default_data(),
            destinations: Self::default_destinations(),
            feeds: Self::default_feeds(),
            divisions: Self::default_divisions(),
            objections: Self::default_objections(),
            grading: Self::default_grading(),
            sectors: Self::default_sectors(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSpec {
    #[serde(default = "default_listen")]
    listen: String,
    /// A connection must send a whole request head within this many seconds, whether new or
    /// kept alive between requests; else it is closed (slow or stalled clients hold no socket).
    #[serde(default = "HttpSpec::default_header_read_timeout")]
    header_read_timeout_seconds: u64,
    /// Connections served at once; further ones wait in the kernel's queue until one closes.
    #[serde(default = "HttpSpec::default_max_connections")]
    max_connections: usize,
}

impl HttpSpec {
    fn default_header_read_timeout() -> u64 {
        10
    }
    fn default_max_connections() -> usize {
        512
    }
}

impl Default for HttpSpec {
    fn default() -> Self {
        HttpSpec {
            listen: default_listen(),
            header_read_timeout_seconds: Self::default_header_read_timeout(),
            max_connections: Self::default_max_connections(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestSpec {
    /// Rows per multi-row INSERT statement.
    #[serde(default = "IngestSpec::default_statement_rows")]
    statement_rows: usize,
    /// Rows per transaction: large transactions are what make SQLite fast.
    #[serde(default = "IngestSpec::default_commit_rows")]
    commit_rows: usize,
}

impl IngestSpec {
    fn default_statement_rows() -> usize {
        500
    }
    fn default_commit_rows() -> usize {
        50_000
    }
}

impl Default for IngestSpec {
    fn default() -> Self {
        IngestSpec { statement_rows: Self::default_statement_rows(), commit_rows: Self::default_commit_rows() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationSpec {
    /// Legally issued credit codes that fail the check (early Fujian pilots): a warning only.
    #[serde(default)]
    credit_code_exceptions: Vec<String>,
    /// 重错码率 target (seed policy: below 1‰), marked in the figures when exceeded.
    #[serde(default = "ValidationSpec::default_wrong_code_rate_target")]
    wrong_code_rate_target: f64,
}

impl ValidationSpec {
    fn default_wrong_code_rate_target() -> f64 {
        0.001
    }
}

impl Default for ValidationSpec {
    fn default() -> Self {
        ValidationSpec {
            credit_code_exceptions: Vec::new(),
            wrong_code_rate_target: Self::default_wrong_code_rate_target(),
        }
    }
}

/// The gateway's own settings, validated, with every path absolute.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub file: PathBuf,
    pub base_dir: PathBuf,
    pub database_url: String,
    pub catalogue_dir: PathBuf,
    pub code_tables_file: PathBuf,
    pub departments_file: PathBuf,
    pub calendar_dir: PathBuf,
    pub deadlines_file: PathBuf,
    /// Publicity periods (SPEC §5).
    pub publicity_file: PathBuf,
    pub mappings_dir: PathBuf,
    pub connectors_dir: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// The dashboard's limits: time to send a request head, connections at once.
    pub header_read_timeout: std::time::Duration,
    pub max_connections: usize,
    pub statement_rows: usize,
    pub commit_rows: usize,
    pub credit_code_exceptions: Vec<String>,
    /// 重错码率 target: a share (0.001 = 1‰).
    pub wrong_code_rate_target: f64,
    pub calendar_poll: std::time::Duration,
    pub destinations_dir: PathBuf,
    /// Reverse feeds (`config/feeds/*.toml`) and the division-code table they route by.
    pub feeds_dir: PathBuf,
    pub divisions_file: PathBuf,
    pub objections_file: PathBuf,
    /// Credit grading (`config/grading.toml`, SPEC §8); grading is off when the file is absent.
    pub grading_file: PathBuf,
    /// Sectors of reverse-feed records (`config/sectors.toml`, seed 001); none when absent.
    pub sectors_file: PathBuf,
    /// `[credit_file] other_departments`.
    pub credit_file_others: OtherDepartments,
    pub sender: SenderSpec,
    pub correction_working_days: u32,
    pub connector_lease: std::time::Duration,
    /// How long an API token from `users add` or `users reset` lasts.
    pub api_token_lifetime: chrono::TimeDelta,
    /// When failed logins lock a user name or a client address.
    pub login_policy: LoginPolicy,
}

impl GatewayConfig {
    pub(super) fn from_spec(file: &Path, spec: GatewaySpec, issues: &mut Issues) -> GatewayConfig {
        if !(0.0..=1.0).contains(&spec.validation.wrong_code_rate_target) {
            issues.push(file, "validation.wrong_code_rate_target", "expected a share between 0 and 1 (0.001 = 1‰)");
        }
        check_version(file, spec.version, issues);
        let file_dir = file.parent().unwrap_or(Path::new("."));
        let base_dir = file_dir.join(&spec.base_dir);
        let base_dir = base_dir.canonicalize().unwrap_or(base_dir);
        let at = |p: &Path| base_dir.join(p);

        let mut url = spec.database.url;
        if let Some(var) = &spec.database.url_env
            && let Ok(from_env) = std::env::var(var)
            && !from_env.is_empty()
        {
            url = from_env;
        }
        let database_url = absolute_sqlite_url(&url, &base_dir);
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            issues.push(file, "database.url", "expected a sqlite:// or postgres:// URL");
        }
        let listen = match spec.http.listen.parse() {
            Ok(addr) => addr,
            Err(_) => {
                issues.push(file, "http.listen", format!("expected host:port, found {:?}", spec.http.listen));
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        if spec.http.header_read_timeout_seconds == 0 {
            issues.push(file, "http.header_read_timeout_seconds", "expected at least 1");
        }
        if spec.http.max_connections == 0 {
            issues.push(file, "http.max_connections", "expected at least 1");
        }
        if spec.ingest.statement_rows == 0 || spec.ingest.statement_rows > 2_000 {
            issues.push(file, "ingest.statement_rows", "expected 1 to 2000");
        }
        if spec.ingest.commit_rows < spec.ingest.statement_rows {
            issues.push(file, "ingest.commit_rows", "expected at least statement_rows");
        }
        let auth = &spec.auth;
        if !(1..=3650).contains(&auth.api_token_days) {
            issues.push(file, "auth.api_token_days", "expected 1 to 3650");
        }
        if auth.login_failures_per_user == 0 || auth.login_failures_per_address == 0 {
            issues.push(file, "auth.login_failures_per_user", "expected at least 1 (also login_failures_per_address)");
        }
        if !(1..=1440).contains(&auth.login_window_minutes) {
            issues.push(file, "auth.login_window_minutes", "expected 1 to 1440");
        }
        let login_policy = LoginPolicy {
            max_failures_per_user: auth.login_failures_per_user.max(1),
            max_failures_per_address: auth.login_failures_per_address.max(1),
            window: chrono::TimeDelta::minutes(i64::from(auth.login_window_minutes.max(1))),
        };
        GatewayConfig {
            api_token_lifetime: chrono::TimeDelta::days(i64::from(auth.api_token_days.max(1))),
            login_policy,
            file: file.to_path_buf(),
            catalogue_dir: at(&spec.paths.catalogue),
            code_tables_file: at(&spec.paths.code_tables),
            departments_file: at(&spec.paths.departments),
            calendar_dir: at(&spec.paths.calendar),
            deadlines_file: at(&spec.paths.deadlines),
            publicity_file: at(&spec.paths.publicity),
            mappings_dir: at(&spec.paths.mappings),
            connectors_dir: at(&spec.paths.connectors),
            data_dir: at(&spec.paths.data),
            destinations_dir: at(&spec.paths.destinations),
            feeds_dir: at(&spec.paths.feeds),
            divisions_file: at(&spec.paths.divisions),
            objections_file: at(&spec.paths.objections),
            grading_file: at(&spec.paths.grading),
            sectors_file: at(&spec.paths.sectors),
            credit_file_others: spec.credit_file.other_departments,
            sender: spec.sender,
            correction_working_days: spec.daemon.correction_working_days,
            connector_lease: std::time::Duration::from_secs(spec.daemon.connector_lease_seconds.max(1)),
            base_dir,
            database_url,
            listen,
            header_read_timeout: std::time::Duration::from_secs(spec.http.header_read_timeout_seconds.max(1)),
            max_connections: spec.http.max_connections.max(1),
            statement_rows: spec.ingest.statement_rows,
            commit_rows: spec.ingest.commit_rows,
            credit_code_exceptions: spec.validation.credit_code_exceptions,
            wrong_code_rate_target: spec.validation.wrong_code_rate_target,
            calendar_poll: std::time::Duration::from_secs(spec.daemon.calendar_poll_seconds.max(1)),
        }
    }
}
