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
}

impl Page {
    /// Parses one file's text; `source` is its path relative to the content folder.
    pub fn parse(source: &str, text: &str) -> Result<Page> {
        let (front, body) =
            split_front_matter(text).with_context(|| format!("{source}: no front matter"))?;
        let front: FrontMatter =
            toml::from_str(front).with_context(|| format!("{source}: invalid front matter"))?;
        if front.title.trim().is_empty() || front.description.trim().is_empty() {
            bail!("{source}: the front matter needs a title and a description");
        }
        let (url, output, is_section) = url_of(source)?;
        Ok(Page {
            source: source.to_owned(),
            url,
            output,
            front,
            body: body.to_owned(),
            is_section,
        })
    }
}

/// `+++\n<toml>\n+++\n<body>`.
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text.strip_prefix("+++")?.trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
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
    pages.sort_by(|a, b| (a.front.weight, &a.url).cmp(&(b.front.weight, &b.url)));
    Ok(pages)
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
    fn missing_front_matter_or_description_is_an_error() {
        assert!(Page::parse("a.md", "# no front matter").is_err());
        assert!(Page::parse("a.md", "+++\ntitle = \"A\"\n+++\n").is_err());
        assert!(Page::parse("a.md", "+++\ntitle = \"A\"\ndescription = \"B\"\n").is_err());
    }
}
