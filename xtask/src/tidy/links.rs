//! Relative links: every relative link or image in README.md and docs/**/*.md points at a file or directory
//! that exists, and an anchor into a Markdown file (or into the same file) names one of its headings.

use super::{Tree, line_of};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};

/// The Markdown files whose links are checked.
fn markdown_files(tree: &Tree) -> Vec<String> {
    let mut files: Vec<String> = ["README.md"].into_iter().filter(|f| tree.is_file(f)).map(str::to_owned).collect();
    files.extend(tree.files_under("docs", ".md"));
    files
}

/// GitHub's flavour of Markdown, so that tables and footnotes parse as they render there.
fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH)
}

pub(crate) fn check(tree: &Tree) -> Vec<String> {
    let mut anchors = Anchors::default();
    let mut problems = Vec::new();
    for file in markdown_files(tree) {
        let Some(text) = tree.read(&file) else {
            problems.push(format!("{file}: cannot be read as UTF-8 text"));
            continue;
        };
        // pulldown-cmark never reports links inside code spans or code blocks: they are text there.
        for (event, range) in parser(&text).into_offset_iter() {
            let (Event::Start(Tag::Link { link_type, dest_url, .. })
            | Event::Start(Tag::Image { link_type, dest_url, .. })) = event
            else {
                continue;
            };
            if matches!(link_type, LinkType::Autolink | LinkType::Email) {
                continue;
            }
            if let Some(problem) = check_target(tree, &mut anchors, &file, &text, &dest_url) {
                problems.push(format!("{file}:{}: {problem}", line_of(&text, range.start)));
            }
        }
    }
    problems
}

/// What is wrong with the link `target` in `file` (whose text is `text`), if anything.
fn check_target(tree: &Tree, anchors: &mut Anchors, file: &str, text: &str, target: &str) -> Option<String> {
    if is_external(target) {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(percent_decode(anchor))),
        None => (target, None),
    };
    // A query (`?raw=true`) is not part of the file's path.
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    if path.is_empty() {
        let anchor = anchor?;
        return (!anchors.of(file, text).contains(&anchor))
            .then(|| format!("anchor `#{anchor}` matches no heading of {file}"));
    }
    let Some(resolved) = resolve(file, &percent_decode(path)) else {
        return Some(format!("link target `{target}` points outside the repository"));
    };
    if !tree.exists(&resolved) {
        return Some(format!("link target `{target}` does not exist ({resolved})"));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if !resolved.ends_with(".md") || !tree.is_file(&resolved) {
        return None;
    }
    let target_text = tree.read(&resolved)?;
    (!anchors.of(&resolved, &target_text).contains(&anchor))
        .then(|| format!("link target `{target}`: {resolved} has no heading with anchor `#{anchor}`"))
}

/// Whether `target` has a URL scheme (`https:`, `mailto:`, …): not a path in the repository.
fn is_external(target: &str) -> bool {
    match target.split_once(':') {
        Some((scheme, _)) => {
            scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// The path of `target` relative to the repository root, for a link in `file`; a leading `/` is the root
/// (as on GitHub). `None` if it climbs out of the repository.
fn resolve(file: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = match target.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => file.split('/').collect::<Vec<_>>().split_last().map(|(_, dir)| dir.to_vec()).unwrap_or_default(),
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// `%20` → ` ` (targets are URLs); a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The anchors of Markdown files, computed once per file.
#[derive(Debug, Default)]
struct Anchors(BTreeMap<String, BTreeSet<String>>);

impl Anchors {
    fn of(&mut self, file: &str, text: &str) -> &BTreeSet<String> {
        self.0.entry(file.to_owned()).or_insert_with(|| anchors(text))
    }
}

/// The anchors GitHub gives the headings of a Markdown text: [`slug`] of each heading's text, with `-1`,
/// `-2`, … appended to repeats; also the `id`/`name` attributes of inline HTML (`<a name="x"></a>`).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let slug = slug(&heading.take().unwrap_or_default());
                let count = seen.entry(slug.clone()).or_insert(0);
                anchors.insert(if *count == 0 { slug } else { format!("{slug}-{count}") });
                *count += 1;
            }
            Event::Text(t) | Event::Code(t) => heading.iter_mut().for_each(|h| h.push_str(&t)),
            Event::Html(html) | Event::InlineHtml(html) => anchors.extend(html_ids(&html)),
            _ => {}
        }
    }
    anchors
}

/// GitHub's heading slug: lowercase, spaces to `-`, every other character that is not a letter, digit,
/// `-` or `_` removed.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The values of `id="…"` and `name="…"` attributes in an HTML fragment.
fn html_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for attribute in ["id=\"", "name=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let Some(end) = rest.find('"') else { break };
            ids.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(fixture: &str, expected: &[&str]) {
        let problems = super::check(&Tree::fixture(fixture));
        assert_eq!(problems, expected, "for the fixture\n{fixture}");
    }

    #[test]
    fn good_links_pass() {
        check(
            r#"
//- /README.md
# meanfield
See [the guide](docs/guide/intro.md), [its setup](docs/guide/intro.md#set-up--run-it), ![a plot](docs/img/a.png),
[the docs](docs/), [the crate](crates/core), [up here](#meanfield), [the web](https://example.org/x.md),
[mail](mailto:a@b.c), <https://example.org>, [raw](docs/img/a.png?raw=true), [spaced](docs/a%20b.md).
[ref link][guide]

[guide]: docs/guide/intro.md#step-2-σ-and-the-width
//- /docs/guide/intro.md
# Intro
## Set up & run it
## Step 2: σ and the `width`
## Intro
Back [home](../../README.md#meanfield), [again](#intro-1), [html](#custom).
<a name="custom"></a>
//- /docs/img/a.png
//- /docs/a b.md
//- /crates/core/src/lib.rs
"#,
            &[],
        );
    }

    #[test]
    fn broken_links_and_anchors_are_reported_with_file_and_line() {
        check(
            "
//- /README.md
# Title

See [missing](docs/nope.md) and ![gone](docs/img/gone.png).
[bad anchor](docs/a.md#nowhere) [good anchor](docs/a.md#a-heading)
[here](#title) [not here](#no-such-heading) [escape](../outside.md)
//- /docs/a.md
## A heading
[up](../README.md#titel)
",
            &[
                "README.md:3: link target `docs/nope.md` does not exist (docs/nope.md)",
                "README.md:3: link target `docs/img/gone.png` does not exist (docs/img/gone.png)",
                "README.md:4: link target `docs/a.md#nowhere`: docs/a.md has no heading with anchor `#nowhere`",
                "README.md:5: anchor `#no-such-heading` matches no heading of README.md",
                "README.md:5: link target `../outside.md` points outside the repository",
                "docs/a.md:2: link target `../README.md#titel`: README.md has no heading with anchor `#titel`",
            ],
        );
    }

    #[test]
    fn links_in_code_are_ignored() {
        check(
            "
//- /docs/code.md
```markdown
[fenced](nope.md)
```
~~~
[tilde fenced](nope.md)
~~~
    [indented](nope.md)

Inline `[code](nope.md)` and ``[double `ticks`](nope.md)``, but [this one](gone.md) counts.
",
            &["docs/code.md:9: link target `gone.md` does not exist (docs/gone.md)"],
        );
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug("Step 2: σ and the `width`"), "step-2-σ-and-the-width");
        assert_eq!(slug("Set up & run it"), "set-up--run-it");
        assert_eq!(slug("snake_case and kebab-case (DESIGN.md §2)"), "snake_case-and-kebab-case-designmd-2");
    }
}
