//! Deterministic, realistic department files for tests, benchmarks and the demo.
//!
//! Rows follow the provincial template (header = the catalogue's 中文 names). Good rows have
//! valid check characters everywhere; each bad row breaks exactly one rule, so a test can
//! predict what ingest must reject. Files are written row by row: memory stays flat.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use crate::ids::{CREDIT_CODE_PLACEHOLDER, credit_code_check_char, id_number_check_char, org_code_check_char};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleItem {
    /// 行政许可 (`XK`).
    Licences,
    /// 行政处罚 (`CF`).
    Penalties,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    Csv,
    CsvBom,
    CsvGbk,
    Xlsx { title_row: bool },
}

#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub item: SampleItem,
    pub rows: u64,
    pub seed: u64,
    /// Share of rows with exactly one problem.
    pub bad_share: f64,
    /// Share of 简易程序 rows (penalties only): filtered out by the gateway, not rejected.
    pub summary_share: f64,
    pub format: SampleFormat,
    pub first_date: NaiveDate,
    /// Decision dates spread over this many days from `first_date`.
    pub days: u32,
}

/// What a generated file holds; also written beside it as `<file>.expected.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SampleSummary {
    pub rows: u64,
    pub good: u64,
    pub bad: u64,
    pub skipped: u64,
    pub bad_by_kind: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("cannot write the sample: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the sample: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot write the summary: {0}")]
    Json(#[from] serde_json::Error),
}

const SUBJECT_COLUMNS: [&str; 13] = [
    "行政相对人名称",
    "行政相对人类别",
    "统一社会信用代码",
    "工商注册号",
    "组织机构代码",
    "税务登记号",
    "事业单位证书号",
    "社会组织登记证号",
    "法定代表人",
    "法定代表人证件类型",
    "法定代表人证件号码",
    "证件类型",
    "证件号码",
];

const PENALTY_COLUMNS: [&str; 18] = [
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
    "案件程序",
];

const LICENCE_COLUMNS: [&str; 15] = [
    "行政许可决定文书名称",
    "行政许可决定文书号",
    "许可类别",
    "许可证书名称",
    "许可编号",
    "许可内容",
    "许可决定日期",
    "有效期自",
    "有效期至",
    "许可机关",
    "许可机关统一社会信用代码",
    "当前状态",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
];

/// The template header of an item, in catalogue order.
pub fn header(item: SampleItem) -> Vec<&'static str> {
    let own: &[&str] = match item {
        SampleItem::Penalties => &PENALTY_COLUMNS,
        SampleItem::Licences => &LICENCE_COLUMNS,
    };
    SUBJECT_COLUMNS.iter().chain(own).copied().collect()
}

const BAD_KINDS_PENALTY: [&str; 12] = [
    "missing_required",
    "bad_credit_code_check",
    "bad_credit_code_chars",
    "bad_date",
    "end_before_start",
    "unknown_code",
    "too_long",
    "negative_amount",
    "missing_fine",
    "bad_id_number",
    "missing_legal_rep",
    "placeholder_without_registration",
];
const BAD_KINDS_LICENCE: [&str; 10] = [
    "missing_required",
    "bad_credit_code_check",
    "bad_credit_code_chars",
    "bad_date",
    "end_before_start",
    "unknown_code",
    "too_long",
    "bad_id_number",
    "missing_legal_rep",
    "placeholder_without_registration",
];

/// SplitMix64: a few lines, and the same sequence on every version and platform, which a
/// general-purpose RNG crate does not promise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Counties of one city (淮北市): region code, name, short name for document numbers.
const REGIONS: [(&str, &str, &str); 3] =
    [("340602", "杜集区", "杜"), ("340603", "相山区", "相"), ("340621", "濉溪县", "濉")];
