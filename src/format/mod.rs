//! Streaming readers for department files: CSV (and TSV/TXT), XLSX, JSON (and JSON lines) and
//! XML.
//!
//! [`open`] sniffs the file, picks a reader and yields every non-blank row as text, the way a
//! person sees it in Excel or a text editor: title rows and the header row included, cells
//! untouched. Finding the header and mapping columns is the caller's job.
//!
//! JSON and XML hold records rather than rows; they are laid out as a sheet would be (see
//! [`ReadOptions::records`] for where the records are found):
//! - The first row is a header made of the keys of the first readable record with any, in
//!   document order: the member names of a JSON object; for XML the local names of the record
//!   element's attributes as `@name`, then those of its child elements. Keys a later record
//!   has and that one lacked are ignored; keys a record lacks give empty cells. A repeated key
//!   keeps its last value.
//! - Then one row per record, numbered as the record's ordinal plus one (see [`RawRow::line`]);
//!   a record with no keys or only empty values is skipped like a blank row.
//! - JSON values: strings as they are, numbers as written in the file (`1.50` stays `1.50`),
//!   `true`/`false`, `null` as an empty cell, objects and arrays as compact JSON text.
//! - XML values: the text of the child element and of all its descendants, entities and
//!   character references resolved, CDATA included, XML whitespace trimmed at both ends.
//! - A record that is not a JSON object, is not valid JSON, is nested more than 64 levels
//!   deep, uses an XML entity other than the five predefined ones, or has none of the header's
//!   keys is a [`RowErrorKind::Malformed`] row; reading goes on. The limits apply to records as
//!   to rows. What breaks the structure (a truncated file, brackets or tags that do not match,
//!   XML nested more than 64 levels, one XML tag or text longer than
//!   [`Limits::max_row_bytes`]) is [`RowErrorKind::Unreadable`].
//!
//! Invariants:
//! - Memory is bounded whatever the input ([`Limits`]): a hostile file costs a [`RowError`] or
//!   a [`FormatError`], never an unbounded buffer, a panic or an abort.
//! - A bad row is an `Err` item and reading goes on with the next row; only
//!   [`RowErrorKind::Unreadable`] ends the stream early.
//! - This module uses nothing else from the crate.

mod csv;
mod json;
mod xlsx;
mod xlsx_scan;
mod xml;

pub use xml::push_reference;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// One row as a person sees it in Excel or a text editor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRow {
    /// 1-based: for CSV the line where the record starts, for XLSX the Excel row number.
    ///
    /// For JSON and XML the header row is line 1 and record N (counted from 1 in document
    /// order, bad records included) is line N + 1, whatever the text's layout: the row number
    /// the records would have in a sheet, so record N is "第 N 条".
    pub line: u64,
    pub cells: Vec<String>,
}

/// Text encoding of a CSV file, as declared in a connector file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// A BOM if there is one, else UTF-8 if the start of the file is valid UTF-8, else GB18030.
    #[default]
    Auto,
    Utf8,
    /// Decoded as GB18030, the superset of GBK and GB2312 that Chinese Excel writes.
    Gbk,
}

