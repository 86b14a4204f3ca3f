//! JSON reader: a byte scanner walks to the records and finds where each one ends, then
//! serde_json checks the one record held.
//!
//! Nothing recurses: the scanner counts brackets (string- and escape-aware), so the file is read
//! once, front to back, and at most one record's text is in memory, cut off at
//! [`Limits::max_row_bytes`]. A record that is too large is still scanned to its end, so the next
//! one can be read. serde_json's own nesting limit never comes into play: records nested more
//! than [`MAX_NESTING`] levels are refused before it parses them.
//!
//! Where the records are is decided in [`JsonReader::open`]; see [`ReadOptions::records`].
//! Numbers are never converted: a value's text is taken from the file as it is.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use serde::de::IgnoredAny;

use super::{Fields, FormatError, Limits, MAX_NESTING, Progress, RawRow, ReadOptions, RowError, RowErrorKind, Table};

/// Read size.
const CHUNK: usize = 64 << 10;
/// Bytes searched for NUL to tell a binary file from text.
const BINARY_PROBE: usize = 8 << 10;
/// Longest key compared with a [`ReadOptions::records`] path segment; longer keys never match.
const MAX_KEY: usize = 64 << 10;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

type Item = Result<RawRow, RowError>;

pub(super) struct JsonReader {
    input: Input,
    size: u64,
    layout: Layout,
    table: Table,
    /// The row that goes after the header row just returned.
    pending: Option<Item>,
    /// Records met so far, bad ones included; the one being read counts.
    records: u64,
    /// Text of the current record, up to the row limit.
    text: Vec<u8>,
    limits: Limits,
    done: bool,
}

/// Where the records are, and how far reading has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Inside the array of records, just after `[` while `first`. `enclosing`: the objects
    /// still open around the array, closed after it.
    Array { enclosing: usize, first: bool },
    /// Top-level values one after another, e.g. a single object.
    Sequence,
    /// One value per line (JSON lines).
    Lines,
    /// The records are over; what is left of the document must close `enclosing` objects.
    Rest { enclosing: usize },
}

/// Why scanning stopped short.
#[derive(Debug)]
enum Stop {
    Io(io::Error),
    /// The file ends inside a value.
    Truncated,
    /// Broken structure: the rest cannot be split into values.
    Syntax(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Truncated => f.write_str("the file ends in the middle of a JSON value"),
            Self::Syntax(detail) => f.write_str(detail),
        }
    }
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<Stop> for FormatError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Io(e) => Self::Io(e),
            other => Self::InvalidJson(other.to_string()),
        }
    }
}

/// One record's text, or what is known of it when it was too large to keep.
struct Captured {
    tracker: Tracker,
    /// Bytes of the record, kept or not.
    raw: usize,
    /// The text passed [`Limits::max_row_bytes`] and was dropped.
    over: bool,
}

