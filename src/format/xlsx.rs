//! XLSX reader: zip-bomb checks on the central directory, then calamine's streaming cell
//! reader on a worker thread.
//!
//! calamine's `XlsxCellReader` borrows the workbook, so the two cannot live in one movable
//! iterator without `unsafe` or a self-referential crate. A thread owns both and hands rows over
//! a small bounded channel; dropping the reader stops and joins the thread. The thread also
//! confines a panic inside calamine to this file.
//!
//! What calamine holds in memory is bounded before it opens the file (see [`check_zip`]):
//! quick-xml reads each tag and text whole, and calamine a cell's text, before
//! [`Limits::max_cell_bytes`] sees it, so every part is scanned first and a cell (or tag) whose
//! XML passes [`Limits::max_row_bytes`] refuses the workbook. A cell under that but over
//! [`Limits::max_cell_bytes`] is a row error, as in every format.
//!
//! `.xls` is not read: calamine can only read an `.xls` sheet whole, into a dense grid as large
//! as the sheet's bounding box, which a small hostile file can make huge.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use calamine::{DataRef, ExcelDateTime, Reader, Sheet, SheetType, SheetVisible, Xlsx};
use zip::ZipArchive;

use super::xlsx_scan::{Overrun, PartScan};
use super::{FormatError, Limits, Oversize, Progress, RawRow, RowError, RowErrorKind};

/// Rows parsed ahead of the caller; enough to keep both threads busy, few enough that rows at
/// [`Limits::max_row_bytes`] stay a small amount of memory (4 × 8 MiB).
const ROWS_IN_FLIGHT: usize = 4;
/// Entries at most this large are not checked for their compression ratio: small XML compresses
/// very well and cannot hurt.
const RATIO_FREE_BYTES: u64 = 16 << 20;
/// Largest part that starts like an image or embedded document (not scanned as XML): calamine
/// never reads one, unless a hostile workbook names it as a sheet, and then it could buffer all
/// of it.
const BINARY_PART_BYTES: u64 = 64 << 20;
/// Size of a `String` (and about what the allocator spends on a short one's text).
const STRING_BYTES: u64 = 24;
/// Error cells named in a row's error message; the rest are counted.
const BAD_CELLS_NAMED: usize = 10;
/// Last Excel serial date, 9999-12-31, plus one.
const SERIAL_DATE_END: f64 = 2_958_466.0;

type Item = Result<RawRow, RowError>;

enum Msg {
    Opened { sheet: String, total: u64 },
    Failed(FormatError),
    Row(Item),
}

pub(super) struct XlsxReader {
    /// `None` once dropped, which tells the worker to stop.
    rows: Option<Receiver<Msg>>,
    worker: Option<JoinHandle<()>>,
    cancel: Arc<AtomicBool>,
    sheet: String,
    total: u64,
    last_line: u64,
    done: bool,
}

impl XlsxReader {
    pub(super) fn open(file: File, opts: &super::ReadOptions) -> Result<Self, FormatError> {
        let mut zip = ZipArchive::new(BufReader::new(file)).map_err(not_a_workbook)?;
        check_zip(&mut zip, &opts.limits)?;
        let file = zip.into_inner();
        let (tx, rx) = sync_channel(ROWS_IN_FLIGHT);
        let cancel = Arc::new(AtomicBool::new(false));
        let worker = std::thread::Builder::new().name("xlsx-reader".into()).spawn({
            let cancel = Arc::clone(&cancel);
            let sheet = opts.sheet.clone();
            let limits = opts.limits.clone();
            move || read_sheet(file, sheet.as_deref(), &limits, &tx, &cancel)
        })?;
        let mut reader = Self {
            rows: Some(rx),
            worker: Some(worker),
            cancel,
            sheet: String::new(),
            total: 0,
            last_line: 0,
            done: false,
        };
        match reader.recv() {
            Some(Msg::Opened { sheet, total }) => {
                reader.sheet = sheet;
                reader.total = total;
                Ok(reader)
            }
            Some(Msg::Failed(e)) => Err(e),
            Some(Msg::Row(_)) | None => {
                Err(FormatError::NotAWorkbook("the workbook reader stopped unexpectedly".into()))
            }
        }
    }

    pub(super) fn sheet(&self) -> &str {
        &self.sheet
    }

    pub(super) fn progress(&self) -> Progress {
        Progress { done: self.last_line, total: self.total }
    }

    fn recv(&self) -> Option<Msg> {
        self.rows.as_ref()?.recv().ok()
    }
}

impl Iterator for XlsxReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        match self.recv() {
            Some(Msg::Row(item)) => {
                self.last_line = match &item {
                    Ok(row) => row.line,
                    Err(e) => e.line,
                };
                Some(item)
            }
            Some(Msg::Opened { .. } | Msg::Failed(_)) => {
                self.done = true;
                None
            }
            None => {
                self.done = true;
                // The worker has hung up, so it is returning; a panic in calamine is the one
                // ending it cannot report itself.
                let panicked = self.worker.take().is_some_and(|w| w.join().is_err());
                panicked.then(|| {
                    Err(RowError {
                        line: self.last_line + 1,
                        kind: RowErrorKind::Unreadable("the workbook reader failed".into()),
                    })
                })
            }
        }
    }
}

