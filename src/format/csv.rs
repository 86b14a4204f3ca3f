//! CSV reader: encoding detection, streaming decode, and a record loop over `csv_core` with
//! bounded buffers.
//!
//! `csv::Reader` grows its record buffer without limit, so one unclosed quote near the start of
//! a 200 MB file would buffer all of it. Here `csv_core` is driven directly: output beyond the
//! limits is discarded while the parser keeps tracking where the record ends, and the record
//! becomes a [`RowErrorKind`] instead of a row.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv_core::ReadRecordResult;
use encoding_rs::{DecoderResult, GB18030, UTF_8, UTF_16BE, UTF_16LE};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::{Encoding, FormatError, Limits, Progress, RawRow, RowError, RowErrorKind};

/// Bytes sampled to guess the encoding.
const SAMPLE: usize = 64 << 10;
/// Bytes past an all-ASCII sample searched for the first non-ASCII text.
const ASCII_LOOKAHEAD: usize = 4 << 20;
/// Bytes searched for NUL to tell a binary file from text.
const BINARY_PROBE: usize = 8 << 10;
/// Read size, and the first size of the record buffer.
const CHUNK: usize = 64 << 10;

pub(super) struct CsvReader {
    source: Box<dyn Read + Send>,
    /// File bytes read so far, updated by the [`Counted`] reader under the decoder.
    read: Arc<AtomicU64>,
    size: u64,
    encoding: &'static str,
    /// True when `source` is a decoder: a U+FFFD in its output marks bytes it could not decode.
    decoded: bool,
    parser: csv_core::Reader,
    input: Box<[u8]>,
    in_pos: usize,
    in_len: usize,
    eof: bool,
    /// Output of the current record: its fields back to back, ends in `ends`.
    out: Vec<u8>,
    ends: Vec<usize>,
    limits: Limits,
    done: bool,
}

/// The current record's size, gathered while its content may be discarded.
struct Record {
    line: u64,
    /// Bytes written to `out` for this record, discarded ones included.
    bytes: usize,
    cells: usize,
    largest_cell: usize,
    /// Set once a limit is passed: `out` and `ends` no longer hold the record.
    discarding: bool,
}

impl CsvReader {
    pub(super) fn open(
        mut file: File,
        delimiter: u8,
        declared: Encoding,
        limits: &Limits,
    ) -> Result<Self, FormatError> {
        let size = file.metadata()?.len();
        let mut sample = vec![0; SAMPLE];
        let n = super::read_full(&mut file, &mut sample)?;
        sample.truncate(n);
        if sample.is_empty() {
            return Err(FormatError::Empty);
        }
        let complete = (n as u64) >= size;
        let bom = bom(&sample);
        // UTF-16 text is full of NULs; any other text has none.
        let utf16 = bom.is_some_and(|(enc, _)| enc != UTF_8);
        if !utf16 && sample[..n.min(BINARY_PROBE)].contains(&0) {
            return Err(FormatError::Binary);
        }
        let encoding = match (bom, declared) {
            (Some((enc, _)), _) => enc,
            (None, Encoding::Utf8) => UTF_8,
            (None, Encoding::Gbk) => GB18030,
            (None, Encoding::Auto) if sample.is_ascii() && !complete => {
                let (sample, complete) = first_non_ascii_chunk(&mut file, n)?;
                detect(&sample, complete).ok_or(FormatError::UnknownEncoding)?
            }
            (None, Encoding::Auto) => detect(&sample, complete).ok_or(FormatError::UnknownEncoding)?,
        };
        let read = Arc::new(AtomicU64::new(0));
        let (source, decoded): (Box<dyn Read + Send>, bool) = if encoding == UTF_8 {
            // Raw bytes are validated row by row, so one bad row does not spoil the file.
            let skip = bom.map_or(0, |(_, len)| len);
            file.seek(SeekFrom::Start(skip))?;
            read.store(skip, Ordering::Relaxed);
            (Box::new(Counted::new(file, &read)), false)
        } else {
            file.seek(SeekFrom::Start(0))?;
            let decoder = DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .build_with_buffer(Counted::new(file, &read), vec![0; CHUNK])?;
            (Box::new(decoder), true)
        };
        Ok(Self {
            source,
            read,
            size,
            encoding: display_name(encoding),
            decoded,
            parser: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            input: vec![0; CHUNK].into_boxed_slice(),
            in_pos: 0,
            in_len: 0,
            eof: false,
            out: vec![0; CHUNK.min(limits.max_row_bytes.saturating_add(1))],
            ends: vec![0; 64.min(limits.max_row_cells.saturating_add(1))],
            limits: limits.clone(),
            done: false,
        })
    }