impl JsonReader {
    /// Checks the start of the file and moves to the first record.
    pub(super) fn open(file: File, lines: bool, opts: &ReadOptions) -> Result<Self, FormatError> {
        let size = file.metadata()?.len();
        let mut input = Input::new(file);
        let head = input.available()?;
        if head.starts_with(UTF8_BOM) {
            input.consume(UTF8_BOM.len());
        } else if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(FormatError::InvalidJson("the text is UTF-16; JSON must be UTF-8".into()));
        } else if head[..head.len().min(BINARY_PROBE)].contains(&0) {
            return Err(FormatError::Binary);
        }
        let first = input.skip_ws()?.ok_or(FormatError::Empty)?;
        if first != b'{' && first != b'[' {
            return Err(FormatError::InvalidJson(format!("it starts with {} rather than {{ or [", shown(first))));
        }
        let path = opts.records.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let layout = match (lines, first, path) {
            (true, _, _) => Layout::Lines,
            (false, b'[', None) => {
                input.consume(1);
                Layout::Array { enclosing: 0, first: true }
            }
            (false, b'[', Some(path)) => {
                return Err(FormatError::RecordsNotFound(format!(
                    "the file is an array, so it has no {path:?} to find the records at"
                )));
            }
            (false, _, Some(path)) => navigate(&mut input, path)?,
            (false, _, None) => {
                let start = input.offset();
                let lines = one_object_per_line(&mut input)?;
                input.rewind(start)?;
                if lines {
                    Layout::Lines
                } else {
                    match find_envelope_array(&mut input)? {
                        Some(layout) => layout,
                        None => {
                            input.rewind(start)?;
                            Layout::Sequence
                        }
                    }
                }
            }
        };
        Ok(Self {
            input,
            size,
            layout,
            table: Table::default(),
            pending: None,
            records: 0,
            text: Vec::new(),
            limits: opts.limits.clone(),
            done: false,
        })
    }

    pub(super) fn progress(&self) -> Progress {
        Progress { done: self.input.offset(), total: self.size }
    }

    /// Reads the next record's text into `text`; `None` when the records are over. An error
    /// comes with the line to report it at.
    fn read_record(&mut self) -> Result<Option<Captured>, (Stop, u64)> {
        // Between records, an error is reported at the record that would have come next.
        let between = self.records + 2;
        loop {
            match self.layout {
                Layout::Array { enclosing, first } => {
                    let at = |stop| (stop, between);
                    let mut next = self.input.skip_ws().map_err(|e| at(e.into()))?.ok_or(at(Stop::Truncated))?;
                    if !first && next == b',' {
                        self.input.consume(1);
                        next = self.input.skip_ws().map_err(|e| at(e.into()))?.ok_or(at(Stop::Truncated))?;
                    } else if !first && next != b']' {
                        let detail = format!("expected , or ] after a record, found {}", shown(next));
                        return Err(at(Stop::Syntax(detail)));
                    }
                    if next == b']' {
                        // A trailing comma before `]` is forgiven.
                        self.input.consume(1);
                        self.layout = Layout::Rest { enclosing };
                        continue;
                    }
                    self.layout = Layout::Array { enclosing, first: false };
                    return self.capture_value().map(Some);
                }
                Layout::Sequence => {
                    return match self.input.skip_ws() {
                        Ok(Some(_)) => self.capture_value().map(Some),
                        Ok(None) => Ok(None),
                        Err(e) => Err((e.into(), between)),
                    };
                }
                Layout::Lines => {
                    return match self.input.skip_ws() {
                        Ok(Some(_)) => self.capture_line().map(Some),
                        Ok(None) => Ok(None),
                        Err(e) => Err((e.into(), between)),
                    };
                }
                Layout::Rest { enclosing } => {
                    return check_rest(&mut self.input, enclosing).map(|()| None).map_err(|stop| (stop, between));
                }
            }
        }
    }

    /// Captures the value that starts at the next byte.
    fn capture_value(&mut self) -> Result<Captured, (Stop, u64)> {
        self.records += 1;
        self.text.clear();
        let mut captured = Captured { tracker: Tracker::default(), raw: 0, over: false };
        let (text, cap) = (&mut self.text, self.limits.max_row_bytes);
        scan(&mut self.input, &mut captured.tracker, |bytes| {
            keep(text, cap, &mut captured.raw, &mut captured.over, bytes)
        })
        .map_err(|stop| (stop, self.records + 1))?;
        Ok(captured)
    }

    /// Captures the line that starts at the next byte, without its line break.
    fn capture_line(&mut self) -> Result<Captured, (Stop, u64)> {
        self.records += 1;
        self.text.clear();
        let mut captured = Captured { tracker: Tracker::default(), raw: 0, over: false };
        // The tracker only gathers sizes here; serde_json judges the line.
        let mut tracking = true;
        loop {
            let avail = self.input.available().map_err(|e| (e.into(), self.records + 1))?;
            if avail.is_empty() {
                break;
            }
            let (part, end) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], true),
                None => (avail, false),
            };
            if tracking {
                tracking = matches!(captured.tracker.feed(part), Feed::More);
            }
            keep(&mut self.text, self.limits.max_row_bytes, &mut captured.raw, &mut captured.over, part);
            let used = part.len() + usize::from(end);
            self.input.consume(used);
            if end {
                break;
            }
        }
        Ok(captured)
    }

    /// The row for a captured record: the header row first if it is the first record, `None`
    /// for a blank record.
    fn rows(&mut self, line: u64, captured: &Captured) -> (Option<RawRow>, Option<Item>) {
        let limits = &self.limits;
        let error = |kind| (None, Some(Err(RowError { line, kind })));
        let tracker = &captured.tracker;
        if captured.over {
            // Sizes from the scan: close enough to tell the clerk what is wrong.
            self.text.clear();
            self.text.shrink_to(CHUNK);
            return error(if tracker.longest_string > limits.max_cell_bytes {
                RowErrorKind::CellTooLarge { bytes: tracker.longest_string, limit: limits.max_cell_bytes }
            } else if tracker.members > limits.max_row_cells {
                RowErrorKind::TooManyCells { cells: tracker.members, limit: limits.max_row_cells }
            } else {
                RowErrorKind::RowTooLarge { bytes: captured.raw, limit: limits.max_row_bytes }
            });
        }
        if tracker.deepest > MAX_NESTING {
            return error(RowErrorKind::Malformed(format!("record nested more than {MAX_NESTING} levels deep")));
        }
        if tracker.members > limits.max_row_cells {
            return error(RowErrorKind::TooManyCells { cells: tracker.members, limit: limits.max_row_cells });
        }
        let Ok(text) = std::str::from_utf8(&self.text) else {
            return error(RowErrorKind::BadEncoding);
        };
        let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if let Err(e) = serde_json::from_str::<IgnoredAny>(text) {
            return error(RowErrorKind::Malformed(format!("record is not valid JSON: {e}")));
        }
        let not_an_object = match text.as_bytes().first() {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b't' | b'f') => Some("a boolean"),
            Some(b'n') => Some("null"),
            _ => Some("a number"),
        };
        if let Some(what) = not_an_object {
            return error(RowErrorKind::Malformed(format!("record is {what}, not an object")));
        }
        let fields = match members(text) {
            Ok(fields) => fields,
            Err(kind) => return error(kind),
        };
        let mut bytes: usize = 0;
        for (key, value) in &fields {
            // A key is a cell of the header row.
            let longest = value.len().max(key.len());
            if longest > limits.max_cell_bytes {
                return error(RowErrorKind::CellTooLarge { bytes: longest, limit: limits.max_cell_bytes });
            }
            bytes = bytes.saturating_add(value.len());
        }
        if bytes > limits.max_row_bytes {
            return error(RowErrorKind::RowTooLarge { bytes, limit: limits.max_row_bytes });
        }
        self.table.rows(line, fields)
    }
}

