//! A cgroup (v1 cpu controller) per benchmarked process, limited to a share of one core, so
//! that instances on one machine behave as separate small machines (`bench scale --cpu-quota`).
//! The group is removed when dropped (its process must have exited by then).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the v1 cpu controller is mounted.
const CPU_CONTROLLER: &str = "/sys/fs/cgroup/cpu";
/// The scheduler period the quota is a share of, in microseconds.
const PERIOD_US: u64 = 100_000;

pub struct CpuGroup {
    dir: PathBuf,
}

impl CpuGroup {
    /// A new group `name` allowed `cores` of one core (0.5: half).
    pub fn new(name: &str, cores: f64) -> anyhow::Result<CpuGroup> {
        anyhow::ensure!(cores > 0.0 && cores <= 64.0, "--cpu-quota takes a share of a core above 0, such as 0.5");
        let root = Path::new(CPU_CONTROLLER);
        anyhow::ensure!(
            root.join("cpu.cfs_quota_us").exists(),
            "{CPU_CONTROLLER} is not a mounted cgroup v1 cpu controller"
        );
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating the cgroup {}", dir.display()))?;
        let group = CpuGroup { dir };
        group.write("cpu.cfs_period_us", &PERIOD_US.to_string())?;
        group.write("cpu.cfs_quota_us", &((cores * PERIOD_US as f64).round() as u64).to_string())?;
        Ok(group)
    }

    /// Moves process `pid` (and the threads it starts after) into the group.
    pub fn add(&self, pid: u32) -> anyhow::Result<()> {
        self.write("cgroup.procs", &pid.to_string())
    }

    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).with_context(|| format!("writing {value} to {}", path.display()))
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // A group still holding a process cannot be removed: the bench kills and waits first.
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove the cgroup {}: {e}", self.dir.display());
        }
    }
}