/// Bounds that keep a hostile or broken file from exhausting memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A longer cell makes its row a [`RowErrorKind::CellTooLarge`]. Default 128 KiB: Excel's
    /// own limit of 32,767 characters at up to 4 UTF-8 bytes each.
    pub max_cell_bytes: usize,
    /// A longer row (all cells together) makes it a [`RowErrorKind::RowTooLarge`]. Default 8 MiB.
    ///
    /// Also the most one piece of markup may take where a parser would buffer it whole: an XML
    /// tag or text (see the XML reader), and in a workbook a tag, text or one cell's XML, which
    /// refuses the workbook ([`Oversize::Cell`], [`Oversize::Markup`]).
    pub max_row_bytes: usize,
    /// A row with more cells is a [`RowErrorKind::TooManyCells`]. Default 16,384, Excel's
    /// column limit.
    pub max_row_cells: usize,
    /// Total uncompressed size of all zip entries of a workbook, as declared and as inflated.
    /// Default 1 GiB: about four million cells, far beyond a department's file.
    pub max_xlsx_uncompressed: u64,
    /// Largest uncompressed/compressed ratio of a zip entry over 16 MiB. Default 200.
    pub max_compression_ratio: u64,
    /// Largest part calamine holds whole in memory: the shared strings, and also the styles,
    /// workbook and relationship parts; for the shared strings, also the memory calamine will
    /// spend on them (their XML, plus 48 bytes a string and 24 a string it reserves). Default
    /// 64 MiB: some 60,000 rows of penalties saved by Excel, whose text is all shared strings.
    /// calamine holds them for the whole read, so with the rows in flight, the header look-ahead
    /// and the store's page cache a workbook at every limit stays under 400 MB of RSS; a larger
    /// one is refused with the advice to split it or save it as CSV.
    pub max_shared_strings_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_cell_bytes: 128 << 10,
            max_row_bytes: 8 << 20,
            max_row_cells: 16_384,
            max_xlsx_uncompressed: 1 << 30,
            max_compression_ratio: 200,
            max_shared_strings_bytes: 64 << 20,
        }
    }
}

/// How to read one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// CSV; for XML only when the file has neither a BOM nor an encoding declaration. XLSX
    /// cells carry their own text; JSON is UTF-8.
    pub encoding: Encoding,
    /// XLSX sheet to read; `None` reads the first visible worksheet.
    pub sheet: Option<String>,
    /// CSV field delimiter. Default `b','`; a `.tsv` file always uses a tab.
    pub delimiter: u8,
    /// JSON and XML: where the records are. `None` (or empty) finds them as described below.
    ///
    /// JSON: a dotted path of object keys from the top-level object to the array of records,
    /// e.g. `"data.items"` (keys containing a dot cannot be named). Without a path:
    /// - a top-level array is the array of records;
    /// - a `.jsonl` or `.ndjson` file has one record per line (the path is ignored there), and
    ///   so has a `.json` file whose first line holds a whole object followed by another value;
    /// - a top-level object is an envelope such as `{"code":0,"data":[...]}`: the records are
    ///   the first member (of the top-level object only) whose value is an array starting with
    ///   an object. Failing that, an empty array member means there are no records; an object
    ///   with no array member at all is itself the one record (or the first of several objects
    ///   written one after another).
    ///
    /// XML: the name of the record element, e.g. `"record"`; a namespace prefix, in the
    /// option or in the file, is ignored. Every element of that name not inside another record
    /// is a record; its child elements are its fields. Without a name the record element is
    /// found as the first "flat" element, one with child elements none of which has child
    /// elements, whose name repeats at the same depth (so a flat `<head>` block before the
    /// records is passed over); failing any repeat, the first flat element is the one record.
    /// Records with nested fields or only attributes (`<row a="1"/>`) need the name.
    pub records: Option<String>,
    pub limits: Limits,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { encoding: Encoding::Auto, sheet: None, delimiter: b',', records: None, limits: Limits::default() }
    }
}

/// What a file turned out to be; decided by its content when that disagrees with the extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
    /// A JSON document or JSON lines.
    Json,
    Xml,
}

/// How far a reader has got, for a progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// CSV, JSON, XML: bytes of the file read; XLSX: Excel row number of the last row read.
    pub done: u64,
    /// CSV, JSON, XML: file size in bytes; XLSX: last row of the sheet's declared dimension,
    /// 0 if unknown.
    pub total: u64,
}

/// A row that could not be read; the rows after it still can, unless `kind` is
/// [`RowErrorKind::Unreadable`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct RowError {
    /// Same numbering as [`RawRow::line`].
    pub line: u64,
    pub kind: RowErrorKind,
}

