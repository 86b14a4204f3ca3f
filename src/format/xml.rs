//! XML reader: encoding from the BOM or the declaration, decoded to UTF-8 ahead of quick-xml's
//! event reader, with records collected one at a time.
//!
//! Memory is bounded three ways. quick-xml buffers one whole event (a tag, a text, a comment,
//! the DOCTYPE), so the source refuses to give it more than [`Limits::max_row_bytes`] for one
//! event ([`Bounded`]); such a file is unreadable from there on. Element nesting is capped at
//! [`MAX_NESTING`], which also caps the open names quick-xml keeps. A record's cells are held up
//! to the cell and row limits, then only counted.
//!
//! Entities: the five predefined ones and character references are resolved; nothing declared
//! in a DOCTYPE is expanded (quick-xml never reads DTDs), so an entity of one makes its record
//! [`RowErrorKind::Malformed`] and a "billion laughs" costs nothing.
//!
//! How the record element is chosen is documented at [`super::ReadOptions::records`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{GB18030, GBK, UTF_8, UTF_16BE, UTF_16LE};
use encoding_rs_io::DecodeReaderBytesBuilder;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::{Encoding, FormatError, Limits, MAX_NESTING, Progress, RawRow, ReadOptions, RowError, RowErrorKind, Table};

/// Read size.
const CHUNK: usize = 64 << 10;
/// Bytes looked at for a BOM, the declaration and binary content.
const HEAD: usize = 8 << 10;
/// Longest element name; real ones are short, and quick-xml keeps the open ones.
const MAX_NAME: usize = 1 << 10;
/// Characters of an undefined entity's name quoted in a message.
const ENTITY_SHOWN: usize = 40;

type Item = Result<RawRow, RowError>;

pub(super) struct XmlReader {
    reader: Reader<Bounded>,
    /// Event buffer, reused.
    buf: Vec<u8>,
    /// File bytes read, updated under the decoder.
    read: Arc<AtomicU64>,
    size: u64,
    encoding: &'static str,
    target: Target,
    /// The open elements, outermost first: whether each has had a child element yet.
    open: Vec<bool>,
    /// The record being collected, and the depth of its element (1 for the root).
    rec: Option<Rec>,
    rec_depth: usize,
    /// Name and attributes of the last element started, in case it turns out to be a record
    /// once its first child starts (while it has none, every element started since is it).
    last: Option<(String, Attributes)>,
    /// Without a record name: the first flat element, and the latest one with its depth,
    /// waiting for a sibling of the same name to confirm it.
    first: Option<Rec>,
    candidate: Option<(Rec, usize)>,
    table: Table,
    /// Items ready to be returned, in order.
    ready: VecDeque<Item>,
    /// Records met so far, bad ones included.
    records: u64,
    limits: Limits,
    done: bool,
}

enum Target {
    /// Records are the elements with this local name.
    Named(String),
    /// The record element is still to be found.
    Detect,
}

/// Attributes as `@name` cells, and the first problem met reading them.
type Attributes = (Vec<(String, String)>, Option<String>);

