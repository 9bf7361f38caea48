//! A tiny XML writer for the MPDs: elements with escaped attributes, properly nested and
//! indented, so the manifest code reads as a tree instead of string soup.

use std::fmt::Write;

/// Escape text for an attribute value or character data.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Builds a document; [`Xml::finish`] closes whatever is still open.
pub struct Xml {
    out: String,
    stack: Vec<&'static str>,
}

impl Xml {
    pub fn new() -> Self {
        Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            stack: Vec::new(),
        }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        for _ in 0..self.stack.len() {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
    }

    /// Open an element; its children follow until [`Xml::close`].
    pub fn open(&mut self, name: &'static str, attrs: &[(&str, String)]) {
        self.tag(name, attrs);
        self.out.push_str(">\n");
        self.stack.push(name);
    }

    /// An element with no children.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// An element with only (escaped) character data.
    pub fn text(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.tag(name, attrs);
        let _ = writeln!(self.out, ">{}</{name}>", escape(text));
    }

    /// Close the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.stack.pop() {
            for _ in 0..self.stack.len() {
                self.out.push_str("  ");
            }
            let _ = writeln!(self.out, "</{name}>");
        }
    }

    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

/// Attribute list shorthand: `attrs![("id", x), ("n", 3)]` → `[(&str, String); 2]`.
macro_rules! attrs {
    ($(($k:expr, $v:expr)),* $(,)?) => {
        [$(($k, ($v).to_string())),*]
    };
}
pub(crate) use attrs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_and_escapes() {
        let mut x = Xml::new();
        x.open("A", &attrs![("k", "a<b&\"c\"")]);
        x.empty("B", &attrs![("n", 3)]);
        x.text("C", &[], "{\"a\":\"<\"}");
        let s = x.finish();
        assert!(s.contains("<A k=\"a&lt;b&amp;&quot;c&quot;\">\n  <B n=\"3\"/>\n"));
        assert!(s.contains("  <C>{&quot;a&quot;:&quot;&lt;&quot;}</C>\n</A>\n"));
        assert_eq!(escape("x\u{1}y"), "x\u{fffd}y");
    }
}