impl Drop for XlsxReader {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        // Hanging up makes the worker's next send fail, so it stops even mid-sheet.
        self.rows = None;
        if let Some(worker) = self.worker.take() {
            // A panic in the worker was already reported as the end of the rows.
            let _ = worker.join();
        }
    }
}

/// The worker: opens the workbook and sends the sheet's rows until done or hung up on.
fn read_sheet(file: BufReader<File>, wanted: Option<&str>, limits: &Limits, tx: &SyncSender<Msg>, cancel: &AtomicBool) {
    let mut book = match Xlsx::new(file) {
        Ok(book) => book,
        Err(e) => {
            let _ = tx.send(Msg::Failed(not_a_workbook(e)));
            return;
        }
    };
    let sheet = match pick_sheet(book.sheets_metadata(), wanted) {
        Ok(sheet) => sheet,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    let mut cells = match book.worksheet_cells_reader(&sheet) {
        Ok(cells) => cells,
        Err(e) => {
            let _ = tx.send(Msg::Failed(not_a_workbook(format!("sheet {sheet}: {e}"))));
            return;
        }
    };
    let end_row = cells.dimensions().end.0;
    let total = if end_row > 0 { u64::from(end_row) + 1 } else { 0 };
    if tx.send(Msg::Opened { sheet, total }).is_err() {
        return;
    }
    let send = |item| tx.send(Msg::Row(item)).is_ok();
    let mut row = RowBuilder::new(limits);
    while !cancel.load(Ordering::Relaxed) {
        match cells.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                let finished = row.push(r, c, cell.get_value());
                if finished.is_some_and(|item| !send(item)) {
                    return;
                }
            }
            Ok(None) => {
                if let Some(item) = row.take() {
                    send(item);
                }
                return;
            }
            Err(e) => {
                // The row in progress is incomplete: report it as where reading stopped.
                let line = row.line().unwrap_or(row.last_line + 1);
                send(Err(RowError { line, kind: RowErrorKind::Unreadable(e.to_string()) }));
                return;
            }
        }
    }
}

/// The named sheet, else the first visible worksheet (templates often hide a lookup sheet first).
fn pick_sheet(sheets: &[Sheet], wanted: Option<&str>) -> Result<String, FormatError> {
    if let Some(name) = wanted {
        return sheets.iter().find(|s| s.name == name).map(|s| s.name.clone()).ok_or_else(|| {
            FormatError::SheetNotFound {
                name: name.to_owned(),
                available: sheets.iter().map(|s| s.name.clone()).collect(),
            }
        });
    }
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
        .ok_or_else(|| FormatError::NotAWorkbook("no worksheet".into()))
}

/// Collects one Excel row from the cells of the stream, within the limits.
struct RowBuilder<'l> {
    limits: &'l Limits,
    /// 0-based row in progress.
    row: Option<u32>,
    cells: Vec<String>,
    width: usize,
    bytes: usize,
    largest_cell: usize,
    /// The first error cells, as `C5: #N/A`, and how many there were.
    bad: Vec<String>,
    bad_count: usize,
    /// Excel row number of the last row ended.
    last_line: u64,
}

