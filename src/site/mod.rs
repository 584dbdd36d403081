//! `portal build`: `content/**/*.md` through Tera and pulldown-cmark into the
//! templates under `templates/`, written to `site/` with the spreadsheet downloads, a
//! sitemap, robots.txt, content-hashed assets and alias redirects, then every internal
//! link and `#anchor` checked. The page `/statistics/` shows the figures of
//! `[store] statistics_file` (never the store) and publishes them beside it.
//!
//! The numbers, addresses, MCO list and column tables on the pages come from the
//! config and the schemas through the Tera context, so the site cannot drift from
//! what intake enforces. Content and templates link from the site's root
//! (`/downloads/`); the path of `base_url`, if it has one, is put before every such
//! link of the finished pages. The site is built into a fresh folder beside `site/`
//! and swapped in whole, so a failed build leaves the last good site in place.

mod charts;
mod content;
mod context;
mod links;
pub mod markdown;
pub mod serve;
mod statistics;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::NaiveDate;
use rayon::prelude::*;
use tera::Tera;

pub use content::{FrontMatter, Page, Redirect};

use crate::config::Config;
use crate::errors::one_line;

/// The file that marks a folder as this program's output, so a rebuild may replace it.
const OUTPUT_MARKER: &str = ".portal-site";

/// What `build` is asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Include pages marked `draft = true`.
    pub drafts: bool,
    /// Serve the pages with the live-reload script (`portal serve`). The script is
    /// added to each page as it is served, never written: `build` writes the same
    /// site either way.
    pub live_reload: bool,
    /// The day the site is built: the window examples are dated from it.
    pub today: NaiveDate,
}

/// What a build did and how long each step took.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub pages: usize,
    pub aliases: usize,
    pub output: PathBuf,
    pub steps: Vec<(&'static str, Duration)>,
    pub total: Duration,
}

/// One file of the finished site, held in memory until the link check passes.
struct Output {
    /// Relative to the site folder, `/`-separated.
    path: String,
    /// The content file it came from, for error messages.
    source: String,
    /// The page's URL from the site's root, for resolving relative links.
    url: String,
    /// The template it was rendered with, relative to the templates folder.
    template: String,
    /// The page's markdown, as written: a broken link found in it is the page's.
    markdown: String,
    /// The page's markdown, rendered (with the base path, as in `html`).
    content: String,
    html: String,
}

/// Builds the whole site.
pub fn build(config: &Config, options: &BuildOptions) -> Result<BuildReport> {
    let started = Instant::now();
    let mut steps = Steps::start();

    // Load: pages and templates.
    let site = &config.site;
    let pages = content::load(&site.content_dir, options.drafts)?;
    if pages.is_empty() {
        bail!("{}: no pages (*.md) to build", site.content_dir.display());
    }
    let templates = site_templates(&site.templates_dir)?;
    let mut tera = Tera::default();
    tera.add_raw_templates(
        templates
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    )
    .map_err(|error| anyhow!(one_line(&error)))
    .with_context(|| {
        format!(
            "cannot load the templates in {}",
            site.templates_dir.display()
        )
    })?;
    // The HTML escaping of attribute values and text, without Tera's `&#x2F;` for `/`.
    tera.set_escape_fn(markdown::escape);
    let bodies: Vec<(String, &str)> = pages
        .iter()
        .filter(|page| page.body.contains("{{") || page.body.contains("{%"))
        .map(|page| (body_template(page), page.body.as_str()))
        .collect();
    tera.add_raw_templates(bodies)
        .map_err(|error| anyhow!(one_line(&error)))
        .context("in a page's markdown")?;
    steps.done("load");

    // Downloads and assets, written first: the pages show their sizes and hashed names.
    let staging = staging_dir(&site.output_dir)?;
    // The statistics file is read, published and laid out for its page while the
    // workbooks are written (one thread does each).
    let (downloads, figures) = rayon::join(
        || context::write_downloads(config, &staging.join("downloads")),
        || statistics::publish(&config.store.statistics_file, &staging, config),
    );
    let finished = downloads.and_then(|downloads| {
        let figures = figures?;
        let assets =
            context::write_assets(&site.templates_dir.join("assets"), &staging.join("assets"))?;
        steps.done("downloads");
        let inputs = Inputs {
            config,
            options,
            tera: &tera,
            templates: &templates,
            pages: &pages,
            downloads: &downloads,
            assets: &assets,
            figures: figures.as_ref(),
        };
        render_and_publish(&inputs, &staging, &mut steps)
    });
    if finished.is_err() {
        // Nothing half-built is left behind; the last good site stays as it was.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let alias_count = finished?;

    Ok(BuildReport {
        pages: pages.len(),
        aliases: alias_count,
        output: site.output_dir.clone(),
        steps: steps.taken,
        total: started.elapsed(),
    })
}

/// Everything the pages are rendered from, once loaded and written.
struct Inputs<'a> {
    config: &'a Config,
    options: &'a BuildOptions,
    tera: &'a Tera,
    /// Every site template, by name, with its text.
    templates: &'a [(String, String)],
    pages: &'a [Page],
    downloads: &'a [context::Download],
    assets: &'a Assets,
    /// The statistics page's figures; `None` when none are published yet.
    figures: Option<&'a statistics::Page>,
}

