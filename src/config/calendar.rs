//! The calendar folder (`config/calendar/YYYY.toml`): read at load, and again by the daemon
//! whenever a year's file is added or changed.

use std::path::Path;

use crate::calendar::{Calendar, CalendarError, CalendarYear, YearSpec};

/// Reads every `YYYY.toml` of a folder, collecting every mistake as `file: key: message`.
pub fn load_calendar_dir(dir: &Path) -> Result<Calendar, CalendarError> {
    let mut issues = Vec::new();
    let mut years = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(CalendarError::new(vec![format!("{}: cannot read the folder: {e}", dir.display())])),
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        match read_year(&file) {
            Ok(y) => years.push(y),
            Err(mut e) => issues.append(&mut e),
        }
    }
    if issues.is_empty() { Ok(Calendar::from_years(years)) } else { Err(CalendarError::new(issues)) }
}

fn read_year(file: &Path) -> Result<CalendarYear, Vec<String>> {
    let name = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("{name}: cannot read: {e}")])?;
    let spec: YearSpec = toml::from_str(&text).map_err(|e| vec![format!("{name}: {}", e.message())])?;
    CalendarYear::from_spec(file, spec)
}

/// Keeps `Calendar::load_dir(dir)` for callers above `config` (the daemon re-reads the folder),
/// while the calendar itself does no IO.
pub trait CalendarFolder {
    fn load_dir(dir: &Path) -> Result<Calendar, CalendarError>;
}

impl CalendarFolder for Calendar {
    fn load_dir(dir: &Path) -> Result<Calendar, CalendarError> {
        load_calendar_dir(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mistake_in_the_calendar_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("2030.toml"),
            "version = 1\nyear = 2031\nnotice = \"x\"\n[[holidays]]\nname = \"元旦\"\nfrom = \"2031-01-02\"\nto = \"2030-12-31\"\nworkdays = [\"2031-01-07\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("2032.toml"), "version = 1\nyear = 2032\nnotice = \"x\"\ncolour = 1\n").unwrap();
        let err = load_calendar_dir(dir.path()).unwrap_err();
        let all = err.issues().join("\n");
        for want in
            ["must be named 2031.toml", "is after", "2030-12-31 is not in 2031", "Tue", "unknown field `colour`"]
        {
            assert!(all.contains(want), "{want} in {all}");
        }
    }

    #[test]
    fn the_shipped_folder_loads() {
        let calendar = load_calendar_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar")).unwrap();
        assert!(calendar.has_year(2026));
    }
}
