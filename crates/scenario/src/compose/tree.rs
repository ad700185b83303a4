//! A RON syntax tree that keeps what `ron::Value` drops — struct and variant names (ron-rs/ron#189) — and
//! where each part was written, so that scenarios can be merged (`extends`), overridden (`--set`) and
//! swept field by field before serde reads them, with errors that still point at the file and line.
//!
//! The parser reads text that ron has already accepted as RON (the callers check first), so its own
//! errors are only a guard; a tree prints back as RON text with a map from each printed part to where it
//! was written.

/// Where a part of a tree was written: a source (a file, a `--set` argument) and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub source: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A number, string, char, bool or unit name (`Tanh`, `None`), kept as written.
    Leaf(String),
    /// `Name(field: value, …)` or `(field: value, …)`: a struct or a struct variant.
    Struct {
        name: Option<String>,
        fields: Vec<Field>,
    },
    /// `Name(value, …)` or `(value, …)`: a tuple variant (`PerNeuron(0.5)`, `Some(…)`) or a tuple.
    Tuple {
        name: Option<String>,
        items: Vec<Node>,
    },
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub at: At,
    pub value: Node,
}

impl Node {
    /// The name a struct, tuple variant or unit variant is written with.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Struct { name, .. } | Kind::Tuple { name, .. } => name.as_deref(),
            Kind::Leaf(text) if text.starts_with(|c: char| c.is_ascii_uppercase()) => Some(text),
            _ => None,
        }
    }

    /// The value inside `Some(…)` (scenarios may leave `Some` out, so both spellings are one value).
    pub fn without_some(&self) -> &Node {
        match &self.kind {
            Kind::Tuple { name: Some(name), items } if name == "Some" && items.len() == 1 => items[0].without_some(),
            _ => self,
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        match &self.without_some().kind {
            Kind::Struct { fields, .. } => fields.iter().find(|f| f.name == name),
            _ => None,
        }
    }

    /// A number as written (`-0.5`, `1e-3`, `inf`, `NaN`), `None` for anything else.
    pub fn number(&self) -> Option<&str> {
        match &self.kind {
            Kind::Leaf(text) if is_number(text) => Some(text),
            _ => None,
        }
    }

    /// The value written compactly: no spaces outside strings (`SingleIndex(link:Relu)`).
    pub fn compact(&self) -> String {
        let mut out = String::new();
        print(self, &mut out, &mut Vec::new(), Style::Compact);
        out
    }

    /// The value on one line, as a person writes it (`SingleIndex(link: Relu, w: Constant(1.0))`).
    pub fn inline(&self) -> String {
        let mut out = String::new();
        print(self, &mut out, &mut Vec::new(), Style::Inline);
        out
    }
}

/// Whether a leaf is a number: digits with an optional sign, point and exponent, or `inf`/`NaN`.
pub fn is_number(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    matches!(body, "inf" | "NaN")
        || body.starts_with(|c: char| c.is_ascii_digit() || c == '.') && body.replace('_', "").parse::<f64>().is_ok()
}