impl RowError {
    /// The reason in Chinese, for the department clerk who has to fix the file.
    pub fn zh(&self) -> String {
        format!("第 {} 行：{}", self.line, self.kind.zh())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowErrorKind {
    #[error("bytes that are not valid in the file's text encoding")]
    BadEncoding,
    #[error("cell of {bytes} bytes is over the {limit}-byte limit")]
    CellTooLarge { bytes: usize, limit: usize },
    #[error("row of {bytes} bytes is over the {limit}-byte limit")]
    RowTooLarge { bytes: usize, limit: usize },
    #[error("row of {cells} cells is over the {limit}-cell limit")]
    TooManyCells { cells: usize, limit: usize },
    /// A cell holds no usable value, e.g. `C5: #N/A`.
    #[error("bad cell value: {0}")]
    Malformed(String),
    /// The rest of the file cannot be read; this is the last item.
    #[error("file unreadable from here on: {0}")]
    Unreadable(String),
}

impl RowErrorKind {
    /// The reason in Chinese, for the department clerk who has to fix the file.
    pub fn zh(&self) -> String {
        match self {
            Self::BadEncoding => "含有乱码（不符合文件编码的字节），请检查文件编码后重新导出".into(),
            Self::CellTooLarge { bytes, limit } => format!(
                "有单元格内容过长（{}，上限 {}），可能是引号未闭合",
                human_size(*bytes as u64),
                human_size(*limit as u64)
            ),
            Self::RowTooLarge { bytes, limit } => {
                format!("整行内容过长（{}，上限 {}）", human_size(*bytes as u64), human_size(*limit as u64))
            }
            Self::TooManyCells { cells, limit } => {
                format!("列数过多（{cells} 列，上限 {limit} 列）")
            }
            Self::Malformed(detail) => format!("单元格取值有误（{detail}），请修正后重新导出"),
            Self::Unreadable(detail) => {
                format!("文件从此处起无法读取（{detail}），请重新导出完整的文件")
            }
        }
    }
}

/// Why a whole file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("cannot read file: {0}")]
    Io(#[from] io::Error),
    #[error("file is empty")]
    Empty,
    #[error("file is binary, not text")]
    Binary,
    #[error("text encoding not recognised: neither UTF-8 nor GB18030")]
    UnknownEncoding,
    #[error("not an xlsx workbook: {0}")]
    NotAWorkbook(String),
    #[error("sheet {name:?} not found; the workbook has {}", available.join(", "))]
    SheetNotFound { name: String, available: Vec<String> },
    #[error("workbook too large: {reason}")]
    TooLarge { reason: Oversize },
    #[error("unsupported file kind: {0}")]
    UnsupportedKind(String),
    /// The file is not JSON, or is broken before its records start.
    #[error("not a valid JSON file: {0}")]
    InvalidJson(String),
    /// The file is not XML.
    #[error("not a valid XML file: {0}")]
    InvalidXml(String),
    /// [`ReadOptions::records`] names something the file does not have.
    #[error("records not found: {0}")]
    RecordsNotFound(String),
}

impl FormatError {
    /// The reason in Chinese, for the department clerk who has to fix the file.
    pub fn zh(&self) -> String {
        match self {
            Self::Io(e) => format!("文件无法读取（{e}）"),
            Self::Empty => "文件是空的".into(),
            Self::Binary => "文件不是文本格式，请提交 .csv 或 .xlsx 文件".into(),
            Self::UnknownEncoding => "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV 文件".into(),
            Self::NotAWorkbook(detail) => {
                format!("文件不是有效的 .xlsx 工作簿（{detail}），请用 Excel 或 WPS 打开，去掉密码后另存为 .xlsx")
            }
            Self::SheetNotFound { name, available } => {
                format!("工作簿中没有名为“{name}”的工作表，现有工作表：{}", available.join("、"))
            }
            Self::TooLarge { reason } => format!("工作簿过大或已损坏（{}）", reason.zh()),
            Self::UnsupportedKind(kind) => {
                format!("不支持的文件类型（{kind}），请在 Excel 或 WPS 中另存为 .xlsx 或 .csv 后重新提交")
            }
            Self::InvalidJson(detail) => format!("文件不是有效的 JSON 文件（{detail}），请重新导出完整的文件"),
            Self::InvalidXml(detail) => format!("文件不是有效的 XML 文件（{detail}），请重新导出完整的文件"),
            Self::RecordsNotFound(detail) => {
                format!("文件中找不到数据记录（{detail}），请检查文件内容是否与接入配置中的记录位置一致")
            }
        }
    }
}

/// Which workbook bound was exceeded; checked from the zip directory, then by inflating each part
/// to nowhere, before calamine opens the workbook.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Oversize {
    #[error("{bytes} bytes uncompressed in all, over the {limit}-byte limit")]
    Total { bytes: u64, limit: u64 },
    #[error("{entry} expands {ratio}-fold, over the {limit}-fold limit")]
    Ratio { entry: String, ratio: u64, limit: u64 },
    /// A part calamine holds whole in memory, or one that is not XML (an image, an embedded
    /// document), is larger than such a part may be.
    #[error("{entry} of {bytes} bytes is over the {limit}-byte limit for such a part")]
    Part { entry: String, bytes: u64, limit: u64 },
    /// A cell or shared string whose XML is longer than [`Limits::max_row_bytes`]: found by
    /// scanning the part, before calamine would hold it whole.
    #[error("{entry} has a cell longer than {limit} bytes")]
    Cell { entry: String, limit: u64 },
    /// The shared strings would cost calamine more than [`Limits::max_shared_strings_bytes`].
    #[error("{entry} holds {strings} strings, about {bytes} bytes in memory, over the {limit}-byte limit")]
    Strings { entry: String, strings: u64, bytes: u64, limit: u64 },
    /// A tag, text, comment or declaration longer than [`Limits::max_row_bytes`].
    #[error("{entry} has a tag or text longer than {limit} bytes")]
    Markup { entry: String, limit: u64 },
}

impl Oversize {
    /// The reason in Chinese, as part of [`FormatError::zh`].
    pub fn zh(&self) -> String {
        match self {
            Self::Total { bytes, limit } => format!("解压后共 {}，上限 {}", human_size(*bytes), human_size(*limit)),
            Self::Ratio { entry, ratio, limit } => {
                format!("{entry} 的压缩比为 {ratio} 倍，上限 {limit} 倍")
            }
            Self::Part { entry, bytes, limit } => {
                format!("{entry} 解压后 {}，上限 {}", human_size(*bytes), human_size(*limit))
            }
            Self::Cell { entry, limit } => format!(
                "{entry} 中有单元格内容超过 {}，Excel 单元格最多容纳 32767 个字符，请检查是否误粘贴了大段内容",
                human_size(*limit)
            ),
            Self::Strings { entry, strings, bytes, limit } => {
                format!(
                    "{entry} 有 {strings} 个字符串，读入约需 {}，上限 {}；请拆分为几个较小的工作簿，或另存为 CSV",
                    human_size(*bytes),
                    human_size(*limit)
                )
            }
            Self::Markup { entry, limit } => {
                format!("{entry} 中有一段标记或文本超过 {}，文件可能已损坏", human_size(*limit))
            }
        }
    }
}

/// Opens a department file and checks what can be checked before the first row.
///
/// The kind comes from the extension (`.csv`, `.txt`, `.tsv`, `.xlsx`, `.xlsm`, `.json`,
/// `.jsonl`, `.ndjson`, `.xml`), except that a zip is always read as a workbook: departments
/// rename files more often than they convert them.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<RowReader, FormatError> {
    open_file(File::open(path)?, path, opts)
}

