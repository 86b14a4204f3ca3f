//! Jurisdiction: the division-code table (`config/divisions.toml`, GB/T 2260 codes with renamed
//! and merged divisions) and which lower destinations take a record. Pure.
//!
//! SPEC §3: a record goes by the deciding authority's region; province = first 2 digits +
//! `0000`, city = first 4 + `00`, county = all 6. A destination listing a city takes every
//! record of the city and of its counties.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::delivery::Destination;
use crate::issues::{Issues, check_version};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivisionsSpec {
    version: u32,
    /// Our own jurisdiction: records of it that come down but no department reported are
    /// flagged (漏报/瞒报 candidates).
    own: String,
    #[serde(default)]
    divisions: Vec<DivisionSpec>,
    #[serde(default)]
    renamed: Vec<RenamedSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DivisionSpec {
    code: String,
    name: String,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenamedSpec {
    old: String,
    new: String,
    /// The State Council approval or the date, for the reader.
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// The division-code table.
#[derive(Debug, Clone, Default)]
pub struct Divisions {
    own: Option<String>,
    by_code: HashMap<String, Division>,
    /// Old code → new code (a merged district's code → the code it joined).
    renamed: HashMap<String, String>,
}

fn is_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Divisions {
    /// The table of `divisions.toml` (without that file: [`Divisions::default`], routing by
    /// code structure only).
    pub fn from_spec(file: &Path, spec: DivisionsSpec, issues: &mut Issues) -> Divisions {
        check_version(file, spec.version, issues);
        let mut by_code = HashMap::new();
        for (i, d) in spec.divisions.into_iter().enumerate() {
            if !is_code(&d.code) {
                issues.push(
                    file,
                    format!("divisions[{i}].code"),
                    format!("expected a 6-digit code, found {:?}", d.code),
                );
                continue;
            }
            if by_code.contains_key(&d.code) {
                issues.push(file, format!("divisions[{i}].code"), format!("{} is listed twice", d.code));
            }
            by_code.insert(d.code.clone(), Division { code: d.code, name: d.name, parent: d.parent });
        }
        for (code, d) in &by_code {
            if let Some(p) = &d.parent
                && !by_code.contains_key(p)
            {
                issues.push(file, "divisions", format!("{code}: parent {p} is not in the table"));
            }
        }
        let mut renamed = HashMap::new();
        for (i, r) in spec.renamed.into_iter().enumerate() {
            if !is_code(&r.old) || !is_code(&r.new) {
                issues.push(file, format!("renamed[{i}]"), "expected 6-digit `old` and `new` codes");
                continue;
            }
            if !by_code.contains_key(&r.new) {
                issues.push(file, format!("renamed[{i}].new"), format!("{} is not in the table", r.new));
            }
            // `note` (the approval) is for whoever reads the file; routing needs old → new.
            let RenamedSpec { old, new, note } = r;
            drop(note);
            renamed.insert(old, new);
        }
        // A chain that comes back to itself would never end.
        for start in renamed.keys() {
            let mut at = start;
            for _ in 0..=renamed.len() {
                match renamed.get(at) {
                    Some(next) if next == start => {
                        issues.push(file, "renamed", format!("{start} is renamed in a circle"));
                        break;
                    }
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        if !is_code(&spec.own) {
            issues.push(file, "own", format!("expected a 6-digit code, found {:?}", spec.own));
        }
        Divisions { own: Some(spec.own), by_code, renamed }
    }

    /// Our own jurisdiction, when the table names it.
    pub fn own(&self) -> Option<&str> {
        self.own.as_deref()
    }

    pub fn get(&self, code: &str) -> Option<&Division> {
        self.by_code.get(code)
    }

    /// Today's code for `code`, following renames and mergers.
    pub fn current<'a>(&'a self, code: &'a str) -> &'a str {
        let mut at = code;
        for _ in 0..=self.renamed.len() {
            match self.renamed.get(at) {
                Some(next) => at = next,
                None => break,
            }
        }
        at
    }

    /// Whether `code` lies within `area` (itself, or a county of a city, …). By the table's
    /// parents where the code is listed, else by the code's structure (SPEC §3).
    pub fn within(&self, code: &str, area: &str) -> bool {
        let code = self.current(code);
        let area = self.current(area);
        let mut at = code.to_string();
        for _ in 0..4 {
            if at == area {
                return true;
            }
            let parent = match self.by_code.get(&at).and_then(|d| d.parent.clone()) {
                Some(p) => p,
                None => structural_parent(&at).unwrap_or_default(),
            };
            if parent.is_empty() || parent == at {
                return false;
            }
            at = parent;
        }
        false
    }

    /// `LIKE` prefix that covers an area: `3301` for a city, `33` for a province.
    pub fn prefix(area: &str) -> &str {
        if area.ends_with("0000") {
            &area[..2]
        } else if area.ends_with("00") {
            &area[..4]
        } else {
            area
        }
    }
}

/// County → city → province by the code itself.
fn structural_parent(code: &str) -> Option<String> {
    if !is_code(code) || code.ends_with("0000") {
        None
    } else if code.ends_with("00") {
        Some(format!("{}0000", &code[..2]))
    } else {
        Some(format!("{}00", &code[..4]))
    }
}

/// The lower destinations that take a record of `item` from `region`.
pub fn destinations_for<'d>(
    destinations: &'d [Destination],
    divisions: &Divisions,
    item: &str,
    region: &str,
) -> Vec<&'d Destination> {
    destinations
        .iter()
        .filter(|d| d.enabled && d.is_lower() && d.items.iter().any(|i| i == item))
        .filter(|d| d.regions.iter().any(|area| divisions.within(region, area)))
        .collect()
}

/// Lower destinations must name divisions of today: an old code would silently take nothing.
pub fn check_destinations(destinations: &[Destination], divisions: &Divisions, dir: &Path, issues: &mut Issues) {
    for d in destinations {
        for r in &d.regions {
            let now = divisions.current(r);
            if now != r {
                issues.push(
                    &dir.join(format!("{}.toml", d.name)),
                    "regions",
                    format!("division {r} was renamed or merged into {now}"),
                );
            }
        }
    }
}

/// The shipped table built from its file's text, for unit tests.
#[cfg(test)]
pub(crate) fn shipped_for_tests() -> Divisions {
    let spec = toml::from_str(include_str!("../../config/divisions.toml")).expect("divisions.toml parses");
    let mut issues = Issues::default();
    let divisions = Divisions::from_spec(Path::new("config/divisions.toml"), spec, &mut issues);
    assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
    divisions
}

/// Hangzhou's table (with its merged districts), the feed tests' fixture.
#[cfg(test)]
pub(crate) fn hangzhou_for_tests() -> Divisions {
    let spec =
        toml::from_str(include_str!("../../tests/fixtures/divisions-hangzhou.toml")).expect("the fixture parses");
    let mut issues = Issues::default();
    let divisions = Divisions::from_spec(Path::new("tests/fixtures/divisions-hangzhou.toml"), spec, &mut issues);
    assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
    divisions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_built_from_its_spec_and_mistakes_named() {
        let spec = toml::from_str(
            r#"
version = 1
own = "330100"
divisions = [
  { code = "330100", name = "杭州市" },
  { code = "330102", name = "上城区", parent = "330100" },
  { code = "33010", name = "short" },
  { code = "330106", name = "西湖区", parent = "339900" },
]
renamed = [{ old = "330104", new = "330102", note = "国函〔2021〕" }, { old = "330103", new = "330199" }]
"#,
        )
        .unwrap();
        let mut issues = Issues::default();
        let t = Divisions::from_spec(Path::new("divisions.toml"), spec, &mut issues);
        assert_eq!(t.own(), Some("330100"));
        assert_eq!(t.current("330104"), "330102");
        assert!(t.within("330104", "330100"));
        let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            issues,
            [
                "divisions.toml: divisions[2].code: expected a 6-digit code, found \"33010\"",
                "divisions.toml: divisions: 330106: parent 339900 is not in the table",
                "divisions.toml: renamed[1].new: 330199 is not in the table",
            ]
        );
        assert!(shipped_for_tests().own().is_some());
    }

    fn table() -> Divisions {
        let mut by_code = HashMap::new();
        for (code, parent) in [("330000", None), ("330100", Some("330000")), ("330102", Some("330100"))] {
            by_code.insert(
                code.to_string(),
                Division { code: code.into(), name: code.into(), parent: parent.map(str::to_string) },
            );
        }
        let renamed = HashMap::from([("330104".to_string(), "330102".to_string())]);
        Divisions { own: Some("330100".into()), by_code, renamed }
    }

    #[test]
    fn a_county_lies_within_its_city_and_province_but_not_a_neighbour() {
        let t = table();
        assert!(t.within("330102", "330102"));
        assert!(t.within("330102", "330100"));
        assert!(t.within("330102", "330000"));
        assert!(!t.within("330102", "330106"));
        assert!(!t.within("330100", "330102"), "a city record is not a county's");
        // Not in the table: by the code's structure.
        assert!(t.within("330106", "330100"));
        assert!(!t.within("330206", "330100"));
    }

    #[test]
    fn a_merged_district_routes_to_the_one_it_joined() {
        let t = table();
        assert_eq!(t.current("330104"), "330102");
        assert!(t.within("330104", "330102"));
    }

    #[test]
    fn prefixes_cover_the_area() {
        assert_eq!(Divisions::prefix("330000"), "33");
        assert_eq!(Divisions::prefix("330100"), "3301");
        assert_eq!(Divisions::prefix("330102"), "330102");
    }
}
