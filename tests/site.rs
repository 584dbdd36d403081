//! `portal build` on a copy of the shipped content and templates: every page complete,
//! config values on the pages, broken links named, drafts, aliases, and snapshots of
//! the pages' main content.

use std::path::{Path, PathBuf};

use portal::config::Config;
use portal::site::{BuildOptions, build};

use crate::common::date;

/// A copy of `content/` and `templates/` in a temporary folder, with a config whose
/// `[site]` paths point there.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["content", "templates"] {
            copy_tree(&root.join(folder), &dir.path().join(folder));
        }
        Workspace { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The shipped portal.toml with `[site]` pointing into the workspace, plus `extra`
    /// appended to the `[rules]` table.
    fn config(&self, rules: &str) -> Config {
        Config::parse(&self.config_text("https://portal.example.gov", rules)).unwrap()
    }

    /// The text of [`Workspace::config`], published at `base_url`.
    fn config_text(&self, base_url: &str, rules: &str) -> String {
        let shipped = include_str!("../portal.toml");
        let site = format!(
            "[site]\nbase_url = {base_url:?}\ncontent_dir = {:?}\ntemplates_dir = {:?}\noutput_dir = {:?}\n",
            self.path("content"),
            self.path("templates"),
            self.path("site")
        );
        // The statistics file of the workspace (there is none unless a test writes it),
        // never one in the working directory.
        let statistics = format!("statistics_file = {:?}", self.path("var/statistics.json"));
        let text = shipped
            .replace("statistics_file = \"var/statistics.json\"", &statistics)
            .replace("[site]\nbase_url = \"https://portal.example.gov\"   # content/, templates/, site/ are the defaults\n", &site)
            .replace("[rules]\n", &format!("[rules]\n{rules}"));
        if rules.contains("window_max_days") {
            text.replace("window_max_days = 60 ", "# window_max_days = 60 ")
        } else {
            text
        }
    }

    fn build(&self, config: &Config, drafts: bool) -> anyhow::Result<portal::site::BuildReport> {
        build(
            config,
            &BuildOptions {
                drafts,
                live_reload: false,
                today: date("2026-11-25"),
            },
        )
    }

    fn page(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path("site").join(relative))
            .unwrap_or_else(|error| panic!("{relative}: {error}"))
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The text between `<main` and `</main>`.
fn main_of(html: &str) -> &str {
    let start = html.find("<main").expect("a <main>");
    let end = html.find("</main>").expect("a </main>") + "</main>".len();
    &html[start..end]
}

fn html_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "html"))
        .collect()
}

#[test]
fn every_page_has_lang_title_description_and_canonical() {
    let workspace = Workspace::new();
    let report = workspace.build(&workspace.config(""), false).unwrap();
    assert_eq!(report.pages, 11);
    let names: Vec<&str> = report.steps.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["load", "downloads", "render", "sitemap", "check", "write"]
    );
    let files = html_files(&workspace.path("site"));
    assert_eq!(files.len(), 11);
    for file in files {
        let html = std::fs::read_to_string(&file).unwrap();
        let name = file.display();
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{name}"
        );
        assert_eq!(html.matches("<title>").count(), 1, "{name}");
        assert!(!html.contains("<title></title>"), "{name}");
        assert!(
            html.contains("<meta name=\"description\" content=\""),
            "{name}"
        );
        assert!(
            html.contains("<link rel=\"canonical\" href=\"https://portal.example.gov/"),
            "{name}"
        );
        assert_eq!(html.matches("<h1").count(), 1, "{name}");
        assert!(!html.contains("&#x2F;"), "{name}: over-escaped slashes");
    }
}

