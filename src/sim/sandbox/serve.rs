//! `credit-gateway sandbox`: the simulated platforms and department sources, together, until
//! Ctrl-C, so the shipped configuration runs with no real department or platform.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::departments::{self, DepartmentSources};
use super::platforms::{self as platform, SandboxOptions};
use crate::clock::Clock;
use crate::config::Settings;

/// Where the sandbox listens and keeps its files.
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// The platforms (`/platforms/{name}/json|xml`, `/sandbox/stats`): 127.0.0.1:8090.
    pub platforms: SocketAddr,
    /// The department APIs (tax, court): 127.0.0.1:8091; `None`: platforms only.
    pub departments: Option<SocketAddr>,
    /// The utilities' SQLite database the shipped sql connector reads.
    pub utilities_db: PathBuf,
    /// File-exchange folders of the platforms.
    pub exchange: PathBuf,
    /// A subject base library (CSV `name,credit_code`), if any.
    pub subjects: Option<PathBuf>,
    /// A subject the library does not know is returned (1001) too, not only a known code
    /// under another name.
    pub strict_subjects: bool,
    /// New department records every this often.
    pub every: Duration,
    /// The department sources' time (`--now`).
    pub clock: Clock,
}

impl SandboxPlan {
    pub fn for_settings(settings: &Settings) -> SandboxPlan {
        let data = &settings.gateway.data_dir;
        SandboxPlan {
            platforms: SocketAddr::from(([127, 0, 0, 1], 8090)),
            departments: Some(SocketAddr::from(([127, 0, 0, 1], 8091))),
            utilities_db: data.join("sandbox").join("utilities.db"),
            exchange: data.join("exchange"),
            subjects: None,
            strict_subjects: false,
            every: Duration::from_secs(20),
            clock: Clock::real(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("sandbox platforms: {0}")]
    Platform(String),
    #[error("sandbox departments on {addr}: {source}")]
    Departments { addr: SocketAddr, source: std::io::Error },
}

/// Runs both sandboxes until `shutdown`; `ready` is told the platform and department addresses.
pub async fn run(
    settings: &Settings,
    plan: SandboxPlan,
    ready: impl FnOnce(SocketAddr, Option<SocketAddr>),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    let platforms = platform::start(SandboxOptions {
        listen: plan.platforms,
        subjects: plan.subjects.clone(),
        exchange: Some(plan.exchange.clone()),
        secrets: Default::default(),
        catalogue: Arc::new(settings.catalogue.clone()),
    })
    .await
    .map_err(|e| ServeError::Platform(e.to_string()))?;
    platforms.set_strict_subjects(plan.strict_subjects);
    let Some(departments_addr) = plan.departments else {
        ready(platforms.addr(), None);
        shutdown.await;
        platforms.shutdown().await;
        return Ok(());
    };
    let now = departments::shanghai_wall_time(&plan.clock);
    let sources =
        Arc::new(DepartmentSources::with_backlog(1, now, plan.every, 200).with_gateway_clock(plan.clock.clone()));
    let server = departments::serve(departments_addr, sources.clone())
        .await
        .map_err(|source| ServeError::Departments { addr: departments_addr, source })?;
    write_secrets(&settings.gateway.data_dir.join("secrets"))
        .map_err(|source| ServeError::Departments { addr: departments_addr, source })?;
    ready(platforms.addr(), Some(server.addr));
    let url = format!("sqlite://{}", plan.utilities_db.display());
    let feed = async {
        loop {
            if let Err(e) =
                departments::write_utility_db(&url, &sources, departments::shanghai_wall_time(&plan.clock)).await
            {
                tracing::warn!(error = %e, "cannot write the sandbox utilities table");
            }
            tokio::time::sleep(plan.every).await;
        }
    };
    tokio::select! {
        _ = feed => {}
        _ = shutdown => {}
    }
    let _ = server.shutdown().await;
    platforms.shutdown().await;
    Ok(())
}

/// The sandbox's department credentials, where the shipped connectors read them.
fn write_secrets(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, value) in
        [("tax-api.token", departments::DEFAULT_TAX_TOKEN), ("court-api.key", departments::DEFAULT_COURT_KEY)]
    {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, format!("{value}\n"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}
