//! The Tera context: every number, address, list and table the pages show, taken
//! from the config and the schemas; and the generated files the pages link to.

use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::markdown::Rendered;
use super::{Assets, BuildOptions, Page};
use crate::config::Config;
use crate::forms::McoDecision;
use crate::forms::schema::{self, Field, Kind, SCHEMA_VERSION, ValueType};
use crate::forms::write;
use crate::rules::FEE_FOR_SERVICE_PHONE;

/// A generated download, as the downloads page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Download {
    pub kind: Kind,
    pub title: &'static str,
    pub file_name: &'static str,
    pub url: String,
    pub bytes: u64,
    pub size: String,
    pub version: String,
}

/// Writes the three workbooks into `dir`.
pub fn write_downloads(config: &Config, dir: &Path) -> Result<Vec<Download>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Kind::DOWNLOADS
        .into_iter()
        .map(|kind| {
            let bytes = write::blank(kind, &config.mcos, &config.rules)
                .with_context(|| format!("cannot lay out {}", kind.file_name()))?;
            let path = dir.join(kind.file_name());
            std::fs::write(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Download {
                kind,
                title: kind.title(),
                file_name: kind.file_name(),
                url: format!("/downloads/{}", kind.file_name()),
                bytes: bytes.len() as u64,
                size: human_size(bytes.len() as u64),
                version: format!("version {SCHEMA_VERSION}"),
            })
        })
        .collect()
}

/// A file's size as the pages show it: `812 bytes`, `9.6 KB`.
pub(super) fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    }
}