#[test]
fn the_site_shows_the_config_and_the_schema_not_typed_numbers() {
    let workspace = Workspace::new();
    workspace.build(&workspace.config(""), false).unwrap();
    let before = workspace.page("before-you-submit/index.html");
    assert!(before.contains("data-min-days=\"30\" data-max-days=\"60\""));
    assert!(
        before.contains("<tr><td>2026-11-01</td><td>2026-12-01</td><td>2026-12-31</td></tr>"),
        "{before}"
    );
    let how = workspace.page("how-to-submit/index.html");
    for column in portal::forms::schema::COMPLAINT.iter() {
        assert!(
            how.contains(&format!("<th scope=\"row\">{}</th>", column.header)),
            "{}",
            column.header
        );
    }
    for mco in &workspace.config("").mcos {
        assert!(how.contains(&mco.name), "{}", mco.name);
    }
    let registration = workspace.page("registration/index.html");
    assert!(registration.contains("HFS.Portalinquiries@illinois.gov"));
    assert!(
        workspace
            .page("fee-for-service-and-medicare/index.html")
            .contains("877-782-5565")
    );

    // Change the window in the config: every page that mentions it follows.
    let wider = workspace.config("window_max_days = 75\n");
    assert_eq!(wider.rules.window_max_days, 75);
    workspace.build(&wider, false).unwrap();
    let before = workspace.page("before-you-submit/index.html");
    assert!(before.contains("data-min-days=\"30\" data-max-days=\"75\""));
    assert!(before.contains("<tr><td>2026-11-01</td><td>2026-12-01</td><td>2027-01-15</td></tr>"));
    assert!(before.contains("75 calendar days"));
    assert!(!before.contains("60 calendar days"));
    for file in html_files(&workspace.path("site")) {
        let html = std::fs::read_to_string(&file).unwrap();
        assert!(!html.contains("60 calendar days"), "{}", file.display());
        assert!(!html.contains("day 60"), "{}", file.display());
    }
}

#[test]
fn the_page_for_mcos_explains_the_second_half_with_the_configured_days() {
    let workspace = Workspace::new();
    let config = workspace.config("response_days = 35\nextension_days = 21\n");
    workspace.build(&config, false).unwrap();
    let page = workspace.page("for-mcos/index.html");
    assert!(
        page.contains("For MCOs: answering a forwarded complaint"),
        "{page}"
    );
    assert!(page.contains("35 calendar days"), "{page}");
    assert!(page.contains("21 calendar days"), "{page}");
    assert!(page.contains(&config.mail.intake.address), "{page}");
    for decision in portal::forms::McoDecision::ALL {
        assert!(page.contains(decision.label()), "{}", decision.label());
    }
    for column in ["Ticket", "Row", "MCO Decision", "MCO Comment"] {
        assert!(
            page.contains(&format!("<strong>{column}</strong>")),
            "{column}"
        );
    }
    // The providers' pages name the same extension, from the same key.
    for file in html_files(&workspace.path("site")) {
        let html = std::fs::read_to_string(&file).unwrap();
        assert!(!html.contains("extension of 30"), "{}", file.display());
    }
    assert!(
        workspace
            .page("how-to-submit/index.html")
            .contains("extension of 21 calendar days")
    );
}

#[test]
fn the_downloads_are_the_generated_workbooks_with_size_and_version() {
    let workspace = Workspace::new();
    let config = workspace.config("");
    workspace.build(&config, false).unwrap();
    let page = workspace.page("downloads/index.html");
    for kind in portal::forms::Kind::DOWNLOADS {
        let written =
            std::fs::read(workspace.path("site/downloads").join(kind.file_name())).unwrap();
        let expected = portal::forms::write::blank(kind, &config.mcos, &config.rules).unwrap();
        let workbook = portal::forms::read_workbook(&written, None).unwrap();
        // The same sheets and cells (the bytes differ in the creation time they carry).
        assert_eq!(
            format!("{:?}", workbook.sheets),
            format!(
                "{:?}",
                portal::forms::read_workbook(&expected, None)
                    .unwrap()
                    .sheets
            ),
            "{}",
            kind.file_name()
        );
        assert_eq!(portal::forms::identify(&workbook), Some(kind));
        let size = format!("{:.1} KB", written.len() as f64 / 1024.0);
        assert!(
            page.contains(&format!("/downloads/{}", kind.file_name())),
            "{}",
            kind.file_name()
        );
        assert!(
            page.contains(&size),
            "{size} missing from the downloads page"
        );
    }
    let version = format!("version {}", portal::forms::schema::SCHEMA_VERSION);
    assert!(
        page.contains(&version),
        "{version} missing from the downloads page"
    );
}

