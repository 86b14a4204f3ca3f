//! `credit-gateway demo`: the whole gateway on one machine with nothing real behind it. It
//! copies the shipped configuration into a working folder, starts the sandbox platforms and
//! department sources on loopback, runs the daemon there (embedded SQLite, every shipped
//! connector) and keeps dropping realistic department files into the market regulator's
//! inboxes: a few bad rows, a few subjects the platform returns, decisions old enough to be late.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Settings;
use crate::sim::lists::{ListFormat, ListSpec, MarketList, write_list};
use crate::sim::sample::{DEMO_SEED, SampleFormat, SampleItem, SampleSpec, write_sample};
use crate::sim::sandbox::serve::{SandboxPlan, run as run_sandbox};
use crate::store::Store;

/// The market lists (经营异常名录, 严重违法失信名单, 信用承诺) come in the first rounds only, and
/// their changes two rounds later: tens of rows, not a flood.
const LIST_ROUNDS: u64 = 6;
const LIST_CHANGE_AFTER: u64 = 2;
/// Rows per list file: 经营异常名录, 严重违法失信名单, 信用承诺.
const LIST_ROWS: [(MarketList, u64, &str); 3] = [
    (MarketList::Abnormal, 12, "market-abnormal"),
    (MarketList::Serious, 4, "market-serious"),
    (MarketList::Commitments, 16, "market-commitments"),
];

