//! 领域 (sector) of a record: the keyword rule `publicity` and the reverse feeds share, and the
//! sector table of `config/sectors.toml`, by which the lists the upper platforms send down go
//! "按不同领域推送市各有关部门" (seed 001), to the departments that apply joint punishment. Pure.
//!
//! A feed record's sector is, in order: the sector the platform names (the record's `sector`
//! beside `region`, else the item's configured 领域 field), matched by name or alias; else the
//! first sector, in the table's order, one of whose words appears in one of the item's `read`
//! fields. Only items the table lists get a sector.

use std::path::Path;

use serde::Deserialize;

use crate::catalogue::{Catalogue, Item};
use crate::issues::{Issues, check_version};

/// A sector named when one of `fields` mentions one of its words: `publicity` reads roles of a
/// penalty (authority, conduct, basis), the feeds an item's fields by index.
#[derive(Debug, Clone)]
pub struct KeywordRule<F> {
    pub name: String,
    pub fields: Vec<F>,
    /// A searcher per word, made once: ingest searches every row's texts for every word, and
    /// `str::contains` sets its searcher up again on each call.
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl<F> KeywordRule<F> {
    pub fn new(name: String, fields: Vec<F>, contains: &[String]) -> KeywordRule<F> {
        let finders = contains.iter().map(|w| memchr::memmem::Finder::new(w.as_bytes()).into_owned()).collect();
        KeywordRule { name, fields, finders }
    }

    /// The words, as configured.
    pub fn contains(&self) -> impl Iterator<Item = &str> {
        self.finders.iter().map(|f| std::str::from_utf8(f.needle()).unwrap_or_default())
    }

    fn mentioned_in(&self, text: &str) -> bool {
        self.finders.iter().any(|f| f.find(text.as_bytes()).is_some())
    }
}

impl<F: PartialEq> PartialEq for KeywordRule<F> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.fields == other.fields && self.contains().eq(other.contains())
    }
}

impl<F: Eq> Eq for KeywordRule<F> {}

/// The first rule whose words appear in one of its fields' texts. Runs per row: no allocation.
pub fn first_match<'r, 't, F: Copy>(
    rules: &'r [KeywordRule<F>],
    text: impl Fn(F) -> Option<&'t str>,
) -> Option<&'r str> {
    rules.iter().find(|r| r.fields.iter().filter_map(|f| text(*f)).any(|t| r.mentioned_in(t))).map(|r| r.name.as_str())
}

/// The serde shape of `config/sectors.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectorsSpec {
    version: u32,
    /// The regulation or seed the table serves, for the reader.
    #[serde(rename = "serves")]
    _serves: String,
    #[serde(default)]
    sectors: Vec<SectorSpec>,
    #[serde(default)]
    items: Vec<ItemSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectorSpec {
    name: String,
    /// What a platform may write for it in a 领域 field, besides the name.
    #[serde(default)]
    aliases: Vec<String>,
    /// Words that put a record in this sector when an item's `read` field holds one.
    #[serde(default)]
    contains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    item: String,
    /// The item's field holding the sector as the platform sends it (领域/所属领域/行业).
    #[serde(default)]
    field: Option<String>,
    /// Fields searched for the sectors' words (违法行为类型, 处罚依据, 列入原因, …).
    #[serde(default)]
    read: Vec<String>,
    /// Where the sectors come from when not from the record's own fields: `reasons`, the
    /// records a 分级分类结果 rests on (its grade's reasons), each by its own item's rule.
    #[serde(default)]
    from: Option<SectorSource>,
}

