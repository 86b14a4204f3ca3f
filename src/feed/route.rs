//! Jurisdiction: the division-code table (`config/divisions.toml`, GB/T 2260 codes with renamed
//! and merged divisions) and which lower destinations take a record. Pure.
//!
//! SPEC §3: a record goes by the deciding authority's region; province = first 2 digits +
//! `0000`, city = first 4 + `00`, county = all 6. A destination listing a city takes every
//! record of the city and of its counties; one listing `sectors` only the records of those
//! sectors (`crate::sector`), of our own jurisdiction when it lists no regions.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::delivery::Destination;
use crate::issues::{Issues, check_version};
use crate::sector::Sectors;

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

/// What a lower destination's `regions` and `sectors` are checked against.
pub struct Known<'a> {
    pub divisions: &'a Divisions,
    pub sectors: &'a Sectors,
}

/// The lower destinations that take a record of `item` from `region` in `sector`. A destination
/// listing sectors takes only records of one of them, within its regions, or within our own
/// jurisdiction when it lists none (a city department: 应急管理局 takes 淮北市's 安全生产 records).
pub fn destinations_for<'d>(
    destinations: &'d [Destination],
    divisions: &Divisions,
    item: &str,
    region: &str,
    sector: Option<&str>,
) -> Vec<&'d Destination> {
    destinations_for_sectors(destinations, divisions, item, region, sector.as_slice())
}

/// The lower destinations that take a record of `item` from `region` with any of `sectors` (a
/// 分级分类结果 has its reasons' sectors, several or none): as [`destinations_for`], a
/// destination listing sectors takes the record when one of them is among `sectors`.
pub fn destinations_for_sectors<'d>(
    destinations: &'d [Destination],
    divisions: &Divisions,
    item: &str,
    region: &str,
    sectors: &[&str],
) -> Vec<&'d Destination> {
    let own = divisions.own();
    destinations
        .iter()
        .filter(|d| d.enabled && d.is_lower() && d.items.iter().any(|i| i == item))
        .filter(|d| match d.regions.is_empty() {
            false => d.regions.iter().any(|area| divisions.within(region, area)),
            true => own.is_some_and(|area| divisions.within(region, area)),
        })
        .filter(|d| d.sectors.is_empty() || sectors.iter().any(|s| d.sectors.iter().any(|x| x == s)))
        .collect()
}