impl Iterator for JsonReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(item) = self.pending.take() {
            return Some(item);
        }
        while !self.done {
            match self.read_record() {
                Ok(Some(captured)) => {
                    let line = self.records + 1;
                    match self.rows(line, &captured) {
                        (Some(header), item) => {
                            self.pending = item;
                            return Some(Ok(header));
                        }
                        (None, Some(item)) => return Some(item),
                        (None, None) => {}
                    }
                }
                Ok(None) => self.done = true,
                Err((stop, line)) => {
                    self.done = true;
                    return Some(Err(RowError { line, kind: RowErrorKind::Unreadable(stop.to_string()) }));
                }
            }
        }
        None
    }
}

/// Adds `bytes` to the record's text while it stays within `cap`; past it, drops the text.
fn keep(text: &mut Vec<u8>, cap: usize, raw: &mut usize, over: &mut bool, bytes: &[u8]) {
    *raw = raw.saturating_add(bytes.len());
    if *over {
        return;
    }
    if *raw > cap {
        *over = true;
        text.clear();
    } else {
        text.extend_from_slice(bytes);
    }
}

/// Feeds the value starting at the next byte to `tracker` until it ends, passing its bytes to
/// `keep`. A bare scalar (`5`, `true`) may end with the file.
fn scan(input: &mut Input, tracker: &mut Tracker, mut keep: impl FnMut(&[u8])) -> Result<(), Stop> {
    loop {
        let avail = input.available()?;
        if avail.is_empty() {
            return if tracker.scalar { Ok(()) } else { Err(Stop::Truncated) };
        }
        match tracker.feed(avail) {
            Feed::Done(n) => {
                keep(&avail[..n]);
                input.consume(n);
                return Ok(());
            }
            Feed::More => {
                let n = avail.len();
                keep(avail);
                input.consume(n);
            }
            Feed::Error(detail) => return Err(Stop::Syntax(detail)),
        }
    }
}

/// Follows a dotted path of keys from the top-level object to the array of records.
fn navigate(input: &mut Input, path: &str) -> Result<Layout, FormatError> {
    let segments: Vec<&str> = path.split('.').collect();
    for (n, segment) in segments.iter().enumerate() {
        let here = if n == 0 { "the top level".to_owned() } else { segments[..n].join(".") };
        if input.skip_ws()? != Some(b'{') {
            return Err(FormatError::RecordsNotFound(format!("{here} is not an object, so it has no key {segment:?}")));
        }
        input.consume(1);
        if !find_key(input, segment)? {
            return Err(FormatError::RecordsNotFound(format!("{here} has no key {segment:?}")));
        }
    }
    if input.skip_ws()? != Some(b'[') {
        return Err(FormatError::RecordsNotFound(format!("{path} is not an array")));
    }
    input.consume(1);
    Ok(Layout::Array { enclosing: segments.len(), first: true })
}

/// Inside an object, just after `{`: moves to the value of `wanted`, or past the object's end
/// if it has no such key.
fn find_key(input: &mut Input, wanted: &str) -> Result<bool, Stop> {
    loop {
        match input.skip_ws()?.ok_or(Stop::Truncated)? {
            b'}' => {
                input.consume(1);
                return Ok(false);
            }
            b',' => input.consume(1),
            b'"' => {
                let (mut key, mut raw, mut over) = (Vec::new(), 0, false);
                scan(input, &mut Tracker::default(), |bytes| keep(&mut key, MAX_KEY, &mut raw, &mut over, bytes))?;
                expect_colon(input)?;
                let matches = !over && serde_json::from_slice::<String>(&key).is_ok_and(|key| key == wanted);
                if matches {
                    return Ok(true);
                }
                input.skip_ws()?.ok_or(Stop::Truncated)?;
                scan(input, &mut Tracker::default(), |_| {})?;
            }
            other => return Err(Stop::Syntax(format!("expected a key, found {}", shown(other)))),
        }
    }
}

/// After a key: skips the `:` and the whitespace around it.
fn expect_colon(input: &mut Input) -> Result<(), Stop> {
    match input.skip_ws()?.ok_or(Stop::Truncated)? {
        b':' => {
            input.consume(1);
            input.skip_ws()?.ok_or(Stop::Truncated)?;
            Ok(())
        }
        other => Err(Stop::Syntax(format!("expected : after a key, found {}", shown(other)))),
    }
}

/// Whether the document starting at `{` holds a whole value on its first line and another value
/// after it: JSON lines in a `.json` file. Leaves the input anywhere; the caller rewinds.
fn one_object_per_line(input: &mut Input) -> io::Result<bool> {
    let mut tracker = Tracker::default();
    loop {
        let avail = input.available()?;
        if avail.is_empty() {
            return Ok(false);
        }
        let (part, newline) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], true),
            None => (avail, false),
        };
        match tracker.feed(part) {
            Feed::Done(n) => {
                input.consume(n);
                return Ok(input.skip_ws()?.is_some());
            }
            Feed::More if !newline => {
                let n = part.len();
                input.consume(n);
            }
            Feed::More | Feed::Error(_) => return Ok(false),
        }
    }
}

