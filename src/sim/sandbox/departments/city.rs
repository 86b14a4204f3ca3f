//! The sandbox city (淮北市, as in [`crate::sim::sample`]) as its departments see it: counties
//! and their authorities, the firms, shops and people in the records, and the shared ways a
//! value is drawn or broken.

use crate::ids::{credit_code_check_char, org_code_check_char};
use crate::sim::fake::{self, Rng, SHOPS, SYLLABLES, push_check, push_person_name};

/// A county of the sandbox city (淮北市, as in [`crate::sim::sample`]) and its authorities.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    /// GB/T 2260 division code.
    pub(super) code: &'static str,
    /// How firm names start.
    pub(super) place: &'static str,
    /// How shop names start.
    pub(super) local: &'static str,
    pub(super) tax_office: &'static str,
    pub(super) court: &'static str,
    /// 法院代字 after 皖 in case numbers.
    pub(super) court_code: &'static str,
    pub(super) water: &'static str,
    pub(super) power: &'static str,
    pub(super) gas: &'static str,
}

pub(super) const CITY_CODE: &str = "340600";

pub(super) const REGIONS: [Region; 4] = [
    Region {
        code: "340602",
        place: "淮北市杜集区",
        local: "杜集区",
        tax_office: "国家税务总局淮北市杜集区税务局",
        court: "淮北市杜集区人民法院",
        court_code: "0602",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340603",
        place: "淮北市相山区",
        local: "相山区",
        tax_office: "国家税务总局淮北市相山区税务局",
        court: "淮北市相山区人民法院",
        court_code: "0603",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340604",
        place: "淮北市烈山区",
        local: "烈山区",
        tax_office: "国家税务总局淮北市烈山区税务局",
        court: "淮北市烈山区人民法院",
        court_code: "0604",
        water: "淮北市供水有限公司",
        power: "国网淮北供电公司",
        gas: "淮北市燃气有限公司",
    },
    Region {
        code: "340621",
        place: "濉溪县",
        local: "濉溪县",
        tax_office: "国家税务总局濉溪县税务局",
        court: "濉溪县人民法院",
        court_code: "0621",
        water: "濉溪县自来水有限公司",
        power: "国网濉溪县供电公司",
        gas: "濉溪县燃气有限公司",
    },
];

const TRADES: [&str; 12] =
    ["商贸", "建材", "贸易", "物流", "科技", "食品", "家具", "医药", "建筑工程", "农业发展", "电子商务", "汽车服务"];
const FIRM_FORMS: [&str; 5] = ["有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司"];
/// Brand-like letters; `A&B` names need escaping in XML.
const LETTERS: &[u8] = b"ABCDEHJKLMNPQRTWXY";

pub(super) fn firm_name(rng: &mut Rng, region: Region) -> String {
    let mut s = String::from(region.place);
    if rng.one_in(25) {
        s.push(char::from(rng.pick(LETTERS)));
        s.push('&');
        s.push(char::from(rng.pick(LETTERS)));
    } else {
        s.push_str(rng.pick(&SYLLABLES));
        s.push_str(rng.pick(&SYLLABLES));
    }
    s.push_str(rng.pick(&TRADES));
    s.push_str(rng.pick(&FIRM_FORMS));
    s
}

pub(super) fn shop_name(rng: &mut Rng, region: Region) -> String {
    let mut s = String::from(region.local);
    if rng.one_in(2) {
        s.push_str(rng.pick(&SYLLABLES));
        s.push_str(rng.pick(&SYLLABLES));
    } else {
        s.push_str(&person_name(rng));
    }
    s.push_str(rng.pick(&SHOPS));
    s
}

pub(super) fn person_name(rng: &mut Rng) -> String {
    let mut s = String::new();
    push_person_name(&mut s, rng);
    s
}

/// A credit code (GB 32100) of `kind` (`91` firm, `92` 个体工商户) in `region`; one in three
/// embeds an old organisation code.
pub(super) fn push_credit_code(out: &mut String, rng: &mut Rng, kind: &str, region: &str) {
    let old = rng.one_in(3);
    fake::push_credit_code(out, rng, kind, region, old);
}

/// The credit code of a government body (`11`: 机构编制, 机关) of `region`; `tag` tells
/// bodies of one region apart. The same for every seed.
pub(super) fn authority_code(region: &str, tag: char) -> String {
    let mut s = String::with_capacity(18);
    s.push_str("11");
    s.push_str(region);
    let org = s.len();
    s.push_str("MB0");
    s.push_str(&region[2..6]);
    s.push(tag);
    push_check(&mut s, org, org_code_check_char);
    push_check(&mut s, 0, credit_code_check_char);
    s
}

/// Replaces the last (check) character with another symbol of `alphabet`.
pub(super) fn break_check_char(code: &mut String, rng: &mut Rng, alphabet: &[u8]) {
    let Some(old) = code.pop() else { return };
    let mut new = old;
    while new == old {
        new = char::from(rng.pick(alphabet));
    }
    code.push(new);
}

/// A date that does not exist, as a clerk might type it.
pub(super) fn impossible_date(rng: &mut Rng, year: i32) -> String {
    match rng.below(3) {
        0 => format!("{year}-02-30"),
        1 => format!("{year}/13/{}", rng.range(1, 28)),
        _ => format!("{year}-04-31"),
    }
}

/// An amount in 分 with `lo..=hi` digits before the point (log-uniform).
pub(super) fn amount_cents(rng: &mut Rng, lo: u32, hi: u32) -> u64 {
    let digits = u32::try_from(rng.range(u64::from(lo), u64::from(hi))).unwrap_or(lo);
    let yuan = rng.range(10u64.pow(digits - 1), 10u64.pow(digits) - 1);
    let fen = if rng.one_in(3) { 0 } else { rng.below(100) };
    yuan * 100 + fen
}