const SYLLABLES: [&str; 24] = [
    "华", "鑫", "盛", "达", "恒", "泰", "兴", "隆", "宏", "源", "信", "诚", "佳", "和", "润", "丰", "安", "康", "瑞",
    "祥", "博", "通", "永", "福",
];
const TRADES: [&str; 8] = ["商贸", "建材", "餐饮", "物流", "科技", "食品", "家具", "医药"];
const SHOPS: [&str; 5] = ["餐饮店", "便利店", "理发店", "五金店", "水果店"];
const SURNAMES: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙"];
const GIVEN: [&str; 12] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰"];
const CODE_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Company,
    Individual { placeholder: bool },
    Person,
}

struct Generator {
    rng: Rng,
    spec: SampleSpec,
    columns: Vec<&'static str>,
}

impl Generator {
    fn col(&self, name: &str) -> usize {
        self.columns.iter().position(|c| *c == name).expect("column of the template")
    }

    fn org_code(&mut self) -> String {
        let mut s: String = (0..8).map(|_| CODE_CHARS[self.rng.below(10 + 21) as usize] as char).collect();
        // Organisation codes use digits and capitals; keep to the credit-code alphabet.
        s.push(org_code_check_char(&s).expect("8 valid characters"));
        s
    }

    fn credit_code(&mut self, prefix: &str, region: &str) -> String {
        let mut s = format!("{prefix}{region}{}", self.org_code());
        s.push(credit_code_check_char(&s).expect("17 valid characters"));
        s
    }