impl<'l> RowBuilder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            row: None,
            cells: Vec::new(),
            width: 0,
            bytes: 0,
            largest_cell: 0,
            bad: Vec::new(),
            bad_count: 0,
            last_line: 0,
        }
    }

    /// The Excel row number in progress.
    fn line(&self) -> Option<u64> {
        self.row.map(|r| u64::from(r) + 1)
    }

    /// Adds a cell; returns the previous row when this cell starts a new one.
    fn push(&mut self, row: u32, col: u32, value: &DataRef<'_>) -> Option<Item> {
        // Formatted but empty cells are nothing to a reader; they must not make rows wider.
        if matches!(value, DataRef::Empty) {
            return None;
        }
        let finished = if self.row == Some(row) {
            None
        } else {
            let finished = self.take();
            self.row = Some(row);
            finished
        };
        self.add(row, col, value);
        finished
    }

    fn add(&mut self, row: u32, col: u32, value: &DataRef<'_>) {
        let index = col as usize;
        self.width = self.width.max(index.saturating_add(1));
        let text = match cell_text(value) {
            Ok(text) => text,
            Err(problem) => {
                // A few name the problem; a hostile row must not grow the list without end.
                if self.bad.len() < BAD_CELLS_NAMED {
                    self.bad.push(format!("{}: {problem}", cell_name(row, col)));
                }
                self.bad_count += 1;
                return;
            }
        };
        self.bytes = self.bytes.saturating_add(text.len());
        self.largest_cell = self.largest_cell.max(text.len());
        if self.limit_error().is_some() {
            // The row is lost anyway; stop holding its cells.
            self.cells = Vec::new();
            return;
        }
        if self.cells.len() <= index {
            self.cells.resize(index + 1, String::new());
        }
        if let Some(slot) = self.cells.get_mut(index) {
            *slot = text.into_owned();
        }
    }

    fn limit_error(&self) -> Option<RowErrorKind> {
        let limits = self.limits;
        if self.largest_cell > limits.max_cell_bytes {
            Some(RowErrorKind::CellTooLarge { bytes: self.largest_cell, limit: limits.max_cell_bytes })
        } else if self.bytes > limits.max_row_bytes {
            Some(RowErrorKind::RowTooLarge { bytes: self.bytes, limit: limits.max_row_bytes })
        } else if self.width > limits.max_row_cells {
            Some(RowErrorKind::TooManyCells { cells: self.width, limit: limits.max_row_cells })
        } else {
            None
        }
    }

    /// Ends the row in progress: `None` if there was none or it was blank.
    fn take(&mut self) -> Option<Item> {
        let line = self.line()?;
        self.last_line = line;
        let error = self.limit_error();
        let cells = std::mem::take(&mut self.cells);
        let mut bad = std::mem::take(&mut self.bad).join(", ");
        let unnamed = self.bad_count.saturating_sub(BAD_CELLS_NAMED);
        if unnamed > 0 {
            bad.push_str(&format!(" and {unnamed} more"));
        }
        (self.width, self.bytes, self.largest_cell, self.bad_count, self.row) = (0, 0, 0, 0, None);
        let kind = match error {
            Some(kind) => kind,
            None if !bad.is_empty() => RowErrorKind::Malformed(bad),
            None if super::is_blank(&cells) => return None,
            None => return Some(Ok(RawRow { line, cells })),
        };
        Some(Err(RowError { line, kind }))
    }
}

/// Why a cell has no text; named in the row's `Malformed` detail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum CellError {
    /// Excel's own error value in the cell (`#DIV/0!`, `#N/A`).
    #[error("{0}")]
    Excel(String),
    #[error("duration {0} out of range")]
    DurationOutOfRange(f64),
    /// Excel shows such a date as ########.
    #[error("date {0} out of range")]
    DateOutOfRange(f64),
}

/// The text Excel shows for a cell, or what is wrong with it.
fn cell_text<'v>(value: &'v DataRef<'_>) -> Result<Cow<'v, str>, CellError> {
    Ok(match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.into(),
        DataRef::SharedString(s) => (*s).into(),
        DataRef::Int(i) => i.to_string().into(),
        DataRef::Float(f) => number(*f).into(),
        DataRef::Bool(true) => "TRUE".into(),
        DataRef::Bool(false) => "FALSE".into(),
        DataRef::DateTime(dt) => date_time(dt)?.into(),
        DataRef::Error(e) => return Err(CellError::Excel(e.to_string())),
        DataRef::Empty => "".into(),
    })
}

/// Shortest text that reads back as the same number, never in exponent form: `45079`, `0.2`,
/// `110101199001011000` (an ID number typed as a number: Excel kept only 15 digits of it).
fn number(f: f64) -> String {
    if f == 0.0 {
        "0".into() // not "-0"
    } else {
        // `Display` for f64 is shortest round-trip and never uses an exponent.
        f.to_string()
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, or for a time of day alone `HH:MM:SS`; durations as
/// `[h]:mm:ss`.
fn date_time(dt: &ExcelDateTime) -> Result<String, CellError> {
    let serial = dt.as_f64();
    if dt.is_duration() {
        let seconds = (serial * 86_400.0).round();
        if !(0.0..1e12).contains(&seconds) {
            return Err(CellError::DurationOutOfRange(serial));
        }
        let s = seconds as u64;
        return Ok(format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60));
    }
    if !(0.0..SERIAL_DATE_END).contains(&serial) {
        return Err(CellError::DateOutOfRange(serial));
    }
    let (y, mo, d, h, mi, s, _ms) = dt.to_ymd_hms_milli();
    Ok(if serial < 1.0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if (h, mi, s) == (0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    })
}

/// `C5` for row 4, column 2 (both 0-based).
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(u64::from(row) + 1).to_string()
}