/// At the top-level `{`: walks the members to the first array whose first element is an object,
/// and stops just inside it. `None` if there is no array member at all; an empty array member
/// found but no array of objects means no records.
fn find_envelope_array(input: &mut Input) -> Result<Option<Layout>, Stop> {
    if input.skip_ws()? != Some(b'{') {
        return Err(Stop::Syntax("expected {".into()));
    }
    input.consume(1);
    let mut saw_empty = false;
    loop {
        match input.skip_ws()?.ok_or(Stop::Truncated)? {
            b'}' => {
                input.consume(1);
                return Ok(saw_empty.then_some(Layout::Rest { enclosing: 0 }));
            }
            b',' => input.consume(1),
            b'"' => {
                scan(input, &mut Tracker::default(), |_| {})?;
                expect_colon(input)?;
                if input.skip_ws()? != Some(b'[') {
                    scan(input, &mut Tracker::default(), |_| {})?;
                    continue;
                }
                input.consume(1);
                match input.skip_ws()?.ok_or(Stop::Truncated)? {
                    b'{' => return Ok(Some(Layout::Array { enclosing: 1, first: true })),
                    b']' => {
                        input.consume(1);
                        saw_empty = true;
                    }
                    _ => scan(input, &mut Tracker::inside(b'[', 1), |_| {})?,
                }
            }
            other => return Err(Stop::Syntax(format!("expected a key, found {}", shown(other)))),
        }
    }
}

/// After the records: the document must close its `enclosing` objects and end.
fn check_rest(input: &mut Input, enclosing: usize) -> Result<(), Stop> {
    if enclosing > 0 {
        scan(input, &mut Tracker::inside(b'{', enclosing), |_| {})?;
    }
    match input.skip_ws()? {
        None => Ok(()),
        Some(b) => Err(Stop::Syntax(format!("{} after the end of the JSON document", shown(b)))),
    }
}

/// The members of a record object that serde_json has checked, values as cell text.
fn members(text: &str) -> Result<Fields<'_>, RowErrorKind> {
    let bytes = text.as_bytes();
    let lost = || RowErrorKind::Malformed("record could not be split into its members".into());
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let mut i = 1; // after `{`
    loop {
        i = skip_ws(i);
        match bytes.get(i) {
            Some(b'}') => return Ok(out),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return Err(lost()),
        }
        let key_end = value_end(bytes, i).ok_or_else(lost)?;
        let key = string(text.get(i..key_end).ok_or_else(lost)?)?;
        i = skip_ws(key_end);
        if bytes.get(i) != Some(&b':') {
            return Err(lost());
        }
        i = skip_ws(i + 1);
        let end = value_end(bytes, i).ok_or_else(lost)?;
        let raw = text.get(i..end).ok_or_else(lost)?;
        let value = match raw.as_bytes().first() {
            Some(b'"') => string(raw)?,
            Some(b'{' | b'[') => Cow::Owned(compact(raw)),
            _ if raw == "null" => Cow::Borrowed(""),
            // Numbers and booleans as written.
            _ => Cow::Borrowed(raw),
        };
        out.push((key, value));
        i = end;
    }
}

/// Where the value starting at `start` ends.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut tracker = Tracker::default();
    match tracker.feed(bytes.get(start..)?) {
        Feed::Done(n) => Some(start + n),
        Feed::More if tracker.scalar => Some(bytes.len()),
        Feed::More | Feed::Error(_) => None,
    }
}

/// The text of a JSON string literal, quotes included.
fn string(literal: &str) -> Result<Cow<'_, str>, RowErrorKind> {
    if !literal.contains('\\') {
        if let Some(inner) = literal.get(1..literal.len().saturating_sub(1)) {
            return Ok(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str::<String>(literal)
        .map(Cow::Owned)
        .map_err(|e| RowErrorKind::Malformed(format!("bad string: {e}")))
}

/// A nested value's text without the whitespace between tokens; numbers stay as written.
fn compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escape) = (false, false);
    for c in raw.chars() {
        if in_string {
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        out.push(c);
    }
    out
}

/// A byte for a message: `'x'`, or its value if it is not printable ASCII.
fn shown(b: u8) -> String {
    if b.is_ascii_graphic() { format!("'{}'", char::from(b)) } else { format!("byte 0x{b:02X}") }
}

/// Finds where a value ends by counting brackets outside strings, and gathers its sizes.
#[derive(Debug, Default)]
struct Tracker {
    depth: usize,
    /// Open brackets, at most [`MAX_NESTING`]: deeper ones are counted, not checked.
    stack: Vec<u8>,
    in_string: bool,
    escape: bool,
    /// The value is a bare scalar; it ends at a delimiter or with the input.
    scalar: bool,
    string_len: usize,
    /// Deepest nesting seen.
    deepest: usize,
    /// Longest string, raw bytes between its quotes.
    longest_string: usize,
    /// Members of the outermost object: `:` at depth 1.
    members: usize,
}

enum Feed {
    /// The value ends after this many of the bytes fed.
    Done(usize),
    /// All the bytes belong to the value, and it goes on.
    More,
    Error(String),
}

impl Tracker {
    /// A tracker already inside `depth` containers opened by `open`.
    fn inside(open: u8, depth: usize) -> Self {
        Self { depth, stack: vec![open; depth.min(MAX_NESTING)], deepest: depth, ..Self::default() }
    }

    fn feed(&mut self, bytes: &[u8]) -> Feed {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    self.string_len += 1;
                    i += 1;
                    continue;
                }
                // Runs of plain characters are skipped in one go.
                let run = bytes[i..].iter().position(|&b| b == b'"' || b == b'\\').unwrap_or(bytes.len() - i);
                self.string_len += run;
                i += run;
                match bytes.get(i) {
                    Some(b'\\') => {
                        self.escape = true;
                        self.string_len += 1;
                    }
                    Some(_) => {
                        self.in_string = false;
                        self.longest_string = self.longest_string.max(self.string_len);
                        if self.depth == 0 {
                            return Feed::Done(i + 1);
                        }
                    }
                    None => return Feed::More,
                }
                i += 1;
                continue;
            }
            let b = bytes[i];
            if self.scalar {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b'[' | b'{' | b'"' | b':') {
                    return Feed::Done(i);
                }
                i += 1;
                continue;
            }
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    self.in_string = true;
                    self.string_len = 0;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth <= MAX_NESTING {
                        self.stack.push(b);
                    }
                    self.deepest = self.deepest.max(self.depth);
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        return Feed::Error(format!("unexpected {}", shown(b)));
                    }
                    if self.depth <= MAX_NESTING {
                        let opener = if b == b'}' { b'{' } else { b'[' };
                        if self.stack.pop() != Some(opener) {
                            return Feed::Error(format!("unexpected {}: brackets do not match", shown(b)));
                        }
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Feed::Done(i + 1);
                    }
                }
                b':' if self.depth == 1 => self.members += 1,
                b',' | b':' if self.depth == 0 => return Feed::Error(format!("unexpected {}", shown(b))),
                _ if self.depth == 0 => self.scalar = true,
                _ => {}
            }
            i += 1;
        }
        Feed::More
    }
}