/// Lower destinations must name divisions of today (an old code would silently take nothing)
/// and sectors of `sectors.toml` for items it gives sectors to (else they would take nothing).
pub fn check_destinations(destinations: &[Destination], known: &Known<'_>, dir: &Path, issues: &mut Issues) {
    for d in destinations {
        let file = dir.join(format!("{}.toml", d.name));
        for r in &d.regions {
            let now = known.divisions.current(r);
            if now != r {
                issues.push(&file, "regions", format!("division {r} was renamed or merged into {now}"));
            }
        }
        if d.sectors.is_empty() {
            continue;
        }
        for s in &d.sectors {
            if !known.sectors.is_known(s) {
                let names: Vec<&str> = known.sectors.names().collect();
                let listed = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                issues.push(&file, "sectors", format!("unknown sector {s:?} (sectors.toml lists {listed})"));
            }
        }
        for item in d.items.iter().filter(|i| !known.sectors.covers(i)) {
            issues.push(
                &file,
                "sectors",
                format!("sectors.toml gives {item} no sector: this destination would take none"),
            );
        }
        if d.regions.is_empty() && known.divisions.own().is_none() {
            issues.push(
                &file,
                "regions",
                "sectors without regions take our own jurisdiction, but divisions.toml names no `own`",
            );
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

    fn destination(name: &str, body: &str) -> Destination {
        let text = format!("version = 1\ntitle = \"{name}\"\nadapter = \"folder\"\noutbound = \"out/{name}\"\n{body}");
        let mut issues = Issues::default();
        let file = Path::new("destinations").join(format!("{name}.toml"));
        let catalogue = crate::catalogue::shipped_for_tests();
        let d =
            Destination::from_spec(&file, toml::from_str(&text).unwrap(), Path::new("/srv"), &catalogue, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
        d.unwrap()
    }

    /// 淮北市 (the shipped table): the city, its emergency bureau (安全生产, our own jurisdiction),
    /// and Hefei's emergency bureau (安全生产, but 340100).
    fn huaibei() -> Vec<Destination> {
        vec![
            destination("city", "items = [\"CF\", \"MKT_YZWF\"]\nregions = [\"340600\"]\n"),
            destination("emergency", "items = [\"CF\", \"MKT_YZWF\"]\nsectors = [\"安全生产\"]\n"),
            destination("hefei-emergency", "items = [\"CF\"]\nregions = [\"340100\"]\nsectors = [\"安全生产\"]\n"),
        ]
    }

    fn names(ds: Vec<&Destination>) -> Vec<&str> {
        ds.into_iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn a_safety_record_goes_to_the_emergency_bureau_and_the_city_a_food_one_to_the_city_only() {
        let (ds, t) = (huaibei(), shipped_for_tests());
        let sectors = crate::sector::shipped_for_tests();
        let catalogue = crate::catalogue::shipped_for_tests();
        let cf = catalogue.item("CF").unwrap();
        let sector_of = |conduct: &str| {
            let mut v = vec![None; cf.fields.len()];
            v[cf.field_index("CF_WFXW").unwrap()] = Some(conduct.to_string());
            sectors.of(cf, &v, None).map(str::to_string)
        };
        let safety = sector_of("未按规定开展安全生产教育和培训");
        let food = sector_of("经营超过保质期的食品");
        assert_eq!((safety.as_deref(), food.as_deref()), (Some("安全生产"), Some("食品药品")));
        // 相山区 (340603) lies within 淮北市, our own jurisdiction.
        assert_eq!(names(destinations_for(&ds, &t, "CF", "340603", safety.as_deref())), ["city", "emergency"]);
        assert_eq!(names(destinations_for(&ds, &t, "CF", "340603", food.as_deref())), ["city"]);
        assert_eq!(names(destinations_for(&ds, &t, "CF", "340600", None)), ["city"], "no sector: region only");
        assert_eq!(names(destinations_for(&ds, &t, "MKT_YZWF", "340621", Some("安全生产"))), ["city", "emergency"]);
        assert!(destinations_for(&ds, &t, "XK", "340603", Some("安全生产")).is_empty(), "an item none of them takes");
    }

    #[test]
    fn a_record_of_several_sectors_goes_where_any_of_them_is_taken() {
        let (mut ds, t) = (huaibei(), shipped_for_tests());
        for d in &mut ds {
            d.items.push("FJFL".into());
        }
        let food = destination("food", "items = [\"FJFL\"]\nsectors = [\"食品药品\"]\n");
        ds.push(food);
        let to = |region: &str, sectors: &[&str]| names(destinations_for_sectors(&ds, &t, "FJFL", region, sectors));
        assert_eq!(to("340603", &["安全生产", "食品药品"]), ["city", "emergency", "food"]);
        assert_eq!(to("340603", &["食品药品"]), ["city", "food"]);
        assert_eq!(to("340603", &[]), ["city"], "no sector: the destinations without sectors only");
        assert_eq!(to("340102", &["安全生产"]), ["hefei-emergency"], "合肥: by region too");
        assert!(to("341800", &["安全生产"]).is_empty(), "宣城 is nobody's here");
    }

    #[test]
    fn a_sector_destination_out_of_region_takes_nothing() {
        let (ds, t) = (huaibei(), shipped_for_tests());
        // A 安全生产 record of 宿州市 (341300): neither our city nor Hefei.
        assert!(destinations_for(&ds, &t, "CF", "341300", Some("安全生产")).is_empty());
        // Hefei's own records go to Hefei's bureau only: ours takes our jurisdiction.
        assert_eq!(names(destinations_for(&ds, &t, "CF", "340102", Some("安全生产"))), ["hefei-emergency"]);
        // Without `own`, a destination listing sectors and no regions takes nothing.
        assert!(destinations_for(&ds[1..2], &Divisions::default(), "CF", "340603", Some("安全生产")).is_empty());
    }

    #[test]
    fn contradictions_in_sector_destinations_are_issues() {
        let sectors = crate::sector::shipped_for_tests();
        let ds = vec![
            destination("ok", "items = [\"CF\"]\nsectors = [\"安全生产\", \"消防\"]\n"),
            destination("typo", "items = [\"CF\"]\nsectors = [\"安全生厂\"]\n"),
            destination("xk", "items = [\"XK\"]\nsectors = [\"消防\"]\n"),
        ];
        let mut issues = Issues::default();
        let known = Known { divisions: &shipped_for_tests(), sectors: &sectors };
        check_destinations(&ds, &known, Path::new("destinations"), &mut issues);
        let mut no_own = Issues::default();
        check_destinations(
            &ds[..1],
            &Known { divisions: &Divisions::default(), sectors: &sectors },
            Path::new("destinations"),
            &mut no_own,
        );
        let all: Vec<String> = issues.iter().chain(no_own.iter()).map(ToString::to_string).collect();
        assert_eq!(
            all,
            [
                "destinations/typo.toml: sectors: unknown sector \"安全生厂\" (sectors.toml lists 特种设备, 安全生产, 消防, 食品药品, 生态环境, 税务)",
                "destinations/xk.toml: sectors: sectors.toml gives XK no sector: this destination would take none",
                "destinations/ok.toml: regions: sectors without regions take our own jurisdiction, but divisions.toml names no `own`",
            ]
        );
    }

    #[test]
    fn the_shipped_emergency_bureau_agrees_with_the_shipped_sectors_and_divisions() {
        let catalogue = crate::catalogue::shipped_for_tests();
        let (t, sectors) = (shipped_for_tests(), crate::sector::shipped_for_tests());
        let file = Path::new("config/destinations/emergency-huaibei.toml");
        let spec = toml::from_str(include_str!("../../config/destinations/emergency-huaibei.toml")).unwrap();
        let mut issues = Issues::default();
        let d = Destination::from_spec(file, spec, Path::new("/srv"), &catalogue, &mut issues).unwrap();
        let ds = [d];
        check_destinations(
            &ds,
            &Known { divisions: &t, sectors: &sectors },
            Path::new("config/destinations"),
            &mut issues,
        );
        assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
        // 濉溪县 lies within 淮北市.
        assert_eq!(names(destinations_for(&ds, &t, "MKT_YZWF", "340621", Some("安全生产"))), ["emergency-huaibei"]);
        assert!(destinations_for(&ds, &t, "CF", "340621", Some("食品药品")).is_empty());
        assert!(destinations_for(&ds, &t, "CF", "341300", Some("安全生产")).is_empty(), "宿州市 is not ours");
    }
}
