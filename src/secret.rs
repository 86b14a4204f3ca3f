//! Secrets (API tokens, passwords, database URLs with passwords): read from the environment or
//! a file when needed, never from the declarative files themselves, and never printed.

use std::fmt;
use std::path::PathBuf;

/// A secret value; `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from, as declared (`token_env = "…"` or `token_file = "…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    /// Read at each use, so a rotated file takes effect without a restart. Trailing
    /// whitespace (the newline editors add) is dropped.
    File(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("cannot read secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("secret file {0} is empty")]
    Empty(PathBuf),
}

impl SecretSource {
    /// From a pair of optional `*_env` / `*_file` keys; `None` when neither is given.
    pub fn from_keys(env: Option<String>, file: Option<PathBuf>) -> Option<SecretSource> {
        match (env, file) {
            (Some(env), _) => Some(SecretSource::Env(env)),
            (None, Some(file)) => Some(SecretSource::File(file)),
            (None, None) => None,
        }
    }

    pub fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(SecretError::EnvMissing(name.clone())),
            },
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SecretError::File { path: path.clone(), reason: e.to_string() })?;
                let value = text.trim_end();
                if value.is_empty() {
                    return Err(SecretError::Empty(path.clone()));
                }
                Ok(Secret(value.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_secret_drops_the_newline_and_refuses_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(SecretSource::File(path.clone()).read().unwrap().expose(), "abc");
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(SecretSource::File(path.clone()).read(), Err(SecretError::Empty(path)));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = SecretSource::Env("CREDIT_GATEWAY_TEST_NO_SUCH_VAR".into()).read().unwrap_err();
        assert_eq!(err.to_string(), "environment variable CREDIT_GATEWAY_TEST_NO_SUCH_VAR is not set");
    }
}