/// The time each step of a build took, for the report.
struct Steps {
    taken: Vec<(&'static str, Duration)>,
    since: Instant,
}

impl Steps {
    fn start() -> Steps {
        Steps {
            taken: Vec::new(),
            since: Instant::now(),
        }
    }

    /// Records the step that just ended; the next one starts now.
    fn done(&mut self, name: &'static str) {
        self.taken.push((name, self.since.elapsed()));
        self.since = Instant::now();
    }
}

/// Renders every page, checks the links, writes the staging folder and swaps it in.
/// Returns the number of alias redirects.
fn render_and_publish(inputs: &Inputs<'_>, staging: &Path, steps: &mut Steps) -> Result<usize> {
    let Inputs {
        config,
        options,
        tera,
        templates,
        pages,
        downloads,
        assets,
        figures,
    } = *inputs;
    let site = &config.site;
    // Render, in parallel.
    let mut shared = context::shared(config, options, pages, downloads, assets);
    shared.insert("closure_reasons", &statistics::reasons());
    // The figures go to the statistics page alone: every page's context is copied for
    // its render, and the charts' geometry is the largest thing a page is given.
    let mut with_figures = shared.clone();
    with_figures.insert("statistics", &figures);
    shared.insert("statistics", &None::<()>);
    let statistics_files: Vec<&str> = figures
        .map(|figures| figures.downloads.paths().to_vec())
        .unwrap_or_default();
    let mut outputs: Vec<Output> = pages
        .par_iter()
        // One page at a time to each thread: the statistics page takes as long as
        // several others together, so halves of the list would not balance.
        .with_max_len(1)
        .map(|page| {
            let context = if page.front.template.as_deref() == Some(statistics::TEMPLATE) {
                &with_figures
            } else {
                &shared
            };
            render_page(tera, context, page, pages, config)
        })
        .collect::<Result<_>>()?;
    let mut alias_count = 0;
    for page in pages {
        for redirect in &page.redirects {
            outputs.push(render_alias(tera, &shared, page, redirect, config)?);
            alias_count += 1;
        }
    }
    steps.done("render");

    // Sitemap and robots.txt.
    let sitemap = context::sitemap(config, pages, &statistics_files);
    let robots = format!(
        "User-agent: *\nAllow: /\nSitemap: {}/sitemap.xml\n",
        site.base_url.trim_end_matches('/')
    );
    steps.done("sitemap");

    // Check every internal link and anchor before anything is published.
    let mut files: Vec<String> = vec!["sitemap.xml".into(), "robots.txt".into()];
    files.extend(
        downloads
            .iter()
            .map(|download| format!("downloads/{}", download.file_name)),
    );
    files.extend(
        assets
            .values()
            .map(|url| url.trim_start_matches('/').to_owned()),
    );
    files.extend(statistics_files.iter().map(|path| (*path).to_owned()));
    let sources = links::Sources {
        base_path: site.base_path(),
        templates,
        templates_dir: site.templates_dir.display().to_string(),
    };
    links::check(&outputs, &files, &sources)?;
    steps.done("check");

    outputs
        .par_iter()
        .try_for_each(|output| write_file(&staging.join(&output.path), output.html.as_bytes()))?;
    write_file(&staging.join("sitemap.xml"), sitemap.as_bytes())?;
    write_file(&staging.join("robots.txt"), robots.as_bytes())?;
    write_file(
        &staging.join(OUTPUT_MARKER),
        b"generated by `portal build`; replaced on every build\n",
    )?;
    publish(staging, &site.output_dir)?;
    steps.done("write");

    Ok(alias_count)
}

/// The page templates, by name, with their text: every `.html` under `templates/` but
/// the mail templates.
fn site_templates(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let relative = path.strip_prefix(dir).unwrap_or(path);
        if relative.starts_with("mail") || path.extension().is_none_or(|ext| ext != "html") {
            continue;
        }
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        files.push((name, text));
    }
    Ok(files)
}