impl XmlReader {
    pub(super) fn open(mut file: File, opts: &ReadOptions) -> Result<Self, FormatError> {
        let size = file.metadata()?.len();
        let mut head = vec![0; HEAD];
        let n = super::read_full(&mut file, &mut head)?;
        head.truncate(n);
        if head.is_empty() {
            return Err(FormatError::Empty);
        }
        let (encoding, bom_len) = match encoding_rs::Encoding::for_bom(&head) {
            Some((encoding, len)) => (encoding, len),
            None => (sniff(&head, opts.encoding)?, 0),
        };
        if encoding != UTF_16LE && encoding != UTF_16BE {
            if head.contains(&0) {
                return Err(FormatError::Binary);
            }
            let start = head[bom_len..].iter().find(|b| !b.is_ascii_whitespace());
            if let Some(&b) = start.filter(|&&b| b != b'<') {
                let shown = if b.is_ascii_graphic() { format!("'{}'", char::from(b)) } else { format!("0x{b:02X}") };
                return Err(FormatError::InvalidXml(format!("it starts with {shown} rather than <")));
            }
        }
        // UTF-8 goes through the decoder too: quick-xml stops for good at invalid UTF-8, while
        // a U+FFFD in its place spoils only the record it is in.
        let read = Arc::new(AtomicU64::new(0));
        file.seek(SeekFrom::Start(0))?;
        let decoder = DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .strip_bom(true)
            .build_with_buffer(Counted::new(file, &read), vec![0; CHUNK])?;
        let source: Box<dyn Read + Send> = Box::new(decoder);
        let event_limit = opts.limits.max_row_bytes.max(CHUNK);
        let mut reader = Reader::from_reader(Bounded::new(BufReader::with_capacity(CHUNK, source), event_limit));
        let config = reader.config_mut();
        // `A&B公司` is common and harmless: read it as written.
        config.allow_dangling_amp = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        let target = match opts.records.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(name) => Target::Named(local_name(name).to_owned()),
            None => Target::Detect,
        };
        Ok(Self {
            reader,
            buf: Vec::with_capacity(CHUNK),
            read,
            size,
            encoding: display_name(encoding),
            target,
            open: Vec::new(),
            rec: None,
            rec_depth: 0,
            last: None,
            first: None,
            candidate: None,
            table: Table::default(),
            ready: VecDeque::new(),
            records: 0,
            limits: opts.limits.clone(),
            done: false,
        })
    }

    pub(super) fn encoding(&self) -> &'static str {
        self.encoding
    }

    pub(super) fn progress(&self) -> Progress {
        Progress { done: self.read.load(Ordering::Relaxed), total: self.size }
    }

    /// Reads one event and acts on it.
    fn step(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.reader.get_mut().reset();
        match self.reader.read_event_into(&mut buf) {
            Ok(event) => self.event(event),
            Err(e) => self.error(e),
        }
        if buf.capacity() > 4 * CHUNK {
            // A large event passed; do not keep its buffer.
            buf = Vec::with_capacity(CHUNK);
        }
        self.buf = buf;
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(start) => self.start(&start),
            Event::Empty(start) => {
                self.start(&start);
                if !self.done {
                    self.end();
                }
            }
            Event::End(_) => self.end(),
            Event::Text(text) if self.in_field() => self.text(&text.xml10_content()),
            Event::CData(text) if self.in_field() => self.text(&text.xml10_content()),
            Event::GeneralRef(reference) if self.in_field() => self.reference(&reference),
            Event::Eof => self.eof(),
            // Declaration, processing instructions, comments, the DOCTYPE (never expanded), and
            // text outside records.
            _ => {}
        }
    }

    fn in_field(&self) -> bool {
        self.rec.as_ref().is_some_and(|rec| rec.field.is_some())
    }

    fn start(&mut self, start: &BytesStart<'_>) {
        if start.name().as_ref().len() > MAX_NAME {
            return self.fatal(format!("an element name longer than {MAX_NAME} bytes"));
        }
        if self.open.len() >= MAX_NESTING {
            return self.fatal(format!("elements nested more than {MAX_NESTING} levels deep"));
        }
        let local = start.local_name().into_inner();
        let first_child = self.open.last_mut().is_some_and(|has_children| !std::mem::replace(has_children, true));
        self.open.push(false);
        let depth = self.open.len();
        if let Target::Detect = self.target {
            let repeated = self.candidate.as_ref().is_some_and(|(rec, at)| rec.name == local && *at == depth);
            if repeated {
                // A second flat element of the same name beside the first: these are the records.
                self.target = Target::Named(local.to_owned());
                self.first = None;
                self.rec = None;
                self.last = None;
                if let Some((rec, _)) = self.candidate.take() {
                    self.emit(rec);
                }
            }
        }
        match &self.target {
            Target::Named(name) => {
                if self.rec.is_none() {
                    if local == name {
                        let attributes = attributes(start, &self.limits);
                        self.rec = Some(Rec::new(local.to_owned(), attributes, &self.limits));
                        self.rec_depth = depth;
                    }
                } else if depth == self.rec_depth + 1 {
                    if let Some(rec) = &mut self.rec {
                        rec.open_field(local);
                    }
                }
            }
            Target::Detect => {
                let attributes = attributes(start, &self.limits);
                let parent = self.last.take();
                match &mut self.rec {
                    Some(rec) if depth == self.rec_depth + 1 => rec.open_field(local),
                    // A field with a child: the record was not flat; maybe the field is.
                    Some(_) if depth == self.rec_depth + 2 => self.begin_detected(parent, local, depth),
                    None if first_child => self.begin_detected(parent, local, depth),
                    _ => {}
                }
                self.last = Some((local.to_owned(), attributes));
            }
        }
    }

    /// Starts collecting the parent of the element just started, as a possible record.
    fn begin_detected(&mut self, parent: Option<(String, Attributes)>, child: &str, depth: usize) {
        self.rec = parent.map(|(name, attributes)| {
            let mut rec = Rec::new(name, attributes, &self.limits);
            rec.open_field(child);
            rec
        });
        self.rec_depth = depth - 1;
    }

    fn end(&mut self) {
        let depth = self.open.len();
        self.open.pop();
        if self.rec.is_none() {
            return;
        }
        if depth == self.rec_depth + 1 {
            if let Some(rec) = &mut self.rec {
                rec.close_field(&self.limits);
            }
        } else if depth == self.rec_depth {
            let Some(rec) = self.rec.take() else { return };
            match self.target {
                Target::Named(_) => self.emit(rec),
                Target::Detect => {
                    let older = self.candidate.replace((rec, depth));
                    if self.first.is_none() {
                        self.first = older.map(|(rec, _)| rec);
                    }
                }
            }
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(rec) = &mut self.rec {
            rec.push_text(text, &self.limits);
        }
    }

    fn reference(&mut self, reference: &BytesRef<'_>) {
        let Some(rec) = &mut self.rec else { return };
        match reference.resolve_char_ref() {
            Ok(Some(c)) => rec.push_text(c.encode_utf8(&mut [0; 4]), &self.limits),
            Ok(None) => match quick_xml::escape::resolve_xml_entity(reference) {
                Some(text) => rec.push_text(text, &self.limits),
                None => {
                    let name: String = reference.chars().take(ENTITY_SHOWN).collect();
                    rec.problem(RowErrorKind::Malformed(format!("undefined entity &{name};")));
                }
            },
            Err(e) => rec.problem(RowErrorKind::Malformed(e.to_string())),
        }
    }

    fn eof(&mut self) {
        if self.open.is_empty() {
            self.flush_detected();
            self.done = true;
        } else {
            self.fatal("the file ends before the XML document does".into());
        }
    }

    /// quick-xml stops at its first error but for ill-formed tags, which leave the nesting
    /// unknown: every error of the reader ends the stream.
    fn error(&mut self, e: quick_xml::Error) {
        let source = self.reader.get_ref();
        if source.tripped {
            let limit = source.limit;
            return self.fatal(format!("a tag, text or comment of more than {limit} bytes"));
        }
        self.fatal(e.to_string());
    }

    /// Ends the stream with [`RowErrorKind::Unreadable`], after any record found so far.
    fn fatal(&mut self, detail: String) {
        self.flush_detected();
        self.done = true;
        let line = self.records + 2;
        self.ready.push_back(Err(RowError { line, kind: RowErrorKind::Unreadable(detail) }));
    }

    /// Without a record name and no repeat found: the first flat element is the one record.
    fn flush_detected(&mut self) {
        if let Target::Detect = self.target {
            let candidate = self.candidate.take().map(|(rec, _)| rec);
            if let Some(rec) = self.first.take().or(candidate) {
                self.emit(rec);
            }
        }
    }

    /// Queues the rows for a finished record.
    fn emit(&mut self, rec: Rec) {
        self.records += 1;
        let line = self.records + 1;
        if let Some(kind) = rec.error(&self.limits) {
            self.ready.push_back(Err(RowError { line, kind }));
            return;
        }
        let fields = rec.fields.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let (header, item) = self.table.rows(line, fields);
        self.ready.extend(header.map(Ok));
        self.ready.extend(item);
    }
}

