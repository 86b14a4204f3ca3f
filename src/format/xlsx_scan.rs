//! A lexical pass over one inflated workbook part that finds what calamine would have to hold
//! whole: quick-xml buffers each tag, text, comment, CDATA section or declaration entire, and
//! calamine gathers each cell's (and each shared string's) text into one `String`.
//!
//! The pass sees bytes, not a tree: it knows markup from text, quoted attribute values, comments,
//! CDATA, processing instructions and a DOCTYPE's internal subset, and whether it is inside a
//! `c` (cell) or `si` (shared string) element, whatever the namespace prefix. It stops at the
//! first event or cell over the limit, so a 1 GB cell costs the time to inflate the limit, not
//! the gigabyte.

use std::io::{self, Write};

/// What went over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Overrun {
    /// One cell or shared string: its XML, markup included.
    Cell,
    /// One tag, text, comment, CDATA section or declaration outside a cell.
    Event,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Text,
    /// Just after `<`.
    Open,
    /// In a tag's name; `close` for `</`.
    Name {
        close: bool,
    },
    /// In a tag after its name; `slash` when the last byte outside quotes was `/`.
    Attrs {
        close: bool,
        slash: bool,
    },
    Quoted {
        close: bool,
        quote: u8,
    },
    /// After `<!`: this many bytes of `--`, `[CDATA[` or `DOCTYPE` (the `word`, once chosen)
    /// matched so far.
    Bang {
        word: Option<usize>,
        matched: usize,
    },
    Comment,
    CData,
    /// `<!DOCTYPE`, with the depth of `[` brackets of its internal subset.
    Doctype {
        depth: usize,
    },
    /// `<?…?>`.
    Instruction,
}

pub(super) struct PartScan {
    limit: usize,
    state: State,
    /// Bytes of the event in progress.
    event: usize,
    /// Bytes since the open cell's start tag, `None` outside a cell.
    cell: Option<usize>,
    /// The local name of the tag in progress (after any prefix), up to three bytes.
    local: [u8; 3],
    local_len: usize,
    /// The last two bytes, for `-->`, `]]>` and `?>`.
    tail: [u8; 2],
    pub(super) overrun: Option<Overrun>,
    /// Cells and shared strings opened, empty ones (`<si/>`) included.
    pub(super) opened: u64,
}

impl PartScan {
    /// `limit`: the most bytes one event, or one cell's XML, may take.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            state: State::Text,
            event: 0,
            cell: None,
            local: [0; 3],
            local_len: 0,
            tail: [0; 2],
            overrun: None,
            opened: 0,
        }
    }

    fn step(&mut self, b: u8) {
        self.event += 1;
        let before = self.state;
        self.state = match self.state {
            State::Text if b == b'<' => {
                self.event = 1;
                State::Open
            }
            State::Text => State::Text,
            State::Open => match b {
                b'!' => State::Bang { word: None, matched: 0 },
                b'?' => State::Instruction,
                b'/' => self.name_start(true),
                _ => {
                    self.name_start(false);
                    self.name_byte(b, false)
                }
            },
            State::Name { close } => self.name_byte(b, close),
            State::Attrs { close, slash } => match b {
                b'"' | b'\'' => State::Quoted { close, quote: b },
                b'>' => self.tag_end(close, slash),
                b'/' => State::Attrs { close, slash: true },
                _ => State::Attrs { close, slash: slash && b.is_ascii_whitespace() },
            },
            State::Quoted { close, quote } if b == quote => State::Attrs { close, slash: false },
            quoted @ State::Quoted { .. } => quoted,
            State::Bang { word, matched } => bang(word, matched, b),
            State::Comment if b == b'>' && self.tail == *b"--" => self.event_end(),
            State::CData if b == b'>' && self.tail == *b"]]" => self.event_end(),
            State::Instruction if b == b'>' && self.tail[1] == b'?' => self.event_end(),
            State::Doctype { depth } => match b {
                b'[' => State::Doctype { depth: depth + 1 },
                b']' => State::Doctype { depth: depth.saturating_sub(1) },
                b'>' if depth == 0 => self.event_end(),
                _ => State::Doctype { depth },
            },
            other @ (State::Comment | State::CData | State::Instruction) => other,
        };
        // The end marker of a comment, CDATA or instruction counts only after its start, as in
        // quick-xml: `<!-->` does not end the comment.
        let entered = matches!(self.state, State::Comment | State::CData | State::Instruction) && before != self.state;
        self.tail = if entered { [0; 2] } else { [self.tail[1], b] };
        if let Some(cell) = &mut self.cell {
            *cell += 1;
            if *cell > self.limit {
                self.overrun = Some(Overrun::Cell);
            }
        }
        if self.event > self.limit {
            self.overrun = Some(self.cell.map_or(Overrun::Event, |_| Overrun::Cell));
        }
    }

    fn name_start(&mut self, close: bool) -> State {
        self.local_len = 0;
        State::Name { close }
    }

    fn name_byte(&mut self, b: u8, close: bool) -> State {
        match b {
            b'>' => self.tag_end(close, false),
            b'/' => State::Attrs { close, slash: true },
            b if b.is_ascii_whitespace() => State::Attrs { close, slash: false },
            // A prefix: the local name starts again.
            b':' => {
                self.local_len = 0;
                State::Name { close }
            }
            b => {
                if let Some(slot) = self.local.get_mut(self.local_len) {
                    *slot = b;
                }
                self.local_len += 1;
                State::Name { close }
            }
        }
    }

    /// The end of a tag: a cell or shared string opens or closes.
    fn tag_end(&mut self, close: bool, self_closing: bool) -> State {
        let name = self.local.get(..self.local_len).unwrap_or_default();
        if name == b"c" || name == b"si" {
            if !close {
                self.opened += 1;
            }
            if close {
                self.cell = None;
            } else if !self_closing && self.cell.is_none() {
                // Counted from here on; the start tag was an event of its own.
                self.cell = Some(0);
            }
        }
        self.event_end()
    }

    fn event_end(&mut self) -> State {
        self.event = 0;
        State::Text
    }
}