/// [`open`] on a file already opened: `path` only names its kind. The rows are read through
/// this handle, so what is read is the file that was opened, whatever happens to the path.
pub fn open_file(mut file: File, path: &Path, opts: &ReadOptions) -> Result<RowReader, FormatError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let named = match ext.as_str() {
        "csv" | "txt" => Named::Csv(opts.delimiter),
        "tsv" => Named::Csv(b'\t'),
        "xlsx" | "xlsm" => Named::Xlsx,
        // Refused below unless it is really an .xlsx: calamine reads .xls sheets whole.
        "xls" => Named::Xls,
        "json" => Named::Json { lines: false },
        "jsonl" | "ndjson" => Named::Json { lines: true },
        "xml" => Named::Xml,
        "" => return Err(FormatError::UnsupportedKind("no file extension".into())),
        other => return Err(FormatError::UnsupportedKind(format!(".{other}"))),
    };
    file.seek(SeekFrom::Start(0))?;
    let mut magic = [0; 8];
    let n = read_full(&mut file, &mut magic)?;
    if n == 0 {
        return Err(FormatError::Empty);
    }
    file.seek(SeekFrom::Start(0))?;
    let inner = match (sniff(&magic[..n]), named) {
        (Some(Magic::Zip), _) => Inner::Xlsx(xlsx::XlsxReader::open(file, opts)?),
        (Some(Magic::Ole2), _) => {
            return Err(FormatError::NotAWorkbook(
                "an OLE2 compound file: a legacy .xls or a password-protected workbook".into(),
            ));
        }
        (None, Named::Xlsx) => {
            return Err(FormatError::NotAWorkbook("not a zip archive".into()));
        }
        (None, Named::Xls) => return Err(FormatError::UnsupportedKind(".xls".into())),
        (None, Named::Csv(delimiter)) => {
            Inner::Csv(Box::new(csv::CsvReader::open(file, delimiter, opts.encoding, &opts.limits)?))
        }
        (None, Named::Json { lines }) => Inner::Json(Box::new(json::JsonReader::open(file, lines, opts)?)),
        (None, Named::Xml) => Inner::Xml(Box::new(xml::XmlReader::open(file, opts)?)),
    };
    Ok(RowReader { inner })
}