/// Copies `templates/assets/*` into the site under content-hashed names.
pub fn write_assets(source: &Path, dir: &Path) -> Result<Assets> {
    let mut assets = Assets::new();
    let Ok(entries) = std::fs::read_dir(source) else {
        return Ok(assets);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", source.display()))?
            .path();
        if !path.is_file() {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let hash = Sha256::digest(&bytes);
        let hash: String = hash
            .iter()
            .take(5)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hashed = match name.rsplit_once('.') {
            Some((stem, extension)) => format!("{stem}.{hash}.{extension}"),
            None => format!("{name}.{hash}"),
        };
        std::fs::write(dir.join(&hashed), &bytes)
            .with_context(|| format!("cannot write {hashed}"))?;
        assets.insert(name, format!("/assets/{hashed}"));
    }
    Ok(assets)
}

/// The absolute URL of a root-relative one.
pub fn permalink(config: &Config, url: &str) -> String {
    format!("{}{url}", config.site.base_url.trim_end_matches('/'))
}

/// What a field's cells take, in words.
fn kind_of(field: &Field) -> String {
    match field.ty {
        ValueType::Text { max_len } => format!("Text, up to {max_len} characters"),
        ValueType::Code => "Text (keep leading zeros)".to_owned(),
        ValueType::Digits { len } => format!("{len} digits"),
        ValueType::Npi => "10-digit NPI".to_owned(),
        ValueType::Date => "Date (YYYY-MM-DD)".to_owned(),
        ValueType::Money => "Dollars, 0 or more".to_owned(),
        ValueType::YesNo => "Yes or No".to_owned(),
        ValueType::Choice(choices) => format!("One of: {}", choices.join("; ")),
        ValueType::Mco => "One of the MCOs".to_owned(),
        ValueType::Email => "Email address".to_owned(),
        ValueType::Phone => "10-digit phone number".to_owned(),
        ValueType::State => "Two-letter state code".to_owned(),
        ValueType::Zip => "ZIP code (5 digits or ZIP+4)".to_owned(),
    }
}

fn fields(fields: &[Field], config: &Config) -> serde_json::Value {
    fields
        .iter()
        .map(|field| {
            json!({
                "header": field.header,
                "required": field.required,
                "help": field.help_for(&config.rules),
                "kind": kind_of(field),
            })
        })
        .collect()
}

/// The window for a filing date, as the pages show it.
fn window_example(config: &Config, filed: NaiveDate) -> serde_json::Value {
    let (earliest, latest) = config.window().accepted_range(filed);
    json!({ "filed": filed.to_string(), "earliest": earliest.to_string(), "latest": latest.to_string() })
}

/// The context every page shares.
pub fn shared(
    config: &Config,
    options: &BuildOptions,
    pages: &[Page],
    downloads: &[Download],
    assets: &Assets,
) -> tera::Context {
    let rules = &config.rules;
    let first_of_month = options.today.with_day(1).unwrap_or(options.today);
    let examples: Vec<serde_json::Value> = (0..4u64)
        .map(|weeks| window_example(config, first_of_month + Days::new(weeks * 14)))
        .collect();
    let nav: Vec<serde_json::Value> = pages
        .iter()
        .filter(|page| page.url != "/404.html" && page.url.matches('/').count() <= 2)
        .map(|page| {
            let title = if page.url == "/" {
                "Home"
            } else {
                page.front.title.as_str()
            };
            json!({ "title": title, "url": page.url })
        })
        .collect();
    let download = |kind: Kind| downloads.iter().find(|download| download.kind == kind);
    let value = json!({
        "site": {
            "title": "Managed Care Provider Resolution Portal",
            "agency": "Illinois Department of Healthcare and Family Services",
            "base_url": config.site.base_url.trim_end_matches('/'),
            "lang": "en",
        },
        "rules": rules,
        "contact": {
            "fee_for_service_phone": FEE_FOR_SERVICE_PHONE,
            "intake_address": config.mail.intake.address,
            "inquiries_address": config.mail.inquiries.address,
        },
        "mcos": config.mcos.iter().map(|mco| json!({ "code": mco.code, "name": mco.name })).collect::<Vec<_>>(),
        "columns": {
            "complaint": fields(&schema::COMPLAINT, config),
            "registration": fields(&schema::REGISTRATION, config),
            "registrant": fields(schema::REGISTRANT_FIELDS, config),
            "providers": fields(schema::PROVIDER_FIELDS, config),
        },
        "coverage": schema::COVERAGE,
        "mco_decisions": McoDecision::ALL.iter().map(|decision| decision.label()).collect::<Vec<_>>(),
        "issue_categories": schema::ISSUE_CATEGORIES,
        "roles": schema::ROLES,
        "downloads": {
            "complaint": download(Kind::Complaint),
            "registration_form": download(Kind::RegistrationForm),
            "multiple_registration": download(Kind::MultipleRegistration),
            "all": downloads,
        },
        "window_example": window_example(config, first_of_month),
        "window_examples": examples,
        "assets": assets,
        "nav": nav,
        "build_date": options.today.to_string(),
    });
    tera::Context::from_value(value).unwrap_or_default()
}

/// Adds one page's values to the shared context.
pub fn page_context(
    context: &mut tera::Context,
    page: &Page,
    rendered: &Rendered,
    pages: &[Page],
    config: &Config,
) {
    if page.is_section {
        // The pages one level below a section, for its listing.
        let children: Vec<_> = pages
            .iter()
            .filter(|child| {
                child.url != page.url
                    && child.url.starts_with(&page.url)
                    && !child.url[page.url.len()..].trim_end_matches('/').contains('/')
            })
            .map(|child| json!({ "title": child.front.title, "url": child.url, "description": child.front.description }))
            .collect();
        context.insert("section_pages", &children);
    }
    let toc: Vec<_> = rendered
        .headings
        .iter()
        .filter(|heading| heading.level <= 3)
        .collect();
    let long = rendered
        .headings
        .iter()
        .filter(|heading| heading.level == 2)
        .count()
        >= 3;
    context.insert(
        "page",
        &json!({
            "title": page.front.title,
            "description": page.front.description,
            "url": page.url,
            "permalink": permalink(config, &page.url),
            "source": page.source,
            "toc": toc,
            "show_toc": long,
            "is_home": page.url == "/",
        }),
    );
    context.insert("content", &rendered.html);
}

/// `sitemap.xml`: every page but the 404 page, then the `files` (relative to the
/// site folder) that are published in their own right, such as the statistics.
pub fn sitemap(config: &Config, pages: &[Page], files: &[&str]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let urls = pages
        .iter()
        .filter(|page| page.url != "/404.html")
        .map(|page| page.url.clone())
        .chain(files.iter().map(|file| format!("/{file}")));
    for url in urls {
        xml.push_str(&format!(
            "  <url><loc>{}</loc></url>\n",
            super::markdown::escape(&permalink(config, &url))
        ));
    }
    xml.push_str("</urlset>\n");
    xml
}