/// Whether a numeric leaf is written as a whole number (no point, no exponent).
pub fn is_whole_literal(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Parses RON `text` (source `source`) into a tree; the `#![enable(…)]` attributes at its start are
/// returned apart.
pub fn parse(text: &str, source: usize) -> Result<(Vec<String>, Node), (usize, String)> {
    let mut parser = Parser { text, pos: 0, source };
    let mut attributes = Vec::new();
    parser.skip_space();
    while parser.rest().starts_with("#!") {
        let start = parser.pos;
        let end = parser.rest().find(']').ok_or((start, "an attribute without its closing `]`".to_owned()))?;
        parser.pos += end + 1;
        attributes.push(text[start..parser.pos].to_owned());
        parser.skip_space();
    }
    let node = parser.value()?;
    parser.skip_space();
    if parser.pos < text.len() {
        return Err((parser.pos, "text after the value".into()));
    }
    Ok((attributes, node))
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
    source: usize,
}

impl<'t> Parser<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn at(&self) -> At {
        At { source: self.source, offset: self.pos }
    }

    fn error<T>(&self, message: &str) -> Result<T, (usize, String)> {
        Err((self.pos, message.to_owned()))
    }

    /// Skips whitespace, `//` comments and (nested) `/* */` comments.
    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                let mut depth = 0usize;
                let bytes = trimmed.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                self.pos += i;
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let rest = self.rest();
        let raw = rest.starts_with("r#");
        let body = if raw { &rest[2..] } else { rest };
        let len = body.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(body.len());
        if len == 0 || body.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.pos += len + if raw { 2 } else { 0 };
        Some(body[..len].to_owned())
    }

    fn value(&mut self) -> Result<Node, (usize, String)> {
        self.skip_space();
        let at = self.at();
        let rest = self.rest();
        let node = |kind| Ok(Node { kind, at });
        if rest.starts_with('[') {
            self.pos += 1;
            let items = self.sequence(']')?;
            return node(Kind::List(items));
        }
        if rest.starts_with('{') {
            self.pos += 1;
            let mut entries = Vec::new();
            loop {
                if self.eat('}') {
                    break;
                }
                let key = self.value()?;
                if !self.eat(':') {
                    return self.error("expected `:` in a map");
                }
                entries.push((key, self.value()?));
                if !self.eat(',') {
                    if self.eat('}') {
                        break;
                    }
                    return self.error("expected `,` or `}`");
                }
            }
            return node(Kind::Map(entries));
        }
        if rest.starts_with('(') {
            self.pos += 1;
            return node(self.parenthesised(None)?);
        }
        if rest.starts_with('"') || rest.starts_with("r\"") || rest.starts_with("r#\"") || rest.starts_with("b\"") {
            return node(Kind::Leaf(self.string()?));
        }
        if let Some(body) = rest.strip_prefix('\'') {
            let end = body.char_indices().find(|&(i, c)| c == '\'' && !body[..i].ends_with('\\'));
            let Some((end, _)) = end else { return self.error("a char without its closing `'`") };
            self.pos += end + 2;
            return node(Kind::Leaf(rest[..end + 2].to_owned()));
        }
        if let Some(name) = self.identifier() {
            if self.rest().starts_with('(') || (self.rest().trim_start().starts_with('(') && name != "inf") {
                self.skip_space();
                self.pos += 1;
                return node(self.parenthesised(Some(name))?);
            }
            return node(Kind::Leaf(name));
        }
        // A number: everything up to the next delimiter.
        let len = rest.find(|c: char| c.is_whitespace() || ",)]}:/".contains(c)).unwrap_or(rest.len());
        if len == 0 {
            return self.error("expected a value");
        }
        self.pos += len;
        node(Kind::Leaf(rest[..len].to_owned()))
    }

    /// The contents of `( … )` after the `(`: named fields or positional items.
    fn parenthesised(&mut self, name: Option<String>) -> Result<Kind, (usize, String)> {
        self.skip_space();
        let start = self.pos;
        let named = self.identifier().is_some() && {
            self.skip_space();
            self.rest().starts_with(':') && !self.rest().starts_with("::")
        };
        self.pos = start;
        if !named {
            let items = self.sequence(')')?;
            return Ok(if items.is_empty() {
                Kind::Struct { name, fields: Vec::new() }
            } else {
                Kind::Tuple { name, items }
            });
        }
        let mut fields = Vec::new();
        loop {
            self.skip_space();
            if self.eat(')') {
                break;
            }
            let at = self.at();
            let Some(field) = self.identifier() else { return self.error("expected a field name") };
            if !self.eat(':') {
                return self.error("expected `:` after a field name");
            }
            let value = self.value()?;
            fields.push(Field { name: field, at, value });
            if !self.eat(',') {
                if self.eat(')') {
                    break;
                }
                return self.error("expected `,` or `)`");
            }
        }
        Ok(Kind::Struct { name, fields })
    }

    fn sequence(&mut self, close: char) -> Result<Vec<Node>, (usize, String)> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value()?);
            if !self.eat(',') {
                if self.eat(close) {
                    return Ok(items);
                }
                return self.error(&format!("expected `,` or `{close}`"));
            }
        }
    }

    /// A string literal as written: `"…"` with escapes, `r"…"`, `r#"…"#`, `b"…"`.
    fn string(&mut self) -> Result<String, (usize, String)> {
        let rest = self.rest();
        let len = if let Some(raw) = rest.strip_prefix('r') {
            let hashes = raw.len() - raw.trim_start_matches('#').len();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 1 + hashes + 1;
            match rest[body..].find(&close) {
                Some(end) => body + end + close.len(),
                None => return self.error("a raw string without its end"),
            }
        } else {
            let open = if rest.starts_with('b') { 2 } else { 1 };
            let mut escaped = false;
            let mut end = None;
            for (i, c) in rest[open..].char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(open + i + 1);
                        break;
                    }
                    _ => {}
                }
            }
            match end {
                Some(end) => end,
                None => return self.error("a string without its closing `\"`"),
            }
        };
        self.pos += len;
        Ok(rest[..len].to_owned())
    }
}