/// After `<!`: a comment, a CDATA section, a DOCTYPE, or (unmatched) a tag-like declaration.
fn bang(word: Option<usize>, matched: usize, b: u8) -> State {
    const WORDS: [&[u8]; 3] = [b"--", b"[CDATA[", b"DOCTYPE"];
    // The first byte picks the word; the rest must follow it.
    let word = word.or_else(|| WORDS.iter().position(|w| w.first() == Some(&b.to_ascii_uppercase())));
    let Some((index, text)) = word.and_then(|i| WORDS.get(i).map(|w| (i, *w))) else {
        // Something quick-xml will refuse; read it as a tag to its `>`.
        return State::Attrs { close: false, slash: false };
    };
    if !text.get(matched).is_some_and(|w| w.eq_ignore_ascii_case(&b)) {
        return State::Attrs { close: false, slash: false };
    }
    if matched + 1 < text.len() {
        return State::Bang { word: Some(index), matched: matched + 1 };
    }
    match index {
        0 => State::Comment,
        1 => State::CData,
        _ => State::Doctype { depth: 0 },
    }
}

impl Write for PartScan {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            self.step(b);
            if self.overrun.is_some() {
                // Stops the copy: there is no need to inflate the rest.
                return Err(io::Error::other("workbook part over the limit"));
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(xml: &str, limit: usize) -> Option<Overrun> {
        let mut scan = PartScan::new(limit);
        let _ = scan.write_all(xml.as_bytes());
        scan.overrun
    }

    #[test]
    fn ordinary_sheet_passes() {
        let xml = r#"<?xml version="1.0"?><worksheet xmlns:x="u"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>名称</t></is></c><x:c r="B1"><x:v>1</x:v></x:c><c r="C1" s="1"/></row></sheetData></worksheet>"#;
        assert_eq!(scan(xml, 40), None);
    }

    #[test]
    fn long_text_in_a_cell_is_a_cell_overrun() {
        let xml = format!(r#"<row><c t="inlineStr"><is><t>{}</t></is></c></row>"#, "x".repeat(100));
        assert_eq!(scan(&xml, 64), Some(Overrun::Cell));
        assert_eq!(scan(&xml, 200), None);
    }

    #[test]
    fn many_short_runs_add_up_in_one_cell() {
        let runs = "<r><t>abcdefgh</t></r>".repeat(20);
        let xml = format!(r#"<c t="inlineStr"><is>{runs}</is></c><c><v>1</v></c>"#);
        assert_eq!(scan(&xml, 100), Some(Overrun::Cell));
        let sst = format!("<sst><si>{runs}</si></sst>");
        assert_eq!(scan(&sst, 100), Some(Overrun::Cell));
        let mut counted = PartScan::new(1000);
        counted.write_all(b"<sst><si><t>a</t></si><si/><x:si><x:t>b</x:t></x:si></sst>").expect("scan");
        assert_eq!(counted.opened, 3);
        assert_eq!(scan(&xml, 1000), None);
    }

    #[test]
    fn long_events_outside_cells_are_event_overruns() {
        let long = "y".repeat(100);
        for xml in [
            format!("<sheetData>{long}</sheetData>"),
            format!(r#"<row spans="{long}"></row>"#),
            format!("<!--{long}-->"),
            format!("<!-- <><a> {long} -->"),
            format!("<!--><a>{long}<a>-->"),
            format!("<![CDATA[<>{long}]]>"),
            format!("<!DOCTYPE x [<!ENTITY a '{long}'>]>"),
            format!("<?pi {long}?>"),
        ] {
            assert_eq!(scan(&xml, 64), Some(Overrun::Event), "{xml}");
            assert_eq!(scan(&xml, 200), None, "{xml}");
        }
    }

    #[test]
    fn quoted_gt_does_not_end_a_tag() {
        let xml = format!(r#"<row a=">{}"></row>"#, "z".repeat(100));
        assert_eq!(scan(&xml, 64), Some(Overrun::Event));
    }
}