#[test]
fn a_broken_link_fails_the_build_naming_the_file_and_the_link() {
    let workspace = Workspace::new();
    workspace.write(
        "content/broken.md",
        "+++\ntitle = \"Broken\"\ndescription = \"A page with bad links.\"\n+++\nSee [the downloads](/downlaods/) and [a section](/before-you-submit/#no-such-heading).\n",
    );
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("broken.md: broken link /downlaods/ (no such page or file)"),
        "{error}"
    );
    assert!(error.contains("broken.md: broken link /before-you-submit/#no-such-heading (no #no-such-heading on that page)"), "{error}");
    assert!(error.contains("2 broken internal links"), "{error}");
}

#[test]
fn a_failed_build_keeps_the_last_good_site() {
    let workspace = Workspace::new();
    let config = workspace.config("");
    workspace.build(&config, false).unwrap();
    workspace.write(
        "content/broken.md",
        "+++\ntitle = \"B\"\ndescription = \"B.\"\n+++\n[x](/nowhere/)\n",
    );
    assert!(workspace.build(&config, false).is_err());
    assert!(workspace.path("site/index.html").exists());
    assert!(!workspace.path("site/broken/index.html").exists());
    let leftovers: Vec<_> = std::fs::read_dir(workspace.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("building"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn drafts_only_with_the_flag_and_aliases_redirect() {
    let workspace = Workspace::new();
    workspace.write(
        "content/draft.md",
        "+++\ntitle = \"Draft\"\ndescription = \"Not yet.\"\ndraft = true\n+++\nSoon.\n",
    );
    workspace.write(
        "content/moved.md",
        "+++\ntitle = \"Moved page\"\ndescription = \"Where it went.\"\naliases = [\"/old/place/\"]\n+++\nHere.\n",
    );
    let config = workspace.config("");
    workspace.build(&config, false).unwrap();
    assert!(!workspace.path("site/draft/index.html").exists());
    assert!(!workspace.page("sitemap.xml").contains("/draft/"));
    let alias = workspace.page("old/place/index.html");
    assert!(alias.contains("<html lang=\"en\">"));
    assert!(
        alias
            .contains("<title>Moved: Moved page | Managed Care Provider Resolution Portal</title>")
    );
    assert!(
        alias
            .contains("<meta name=\"description\" content=\"This page has moved to Moved page.\">")
    );
    assert!(alias.contains("<meta http-equiv=\"refresh\" content=\"0; url=/moved/\">"));
    workspace.build(&config, true).unwrap();
    assert!(workspace.path("site/draft/index.html").exists());
}

#[test]
fn sitemap_robots_and_hashed_assets() {
    let workspace = Workspace::new();
    workspace.build(&workspace.config(""), false).unwrap();
    let sitemap = workspace.page("sitemap.xml");
    assert!(sitemap.contains("<loc>https://portal.example.gov/</loc>"));
    assert!(sitemap.contains("<loc>https://portal.example.gov/downloads/</loc>"));
    assert!(!sitemap.contains("404"));
    assert_eq!(sitemap.matches("<loc>").count(), 10);
    assert!(
        workspace
            .page("robots.txt")
            .contains("Sitemap: https://portal.example.gov/sitemap.xml")
    );
    let home = workspace.page("index.html");
    let start = home.find("/assets/style.").unwrap();
    let href = &home[start..home[start..].find('"').unwrap() + start];
    assert!(
        workspace
            .path("site")
            .join(href.trim_start_matches('/'))
            .exists(),
        "{href}"
    );
    assert!(home.contains("media=\"print\""));
}

#[test]
fn an_unknown_front_matter_key_names_the_file_and_key() {
    let workspace = Workspace::new();
    workspace.write(
        "content/odd.md",
        "+++\ntitle = \"Odd\"\ndescription = \"Odd.\"\ncolour = \"red\"\n+++\n",
    );
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("odd.md") && error.contains("colour"),
        "{error}"
    );
}

#[test]
fn long_pages_get_a_table_of_contents_and_heading_anchors() {
    let workspace = Workspace::new();
    workspace.build(&workspace.config(""), false).unwrap();
    let before = workspace.page("before-you-submit/index.html");
    assert!(before.contains("<h2 id=\"on-this-page-title\">On this page</h2>"));
    assert!(before.contains("<li><a href=\"#when-you-can-submit\">When you can submit</a></li>"));
    assert!(before.contains("<a class=\"anchor\" href=\"#when-you-can-submit\""));
}

#[test]
fn snapshots_of_the_main_content() {
    let workspace = Workspace::new();
    workspace.build(&workspace.config(""), false).unwrap();
    for (name, page) in [
        ("home", "index.html"),
        ("before-you-submit", "before-you-submit/index.html"),
        ("downloads", "downloads/index.html"),
        ("not-found", "404.html"),
    ] {
        let html = workspace.page(page);
        insta::assert_snapshot!(name, main_of(&html));
    }
}

/// The values of `name="…"` attributes in `html`.
fn attribute_values<'h>(html: &'h str, name: &str) -> Vec<&'h str> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let value = &html[at + needle.len()..];
            &value[..value.find('"').expect("a closed attribute")]
        })
        .collect()
}