    fn id_number(&mut self, region: &str) -> String {
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).expect("valid") + Days::new(self.rng.below(18_000));
        let mut s = format!("{region}{}{:03}", birth.format("%Y%m%d"), self.rng.below(1000));
        s.push(id_number_check_char(&s).expect("17 digits"));
        s
    }

    fn authority(&self, region: usize) -> (String, String) {
        // One fixed authority per county, with a stable valid code.
        let (code, name, _) = REGIONS[region];
        let mut first17 = format!("11{code}MB{:07}", 1_234_560 + region);
        first17.truncate(17);
        let mut uscc = first17.clone();
        uscc.push(credit_code_check_char(&first17).expect("valid characters"));
        (format!("淮北市{name}市场监督管理局"), uscc)
    }

    fn date_text(&mut self, d: NaiveDate) -> String {
        match self.rng.below(10) {
            0 => format!("{}/{}/{}", d.year(), d.month(), d.day()),
            1 => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
            2 => d.format("%Y%m%d").to_string(),
            _ => d.format("%Y-%m-%d").to_string(),
        }
    }

    fn person_name(&mut self) -> String {
        format!("{}{}{}", self.rng.pick(&SURNAMES), self.rng.pick(&GIVEN), self.rng.pick(&GIVEN))
    }

    /// A good row, with the subject kind forced when a bad kind needs one.
    fn good_row(&mut self, n: u64, forced: Option<Subject>) -> (Vec<String>, Subject, NaiveDate) {
        let mut row = vec![String::new(); self.columns.len()];
        let region = self.rng.below(REGIONS.len() as u64) as usize;
        let (rcode, rname, rshort) = REGIONS[region];
        let subject = forced.unwrap_or_else(|| match self.rng.below(20) {
            0..=13 => Subject::Company,
            14..=16 => Subject::Individual { placeholder: self.rng.below(8) == 0 },
            _ => Subject::Person,
        });
        let syll = format!("{}{}", self.rng.pick(&SYLLABLES), self.rng.pick(&SYLLABLES));
        let set = |row: &mut Vec<String>, g: &Self, col: &str, v: String| row[g.col(col)] = v;
        match subject {
            Subject::Company => {
                let trade = *self.rng.pick(&TRADES);
                set(&mut row, self, "行政相对人名称", format!("淮北市{rname}{syll}{trade}有限公司"));
                set(&mut row, self, "行政相对人类别", "法人及非法人组织".into());
                let code = self.credit_code("91", rcode);
                set(&mut row, self, "组织机构代码", code[8..17].to_string());
                set(&mut row, self, "统一社会信用代码", code);
                let rep = self.person_name();
                set(&mut row, self, "法定代表人", rep);
                if self.rng.below(3) == 0 {
                    set(&mut row, self, "法定代表人证件类型", "身份证".into());
                    let id = self.id_number(rcode);
                    set(&mut row, self, "法定代表人证件号码", id);
                }
            }
            Subject::Individual { placeholder } => {
                let shop = *self.rng.pick(&SHOPS);
                set(&mut row, self, "行政相对人名称", format!("{rname}{syll}{shop}"));
                set(&mut row, self, "行政相对人类别", "个体工商户".into());
                if placeholder {
                    set(&mut row, self, "统一社会信用代码", CREDIT_CODE_PLACEHOLDER.into());
                    set(&mut row, self, "工商注册号", format!("{rcode}600{:06}", n % 1_000_000));
                } else {
                    let code = self.credit_code("92", rcode);
                    set(&mut row, self, "统一社会信用代码", code);
                }
            }
            Subject::Person => {
                let name = self.person_name();
                set(&mut row, self, "行政相对人名称", name);
                set(&mut row, self, "行政相对人类别", "自然人".into());
                let kind = if self.rng.below(2) == 0 { "身份证" } else { "01" };
                set(&mut row, self, "证件类型", kind.into());
                let id = self.id_number(rcode);
                set(&mut row, self, "证件号码", id);
            }
        }
        let decided = self.spec.first_date + Days::new(self.rng.below(u64::from(self.spec.days.max(1))));
        let (authority, authority_code) = self.authority(region);
        let year = decided.year();
        match self.spec.item {
            SampleItem::Penalties => {
                set(&mut row, self, "行政处罚决定书文号", format!("淮{rshort}市监处罚〔{year}〕{}号", n + 1));
                let act = *self.rng.pick(&["无照经营", "销售过期食品", "虚假宣传", "未按规定公示年报"]);
                set(&mut row, self, "违法行为类型", act.into());
                set(
                    &mut row,
                    self,
                    "违法事实",
                    format!("经查，当事人于{}存在违法经营行为，违法所得若干。", decided.format("%Y年%m月")),
                );
                set(&mut row, self, "处罚依据", "《中华人民共和国行政处罚法》第二十八条".into());
                let kinds =
                    *self.rng.pick(&["01", "02", "02", "02", "01;02", "警告;罚款", "02;03", "05", "11", "罚款"]);
                set(&mut row, self, "处罚类别", kinds.into());
                let has = |code: &str, text: &str| kinds.split(';').any(|k| k == code || k == text);
                if has("02", "罚款") {
                    let v = format!("{}.{}", self.rng.below(5), self.rng.below(100));
                    set(&mut row, self, "罚款金额（万元）", v);
                }
                if has("03", "没收违法所得") {
                    let v = format!("0.{}", 1 + self.rng.below(9));
                    set(&mut row, self, "没收违法所得、没收非法财物的金额（万元）", v);
                }
                if has("05", "吊销许可证") || has("11", "暂扣许可证") {
                    set(
                        &mut row,
                        self,
                        "暂扣或吊销证照名称及编号",
                        format!("食品经营许可证 JY1{rcode}{:07}", n % 10_000_000),
                    );
                }
                set(&mut row, self, "处罚内容", "责令改正，并处罚款".into());
                let text = self.date_text(decided);
                set(&mut row, self, "处罚决定日期", text);
                let valid_to = if self.rng.below(10) == 0 {
                    "长期".to_string()
                } else {
                    (decided + Days::new(180)).format("%Y-%m-%d").to_string()
                };
                set(&mut row, self, "处罚有效期", valid_to);
                set(&mut row, self, "公示截止期", (decided + Days::new(365)).format("%Y-%m-%d").to_string());
                set(&mut row, self, "处罚机关", authority.clone());
                set(&mut row, self, "处罚机关统一社会信用代码", authority_code.clone());
                set(&mut row, self, "数据来源单位", authority);
                set(&mut row, self, "数据来源单位统一社会信用代码", authority_code);
                set(&mut row, self, "案件程序", "一般程序".into());
            }
            SampleItem::Licences => {
                set(&mut row, self, "行政许可决定文书名称", "食品经营许可决定书".into());
                set(&mut row, self, "行政许可决定文书号", format!("淮{rshort}市监许〔{year}〕{}号", n + 1));
                let kind = *self.rng.pick(&["普通", "登记", "核准", "认可", "01"]);
                set(&mut row, self, "许可类别", kind.into());
                set(&mut row, self, "许可证书名称", "食品经营许可证".into());
                set(&mut row, self, "许可编号", format!("JY2{rcode}{:07}", n % 10_000_000));
                set(&mut row, self, "许可内容", "预包装食品销售（含冷藏冷冻食品）".into());
                let text = self.date_text(decided);
                set(&mut row, self, "许可决定日期", text);
                set(&mut row, self, "有效期自", decided.format("%Y-%m-%d").to_string());
                let until = if self.rng.below(5) == 0 {
                    "长期".to_string()
                } else {
                    (decided + Days::new(5 * 365)).format("%Y-%m-%d").to_string()
                };
                set(&mut row, self, "有效期至", until);
                set(&mut row, self, "许可机关", authority.clone());
                set(&mut row, self, "许可机关统一社会信用代码", authority_code.clone());
                let status = *self.rng.pick(&["1", "有效"]);
                set(&mut row, self, "当前状态", status.into());
                set(&mut row, self, "数据来源单位", authority);
                set(&mut row, self, "数据来源单位统一社会信用代码", authority_code);
            }
        }
        (row, subject, decided)
    }

    /// A row breaking exactly the rule named by `kind`.
    fn bad_row(&mut self, n: u64, kind: &str) -> Vec<String> {
        let penalties = self.spec.item == SampleItem::Penalties;
        let forced = match kind {
            "bad_id_number" => Some(Subject::Person),
            "placeholder_without_registration" => Some(Subject::Individual { placeholder: true }),
            "bad_credit_code_check" | "bad_credit_code_chars" | "missing_legal_rep" => Some(Subject::Company),
            _ => None,
        };
        let (mut row, _, decided) = self.good_row(n, forced);
        let c = |g: &Self, name: &str| g.col(name);
        match kind {
            "missing_required" => {
                let col = if penalties { "违法事实" } else { "许可内容" };
                row[c(self, col)].clear();
            }
            "bad_credit_code_check" => {
                let i = c(self, "统一社会信用代码");
                let code = row[i].clone();
                let last = code.chars().last().unwrap_or('0');
                let other = CODE_CHARS.iter().map(|b| *b as char).find(|ch| *ch != last).unwrap_or('0');
                row[i] = format!("{}{other}", &code[..17]);
            }
            "bad_credit_code_chars" => {
                let i = c(self, "统一社会信用代码");
                row[i].replace_range(10..11, "I");
            }
            "bad_date" => {
                let col = if penalties { "公示截止期" } else { "有效期自" };
                row[c(self, col)] = "2023-02-30".into();
            }
            "end_before_start" => {
                let earlier = (decided - Days::new(10)).format("%Y-%m-%d").to_string();
                let col = if penalties { "处罚有效期" } else { "有效期至" };
                row[c(self, col)] = earlier;
            }
            "unknown_code" => {
                if penalties {
                    // Only a warning code: no conditional amount depends on it.
                    row[c(self, "处罚类别")] = "99".into();
                    row[c(self, "罚款金额（万元）")].clear();
                    row[c(self, "没收违法所得、没收非法财物的金额（万元）")].clear();
                    row[c(self, "暂扣或吊销证照名称及编号")].clear();
                } else {
                    row[c(self, "许可类别")] = "特别许可".into();
                }
            }
            "too_long" => {
                let col = if penalties { "行政处罚决定书文号" } else { "行政许可决定文书号" };
                let i = c(self, col);
                row[i] = format!("{}{}", row[i], "补".repeat(130));
            }
            "negative_amount" => {
                row[c(self, "处罚类别")] = "02".into();
                row[c(self, "罚款金额（万元）")] = "-0.5".into();
                row[c(self, "没收违法所得、没收非法财物的金额（万元）")].clear();
                row[c(self, "暂扣或吊销证照名称及编号")].clear();
            }
            "missing_fine" => {
                row[c(self, "处罚类别")] = "02".into();
                row[c(self, "罚款金额（万元）")].clear();
                row[c(self, "没收违法所得、没收非法财物的金额（万元）")].clear();
                row[c(self, "暂扣或吊销证照名称及编号")].clear();
            }
            "bad_id_number" => {
                let i = c(self, "证件号码");
                let id = row[i].clone();
                let last = id.chars().last().unwrap_or('0');
                let other = if last == '1' { '2' } else { '1' };
                row[i] = format!("{}{other}", &id[..17]);
            }
            "missing_legal_rep" => row[c(self, "法定代表人")].clear(),
            "placeholder_without_registration" => row[c(self, "工商注册号")].clear(),
            _ => {}
        }
        row
    }
}