/// Refuses zip bombs and parts calamine would buffer without bound, before calamine opens the
/// workbook.
///
/// First the central directory: sizes there are the file's own claims. Then every part is
/// inflated once, to nowhere, to hold it to its claimed size and to find, in the XML parts, a
/// tag, text or cell longer than [`Limits::max_row_bytes`] (see `xlsx_scan`); the scan stops
/// at the first one, so a gigabyte cell is refused after a few megabytes. Parts that start like
/// an image or an embedded document are only counted, and held to [`BINARY_PART_BYTES`].
fn check_zip<R: Read + Seek>(zip: &mut ZipArchive<R>, limits: &Limits) -> Result<(), FormatError> {
    let too_large = |reason| Err(FormatError::TooLarge { reason });
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(not_a_workbook)?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        let ratio = size / packed.max(1);
        if size > RATIO_FREE_BYTES && ratio > limits.max_compression_ratio {
            return too_large(Oversize::Ratio {
                entry: entry.name().to_owned(),
                ratio,
                limit: limits.max_compression_ratio,
            });
        }
        if held_in_memory(entry.name()) && size > limits.max_shared_strings_bytes {
            return too_large(Oversize::Part {
                entry: entry.name().to_owned(),
                bytes: size,
                limit: limits.max_shared_strings_bytes,
            });
        }
    }
    if total > limits.max_xlsx_uncompressed {
        return too_large(Oversize::Total { bytes: total, limit: limits.max_xlsx_uncompressed });
    }
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(not_a_workbook)?;
        let name = entry.name().to_owned();
        let declared = entry.size();
        let unreadable = |e: io::Error| not_a_workbook(format!("{name}: {e}"));
        let mut head = [0; 8];
        let n = super::read_full(&mut entry, &mut head).map_err(unreadable)?;
        let binary = binary_magic(&head[..n]);
        if binary && declared > BINARY_PART_BYTES {
            return too_large(Oversize::Part { entry: name, bytes: declared, limit: BINARY_PART_BYTES });
        }
        let mut sink = PartSink {
            scan: (!binary).then(|| PartScan::new(limits.max_row_bytes)),
            unique: held_in_memory(&name).then(UniqueCount::default),
        };
        let copied = sink.write_all(&head[..n]).and_then(|()| {
            io::copy(&mut (&mut entry).take(declared.saturating_add(1).saturating_sub(n as u64)), &mut sink)
        });
        match sink.scan.as_ref().and_then(|s| s.overrun) {
            Some(Overrun::Cell) => {
                return too_large(Oversize::Cell { entry: name, limit: limits.max_row_bytes as u64 });
            }
            Some(Overrun::Event) => {
                return too_large(Oversize::Markup { entry: name, limit: limits.max_row_bytes as u64 });
            }
            None => {}
        }
        let inflated = copied.map_err(unreadable)? + n as u64;
        if inflated > declared {
            return Err(not_a_workbook(format!("{name} holds more than its zip entry declares")));
        }
        let Some(unique) = sink.unique else { continue };
        // calamine reserves this many strings up front; `<si/>` is the shortest string.
        if unique.max > inflated / 5 {
            return Err(not_a_workbook(format!("{name} claims {} strings in {inflated} bytes", unique.max)));
        }
        // A short string costs calamine far more than its XML: the `String` itself, and an
        // allocation for its text.
        let strings = sink.scan.as_ref().map_or(0, |s| s.opened);
        let memory = inflated
            .saturating_add(unique.max.saturating_mul(STRING_BYTES))
            .saturating_add(strings.saturating_mul(2 * STRING_BYTES));
        if memory > limits.max_shared_strings_bytes {
            return too_large(Oversize::Strings {
                entry: name,
                strings,
                bytes: memory,
                limit: limits.max_shared_strings_bytes,
            });
        }
    }
    Ok(())
}

/// Where one part's inflated bytes go: the scan for overlong XML, and for the parts calamine
/// holds in memory, the `uniqueCount` check.
struct PartSink {
    scan: Option<PartScan>,
    unique: Option<UniqueCount>,
}

