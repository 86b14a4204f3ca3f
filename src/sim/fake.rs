//! Fake people, firms and identifiers shared by the simulators ([`sample`](super::sample)
//! files and the [sandbox departments](super::sandbox::departments)): the seeded random
//! stream, the name tables of 淮北市, and credit codes and ID numbers whose check characters
//! come from [`crate::ids`], the same functions that check real data.
//!
//! Everything here is drawn from the caller's [`Rng`] in a fixed order: a change of order,
//! or of a table, changes every generated file and sandbox record of a seed.

use std::fmt::Write as _;

use chrono::{Datelike, Days, NaiveDate};

use crate::ids::{CREDIT_ALPHABET, credit_code_check_char, id_number_check_char, org_code_check_char};

/// SplitMix64 (Steele, Lea and Flood, 2014). Hand-rolled rather than the `rand` crate: a
/// seed must give the same bytes on every platform and after every dependency upgrade, and
/// `rand` does not promise stable streams across versions.
pub struct Rng(u64);

impl Rng {
    /// An independent stream per row of a [`sample`](super::sample) file: a row depends only
    /// on the seed, its number and its role, so changing the bad share leaves the other rows
    /// as they were.
    pub fn for_row(seed: u64, n: u64) -> Self {
        let mut rng = Rng(seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();
        rng
    }

    /// An independent stream per (seed, source, record), for the sandbox's
    /// [department](super::sandbox::departments) records.
    pub fn for_record(seed: u64, stream: u64, i: u64) -> Self {
        Rng::for_row(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15), i)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform below `n`, which must not be 0; the modulo bias is below 2^-40 for the small `n` used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }
}

/// 字号 syllables of firm and shop names.
pub const SYLLABLES: [&str; 32] = [
    "华", "鑫", "盛", "达", "恒", "泰", "兴", "隆", "宏", "源", "信", "诚", "佳", "和", "润", "丰", "安", "康", "瑞",
    "祥", "博", "通", "永", "福", "金", "汇", "众", "嘉", "辰", "淮", "濉", "相",
];
/// What a 个体工商户's name ends with.
pub const SHOPS: [&str; 10] =
    ["便利店", "餐饮店", "理发店", "五金店", "水果店", "烟酒店", "小吃部", "农资店", "服装店", "超市"];
pub const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭"];
/// Given-name characters; a name takes one or two.
pub const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚", "桂",
    "英", "秀", "兰", "建", "国",
];

/// Appends a person's name: a surname and one or two given-name characters.
pub fn push_person_name(out: &mut String, rng: &mut Rng) {
    out.push_str(rng.pick(&SURNAMES));
    out.push_str(rng.pick(&GIVEN));
    if rng.one_in(2) {
        out.push_str(rng.pick(&GIVEN));
    }
}

/// Appends the check character of `out[from..]`, computed by one of `crate::ids`' functions.
pub fn push_check(out: &mut String, from: usize, check: fn(&str) -> Option<char>) {
    let ch = check(&out[from..]).expect("the generator writes only symbols of the code's alphabet");
    out.push(ch);
}

/// Appends a credit code: registering department and kind (`91` firm, `92` 个体工商户), the
/// region, an organisation code with its own check character, then the final check
/// character (GB 32100-2015). `old` codes embed an 8-digit pre-2015 organisation code; new
/// ones start `MA` as issued since.
pub fn push_credit_code(out: &mut String, rng: &mut Rng, kind: &str, region: &str, old: bool) {
    let start = out.len();
    out.push_str(kind);
    out.push_str(region);
    let org = out.len();
    if old {
        for _ in 0..8 {
            out.push(char::from(b'0' + rng.below(10) as u8));
        }
    } else {
        out.push_str("MA");
        for _ in 0..6 {
            out.push(char::from(rng.pick(CREDIT_ALPHABET)));
        }
    }
    push_check(out, org, org_code_check_char);
    push_check(out, start, credit_code_check_char);
}

/// Appends a resident ID number (GB 11643): the county code `area` gives, a real birth date
/// between 1955 and 2004, a sequence number and the check character. `area` draws after the
/// birth date, if it draws at all, as the streams have always been read.
pub fn push_id_number<'a>(out: &mut String, rng: &mut Rng, area: impl FnOnce(&mut Rng) -> &'a str) {
    let start = out.len();
    let born = NaiveDate::from_ymd_opt(1955, 1, 1).expect("a real date") + Days::new(rng.below(50 * 365));
    let area = area(rng);
    write!(out, "{area}{:04}{:02}{:02}{:03}", born.year(), born.month(), born.day(), rng.range(1, 999))
        .expect("formatting into a String cannot fail");
    push_check(out, start, id_number_check_char);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CreditCode, IdNumber};

    #[test]
    fn generated_identifiers_pass_the_real_checks() {
        let mut rng = Rng::for_record(5, 1, 0);
        for n in 0..500 {
            let mut code = String::new();
            push_credit_code(&mut code, &mut rng, if n % 2 == 0 { "91" } else { "92" }, "340603", n % 3 == 0);
            assert!(CreditCode::parse(&code).is_ok(), "{code}");
            let mut id = String::new();
            push_id_number(&mut id, &mut rng, |rng| rng.pick(&["340602", "340621"]));
            assert!(IdNumber::parse(&id).is_ok());
        }
    }

    #[test]
    fn a_seed_gives_the_same_stream_everywhere() {
        let mut rng = Rng::for_row(1, 0);
        let drawn: Vec<u64> = (0..4).map(|_| rng.below(1_000_000)).collect();
        let mut again = Rng::for_row(1, 0);
        assert_eq!(drawn, (0..4).map(|_| again.below(1_000_000)).collect::<Vec<_>>());
        let mut name = String::new();
        push_person_name(&mut name, &mut Rng::for_record(1, 2, 3));
        assert!((2..=3).contains(&name.chars().count()), "{name}");
    }
}