fn body_template(page: &Page) -> String {
    format!("__content__/{}", page.source)
}

fn render_page(
    tera: &Tera,
    shared: &tera::Context,
    page: &Page,
    pages: &[Page],
    config: &Config,
) -> Result<Output> {
    let mut context = shared.clone();
    let body = if tera
        .get_template_names()
        .any(|name| name == body_template(page))
    {
        tera.render(&body_template(page), &context)
            .map_err(|error| anyhow!(one_line(&error)))
            .with_context(|| format!("{}: cannot render its markdown", page.source))?
    } else {
        page.body.clone()
    };
    let rendered = markdown::render(&body);
    context::page_context(&mut context, page, &rendered, pages, config);
    let template = page.front.template.clone().unwrap_or_else(|| {
        if page.is_section && page.url != "/" {
            "section.html".to_owned()
        } else {
            "page.html".to_owned()
        }
    });
    let html = tera
        .render(&template, &context)
        .map_err(|error| anyhow!(one_line(&error)))
        .with_context(|| format!("{}: cannot render the template {template}", page.source))?;
    let base_path = config.site.base_path();
    Ok(Output {
        path: page.output.to_string_lossy().replace('\\', "/"),
        source: format!("{}/{}", config.site.content_dir.display(), page.source),
        url: page.url.clone(),
        template,
        markdown: page.body.clone(),
        content: links::under_base_path(rendered.html, base_path),
        html: links::under_base_path(html, base_path),
    })
}

fn render_alias(
    tera: &Tera,
    shared: &tera::Context,
    page: &Page,
    redirect: &Redirect,
    config: &Config,
) -> Result<Output> {
    let source = format!(
        "{}/{} (alias {})",
        config.site.content_dir.display(),
        page.source,
        redirect.url
    );
    let mut context = shared.clone();
    context.insert(
        "target",
        &serde_json::json!({
            "title": page.front.title,
            "url": page.url,
            "permalink": context::permalink(config, &page.url),
        }),
    );
    let template = "alias.html".to_owned();
    let html = tera
        .render(&template, &context)
        .map_err(|error| anyhow!(one_line(&error)))
        .with_context(|| format!("{source}: cannot render {template}"))?;
    Ok(Output {
        path: redirect.output.clone(),
        source,
        url: redirect.url.clone(),
        template,
        markdown: String::new(),
        content: String::new(),
        html: links::under_base_path(html, config.site.base_path()),
    })
}

/// A fresh folder beside the output, to build into.
fn staging_dir(output: &Path) -> Result<PathBuf> {
    let parent = output
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = output
        .file_name()
        .map_or_else(|| "site".into(), |name| name.to_string_lossy().into_owned());
    // One fixed name: a build killed half-way leaves a folder the next build clears.
    let staging = parent.join(format!(".{name}.building"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    Ok(staging)
}

/// Swaps the finished site in. An existing output folder is replaced only when it
/// is this program's output (it holds the marker file) or empty.
fn publish(staging: &Path, output: &Path) -> Result<()> {
    if output.exists() {
        let ours = output.join(OUTPUT_MARKER).exists()
            || std::fs::read_dir(output)
                .map(|mut entries| entries.next().is_none())
                .unwrap_or(false);
        if !ours {
            let _ = std::fs::remove_dir_all(staging);
            bail!(
                "{} exists and was not made by `portal build`; move it away or set [site] output_dir",
                output.display()
            );
        }
        let old = staging.with_extension("old");
        std::fs::rename(output, &old)
            .with_context(|| format!("cannot move {} aside", output.display()))?;
        std::fs::rename(staging, output)
            .with_context(|| format!("cannot publish {}", output.display()))?;
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove {}", old.display()))?;
    } else {
        std::fs::rename(staging, output)
            .with_context(|| format!("cannot publish {}", output.display()))?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Content-hashed asset names: `style.css` → `/assets/style.1a2b3c4d5e.css`.
pub(crate) type Assets = HashMap<String, String>;