/// Where an item's records get their sectors from, when not from their own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SectorSource {
    /// The sectors of the records behind it (a grade's reasons): several, or none.
    Reasons,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sector {
    name: String,
    aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemSectors {
    item: String,
    /// The sectors are those of the record's reasons (`from = "reasons"`), not its fields'.
    from_reasons: bool,
    field: Option<usize>,
    /// One rule per sector, in the table's order, over the item's `read` fields.
    rules: Vec<KeywordRule<usize>>,
}

/// The sectors of `config/sectors.toml`; empty (no sector routing) without that file.
#[derive(Debug, Clone, Default)]
pub struct Sectors {
    sectors: Vec<Sector>,
    items: Vec<ItemSectors>,
}

impl Sectors {
    /// The table, checked against the catalogue's items and fields.
    pub fn from_spec(file: &Path, spec: SectorsSpec, catalogue: &Catalogue, issues: &mut Issues) -> Sectors {
        check_version(file, spec.version, issues);
        let mut sectors: Vec<Sector> = Vec::new();
        for (i, s) in spec.sectors.iter().enumerate() {
            if s.name.trim().is_empty() {
                issues.push(file, format!("sectors[{i}].name"), "expected a sector name");
            }
            for word in std::iter::once(&s.name).chain(&s.aliases) {
                if let Some(other) = sectors.iter().find(|o| o.name == *word || o.aliases.contains(word)) {
                    issues.push(file, format!("sectors[{i}]"), format!("{word:?} already names sector {}", other.name));
                }
            }
            if s.contains.iter().any(|w| w.trim().is_empty()) {
                issues.push(file, format!("sectors[{i}].contains"), "an empty word would match every record");
            }
            sectors.push(Sector { name: s.name.clone(), aliases: s.aliases.clone() });
        }
        let mut items: Vec<ItemSectors> = Vec::new();
        for (i, s) in spec.items.into_iter().enumerate() {
            let Some(item) = catalogue.item(&s.item) else {
                issues.push(file, format!("items[{i}].item"), format!("unknown catalogue item {:?}", s.item));
                continue;
            };
            if items.iter().any(|x| x.item == s.item) {
                issues.push(file, format!("items[{i}].item"), format!("item {} is listed twice", s.item));
            }
            let from_reasons = s.from == Some(SectorSource::Reasons);
            if from_reasons && (s.field.is_some() || !s.read.is_empty()) {
                issues.push(
                    file,
                    format!("items[{i}].from"),
                    "sectors from the reasons read no field of the record: drop `field` and `read`",
                );
            }
            if !from_reasons && s.field.is_none() && s.read.is_empty() {
                issues.push(
                    file,
                    format!("items[{i}]"),
                    "name a `field` or the fields to `read`, or `from = \"reasons\"`",
                );
            }
            let mut index = |key: &str, at: &str| {
                let found = item.field_index(key);
                if found.is_none() {
                    issues.push(file, format!("items[{i}].{at}"), format!("{} has no field {key}", s.item));
                }
                found
            };
            let field = s.field.as_deref().and_then(|k| index(k, "field"));
            let read: Vec<usize> = s.read.iter().filter_map(|k| index(k, "read")).collect();
            let rules = spec
                .sectors
                .iter()
                .filter(|x| !x.contains.is_empty())
                .map(|x| KeywordRule::new(x.name.clone(), read.clone(), &x.contains))
                .collect();
            items.push(ItemSectors { item: s.item, from_reasons, field, rules });
        }
        Sectors { sectors, items }
    }

    /// Whether `name` is one of the table's sectors.
    pub fn is_known(&self, name: &str) -> bool {
        self.sectors.iter().any(|s| s.name == name)
    }

    /// The sector names, in the table's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sectors.iter().map(|s| s.name.as_str())
    }

    /// Whether records of `item` get a sector at all.
    pub fn covers(&self, item: &str) -> bool {
        self.items.iter().any(|x| x.item == item)
    }

    /// The items whose sectors are their reasons' (`from = "reasons"`).
    pub fn reason_items(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter(|x| x.from_reasons).map(|x| x.item.as_str())
    }

    /// Whether `item`'s sectors are those of the records behind it (`from = "reasons"`).
    pub fn from_reasons(&self, item: &str) -> bool {
        self.items.iter().any(|x| x.item == item && x.from_reasons)
    }

    /// The sectors of a record that rests on others (a 分级分类结果, `from = "reasons"`): the
    /// sectors its reasons have, each found by [`Sectors::of`], once each, in the table's order.
    /// None when no reason has one (an A grade rests on nothing).
    pub fn of_reasons<'s, 'r>(&'s self, reasons: impl IntoIterator<Item = Option<&'r str>>) -> Vec<&'s str> {
        let mut found = vec![false; self.sectors.len()];
        for name in reasons.into_iter().flatten() {
            if let Some(i) = self.sectors.iter().position(|s| s.name == name) {
                found[i] = true;
            }
        }
        self.sectors.iter().zip(found).filter(|(_, f)| *f).map(|(s, _)| s.name.as_str()).collect()
    }

    /// The sector a platform's word names (a sector's name or alias).
    fn named(&self, word: &str) -> Option<&str> {
        let word = word.trim();
        self.sectors.iter().find(|s| s.name == word || s.aliases.iter().any(|a| a == word)).map(|s| s.name.as_str())
    }

    /// A record's sector (`values`: one per item field; `explicit`: the platform's own 领域 beside
    /// the record). A word the table does not know is not trusted: the rules decide then.
    pub fn of(&self, item: &Item, values: &[Option<String>], explicit: Option<&str>) -> Option<&str> {
        let rules = self.items.iter().find(|x| x.item == item.code)?;
        let field = rules.field.and_then(|i| values.get(i)?.as_deref());
        if let Some(named) = explicit.or(field).and_then(|w| self.named(w)) {
            return Some(named);
        }
        first_match(&rules.rules, |i: usize| values.get(i)?.as_deref())
    }
}