/// Rows of one file, in file order; blank rows are skipped.
pub struct RowReader {
    inner: Inner,
}

enum Inner {
    /// Boxed: `csv_core`'s parser carries its transition table inline.
    Csv(Box<csv::CsvReader>),
    Xlsx(xlsx::XlsxReader),
    Json(Box<json::JsonReader>),
    Xml(Box<xml::XmlReader>),
}

impl RowReader {
    pub fn kind(&self) -> FileKind {
        match self.inner {
            Inner::Csv(_) => FileKind::Csv,
            Inner::Xlsx(_) => FileKind::Xlsx,
            Inner::Json(_) => FileKind::Json,
            Inner::Xml(_) => FileKind::Xml,
        }
    }

    /// The text encoding a CSV or XML file is decoded from, e.g. `"UTF-8"`, `"GB18030"`,
    /// `"UTF-16LE"`; always `"UTF-8"` for JSON.
    pub fn encoding(&self) -> Option<&'static str> {
        match &self.inner {
            Inner::Csv(r) => Some(r.encoding()),
            Inner::Xlsx(_) => None,
            Inner::Json(_) => Some("UTF-8"),
            Inner::Xml(r) => Some(r.encoding()),
        }
    }

    /// The name of the sheet a workbook is read from.
    pub fn sheet(&self) -> Option<&str> {
        match &self.inner {
            Inner::Csv(_) | Inner::Json(_) | Inner::Xml(_) => None,
            Inner::Xlsx(r) => Some(r.sheet()),
        }
    }

    /// Reads the next row into `row`, reusing its strings; the same rows as the iterator.
    /// After an error or the end, `row` holds nothing meaningful.
    ///
    /// Reading a CSV file this way allocates nothing per row once `row` has grown, about a
    /// third faster than `next()`.
    pub fn read_into(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        match &mut self.inner {
            Inner::Csv(r) => r.read_into(row),
            Inner::Xlsx(r) => r.next().map(|item| item.map(|new| *row = new)),
            Inner::Json(r) => r.next().map(|item| item.map(|new| *row = new)),
            Inner::Xml(r) => r.next().map(|item| item.map(|new| *row = new)),
        }
    }

    pub fn progress(&self) -> Progress {
        match &self.inner {
            Inner::Csv(r) => r.progress(),
            Inner::Xlsx(r) => r.progress(),
            Inner::Json(r) => r.progress(),
            Inner::Xml(r) => r.progress(),
        }
    }
}

