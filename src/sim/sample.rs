//! Deterministic, realistic department files for tests, benchmarks and the demo.
//!
//! A file looks like what a 市场监管 department sends: the provincial template whose header is
//! the catalogue's 中文 names (SPEC §2.1, §2.2), names, codes and dates as clerks write them.
//! Good rows carry valid check characters everywhere (SPEC §3). Each bad row breaks exactly
//! one rule, named in [`SampleSummary::bad_by_kind`], so a test can predict what ingest must
//! reject. Rows are generated and written one at a time: memory stays flat for any size.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Serialize;

use crate::ids::{
    CREDIT_ALPHABET, CREDIT_CODE_PLACEHOLDER, ID_CHECK_SYMBOLS, credit_code_check_char, org_code_check_char,
};
use crate::sim::fake::{Rng, SHOPS, SYLLABLES, push_check, push_credit_code, push_id_number, push_person_name};

/// Which 双公示 catalogue item a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleItem {
    /// 行政许可 (`XK`).
    Licences,
    /// 行政处罚 (`CF`).
    Penalties,
}

impl SampleItem {
    /// The catalogue code: `XK` or `CF`.
    pub fn code(self) -> &'static str {
        match self {
            SampleItem::Licences => "XK",
            SampleItem::Penalties => "CF",
        }
    }
}

/// The forms departments send files in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// UTF-8 CSV, CRLF line ends, as spreadsheet programs save it.
    Csv,
    /// UTF-8 CSV behind a byte-order mark, as Excel saves "CSV UTF-8".
    CsvBom,
    /// GBK CSV, what Excel on a Chinese Windows saves by default.
    CsvGbk,
    /// One worksheet; `title_row` puts a title above the header, as many templates do.
    Xlsx { title_row: bool },
}

/// What to generate. The same spec always gives the same rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    pub item: SampleItem,
    pub rows: u64,
    pub seed: u64,
    /// Share of rows that break exactly one rule: exactly `round(rows × bad_share)` rows.
    pub bad_share: f64,
    /// Share of 简易程序 rows (penalties only; ignored for licences): otherwise good rows
    /// that the gateway filters out (SPEC §2.3). As close to `round(rows × share)` as the
    /// bad rows leave room for.
    pub summary_share: f64,
    pub format: SampleFormat,
    pub first_date: NaiveDate,
    /// Decision dates spread over this many days from `first_date`.
    pub days: u32,
    /// Document numbers (文书号) count on from here: row n's is `first_number + n + 1`. Files of
    /// one day whose numbers must not meet (the soak's) start apart.
    pub first_number: u64,
}

/// What a generated file holds; also written beside it, see [`expected_path`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SampleSummary {
    /// Data rows, without the header and title rows.
    pub rows: u64,
    pub good: u64,
    pub bad: u64,
    /// 简易程序 penalties, to be filtered out rather than rejected.
    pub skipped: u64,
    /// Bad rows per broken rule, under stable names such as `bad_credit_code_check`.
    pub bad_by_kind: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("invalid sample spec: {0}")]
    Spec(String),
    #[error("cannot write the sample: {0}")]
    Io(#[from] io::Error),
    #[error("cannot write the sample: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot write the summary: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes the sample file and its summary beside it ([`expected_path`]); returns the summary.
pub fn write_sample(spec: &SampleSpec, out: &Path) -> Result<SampleSummary, SampleError> {
    check_spec(spec)?;
    let mut sink = Sink::create(spec, out)?;
    sink.write(&header(spec.item))?;

    let kinds: Vec<BadKind> = BadKind::ALL.into_iter().filter(|k| k.applies_to(spec.item)).collect();
    let summary_share = if spec.item == SampleItem::Penalties { spec.summary_share } else { 0.0 };
    let (mut bad_quota, mut summary_quota) = (Quota::new(spec.bad_share), Quota::new(summary_share));
    let mut generator = Generator::new(spec);
    let mut summary = SampleSummary::default();
    for n in 0..spec.rows {
        let role = if bad_quota.take(n) {
            Role::Bad(kinds[(summary.bad % kinds.len() as u64) as usize])
        } else if summary_quota.take(n) {
            Role::Summary
        } else {
            Role::Good
        };
        generator.fill(n, role);
        sink.write(&generator.row.cells)?;
        summary.rows += 1;
        match role {
            Role::Good => summary.good += 1,
            Role::Summary => summary.skipped += 1,
            Role::Bad(kind) => {
                summary.bad += 1;
                *summary.bad_by_kind.entry(kind.name().to_string()).or_default() += 1;
            }
        }
    }
    sink.finish()?;

    let mut json = serde_json::to_vec_pretty(&summary)?;
    json.push(b'\n');
    std::fs::write(expected_path(out), json)?;
    Ok(summary)
}

/// The seed of the demo's first 行政处罚 file; round `r` writes seed `DEMO_SEED + r`. The demo's
/// market lists and the sandbox's A级纳税人 name the firms of these files ([`company`]), so a
/// firm's credit file holds its penalty beside its listing, commitment or tax grade.
pub const DEMO_SEED: u64 = 1000;

/// A firm (法人, code prefix 91) as the sample files name it, with the market-regulation
/// bureau of its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCompany {
    pub name: String,
    pub credit_code: String,
    /// GB/T 2260 code of its region (`340603`).
    pub region: &'static str,
    /// 市场监督管理局 of the region and its credit code, as the files write them.
    pub authority: String,
    pub authority_code: String,
    /// The abbreviation that starts the bureau's document numbers (`淮相`).
    pub doc: &'static str,
}

/// The firm row `n` of any sample file of `seed` names, or `None` when that row names a shop
/// or a person. The subject is drawn before anything item- or date-specific, so it is the same
/// for licences and penalties and whatever the dates (a bad row may have been given another).
pub fn company(seed: u64, n: u64) -> Option<SampleCompany> {
    let spec = SampleSpec {
        item: SampleItem::Penalties,
        rows: 1,
        seed,
        bad_share: 0.0,
        summary_share: 0.0,
        format: SampleFormat::Csv,
        first_date: NaiveDate::MIN,
        days: 1,
        first_number: 0,
    };
    let mut generator = Generator::new(&spec);
    // As `Generator::fill` draws a good row's subject.
    let mut rng = Rng::for_row(seed, n);
    let region = rng.index(REGIONS.len());
    if Subject::random(&mut rng) != Subject::Company {
        return None;
    }
    generator.fill_subject(&mut rng, region, Subject::Company);
    let authority = &generator.authorities[region];
    Some(SampleCompany {
        name: std::mem::take(generator.row.cell(Col::Name)),
        credit_code: std::mem::take(generator.row.cell(Col::CreditCode)),
        region: REGIONS[region].code,
        authority: authority.name.clone(),
        authority_code: authority.code.clone(),
        doc: REGIONS[region].doc,
    })
}

/// `<out>.expected.json`: where [`write_sample`] puts the summary of `out`.
pub fn expected_path(out: &Path) -> PathBuf {
    let mut path = out.as_os_str().to_os_string();
    path.push(".expected.json");
    PathBuf::from(path)
}

/// The template header of an item: the catalogue's 中文 names in catalogue order, plus
/// 案件程序 for penalties, which is not reported but decides the 简易程序 filter.
pub fn header(item: SampleItem) -> Vec<&'static str> {
    columns(item).map(|&(_, zh)| zh).collect()
}

/// Decision dates stay in this range so that 长期 (2099-12-31) ends after every date derived
/// from them, and Excel (from 1900) can hold the workbook's creation date.
const DECISION_YEARS: std::ops::RangeInclusive<i32> = 1990..=2090;
/// Excel's last row.
const XLSX_MAX_ROWS: u64 = 1_048_576;

