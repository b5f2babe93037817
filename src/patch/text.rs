//! A text file as lines, keeping what a patch must not disturb: the BOM, each line's own ending
//! (LF or CRLF), and whether the last line ends with a newline. Lines borrow the file's bytes;
//! only lines a patch adds own their text (one allocation per file, not one per line).

use std::borrow::Cow;

use anyhow::{Result, bail};

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eol {
    Lf,
    Crlf,
    /// Only the last line may have none.
    None,
}

impl Eol {
    fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::Crlf => "\r\n",
            Eol::None => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextLine<'a> {
    pub text: Cow<'a, str>,
    pub eol: Eol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a> {
    pub bom: bool,
    pub lines: Vec<TextLine<'a>>,
    /// The ending new lines get: the file's most common one (LF for a file with none).
    pub eol: Eol,
}

/// Binary by git's rule: a NUL byte in the first 8000 bytes.
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

impl<'a> Text<'a> {
    pub(crate) fn empty() -> Text<'a> {
        Text { bom: false, lines: Vec::new(), eol: Eol::Lf }
    }

    /// Read file bytes as text; binary or non-UTF-8 content is an error saying which.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Text<'a>> {
        if is_binary(bytes) {
            bail!("it is a binary file; text patches cannot edit it (send a `write` operation instead)");
        }
        let (bom, body) = match bytes.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        let Ok(body) = std::str::from_utf8(body) else {
            bail!("it is not UTF-8 text; text patches cannot edit it");
        };
        // memchr finds the line ends many bytes at a time; most lines are short.
        let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', body.as_bytes()).count() + 1);
        let (mut lf, mut crlf) = (0usize, 0usize);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', body.as_bytes()) {
            let line = &body[start..end];
            let (text, eol) = match line.strip_suffix('\r') {
                Some(text) => {
                    crlf += 1;
                    (text, Eol::Crlf)
                }
                None => {
                    lf += 1;
                    (line, Eol::Lf)
                }
            };
            lines.push(TextLine { text: Cow::Borrowed(text), eol });
            start = end + 1;
        }
        if start < body.len() {
            lines.push(TextLine { text: Cow::Borrowed(&body[start..]), eol: Eol::None });
        }
        let eol = if crlf > lf { Eol::Crlf } else { Eol::Lf };
        Ok(Text { bom, lines, eol })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let len: usize = self.lines.iter().map(|l| l.text.len() + 2).sum();
        let mut out = Vec::with_capacity(len + 3);
        if self.bom {
            out.extend_from_slice(BOM);
        }
        for line in &self.lines {
            out.extend_from_slice(line.text.as_bytes());
            out.extend_from_slice(line.eol.as_str().as_bytes());
        }
        out
    }

    /// Whether the file ends with a newline (an empty file counts as ending with one).
    pub(crate) fn final_newline(&self) -> bool {
        self.lines.last().is_none_or(|l| l.eol != Eol::None)
    }

    /// A new line in this file's style.
    pub(crate) fn line(&self, text: Cow<'a, str>) -> TextLine<'a> {
        TextLine { text, eol: self.eol }
    }

    /// Give every line but the last an ending, and the last one an ending or not.
    pub(crate) fn set_final_newline(&mut self, yes: bool) {
        let eol = self.eol;
        let n = self.lines.len();
        for (i, line) in self.lines.iter_mut().enumerate() {
            if i + 1 < n || yes {
                if line.eol == Eol::None {
                    line.eol = eol;
                }
            } else {
                line.eol = Eol::None;
            }
        }
    }

    pub(crate) fn texts(&self) -> Vec<&str> {
        self.lines.iter().map(|l| l.text.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_endings_bom_and_final_newline() {
        for bytes in [&b""[..], b"a\nb\n", b"a\nb", b"a\r\nb\r\n", b"\xEF\xBB\xBFx\r\ny", b"mixed\r\nlf\n\n"] {
            let text = Text::decode(bytes).unwrap();
            assert_eq!(text.encode(), bytes, "{:?}", String::from_utf8_lossy(bytes));
        }
        let crlf = Text::decode(b"a\r\nb\r\nc\n").unwrap();
        assert_eq!(crlf.eol, Eol::Crlf);
        assert!(!Text::decode(b"a").unwrap().final_newline());
    }

    #[test]
    fn refuses_binary_and_non_utf8() {
        assert!(Text::decode(b"a\0b").unwrap_err().to_string().contains("binary"));
        assert!(Text::decode(b"caf\xE9\n").unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn final_newline_can_be_added_and_removed() {
        let mut t = Text::decode(b"a\r\nb").unwrap();
        t.set_final_newline(true);
        assert_eq!(t.encode(), b"a\r\nb\r\n");
        t.set_final_newline(false);
        assert_eq!(t.encode(), b"a\r\nb");
    }
}