    pub(super) fn encoding(&self) -> &'static str {
        self.encoding
    }

    pub(super) fn progress(&self) -> Progress {
        Progress { done: self.read.load(Ordering::Relaxed), total: self.size }
    }

    /// Refills `input`; an empty input after this means the end of the file.
    fn fill(&mut self) -> io::Result<()> {
        self.in_pos = 0;
        self.in_len = loop {
            match self.source.read(&mut self.input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.eof = self.in_len == 0;
        Ok(())
    }

    /// Skips the blank lines before a record, so that the record's line is where it starts.
    ///
    /// `csv_core` would skip them too, but only once it has been told where the record begins.
    fn skip_blank_lines(&mut self) -> io::Result<()> {
        loop {
            if self.in_pos == self.in_len {
                self.fill()?;
                if self.eof {
                    return Ok(());
                }
            }
            let pending = &self.input[self.in_pos..self.in_len];
            let blank = pending.iter().position(|&b| b != b'\n' && b != b'\r').unwrap_or(pending.len());
            let newlines = pending[..blank].iter().filter(|&&b| b == b'\n').count();
            self.parser.set_line(self.parser.line() + newlines as u64);
            self.in_pos += blank;
            if self.in_pos < self.in_len {
                return Ok(());
            }
        }
    }

    /// Parses the next record into `out`/`ends`, or returns `None` at the end of the file.
    fn read_record(&mut self) -> io::Result<Option<Record>> {
        self.skip_blank_lines()?;
        let mut rec = Record { line: self.parser.line(), bytes: 0, cells: 0, largest_cell: 0, discarding: false };
        // Where the open field started, in the same numbering as `csv_core`'s ends.
        let mut field_start = 0;
        // Filled parts of `out` and `ends`; they restart at 0 when discarding.
        let (mut out_len, mut ends_len) = (0, 0);
        loop {
            if self.in_pos == self.in_len && !self.eof {
                self.fill()?;
            }
            let (res, nin, nout, nend) = self.parser.read_record(
                &self.input[self.in_pos..self.in_len],
                &mut self.out[out_len..],
                &mut self.ends[ends_len..],
            );
            self.in_pos += nin;
            for &end in &self.ends[ends_len..ends_len + nend] {
                rec.largest_cell = rec.largest_cell.max(end.saturating_sub(field_start));
                field_start = end;
            }
            rec.bytes += nout;
            rec.cells += nend;
            out_len += nout;
            ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::Record => return Ok(Some(rec)),
                ReadRecordResult::End => return Ok(None),
                ReadRecordResult::OutputFull => {
                    let open_cell = rec.bytes.saturating_sub(field_start);
                    rec.discarding |= open_cell > self.limits.max_cell_bytes || rec.bytes > self.limits.max_row_bytes;
                    if rec.discarding {
                        out_len = 0;
                    } else {
                        let grown = (self.out.len() * 2).min(self.limits.max_row_bytes.saturating_add(1));
                        self.out.resize(grown, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    rec.discarding |= rec.cells > self.limits.max_row_cells;
                    if rec.discarding {
                        ends_len = 0;
                    } else {
                        let grown = (self.ends.len() * 2).min(self.limits.max_row_cells.saturating_add(1));
                        self.ends.resize(grown, 0);
                    }
                }
            }
        }
    }

    /// Reads the next non-blank row into `row`, reusing its strings.
    pub(super) fn read_into(&mut self, row: &mut RawRow) -> Option<Result<(), RowError>> {
        while !self.done {
            match self.read_record() {
                Ok(Some(rec)) => {
                    if let Some(result) = self.finish(&rec, row) {
                        return Some(result);
                    }
                }
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    let kind = RowErrorKind::Unreadable(e.to_string());
                    return Some(Err(RowError { line: self.parser.line(), kind }));
                }
            }
        }
        None
    }

    /// Turns a parsed record into `row` or an error; `None` when it is blank.
    fn finish(&self, rec: &Record, row: &mut RawRow) -> Option<Result<(), RowError>> {
        let limits = &self.limits;
        let too_large = if rec.largest_cell > limits.max_cell_bytes {
            Some(RowErrorKind::CellTooLarge { bytes: rec.largest_cell, limit: limits.max_cell_bytes })
        } else if rec.bytes > limits.max_row_bytes {
            Some(RowErrorKind::RowTooLarge { bytes: rec.bytes, limit: limits.max_row_bytes })
        } else if rec.cells > limits.max_row_cells {
            Some(RowErrorKind::TooManyCells { cells: rec.cells, limit: limits.max_row_cells })
        } else {
            None
        };
        let error = |kind| Some(Err(RowError { line: rec.line, kind }));
        if let Some(kind) = too_large {
            return error(kind);
        }
        // Not discarding, so the whole record is in `out`/`ends`.
        let (Some(bytes), Some(ends)) = (self.out.get(..rec.bytes), self.ends.get(..rec.cells)) else {
            return error(RowErrorKind::Malformed("record lost".into()));
        };
        // encoding_rs validates UTF-8 about twice as fast as `std::str::from_utf8` on Chinese.
        let Some(Cow::Borrowed(text)) = UTF_8.decode_without_bom_handling_and_without_replacement(bytes) else {
            return error(RowErrorKind::BadEncoding);
        };
        if self.decoded && text.contains(char::REPLACEMENT_CHARACTER) {
            return error(RowErrorKind::BadEncoding);
        }
        // One pass: `row` may be left half-written when the record turns out blank or bad.
        row.cells.truncate(ends.len());
        row.cells.reserve_exact(ends.len() - row.cells.len());
        let mut blank = true;
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            // `None` where a field boundary splits a character: bad bytes, not a panic.
            let Some(cell) = text.get(start..end) else {
                return error(RowErrorKind::BadEncoding);
            };
            start = end;
            // Once one cell has text the row is not blank: skip the rest of the trimming.
            blank = blank && cell.trim_start().is_empty();
            match row.cells.get_mut(i) {
                Some(old) => {
                    old.clear();
                    old.push_str(cell);
                }
                None => row.cells.push(cell.to_owned()),
            }
        }
        if blank {
            return None;
        }
        row.line = rec.line;
        Some(Ok(()))
    }
}