/// Left in a demo folder, so a later demo may start it afresh and nothing else is ever wiped.
const MARKER: &str = ".credit-gateway-demo";
/// The shipped sandbox addresses, replaced in the copied configuration by the ones in use.
const SHIPPED_PLATFORMS: &str = "127.0.0.1:8090";
const SHIPPED_DEPARTMENTS: &str = "127.0.0.1:8091";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The working folder: configuration, SQLite store, inboxes, sandbox files.
    pub dir: PathBuf,
    /// The dashboard; taken by something else, any free port.
    pub listen: SocketAddr,
    /// The sandbox platforms and department APIs; taken, any free port.
    pub platforms: SocketAddr,
    pub departments: SocketAddr,
    /// A new market file this often.
    pub every: Duration,
    /// Rows per 行政处罚 file (行政许可 files have half).
    pub rows: u64,
    /// The demo's time (`--now`): the dashboard's 今日, the files' decision dates, every stamp.
    pub clock: Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0} exists and is not a demo folder (no {MARKER} in it); choose another --dir")]
    NotADemoFolder(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Auth(#[from] crate::web::auth::AuthError),
    #[error(transparent)]
    Sandbox(#[from] crate::sim::sandbox::serve::ServeError),
    #[error("the sandbox stopped before it was ready")]
    SandboxGone,
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io { path: path.to_path_buf(), source }
}

/// What the demo prints once the dashboard is up.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub url: String,
    pub admin_password: String,
    pub admin_token: String,
    pub clerk_password: String,
    pub platforms: SocketAddr,
}

/// Runs the demo until `shutdown`; `ready` is told the dashboard's address and logins.
pub async fn run(
    config_file: &Path,
    opts: DemoOptions,
    ready: impl FnOnce(&DemoLogin) + Send,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DemoError> {
    let shipped = Settings::load(config_file)?;
    let config = prepare_folder(&shipped.gateway.base_dir, &opts.dir)?;
    let (stop_tx, stop_rx) = watch::channel(false);

    // The sandbox first: the copied configuration must name the ports it got.
    let settings = Settings::load(&config)?;
    let plan = SandboxPlan {
        platforms: available(opts.platforms),
        departments: Some(available(opts.departments)),
        every: Duration::from_secs(10),
        clock: opts.clock.clone(),
        ..SandboxPlan::for_settings(&settings)
    };
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let sandbox = {
        let mut stop = stop_rx.clone();
        crate::supervisor::spawn_owned(async move {
            let ready = move |p: SocketAddr, d: Option<SocketAddr>| {
                let _ = addr_tx.send((p, d));
            };
            run_sandbox(&settings, plan, ready, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        })
    };
    let (platforms, departments) = match addr_rx.await {
        Ok((p, Some(d))) => (p, d),
        _ => {
            let _ = stop_tx.send(true);
            return Err(match sandbox.await {
                Ok(Err(e)) => e.into(),
                _ => DemoError::SandboxGone,
            });
        }
    };
    point_at(&opts.dir, platforms, departments, available(opts.listen))?;

    let settings = Settings::load(&config)?;
    let store = Store::connect(&settings.gateway.database_url).await?;
    let now = opts.clock.now();
    let admin = crate::web::auth::add_user(&store, &settings.departments, "admin", "admin", None, None, now).await?;
    let clerk = crate::web::auth::add_user(
        &store,
        &settings.departments,
        "market-clerk",
        "department",
        Some("market"),
        None,
        now,
    )
    .await?;
    store.close().await;

    let dropper = drop_files(settings.clone(), platforms, &opts, stop_rx.clone());
    let mut ready = Some(ready);
    let listening = |addr: SocketAddr| {
        let login = DemoLogin {
            url: format!("http://{addr}/"),
            admin_password: admin.password.clone(),
            admin_token: admin.api_token.clone(),
            clerk_password: clerk.password.clone(),
            platforms,
        };
        if let Some(ready) = ready.take() {
            ready(&login);
        }
    };
    let daemon = async {
        let result = crate::daemon::run_with(&config, opts.clock.clone(), shutdown, listening).await;
        let _ = stop_tx.send(true);
        result
    };
    let (result, ()) = tokio::join!(daemon, dropper);
    let _ = sandbox.await;
    Ok(result?)
}

/// `preferred` if it is free now, else port 0 (the OS picks one when it is bound).
fn available(preferred: SocketAddr) -> SocketAddr {
    match std::net::TcpListener::bind(preferred) {
        Ok(_) => preferred,
        Err(_) => SocketAddr::new(preferred.ip(), 0),
    }
}

/// A fresh demo folder holding a copy of the shipped configuration, mappings and connectors;
/// returns its settings file. A folder from an earlier demo is emptied first.
fn prepare_folder(base: &Path, dir: &Path) -> Result<PathBuf, DemoError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(DemoError::NotADemoFolder(dir.to_path_buf()));
        }
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::write(dir.join(MARKER), "credit-gateway demo folder: `credit-gateway demo` empties it on start\n")
        .map_err(io(dir))?;
    for sub in ["config", "connectors", "mappings"] {
        copy_tree(&base.join(sub), &dir.join(sub))?;
    }
    // The demo's store is its own SQLite file, whatever the environment names.
    let gateway = dir.join("config/gateway.toml");
    set_in_gateway(&gateway, Some("sqlite://data/gateway.db"), None)?;
    Ok(gateway)
}

/// Sets the database URL (dropping `url_env`, so the environment cannot point the copy
/// elsewhere) and the dashboard's address in a copied `gateway.toml`; `None` leaves it.
pub fn set_in_gateway(gateway: &Path, database_url: Option<&str>, listen: Option<SocketAddr>) -> Result<(), DemoError> {
    let text = std::fs::read_to_string(gateway).map_err(io(gateway))?;
    let text: String = text
        .lines()
        .filter(|l| database_url.is_none() || !l.trim_start().starts_with("url_env"))
        .map(|l| match (l.trim_start(), database_url, listen) {
            (t, Some(url), _) if t.starts_with("url =") => format!("url = \"{url}\""),
            (t, _, Some(addr)) if t.starts_with("listen =") => format!("listen = \"{addr}\""),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(gateway, text + "\n").map_err(io(gateway))
}

/// Copies the folder `from` with everything in it to `to`.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// Points the copied connectors and destinations at the sandbox's addresses, and the
/// dashboard at `listen`.
pub fn point_at(
    dir: &Path,
    platforms: SocketAddr,
    departments: SocketAddr,
    listen: SocketAddr,
) -> Result<(), DemoError> {
    let mut files = Vec::new();
    for sub in ["connectors", "config/destinations", "config/feeds"] {
        let folder = dir.join(sub);
        if !folder.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&folder).map_err(io(&folder))? {
            files.push(entry.map_err(io(&folder))?.path());
        }
    }
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "toml")) {
        let text = std::fs::read_to_string(file).map_err(io(file))?;
        let text = text
            .replace(SHIPPED_PLATFORMS, &platforms.to_string())
            .replace(SHIPPED_DEPARTMENTS, &departments.to_string());
        std::fs::write(file, text).map_err(io(file))?;
    }
    set_in_gateway(&dir.join("config/gateway.toml"), None, Some(listen))
}