impl Iterator for XmlReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            self.step();
        }
    }
}

/// One record being collected: its cells within the limits, and its sizes in any case.
struct Rec {
    name: String,
    fields: Vec<(String, String)>,
    /// The open field's name and text so far.
    field: Option<(String, String)>,
    /// Bytes of the open field's text, kept or not.
    field_bytes: usize,
    cells: usize,
    bytes: usize,
    largest: usize,
    problem: Option<RowErrorKind>,
}

impl Rec {
    fn new(name: String, (attributes, problem): Attributes, limits: &Limits) -> Self {
        let mut rec = Self {
            name,
            fields: Vec::new(),
            field: None,
            field_bytes: 0,
            cells: 0,
            bytes: 0,
            largest: 0,
            problem: problem.map(RowErrorKind::Malformed),
        };
        for (key, value) in attributes {
            rec.add(key, value, limits);
        }
        rec
    }

    /// Adds a cell; U+FFFD in it marks bytes the decoder could not decode.
    fn add(&mut self, key: String, value: String, limits: &Limits) {
        if value.contains(char::REPLACEMENT_CHARACTER) {
            self.problem(RowErrorKind::BadEncoding);
        }
        self.cells += 1;
        self.bytes = self.bytes.saturating_add(value.len());
        // The name is a cell of the header row.
        self.largest = self.largest.max(value.len()).max(key.len());
        if self.over(limits).is_some() {
            // The record is lost anyway; stop holding its cells.
            self.fields = Vec::new();
        } else {
            self.fields.push((key, value));
        }
    }