/// The file through a read buffer, with its position for progress and rewinding.
struct Input {
    file: File,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// File offset of `buf[0]`.
    base: u64,
}

impl Input {
    fn new(file: File) -> Self {
        Self { file, buf: vec![0; CHUNK].into_boxed_slice(), pos: 0, len: 0, base: 0 }
    }

    /// The unread bytes in the buffer, refilled when it is used up; empty at the end.
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            self.base += self.len as u64;
            self.pos = 0;
            self.len = 0;
            self.len = loop {
                match self.file.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
        }
        Ok(&self.buf[self.pos..self.len])
    }

    /// Consumes bytes [`Self::available`] or [`Self::skip_ws`] has shown.
    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.len);
    }

    /// File offset of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn rewind(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        (self.base, self.pos, self.len) = (offset, 0, 0);
        Ok(())
    }

    /// Skips whitespace; the next byte, not consumed, or `None` at the end of the file.
    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let avail = self.available()?;
            if avail.is_empty() {
                return Ok(None);
            }
            match avail.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                Some(i) => {
                    let b = avail[i];
                    self.consume(i);
                    return Ok(Some(b));
                }
                None => {
                    let n = avail.len();
                    self.consume(n);
                }
            }
        }
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

    fn reader_with(name: &str, bytes: &[u8], opts: &ReadOptions) -> (tempfile::TempDir, RowReader) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, name, bytes);
        let reader = open(&path, opts).expect("open");
        assert_eq!(reader.kind(), FileKind::Json);
        (dir, reader)
    }

    fn open_err(name: &str, bytes: &[u8], opts: &ReadOptions) -> FormatError {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, name, bytes);
        open(&path, opts).expect_err("open should fail")
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

    fn read_as(name: &str, text: &str) -> Vec<Line> {
        items(reader_with(name, text.as_bytes(), &ReadOptions::default()).1)
    }

    fn read(text: &str) -> Vec<Line> {
        read_as("data.json", text)
    }

    fn with_records(path: &str) -> ReadOptions {
        ReadOptions { records: Some(path.into()), ..ReadOptions::default() }
    }

    fn malformed(line: &Line) -> bool {
        matches!(line.1, Err(RowErrorKind::Malformed(_)))
    }

    #[test]
    fn top_level_array() {
        let rows = read(
            r#"[
              {"统一社会信用代码": "91110000100000000X", "名称": "北京某公司"},
              {"统一社会信用代码": "91110000100000001X", "名称": "天津某公司"}
            ]"#,
        );
        assert_eq!(
            rows,
            [
                row(1, &["统一社会信用代码", "名称"]),
                row(2, &["91110000100000000X", "北京某公司"]),
                row(3, &["91110000100000001X", "天津某公司"])
            ]
        );
    }

    #[test]
    fn records_at_a_dotted_path() {
        let text = r#"{"code": 0, "meta": {"items": "not these"}, "data": {"total": 2, "items": [
            {"a": 1}, {"a": 2}], "page": {"n": [1, 2]}}, "msg": "ok"}"#;
        let (_dir, reader) = reader_with("data.json", text.as_bytes(), &with_records("data.items"));
        assert_eq!(items(reader), [row(1, &["a"]), row(2, &["1"]), row(3, &["2"])]);
    }

    #[test]
    fn records_path_that_is_not_there() {
        let text = br#"{"data": {"rows": []}}"#;
        let err = open_err("data.json", text, &with_records("data.items"));
        assert!(matches!(&err, FormatError::RecordsNotFound(d) if d.contains("\"items\"")), "{err}");
        assert!(err.zh().starts_with("文件中找不到数据记录"));
        let err = open_err("data.json", br#"{"data": {"items": 5}}"#, &with_records("data.items"));
        assert!(matches!(err, FormatError::RecordsNotFound(_)), "{err}");
        let err = open_err("data.json", b"[]", &with_records("data"));
        assert!(matches!(err, FormatError::RecordsNotFound(_)), "{err}");
    }

    #[test]
    fn envelope_is_found_without_a_path() {
        let rows = read(r#"{"code": 0, "tags": ["x"], "empty": [], "data": [{"名称": "甲"}, {"名称": "乙"}], "n": 2}"#);
        assert_eq!(rows, [row(1, &["名称"]), row(2, &["甲"]), row(3, &["乙"])]);
    }

    #[test]
    fn envelope_with_an_empty_array_has_no_records() {
        assert_eq!(read(r#"{"code": 0, "data": []}"#), []);
        assert_eq!(read("[]"), []);
        assert_eq!(read(" [ ] \n"), []);
    }

    #[test]
    fn object_without_arrays_is_one_record() {
        let rows = read("{\n  \"code\": 500,\n  \"msg\": \"error\"\n}\n");
        assert_eq!(rows, [row(1, &["code", "msg"]), row(2, &["500", "error"])]);
    }

    #[test]
    fn json_lines() {
        let text = "{\"a\": 1, \"b\": \"x\"}\n\n{\"a\": 2, \"b\": \"y\"}\r\n{\"a\": 3}\n";
        let expected = [row(1, &["a", "b"]), row(2, &["1", "x"]), row(3, &["2", "y"]), row(4, &["3", ""])];
        assert_eq!(read_as("data.jsonl", text), expected);
        assert_eq!(read_as("data.ndjson", text), expected);
        // The same in a .json file: the first line holds a whole object with more after it.
        assert_eq!(read_as("data.json", text), expected);
        // Even when the objects have arrays of objects in them.
        let text = "{\"a\": [{\"x\": 1}]}\n{\"a\": []}\n";
        assert_eq!(read(text), [row(1, &["a"]), row(2, &[r#"[{"x":1}]"#]), row(3, &["[]"])]);
    }

    #[test]
    fn bad_json_line_spoils_only_its_record() {
        let text = "{\"a\": 1}\n{\"a\": [1}\n{\"a\": \"unclosed}\n{\"a\": 4}\n";
        let rows = read_as("data.jsonl", text);
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert_eq!(rows[1], row(2, &["1"]));
        assert!(malformed(&rows[2]) && rows[2].0 == 3, "{rows:?}");
        assert!(malformed(&rows[3]) && rows[3].0 == 4, "{rows:?}");
        assert_eq!(rows[4], row(5, &["4"]));
    }

    #[test]
    fn values_keep_their_text() {
        let rows = read(
            r#"[{"金额": 1.50, "大数": 12345678901234567890123, "指数": 1E+5, "负零": -0,
                 "真": true, "假": false, "空": null, "文本": "a\"b\\c\u4e2d\n",
                 "嵌套": {"x": [1.50, "a b", {"y": null}] , "z" : {} }}]"#,
        );
        assert_eq!(rows[0], row(1, &["金额", "大数", "指数", "负零", "真", "假", "空", "文本", "嵌套"]));
        assert_eq!(
            rows[1],
            row(
                2,
                &[
                    "1.50",
                    "12345678901234567890123",
                    "1E+5",
                    "-0",
                    "true",
                    "false",
                    "",
                    "a\"b\\c中\n",
                    r#"{"x":[1.50,"a b",{"y":null}],"z":{}}"#
                ]
            )
        );
    }

    #[test]
    fn missing_and_extra_keys() {
        let rows = read(
            r#"[{"a": 1, "b": 2, "c": 3}, {"c": "C", "a": "A"}, {"a": 5, "d": "ignored"}, {"d": 1, "e": 2}, {}, {"a": null}]"#,
        );
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert_eq!(
            rows[..4],
            [row(1, &["a", "b", "c"]), row(2, &["1", "2", "3"]), row(3, &["A", "", "C"]), row(4, &["5", "", ""])]
        );
        // Nothing in common with the header: an error rather than a silently empty row.
        assert!(matches!(&rows[4], (5, Err(RowErrorKind::Malformed(d))) if d.contains("d, e")), "{rows:?}");
        // `{}` and `{"a": null}` are blank records, skipped like blank rows.
    }

    #[test]
    fn repeated_key_keeps_the_last_value() {
        assert_eq!(read(r#"[{"a": 1, "b": 2, "a": 3}]"#), [row(1, &["a", "b"]), row(2, &["3", "2"])]);
    }

    #[test]
    fn non_object_record_is_an_error_and_reading_goes_on() {
        let rows = read(r#"[{"a": 1}, 5, "x", [1, 2], null, {"a": 2}, tru, {"a": 3}]"#);
        assert_eq!(rows.len(), 9, "{rows:?}");
        assert_eq!(rows[..2], [row(1, &["a"]), row(2, &["1"])]);
        assert!(matches!(&rows[2], (3, Err(RowErrorKind::Malformed(d))) if d == "record is a number, not an object"));
        assert!(matches!(&rows[3], (4, Err(RowErrorKind::Malformed(d))) if d.contains("a string")));
        assert!(matches!(&rows[4], (5, Err(RowErrorKind::Malformed(d))) if d.contains("an array")));
        assert!(matches!(&rows[5], (6, Err(RowErrorKind::Malformed(d))) if d.contains("null")));
        assert_eq!(rows[6], row(7, &["2"]));
        assert!(malformed(&rows[7]) && rows[7].0 == 8);
        assert_eq!(rows[8], row(9, &["3"]));
    }

    #[test]
    fn first_record_bad_then_header_from_the_next() {
        let rows = read(r#"[7, {"a": 1}]"#);
        assert!(malformed(&rows[0]) && rows[0].0 == 2);
        assert_eq!(rows[1..], [row(1, &["a"]), row(3, &["1"])]);
    }

    #[test]
    fn invalid_json_inside_a_record_spoils_only_that_record() {
        let rows = read(r#"[{"a": 1}, {"a" 2}, {"a": 01}, {"a": 3}]"#);
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert!(malformed(&rows[2]) && malformed(&rows[3]), "{rows:?}");
        assert_eq!(rows[4], row(5, &["3"]));
    }

    #[test]
    fn truncated_file_is_unreadable_after_the_good_records() {
        let rows = read(r#"{"data": [{"a": 1}, {"a": 2}, {"a": "three", "b"#);
        assert_eq!(rows[..3], [row(1, &["a"]), row(2, &["1"]), row(3, &["2"])]);
        assert!(matches!(&rows[3], (4, Err(RowErrorKind::Unreadable(_)))), "{rows:?}");
        assert_eq!(rows.len(), 4);
        // Cut between records, and after the array.
        let rows = read(r#"[{"a": 1},"#);
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
        let rows = read(r#"{"data": [{"a": 1}], "more": {"x": "#);
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
        let rows = read(r#"[{"a": 1}] x"#);
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
    }

    #[test]
    fn mismatched_brackets_end_the_stream() {
        let rows = read(r#"[{"a": 1}, {"a": [1}, {"a": 2}]"#);
        assert!(matches!(rows[..], [_, _, (3, Err(RowErrorKind::Unreadable(_)))]), "{rows:?}");
    }

    #[test]
    fn cell_of_10_mb_is_an_error_then_reading_continues() {
        let mut text = br#"[{"a": "1", "b": "2"}, {"a": "1", "b": ""#.to_vec();
        text.resize(text.len() + (10 << 20), b'x');
        text.extend_from_slice(br#""}, {"a": "3", "b": "ok"}]"#);
        let (_dir, reader) = reader_with("data.json", &text, &ReadOptions::default());
        assert_eq!(
            items(reader),
            [
                row(1, &["a", "b"]),
                row(2, &["1", "2"]),
                (3, Err(RowErrorKind::CellTooLarge { bytes: 10 << 20, limit: 128 << 10 })),
                row(4, &["3", "ok"])
            ]
        );
    }

    #[test]
    fn cell_over_the_limit_but_within_the_row_is_measured_exactly() {
        let limits = Limits { max_cell_bytes: 10, max_row_bytes: 1000, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let text = r#"[{"a": "0123456789A"}, {"a": "ok"}]"#;
        let (_dir, reader) = reader_with("data.json", text.as_bytes(), &opts);
        assert_eq!(
            items(reader),
            [(2, Err(RowErrorKind::CellTooLarge { bytes: 11, limit: 10 })), row(1, &["a"]), row(3, &["ok"])]
        );
    }

    #[test]
    fn key_over_the_cell_limit_is_a_cell_too_large() {
        let limits = Limits { max_cell_bytes: 10, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let text = r#"[{"0123456789AB": "1"}, {"a": "ok"}]"#;
        let (_dir, reader) = reader_with("data.json", text.as_bytes(), &opts);
        assert_eq!(
            items(reader),
            [(2, Err(RowErrorKind::CellTooLarge { bytes: 12, limit: 10 })), row(1, &["a"]), row(3, &["ok"])]
        );
    }

    #[test]
    fn long_row_and_many_cells() {
        let limits = Limits { max_row_bytes: 100, max_row_cells: 3, ..Limits::default() };
        let opts = ReadOptions { limits, ..ReadOptions::default() };
        let long = "y".repeat(40);
        let text = format!(
            r#"[{{"a": 1}}, {{"a": "{long}", "b": "{long}", "c": "{long}"}}, {{"a": 1, "b": 2, "c": 3, "d": 4}}, {{"a": 2}}]"#
        );
        let (_dir, reader) = reader_with("data.json", text.as_bytes(), &opts);
        let rows = items(reader);
        assert!(matches!(rows[2], (3, Err(RowErrorKind::RowTooLarge { limit: 100, .. }))), "{rows:?}");
        assert_eq!(rows[3], (4, Err(RowErrorKind::TooManyCells { cells: 4, limit: 3 })));
        assert_eq!(rows[4], row(5, &["2"]));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let depth = 200_000;
        let mut text = br#"[{"a": 1}, {"a": "#.to_vec();
        text.extend(std::iter::repeat_n(b'[', depth));
        text.extend(std::iter::repeat_n(b']', depth));
        text.extend_from_slice(br#"}, {"a": 65}"#);
        let mut just_over = String::from(r#", {"a": "#);
        just_over.push_str(&"[".repeat(MAX_NESTING));
        just_over.push_str(&"]".repeat(MAX_NESTING));
        just_over.push_str(r#"}, {"a": "#);
        just_over.push_str(&"[".repeat(MAX_NESTING - 1));
        just_over.push_str(&"]".repeat(MAX_NESTING - 1));
        just_over.push_str("}]");
        text.extend_from_slice(just_over.as_bytes());
        let (_dir, reader) = reader_with("data.json", &text, &ReadOptions::default());
        let rows = items(reader);
        assert_eq!(rows.len(), 6, "{rows:?}");
        assert!(matches!(&rows[2], (3, Err(RowErrorKind::Malformed(d))) if d.contains("64 levels")), "{rows:?}");
        assert_eq!(rows[3], row(4, &["65"]));
        assert!(malformed(&rows[4]), "65 levels in all is too deep: {rows:?}");
        assert_eq!(rows[5].0, 6);
        assert!(rows[5].1.is_ok(), "64 levels is fine: {rows:?}");
        // Deep nesting on the way to the records, and in a JSON line.
        let mut text = br#"{"skip": "#.to_vec();
        text.extend(std::iter::repeat_n(b'[', depth));
        text.extend(std::iter::repeat_n(b']', depth));
        text.extend_from_slice(br#", "data": [{"a": 1}]}"#);
        let (_dir, reader) = reader_with("data.json", &text, &ReadOptions::default());
        assert_eq!(items(reader), [row(1, &["a"]), row(2, &["1"])]);
        let mut text = b"{\"a\": 1}\n{\"a\": ".to_vec();
        text.extend(std::iter::repeat_n(b'{', depth));
        text.extend_from_slice(b"\n{\"a\": 2}\n");
        let (_dir, reader) = reader_with("data.jsonl", &text, &ReadOptions::default());
        let rows = items(reader);
        assert!(rows.len() == 4 && malformed(&rows[2]) && rows[3] == row(4, &["2"]), "{rows:?}");
    }

    #[test]
    fn bom_is_skipped_and_other_starts_are_refused() {
        let rows = read("\u{feff}[{\"名称\": \"甲\"}]");
        assert_eq!(rows, [row(1, &["名称"]), row(2, &["甲"])]);
        let opts = ReadOptions::default();
        assert!(matches!(open_err("a.json", b"<html>", &opts), FormatError::InvalidJson(_)));
        assert!(matches!(open_err("a.json", b"\xFF\xFE[\0]\0", &opts), FormatError::InvalidJson(_)));
        assert!(matches!(open_err("a.json", b"[\0\0\0", &opts), FormatError::Binary));
        assert!(matches!(open_err("a.json", b"", &opts), FormatError::Empty));
        assert!(matches!(open_err("a.jsonl", b"  \n ", &opts), FormatError::Empty));
        let err = open_err("a.json", br#"{"a": [1, 2"#, &opts);
        assert!(matches!(err, FormatError::InvalidJson(_)), "{err}");
    }

    #[test]
    fn invalid_utf8_spoils_only_its_record() {
        let (_dir, reader) =
            reader_with("a.json", b"[{\"a\": \"\xe4\xb8\"}, {\"a\": \"ok\"}]", &ReadOptions::default());
        assert_eq!(items(reader), [(2, Err(RowErrorKind::BadEncoding)), row(1, &["a"]), row(3, &["ok"])]);
    }

    #[test]
    fn many_records_stream() {
        let path_dir = tempfile::tempdir().expect("tempdir");
        let path = path_dir.path().join("big.json");
        let mut file = io::BufWriter::new(File::create(&path).expect("create"));
        file.write_all(b"{\"code\":0,\"data\":[").expect("write");
        for i in 0..200_000 {
            let sep = if i == 0 { "" } else { "," };
            write!(file, "{sep}{{\"id\":{i},\"名称\":\"某某公司{i}\",\"金额\":{i}.50}}").expect("write");
        }
        file.write_all(b"]}").expect("write");
        drop(file);
        let size = std::fs::metadata(&path).expect("metadata").len();
        let mut reader = open(&path, &ReadOptions::default()).expect("open");
        assert_eq!(reader.progress().total, size);
        let mut count = 0;
        let mut last = RawRow::default();
        let mut row = RawRow::default();
        while let Some(item) = reader.read_into(&mut row) {
            item.expect("row");
            count += 1;
            std::mem::swap(&mut last, &mut row);
        }
        assert_eq!(count, 200_001);
        assert_eq!(
            last,
            RawRow { line: 200_001, cells: vec!["199999".into(), "某某公司199999".into(), "199999.50".into()] }
        );
        assert_eq!(reader.progress().done, size);
        assert_eq!(reader.encoding(), Some("UTF-8"));
        assert_eq!(reader.sheet(), None);
    }

    #[test]
    fn every_truncation_reads_without_panicking() {
        let text = r#"{"code": 0, "data": {"items": [{"a": "x\"y", "b": [1, {"c": null}]}, 5, {"a": 2.50}]}}"#;
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["t.json", "t.jsonl"] {
            for records in [None, Some("data.items")] {
                let opts = ReadOptions { records: records.map(String::from), ..ReadOptions::default() };
                for end in 1..=text.len() {
                    let path = write(&dir, name, &text.as_bytes()[..end]);
                    if let Ok(reader) = open(&path, &opts) {
                        let rows = items(reader);
                        let unreadable =
                            rows.iter().filter(|r| matches!(r.1, Err(RowErrorKind::Unreadable(_)))).count();
                        assert!(unreadable <= 1, "{name} {records:?} {end}: {rows:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn tracker_finds_value_ends() {
        for (text, end) in
            [(r#"{"a": "}"}, 1"#, 10), (r#""a\"b" x"#, 6), ("123 ", 3), ("true]", 4), (r#"[1, [2, {"x": "\\"}]] "#, 21)]
        {
            assert_eq!(value_end(text.as_bytes(), 0), Some(end), "{text}");
        }
        assert_eq!(value_end(b"[1, 2", 0), None);
        assert_eq!(value_end(b"[1}", 0), None);
    }
}