fn check_spec(spec: &SampleSpec) -> Result<(), SampleError> {
    let bad = |reason: String| Err(SampleError::Spec(reason));
    for (name, share) in [("bad_share", spec.bad_share), ("summary_share", spec.summary_share)] {
        if !(0.0..=1.0).contains(&share) {
            return bad(format!("{name} must be within 0–1, got {share}"));
        }
    }
    if spec.item == SampleItem::Penalties && spec.bad_share + spec.summary_share > 1.0 {
        return bad(format!(
            "bad_share + summary_share must not exceed 1, got {}",
            spec.bad_share + spec.summary_share
        ));
    }
    if spec.days == 0 {
        return bad("days must be at least 1".into());
    }
    let last = spec.first_date.checked_add_days(Days::new(u64::from(spec.days - 1)));
    if !DECISION_YEARS.contains(&spec.first_date.year()) || !last.is_some_and(|d| DECISION_YEARS.contains(&d.year())) {
        return bad(format!("decision dates must fall within {}–{}", DECISION_YEARS.start(), DECISION_YEARS.end()));
    }
    let title = u64::from(matches!(spec.format, SampleFormat::Xlsx { title_row: true }));
    if matches!(spec.format, SampleFormat::Xlsx { .. }) && spec.rows + 1 + title > XLSX_MAX_ROWS {
        return bad(format!("a worksheet holds at most {XLSX_MAX_ROWS} rows, header included"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Columns

/// Where a value goes. Columns that mean the same in both items (the decision's number,
/// date, authority) share a variant, so the generator fills them once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    SubjectKind,
    CreditCode,
    Registration,
    OrgCode,
    TaxNo,
    InstitutionNo,
    SocialOrgNo,
    LegalRep,
    LegalRepIdType,
    LegalRepId,
    IdType,
    IdNumber,
    DocName,
    DocNo,
    LicenceKind,
    CertName,
    CertNo,
    Act,
    Facts,
    Basis,
    PenaltyKinds,
    Content,
    Fine,
    Confiscated,
    LicenceTaken,
    Date,
    ValidFrom,
    ValidUntil,
    PublicUntil,
    Authority,
    AuthorityCode,
    Status,
    Source,
    SourceCode,
    Remark,
    Procedure,
}

const COL_COUNT: usize = Col::Procedure as usize + 1;

/// The subject columns, named as in XK for both items (SPEC §2.2 says "as XK").
const SUBJECT_COLUMNS: [(Col, &str); 13] = [
    (Col::Name, "行政相对人名称"),               // XDR_MC
    (Col::SubjectKind, "行政相对人类别"),        // XDR_LB
    (Col::CreditCode, "统一社会信用代码"),       // XDR_SHXYM
    (Col::Registration, "工商注册号"),           // XDR_GSZC
    (Col::OrgCode, "组织机构代码"),              // XDR_ZZJG
    (Col::TaxNo, "税务登记号"),                  // XDR_SWDJ
    (Col::InstitutionNo, "事业单位证书号"),      // XDR_SYDW
    (Col::SocialOrgNo, "社会组织登记证号"),      // XDR_SHZZ
    (Col::LegalRep, "法定代表人"),               // FRDB
    (Col::LegalRepIdType, "法定代表人证件类型"), // FR_ZJLX
    (Col::LegalRepId, "法定代表人证件号码"),     // FR_ZJHM
    (Col::IdType, "证件类型"),                   // XDR_ZJLX
    (Col::IdNumber, "证件号码"),                 // XDR_ZJHM
];

/// 行政许可 after the subject columns (SPEC §2.1).
const LICENCE_COLUMNS: [(Col, &str); 15] = [
    (Col::DocName, "行政许可决定文书名称"),            // XK_XKWS
    (Col::DocNo, "行政许可决定文书号"),                // XK_WSH
    (Col::LicenceKind, "许可类别"),                    // XK_XKLB
    (Col::CertName, "许可证书名称"),                   // XK_XKZS
    (Col::CertNo, "许可编号"),                         // XK_XKBH
    (Col::Content, "许可内容"),                        // XK_NR
    (Col::Date, "许可决定日期"),                       // XK_JDRQ
    (Col::ValidFrom, "有效期自"),                      // XK_YXQZ
    (Col::ValidUntil, "有效期至"),                     // XK_YXQZI
    (Col::Authority, "许可机关"),                      // XK_XKJG
    (Col::AuthorityCode, "许可机关统一社会信用代码"),  // XK_XKJGDM
    (Col::Status, "当前状态"),                         // XK_ZT
    (Col::Source, "数据来源单位"),                     // XK_LYDW
    (Col::SourceCode, "数据来源单位统一社会信用代码"), // XK_LYDWDM
    (Col::Remark, "备注"),                             // BZ
];

/// 行政处罚 after the subject columns (SPEC §2.2), then 案件程序.
const PENALTY_COLUMNS: [(Col, &str); 18] = [
    (Col::DocNo, "行政处罚决定书文号"),                             // CF_WSH
    (Col::Act, "违法行为类型"),                                     // CF_WFXW
    (Col::Facts, "违法事实"),                                       // CF_SY
    (Col::Basis, "处罚依据"),                                       // CF_YJ
    (Col::PenaltyKinds, "处罚类别"),                                // CF_CFLB
    (Col::Content, "处罚内容"),                                     // CF_NR
    (Col::Fine, "罚款金额（万元）"),                                // CF_NR_FK
    (Col::Confiscated, "没收违法所得、没收非法财物的金额（万元）"), // CF_NR_WFFF
    (Col::LicenceTaken, "暂扣或吊销证照名称及编号"),                // CF_NR_ZKDX
    (Col::Date, "处罚决定日期"),                                    // CF_JDRQ
    (Col::ValidUntil, "处罚有效期"),                                // CF_YXQ
    (Col::PublicUntil, "公示截止期"),                               // CF_GSJZQ
    (Col::Authority, "处罚机关"),                                   // CF_CFJG
    (Col::AuthorityCode, "处罚机关统一社会信用代码"),               // CF_CFJGDM
    (Col::Source, "数据来源单位"),                                  // CF_SJLY
    (Col::SourceCode, "数据来源单位统一社会信用代码"),              // CF_SJLYDM
    (Col::Remark, "备注"),                                          // BZ
    (Col::Procedure, "案件程序"),                                   // not reported: the 简易程序 filter
];

fn columns(item: SampleItem) -> impl Iterator<Item = &'static (Col, &'static str)> {
    let own: &'static [(Col, &str)] = match item {
        SampleItem::Licences => &LICENCE_COLUMNS,
        SampleItem::Penalties => &PENALTY_COLUMNS,
    };
    SUBJECT_COLUMNS.iter().chain(own)
}

/// One row's cells in header order. It is reused for every row, so the loop allocates only
/// when a cell outgrows its buffer.
struct Row {
    cells: Vec<String>,
    /// Header position of each [`Col`], `None` for the other item's columns.
    slots: [Option<usize>; COL_COUNT],
}

impl Row {
    fn new(item: SampleItem) -> Self {
        let mut slots = [None; COL_COUNT];
        let mut cells = Vec::new();
        for (i, &(col, _)) in columns(item).enumerate() {
            slots[col as usize] = Some(i);
            cells.push(String::new());
        }
        Self { cells, slots }
    }

    fn clear(&mut self) {
        self.cells.iter_mut().for_each(String::clear);
    }

    /// The cell of `col`, to append to.
    fn cell(&mut self, col: Col) -> &mut String {
        let i = self.slots[col as usize].expect("the generator fills only its item's columns");
        &mut self.cells[i]
    }

    fn set(&mut self, col: Col, value: &str) {
        let cell = self.cell(col);
        cell.clear();
        cell.push_str(value);
    }

    fn put(&mut self, col: Col, args: fmt::Arguments<'_>) {
        let cell = self.cell(col);
        cell.clear();
        cell.write_fmt(args).expect("formatting into a String cannot fail");
    }

    fn set_date(&mut self, col: Col, date: NaiveDate, style: DateStyle) {
        let (y, m, d) = (date.year(), date.month(), date.day());
        match style {
            DateStyle::Iso => self.put(col, format_args!("{y:04}-{m:02}-{d:02}")),
            DateStyle::Slash => self.put(col, format_args!("{y}/{m}/{d}")),
            DateStyle::Chinese => self.put(col, format_args!("{y}年{m}月{d}日")),
            DateStyle::Compact => self.put(col, format_args!("{y:04}{m:02}{d:02}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Row roles

/// Spreads a share of the rows evenly and exactly: after `n` rows, `round(n × share)` taken.
struct Quota {
    share: f64,
    taken: u64,
}

impl Quota {
    fn new(share: f64) -> Self {
        Self { share, taken: 0 }
    }

    /// Whether row `n` (0-based) should be one of the share; a refused row stays due.
    fn take(&mut self, n: u64) -> bool {
        let due = ((n + 1) as f64 * self.share).round() as u64;
        let take = due > self.taken;
        self.taken += u64::from(take);
        take
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Good,
    /// A 简易程序 penalty: good, but filtered out.
    Summary,
    Bad(BadKind),
}

/// The one rule a bad row breaks. The names are the keys of [`SampleSummary::bad_by_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadKind {
    /// A required text field is empty.
    MissingRequired,
    /// The subject's credit code has a wrong check character.
    BadCreditCodeCheck,
    /// The subject's credit code contains one of I O S V Z.
    BadCreditCodeChars,
    /// An end date that is no calendar date (`2025-02-30`).
    BadDate,
    /// An end date before the decision date or validity start.
    EndBeforeStart,
    /// A 处罚类别 or 许可类别 outside the code table.
    UnknownCode,
    /// A document number over 128 characters.
    TooLong,
    /// A negative fine (penalties only).
    NegativeAmount,
    /// 罚款 among the penalty kinds without its amount (penalties only).
    MissingFine,
    /// A natural person's ID number with a wrong check character.
    BadIdNumber,
    /// A 法人及非法人组织 without its 法定代表人.
    MissingLegalRep,
    /// The placeholder credit code without a 工商注册号.
    PlaceholderWithoutRegistration,
}

impl BadKind {
    /// In the order bad rows cycle through them.
    const ALL: [BadKind; 12] = [
        BadKind::MissingRequired,
        BadKind::BadCreditCodeCheck,
        BadKind::BadCreditCodeChars,
        BadKind::BadDate,
        BadKind::EndBeforeStart,
        BadKind::UnknownCode,
        BadKind::TooLong,
        BadKind::NegativeAmount,
        BadKind::MissingFine,
        BadKind::BadIdNumber,
        BadKind::MissingLegalRep,
        BadKind::PlaceholderWithoutRegistration,
    ];

    fn name(self) -> &'static str {
        match self {
            BadKind::MissingRequired => "missing_required",
            BadKind::BadCreditCodeCheck => "bad_credit_code_check",
            BadKind::BadCreditCodeChars => "bad_credit_code_chars",
            BadKind::BadDate => "bad_date",
            BadKind::EndBeforeStart => "end_before_start",
            BadKind::UnknownCode => "unknown_code",
            BadKind::TooLong => "too_long",
            BadKind::NegativeAmount => "negative_amount",
            BadKind::MissingFine => "missing_fine",
            BadKind::BadIdNumber => "bad_id_number",
            BadKind::MissingLegalRep => "missing_legal_rep",
            BadKind::PlaceholderWithoutRegistration => "placeholder_without_registration",
        }
    }

    fn applies_to(self, item: SampleItem) -> bool {
        !matches!(self, BadKind::NegativeAmount | BadKind::MissingFine) || item == SampleItem::Penalties
    }

    /// The subject the rule needs: only a company has a legal representative to drop.
    fn subject(self) -> Option<Subject> {
        match self {
            BadKind::BadCreditCodeCheck | BadKind::BadCreditCodeChars | BadKind::MissingLegalRep => {
                Some(Subject::Company)
            }
            BadKind::BadIdNumber => Some(Subject::Person),
            BadKind::PlaceholderWithoutRegistration => Some(Subject::Placeholder),
            _ => None,
        }
    }

    /// The penalty kinds the rule needs: a fine to break, or nothing that asks for an amount
    /// once the code is replaced by an unknown one.
    fn penalties(self) -> Option<&'static [&'static [u8]]> {
        match self {
            BadKind::NegativeAmount | BadKind::MissingFine => Some(&FINE_MIXES),
            BadKind::UnknownCode => Some(&WARNING_ONLY),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Vocabulary

/// 淮北市 (GB/T 2260 340600), its districts and its county: subject codes, ID numbers and
/// authorities use these division codes, so routing by region has something to route.
struct Region {
    code: &'static str,
    /// Official name, which starts an authority's name (`淮北市相山区市场监督管理局`).
    place: &'static str,
    /// How firm names start: registered in the city or in the county.
    firm: &'static str,
    /// How shop names start.
    local: &'static str,
    /// The abbreviation that starts document numbers (`淮相市监处罚〔2024〕12号`).
    doc: &'static str,
}

const REGIONS: [Region; 5] = [
    Region { code: "340600", place: "淮北市", firm: "淮北市", local: "淮北市", doc: "淮" },
    Region { code: "340602", place: "淮北市杜集区", firm: "淮北市", local: "杜集区", doc: "淮杜" },
    Region { code: "340603", place: "淮北市相山区", firm: "淮北市", local: "相山区", doc: "淮相" },
    Region { code: "340604", place: "淮北市烈山区", firm: "淮北市", local: "烈山区", doc: "淮烈" },
    Region { code: "340621", place: "濉溪县", firm: "濉溪县", local: "濉溪县", doc: "濉" },
];

/// County-level codes, the ones that start resident ID numbers.
const ID_AREAS: [&str; 4] = ["340602", "340603", "340604", "340621"];

const TRADES: [&str; 12] = [
    "商贸",
    "建材",
    "餐饮管理",
    "物流",
    "科技",
    "食品",
    "家具",
    "医药",
    "建筑工程",
    "农业发展",
    "电子商务",
    "汽车服务",
];
const FIRM_FORMS: [&str; 6] = ["有限公司", "有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司"];

/// The symbols GB 32100 leaves out as easily misread.
const FORBIDDEN: [&str; 5] = ["I", "O", "S", "V", "Z"];

/// 处罚类别 01–14 (行政处罚法 art. 9; SPEC §2.3): the text of code `i + 1`.
const PENALTY_KINDS: [&str; 14] = [
    "警告",
    "罚款",
    "没收违法所得",
    "责令停产停业",
    "吊销许可证",
    "行政拘留",
    "法律、行政法规规定的其他行政处罚",
    "通报批评",
    "没收非法财物",
    "降低资质等级",
    "暂扣许可证",
    "限制开展经营活动",
    "限制从业",
    "责令关闭",
];
/// Penalty kinds of a decision, fines the most common; several kinds are joined by `;`.
const PENALTY_MIXES: [&[u8]; 12] =
    [&[2], &[2], &[2], &[1], &[1, 2], &[2, 3], &[2, 9], &[5], &[11], &[4, 2], &[12], &[8]];
const FINE_MIXES: [&[u8]; 3] = [&[2], &[1, 2], &[2, 3]];
/// No kind that asks for an amount or a licence.
const WARNING_ONLY: [&[u8]; 1] = [&[1]];
/// 简易程序 allows only a warning or a small fine (行政处罚法 art. 51).
const SUMMARY_MIXES: [&[u8]; 2] = [&[1], &[2]];

/// A kind of case a market-regulation bureau decides.
struct Case {
    act: &'static str,
    /// Completes `经查，当事人于2024年3月…`.
    fact: &'static str,
    basis: &'static str,
}

const CASES: [Case; 7] = [
    Case {
        act: "销售不符合食品安全标准的食品",
        fact: "在其经营场所销售经抽检不合格的食品",
        basis: "《中华人民共和国食品安全法》第一百二十四条第一款",
    },
    Case {
        act: "销售超过保质期的食品",
        fact: "在其经营场所销售超过保质期的食品",
        basis: "《中华人民共和国食品安全法》第一百二十四条第一款第五项",
    },
    Case {
        act: "虚假宣传",
        fact: "在其网店页面对商品的功能作虚假的商业宣传",
        basis: "《中华人民共和国反不正当竞争法》第二十条第一款",
    },
    Case {
        act: "无照经营", fact: "未依法取得营业执照从事经营活动", basis: "《无证无照经营查处办法》第十三条"
    },
    Case {
        act: "未明码标价", fact: "销售商品未按规定明码标价", basis: "《明码标价和禁止价格欺诈规定》第二十一条"
    },
    Case {
        act: "使用未经检验的特种设备",
        fact: "使用未经定期检验的电梯",
        basis: "《中华人民共和国特种设备安全法》第八十四条第一项",
    },
    Case {
        act: "销售不合格产品",
        fact: "销售经抽查检验不合格的电线电缆",
        basis: "《中华人民共和国产品质量法》第四十九条",
    },
];

/// A kind of licence a market-regulation bureau grants, with its 许可类别.
struct Licence {
    decision: &'static str,
    certificate: &'static str,
    number_prefix: &'static str,
    content: &'static str,
    kind: &'static str,
}

const LICENCES: [Licence; 7] = [
    Licence {
        decision: "食品经营许可决定书",
        certificate: "食品经营许可证",
        number_prefix: "JY1",
        content: "预包装食品（含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售",
        kind: "普通",
    },
    Licence {
        decision: "食品经营许可决定书",
        certificate: "食品经营许可证",
        number_prefix: "JY2",
        content: "热食类食品制售；冷食类食品制售",
        kind: "普通",
    },
    Licence {
        decision: "食品生产许可决定书",
        certificate: "食品生产许可证",
        number_prefix: "SC1",
        content: "糕点（热加工糕点）；饮料（蛋白饮料类）",
        kind: "普通",
    },
    Licence {
        decision: "药品经营许可决定书",
        certificate: "药品经营许可证",
        number_prefix: "皖CB",
        content: "中成药、化学药制剂、抗生素制剂、生化药品",
        kind: "普通",
    },
    Licence {
        decision: "特种设备使用登记决定书",
        certificate: "特种设备使用登记证",
        number_prefix: "梯11皖F",
        content: "曳引驱动乘客电梯使用登记",
        kind: "登记",
    },
    Licence {
        decision: "工业产品生产许可决定书",
        certificate: "全国工业产品生产许可证",
        number_prefix: "皖XK",
        content: "建筑用钢筋",
        kind: "核准",
    },
    Licence {
        decision: "检验检测机构资质认定决定书",
        certificate: "检验检测机构资质认定证书",
        number_prefix: "CMA",
        content: "机动车安全技术检验",
        kind: "认可",
    },
];

/// The 行政相对人类别 of a row; `Placeholder` is a 个体工商户 without a credit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Company,
    Individual,
    Placeholder,
    Person,
}

impl Subject {
    fn random(rng: &mut Rng) -> Self {
        match rng.below(20) {
            0..=11 => Subject::Company,
            12..=14 => Subject::Individual,
            15 => Subject::Placeholder,
            _ => Subject::Person,
        }
    }
}

/// The forms of dates departments send; one per row, since one clerk types a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateStyle {
    Iso,
    Slash,
    Chinese,
    Compact,
}

impl DateStyle {
    fn random(rng: &mut Rng) -> Self {
        match rng.below(20) {
            0 | 1 => DateStyle::Slash,
            2 | 3 => DateStyle::Chinese,
            4 => DateStyle::Compact,
            _ => DateStyle::Iso,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rows

/// A market-regulation bureau: deciding authority and data source of its region's rows.
struct Authority {
    name: String,
    code: String,
}

/// What the item-specific part of a row needs to know about the common part.
struct Draft {
    n: u64,
    region: usize,
    subject: Subject,
    decided: NaiveDate,
    style: DateStyle,
}

struct Generator<'a> {
    spec: &'a SampleSpec,
    /// One per region, in the order of `REGIONS`.
    authorities: Vec<Authority>,
    row: Row,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a SampleSpec) -> Self {
        let authorities = REGIONS
            .iter()
            .zip(0u32..)
            .map(|(region, i)| {
                // `1` 机构编制 registers it, `1` a government body (机关); a fixed organisation
                // code each, so a bureau's code is the same in every file.
                let mut code = format!("11{}MB1{:05}", region.code, 93_517 + 1_013 * i);
                push_check(&mut code, 8, org_code_check_char);
                push_check(&mut code, 0, credit_code_check_char);
                Authority { name: format!("{}市场监督管理局", region.place), code }
            })
            .collect();
        Self { spec, authorities, row: Row::new(spec.item) }
    }

    /// Fills `self.row` with row `n` in `role`.
    fn fill(&mut self, n: u64, role: Role) {
        let mut rng = Rng::for_row(self.spec.seed, n);
        self.row.clear();
        let bad = match role {
            Role::Bad(kind) => Some(kind),
            _ => None,
        };
        let region = rng.index(REGIONS.len());
        let subject = bad.and_then(BadKind::subject).unwrap_or_else(|| Subject::random(&mut rng));
        self.fill_subject(&mut rng, region, subject);
        let decided = self.spec.first_date + Days::new(rng.below(u64::from(self.spec.days)));
        let draft = Draft { n, region, subject, decided, style: DateStyle::random(&mut rng) };
        match self.spec.item {
            SampleItem::Licences => self.fill_licence(&mut rng, &draft),
            SampleItem::Penalties => {
                let mixes = match role {
                    Role::Summary => &SUMMARY_MIXES[..],
                    _ => bad.and_then(BadKind::penalties).unwrap_or(&PENALTY_MIXES),
                };
                let kinds = rng.pick(mixes);
                self.fill_penalty(&mut rng, &draft, kinds, role == Role::Summary);
            }
        }
        if let Some(kind) = bad {
            self.break_rule(&mut rng, &draft, kind);
        }
    }

    fn fill_subject(&mut self, rng: &mut Rng, region: usize, subject: Subject) {
        let region = &REGIONS[region];
        let row = &mut self.row;
        let syllables = [rng.pick(&SYLLABLES), rng.pick(&SYLLABLES)];
        match subject {
            Subject::Company => {
                let (trade, form) = (rng.pick(&TRADES), rng.pick(&FIRM_FORMS));
                row.put(Col::Name, format_args!("{}{}{}{trade}{form}", region.firm, syllables[0], syllables[1]));
                row.set(Col::SubjectKind, "法人及非法人组织");
                // Firms registered before 2015 kept their organisation code inside the credit
                // code and still write it, and their tax number, in the old columns.
                let old = rng.one_in(3);
                push_credit_code(row.cell(Col::CreditCode), rng, "91", region.code, old);
                if old {
                    let org = row.cell(Col::CreditCode)[8..17].to_string();
                    if rng.one_in(4) {
                        row.put(Col::OrgCode, format_args!("{}-{}", &org[..8], &org[8..]));
                    } else {
                        row.set(Col::OrgCode, &org);
                    }
                    row.put(Col::TaxNo, format_args!("{}{org}", region.code));
                }
                push_person_name(row.cell(Col::LegalRep), rng);
                if rng.one_in(3) {
                    row.set(Col::LegalRepIdType, if rng.one_in(2) { "身份证" } else { "01" });
                    push_id_number(row.cell(Col::LegalRepId), rng, |rng| rng.pick(&ID_AREAS));
                }
            }
            Subject::Individual | Subject::Placeholder => {
                let shop = rng.pick(&SHOPS);
                row.put(Col::Name, format_args!("{}{}{}{shop}", region.local, syllables[0], syllables[1]));
                row.set(Col::SubjectKind, "个体工商户");
                if subject == Subject::Placeholder {
                    row.set(Col::CreditCode, CREDIT_CODE_PLACEHOLDER);
                    row.put(Col::Registration, format_args!("{}600{:06}", region.code, rng.below(1_000_000)));
                } else {
                    push_credit_code(row.cell(Col::CreditCode), rng, "92", region.code, false);
                }
                // The operator (经营者) is often written where a firm's representative goes.
                if rng.one_in(2) {
                    push_person_name(row.cell(Col::LegalRep), rng);
                }
            }
            Subject::Person => {
                push_person_name(row.cell(Col::Name), rng);
                row.set(Col::SubjectKind, "自然人");
                row.set(Col::IdType, if rng.one_in(2) { "身份证" } else { "01" });
                push_id_number(row.cell(Col::IdNumber), rng, |rng| rng.pick(&ID_AREAS));
            }
        }
    }

    fn fill_licence(&mut self, rng: &mut Rng, draft: &Draft) {
        let Draft { n, region, decided, style, .. } = *draft;
        let (place, authority) = (&REGIONS[region], &self.authorities[region]);
        let licence = &LICENCES[rng.index(LICENCES.len())];
        let row = &mut self.row;
        row.set(Col::DocName, licence.decision);
        row.put(
            Col::DocNo,
            format_args!("{}市监许〔{}〕{}号", place.doc, decided.year(), self.spec.first_number + n + 1),
        );
        row.set(Col::LicenceKind, licence.kind);
        row.set(Col::CertName, licence.certificate);
        row.put(Col::CertNo, format_args!("{}{}{:07}", licence.number_prefix, place.code, n % 10_000_000));
        row.set(Col::Content, licence.content);
        row.set_date(Col::Date, decided, style);
        row.set_date(Col::ValidFrom, decided, style);
        if rng.one_in(6) {
            row.set(Col::ValidUntil, "长期");
        } else {
            row.set_date(Col::ValidUntil, add_months(decided, 60).pred_opt().expect("within DECISION_YEARS"), style);
        }
        row.set(Col::Authority, &authority.name);
        row.set(Col::AuthorityCode, &authority.code);
        row.set(Col::Status, "1");
        row.set(Col::Source, &authority.name);
        row.set(Col::SourceCode, &authority.code);
        if rng.one_in(25) {
            row.set(Col::Remark, "新办");
        }
    }

    fn fill_penalty(&mut self, rng: &mut Rng, draft: &Draft, kinds: &[u8], summary: bool) {
        let Draft { n, region, subject, decided, style } = *draft;
        let (place, authority) = (&REGIONS[region], &self.authorities[region]);
        let case = &CASES[rng.index(CASES.len())];
        let row = &mut self.row;
        let procedure = if summary { "当罚" } else { "处罚" };
        let number = self.spec.first_number + n + 1;
        row.put(Col::DocNo, format_args!("{}市监{procedure}〔{}〕{number}号", place.doc, decided.year()));
        row.set(Col::Act, case.act);
        row.put(Col::Facts, format_args!("经查，当事人于{}年{}月{}。", decided.year(), decided.month(), case.fact));
        row.set(Col::Basis, case.basis);

        // Codes mostly; one clerk in eight writes the text (both are in the code table).
        let as_text = rng.one_in(8);
        let cell = row.cell(Col::PenaltyKinds);
        for (i, &k) in kinds.iter().enumerate() {
            if i > 0 {
                cell.push(';');
            }
            if as_text {
                cell.push_str(PENALTY_KINDS[usize::from(k - 1)]);
            } else {
                write!(cell, "{k:02}").expect("formatting into a String cannot fail");
            }
        }

        let person = subject == Subject::Person;
        // Fines in 元, multiples of 50; the summary procedure allows at most 200 元 for a
        // person and 3,000 元 for an organisation (行政处罚法 art. 51).
        let fine = match (summary, person) {
            (true, true) => 50 * rng.range(1, 4),
            (true, false) => 50 * rng.range(4, 60),
            (false, true) => 50 * rng.range(4, 100),
            (false, false) => 50 * rng.range(20, 2_000),
        };
        let confiscated = rng.range(100, 50_000);
        let licence_no = || format!("食品经营许可证（JY1{}{:07}）", place.code, n % 10_000_000);
        let content = row.cell(Col::Content);
        for (i, &k) in kinds.iter().enumerate() {
            if i > 0 {
                content.push('，');
            }
            let text = PENALTY_KINDS[usize::from(k - 1)];
            let written = match k {
                2 => write!(content, "罚款人民币{fine}元"),
                3 => write!(content, "没收违法所得{confiscated}元"),
                5 => write!(content, "吊销{}", licence_no()),
                11 => write!(content, "暂扣{}", licence_no()),
                _ => write!(content, "{text}"),
            };
            written.expect("formatting into a String cannot fail");
        }
        if kinds.contains(&2) {
            push_wan(row.cell(Col::Fine), fine);
        }
        if kinds.iter().any(|k| matches!(k, 3 | 9)) {
            push_wan(row.cell(Col::Confiscated), confiscated);
        }
        if kinds.iter().any(|k| matches!(k, 5 | 11)) {
            row.set(Col::LicenceTaken, &licence_no());
        }

        row.set_date(Col::Date, decided, style);
        // Publicity within the law's range (config/publicity.toml, SPEC §5): serious penalties
        // (吊销, 责令停产停业, …) 1–3 years, 特种设备 a year, others 3–12 months; the
        // penalty's own validity is often the same date.
        let months = rng.pick(&[3, 6, 12, 12, 36]);
        let serious = kinds.iter().any(|k| matches!(k, 4 | 5 | 6 | 13 | 14));
        let months = match (serious, case.act.contains("特种设备") || case.basis.contains("特种设备")) {
            (true, _) => months.max(12),
            (false, true) => 12,
            (false, false) => months.min(12),
        };
        let public_until = add_months(decided, months);
        let valid_until = if rng.one_in(2) { public_until } else { add_months(decided, 12) };
        row.set_date(Col::ValidUntil, valid_until, style);
        row.set_date(Col::PublicUntil, public_until, style);
        row.set(Col::Authority, &authority.name);
        row.set(Col::AuthorityCode, &authority.code);
        row.set(Col::Source, &authority.name);
        row.set(Col::SourceCode, &authority.code);
        if rng.one_in(25) {
            row.set(Col::Remark, "当事人已履行完毕");
        }
        row.set(Col::Procedure, if summary { "简易程序" } else { "一般程序" });
    }

    /// Breaks `kind` on a good row. [`Generator::fill`] chose the subject and penalty kinds
    /// the rule needs, so nothing else breaks with it.
    fn break_rule(&mut self, rng: &mut Rng, draft: &Draft, kind: BadKind) {
        let penalties = self.spec.item == SampleItem::Penalties;
        let row = &mut self.row;
        let end = if penalties { rng.pick(&[Col::ValidUntil, Col::PublicUntil]) } else { Col::ValidUntil };
        match kind {
            BadKind::MissingRequired => {
                let col = if penalties {
                    rng.pick(&[Col::Facts, Col::Basis, Col::Content, Col::Act])
                } else {
                    rng.pick(&[Col::Content, Col::DocName])
                };
                row.cell(col).clear();
            }
            BadKind::BadCreditCodeCheck => {
                let cell = row.cell(Col::CreditCode);
                let old = cell.pop().expect("a company has a credit code");
                cell.push(other_symbol(rng, CREDIT_ALPHABET, old));
            }
            BadKind::BadCreditCodeChars => {
                // Inside the organisation code, where a misread O or I usually lands.
                let at = 8 + rng.index(8);
                row.cell(Col::CreditCode).replace_range(at..=at, rng.pick(&FORBIDDEN));
            }
            BadKind::BadDate => {
                let year = draft.decided.year() + 1;
                match rng.below(3) {
                    0 => row.put(end, format_args!("{year}-02-30")),
                    1 => row.put(end, format_args!("{year}-04-31")),
                    _ => row.put(end, format_args!("{year}年2月30日")),
                }
            }
            BadKind::EndBeforeStart => {
                let before = draft.decided - Days::new(rng.range(1, 30));
                row.set_date(end, before, draft.style);
            }
            BadKind::UnknownCode => {
                if penalties {
                    // 罚金 is a criminal penalty, not an administrative one.
                    row.set(Col::PenaltyKinds, rng.pick(&["99", "15", "罚金"]));
                } else {
                    row.set(Col::LicenceKind, rng.pick(&["特别许可", "备案", "07"]));
                }
            }
            BadKind::TooLong => {
                // The whole decision title pasted into the number cell.
                let cell = row.cell(Col::DocNo);
                cell.push('（');
                while cell.chars().count() <= 128 {
                    cell.push_str("关于当事人违法行为的行政决定书全文详见附件");
                }
                cell.push('）');
            }
            BadKind::NegativeAmount => row.cell(Col::Fine).insert(0, '-'),
            BadKind::MissingFine => row.cell(Col::Fine).clear(),
            BadKind::BadIdNumber => {
                let cell = row.cell(Col::IdNumber);
                let old = cell.pop().expect("a person has an ID number");
                cell.push(other_symbol(rng, ID_CHECK_SYMBOLS, old));
            }
            BadKind::MissingLegalRep => {
                for col in [Col::LegalRep, Col::LegalRepIdType, Col::LegalRepId] {
                    row.cell(col).clear();
                }
            }
            BadKind::PlaceholderWithoutRegistration => row.cell(Col::Registration).clear(),
        }
    }
}

/// Appends an amount in 元 as 万元, the catalogue's unit (SPEC §2): 2000 → `0.2`.
fn push_wan(out: &mut String, yuan: u64) {
    let (whole, part) = (yuan / 10_000, yuan % 10_000);
    if part == 0 {
        write!(out, "{whole}")
    } else {
        let digits = format!("{part:04}");
        write!(out, "{whole}.{}", digits.trim_end_matches('0'))
    }
    .expect("formatting into a String cannot fail");
}

/// A symbol of `alphabet` other than `old`, for a wrong check character.
fn other_symbol(rng: &mut Rng, alphabet: &[u8], old: char) -> char {
    let at = alphabet.iter().position(|&b| char::from(b) == old).unwrap_or(0);
    char::from(alphabet[(at + 1 + rng.index(alphabet.len() - 1)) % alphabet.len()])
}

fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months)).expect("decision dates end by 2090: far from chrono's limit")
}

// ---------------------------------------------------------------------------------------
// Output

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where rows go: each format behind one `write`.
enum Sink {
    Csv(csv::Writer<BufWriter<File>>),
    GbkCsv(csv::Writer<GbkWriter<BufWriter<File>>>),
    /// Boxed: a workbook is large beside the other variants.
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        path: PathBuf,
        next_row: u32,
    },
}

impl Sink {
    fn create(spec: &SampleSpec, out: &Path) -> Result<Self, SampleError> {
        let file = || File::create(out).map(|f| BufWriter::with_capacity(1 << 16, f));
        Ok(match spec.format {
            SampleFormat::Csv => Sink::Csv(csv_writer(file()?)),
            SampleFormat::CsvBom => {
                let mut file = file()?;
                file.write_all(UTF8_BOM)?;
                Sink::Csv(csv_writer(file))
            }
            SampleFormat::CsvGbk => Sink::GbkCsv(csv_writer(GbkWriter::new(file()?))),
            SampleFormat::Xlsx { title_row } => {
                use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
                let mut book = Box::new(Workbook::new());
                // A fixed creation time instead of now keeps workbooks byte-identical too.
                let d = spec.first_date;
                let created = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                book.set_properties(&DocProperties::new().set_creation_datetime(&created));
                // Constant memory: rows go to a temporary file as written, so memory stays flat.
                let sheet = book.add_worksheet_with_constant_memory()?;
                let (name, title) = match spec.item {
                    SampleItem::Licences => ("行政许可", "行政许可信息报送表"),
                    SampleItem::Penalties => ("行政处罚", "行政处罚信息报送表"),
                };
                sheet.set_name(name)?;
                if title_row {
                    sheet.write_string(0, 0, title)?;
                }
                Sink::Xlsx { book, path: out.to_path_buf(), next_row: u32::from(title_row) }
            }
        })
    }

    fn write<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<(), SampleError> {
        let bytes = || cells.iter().map(|c| c.as_ref().as_bytes());
        match self {
            Sink::Csv(out) => out.write_record(bytes())?,
            Sink::GbkCsv(out) => out.write_record(bytes())?,
            Sink::Xlsx { book, next_row, .. } => {
                let sheet = book.worksheet_from_index(0)?;
                for (col, cell) in (0u16..).zip(cells) {
                    // Empty cells stay blank, as in a sheet typed by hand.
                    if !cell.as_ref().is_empty() {
                        sheet.write_string(*next_row, col, cell.as_ref())?;
                    }
                }
                *next_row += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SampleError> {
        match self {
            Sink::Csv(mut out) => out.flush()?,
            Sink::GbkCsv(mut out) => out.flush()?,
            Sink::Xlsx { mut book, path, .. } => book.save(&path)?,
        }
        Ok(())
    }
}

/// CRLF line ends, as Excel and department systems on Windows write them.
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out)
}

/// Re-encodes the UTF-8 the csv writer produces into GBK on its way out. The csv writer
/// flushes its buffer wherever it fills, possibly inside a character, so an incomplete
/// character waits for the next write.
struct GbkWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> GbkWriter<W> {
    fn new(inner: W) -> Self {
        Self { inner, pending: Vec::new() }
    }
}

impl<W: Write> Write for GbkWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        let text = std::str::from_utf8(&self.pending[..complete])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        if unmappable {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "a character has no GBK encoding"));
        }
        self.inner.write_all(&bytes)?;
        self.pending.drain(..complete);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the text ends inside a character"));
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ids::id_number_check_char;

    /// The shipped configuration agrees with itself: the sample departments, the sandbox and
    /// the demo decide in our own jurisdiction, so `feeds missing` has something to compare.
    #[test]
    fn the_sample_regions_are_the_shipped_own_jurisdiction() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let settings = crate::config::Settings::load(&root.join("config/gateway.toml")).expect("shipped config loads");
        let own = settings.divisions.own().expect("config/divisions.toml names its own jurisdiction").to_string();
        for region in &REGIONS {
            assert!(
                settings.divisions.within(region.code, &own),
                "{} ({}) is not within {own}",
                region.code,
                region.place
            );
            assert!(settings.divisions.get(region.code).is_some(), "{} is not in config/divisions.toml", region.code);
        }
    }

    #[test]
    fn company_names_the_firm_of_a_good_row() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.csv");
        let spec = SampleSpec {
            bad_share: 0.0,
            summary_share: 0.0,
            seed: DEMO_SEED,
            ..spec(SampleItem::Penalties, 200, SampleFormat::Csv)
        };
        write_sample(&spec, &out).unwrap();
        let mut reader = csv::Reader::from_path(&out).unwrap();
        let mut firms = 0;
        for (n, row) in reader.records().enumerate() {
            let row = row.unwrap();
            let got = company(DEMO_SEED, n as u64);
            assert_eq!(got.is_some(), &row[1] == "法人及非法人组织", "row {n}");
            if let Some(c) = got {
                firms += 1;
                assert_eq!((c.name.as_str(), c.credit_code.as_str()), (&row[0], &row[2]), "row {n}");
                assert!(crate::ids::CreditCode::parse(&c.authority_code).is_ok());
                assert!(c.authority.ends_with("市场监督管理局") && c.credit_code[2..8] == *c.region);
            }
        }
        assert!(firms > 80, "{firms}");
    }

    fn spec(item: SampleItem, rows: u64, format: SampleFormat) -> SampleSpec {
        SampleSpec {
            item,
            rows,
            seed: 42,
            bad_share: 0.25,
            summary_share: 0.05,
            format,
            first_date: NaiveDate::from_ymd_opt(2024, 1, 1).expect("a real date"),
            days: 400,
            first_number: 0,
        }
    }

    /// Writes `spec` into a fresh folder; the folder lives as long as the returned guard.
    fn write(spec: &SampleSpec, name: &str) -> (tempfile::TempDir, PathBuf, SampleSummary) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(name);
        let summary = write_sample(spec, &path).expect("the sample is written");
        (dir, path, summary)
    }

    fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_path(path).expect("a CSV file");
        let header = reader.headers().expect("a header").iter().map(str::to_string).collect();
        let rows = reader.records().map(|r| r.expect("a record").iter().map(str::to_string).collect()).collect();
        (header, rows)
    }

    fn named<'a>(header: &'a [String], row: &'a [String]) -> HashMap<&'a str, &'a str> {
        assert_eq!(header.len(), row.len(), "every row has every column");
        header.iter().map(String::as_str).zip(row.iter().map(String::as_str)).collect()
    }

    fn date(s: &str) -> Option<NaiveDate> {
        ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d"].iter().find_map(|f| NaiveDate::parse_from_str(s, f).ok())
    }

    fn credit_code_rule(code: &str) -> Option<&'static str> {
        if code.len() != 18 || !code.bytes().all(|b| CREDIT_ALPHABET.contains(&b)) {
            return Some("bad_credit_code_chars");
        }
        let org_ok = org_code_check_char(&code[8..16]) == code[16..17].chars().next();
        let ok = credit_code_check_char(&code[..17]) == code[17..].chars().next();
        (!(ok && org_ok)).then_some("bad_credit_code_check")
    }

    fn id_number_ok(id: &str) -> bool {
        id.len() == 18 && date(&id[6..14]).is_some() && id_number_check_char(&id[..17]) == id[17..].chars().next()
    }

    /// An independent reading of SPEC §2–3 for these tests: the rules a row breaks, under the
    /// generator's names (or a name it never uses, which fails the tests). It shares nothing
    /// with the generator but the check-character functions of `crate::ids`.
    fn broken_rules(item: SampleItem, row: &HashMap<&str, &str>) -> Vec<&'static str> {
        let penalties = item == SampleItem::Penalties;
        let mut broken = Vec::new();
        let required: &[&str] = if penalties {
            &["违法行为类型", "违法事实", "处罚依据", "处罚内容", "处罚类别", "处罚机关", "数据来源单位"]
        } else {
            &["行政许可决定文书名称", "许可类别", "许可内容", "许可机关", "数据来源单位"]
        };
        if required.iter().chain(&["行政相对人名称", "行政相对人类别"]).any(|f| row[f].is_empty()) {
            broken.push("missing_required");
        }
        let limits = [("行政处罚决定书文号", 128), ("行政许可决定文书号", 128), ("行政相对人名称", 200)];
        if limits.iter().any(|(f, max)| row.get(f).is_some_and(|v| v.chars().count() > *max)) {
            broken.push("too_long");
        }
        let authority =
            if penalties { "处罚机关统一社会信用代码" } else { "许可机关统一社会信用代码" };
        for field in ["统一社会信用代码", authority, "数据来源单位统一社会信用代码"] {
            let code = row[field];
            if field != "统一社会信用代码" || !(code.is_empty() || code == CREDIT_CODE_PLACEHOLDER) {
                broken.extend(credit_code_rule(code));
            }
        }
        let org = row["组织机构代码"].replace('-', "");
        if !org.is_empty() && org_code_check_char(&org[..8]) != org[8..].chars().next() {
            broken.push("bad_org_code");
        }
        let id_type_ok = |t: &str| matches!(t, "身份证" | "01");
        match row["行政相对人类别"] {
            "法人及非法人组织" if row["法定代表人"].is_empty() => broken.push("missing_legal_rep"),
            "法人及非法人组织" | "个体工商户" if row["统一社会信用代码"].is_empty() => {
                broken.push("missing_code")
            }
            "个体工商户" if row["统一社会信用代码"] == CREDIT_CODE_PLACEHOLDER && row["工商注册号"].is_empty() =>
            {
                broken.push("placeholder_without_registration");
            }
            "自然人" if !id_type_ok(row["证件类型"]) => broken.push("unknown_id_type"),
            "自然人" if !id_number_ok(row["证件号码"]) => broken.push("bad_id_number"),
            "法人及非法人组织" | "个体工商户" | "自然人" => {}
            _ => broken.push("unknown_subject_kind"),
        }
        let rep_id = row["法定代表人证件号码"];
        let rep_id_ok = rep_id.is_empty() || (id_type_ok(row["法定代表人证件类型"]) && id_number_ok(rep_id));
        if !rep_id_ok {
            broken.push("bad_legal_rep_id");
        }

        let (decided, ends): (&str, &[(&str, &str)]) = if penalties {
            ("处罚决定日期", &[("处罚有效期", "处罚决定日期"), ("公示截止期", "处罚决定日期")])
        } else {
            ("许可决定日期", &[("有效期至", "有效期自")])
        };
        let dates = ends.iter().flat_map(|(end, start)| [*end, *start]).chain([decided]);
        if dates.clone().any(|f| row[f] != "长期" && date(row[f]).is_none()) {
            broken.push("bad_date");
        } else if ends.iter().any(|(end, start)| row[end] != "长期" && date(row[end]) < date(row[start])) {
            broken.push("end_before_start");
        }

        if penalties {
            let kinds: Vec<&str> = row["处罚类别"].split(';').collect();
            let kind_ok = |k: &&str| {
                k.parse::<usize>().is_ok_and(|c| (1..=14).contains(&c) && k.len() == 2) || PENALTY_KINDS.contains(k)
            };
            if !kinds.iter().all(kind_ok) || !matches!(row["案件程序"], "一般程序" | "简易程序") {
                broken.push("unknown_code");
            }
            let has = |code: &str| {
                kinds.iter().any(|k| *k == code || *k == PENALTY_KINDS[code.parse::<usize>().unwrap() - 1])
            };
            if has("02") && row["罚款金额（万元）"].is_empty() {
                broken.push("missing_fine");
            }
            for field in ["罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）"] {
                let v = row[field];
                let decimals = v.split_once('.').map_or(0, |(_, d)| d.len());
                if !v.is_empty() && (v.parse::<f64>().map_or(true, |a| a < 0.0) || decimals > 6) {
                    broken.push("negative_amount");
                }
            }
            if (has("03") || has("09")) && row["没收违法所得、没收非法财物的金额（万元）"].is_empty()
            {
                broken.push("missing_confiscation");
            }
            if (has("05") || has("11")) && row["暂扣或吊销证照名称及编号"].is_empty() {
                broken.push("missing_licence_taken");
            }
        } else if !matches!(row["许可类别"], "普通" | "特许" | "认可" | "核准" | "登记" | "其他")
            || !matches!(row["当前状态"], "1" | "2")
        {
            broken.push("unknown_code");
        }
        broken
    }

    #[test]
    fn the_header_is_the_catalogue_in_order() {
        let subject = "行政相对人名称,行政相对人类别,统一社会信用代码,工商注册号,组织机构代码,税务登记号,\
            事业单位证书号,社会组织登记证号,法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,证件号码";
        let licences = "行政许可决定文书名称,行政许可决定文书号,许可类别,许可证书名称,许可编号,许可内容,\
            许可决定日期,有效期自,有效期至,许可机关,许可机关统一社会信用代码,当前状态,数据来源单位,\
            数据来源单位统一社会信用代码,备注";
        let penalties = "行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额（万元）,\
            没收违法所得、没收非法财物的金额（万元）,暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期,\
            处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,备注,案件程序";
        assert_eq!(header(SampleItem::Licences).join(","), format!("{subject},{licences}"));
        assert_eq!(header(SampleItem::Penalties).join(","), format!("{subject},{penalties}"));
        for item in [SampleItem::Licences, SampleItem::Penalties] {
            let names = header(item);
            let unique: std::collections::HashSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "{} header names are unique", item.code());
        }
    }

    #[test]
    fn the_same_seed_writes_the_same_bytes_in_every_format() {
        let formats = [
            (SampleFormat::Csv, "a.csv"),
            (SampleFormat::CsvBom, "a.csv"),
            (SampleFormat::CsvGbk, "a.csv"),
            (SampleFormat::Xlsx { title_row: true }, "a.xlsx"),
        ];
        for (format, name) in formats {
            let s = spec(SampleItem::Penalties, 300, format);
            let (_a, a, summary_a) = write(&s, name);
            let (_b, b, summary_b) = write(&s, name);
            assert_eq!(summary_a, summary_b);
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{format:?}");
            let (_c, c, _) = write(&SampleSpec { seed: 43, ..s }, name);
            assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap(), "{format:?}: another seed");
        }
    }

    #[test]
    fn a_longer_file_starts_with_the_rows_of_a_shorter_one() {
        let s = spec(SampleItem::Licences, 120, SampleFormat::Csv);
        let (_a, short, _) = write(&s, "short.csv");
        let (_b, long, _) = write(&SampleSpec { rows: 250, ..s }, "long.csv");
        let (short, long) = (std::fs::read(short).unwrap(), std::fs::read(long).unwrap());
        assert!(long.starts_with(&short));
    }

    #[test]
    fn every_bad_row_breaks_exactly_the_one_rule_the_summary_counts() {
        for item in [SampleItem::Penalties, SampleItem::Licences] {
            let (_dir, path, summary) = write(&spec(item, 600, SampleFormat::Csv), "rows.csv");
            let (header, rows) = read_csv(&path);
            let mut found = SampleSummary { rows: rows.len() as u64, ..SampleSummary::default() };
            for row in &rows {
                let row = named(&header, row);
                match broken_rules(item, &row)[..] {
                    [] if row.get("案件程序") == Some(&"简易程序") => found.skipped += 1,
                    [] => found.good += 1,
                    [rule] => {
                        found.bad += 1;
                        *found.bad_by_kind.entry(rule.to_string()).or_default() += 1;
                    }
                    ref rules => panic!("{} row breaks {rules:?}: {row:?}", item.code()),
                }
            }
            assert_eq!(found, summary, "{}", item.code());
            let expected: SampleSummary = {
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(expected_path(&path)).unwrap()).unwrap();
                let counts = json["bad_by_kind"].as_object().unwrap();
                SampleSummary {
                    rows: json["rows"].as_u64().unwrap(),
                    good: json["good"].as_u64().unwrap(),
                    bad: json["bad"].as_u64().unwrap(),
                    skipped: json["skipped"].as_u64().unwrap(),
                    bad_by_kind: counts.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect(),
                }
            };
            assert_eq!(expected, summary, "{}: the file beside the sample", item.code());
        }
    }

    #[test]
    fn bad_rows_cycle_through_every_kind_in_turn() {
        for (item, kinds) in [(SampleItem::Penalties, 12), (SampleItem::Licences, 10)] {
            let s = SampleSpec { bad_share: 1.0, summary_share: 0.0, ..spec(item, 2 * kinds, SampleFormat::Csv) };
            let (_dir, path, summary) = write(&s, "bad.csv");
            assert_eq!((summary.bad, summary.bad_by_kind.len() as u64), (s.rows, kinds));
            assert!(summary.bad_by_kind.values().all(|&n| n == 2), "{summary:?}");
            let (header, rows) = read_csv(&path);
            let names: Vec<_> = BadKind::ALL.iter().filter(|k| k.applies_to(item)).map(|k| k.name()).collect();
            for (n, row) in rows.iter().enumerate() {
                assert_eq!(broken_rules(item, &named(&header, row)), [names[n % names.len()]], "row {n}");
            }
        }
    }

    #[test]
    fn shares_give_exact_counts_and_licences_have_no_summary_procedure() {
        let s =
            SampleSpec { bad_share: 0.1, summary_share: 0.03, ..spec(SampleItem::Penalties, 1000, SampleFormat::Csv) };
        let (_a, _, penalties) = write(&s, "cf.csv");
        assert_eq!((penalties.rows, penalties.bad, penalties.skipped), (1000, 100, 30));
        assert_eq!(penalties.bad_by_kind.values().sum::<u64>(), penalties.bad);
        let (_b, _, licences) = write(&SampleSpec { item: SampleItem::Licences, ..s }, "xk.csv");
        assert_eq!((licences.bad, licences.skipped, licences.good), (100, 0, 900));
    }

    #[test]
    fn good_rows_carry_valid_check_characters_and_real_dates() {
        for item in [SampleItem::Penalties, SampleItem::Licences] {
            let (_dir, path, summary) =
                write(&SampleSpec { bad_share: 0.0, ..spec(item, 500, SampleFormat::Csv) }, "g.csv");
            assert_eq!(summary.bad, 0);
            let (header, rows) = read_csv(&path);
            let (mut persons, mut placeholders, mut forms) = (0, 0, std::collections::HashSet::new());
            for row in &rows {
                let row = named(&header, row);
                let code = row["统一社会信用代码"];
                match row["行政相对人类别"] {
                    "法人及非法人组织" => assert!(code.starts_with("913406"), "{code}"),
                    "个体工商户" if code == CREDIT_CODE_PLACEHOLDER => placeholders += 1,
                    "个体工商户" => assert!(code.starts_with("923406"), "{code}"),
                    _ => {
                        assert!(code.is_empty() && id_number_ok(row["证件号码"]), "{row:?}");
                        persons += 1;
                    }
                }
                if !code.is_empty() && code != CREDIT_CODE_PLACEHOLDER {
                    assert_eq!(credit_code_rule(code), None, "{code}");
                }
                for field in header.iter().filter(|h| h.ends_with("机关统一社会信用代码")) {
                    assert!(
                        row[field.as_str()].starts_with("113406") && credit_code_rule(row[field.as_str()]).is_none()
                    );
                }
                let decided = row[header.iter().find(|h| h.ends_with("决定日期")).unwrap().as_str()];
                forms.insert(decided.chars().filter(|c| !c.is_ascii_digit()).collect::<String>());
            }
            assert!(persons > 0 && placeholders > 0, "{} rows cover every subject kind", item.code());
            assert_eq!(forms.len(), 4, "dates come in every form departments send: {forms:?}");
        }
    }

    #[test]
    fn gbk_is_the_utf8_file_re_encoded() {
        let s = spec(SampleItem::Penalties, 200, SampleFormat::Csv);
        let (_a, utf8, _) = write(&s, "u.csv");
        let (_b, gbk, _) = write(&SampleSpec { format: SampleFormat::CsvGbk, ..s }, "g.csv");
        let (utf8, gbk) = (std::fs::read(utf8).unwrap(), std::fs::read(gbk).unwrap());
        assert!(std::str::from_utf8(&gbk).is_err(), "GBK is not UTF-8");
        let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&gbk);
        assert!(!had_errors);
        assert_eq!(text.as_bytes(), utf8);
    }

    #[test]
    fn the_bom_file_is_the_utf8_file_behind_a_bom() {
        let s = spec(SampleItem::Licences, 50, SampleFormat::Csv);
        let (_a, plain, _) = write(&s, "u.csv");
        let (_b, bom, _) = write(&SampleSpec { format: SampleFormat::CsvBom, ..s }, "b.csv");
        assert_eq!(std::fs::read(bom).unwrap(), [UTF8_BOM, &std::fs::read(plain).unwrap()].concat());
    }

    #[test]
    fn a_workbook_holds_the_rows_of_the_csv_file() {
        use calamine::{Reader, Xlsx, open_workbook};
        for (item, sheet, title_row) in
            [(SampleItem::Penalties, "行政处罚", true), (SampleItem::Licences, "行政许可", false)]
        {
            let s = spec(item, 150, SampleFormat::Csv);
            let (_a, csv_path, _) = write(&s, "u.csv");
            let (_b, xlsx, summary) = write(&SampleSpec { format: SampleFormat::Xlsx { title_row }, ..s }, "w.xlsx");
            let mut book: Xlsx<_> = open_workbook(&xlsx).expect("a workbook");
            let range = book.worksheet_range(sheet).expect("the item's sheet");
            let mut cells: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
            if title_row {
                assert!(cells.remove(0)[0].ends_with("报送表"), "the title comes first");
            }
            let (header, rows) = read_csv(&csv_path);
            assert_eq!(cells.len() as u64, 1 + summary.rows);
            assert_eq!(cells[0], header);
            assert_eq!(cells[1..], rows[..]);
        }
    }

    #[test]
    fn gbk_writer_keeps_a_character_cut_between_writes() {
        let text = "淮北市相山区，罚款0.2万元\r\n";
        let mut out = GbkWriter::new(Vec::new());
        for byte in text.as_bytes() {
            out.write_all(std::slice::from_ref(byte)).unwrap();
        }
        out.flush().unwrap();
        assert_eq!(out.inner, encoding_rs::GBK.encode(text).0.into_owned());
        let mut cut = GbkWriter::new(Vec::new());
        cut.write_all(&"淮".as_bytes()[..2]).unwrap();
        assert!(cut.flush().is_err(), "a file must not end inside a character");
    }

    #[test]
    fn amounts_are_written_in_wan() {
        for (yuan, wan) in [(2_000, "0.2"), (500, "0.05"), (10_000, "1"), (12_345, "1.2345"), (250_050, "25.005")] {
            let mut out = String::new();
            push_wan(&mut out, yuan);
            assert_eq!(out, wan);
        }
    }

    #[test]
    fn impossible_specs_are_refused_before_writing() {
        let ok = spec(SampleItem::Penalties, 10, SampleFormat::Csv);
        let bad = [
            SampleSpec { bad_share: 1.5, ..ok.clone() },
            SampleSpec { summary_share: -0.1, ..ok.clone() },
            SampleSpec { bad_share: 0.8, summary_share: 0.3, ..ok.clone() },
            SampleSpec { days: 0, ..ok.clone() },
            SampleSpec { first_date: NaiveDate::from_ymd_opt(2095, 1, 1).unwrap(), ..ok.clone() },
            SampleSpec { rows: XLSX_MAX_ROWS, format: SampleFormat::Xlsx { title_row: false }, ..ok.clone() },
        ];
        let dir = tempfile::tempdir().unwrap();
        for s in bad {
            let path = dir.path().join("x");
            assert!(matches!(write_sample(&s, &path), Err(SampleError::Spec(_))), "{s:?}");
            assert!(!path.exists());
        }
        let licences_ignore_the_summary_share =
            SampleSpec { item: SampleItem::Licences, bad_share: 0.8, summary_share: 0.3, ..ok };
        assert!(write_sample(&licences_ignore_the_summary_share, &dir.path().join("xk.csv")).is_ok());
    }
}