enum Sink {
    Csv { out: Box<csv::Writer<BufWriter<File>>> },
    Gbk { out: BufWriter<File> },
    Xlsx { book: Box<rust_xlsxwriter::Workbook>, path: PathBuf, next_row: u32 },
}

impl Sink {
    fn write(&mut self, cells: &[String]) -> Result<(), SampleError> {
        match self {
            Sink::Csv { out } => out.write_record(cells)?,
            Sink::Gbk { out } => {
                let mut line = csv::Writer::from_writer(Vec::with_capacity(1024));
                line.write_record(cells)?;
                let line = line.into_inner().map_err(|e| e.into_error())?;
                let (bytes, _, _) = encoding_rs::GBK.encode(std::str::from_utf8(&line).unwrap_or_default());
                out.write_all(&bytes)?;
            }
            Sink::Xlsx { book, next_row, .. } => {
                let sheet = book.worksheet_from_index(0)?;
                for (col, v) in cells.iter().enumerate() {
                    sheet.write_string(*next_row, col as u16, v)?;
                }
                *next_row += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SampleError> {
        match self {
            Sink::Csv { mut out } => out.flush()?,
            Sink::Gbk { mut out, .. } => out.flush()?,
            Sink::Xlsx { mut book, path, .. } => book.save(&path)?,
        }
        Ok(())
    }
}

/// Writes the sample file and `<out>.expected.json`; returns what the file holds.
pub fn write_sample(spec: &SampleSpec, out: &Path) -> Result<SampleSummary, SampleError> {
    let columns = header(spec.item);
    let mut sink = match spec.format {
        SampleFormat::Csv | SampleFormat::CsvBom => {
            let mut file = BufWriter::with_capacity(1 << 20, File::create(out)?);
            if spec.format == SampleFormat::CsvBom {
                file.write_all(b"\xEF\xBB\xBF")?;
            }
            Sink::Csv { out: Box::new(csv::Writer::from_writer(file)) }
        }
        SampleFormat::CsvGbk => Sink::Gbk { out: BufWriter::with_capacity(1 << 20, File::create(out)?) },
        SampleFormat::Xlsx { title_row } => {
            let mut book = Box::new(rust_xlsxwriter::Workbook::new());
            book.add_worksheet_with_constant_memory()?;
            let mut sink = Sink::Xlsx { book, path: out.to_path_buf(), next_row: 0 };
            if title_row {
                let title = match spec.item {
                    SampleItem::Penalties => "行政处罚信息（市场监管局报送）",
                    SampleItem::Licences => "行政许可信息（市场监管局报送）",
                };
                sink.write(&[title.to_string()])?;
            }
            sink
        }
    };
    sink.write(&columns.iter().map(|c| c.to_string()).collect::<Vec<_>>())?;

    let kinds: &[&str] = match spec.item {
        SampleItem::Penalties => &BAD_KINDS_PENALTY,
        SampleItem::Licences => &BAD_KINDS_LICENCE,
    };
    let mut generator = Generator { rng: Rng(spec.seed), spec: spec.clone(), columns };
    let summary_share = if spec.item == SampleItem::Penalties { spec.summary_share } else { 0.0 };
    let mut summary = SampleSummary::default();
    let mut next_kind = 0usize;
    for n in 0..spec.rows {
        let roll = generator.rng.unit();
        let row = if roll < spec.bad_share {
            let kind = kinds[next_kind % kinds.len()];
            next_kind += 1;
            summary.bad += 1;
            *summary.bad_by_kind.entry(kind.to_string()).or_default() += 1;
            generator.bad_row(n, kind)
        } else if roll < spec.bad_share + summary_share {
            summary.skipped += 1;
            let (mut row, _, _) = generator.good_row(n, None);
            let i = generator.col("案件程序");
            row[i] = "简易程序".into();
            row
        } else {
            summary.good += 1;
            generator.good_row(n, None).0
        };
        sink.write(&row)?;
        summary.rows += 1;
    }
    sink.finish()?;
    let mut expected = out.as_os_str().to_os_string();
    expected.push(".expected.json");
    std::fs::write(expected, serde_json::to_vec_pretty(&summary)?)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CreditCode, IdNumber};

    fn spec(rows: u64, format: SampleFormat) -> SampleSpec {
        SampleSpec {
            item: SampleItem::Penalties,
            rows,
            seed: 3,
            bad_share: 0.2,
            summary_share: 0.05,
            format,
            first_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            days: 100,
        }
    }

    #[test]
    fn the_same_seed_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        let sa = write_sample(&spec(300, SampleFormat::Csv), &a).unwrap();
        let sb = write_sample(&spec(300, SampleFormat::Csv), &b).unwrap();
        assert_eq!(sa, sb);
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert_eq!(sa.rows, sa.good + sa.bad + sa.skipped);
        assert_eq!(sa.bad, sa.bad_by_kind.values().sum::<u64>());
        assert!(sa.bad_by_kind.len() == BAD_KINDS_PENALTY.len(), "every kind appears: {sa:?}");
    }

    #[test]
    fn good_rows_carry_valid_codes_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.csv");
        let mut s = spec(200, SampleFormat::Csv);
        s.bad_share = 0.0;
        write_sample(&s, &path).unwrap();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, super::header(SampleItem::Penalties));
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        for rec in reader.records() {
            let rec = rec.unwrap();
            let code = &rec[col("统一社会信用代码")];
            if !code.is_empty() && code != CREDIT_CODE_PLACEHOLDER {
                CreditCode::parse(code).unwrap();
            }
            CreditCode::parse(&rec[col("处罚机关统一社会信用代码")]).unwrap();
            let id = &rec[col("证件号码")];
            if !id.is_empty() {
                IdNumber::parse(id).unwrap();
            }
        }
    }

    #[test]
    fn gbk_and_workbooks_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let gbk = dir.path().join("g.csv");
        write_sample(&spec(20, SampleFormat::CsvGbk), &gbk).unwrap();
        let bytes = std::fs::read(&gbk).unwrap();
        assert!(std::str::from_utf8(&bytes).is_err(), "GBK is not UTF-8");
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad && text.starts_with("行政相对人名称,"));
        let xlsx = dir.path().join("t.xlsx");
        write_sample(&spec(20, SampleFormat::Xlsx { title_row: true }), &xlsx).unwrap();
        assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));
    }
}
