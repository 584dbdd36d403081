//! The internal link check: every `href` and `src` that stays on the site must name
//! a file the build writes, and every `#anchor` an id on the page it points to. A
//! broken link fails the build, naming the content file and the link.

use std::collections::{HashMap, HashSet};

use anyhow::{Result, bail};

use super::Output;

/// Checks the links of every page against the pages and the other files written.
pub(super) fn check(outputs: &[Output], other_files: &[String]) -> Result<()> {
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
    let mut broken = Vec::new();
    for output in outputs {
        for link in
            attribute_values(&output.html, "href").chain(attribute_values(&output.html, "src"))
        {
            let link = link.replace("&amp;", "&");
            if is_external(&link) {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.as_str(), None),
            };
            let path = path.split('?').next().unwrap_or("");
            let target = if path.is_empty() {
                Some(output.path.clone())
            } else {
                resolve(&output.url, path, &files)
            };
            let Some(target) = target else {
                broken.push(format!(
                    "{}: broken link {link} (no such page or file)",
                    output.source
                ));
                continue;
            };
            if let Some(anchor) = anchor.filter(|anchor| !anchor.is_empty()) {
                let found = ids
                    .get(target.as_str())
                    .is_some_and(|ids| ids.contains(anchor));
                if !found {
                    broken.push(format!(
                        "{}: broken link {link} (no #{anchor} on that page)",
                        output.source
                    ));
                }
            }
        }
    }
    if !broken.is_empty() {
        broken.sort();
        broken.dedup();
        bail!(
            "{} broken internal link{}:\n  {}",
            broken.len(),
            if broken.len() == 1 { "" } else { "s" },
            broken.join("\n  ")
        );
    }
    Ok(())
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

/// The values of `name="…"` attributes in `html`.
fn attribute_values<'h>(html: &'h str, name: &str) -> impl Iterator<Item = &'h str> {
    let needle = format!(" {name}=\"");
    let mut rest = html;
    std::iter::from_fn(move || {
        let start = rest.find(&needle)? + needle.len();
        let end = rest[start..].find('"')? + start;
        let value = &rest[start..end];
        rest = &rest[end..];
        Some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(path: &str, url: &str, html: &str) -> Output {
        Output {
            path: path.into(),
            source: format!("content/{path}.md"),
            url: url.into(),
            html: html.into(),
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
        check(&outputs, &["assets/s.1.css".to_owned()]).unwrap();
    }

    #[test]
    fn a_broken_link_names_the_file_and_the_link() {
        let outputs = [page("index.html", "/", r#"<a href="/downlaods/">d</a>"#)];
        let error = check(&outputs, &[]).unwrap_err().to_string();
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
        let error = check(&outputs, &[]).unwrap_err().to_string();
        assert!(
            error.contains("/a/#nope (no #nope on that page)"),
            "{error}"
        );
    }
}