/// The shipped table built from its file's text, for unit tests.
#[cfg(test)]
pub(crate) fn shipped_for_tests() -> Sectors {
    let spec = toml::from_str(include_str!("../config/sectors.toml")).expect("sectors.toml parses");
    let mut issues = Issues::default();
    let sectors =
        Sectors::from_spec(Path::new("config/sectors.toml"), spec, &crate::catalogue::shipped_for_tests(), &mut issues);
    assert!(issues.is_empty(), "{:?}", issues.iter().map(ToString::to_string).collect::<Vec<_>>());
    sectors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(item: &Item, pairs: &[(&str, &str)]) -> Vec<Option<String>> {
        let mut v = vec![None; item.fields.len()];
        for (k, x) in pairs {
            v[item.field_index(k).unwrap()] = Some(x.to_string());
        }
        v
    }

    #[test]
    fn a_record_s_sector_comes_from_its_words_in_the_table_s_order() {
        let s = shipped_for_tests();
        let catalogue = crate::catalogue::shipped_for_tests();
        let cf = catalogue.item("CF").unwrap();
        let cases = [
            (&[("CF_WFXW", "未按规定开展安全生产教育和培训")][..], Some("安全生产")),
            (&[("CF_YJ", "《中华人民共和国安全生产法》第九十七条")][..], Some("安全生产")),
            (&[("CF_WFXW", "使用未经检验的特种设备"), ("CF_YJ", "《中华人民共和国安全生产法》")][..], Some("特种设备")),
            (
                &[("CF_WFXW", "销售过期食品"), ("CF_YJ", "《中华人民共和国食品安全法》第一百二十四条")][..],
                Some("食品药品"),
            ),
            (&[("CF_WFXW", "未按规定公示年度报告")][..], None),
        ];
        for (pairs, expected) in cases {
            let v = values(cf, pairs);
            assert_eq!(s.of(cf, &v, None), expected, "{pairs:?}");
        }
        let yz = catalogue.item("MKT_YZWF").unwrap();
        let v = values(yz, &[("YZ_LRYY", "因安全生产违法行为被列入")]);
        assert_eq!(s.of(yz, &v, None), Some("安全生产"));
    }

    #[test]
    fn the_platform_s_own_sector_wins_when_the_table_knows_its_word() {
        let s = shipped_for_tests();
        let catalogue = crate::catalogue::shipped_for_tests();
        let cf = catalogue.item("CF").unwrap();
        let v = values(cf, &[("CF_WFXW", "销售过期食品")]);
        assert_eq!(s.of(cf, &v, Some("应急管理")), Some("安全生产"), "an alias");
        assert_eq!(s.of(cf, &v, Some("安全生产")), Some("安全生产"));
        assert_eq!(s.of(cf, &v, Some("别的领域")), Some("食品药品"), "an unknown word: the rules decide");
        let xk = catalogue.item("XK").unwrap();
        assert_eq!(s.of(xk, &vec![None; xk.fields.len()], Some("安全生产")), None, "an item the table does not list");
    }

    #[test]
    fn a_grade_result_has_the_sectors_of_the_records_behind_it_once_each_in_the_table_s_order() {
        let s = shipped_for_tests();
        let catalogue = crate::catalogue::shipped_for_tests();
        assert!(s.covers("FJFL") && s.from_reasons("FJFL"), "the shipped table: FJFL from its reasons");
        assert!(!s.from_reasons("CF"));
        assert_eq!(s.reason_items().collect::<Vec<_>>(), ["FJFL"]);
        let cf = catalogue.item("CF").unwrap();
        let yz = catalogue.item("MKT_YZWF").unwrap();
        let food = values(cf, &[("CF_WFXW", "销售过期食品")]);
        let safety = values(cf, &[("CF_YJ", "《中华人民共和国安全生产法》第九十七条")]);
        let listed = values(yz, &[("YZ_LRYY", "因安全生产违法行为被列入")]);
        let plain = values(cf, &[("CF_WFXW", "无照经营")]);
        let of = |reasons: &[(&Item, &Vec<Option<String>>)]| {
            let found: Vec<Option<&str>> = reasons.iter().map(|(i, v)| s.of(i, v, None)).collect();
            s.of_reasons(found).into_iter().map(str::to_string).collect::<Vec<_>>()
        };
        assert_eq!(of(&[(cf, &food), (cf, &safety), (yz, &listed)]), ["安全生产", "食品药品"], "table order, once");
        assert_eq!(of(&[(cf, &plain), (cf, &food)]), ["食品药品"], "a reason without a sector adds none");
        assert!(of(&[(cf, &plain)]).is_empty());
        assert!(of(&[]).is_empty(), "an A grade rests on nothing");
        assert!(s.of_reasons([Some("别的领域")]).is_empty(), "only the table's sectors");
    }

    #[test]
    fn sectors_from_reasons_read_no_field() {
        let spec = toml::from_str(
            r#"
version = 1
serves = "seed 003"
[[sectors]]
name = "安全生产"
contains = ["安全生产"]
[[items]]
item = "FJFL"
from = "reasons"
read = ["FJ_YJ"]
"#,
        )
        .unwrap();
        let mut issues = Issues::default();
        Sectors::from_spec(Path::new("sectors.toml"), spec, &crate::catalogue::shipped_for_tests(), &mut issues);
        let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            issues,
            [
                "sectors.toml: items[0].from: sectors from the reasons read no field of the record: drop `field` and `read`"
            ]
        );
        let wrong: Result<SectorsSpec, _> =
            toml::from_str("version = 1\nserves = \"x\"\n[[items]]\nitem = \"FJFL\"\nfrom = \"content\"\n");
        assert!(wrong.unwrap_err().to_string().contains("unknown variant `content`"));
    }

    #[test]
    fn mistakes_in_the_table_name_the_file_and_key() {
        let spec = toml::from_str(
            r#"
version = 1
serves = "seed 001"
[[sectors]]
name = "安全生产"
aliases = ["应急管理"]
contains = ["安全生产", ""]
[[sectors]]
name = "应急管理"
[[items]]
item = "ZZ"
read = ["X"]
[[items]]
item = "CF"
read = ["CF_NOPE"]
[[items]]
item = "XK"
"#,
        )
        .unwrap();
        let mut issues = Issues::default();
        Sectors::from_spec(Path::new("sectors.toml"), spec, &crate::catalogue::shipped_for_tests(), &mut issues);
        let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            issues,
            [
                "sectors.toml: sectors[0].contains: an empty word would match every record",
                "sectors.toml: sectors[1]: \"应急管理\" already names sector 安全生产",
                "sectors.toml: items[0].item: unknown catalogue item \"ZZ\"",
                "sectors.toml: items[1].read: CF has no field CF_NOPE",
                "sectors.toml: items[2]: name a `field` or the fields to `read`, or `from = \"reasons\"`",
            ]
        );
    }
}
