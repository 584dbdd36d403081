//! Loading `content/**/*.md`: TOML front matter between `+++` lines, then markdown.
//! Each file becomes one page with a pretty URL (`about.md` → `/about/`,
//! `_index.md` → its folder's URL, `404.md` → `/404.html`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// A page's front matter. Unknown keys are an error that names the key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// The page's `<title>` and `<h1>`.
    pub title: String,
    /// The meta description: one sentence.
    pub description: String,
    /// Navigation order, lowest first. Default 0.
    #[serde(default)]
    pub weight: i64,
    /// The Tera template, relative to `templates/`. Default `page.html`, or `section.html`
    /// for `_index.md` files below the root.
    pub template: Option<String>,
    /// Left out of the build unless `--drafts`. Default false.
    #[serde(default)]
    pub draft: bool,
    /// Old URL paths that redirect here.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One page, loaded.
#[derive(Debug, Clone)]
pub struct Page {
    /// The source path relative to the content folder, with `/` separators.
    pub source: String,
    /// The root-relative URL: `/`, `/downloads/`, `/404.html`.
    pub url: String,
    /// The output file relative to the site folder.
    pub output: PathBuf,
    pub front: FrontMatter,
    /// The markdown after the front matter.
    pub body: String,
    /// An `_index.md`: the page of its folder.
    pub is_section: bool,
    /// The redirects of `front.aliases`, in their order.
    pub redirects: Vec<Redirect>,
}

/// An alias of a page: an old URL that redirects to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The root-relative URL it answers: `/old/place/`, `/old.html`.
    pub url: String,
    /// Its file relative to the site folder, `/`-separated: `old/place/index.html`.
    pub output: String,
}

impl Redirect {
    /// The redirect of an alias as written in the front matter (`/old/place/`,
    /// `old/place`, `old.html`), which must be a path below the site root.
    fn of(alias: &str) -> Option<Redirect> {
        let trimmed = alias.trim_matches('/');
        let usable = !trimmed.is_empty()
            && trimmed
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !usable {
            return None;
        }
        Some(if trimmed.ends_with(".html") {
            Redirect {
                url: format!("/{trimmed}"),
                output: trimmed.to_owned(),
            }
        } else {
            Redirect {
                url: format!("/{trimmed}/"),
                output: format!("{trimmed}/index.html"),
            }
        })
    }
}

impl Page {
    /// Parses one file's text; `source` is its path relative to the content folder.
    pub fn parse(source: &str, text: &str) -> Result<Page> {
        let split =
            split_front_matter(text).with_context(|| format!("{source}: no front matter"))?;
        let front: FrontMatter = toml::from_str(split.front).map_err(|error| {
            // toml counts from the start of the front matter; people count from the
            // top of the file.
            let at = error.span().map_or_else(String::new, |span| {
                let (line, column) = line_and_column(text, split.offset + span.start);
                format!(" line {line}, column {column}:")
            });
            anyhow::anyhow!(
                "{source}:{at} invalid front matter: {}",
                error.message().trim_end()
            )
        })?;
        if front.title.trim().is_empty() || front.description.trim().is_empty() {
            bail!("{source}: the front matter needs a title and a description");
        }
        let redirects = front
            .aliases
            .iter()
            .map(|alias| {
                Redirect::of(alias).with_context(|| {
                    format!("{source}: the alias {alias:?} must be a path below the site root")
                })
            })
            .collect::<Result<_>>()?;
        let (url, output, is_section) = url_of(source)?;
        Ok(Page {
            source: source.to_owned(),
            url,
            output,
            front,
            body: split.body.to_owned(),
            is_section,
            redirects,
        })
    }
}

/// A page's text, cut at its front matter.
struct Split<'t> {
    front: &'t str,
    /// Where `front` starts in the text, in bytes.
    offset: usize,
    body: &'t str,
}

/// `+++\n<toml>\n+++\n<body>`.
fn split_front_matter(text: &str) -> Option<Split<'_>> {
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let rest = text[bom..]
        .strip_prefix("+++")?
        .trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let offset = text.len() - rest.len();
    let mut length = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Some(Split {
                front: &rest[..length],
                offset,
                body: &rest[length + line.len()..],
            });
        }
        length += line.len();
    }
    None
}

/// The line and column (both from 1, the column in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The URL and output path of a source file.
fn url_of(source: &str) -> Result<(String, PathBuf, bool)> {
    let Some(stem) = source.strip_suffix(".md") else {
        bail!("{source}: not a .md file")
    };
    if stem
        .split('/')
        .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        bail!("{source}: unusable path");
    }
    if stem == "404" {
        return Ok(("/404.html".to_owned(), PathBuf::from("404.html"), false));
    }
    let (folder, is_section) = match stem
        .strip_suffix("_index")
        .or_else(|| stem.strip_suffix("index"))
    {
        Some(folder) => (
            folder.trim_end_matches('/').to_owned(),
            stem.ends_with("_index"),
        ),
        None => (stem.to_owned(), false),
    };
    if folder.is_empty() {
        return Ok(("/".to_owned(), PathBuf::from("index.html"), is_section));
    }
    Ok((
        format!("/{folder}/"),
        Path::new(&folder).join("index.html"),
        is_section,
    ))
}

