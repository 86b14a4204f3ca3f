//! The market regulator's list exports, for the demo and tests: 经营异常名录 (`MKT_YC`),
//! 严重违法失信名单 (`MKT_YZWF`) and the 信用承诺 ledger (`XYCN`), as a clerk exports them from the
//! registration system: the export's own Chinese headers (not quite the catalogue's names; the
//! mappings' aliases read them), dates as typed, GBK CSV or XLSX with a title row. The firms
//! are those of the sample 行政处罚 file of the same seed ([`sample::company`]), so a firm's
//! credit file holds its penalty beside its listing. A file of changes
//! ([`ListSpec::changed_on`]) repeats every third row of the same spec with its 移出 or its
//! settled 履约状态: the same records (same key), changed.

use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, Days, NaiveDate};

use crate::ids::CREDIT_ALPHABET;
use crate::sim::fake::Rng;
use crate::sim::sample::{self, SampleCompany, SampleError};

/// Which list a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketList {
    /// 经营异常名录 (`MKT_YC`).
    Abnormal,
    /// 严重违法失信名单 (`MKT_YZWF`).
    Serious,
    /// 信用承诺 (`XYCN`).
    Commitments,
}

impl MarketList {
    /// The catalogue code.
    pub fn code(self) -> &'static str {
        match self {
            MarketList::Abnormal => "MKT_YC",
            MarketList::Serious => "MKT_YZWF",
            MarketList::Commitments => "XYCN",
        }
    }

    /// The list's name, as file names and title rows carry it.
    pub fn name(self) -> &'static str {
        match self {
            MarketList::Abnormal => "经营异常名录",
            MarketList::Serious => "严重违法失信名单",
            MarketList::Commitments => "信用承诺台账",
        }
    }

    /// The export's header: its own words, not the catalogue's.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            MarketList::Abnormal => &[
                "序号",
                "企业名称",
                "统一社会信用代码/注册号",
                "列入经营异常名录原因",
                "列入日期",
                "作出决定机关（列入）",
                "移出经营异常名录原因",
                "移出日期",
                "作出决定机关（移出）",
            ],
            MarketList::Serious => &[
                "序号",
                "企业名称",
                "统一社会信用代码",
                "列入严重违法失信名单原因",
                "列入决定书文号",
                "列入日期",
                "作出列入决定机关",
                "移出严重违法失信名单原因",
                "移出日期",
            ],
            MarketList::Commitments => &[
                "承诺人",
                "统一社会信用代码",
                "承诺编号",
                "承诺类别",
                "承诺事项",
                "承诺内容",
                "承诺时间",
                "受理单位",
                "受理单位统一社会信用代码",
                "履约情况",
                "状态变更日期",
            ],
        }
    }

    /// An rng stream of its own, apart from the sample files' rows.
    fn stream(self) -> u64 {
        match self {
            MarketList::Abnormal => 11,
            MarketList::Serious => 12,
            MarketList::Commitments => 13,
        }
    }
}

/// The forms clerks export in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// GBK CSV, what Excel on a Chinese Windows saves.
    CsvGbk,
    /// One worksheet with a title row above the header.
    Xlsx,
}

/// What to write. The same spec always gives the same rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSpec {
    pub list: MarketList,
    /// The seed of the sample 行政处罚 file whose firms are listed.
    pub seed: u64,
    pub rows: u64,
    /// Listing (承诺) dates spread over `days` days from here.
    pub first_date: NaiveDate,
    pub days: u32,
    /// `None`: the rows as first reported, and with `bad` every row `n ≡ 7 (mod 10)` breaks one
    /// rule ([`bad_rule`]). `Some(day)`: every third row (`n ≡ 0 (mod 3)`) again, removed from
    /// the list or its 履约状态 settled on `day` (not before the last listing date).
    pub changed_on: Option<NaiveDate>,
    pub bad: bool,
    pub format: ListFormat,
}

/// What a written file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSummary {
    pub rows: u64,
    pub bad: u64,
}

/// The problem (`FIELD:code`) the mapping reports for row `n` of a listing file with `bad`.
pub fn bad_rule(list: MarketList, n: u64) -> Option<&'static str> {
    if n % 10 != 7 {
        return None;
    }
    Some(match ((n / 10) % 3, list) {
        (0, MarketList::Abnormal) => "YC_SHXYM:bad_credit_code",
        (0, MarketList::Serious) => "YZ_SHXYM:bad_credit_code",
        (0, MarketList::Commitments) => "CN_SHXYM:bad_credit_code",
        (1, MarketList::Abnormal) => "YC_LRYY:required",
        (1, MarketList::Serious) => "YZ_JDWSH:required",
        (1, MarketList::Commitments) => "CN_SX:required",
        (_, MarketList::Abnormal) => "YC_LRRQ:bad_date",
        (_, MarketList::Serious) => "YZ_LRRQ:bad_date",
        (_, MarketList::Commitments) => "CN_CNRQ:bad_date",
    })
}