impl Iterator for RowReader {
    type Item = Result<RawRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Csv(r) => r.next(),
            Inner::Xlsx(r) => r.next(),
            Inner::Json(r) => r.next(),
            Inner::Xml(r) => r.next(),
        }
    }
}

impl std::iter::FusedIterator for RowReader {}

impl std::fmt::Debug for RowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader")
            .field("kind", &self.kind())
            .field("encoding", &self.encoding())
            .field("sheet", &self.sheet())
            .field("progress", &self.progress())
            .finish()
    }
}

/// The kind the extension claims.
enum Named {
    /// With its delimiter.
    Csv(u8),
    Xlsx,
    Xls,
    /// `lines` for `.jsonl` and `.ndjson`.
    Json {
        lines: bool,
    },
    Xml,
}

enum Magic {
    Zip,
    /// Microsoft's compound file: `.xls`, or an `.xlsx` encrypted with a password.
    Ole2,
}

fn sniff(head: &[u8]) -> Option<Magic> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Magic::Zip)
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(Magic::Ole2)
    } else {
        None
    }
}

/// Deepest nesting of a JSON record or an XML document; deeper is refused, not recursed into.
const MAX_NESTING: usize = 64;

/// A record's keys and cell values, in document order.
type Fields<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Lays records of key/value pairs out as rows: a header row of the first record's keys, then
/// one row per record with each value under its key.
#[derive(Debug, Default)]
struct Table {
    /// Column of each header key; empty until a record with a key has been seen.
    columns: HashMap<String, usize>,
    width: usize,
}

/// Keys named in the message about a record with none of the header's keys.
const KEYS_NAMED: usize = 5;

impl Table {
    /// The rows for one record: the header row first when this is the first record with a key,
    /// then the record's row; `None` for a blank record (one with no key at all, or only empty
    /// values), skipped like a blank row.
    fn rows(&mut self, line: u64, fields: Fields<'_>) -> (Option<RawRow>, Option<Result<RawRow, RowError>>) {
        if fields.is_empty() {
            return (None, None);
        }
        let header = (self.width == 0).then(|| {
            let mut names = Vec::new();
            for (key, _) in &fields {
                if !self.columns.contains_key(key.as_ref()) {
                    self.columns.insert(key.to_string(), names.len());
                    names.push(key.to_string());
                }
            }
            self.width = names.len();
            RawRow { line: 1, cells: names }
        });
        let mut cells = vec![String::new(); self.width];
        let mut known = false;
        let mut unknown = Vec::new();
        for (key, value) in fields {
            match self.columns.get(key.as_ref()).and_then(|&i| cells.get_mut(i)) {
                Some(cell) => {
                    *cell = value.into_owned();
                    known = true;
                }
                None if unknown.len() < KEYS_NAMED => unknown.push(key.into_owned()),
                None => {}
            }
        }
        let item = if !known {
            let kind = RowErrorKind::Malformed(format!(
                "none of the record's keys ({}) is in the header, which comes from the first record",
                unknown.join(", ")
            ));
            Some(Err(RowError { line, kind }))
        } else if is_blank(&cells) {
            None
        } else {
            Some(Ok(RawRow { line, cells }))
        };
        (header, item)
    }
}