impl Iterator for CsvReader {
    type Item = Result<RawRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = RawRow::default();
        self.read_into(&mut row).map(|result| result.map(|()| row))
    }
}

/// The encoding a byte-order mark announces, and the mark's length.
fn bom(head: &[u8]) -> Option<(&'static encoding_rs::Encoding, u64)> {
    encoding_rs::Encoding::for_bom(head).map(|(enc, len)| (enc, len as u64))
}

/// After an all-ASCII start (field codes, numbers), the first chunk with anything else in it
/// within [`ASCII_LOOKAHEAD`] bytes, and whether it reaches the end of the file.
fn first_non_ascii_chunk(file: &mut File, mut offset: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut chunk = vec![0; SAMPLE];
    while offset < ASCII_LOOKAHEAD {
        let n = super::read_full(file, &mut chunk)?;
        offset += n;
        if n < SAMPLE || !chunk.is_ascii() {
            chunk.truncate(n);
            return Ok((chunk, n < SAMPLE));
        }
    }
    // Still all ASCII: detection says UTF-8, which ASCII is.
    Ok((Vec::new(), true))
}

/// UTF-8 if the sample is UTF-8 (a character cut at the sample's end is fine), else GB18030
/// if it decodes without a malformed sequence.
fn detect(sample: &[u8], complete: bool) -> Option<&'static encoding_rs::Encoding> {
    match std::str::from_utf8(sample) {
        Ok(_) => return Some(UTF_8),
        Err(e) if e.error_len().is_none() && !complete => return Some(UTF_8),
        Err(_) => {}
    }
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0; decoder.max_utf8_buffer_length_without_replacement(sample.len())?];
    let (result, _, _) = decoder.decode_to_utf8_without_replacement(sample, &mut out, complete);
    (result == DecoderResult::InputEmpty).then_some(GB18030)
}