    fn open_field(&mut self, name: &str) {
        self.field = Some((name.to_owned(), String::new()));
        self.field_bytes = 0;
    }

    fn push_text(&mut self, text: &str, limits: &Limits) {
        let Some((_, value)) = &mut self.field else { return };
        self.field_bytes = self.field_bytes.saturating_add(text.len());
        if self.field_bytes <= limits.max_cell_bytes
            && self.bytes.saturating_add(self.field_bytes) <= limits.max_row_bytes
        {
            value.push_str(text);
        }
    }

    fn close_field(&mut self, limits: &Limits) {
        let Some((name, text)) = self.field.take() else { return };
        let complete = text.len() == self.field_bytes;
        let value = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if complete {
            self.add(name, value.to_owned(), limits);
        } else {
            // Too large to keep: count it at its full size.
            self.cells += 1;
            self.bytes = self.bytes.saturating_add(self.field_bytes);
            self.largest = self.largest.max(self.field_bytes);
            self.fields = Vec::new();
        }
    }

    fn problem(&mut self, kind: RowErrorKind) {
        self.problem.get_or_insert(kind);
    }

    fn over(&self, limits: &Limits) -> Option<RowErrorKind> {
        if self.largest > limits.max_cell_bytes {
            Some(RowErrorKind::CellTooLarge { bytes: self.largest, limit: limits.max_cell_bytes })
        } else if self.bytes > limits.max_row_bytes {
            Some(RowErrorKind::RowTooLarge { bytes: self.bytes, limit: limits.max_row_bytes })
        } else if self.cells > limits.max_row_cells {
            Some(RowErrorKind::TooManyCells { cells: self.cells, limit: limits.max_row_cells })
        } else {
            None
        }
    }

    fn error(&self, limits: &Limits) -> Option<RowErrorKind> {
        self.over(limits).or_else(|| self.problem.clone())
    }
}

/// An element's attributes as `@name` cells (namespace declarations left out); past the cell
/// limit only one more is kept, enough to make the record too wide.
fn attributes(start: &BytesStart<'_>, limits: &Limits) -> Attributes {
    let mut cells = Vec::new();
    let mut attributes = start.attributes();
    // The duplicate check is quadratic in the number of attributes.
    attributes.with_checks(false);
    for attribute in attributes {
        let attribute = match attribute {
            Ok(attribute) => attribute,
            Err(e) => return (cells, Some(e.to_string())),
        };
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = match attribute.normalized_value(XmlVersion::Implicit1_0) {
            Ok(value) => value,
            Err(e) => return (cells, Some(e.to_string())),
        };
        cells.push((format!("@{}", attribute.key.local_name().into_inner()), value.into_owned()));
        if cells.len() > limits.max_row_cells {
            break;
        }
    }
    (cells, None)
}

/// `record` for `ns:record`.
fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