/// Every `every`, a 行政处罚 file (CSV, GBK CSV or XLSX in turn) into the market-penalties
/// inbox, and every other time a 行政许可 XLSX into market-licences. Before a penalties file
/// lands, the platform's subject library learns two of its companies under other names, so
/// the platform returns those records (rule 1001) for the clerk to correct. In the first
/// rounds the market lists of the same firms too ([`LIST_ROUNDS`]), and two rounds later a
/// third of them removed from the list or their commitment settled.
async fn drop_files(settings: Settings, platforms: SocketAddr, opts: &DemoOptions, mut stop: watch::Receiver<bool>) {
    let work = settings.gateway.data_dir.join("demo");
    crate::http_client::install_crypto_provider();
    let http = reqwest::Client::new();
    // Listing dates count back from the first day, so a change file repeats its listings' keys.
    let start = opts.clock.today();
    for round in 0u64.. {
        if let Err(e) = drop_round(&settings, &work, &http, platforms, round, opts).await {
            tracing::warn!(error = %e, round, "the demo could not drop its files");
        }
        if let Err(e) = drop_lists(&settings, round, start, opts) {
            tracing::warn!(error = %e, round, "the demo could not drop its market lists");
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn drop_round(
    settings: &Settings,
    work: &Path,
    http: &reqwest::Client,
    platforms: SocketAddr,
    round: u64,
    opts: &DemoOptions,
) -> Result<(), DemoError> {
    let rows = opts.rows;
    std::fs::create_dir_all(work).map_err(io(work))?;
    let today = opts.clock.today();
    // Decisions of the last three weeks: the older ones are already past their 7 working days.
    let spec = |item, rows, format| SampleSpec {
        item,
        rows,
        seed: DEMO_SEED + round,
        bad_share: 0.03,
        summary_share: 0.02,
        format,
        first_date: today - chrono::Days::new(21),
        days: 21,
        first_number: 0,
    };
    let stamp = opts.clock.now().format("%Y%m%d-%H%M%S");

    let (format, ext) = match round % 3 {
        0 => (SampleFormat::Csv, "csv"),
        1 => (SampleFormat::CsvGbk, "csv"),
        _ => (SampleFormat::Xlsx { title_row: true }, "xlsx"),
    };
    let penalties = spec(SampleItem::Penalties, rows, format);
    // The same rows as UTF-8 CSV, to pick the companies the platform will return.
    let plain = work.join(format!("round-{round}.csv"));
    write_sample(&SampleSpec { format: SampleFormat::Csv, ..penalties.clone() }, &plain)
        .map_err(|e| DemoError::Io { path: plain.clone(), source: std::io::Error::other(e) })?;
    let returned = companies_to_return(&plain, today, 2);
    let _ = std::fs::remove_file(&plain);
    if !returned.is_empty() {
        let subjects: Vec<serde_json::Value> = returned
            .iter()
            .map(|code| serde_json::json!({"name": registered_name(code), "credit_code": code}))
            .collect();
        let url = format!("http://{platforms}/sandbox/subjects");
        if let Err(e) = http.post(url).json(&subjects).send().await.and_then(|r| r.error_for_status()) {
            tracing::warn!(error = %e, "the demo could not teach the sandbox its subjects");
        }
    }
    let inbox = inbox_of(settings, "market-penalties");
    drop_into(&inbox, &format!("行政处罚-{stamp}-{round}.{ext}"), |p| write_sample(&penalties, p).map(|_| ()))?;
    if round % 2 == 0 {
        let licences = spec(SampleItem::Licences, rows / 2, SampleFormat::Xlsx { title_row: false });
        let name = format!("行政许可-{stamp}-{round}.xlsx");
        drop_into(&inbox_of(settings, "market-licences"), &name, |p| write_sample(&licences, p).map(|_| ()))?;
    }
    Ok(())
}

/// The market lists of round `round`'s firms (the 行政处罚 file of the same seed), listed or
/// committed in the 60 days before `start`; and the changes of round `round − 2`'s, today.
fn drop_lists(settings: &Settings, round: u64, start: NaiveDate, opts: &DemoOptions) -> Result<(), DemoError> {
    let stamp = opts.clock.now().format("%Y%m%d-%H%M%S");
    let spec = |list, rows, seed, changed_on, format| ListSpec {
        list,
        seed,
        rows,
        first_date: start - chrono::Days::new(60),
        days: 45,
        changed_on,
        bad: changed_on.is_none(),
        format,
    };
    let format = |r: u64| if r % 2 == 0 { (ListFormat::CsvGbk, "csv") } else { (ListFormat::Xlsx, "xlsx") };
    for (list, rows, connector) in LIST_ROWS {
        let inbox = inbox_of(settings, connector);
        if round < LIST_ROUNDS {
            let (f, ext) = format(round);
            let listing = spec(list, rows, DEMO_SEED + round, None, f);
            let name = format!("{}-{stamp}-{round}.{ext}", list.name());
            drop_into(&inbox, &name, |p| write_list(&listing, p).map(|_| ()))?;
        }
        if let Some(earlier) = round.checked_sub(LIST_CHANGE_AFTER).filter(|r| *r < LIST_ROUNDS) {
            let (f, ext) = format(round + 1);
            let changes = spec(list, rows, DEMO_SEED + earlier, Some(opts.clock.today()), f);
            let name = format!("{}-变更-{stamp}-{earlier}.{ext}", list.name());
            drop_into(&inbox, &name, |p| write_list(&changes, p).map(|_| ()))?;
        }
    }
    Ok(())
}

/// The inbox of a shipped folder connector.
fn inbox_of(settings: &Settings, connector: &str) -> PathBuf {
    settings
        .connectors
        .iter()
        .find(|c| c.name == connector)
        .and_then(|c| match &c.source {
            crate::connector::SourceSettings::Folder(f) => Some(f.inbox.clone()),
            _ => None,
        })
        .unwrap_or_else(|| settings.gateway.data_dir.join("inbox").join(connector))
}

/// Writes the file under a dot-name the folder connector ignores, then renames it in whole.
fn drop_into(
    inbox: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> Result<(), crate::sim::sample::SampleError>,
) -> Result<(), DemoError> {
    std::fs::create_dir_all(inbox).map_err(io(inbox))?;
    let part = inbox.join(format!(".{name}.part"));
    write(&part).map_err(|e| DemoError::Io { path: part.clone(), source: std::io::Error::other(e) })?;
    let path = inbox.join(name);
    std::fs::rename(&part, &path).map_err(io(&path))
}

/// The name the demo's platform has registered under `code`: a group company's name, with the
/// full-width brackets a legal name keeps, that differs from the one the department reports,
/// so its 1001 return and its 处理建议 show both names.
fn registered_name(code: &str) -> String {
    const WORDS: [&str; 8] = ["恒信", "瑞丰", "金诚", "华创", "润达", "鼎盛", "宏远", "泰和"];
    let n: usize = code.bytes().map(usize::from).sum();
    format!("淮北市{}{}（集团）有限公司", WORDS[n % WORDS.len()], WORDS[(n / WORDS.len()) % WORDS.len()])
}

/// Up to `n` companies (统一社会信用代码) of good-looking rows decided more than two weeks
/// before `today`, so a return leaves them overdue.
fn companies_to_return(csv_file: &Path, today: NaiveDate, n: usize) -> Vec<String> {
    let Ok(mut reader) = csv::Reader::from_path(csv_file) else { return Vec::new() };
    let Ok(header) = reader.headers().cloned() else { return Vec::new() };
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(kind), Some(code), Some(date)) =
        (column("行政相对人类别"), column("统一社会信用代码"), column("处罚决定日期"))
    else {
        return Vec::new();
    };
    let old = today - chrono::Days::new(14);
    let mut out = Vec::new();
    for row in reader.records().flatten() {
        let (Some(k), Some(c), Some(d)) = (row.get(kind), row.get(code), row.get(date)) else { continue };
        let decided = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        if k == "法人及非法人组织"
            && crate::ids::CreditCode::parse(c).is_ok()
            && decided.is_some_and(|d| d < old)
            && !out.iter().any(|o: &String| o == c)
        {
            out.push(c.to_string());
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// The banner `demo` prints.
pub fn banner(login: &DemoLogin, dir: &Path) -> String {
    let mut out = Vec::new();
    let _ = writeln!(out, "\ncredit-gateway 演示 demo 已启动\n");
    let _ = writeln!(out, "  仪表盘 dashboard:  {}", login.url);
    let _ = writeln!(out, "  管理员 admin:      admin / {}", login.admin_password);
    let _ = writeln!(out, "  部门用户 clerk:    market-clerk / {}   (只能看到市场监督管理局)", login.clerk_password);
    let _ = writeln!(out, "  API token (admin): {}", login.admin_token);
    let _ = writeln!(out, "  沙箱平台 sandbox:  http://{}/sandbox/stats", login.platforms);
    let _ =
        writeln!(out, "  工作目录 folder:   {}  (收件箱 data/inbox/*，错误报告在各收件箱的 outbox/)", dir.display());
    let config = dir.join("config/gateway.toml");
    let _ = writeln!(out, "\n  在另一个终端使用演示数据（命令须带 --config）：");
    let _ = writeln!(out, "    credit-gateway --config {} report --month YYYY-MM", config.display());
    let _ = writeln!(out, "    credit-gateway --config {} deadlines --status overdue", config.display());
    let _ = writeln!(out, "    credit-gateway --config {} deliveries", config.display());
    let _ = writeln!(out, "\n  新文件每隔片刻放入收件箱；按 Ctrl-C 停止。 New files keep arriving; Ctrl-C stops.\n");
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn a_folder_the_demo_did_not_make_is_never_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious.txt");
        std::fs::write(&precious, "keep me").unwrap();
        let err = prepare_folder(&shipped(), dir.path()).unwrap_err();
        assert!(matches!(err, DemoError::NotADemoFolder(_)), "{err}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    }

    #[test]
    fn a_demo_folder_starts_afresh_with_its_own_sqlite_store() {
        let dir = tempfile::tempdir().unwrap();
        let demo = dir.path().join("demo");
        prepare_folder(&shipped(), &demo).unwrap();
        std::fs::write(demo.join("old.db"), "old").unwrap();
        let config = prepare_folder(&shipped(), &demo).unwrap();
        assert!(!demo.join("old.db").exists());
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("url = \"sqlite://data/gateway.db\"") && !text.contains("url_env"), "{text}");
        point_at(&demo, "127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap(), "127.0.0.1:3".parse().unwrap())
            .unwrap();
        let settings = Settings::load(&config).unwrap();
        assert_eq!(settings.gateway.listen.to_string(), "127.0.0.1:3");
        assert!(
            settings.destinations.iter().all(|d| d.url.as_ref().is_none_or(|u| u.as_str().contains("127.0.0.1:1/"))),
            "{:?}",
            settings.destinations
        );
        assert!(settings.gateway.database_url.contains(&demo.join("data/gateway.db").display().to_string()));
    }
}