/// A row with nothing but whitespace (full-width spaces included) is not a row to anybody.
fn is_blank<S: AsRef<str>>(cells: &[S]) -> bool {
    cells.iter().all(|c| c.as_ref().trim().is_empty())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Sizes for clerks: "10.0 MB" rather than "10485760".
fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match bytes {
        b if b >= GIB => format!("{:.1} GB", b as f64 / GIB as f64),
        b if b >= MIB => format!("{:.1} MB", b as f64 / MIB as f64),
        b if b >= KIB => format!("{:.1} KB", b as f64 / KIB as f64),
        b => format!("{b} 字节"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write test file");
        path
    }

    #[test]
    fn kind_comes_from_extension_and_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = ReadOptions::default();
        let csv = write(&dir, "a.CSV", b"a,b\n");
        assert_eq!(open(&csv, &opts).expect("csv").kind(), FileKind::Csv);
        let tsv = write(&dir, "a.tsv", b"a\tb,c\n");
        let rows: Vec<_> = open(&tsv, &opts).expect("tsv").collect();
        assert_eq!(rows[0].as_ref().expect("row").cells, ["a", "b,c"]);
        let pdf = write(&dir, "a.pdf", b"%PDF");
        assert!(matches!(open(&pdf, &opts), Err(FormatError::UnsupportedKind(k)) if k == ".pdf"));
        let xls = write(&dir, "a.xls", b"x");
        assert!(matches!(open(&xls, &opts), Err(FormatError::UnsupportedKind(_))));
        let ole = write(&dir, "renamed.csv", &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]);
        assert!(matches!(open(&ole, &opts), Err(FormatError::NotAWorkbook(_))));
        for (name, kind) in [
            ("a.json", FileKind::Json),
            ("a.JSONL", FileKind::Json),
            ("a.ndjson", FileKind::Json),
            ("a.xml", FileKind::Xml),
        ] {
            let bytes: &[u8] = if kind == FileKind::Xml { b"<r/>" } else { b"[]" };
            let reader = open(&write(&dir, name, bytes), &opts).expect(name);
            assert_eq!(reader.kind(), kind, "{name}");
            assert_eq!(reader.sheet(), None);
        }
    }

    #[test]
    fn empty_file_is_empty_whatever_the_extension() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["e.csv", "e.xlsx", "e.json", "e.jsonl", "e.ndjson", "e.xml"] {
            let path = write(&dir, name, b"");
            let err = open(&path, &ReadOptions::default()).expect_err("empty");
            assert!(matches!(err, FormatError::Empty), "{name}: {err}");
        }
    }

    #[test]
    fn missing_file_is_io() {
        let err = open(Path::new("/nonexistent/x.csv"), &ReadOptions::default()).expect_err("missing");
        assert!(matches!(err, FormatError::Io(_)));
        assert!(err.zh().starts_with("文件无法读取"));
    }

    #[test]
    fn encoding_deserializes_lowercase() {
        #[derive(serde::Deserialize)]
        struct Spec {
            encoding: Encoding,
        }
        let spec: Spec = serde_json::from_str(r#"{"encoding": "gbk"}"#).expect("deserialize");
        assert_eq!(spec.encoding, Encoding::Gbk);
    }

    #[test]
    fn messages_read_well() {
        let err = RowError { line: 7, kind: RowErrorKind::CellTooLarge { bytes: 10 << 20, limit: 1 << 20 } };
        assert_eq!(err.to_string(), "line 7: cell of 10485760 bytes is over the 1048576-byte limit");
        assert_eq!(err.zh(), "第 7 行：有单元格内容过长（10.0 MB，上限 1.0 MB），可能是引号未闭合");
        let err =
            FormatError::SheetNotFound { name: "数据".into(), available: vec!["Sheet1".into(), "说明".into()] };
        assert_eq!(err.to_string(), "sheet \"数据\" not found; the workbook has Sheet1, 说明");
        assert_eq!(err.zh(), "工作簿中没有名为“数据”的工作表，现有工作表：Sheet1、说明");
    }

    #[test]
    fn row_reader_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<RowReader>();
        assert_send::<FormatError>();
    }
}