/// A printed part of a tree and where it was written.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
    pub at: At,
    /// Whether the part was printed exactly as written (a name or a leaf), so offsets inside it map
    /// one to one.
    pub verbatim: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    /// One field or item per line, indented: the text serde reads and errors quote.
    Lines(usize),
    Compact,
    /// One line, with a space after each `,` and `:`.
    Inline,
}

/// The tree as RON text, with the map from printed offsets to where each part was written.
pub fn print_mapped(attributes: &[String], node: &Node) -> (String, Vec<Segment>) {
    let mut out = String::new();
    for attribute in attributes {
        out.push_str(attribute);
        out.push('\n');
    }
    let mut map = Vec::new();
    print(node, &mut out, &mut map, Style::Lines(0));
    out.push('\n');
    (out, map)
}

fn print(node: &Node, out: &mut String, map: &mut Vec<Segment>, style: Style) {
    let start = out.len();
    let (open, close, inner) = match style {
        Style::Lines(depth) => {
            (format!("\n{}", "    ".repeat(depth + 1)), format!(",\n{}", "    ".repeat(depth)), Style::Lines(depth + 1))
        }
        Style::Compact | Style::Inline => (String::new(), String::new(), style),
    };
    let separator = match style {
        Style::Lines(_) => format!(",{open}"),
        Style::Compact => ",".to_owned(),
        Style::Inline => ", ".to_owned(),
    };
    let colon = if style == Style::Compact { ":" } else { ": " };
    let mut verbatim = false;
    match &node.kind {
        Kind::Leaf(text) => {
            out.push_str(text);
            verbatim = true;
        }
        Kind::Struct { name, fields } => {
            out.push_str(name.as_deref().unwrap_or(""));
            out.push('(');
            if !fields.is_empty() {
                out.push_str(&open);
                for (k, field) in fields.iter().enumerate() {
                    if k > 0 {
                        out.push_str(&separator);
                    }
                    let name_start = out.len();
                    out.push_str(&field.name);
                    map.push(Segment { start: name_start, end: out.len(), at: field.at, verbatim: true });
                    out.push_str(colon);
                    print(&field.value, out, map, inner);
                }
                out.push_str(&close);
            }
            out.push(')');
        }
        Kind::Tuple { name, items } => {
            out.push_str(name.as_deref().unwrap_or(""));
            out.push('(');
            print_items(items, out, map, style);
            out.push(')');
        }
        Kind::List(items) => {
            out.push('[');
            print_items(items, out, map, style);
            out.push(']');
        }
        Kind::Map(entries) => {
            out.push('{');
            for (k, (key, value)) in entries.iter().enumerate() {
                if k > 0 {
                    out.push_str(if style == Style::Compact { "," } else { ", " });
                }
                print(key, out, map, style);
                out.push_str(colon);
                print(value, out, map, style);
            }
            out.push('}');
        }
    }
    map.push(Segment { start, end: out.len(), at: node.at, verbatim });
}