/// Writes the file; returns what it holds.
pub fn write_list(spec: &ListSpec, out: &Path) -> Result<ListSummary, SampleError> {
    let header = spec.list.header();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut summary = ListSummary::default();
    for n in 0..spec.rows {
        if spec.changed_on.is_some() && n % 3 != 0 {
            continue;
        }
        let Some(row) = list_row(spec, n) else { continue };
        summary.rows += 1;
        if spec.bad && spec.changed_on.is_none() && bad_rule(spec.list, n).is_some() {
            summary.bad += 1;
        }
        rows.push(row);
    }
    match spec.format {
        ListFormat::CsvGbk => {
            let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
            csv.write_record(header)?;
            for row in &rows {
                csv.write_record(row)?;
            }
            let utf8 = csv.into_inner().map_err(|e| SampleError::Io(e.into_error()))?;
            let text = String::from_utf8(utf8).map_err(|e| SampleError::Spec(e.to_string()))?;
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
            if unmappable {
                return Err(SampleError::Spec("a character has no GBK encoding".into()));
            }
            std::fs::File::create(out)?.write_all(&bytes)?;
        }
        ListFormat::Xlsx => {
            use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
            let mut book = Workbook::new();
            // A fixed creation time keeps the workbook the same for the same spec.
            let d = spec.first_date;
            let created = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
            book.set_properties(&DocProperties::new().set_creation_datetime(&created));
            let sheet = book.add_worksheet();
            sheet.write_string(0, 0, format!("{}导出", spec.list.name()))?;
            for (r, cells) in (1u32..).zip(std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows))
            {
                for (c, cell) in (0u16..).zip(&cells) {
                    if !cell.is_empty() {
                        sheet.write_string(r, c, cell)?;
                    }
                }
            }
            book.save(out)?;
        }
    }
    Ok(summary)
}

const ABNORMAL: [(&str, &str); 4] = [
    ("未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告", "补报未报年份的年度报告并公示"),
    ("通过登记的住所或者经营场所无法联系", "依法办理住所或者经营场所变更登记"),
    ("公示企业信息隐瞒真实情况、弄虚作假", "更正其公示的信息"),
    ("未在市场监督管理部门依照《企业信息公示暂行条例》责令的期限内公示有关企业信息", "公示有关企业信息"),
];

const SERIOUS: [&str; 4] = [
    "被列入经营异常名录届满3年仍未履行相关义务",
    "提交虚假材料或者采取其他欺诈手段隐瞒重要事实，取得市场主体登记，被撤销市场主体登记",
    "因食品安全违法行为受到较重行政处罚",
    "拒不履行生效法律文书确定的义务，妨碍、抗拒执法",
];

const SERIOUS_REMOVED: [&str; 2] = ["信用修复，经申请提前移出", "列入满3年，未再发生严重违法失信行为"];

/// (承诺类别 as the ledger writes it, 承诺事项, 承诺内容).
const COMMITMENTS: [(&str, &str, &str); 6] = [
    (
        "告知承诺",
        "食品经营许可证明事项告知承诺",
        "所填报信息及提交材料真实有效，经营场所符合食品安全要求，逾期未补齐材料愿承担撤销许可的后果",
    ),
    ("审批替代型", "市场主体住所（经营场所）申报承诺", "申报的住所真实存在，可以通过该住所取得联系"),
    ("自主承诺型", "诚信经营自主承诺", "守法诚信经营，不作虚假宣传，不销售假冒伪劣商品"),
    ("行业自律型", "淮北市餐饮行业协会自律公约承诺", "遵守行业自律公约，明码标价，不使用过期变质原料"),
    ("信用修复型", "申请移出经营异常名录信用修复承诺", "已纠正失信行为，今后依法按期公示年度报告"),
    ("信用修复", "行政处罚信息信用修复承诺", "已履行行政处罚决定，今后不再发生同类违法行为"),
];

