//! Reading declarative files: one TOML file into its serde shape, and a folder's `.toml` files.
//! The only place declarative configuration touches the file system.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::issues::Issues;

/// Reads and parses one TOML file into its serde shape, recording any failure.
pub fn read_toml<T: DeserializeOwned>(path: &Path, issues: &mut Issues) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            issues.push(path, "", format!("cannot read: {err}"));
            return None;
        }
    };
    match toml::from_str::<T>(&text) {
        Ok(value) => Some(value),
        Err(err) => {
            let at = err
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}")
                })
                .unwrap_or_default();
            issues.push(path, at, err.message().to_string());
            None
        }
    }
}

/// The `.toml` files of a folder, sorted so errors and ids come out in a stable order.
pub fn toml_files(dir: &Path, issues: &mut Issues, config_file: &Path, key: &str) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            issues.push(config_file, key, format!("cannot read folder {}: {err}", dir.display()));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}
