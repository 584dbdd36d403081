//! The links of the finished pages: the site's base path put before every
//! root-relative one, then the internal link check — every `href` and `src` that stays
//! on the site must name a file the build writes, and every `#anchor` an id on the page
//! it points to. A broken link fails the build, named once against the file it was
//! written in: a page's markdown, or the template that every page using it repeats.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Result, bail};

use super::Output;

/// The attributes that hold a link.
const LINK_ATTRIBUTES: [&str; 2] = ["href", "src"];

/// Puts the site's base path (`/portal`) before every root-relative link of a page:
/// `href`, `src` and the target of a `<meta http-equiv="refresh">`. Content and
/// templates write links from the site's root (`/downloads/`), whatever `base_url` is.
pub(super) fn under_base_path(html: String, base_path: &str) -> String {
    if base_path.is_empty() {
        return html;
    }
    let mut starts: Vec<usize> = LINK_ATTRIBUTES
        .iter()
        .flat_map(|name| attribute_starts(&html, name))
        .collect();
    starts.extend(attribute_starts(&html, "content").filter_map(|start| {
        // `content="0; url=/moved/"`
        let value = &html[start..start + html[start..].find('"')?];
        if !value.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let url = value.to_ascii_lowercase().find("url=")? + "url=".len();
        Some(start + url)
    }));
    starts.retain(|&start| is_root_relative(&html[start..]));
    starts.sort_unstable();
    let mut prefixed = String::with_capacity(html.len() + starts.len() * base_path.len());
    let mut copied = 0;
    for start in starts {
        prefixed.push_str(&html[copied..start]);
        prefixed.push_str(base_path);
        copied = start;
    }
    prefixed.push_str(&html[copied..]);
    prefixed
}

fn is_root_relative(link: &str) -> bool {
    link.starts_with('/') && !link.starts_with("//")
}

/// The files the links were written in, for naming a broken one.
pub(super) struct Sources<'a> {
    /// The site's base path, as [`under_base_path`] added it.
    pub base_path: &'a str,
    /// Every site template, by name, with its text.
    pub templates: &'a [(String, String)],
    /// The folder of the templates, as shown in errors.
    pub templates_dir: String,
}

impl Sources<'_> {
    /// Where a link of a page was written: the page's own markdown when it is there;
    /// else each template that holds it as written; else the page's markdown when the
    /// rendered markdown has it (a value of the context), or the page's template.
    fn written_in(&self, output: &Output, link: &str) -> Vec<String> {
        let as_written = if is_root_relative(link) {
            link.strip_prefix(self.base_path).unwrap_or(link)
        } else {
            link
        };
        if output.markdown.contains(as_written) {
            return vec![output.source.clone()];
        }
        let quoted = format!("\"{as_written}\"");
        let templates: Vec<String> = self
            .templates
            .iter()
            .filter(|(_, text)| text.contains(&quoted))
            .map(|(name, _)| format!("{}/{name}", self.templates_dir))
            .collect();
        if !templates.is_empty() {
            templates
        } else if links_in(&output.content).any(|found| found == link) {
            vec![output.source.clone()]
        } else {
            vec![format!(
                "{}/{} (or a template it uses)",
                self.templates_dir, output.template
            )]
        }
    }
}

/// Checks the links of every page against the pages and the other files written.
pub(super) fn check(outputs: &[Output], other_files: &[String], sources: &Sources) -> Result<()> {
    let ids: HashMap<&str, HashSet<&str>> = outputs
        .iter()
        .map(|output| {
            (
                output.path.as_str(),
                attribute_values(&output.html, "id").collect(),
            )
        })
        .collect();
    let files: HashSet<&str> = other_files
        .iter()
        .map(String::as_str)
        .chain(ids.keys().copied())
        .collect();
    // Each problem once, with the pages it is on.
    let mut broken: BTreeMap<String, usize> = BTreeMap::new();
    for output in outputs {
        let mut on_this_page = HashSet::new();
        for link in links_in(&output.html) {
            let Some(why) = why_broken(output, link, &files, &ids, sources.base_path) else {
                continue;
            };
            for file in sources.written_in(output, link) {
                let problem = format!("{file}: broken link {link} ({why})");
                if on_this_page.insert(problem.clone()) {
                    *broken.entry(problem).or_default() += 1;
                }
            }
        }
    }
    if !broken.is_empty() {
        let lines: Vec<String> = broken
            .into_iter()
            .map(|(problem, pages)| match pages {
                1 => problem,
                pages => format!("{problem}, on {pages} pages"),
            })
            .collect();
        bail!(
            "{} broken internal link{}:\n  {}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            lines.join("\n  ")
        );
    }
    Ok(())
}