/// Items on one line: lists of numbers stay readable, and a nested value is indented by its own fields.
fn print_items(items: &[Node], out: &mut String, map: &mut Vec<Segment>, style: Style) {
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(if style == Style::Compact { "," } else { ", " });
        }
        print(item, out, map, style);
    }
}

/// Where the printed offset `offset` was written: the innermost printed part holding it.
pub fn locate(map: &[Segment], offset: usize) -> Option<At> {
    let segment =
        map.iter().filter(|s| s.start <= offset && offset < s.end.max(s.start + 1)).min_by_key(|s| s.end - s.start)?;
    let within = if segment.verbatim { offset - segment.start } else { 0 };
    Some(At { source: segment.at.source, offset: segment.at.offset + within })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse(text, 0).unwrap().1
    }

    #[test]
    fn names_and_shapes_are_kept() {
        let node = tree(
            r##"Scenario( // a comment
                name: "a, b", model: OneHidden(width: 4, activation: Tanh, c: Trained(Gaussian(mean: 0.0, std: 1.0))),
                /* nested /* comment */ */ list: [1, -2.5e-3, inf], empty: (), map: {"k": 'x'}, r: r#"raw "q""#,
                step: PerNeuron(0.5), opt: Some(Fixed(1)))"##,
        );
        assert_eq!(node.name(), Some("Scenario"));
        let model = &node.field("model").unwrap().value;
        assert_eq!(model.name(), Some("OneHidden"));
        assert_eq!(model.field("width").unwrap().value.number(), Some("4"));
        assert_eq!(model.field("activation").unwrap().value.name(), Some("Tanh"));
        assert_eq!(node.field("name").unwrap().value.kind, Kind::Leaf(r#""a, b""#.into()));
        assert_eq!(node.field("r").unwrap().value.kind, Kind::Leaf(r###"r#"raw "q""#"###.into()));
        assert_eq!(node.field("opt").unwrap().value.without_some().name(), Some("Fixed"));
        assert_eq!(node.field("list").unwrap().value.compact(), "[1,-2.5e-3,inf]", "numbers are kept as written");
        assert_eq!(model.compact(), "OneHidden(width:4,activation:Tanh,c:Trained(Gaussian(mean:0.0,std:1.0)))");
    }

    /// The printed text is RON that reads as the original, and every printed offset of a field name or a
    /// leaf maps back to where it was written.
    #[test]
    fn printed_text_maps_back_to_where_it_was_written() {
        let text = "Scenario(\n  // x\n  name: \"t\",\n  model: OneHidden(width: 4, activation: Tanh),\n)";
        let (attributes, node) = parse(text, 0).unwrap();
        let (printed, map) = print_mapped(&attributes, &node);
        assert_eq!(stripped(tree(&printed)), stripped(node));
        for needle in ["width", "4", "Tanh", "name", "\"t\""] {
            let printed_at = printed.find(needle).unwrap();
            let at = locate(&map, printed_at).unwrap();
            assert_eq!(&text[at.offset..at.offset + needle.len()], needle, "{needle}");
        }
    }

    fn stripped(mut node: Node) -> Node {
        strip_positions(&mut node);
        node
    }

    fn strip_positions(node: &mut Node) {
        node.at = At { source: 0, offset: 0 };
        match &mut node.kind {
            Kind::Struct { fields, .. } => fields.iter_mut().for_each(|f| {
                f.at = At { source: 0, offset: 0 };
                strip_positions(&mut f.value)
            }),
            Kind::Tuple { items, .. } | Kind::List(items) => items.iter_mut().for_each(strip_positions),
            Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                strip_positions(k);
                strip_positions(v)
            }),
            Kind::Leaf(_) => {}
        }
    }

    #[test]
    fn numbers_are_told_from_names() {
        for number in ["0", "-1", "2.5", "1e-3", "-inf", "NaN", "1_000", ".5"] {
            assert!(is_number(number), "{number}");
        }
        for other in ["Tanh", "true", "\"1\"", "None", "e5"] {
            assert!(!is_number(other), "{other}");
        }
        assert!(is_whole_literal("512") && is_whole_literal("-3") && !is_whole_literal("1.0"));
    }
}