/// Every link a page makes: `href`, `src` and the target of a `<meta http-equiv="refresh">`.
fn links_of(html: &str) -> Vec<&str> {
    let mut links = attribute_values(html, "href");
    links.extend(attribute_values(html, "src"));
    links.extend(
        attribute_values(html, "content")
            .into_iter()
            .filter_map(|content| content.split_once("url=").map(|(_, url)| url)),
    );
    links
}

/// `https:`, `mailto:`, `tel:`, `//host/`: a link that leaves the site.
fn is_external(link: &str) -> bool {
    link.starts_with("//")
        || link.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

#[test]
fn a_base_url_with_a_path_prefixes_every_link_asset_and_download() {
    let workspace = Workspace::new();
    workspace.write(
        "content/moved.md",
        "+++\ntitle = \"Moved page\"\ndescription = \"Where it went.\"\naliases = [\"/old/place/\"]\n+++\nBack [home](/) or to [the downloads](/downloads/#the-three-spreadsheets).\n",
    );
    let config =
        Config::parse(&workspace.config_text("https://hfs.illinois.gov/portal/", "")).unwrap();
    // The internal link check passes on the prefixed pages.
    workspace.build(&config, false).unwrap();

    let mut checked = 0;
    for file in html_files(&workspace.path("site")) {
        let html = std::fs::read_to_string(&file).unwrap();
        for link in links_of(&html) {
            assert!(
                link.starts_with("/portal/") || link.starts_with('#') || is_external(link),
                "{}: {link} is not under /portal/",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links");

    let home = workspace.page("index.html");
    assert!(home.contains("<a class=\"site-name\" href=\"/portal/\">"));
    assert!(home.contains("<link rel=\"stylesheet\" href=\"/portal/assets/style."));
    assert!(home.contains("<link rel=\"canonical\" href=\"https://hfs.illinois.gov/portal/\">"));
    assert!(home.contains("href=\"/portal/registration/\""));
    let downloads = workspace.page("downloads/index.html");
    assert!(downloads.contains("href=\"/portal/downloads/complaint-template.xlsx\""));
    assert!(
        downloads.contains(
            "<link rel=\"canonical\" href=\"https://hfs.illinois.gov/portal/downloads/\">"
        )
    );
    assert!(
        workspace
            .page("before-you-submit/index.html")
            .contains("<script src=\"/portal/assets/calculator.")
    );
    let alias = workspace.page("old/place/index.html");
    assert!(
        alias.contains("<meta http-equiv=\"refresh\" content=\"0; url=/portal/moved/\">"),
        "{alias}"
    );
    let moved = workspace.page("moved/index.html");
    assert!(moved.contains("href=\"/portal/downloads/#the-three-spreadsheets\""));

    let sitemap = workspace.page("sitemap.xml");
    let locs: Vec<&str> = sitemap
        .split("<loc>")
        .skip(1)
        .map(|rest| &rest[..rest.find("</loc>").unwrap()])
        .collect();
    assert_eq!(locs.len(), 11);
    assert!(locs.contains(&"https://hfs.illinois.gov/portal/"));
    assert!(locs.contains(&"https://hfs.illinois.gov/portal/downloads/"));
    assert!(
        locs.iter()
            .all(|loc| loc.starts_with("https://hfs.illinois.gov/portal/")),
        "{locs:?}"
    );
    assert!(
        workspace
            .page("robots.txt")
            .contains("Sitemap: https://hfs.illinois.gov/portal/sitemap.xml")
    );

    // Without the trailing slash, the same site.
    let config =
        Config::parse(&workspace.config_text("https://hfs.illinois.gov/portal", "")).unwrap();
    workspace.build(&config, false).unwrap();
    assert_eq!(workspace.page("index.html"), home);
}

#[test]
fn a_broken_link_in_a_template_is_reported_once_against_the_template() {
    let workspace = Workspace::new();
    let base = std::fs::read_to_string(workspace.path("templates/base.html")).unwrap();
    let broken = base.replace(
        "<p>{{ site.agency }}. This site holds no patient information.</p>",
        "<p>{{ site.agency }}. <a href=\"/contcat/\">Contact</a>.</p>",
    );
    assert_ne!(broken, base, "the footer of base.html moved");
    workspace.write("templates/base.html", &broken);
    workspace.write(
        "content/broken.md",
        "+++\ntitle = \"Broken\"\ndescription = \"A page with a bad link.\"\n+++\nSee [the downloads](/downlaods/).\n",
    );
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert_eq!(error.matches("/contcat/").count(), 1, "{error}");
    assert!(
        error.contains("templates/base.html: broken link /contcat/ (no such page or file)"),
        "{error}"
    );
    // A link in a page's own markdown is still the page's.
    assert!(
        error.contains("content/broken.md: broken link /downlaods/ (no such page or file)"),
        "{error}"
    );
    assert!(error.contains("2 broken internal links"), "{error}");
}

#[test]
fn an_alias_claimed_twice_or_shadowing_a_page_fails_naming_both_pages() {
    let workspace = Workspace::new();
    let page = |title: &str, aliases: &str| {
        format!(
            "+++\ntitle = \"{title}\"\ndescription = \"{title}.\"\naliases = [{aliases}]\n+++\n{title}.\n"
        )
    };
    workspace.write("content/first.md", &page("First", "\"/old/\""));
    workspace.write("content/second.md", &page("Second", "\"old\""));
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("first.md") && error.contains("second.md") && error.contains("/old/"),
        "{error}"
    );
    assert!(!workspace.path("site/old/index.html").exists());

    // An alias onto another page's URL.
    workspace.write("content/second.md", &page("Second", "\"/contact/\""));
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("second.md") && error.contains("contact.md") && error.contains("/contact/"),
        "{error}"
    );

    // An alias onto the page's own URL.
    workspace.write("content/second.md", &page("Second", "\"/second\""));
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("second.md") && error.contains("/second/"),
        "{error}"
    );

    // Apart, they build.
    workspace.write("content/second.md", &page("Second", "\"/older/\""));
    workspace.build(&workspace.config(""), false).unwrap();
    assert!(workspace.page("old/index.html").contains("url=/first/"));
    assert!(workspace.page("older/index.html").contains("url=/second/"));
}

#[test]
fn a_front_matter_error_counts_lines_from_the_top_of_the_file() {
    let workspace = Workspace::new();
    workspace.write(
        "content/odd.md",
        "+++\ntitle = \"Odd\"\ndescription = \"Odd.\"\ncolour = \"red\"\n+++\nText.\n",
    );
    let error = format!(
        "{:#}",
        workspace.build(&workspace.config(""), false).unwrap_err()
    );
    assert!(
        error.contains("odd.md") && error.contains("colour") && error.contains("line 4"),
        "{error}"
    );
    assert!(!error.contains("line 3"), "{error}");
}

#[test]
fn the_site_says_how_to_mail_patient_data_safely_and_cites_140_75() {
    let workspace = Workspace::new();
    let config = workspace.config("");
    workspace.build(&config, false).unwrap();
    let how = workspace.page("how-to-submit/index.html");
    let how = main_of(&how);
    for words in [
        "encrypted email",
        "TLS",
        "subject",
        "body",
        "only in the attached complaint template",
    ] {
        assert!(how.contains(words), "how-to-submit: no {words:?}");
    }
    assert!(how.contains("extension"), "how-to-submit: no extension");

    // Every page that states the timeframes after the forward cites the rule.
    let presented = format!(
        "within {} state business days",
        config.rules.presented_within_business_days
    );
    let mut stating = Vec::new();
    for file in html_files(&workspace.path("site")) {
        let html = std::fs::read_to_string(&file).unwrap();
        let main = main_of(&html);
        if main.contains(&presented) {
            assert!(
                main.contains("89 Ill. Adm. Code 140.75"),
                "{} states the timeframes without citing 140.75",
                file.display()
            );
            stating.push(file);
        }
    }
    assert!(stating.len() >= 2, "{stating:?}");
}

/// `portal serve` running in a workspace.
struct Served {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    address: String,
}

impl Served {
    /// Starts `portal serve --port 0` in the workspace and waits until it serves.
    fn start(workspace: &Workspace) -> Served {
        use std::io::BufRead as _;
        workspace.write(
            "portal.toml",
            &workspace.config_text("https://portal.example.gov", ""),
        );
        let child = std::process::Command::new(crate::common::portal_bin())
            .args(["serve", "--port", "0"])
            .current_dir(workspace.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("portal serve starts");
        // Owned from here on: a failed start still ends the child (`Drop`).
        let mut served = Served {
            child,
            address: String::new(),
        };
        let stderr = std::io::BufReader::new(served.child.stderr.take().unwrap());
        let (lines, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut said = Vec::new();
        loop {
            let line = heard
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("portal serve did not say where it serves: {said:?}"));
            if let Some((_, rest)) = line.split_once(" at http://") {
                served.address = rest.split('/').next().unwrap().to_owned();
                return served;
            }
            said.push(line);
        }
    }

    /// The body of `GET path`.
    fn get(&self, path: &str) -> String {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// Sends `signal` and waits for the exit.
    fn stop(mut self, signal: i32) {
        // SAFETY: kill has no memory effects; the pid is our child's.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "the signal is sent");
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_reloads_the_browser_but_leaves_no_reload_script_in_the_site() {
    let workspace = Workspace::new();
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let served = Served::start(&workspace);
        let page = served.get("/contact/");
        assert!(
            page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"),
            "{page}"
        );
        assert!(
            page.contains("fetch(\"/__reload\""),
            "served without live reload: {page}"
        );
        assert!(page.trim_end().ends_with("</html>"), "{page}");
        let missing = served.get("/no-such-page/");
        assert!(
            missing.contains("fetch(\"/__reload\""),
            "the 404 page: {missing}"
        );
        assert!(served.get("/__reload").ends_with("\r\n\r\n1"));
        served.stop(signal);

        let mut files = 0;
        for entry in walkdir::WalkDir::new(workspace.path("site")) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("__reload"),
                    "after serve got signal {signal}, {} still polls /__reload",
                    entry.path().display()
                );
                files += 1;
            }
        }
        assert!(files > 9, "the site was built ({files} files)");
    }
}