/// Names as people know them (encoding_rs says "gb18030").
fn display_name(encoding: &'static encoding_rs::Encoding) -> &'static str {
    if encoding == GB18030 {
        "GB18030"
    } else if encoding == UTF_16LE {
        "UTF-16LE"
    } else if encoding == UTF_16BE {
        "UTF-16BE"
    } else {
        encoding.name()
    }
}

/// Counts the bytes read from the file, for progress; the decoder above it hides the file.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R> Counted<R> {
    fn new(inner: R, read: &Arc<AtomicU64>) -> Self {
        Self { inner, read: Arc::clone(read) }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileKind, FormatError, ReadOptions, RowReader, open};
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write test file");
        path
    }

    fn reader(bytes: &[u8], opts: &ReadOptions) -> (tempfile::TempDir, RowReader) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "data.csv", bytes);
        let reader = open(&path, opts).expect("open");
        assert_eq!(reader.kind(), FileKind::Csv);
        (dir, reader)
    }

    fn open_err(bytes: &[u8]) -> FormatError {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "data.csv", bytes);
        open(&path, &ReadOptions::default()).expect_err("open should fail")
    }

    /// An item as `(line, cells)` or `(line, error)`.
    type Line = (u64, Result<Vec<String>, RowErrorKind>);

    fn items(reader: RowReader) -> Vec<Line> {
        reader
            .map(|item| match item {
                Ok(row) => (row.line, Ok(row.cells)),
                Err(e) => (e.line, Err(e.kind)),
            })
            .collect()
    }

    fn row(line: u64, cells: &[&str]) -> Line {
        (line, Ok(cells.iter().map(|c| c.to_string()).collect()))
    }

    /// The encoding found and every item, with default options.
    fn read(bytes: &[u8]) -> (Option<&'static str>, Vec<Line>) {
        let (_dir, reader) = reader(bytes, &ReadOptions::default());
        (reader.encoding(), items(reader))
    }

    #[test]
    fn utf8() {
        let (enc, rows) = read("统一社会信用代码,名称\n91110000100000000X,北京某公司\n".as_bytes());
        assert_eq!(enc, Some("UTF-8"));
        assert_eq!(rows, [row(1, &["统一社会信用代码", "名称"]), row(2, &["91110000100000000X", "北京某公司"])]);
    }

    #[test]
    fn utf8_with_bom_drops_the_bom() {
        let (enc, rows) = read("\u{feff}名称,金额\r\n甲,1\r\n".as_bytes());
        assert_eq!(enc, Some("UTF-8"));
        assert_eq!(rows, [row(1, &["名称", "金额"]), row(2, &["甲", "1"])]);
    }

    #[test]
    fn gbk_is_detected_and_decoded() {
        let text = "行政相对人名称,处罚决定书文号\n某某商贸有限公司,京市监罚〔2024〕12号\n";
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        let (enc, rows) = read(&bytes);
        assert_eq!(enc, Some("GB18030"));
        assert_eq!(
            rows,
            [row(1, &["行政相对人名称", "处罚决定书文号"]), row(2, &["某某商贸有限公司", "京市监罚〔2024〕12号"])]
        );
    }

    #[test]
    fn gbk_declared_skips_detection() {
        // Detection would call pure ASCII UTF-8; a declaration wins.
        let opts = ReadOptions { encoding: Encoding::Gbk, ..ReadOptions::default() };
        let (_dir, reader) = reader(b"a,b\n", &opts);
        assert_eq!(reader.encoding(), Some("GB18030"));
    }

    #[test]
    fn gbk_row_with_bad_bytes_is_an_error_and_the_rest_continue() {
        let mut bytes = encoding_rs::GBK.encode("名称,金额\n").0.into_owned();
        bytes.extend_from_slice(b"\x81\x7f,1\n");
        bytes.extend_from_slice(&encoding_rs::GBK.encode("乙,2\n").0);
        let opts = ReadOptions { encoding: Encoding::Gbk, ..ReadOptions::default() };
        let (_dir, reader) = reader(&bytes, &opts);
        assert_eq!(
            items(reader),
            [row(1, &["名称", "金额"]), (2, Err(RowErrorKind::BadEncoding)), row(3, &["乙", "2"])]
        );
    }

    #[test]
    fn utf16le_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "名称,金额\r\n甲,1\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (enc, rows) = read(&bytes);
        assert_eq!(enc, Some("UTF-16LE"));
        assert_eq!(rows, [row(1, &["名称", "金额"]), row(2, &["甲", "1"])]);
    }

    #[test]
    fn binary_renamed_csv_is_refused() {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 13]);
        bytes.extend_from_slice(b"IHDR");
        assert!(matches!(open_err(&bytes), FormatError::Binary));
        assert!(matches!(open_err(b"\xef\xbb\xbfa,\0b\n"), FormatError::Binary));
    }

    #[test]
    fn empty_file_is_refused() {
        assert!(matches!(open_err(b""), FormatError::Empty));
    }

    #[test]
    fn unknown_encoding_is_refused() {
        // 0x81 0x7F: a GB18030 lead byte with a trail byte outside every range; not UTF-8 either.
        let err = open_err(b"name,\x81\x7f\xff\nx,y\n");
        assert!(matches!(err, FormatError::UnknownEncoding), "{err}");
        assert_eq!(err.zh(), "无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV 文件");
    }

    #[test]
    fn header_only() {
        let (_, rows) = read(b"a,b,c");
        assert_eq!(rows, [row(1, &["a", "b", "c"])]);
    }

    #[test]
    fn ragged_rows_are_yielded_as_they_are() {
        let (_, rows) = read(b"a,b,c\n1\n1,2,3,4\n");
        assert_eq!(rows, [row(1, &["a", "b", "c"]), row(2, &["1"]), row(3, &["1", "2", "3", "4"])]);
    }

    #[test]
    fn blank_rows_are_skipped_and_lines_counted() {
        let (_, rows) = read("\n\r\ntitle\n , ,\u{3000}\n\na, b \n,,\n".as_bytes());
        assert_eq!(rows, [row(3, &["title"]), row(6, &["a", " b "])]);
    }

    #[test]
    fn quoted_cells_with_commas_and_newlines_keep_line_numbers() {
        let (_, rows) = read(b"name,addr\r\n\"A, Inc.\",\"line 1\r\nline 2\"\r\n\"say \"\"hi\"\"\",x\r\n");
        assert_eq!(
            rows,
            [row(1, &["name", "addr"]), row(2, &["A, Inc.", "line 1\r\nline 2"]), row(4, &["say \"hi\"", "x"])]
        );
    }

    #[test]
    fn cell_of_10_mb_is_an_error_then_reading_continues() {
        let mut bytes = b"a,b\n1,".to_vec();
        bytes.resize(bytes.len() + (10 << 20), b'x');
        bytes.extend_from_slice(b"\n2,ok\n");
        let (_, rows) = read(&bytes);
        assert_eq!(
            rows,
            [
                row(1, &["a", "b"]),
                (2, Err(RowErrorKind::CellTooLarge { bytes: 10 << 20, limit: 128 << 10 })),
                row(3, &["2", "ok"])
            ]
        );
    }

    #[test]
    fn unclosed_quote_in_a_large_file_stays_bounded() {
        let mut bytes = b"a,b\n1,\"never closed\n".to_vec();
        while bytes.len() < 5 << 20 {
            bytes.extend_from_slice(b"2,some ordinary row of text\n");
        }
        let limits = Limits::default();
        let (_dir, reader) = reader(&bytes, &ReadOptions::default());
        let mut rows = 0;
        let mut errors = Vec::new();
        for item in reader {
            match item {
                Ok(row) => {
                    rows += 1;
                    assert!(row.cells.iter().all(|c| c.len() <= limits.max_cell_bytes));
                }
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(rows, 1, "only the header survives");
        assert!(matches!(errors[..], [RowError { line: 2, kind: RowErrorKind::CellTooLarge { .. } }]), "{errors:?}");
    }

    #[test]
    fn many_small_cells_are_bounded_by_the_cell_count() {
        let mut bytes = b"a\n".to_vec();
        bytes.extend(std::iter::repeat_n(b',', 100_000));
        bytes.extend_from_slice(b"x\nb\n");
        let (_, rows) = read(&bytes);
        assert_eq!(
            rows,
            [row(1, &["a"]), (2, Err(RowErrorKind::TooManyCells { cells: 100_001, limit: 16_384 })), row(3, &["b"])]
        );
    }

    #[test]
    fn long_row_is_bounded_by_the_row_size() {
        let opts =
            ReadOptions { limits: Limits { max_row_bytes: 1000, ..Limits::default() }, ..ReadOptions::default() };
        let cell = "y".repeat(300);
        let text = format!("a\n{cell},{cell},{cell},{cell}\nb\n");
        let (_dir, reader) = reader(text.as_bytes(), &opts);
        assert_eq!(
            items(reader),
            [row(1, &["a"]), (2, Err(RowErrorKind::RowTooLarge { bytes: 1200, limit: 1000 })), row(3, &["b"])]
        );
    }

    #[test]
    fn invalid_utf8_spoils_only_its_row() {
        let mut bytes = "名称,金额\n".repeat(5000).into_bytes(); // past the 64 KiB sample
        bytes.extend_from_slice(b"\xe4\xb8,x\n");
        bytes.extend_from_slice("甲,1\n".as_bytes());
        let (enc, rows) = read(&bytes);
        assert_eq!(enc, Some("UTF-8"));
        assert_eq!(rows.len(), 5002);
        assert_eq!(rows[5000], (5001, Err(RowErrorKind::BadEncoding)));
        assert_eq!(rows[5001], row(5002, &["甲", "1"]));
    }

    #[test]
    fn character_split_by_a_delimiter_is_bad_encoding() {
        // The two halves of 中 (E4 B8 AD) with a comma between them: the record's bytes
        // joined are valid UTF-8, its cells are not.
        let opts = ReadOptions { encoding: Encoding::Utf8, ..ReadOptions::default() };
        let (_dir, reader) = reader(b"a,b\n\xe4\xb8,\xad\n", &opts);
        assert_eq!(items(reader)[1], (2, Err(RowErrorKind::BadEncoding)));
    }

    #[test]
    fn utf8_cut_at_the_sample_end_is_still_utf8() {
        let mut bytes = vec![b'a'; SAMPLE - 1];
        bytes.extend_from_slice("中\n".as_bytes());
        let (enc, rows) = read(&bytes);
        assert_eq!(enc, Some("UTF-8"));
        assert_eq!(rows.len(), 1);
        assert!(rows[0].1.as_ref().is_ok_and(|c| c[0].ends_with('中')));
    }

    #[test]
    fn progress_reaches_the_file_size() {
        let bytes = "a,b\n".repeat(100_000);
        let (_dir, mut reader) = reader(bytes.as_bytes(), &ReadOptions::default());
        assert_eq!(reader.progress().total, bytes.len() as u64);
        assert!(reader.by_ref().count() == 100_000);
        assert_eq!(reader.progress().done, bytes.len() as u64);
    }

    #[test]
    fn gbk_after_an_all_ascii_start_is_detected() {
        let mut bytes = b"CF_XDR_MC,CF_JE\n".to_vec();
        while bytes.len() < 3 * SAMPLE {
            bytes.extend_from_slice(b"ABC,100\n");
        }
        bytes.extend_from_slice(&encoding_rs::GBK.encode("某某公司,200\n").0);
        let (enc, rows) = read(&bytes);
        assert_eq!(enc, Some("GB18030"));
        assert_eq!(rows.last(), Some(&row(rows.len() as u64, &["某某公司", "200"])));
    }

    #[test]
    fn read_into_gives_the_rows_next_gives() {
        let mut bytes = "名称,金额,备注\n\n甲,1\n,,\n乙,2,长备注\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xff,3\n");
        bytes.extend_from_slice("丙\n".as_bytes());
        let bytes = &bytes[..];
        let opts = ReadOptions { encoding: Encoding::Utf8, ..ReadOptions::default() };
        let (_dir, iterated) = reader(bytes, &opts);
        let expected = items(iterated);
        let (_dir, mut reader) = reader(bytes, &opts);
        let mut row = RawRow::default();
        let mut got = Vec::new();
        while let Some(result) = reader.read_into(&mut row) {
            got.push(match result {
                Ok(()) => (row.line, Ok(row.cells.clone())),
                Err(e) => (e.line, Err(e.kind)),
            });
        }
        assert_eq!(got, expected);
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn limits_without_bounds_do_not_overflow() {
        let opts = ReadOptions {
            limits: Limits {
                max_cell_bytes: usize::MAX,
                max_row_bytes: usize::MAX,
                max_row_cells: usize::MAX,
                ..Limits::default()
            },
            ..ReadOptions::default()
        };
        let (_dir, reader) = reader(b"a,b\n", &opts);
        assert_eq!(items(reader), [row(1, &["a", "b"])]);
    }

    #[test]
    fn semicolon_delimiter() {
        let opts = ReadOptions { delimiter: b';', ..ReadOptions::default() };
        let (_dir, reader) = reader(b"a;b,c\n", &opts);
        assert_eq!(items(reader), [row(1, &["a", "b,c"])]);
    }
}