/// Row `n`, `None` when no firm is found near its sample rows (not seen in practice).
fn list_row(spec: &ListSpec, n: u64) -> Option<Vec<String>> {
    let firm = (n * 4..n * 4 + 64).find_map(|m| sample::company(spec.seed, m))?;
    let mut rng = Rng::for_record(spec.seed, spec.list.stream(), n);
    let date = spec.first_date + Days::new(rng.below(u64::from(spec.days.max(1))));
    let style = rng.below(4);
    let number = (spec.seed % 1000) * 100 + n + 1;
    let broken = if spec.bad && spec.changed_on.is_none() { bad_rule(spec.list, n) } else { None };
    let code = if broken.is_some_and(|r| r.ends_with("bad_credit_code")) {
        wrong_check(&firm.credit_code)
    } else {
        firm.credit_code.clone()
    };
    let typed = |d: NaiveDate| {
        if broken.is_some_and(|r| r.ends_with("bad_date")) {
            return format!("{}-02-30", d.year());
        }
        typed_date(d, style)
    };
    let changed = spec.changed_on.map(|d| typed_date(d, style));
    let SampleCompany { name, authority, authority_code, doc, .. } = firm;
    let row = match spec.list {
        MarketList::Abnormal => {
            let (reason, removal) = rng.pick(&ABNORMAL);
            let reason = if broken.is_some_and(|r| r.ends_with("required")) { "" } else { reason };
            let (removal, removed_on, remover) = match &changed {
                Some(d) => (removal.to_string(), d.clone(), authority.clone()),
                None => (String::new(), String::new(), String::new()),
            };
            vec![
                (n + 1).to_string(),
                name,
                code,
                reason.to_string(),
                typed(date),
                authority,
                removal,
                removed_on,
                remover,
            ]
        }
        MarketList::Serious => {
            let reason = rng.pick(&SERIOUS);
            let removal = rng.pick(&SERIOUS_REMOVED);
            let document = if broken.is_some_and(|r| r.ends_with("required")) {
                String::new()
            } else {
                format!("{doc}市监严列〔{}〕{number}号", date.year())
            };
            let (removal, removed_on) = match &changed {
                Some(d) => (removal.to_string(), d.clone()),
                None => (String::new(), String::new()),
            };
            vec![
                (n + 1).to_string(),
                name,
                code,
                reason.to_string(),
                document,
                typed(date),
                authority,
                removal,
                removed_on,
            ]
        }
        MarketList::Commitments => {
            let (kind, matter, content) = rng.pick(&COMMITMENTS);
            let matter = if broken.is_some_and(|r| r.ends_with("required")) { "" } else { matter };
            // Most commitments are kept; the ledger writes the status in its own words at times.
            let kept = rng.below(3) != 0;
            let status = match (&changed, kept, rng.one_in(4)) {
                (None, _, _) => "履约中",
                (Some(_), true, false) => "已履约",
                (Some(_), true, true) => "践诺",
                (Some(_), false, false) => "未履约",
                (Some(_), false, true) => "违诺",
            };
            vec![
                name,
                code,
                format!("{doc}市监承诺〔{}〕{number}号", date.year()),
                kind.to_string(),
                matter.to_string(),
                content.to_string(),
                typed(date),
                authority,
                authority_code,
                status.to_string(),
                changed.unwrap_or_default(),
            ]
        }
    };
    Some(row)
}

/// A date in one of the forms clerks type.
fn typed_date(d: NaiveDate, style: u64) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match style {
        0 | 1 => format!("{y:04}-{m:02}-{day:02}"),
        2 => format!("{y}/{m}/{day}"),
        _ => format!("{y}年{m}月{day}日"),
    }
}

/// The code with its check character replaced by the next symbol of the alphabet.
fn wrong_check(code: &str) -> String {
    let mut out = code.to_string();
    let Some(old) = out.pop() else { return out };
    let at = CREDIT_ALPHABET.iter().position(|&b| char::from(b) == old).unwrap_or(0);
    out.push(char::from(CREDIT_ALPHABET[(at + 1) % CREDIT_ALPHABET.len()]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(list: MarketList, changed_on: Option<NaiveDate>) -> ListSpec {
        ListSpec {
            list,
            seed: sample::DEMO_SEED,
            rows: 30,
            first_date: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            days: 45,
            changed_on,
            bad: true,
            format: ListFormat::CsvGbk,
        }
    }

    #[test]
    fn a_change_repeats_the_listing_with_its_change_filled() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        for list in [MarketList::Abnormal, MarketList::Serious, MarketList::Commitments] {
            let first = list_row(&spec(list, None), 3).unwrap();
            let later = list_row(&spec(list, Some(day)), 3).unwrap();
            let header = list.header();
            let differ: Vec<&str> = (0..header.len()).filter(|&i| first[i] != later[i]).map(|i| header[i]).collect();
            let expected: &[&str] = match list {
                MarketList::Abnormal => &["移出经营异常名录原因", "移出日期", "作出决定机关（移出）"],
                MarketList::Serious => &["移出严重违法失信名单原因", "移出日期"],
                MarketList::Commitments => &["履约情况", "状态变更日期"],
            };
            assert_eq!(differ, expected, "{list:?}");
        }
    }

    #[test]
    fn files_hold_their_rows_and_bad_ones_break_one_rule() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("yc.xlsx");
        let summary =
            write_list(&ListSpec { format: ListFormat::Xlsx, ..spec(MarketList::Abnormal, None) }, &out).unwrap();
        assert_eq!(summary, ListSummary { rows: 30, bad: 3 });
        let out = dir.path().join("yc.csv");
        let day = NaiveDate::from_ymd_opt(2026, 12, 1);
        let summary = write_list(&spec(MarketList::Abnormal, day), &out).unwrap();
        assert_eq!(summary, ListSummary { rows: 10, bad: 0 });
        let bytes = std::fs::read(&out).unwrap();
        let (text, _, _) = encoding_rs::GBK.decode(&bytes);
        assert!(text.starts_with("序号,企业名称,统一社会信用代码/注册号,"), "{text}");
        assert_eq!(bad_rule(MarketList::Commitments, 17), Some("CN_SX:required"));
        assert_eq!(bad_rule(MarketList::Commitments, 18), None);
    }
}