/// The encoding of a file without a BOM: the declaration's, else the connector's, else UTF-8
/// unless the start of the file is GB18030 and not UTF-8.
fn sniff(head: &[u8], declared: Encoding) -> Result<&'static encoding_rs::Encoding, FormatError> {
    if let Some(label) = declared_encoding(head) {
        let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or(FormatError::UnknownEncoding)?;
        // GBK and GB2312 files often hold GB18030 characters; GB18030 decodes them all. A UTF-16
        // declaration on ASCII-compatible bytes without a BOM is wrong: read them as UTF-8.
        return Ok(if encoding == GBK { GB18030 } else { encoding.output_encoding() });
    }
    Ok(match declared {
        Encoding::Utf8 => UTF_8,
        Encoding::Gbk => GB18030,
        Encoding::Auto => match std::str::from_utf8(head) {
            Ok(_) => UTF_8,
            // A character cut at the end of the sample.
            Err(e) if e.error_len().is_none() => UTF_8,
            Err(_) if GB18030.decode_without_bom_handling_and_without_replacement(head).is_some() => GB18030,
            // Bad bytes make bad records, not a refused file.
            Err(_) => UTF_8,
        },
    })
}

/// The `encoding` of an `<?xml ...?>` declaration at the start of `head`.
fn declared_encoding(head: &[u8]) -> Option<&str> {
    let rest = head.strip_prefix(b"<?xml")?;
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|&c| c == '"' || c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
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

/// The decoded text, refusing to hand quick-xml more than `limit` bytes for one event: it
/// buffers an event whole. [`Bounded::reset`] is called before each event.
struct Bounded {
    inner: BufReader<Box<dyn Read + Send>>,
    used: usize,
    limit: usize,
    /// The limit was hit.
    tripped: bool,
}

impl Bounded {
    fn new(inner: BufReader<Box<dyn Read + Send>>, limit: usize) -> Self {
        Self { inner, used: 0, limit, tripped: false }
    }

    fn reset(&mut self) {
        self.used = 0;
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Bounded {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.used > self.limit {
            self.tripped = true;
            return Err(io::Error::other(format!("an XML event of more than {} bytes", self.limit)));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.used = self.used.saturating_add(amt);
        self.inner.consume(amt);
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

/// Appends what a character or predefined-entity reference (`&#x4E2D;`, `&amp;`) stands for;
/// any other reference adds nothing. For the small documents read whole (receipts, feed pages,
/// cursors); department files go through [`XmlReader`], which reports undefined entities.
pub fn push_reference(text: &mut String, reference: &BytesRef<'_>) {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => text.push(c),
        _ => text.push_str(quick_xml::escape::resolve_xml_entity(reference).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileKind, RowReader, open};
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write test file");
        path
    }

    fn reader_with(bytes: &[u8], opts: &ReadOptions) -> (tempfile::TempDir, RowReader) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "data.xml", bytes);
        let reader = open(&path, opts).expect("open");
        assert_eq!(reader.kind(), FileKind::Xml);
        (dir, reader)
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

    fn read(text: &str) -> Vec<Line> {
        items(reader_with(text.as_bytes(), &ReadOptions::default()).1)
    }

    fn read_named(text: &str, records: &str) -> Vec<Line> {
        let opts = ReadOptions { records: Some(records.into()), ..ReadOptions::default() };
        items(reader_with(text.as_bytes(), &opts).1)
    }

    const DEPARTMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<数据 xmlns:x="urn:x">
  <头部><版本>1.0</版本><时间>2024-05-01</时间></头部>
  <记录列表>
    <x:记录 序号="1">
      <名称>北京某公司</名称>
      <代码>91110000100000000X</代码>
    </x:记录>
    <x:记录 序号="2">
      <代码>91110000100000001X</代码>
      <名称>天津某公司</名称>
      <备注>ignored</备注>
    </x:记录>
    <x:记录 序号="3"><名称/></x:记录>
  </记录列表>
</数据>
"#;

    #[test]
    fn records_by_name() {
        let expected = [
            row(1, &["@序号", "名称", "代码"]),
            row(2, &["1", "北京某公司", "91110000100000000X"]),
            row(3, &["2", "天津某公司", "91110000100000001X"]),
            row(4, &["3", "", ""]),
        ];
        assert_eq!(read_named(DEPARTMENT, "记录"), expected);
        assert_eq!(read_named(DEPARTMENT, "y:记录"), expected);
    }

    #[test]
    fn record_element_is_detected() {
        // The flat 头部 is passed over: its name does not repeat.
        let (_dir, reader) = reader_with(DEPARTMENT.as_bytes(), &ReadOptions::default());
        assert_eq!(reader.encoding(), Some("UTF-8"));
        assert_eq!(reader.sheet(), None);
        assert_eq!(items(reader).len(), 4);
    }

    #[test]
    fn single_flat_element_is_the_one_record() {
        let rows = read("<root><head><a>1</a></head><body><rec><x>2</x></rec></body></root>");
        assert_eq!(rows, [row(1, &["a"]), row(2, &["1"])]);
        let rows = read("<root><rec><x>2</x></rec></root>");
        assert_eq!(rows, [row(1, &["x"]), row(2, &["2"])]);
    }

    #[test]
    fn no_records() {
        assert_eq!(read("<root/>"), []);
        assert_eq!(read("<root>text</root>"), []);
        assert_eq!(read_named(DEPARTMENT, "nothing"), []);
    }

    #[test]
    fn entities_cdata_and_whitespace() {
        let rows = read(
            "<r><row><a> A &amp; B &lt;公司&gt; &#x4E2D;&#25991; </a><b><![CDATA[<b>粗</b> & ]]></b>\
             <c>\n  多行\r\n  文本 \n</c><d>A&B</d></row></r>",
        );
        assert_eq!(
            rows,
            [row(1, &["a", "b", "c", "d"]), row(2, &["A & B <公司> 中文", "<b>粗</b> &", "多行\n  文本", "A&B"])]
        );
    }

    #[test]
    fn nested_field_text_is_joined_when_the_record_is_named() {
        let rows = read_named("<r><rec id='1'><a>x<i>y</i>z</a><b><c>1</c><c>2</c></b></rec></r>", "rec");
        assert_eq!(rows, [row(1, &["@id", "a", "b"]), row(2, &["1", "xyz", "12"])]);
        // Attribute-only records.
        let rows = read_named("<r><row a='1' b='&quot;x&quot;'/><row b='2'/></r>", "row");
        assert_eq!(rows, [row(1, &["@a", "@b"]), row(2, &["1", "\"x\""]), row(3, &["", "2"])]);
    }

    #[test]
    fn undefined_entity_spoils_its_record_and_the_bomb_stays_small() {
        let mut text = String::from(r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">"#);
        text.push_str(r#"<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#);
        for i in 2..10 {
            let prev = i - 1;
            text.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&lol{prev};").repeat(10)));
        }
        text.push_str("]><lolz><row><a>1</a></row><row><a>&lol9;</a></row><row><a>3</a></row></lolz>");
        let rows = read(&text);
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[..2], [row(1, &["a"]), row(2, &["1"])]);
        assert!(matches!(&rows[2], (3, Err(RowErrorKind::Malformed(d))) if d.contains("&lol9;")), "{rows:?}");
        assert_eq!(rows[3], row(4, &["3"]));
    }

    #[test]
    fn gbk_declared() {
        let text = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<数据><记录><名称>某某商贸有限公司</名称>\
                    <文号>京市监罚〔2024〕12号</文号></记录><记录><名称>乙</名称><文号>丙</文号></记录></数据>";
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        let (_dir, reader) = reader_with(&bytes, &ReadOptions::default());
        assert_eq!(reader.encoding(), Some("GB18030"));
        assert_eq!(
            items(reader),
            [row(1, &["名称", "文号"]), row(2, &["某某商贸有限公司", "京市监罚〔2024〕12号"]), row(3, &["乙", "丙"])]
        );
        // GB2312 too, in single quotes.
        let text = "<?xml version='1.0' encoding='gb2312'?><r><x><a>甲</a></x></r>";
        let (_dir, reader) = reader_with(&encoding_rs::GBK.encode(text).0, &ReadOptions::default());
        assert_eq!(reader.encoding(), Some("GB18030"));
        assert_eq!(items(reader), [row(1, &["a"]), row(2, &["甲"])]);
    }

    #[test]
    fn gbk_without_a_declaration_is_detected() {
        let text = "<r><x><a>某某公司</a></x></r>";
        let (_dir, reader) = reader_with(&encoding_rs::GBK.encode(text).0, &ReadOptions::default());
        assert_eq!(reader.encoding(), Some("GB18030"));
        assert_eq!(items(reader), [row(1, &["a"]), row(2, &["某某公司"])]);
    }

    #[test]
    fn bom_is_honoured() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice("<r><x><a>甲</a></x></r>".as_bytes());
        assert_eq!(items(reader_with(&bytes, &ReadOptions::default()).1), [row(1, &["a"]), row(2, &["甲"])]);
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><r><x><a>甲</a></x></r>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (_dir, reader) = reader_with(&bytes, &ReadOptions::default());
        assert_eq!(reader.encoding(), Some("UTF-16LE"));
        assert_eq!(items(reader), [row(1, &["a"]), row(2, &["甲"])]);
    }

    #[test]
    fn unknown_encoding_binary_and_not_xml_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = ReadOptions::default();
        let path = write(&dir, "a.xml", b"<?xml version=\"1.0\" encoding=\"x-nonsense\"?><r/>");
        assert!(matches!(open(&path, &opts), Err(FormatError::UnknownEncoding)));
        let path = write(&dir, "b.xml", b"<r>\0</r>");
        assert!(matches!(open(&path, &opts), Err(FormatError::Binary)));
        let path = write(&dir, "c.xml", b"{\"a\": 1}");
        let err = open(&path, &opts).expect_err("not xml");
        assert!(matches!(err, FormatError::InvalidXml(_)), "{err}");
        assert!(err.zh().starts_with("文件不是有效的 XML 文件"));
        let path = write(&dir, "d.xml", b"");
        assert!(matches!(open(&path, &opts), Err(FormatError::Empty)));
    }

    #[test]
    fn truncated_file_is_unreadable_after_the_good_records() {
        let rows = read("<r><row><a>1</a></row><row><a>2</a></row><row><a>3");
        assert_eq!(rows[..3], [row(1, &["a"]), row(2, &["1"]), row(3, &["2"])]);
        assert!(matches!(&rows[3], (4, Err(RowErrorKind::Unreadable(_)))), "{rows:?}");
        assert_eq!(rows.len(), 4);
        // One record and a cut: the record still comes before the error.
        let rows = read("<r><row><a>1</a></row><ro");
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
        // Mismatched tags.
        let rows = read("<r><row><a>1</a></row><row><a>2</b></row></r>");
        assert!(matches!(rows.last(), Some((3, Err(RowErrorKind::Unreadable(_))))), "{rows:?}");
    }

    #[test]
    fn element_name_over_the_cell_limit_is_a_cell_too_large() {
        let limits = Limits { max_cell_bytes: 10, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let text = "<r><row><abcdefghijkl>1</abcdefghijkl></row><row><a>2</a></row></r>";
        let rows = items(reader_with(text.as_bytes(), &opts).1);
        assert!(rows.contains(&(2, Err(RowErrorKind::CellTooLarge { bytes: 12, limit: 10 }))), "{rows:?}");
    }

    #[test]
    fn oversize_cells_rows_and_widths() {
        let limits = Limits { max_cell_bytes: 10, max_row_bytes: 25, max_row_cells: 3, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let text = "<r>\
            <row><a>1</a></row>\
            <row><a>0123456789AB</a></row>\
            <row><a>0123456789</a><b>0123456789</b><c>0123456789</c></row>\
            <row><a>1</a><b>2</b><c>3</c><d>4</d></row>\
            <row a='1' b='2' c='3' d='4'/>\
            <row><a>2</a></row></r>";
        let rows = items(reader_with(text.as_bytes(), &opts).1);
        assert_eq!(
            rows,
            [
                row(1, &["a"]),
                row(2, &["1"]),
                (3, Err(RowErrorKind::CellTooLarge { bytes: 12, limit: 10 })),
                (4, Err(RowErrorKind::RowTooLarge { bytes: 30, limit: 25 })),
                (5, Err(RowErrorKind::TooManyCells { cells: 4, limit: 3 })),
                (6, Err(RowErrorKind::TooManyCells { cells: 4, limit: 3 })),
                row(7, &["2"]),
            ]
        );
    }

    #[test]
    fn cell_of_10_mb_is_an_error_then_reading_continues() {
        let mut text = b"<r><row><a>1</a><b>2</b></row><row><a>1</a><b>".to_vec();
        text.resize(text.len() + (5 << 20), b'x');
        text.extend_from_slice(b"</b></row><row><a>3</a><b>ok</b></row></r>");
        let rows = items(reader_with(&text, &ReadOptions::default()).1);
        assert_eq!(
            rows,
            [
                row(1, &["a", "b"]),
                row(2, &["1", "2"]),
                (3, Err(RowErrorKind::CellTooLarge { bytes: 5 << 20, limit: 128 << 10 })),
                row(4, &["3", "ok"])
            ]
        );
        // A single text larger than a whole row cannot be skipped: quick-xml would hold it.
        let mut text = b"<r><row><a>1</a></row><row><a>".to_vec();
        text.resize(text.len() + (10 << 20), b'x');
        text.extend_from_slice(b"</a></row></r>");
        let rows = items(reader_with(&text, &ReadOptions::default()).1);
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut text = "<r><row><a>1</a></row>".to_string();
        text.push_str(&"<d>".repeat(100_000));
        let rows = read(&text);
        assert_eq!(rows[..2], [row(1, &["a"]), row(2, &["1"])]);
        assert!(matches!(&rows[2], (3, Err(RowErrorKind::Unreadable(d))) if d.contains("64 levels")), "{rows:?}");
        // 64 levels are fine.
        let mut text = "<d>".repeat(MAX_NESTING - 2);
        text.push_str("<row><a>1</a></row>");
        text.push_str(&"</d>".repeat(MAX_NESTING - 2));
        assert_eq!(read(&text), [row(1, &["a"]), row(2, &["1"])]);
    }

    #[test]
    fn invalid_utf8_spoils_only_its_record() {
        // 0xFF is neither UTF-8 nor GB18030.
        let text = b"<r><row><a>1</a></row><row><a>\xff</a></row><row><a>3</a></row></r>";
        let rows = items(reader_with(text, &ReadOptions::default()).1);
        assert_eq!(rows, [row(1, &["a"]), row(2, &["1"]), (3, Err(RowErrorKind::BadEncoding)), row(4, &["3"])]);
    }

    #[test]
    fn many_records_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.xml");
        let mut file = io::BufWriter::new(File::create(&path).expect("create"));
        file.write_all(b"<?xml version=\"1.0\"?>\n<data>\n").expect("write");
        for i in 0..200_000 {
            writeln!(file, "<row id=\"{i}\"><name>某某公司{i}</name><amount>{i}.50</amount></row>").expect("write");
        }
        file.write_all(b"</data>\n").expect("write");
        drop(file);
        let size = std::fs::metadata(&path).expect("metadata").len();
        let mut reader = open(&path, &ReadOptions::default()).expect("open");
        let mut count = 0;
        let (mut row, mut last) = (RawRow::default(), RawRow::default());
        while let Some(item) = reader.read_into(&mut row) {
            item.expect("row");
            count += 1;
            std::mem::swap(&mut row, &mut last);
        }
        assert_eq!(count, 200_001);
        let cells = ["199999", "某某公司199999", "199999.50"];
        assert_eq!(last, RawRow { line: 200_001, cells: cells.map(String::from).to_vec() });
        assert_eq!(reader.progress(), Progress { done: size, total: size });
    }

    #[test]
    fn every_truncation_reads_without_panicking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = DEPARTMENT.as_bytes();
        for records in [None, Some("记录")] {
            let opts = ReadOptions { records: records.map(String::from), ..ReadOptions::default() };
            for end in 1..=text.len() {
                let path = write(&dir, "t.xml", &text[..end]);
                if let Ok(reader) = open(&path, &opts) {
                    let rows = items(reader);
                    let unreadable = rows.iter().filter(|r| matches!(r.1, Err(RowErrorKind::Unreadable(_)))).count();
                    assert!(unreadable <= 1, "{records:?} {end}: {rows:?}");
                    if end == text.len() {
                        assert_eq!(rows.len(), 4);
                    }
                }
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\" encoding = 'GBK' ?><r/>"), Some("GBK"));
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><r encoding='x'/>"), None);
        assert_eq!(declared_encoding(b"<r/>"), None);
        assert_eq!(local_name("a:b"), "b");
        assert_eq!(local_name("b"), "b");
    }
}
