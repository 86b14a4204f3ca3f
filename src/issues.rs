//! Mistakes in declarative files, collected as `file: key: expectation`.
//!
//! A leaf: domain modules build their types from serde specs and report here, without knowing
//! where the specs were read (that is `config`'s job).

use std::fmt;
use std::path::{Path, PathBuf};

/// One mistake in one declarative file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// Every mistake found while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigIssue>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.0.len())?;
        for issue in &self.0 {
            writeln!(f, "  {issue}")?;
        }
        Ok(())
    }
}

/// Collects issues while files are loaded and validated.
#[derive(Debug, Default)]
pub struct Issues(Vec<ConfigIssue>);

impl Issues {
    pub fn push(&mut self, file: &Path, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue { file: file.to_path_buf(), key: key.into(), message: message.into() });
    }

    /// Issues only grow: comparing lengths tells whether a step added any.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The issues so far, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigIssue> {
        self.0.iter()
    }

    pub fn into_error(self) -> ConfigError {
        ConfigError(self.0)
    }

    pub fn into_result<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() { Ok(value) } else { Err(ConfigError(self.0)) }
    }
}

/// Checks the `version = 1` every declarative file starts with.
pub fn check_version(path: &Path, version: u32, issues: &mut Issues) {
    if version != 1 {
        issues.push(path, "version", format!("expected 1, found {version}"));
    }
}