impl Write for PartSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(scan) = &mut self.scan {
            scan.write_all(buf)?;
        }
        if let Some(unique) = &mut self.unique {
            unique.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Parts that start like an image, an embedded document or another archive: not XML, so not
/// scanned, whose bytes would only make false alarms.
fn binary_magic(head: &[u8]) -> bool {
    const MAGIC: [&[u8]; 11] = [
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"BM",
        b"\xD0\xCF\x11\xE0",
        b"PK\x03\x04",
        b"%PDF",
        b"II*\0",
        b"MM\0*",
        // EMF (its first record's type) and placeable WMF, as Office pastes pictures.
        b"\x01\0\0\0",
        b"\xD7\xCD\xC6\x9A",
    ];
    MAGIC.iter().any(|m| head.starts_with(m))
}

/// Parts calamine reads whole into memory when it opens a workbook.
fn held_in_memory(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["sharedstrings.xml", "styles.xml", "workbook.xml", ".rels"].iter().any(|suffix| name.ends_with(suffix))
}

/// Finds the largest `uniqueCount="N"` in a stream: calamine passes it to `Vec::reserve`
/// unchecked, and a huge one aborts the process.
#[derive(Default)]
struct UniqueCount {
    state: Scan,
    max: u64,
}

#[derive(Clone, Copy)]
enum Scan {
    /// This many bytes of the attribute name matched.
    Name(usize),
    BeforeEq,
    BeforeQuote,
    Digits(u64),
}

impl Default for Scan {
    fn default() -> Self {
        Self::Name(0)
    }
}

impl Write for UniqueCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        const NAME: &[u8] = b"uniqueCount";
        let restart = |b: u8| Scan::Name(usize::from(b == NAME[0]));
        for &b in buf {
            self.state = match self.state {
                Scan::Name(k) if NAME.get(k) == Some(&b) => {
                    if k + 1 == NAME.len() {
                        Scan::BeforeEq
                    } else {
                        Scan::Name(k + 1)
                    }
                }
                Scan::BeforeEq if b.is_ascii_whitespace() => Scan::BeforeEq,
                Scan::BeforeEq if b == b'=' => Scan::BeforeQuote,
                Scan::BeforeQuote if b.is_ascii_whitespace() => Scan::BeforeQuote,
                Scan::BeforeQuote if b == b'"' || b == b'\'' => Scan::Digits(0),
                Scan::Digits(n) if b.is_ascii_digit() => {
                    Scan::Digits(n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
                }
                Scan::Digits(n) => {
                    self.max = self.max.max(n);
                    restart(b)
                }
                _ => restart(b),
            };
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn not_a_workbook(e: impl std::fmt::Display) -> FormatError {
    FormatError::NotAWorkbook(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::{FileKind, ReadOptions, RowReader, open};
    use super::*;
    use rust_xlsxwriter::{ExcelDateTime as XlDate, Format, Workbook};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};
    use zip::write::SimpleFileOptions;

    fn rows(reader: RowReader) -> Vec<Item> {
        reader.collect()
    }

    fn ok(line: u64, cells: &[&str]) -> Item {
        Ok(RawRow { line, cells: cells.iter().map(|c| c.to_string()).collect() })
    }

    fn open_with(path: &Path, sheet: Option<&str>) -> Result<RowReader, FormatError> {
        let opts = ReadOptions { sheet: sheet.map(str::to_owned), ..ReadOptions::default() };
        open(path, &opts)
    }

    /// A department export: a hidden lookup sheet, a title row above the header, a gap row,
    /// and a second sheet.
    fn department_workbook(dir: &tempfile::TempDir, name: &str) -> PathBuf {
        let mut book = Workbook::new();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let time = Format::new().set_num_format("hh:mm");
        let lookup = book.add_worksheet().set_name("代码表").expect("name");
        lookup.write(0, 0, "lookup").expect("write");
        lookup.set_hidden(true);
        let sheet = book.add_worksheet().set_name("行政处罚").expect("name");
        sheet.set_active(true);
        sheet.merge_range(0, 0, 0, 3, "2024年行政处罚信息", &Format::new()).expect("merge");
        for (col, header) in ["名称", "决定日期", "罚款金额", "备注"].iter().enumerate() {
            sheet.write(1, col as u16, *header).expect("write");
        }
        sheet.write(2, 0, "某某公司").expect("write");
        let day = XlDate::from_ymd(2023, 6, 2).expect("date");
        sheet.write_datetime_with_format(2, 1, &day, &date).expect("write");
        sheet.write(2, 2, 45079.0).expect("write");
        sheet.write(2, 3, 0.2).expect("write");
        // row 4 (index 3) left empty on purpose
        sheet.write(4, 0, 110_101_199_001_011_234_f64).expect("write");
        let moment = XlDate::parse_from_str("2023-06-02 13:45:30").expect("datetime");
        sheet.write_datetime_with_format(4, 1, &moment, &stamp).expect("write");
        sheet.write(4, 2, true).expect("write");
        let noon = XlDate::from_hms(12, 30, 0).expect("time");
        sheet.write_datetime_with_format(4, 4, &noon, &time).expect("write");
        sheet.write(5, 2, -1.5).expect("write");
        sheet.write(5, 3, 1e21).expect("write");
        let other = book.add_worksheet().set_name("说明").expect("name");
        other.write(0, 1, "only B1").expect("write");
        let path = dir.path().join(name);
        book.save(&path).expect("save");
        path
    }

    /// A minimal workbook written by hand, for content rust_xlsxwriter will not write.
    fn handmade(dir: &tempfile::TempDir, sheet_data: &str, extra: &[(&str, &[u8])]) -> PathBuf {
        let sheet = format!("{SHEET_HEAD}{sheet_data}</sheetData></worksheet>");
        handmade_raw(dir, &sheet, extra)
    }

    const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;

    fn handmade_raw(dir: &tempfile::TempDir, sheet: &str, extra: &[(&str, &[u8])]) -> PathBuf {
        handmade_streamed(dir, |zip| zip.write_all(sheet.as_bytes()), extra)
    }

    /// A handmade workbook whose sheet part `write_sheet` writes piece by piece, so that a test
    /// can build a huge sheet without holding it.
    fn handmade_streamed(
        dir: &tempfile::TempDir,
        write_sheet: impl FnOnce(&mut zip::ZipWriter<File>) -> io::Result<()>,
        extra: &[(&str, &[u8])],
    ) -> PathBuf {
        let path = dir.path().join("handmade.xlsx");
        let mut zip = zip::ZipWriter::new(File::create(&path).expect("create"));
        let parts: [(&str, &[u8]); 4] = [
            (
                "[Content_Types].xml",
                br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
        ];
        for (name, bytes) in parts {
            zip.start_file(name, SimpleFileOptions::default()).expect("start");
            zip.write_all(bytes).expect("write");
        }
        // Level 1: the fastest to write, which matters for a test's 200 MB sheet.
        zip.start_file("xl/worksheets/sheet1.xml", SimpleFileOptions::default().compression_level(Some(1)))
            .expect("start");
        write_sheet(&mut zip).expect("write sheet");
        for (name, bytes) in extra {
            zip.start_file(*name, SimpleFileOptions::default()).expect("start");
            zip.write_all(bytes).expect("write");
        }
        zip.finish().expect("finish");
        path
    }

    #[test]
    fn title_row_header_dates_and_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = department_workbook(&dir, "export.xlsx");
        let reader = open_with(&path, None).expect("open");
        assert_eq!(reader.kind(), FileKind::Xlsx);
        assert_eq!(reader.sheet(), Some("行政处罚"), "the hidden first sheet is skipped");
        assert_eq!(reader.encoding(), None);
        assert_eq!(
            rows(reader),
            [
                ok(1, &["2024年行政处罚信息"]),
                ok(2, &["名称", "决定日期", "罚款金额", "备注"]),
                ok(3, &["某某公司", "2023-06-02", "45079", "0.2"]),
                ok(5, &["110101199001011230", "2023-06-02 13:45:30", "TRUE", "", "12:30:00"]),
                ok(6, &["", "", "-1.5", "1000000000000000000000"]),
            ]
        );
    }

    #[test]
    fn named_sheet_and_missing_sheet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = department_workbook(&dir, "export.xlsx");
        let reader = open_with(&path, Some("说明")).expect("open");
        assert_eq!(reader.sheet(), Some("说明"));
        assert_eq!(rows(reader), [ok(1, &["", "only B1"])]);
        match open_with(&path, Some("Sheet1")) {
            Err(FormatError::SheetNotFound { name, available }) => {
                assert_eq!(name, "Sheet1");
                assert_eq!(available, ["代码表", "行政处罚", "说明"]);
            }
            other => panic!("expected SheetNotFound, got {other:?}"),
        }
    }

    #[test]
    fn xlsx_renamed_csv_is_read_as_a_workbook() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = department_workbook(&dir, "export.csv");
        let reader = open_with(&path, Some("说明")).expect("open");
        assert_eq!(reader.kind(), FileKind::Xlsx);
    }

    #[test]
    fn error_cells_make_their_row_malformed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = handmade(
            &dir,
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="5"><c r="A5"><v>1</v></c><c r="C5" t="e"><v>#N/A</v></c><c r="D5" t="e"><v>#DIV/0!</v></c></row><row r="6"><c r="B6"><v>2</v></c></row>"#,
            &[],
        );
        let items = rows(open_with(&path, None).expect("open"));
        assert_eq!(
            items,
            [
                ok(1, &["a"]),
                Err(RowError { line: 5, kind: RowErrorKind::Malformed("C5: #N/A, D5: #DIV/0!".into()) }),
                ok(6, &["", "2"]),
            ]
        );
    }

    #[test]
    fn error_cells_named_are_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cells: String = (0..12).map(|c| format!(r#"<c r="{}" t="e"><v>#REF!</v></c>"#, cell_name(1, c))).collect();
        let path = handmade(&dir, &format!(r#"<row r="2">{cells}</row>"#), &[]);
        let items = rows(open_with(&path, None).expect("open"));
        let named: Vec<String> = (0..10).map(|c| format!("{}: #REF!", cell_name(1, c))).collect();
        let message = format!("{} and 2 more", named.join(", "));
        assert_eq!(items, [Err(RowError { line: 2, kind: RowErrorKind::Malformed(message) })]);
    }

    #[test]
    fn broken_sheet_xml_ends_with_unreadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let truncated = format!(
            r#"{SHEET_HEAD}<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c><c r="B2"><v>3"#
        );
        let path = handmade_raw(&dir, &truncated, &[]);
        let items = rows(open_with(&path, None).expect("open"));
        assert_eq!(items[0], ok(1, &["1"]));
        assert!(matches!(&items[1..], [Err(RowError { line: 2, kind: RowErrorKind::Unreadable(_) })]), "{items:?}");
    }

    #[test]
    fn huge_cell_in_a_workbook_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = "x".repeat(2000);
        let path = handmade(
            &dir,
            &format!(
                r#"<row r="1"><c r="A1" t="inlineStr"><is><t>{big}</t></is></c></row><row r="2"><c r="A2"><v>2</v></c></row><row r="3"><c r="XFD3"><v>3</v></c></row>"#
            ),
            &[],
        );
        let opts = ReadOptions {
            limits: Limits { max_cell_bytes: 1000, max_row_cells: 100, ..Limits::default() },
            ..ReadOptions::default()
        };
        let items = rows(open(&path, &opts).expect("open"));
        assert_eq!(
            items,
            [
                Err(RowError { line: 1, kind: RowErrorKind::CellTooLarge { bytes: 2000, limit: 1000 } }),
                ok(2, &["2"]),
                Err(RowError { line: 3, kind: RowErrorKind::TooManyCells { cells: 16_384, limit: 100 } }),
            ]
        );
    }

    #[test]
    fn zip_bomb_is_refused_fast() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zeros = vec![0; 64 << 20];
        let path = handmade(&dir, "", &[("xl/worksheets/sheet2.xml", &zeros)]);
        drop(zeros);
        let start = Instant::now();
        let err = open_with(&path, None).expect_err("bomb");
        assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
        match &err {
            FormatError::TooLarge { reason: Oversize::Ratio { entry, ratio, limit: 200 } } => {
                assert_eq!(entry, "xl/worksheets/sheet2.xml");
                assert!(*ratio > 200);
            }
            other => panic!("expected a ratio refusal, got {other:?}"),
        }
        assert!(err.zh().contains("压缩比"), "{}", err.zh());

        let opts = ReadOptions {
            limits: Limits { max_xlsx_uncompressed: 32 << 20, max_compression_ratio: u64::MAX, ..Limits::default() },
            ..ReadOptions::default()
        };
        let err = open(&path, &opts).expect_err("bomb");
        assert!(matches!(err, FormatError::TooLarge { reason: Oversize::Total { .. } }), "{err:?}");
    }

    /// The bomb of issue 17: a sheet of one inline string of 200 MB of one character (written
    /// streaming, so the test never holds it). calamine would hold the cell whole, twice over.
    #[test]
    fn bomb_in_one_cell_is_refused_after_a_few_megabytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = handmade_streamed(
            &dir,
            |zip| {
                zip.write_all(SHEET_HEAD.as_bytes())?;
                zip.write_all(br#"<row r="1"><c r="A1" t="inlineStr"><is><t>"#)?;
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..200 {
                    zip.write_all(&chunk)?;
                }
                zip.write_all(b"</t></is></c></row></sheetData></worksheet>")
            },
            &[],
        );
        let err = open_with(&path, None).expect_err("bomb");
        assert!(matches!(err, FormatError::TooLarge { .. }), "{err:?}");

        // Under the ratio bound (the issue's file was 190-fold) it is the cell scan that refuses
        // it, having inflated only a little more than the limit.
        let limits = Limits { max_compression_ratio: u64::MAX, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let start = Instant::now();
        let err = open(&path, &opts).expect_err("bomb");
        let took = start.elapsed();
        match &err {
            FormatError::TooLarge { reason: Oversize::Cell { entry, limit } } => {
                assert_eq!(entry, "xl/worksheets/sheet1.xml");
                assert_eq!(*limit, 8 << 20);
            }
            other => panic!("expected a cell refusal, got {other:?}"),
        }
        assert_eq!(
            err.zh(),
            "工作簿过大或已损坏（xl/worksheets/sheet1.xml 中有单元格内容超过 8.0 MB，Excel 单元格最多容纳 32767 个字符，请检查是否误粘贴了大段内容）"
        );
        assert!(took < Duration::from_secs(2), "{took:?}");

        let normal = department_workbook(&dir, "export.xlsx");
        assert_eq!(rows(open(&normal, &opts).expect("open")).len(), 5, "a normal workbook still reads");
    }

    #[test]
    fn long_markup_outside_cells_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sheet = format!(r#"<row r="1" spans="{}"><c r="A1"><v>1</v></c></row>"#, "1".repeat(2000));
        let path = handmade(&dir, &sheet, &[]);
        let opts =
            ReadOptions { limits: Limits { max_row_bytes: 1000, ..Limits::default() }, ..ReadOptions::default() };
        let err = open(&path, &opts).expect_err("refused");
        assert!(matches!(&err, FormatError::TooLarge { reason: Oversize::Markup { .. } }), "{err:?}");
        assert!(err.zh().contains("标记或文本"), "{}", err.zh());
    }

    #[test]
    fn pictures_are_counted_not_scanned() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A "comment" that never ends would refuse an XML part; in a picture it is just bytes.
        let mut png = b"\x89PNG\r\n\x1a\n<!--".to_vec();
        png.resize(4000, b'p');
        let path = handmade(&dir, r#"<row r="1"><c r="A1"><v>1</v></c></row>"#, &[("xl/media/image1.png", &png)]);
        let opts =
            ReadOptions { limits: Limits { max_row_bytes: 1000, ..Limits::default() }, ..ReadOptions::default() };
        assert_eq!(rows(open(&path, &opts).expect("open")), [ok(1, &["1"])]);
    }

    #[test]
    fn oversized_shared_strings_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sst = format!(
            r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="100" uniqueCount="100">{}</sst>"#,
            "<si><t>a</t></si>".repeat(100)
        );
        let path = handmade(&dir, "", &[("xl/sharedStrings.xml", sst.as_bytes())]);
        let opts = ReadOptions {
            limits: Limits {
                // Above the other parts held in memory, below the shared strings.
                max_shared_strings_bytes: 1000,
                ..Limits::default()
            },
            ..ReadOptions::default()
        };
        let err = open(&path, &opts).expect_err("too large");
        assert!(
            matches!(&err, FormatError::TooLarge { reason: Oversize::Part { entry, .. } } if entry == "xl/sharedStrings.xml"),
            "{err:?}"
        );
        // Small as XML, but a hundred strings cost calamine 48 bytes each besides.
        let limits = Limits { max_shared_strings_bytes: 5000, ..Limits::default() };
        let err = open(&path, &ReadOptions { limits, ..ReadOptions::default() }).expect_err("too large");
        match &err {
            FormatError::TooLarge { reason: Oversize::Strings { entry, strings: 100, bytes, limit: 5000 } } => {
                assert_eq!(entry, "xl/sharedStrings.xml");
                assert_eq!(*bytes, sst.len() as u64 + 100 * 24 + 100 * 48);
            }
            other => panic!("expected a strings refusal, got {other:?}"),
        }
        assert!(err.zh().contains("100 个字符串"), "{}", err.zh());
    }

    #[test]
    fn shared_string_count_that_would_abort_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sst = br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount = '000999999999999'><si><t>a</t></si></sst>"#;
        let path = handmade(&dir, "", &[("xl/sharedStrings.xml", sst)]);
        let err = open_with(&path, None).expect_err("refused");
        assert!(matches!(&err, FormatError::NotAWorkbook(m) if m.contains("claims 999999999999 strings")), "{err:?}");
    }

    #[test]
    fn non_zip_renamed_xlsx_is_not_a_workbook() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.xlsx");
        std::fs::write(&path, "名称,金额\n甲,1\n").expect("write");
        let err = open_with(&path, None).expect_err("not a workbook");
        assert!(matches!(err, FormatError::NotAWorkbook(_)), "{err:?}");
        assert!(err.zh().contains("另存为 .xlsx"));
    }

    #[test]
    fn zip_without_a_workbook_is_not_a_workbook() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("photos.xlsx");
        let mut zip = zip::ZipWriter::new(File::create(&path).expect("create"));
        zip.start_file("a.txt", SimpleFileOptions::default()).expect("start");
        zip.write_all(b"hello").expect("write");
        zip.finish().expect("finish");
        let err = open_with(&path, None).expect_err("not a workbook");
        assert!(matches!(err, FormatError::NotAWorkbook(_)), "{err:?}");
    }

    #[test]
    fn dropping_a_reader_midway_stops_the_worker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows: String = (1..=5000).map(|r| format!(r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>"#)).collect();
        let path = handmade(&dir, &rows, &[]);
        let mut reader = open_with(&path, None).expect("open");
        assert_eq!(reader.next(), Some(ok(1, &["1"])));
        assert_eq!(reader.progress(), Progress { done: 1, total: 0 });
        drop(reader); // joins the worker; a hang here fails the test run
    }

    #[test]
    fn formats_cells_like_excel() {
        assert_eq!(number(45079.0), "45079");
        assert_eq!(number(0.2), "0.2");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(9_007_199_254_740_992.0), "9007199254740992");
        assert_eq!(number(1e-7), "0.0000001");
        assert_eq!(number(1.10101199001011E+17), "110101199001011000");
        let dt = |v| date_time(&ExcelDateTime::new(v, calamine::ExcelDateTimeType::DateTime, false));
        assert_eq!(dt(45079.0).as_deref(), Ok("2023-06-02"));
        assert_eq!(dt(45079.5).as_deref(), Ok("2023-06-02 12:00:00"));
        assert_eq!(dt(45_079.999_999_999).as_deref(), Ok("2023-06-03"));
        assert!(dt(-1.0).is_err());
        assert!(dt(f64::NAN).is_err());
        assert!(dt(1e300).is_err());
        let dur = ExcelDateTime::new(1.5, calamine::ExcelDateTimeType::TimeDelta, false);
        assert_eq!(date_time(&dur).as_deref(), Ok("36:00:00"));
        assert_eq!(cell_name(4, 2), "C5");
        assert_eq!(cell_name(0, 26), "AA1");
        assert_eq!(cell_name(0, 16_383), "XFD1");
    }
}