/// Every page under `dir`, drafts only when asked, sorted by weight then URL.
pub fn load(dir: &Path, drafts: bool) -> Result<Vec<Page>> {
    let mut pages = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap_or(path);
        let source = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let page = Page::parse(&source, &text).with_context(|| format!("in {}", dir.display()))?;
        if drafts || !page.front.draft {
            pages.push(page);
        }
    }
    let mut seen = std::collections::HashMap::new();
    for page in &pages {
        if let Some(other) = seen.insert(page.url.clone(), page.source.clone()) {
            bail!(
                "{} and {} both make the page {}",
                other,
                page.source,
                page.url
            );
        }
    }
    check_redirects(&pages)?;
    pages.sort_by(|a, b| (a.front.weight, &a.url).cmp(&(b.front.weight, &b.url)));
    Ok(pages)
}

/// Every redirect gets a file of its own: no two aliases name one URL, and no alias
/// names a page (which it would overwrite). Lists every clash, naming both pages.
fn check_redirects(pages: &[Page]) -> Result<()> {
    let written: std::collections::HashMap<String, &Page> = pages
        .iter()
        .map(|page| (page.output.to_string_lossy().replace('\\', "/"), page))
        .collect();
    let mut claimed: std::collections::HashMap<&str, &Page> = std::collections::HashMap::new();
    let mut clashes = Vec::new();
    for page in pages {
        for redirect in &page.redirects {
            let url = &redirect.url;
            if let Some(target) = written.get(&redirect.output) {
                clashes.push(if target.source == page.source {
                    format!("{}: the alias {url} is the page's own URL", page.source)
                } else {
                    format!(
                        "{}: the alias {url} is the URL of the page {}",
                        page.source, target.source
                    )
                });
            } else if let Some(first) = claimed.insert(&redirect.output, page) {
                clashes.push(if first.source == page.source {
                    format!("{}: the alias {url} is listed twice", page.source)
                } else {
                    format!(
                        "{} and {} both claim the alias {url}",
                        first.source, page.source
                    )
                });
            }
        }
    }
    if !clashes.is_empty() {
        bail!("aliases that clash:\n  {}", clashes.join("\n  "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_body() {
        let page = Page::parse(
            "before-you-submit.md",
            "+++\ntitle = \"Before\"\ndescription = \"Read first.\"\nweight = 2\naliases = [\"/old/\"]\n+++\n## Hello\n",
        )
        .unwrap();
        assert_eq!(page.url, "/before-you-submit/");
        assert_eq!(page.output, PathBuf::from("before-you-submit/index.html"));
        assert_eq!(page.front.weight, 2);
        assert_eq!(page.front.aliases, ["/old/"]);
        assert_eq!(page.body, "## Hello\n");
    }

    #[test]
    fn urls_of_sections_and_the_404_page() {
        assert_eq!(url_of("_index.md").unwrap().0, "/");
        assert_eq!(
            url_of("guides/_index.md").unwrap(),
            (
                "/guides/".to_owned(),
                PathBuf::from("guides/index.html"),
                true
            )
        );
        assert_eq!(url_of("guides/mail.md").unwrap().0, "/guides/mail/");
        assert_eq!(url_of("404.md").unwrap().0, "/404.html");
    }

    #[test]
    fn unknown_front_matter_keys_are_named() {
        let error = Page::parse(
            "a.md",
            "+++\ntitle = \"A\"\ndescription = \"B\"\ncolour = 1\n+++\n",
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("colour"), "{error:#}");
    }

    #[test]
    fn front_matter_errors_count_lines_from_the_top_of_the_file() {
        let error = Page::parse(
            "a.md",
            "+++\ntitle = \"A\"\ndescription = \"B\"\nweight = \"heavy\"\n+++\n",
        )
        .unwrap_err();
        let error = format!("{error:#}");
        assert!(error.contains("a.md: line 4, column 10"), "{error}");
        assert!(!error.contains("line 3"), "{error}");
        // A byte order mark and Windows line ends change nothing.
        let error = Page::parse(
            "a.md",
            "\u{feff}+++  \r\ntitle = \"A\"\r\n\r\ndescription = 1\r\n+++\r\n",
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("a.md: line 4, column 15"),
            "{error:#}"
        );
    }

    #[test]
    fn missing_front_matter_or_description_is_an_error() {
        assert!(Page::parse("a.md", "# no front matter").is_err());
        assert!(Page::parse("a.md", "+++\ntitle = \"A\"\n+++\n").is_err());
        assert!(Page::parse("a.md", "+++\ntitle = \"A\"\ndescription = \"B\"\n").is_err());
    }
}