/// What is wrong with one link of a page, if anything.
fn why_broken(
    output: &Output,
    link: &str,
    files: &HashSet<&str>,
    ids: &HashMap<&str, HashSet<&str>>,
    base_path: &str,
) -> Option<String> {
    let link = link.replace("&amp;", "&");
    if is_external(&link) {
        return None;
    }
    let (path, anchor) = match link.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (link.as_str(), None),
    };
    let path = path.split('?').next().unwrap_or("");
    let target = if path.is_empty() {
        Some(output.path.clone())
    } else if is_root_relative(path) {
        let below = path
            .strip_prefix(base_path)
            .filter(|below| below.is_empty() || below.starts_with('/'));
        let Some(below) = below else {
            return Some(format!("outside the site's base path {base_path}/"));
        };
        resolve(
            &output.url,
            if below.is_empty() { "/" } else { below },
            files,
        )
    } else {
        resolve(&output.url, path, files)
    };
    let Some(target) = target else {
        return Some("no such page or file".to_owned());
    };
    let anchor = anchor.filter(|anchor| !anchor.is_empty())?;
    let found = ids
        .get(target.as_str())
        .is_some_and(|ids| ids.contains(anchor));
    (!found).then(|| format!("no #{anchor} on that page"))
}

fn is_external(link: &str) -> bool {
    link.starts_with("//")
        || link.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
}

/// The written file a link names, if any: `/downloads/` → `downloads/index.html`.
fn resolve(page_url: &str, path: &str, files: &HashSet<&str>) -> Option<String> {
    let absolute = if path.starts_with('/') {
        path.to_owned()
    } else {
        let base = &page_url[..page_url.rfind('/').map_or(0, |index| index + 1)];
        format!("{base}{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in absolute.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    let candidates = if absolute.ends_with('/') || joined.is_empty() {
        vec![if joined.is_empty() {
            "index.html".to_owned()
        } else {
            format!("{joined}/index.html")
        }]
    } else {
        vec![joined.clone(), format!("{joined}/index.html")]
    };
    candidates
        .into_iter()
        .find(|candidate| files.contains(candidate.as_str()))
}

/// The links of a page: its `href` and `src` values.
fn links_in(html: &str) -> impl Iterator<Item = &str> {
    LINK_ATTRIBUTES
        .into_iter()
        .flat_map(|name| attribute_values(html, name))
}

/// The values of `name="…"` attributes in `html`.
fn attribute_values<'h>(html: &'h str, name: &str) -> impl Iterator<Item = &'h str> {
    attribute_starts(html, name).filter_map(|start| {
        let length = html[start..].find('"')?;
        Some(&html[start..start + length])
    })
}

/// Where the values of `name="…"` attributes start in `html`.
fn attribute_starts<'h>(html: &'h str, name: &str) -> impl Iterator<Item = usize> + 'h {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| at + needle.len())
        .collect::<Vec<_>>()
        .into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page whose whole HTML is its markdown's.
    fn page(path: &str, url: &str, html: &str) -> Output {
        Output {
            path: path.into(),
            source: format!("content/{path}.md"),
            url: url.into(),
            template: "page.html".into(),
            markdown: html.into(),
            content: html.into(),
            html: html.into(),
        }
    }

    /// A page with no markdown: all its HTML comes from `template`.
    fn templated(path: &str, template: &str, html: &str) -> Output {
        Output {
            template: template.into(),
            markdown: String::new(),
            content: String::new(),
            ..page(
                path,
                &format!("/{}", path.trim_end_matches("index.html")),
                html,
            )
        }
    }

    fn at_root(templates: &[(String, String)]) -> Sources<'_> {
        Sources {
            base_path: "",
            templates,
            templates_dir: "templates".into(),
        }
    }

    #[test]
    fn good_links_pass() {
        let outputs = [
            page(
                "index.html",
                "/",
                r##"<a href="/a/">a</a> <a href="/a/#x">x</a> <a href="a/">rel</a> <a href="mailto:x@y.example">m</a> <a href="https://e.example/">e</a> <a href="#top">t</a><h1 id="top">T</h1>"##,
            ),
            page(
                "a/index.html",
                "/a/",
                r##"<h2 id="x">X</h2><a href="../">up</a><img src="/assets/s.1.css">"##,
            ),
        ];
        check(&outputs, &["assets/s.1.css".to_owned()], &at_root(&[])).unwrap();
    }

    #[test]
    fn a_broken_link_names_the_file_and_the_link() {
        let outputs = [page("index.html", "/", r#"<a href="/downlaods/">d</a>"#)];
        let error = check(&outputs, &[], &at_root(&[])).unwrap_err().to_string();
        assert!(
            error.contains("content/index.html.md: broken link /downlaods/"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_anchor_is_broken() {
        let outputs = [
            page("index.html", "/", r##"<a href="/a/#nope">x</a>"##),
            page("a/index.html", "/a/", r#"<h2 id="x">X</h2>"#),
        ];
        let error = check(&outputs, &[], &at_root(&[])).unwrap_err().to_string();
        assert!(
            error.contains("/a/#nope (no #nope on that page)"),
            "{error}"
        );
    }

    #[test]
    fn a_broken_link_of_a_template_is_named_once_against_the_template() {
        let footer = r#"<footer><a href="/contcat/">Contact</a></footer>"#;
        let templates = [
            (
                "base.html".to_owned(),
                format!("<body>{{% block content %}}{{% endblock %}}{footer}</body>"),
            ),
            (
                "page.html".to_owned(),
                "{% extends \"base.html\" %}".to_owned(),
            ),
        ];
        let outputs = [
            templated("index.html", "page.html", &format!("<p>Home</p>{footer}")),
            templated("a/index.html", "page.html", &format!("<p>A</p>{footer}")),
            templated("404.html", "404.html", &format!("<p>Gone</p>{footer}")),
            // A link made from a value, in no template as written: the page's template.
            templated(
                "b/index.html",
                "section.html",
                r#"<a href="/nowhere/">x</a>"#,
            ),
        ];
        let error = check(&outputs, &[], &at_root(&templates))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("2 broken internal links:\n"), "{error}");
        assert!(
            error.contains(
                "\n  templates/base.html: broken link /contcat/ (no such page or file), on 3 pages"
            ),
            "{error}"
        );
        assert!(
            error.ends_with(
                "\n  templates/section.html (or a template it uses): broken link /nowhere/ (no such page or file)"
            ),
            "{error}"
        );
    }

    #[test]
    fn root_relative_links_go_below_the_base_path() {
        let html = r##"<link rel="canonical" href="https://portal.example.gov/a/"><a href="/">home</a> <a href="/a/#x">a</a> <a href="b/">rel</a> <a href="#top">top</a> <a href="//cdn.example/x.js">cdn</a> <img src="/assets/s.1.png" alt=""> <meta http-equiv="refresh" content="0; url=/moved/"> <meta name="description" content="/not/a/link"> <code>href="/quoted/"</code>"##;
        assert_eq!(
            under_base_path(html.to_owned(), "/portal"),
            r##"<link rel="canonical" href="https://portal.example.gov/a/"><a href="/portal/">home</a> <a href="/portal/a/#x">a</a> <a href="b/">rel</a> <a href="#top">top</a> <a href="//cdn.example/x.js">cdn</a> <img src="/portal/assets/s.1.png" alt=""> <meta http-equiv="refresh" content="0; url=/portal/moved/"> <meta name="description" content="/not/a/link"> <code>href="/quoted/"</code>"##
        );
        assert_eq!(under_base_path(html.to_owned(), ""), html);
    }

    #[test]
    fn a_link_outside_the_base_path_is_broken() {
        let outputs = [page(
            "index.html",
            "/",
            r#"<a href="/portal/">home</a> <a href="/portal">home</a> <a href="/elsewhere/">x</a>"#,
        )];
        let sources = Sources {
            base_path: "/portal",
            ..at_root(&[])
        };
        let error = check(&outputs, &[], &sources).unwrap_err().to_string();
        assert_eq!(
            error,
            "1 broken internal link:\n  content/index.html.md: broken link /elsewhere/ (outside the site's base path /portal/)"
        );
    }
}
