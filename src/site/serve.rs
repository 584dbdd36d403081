//! `portal serve`: build, serve `site/` on 127.0.0.1 (below the path of `base_url`, as
//! it will be published), rebuild when the content, the templates or the config change
//! (told by the operating system's file notifications), and reload the browser: each
//! page is served with a script that polls `/__reload`, which answers with the build
//! generation. The script is added to the page in memory as it is sent, never written
//! to `site/`, so however `serve` ends, the site it leaves is the one `build` makes.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};

use super::{BuildOptions, BuildReport, build};
use crate::config::Config;

/// How long changes are gathered after the first one, so that a burst (an editor's
/// save, a checkout) brings one rebuild.
const SETTLE: Duration = Duration::from_millis(100);

/// The live-reload script: polls `/__reload` and reloads the page when the build
/// generation it answers changes.
const LIVE_RELOAD: &str = r#"<script>
(function () {
  var seen = null;
  function poll() {
    fetch("/__reload", { cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (generation) {
        if (seen === null) { seen = generation; } else if (generation !== seen) { location.reload(); }
      })
      .catch(function () {})
      .finally(function () { setTimeout(poll, 500); });
  }
  poll();
})();
</script>
"#;

/// Serves the site until the process is stopped. `on_build` hears of every build
/// (the first one included) and of every failed rebuild.
pub fn serve(
    config: Config,
    config_path: PathBuf,
    options: BuildOptions,
    port: u16,
    on_event: impl Fn(&str) + Send + Sync + 'static,
) -> Result<()> {
    let report = build(&config, &options)?;
    // Watching before serving: no edit made after the first page is seen goes unseen.
    let sources = Sources::watch(&config, &config_path)?;
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|error| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let address = server
        .server_addr()
        .to_ip()
        .map_or_else(|| format!("127.0.0.1:{port}"), |a| a.to_string());
    on_event(&describe(&report));
    let served = Served {
        root: config.site.output_dir.clone(),
        base_path: config.site.base_path().to_owned(),
        live_reload: options.live_reload,
    };
    on_event(&format!(
        "Serving {} at http://{address}{}/ (Ctrl-C to stop)",
        report.output.display(),
        served.base_path
    ));

    let generation = Arc::new(AtomicU64::new(1));
    let on_event = Arc::new(on_event);
    {
        let generation = Arc::clone(&generation);
        let on_event = Arc::clone(&on_event);
        std::thread::spawn(move || {
            let mut config = config;
            while sources.next_change() {
                if config_path.exists() {
                    match Config::from_file(&config_path) {
                        Ok(fresh) => config = fresh,
                        Err(error) => {
                            on_event(&format!("rebuild skipped: {error:#}"));
                            continue;
                        }
                    }
                }
                match build(&config, &options) {
                    Ok(report) => {
                        generation.fetch_add(1, Ordering::SeqCst);
                        on_event(&describe(&report));
                    }
                    Err(error) => on_event(&format!(
                        "rebuild failed, still serving the last good site: {error:#}"
                    )),
                }
            }
        });
    }

    for request in server.incoming_requests() {
        let response = served.respond(request.url(), generation.load(Ordering::SeqCst));
        // A client that hung up is no reason to stop serving.
        let _ = request.respond(response);
    }
    Ok(())
}

/// One line about a build.
pub fn describe(report: &BuildReport) -> String {
    let steps: Vec<String> = report
        .steps
        .iter()
        .map(|(name, took)| format!("{name} {:.1} ms", took.as_secs_f64() * 1000.0))
        .collect();
    format!(
        "Built {} pages and {} redirects into {} in {:.1} ms ({})",
        report.pages,
        report.aliases,
        report.output.display(),
        report.total.as_secs_f64() * 1000.0,
        steps.join(", ")
    )
}

/// The site's sources under watch: the content and templates folders (recursively),
/// the config file and the statistics file intake rewrites (each through its folder,
/// the only way to see a file replaced by a rename).
struct Sources {
    /// Kept for its notifications; dropping it ends them.
    _watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    folders: Vec<PathBuf>,
    /// The config file and the statistics file.
    files: Vec<PathBuf>,
}

impl Sources {
    fn watch(config: &Config, config_path: &Path) -> Result<Sources> {
        // Absolute as the watcher reports them, so that event paths compare.
        let absolute = |path: &Path| {
            std::path::absolute(path).with_context(|| format!("cannot find {}", path.display()))
        };
        let folders = [&config.site.content_dir, &config.site.templates_dir]
            .into_iter()
            .map(|folder| absolute(folder))
            .collect::<Result<Vec<_>>>()?;
        let config_file = absolute(config_path)?;
        let config_folder = config_file
            .parent()
            .map_or_else(|| config_file.clone(), Path::to_path_buf);

        let (sender, events) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(sender)
            .context("cannot watch the site's sources for changes")?;
        for folder in &folders {
            watcher
                .watch(folder, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {} for changes", folder.display()))?;
        }
        watcher
            .watch(&config_folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {} for changes", config_folder.display()))?;
        let statistics_file = absolute(&config.store.statistics_file)?;
        // No folder yet: no intake has run here, and the page says no figures yet.
        if let Some(folder) = statistics_file.parent().filter(|folder| folder.is_dir()) {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .with_context(|| format!("cannot watch {} for changes", folder.display()))?;
        }
        Ok(Sources {
            _watcher: watcher,
            events,
            folders,
            files: vec![config_file, statistics_file],
        })
    }

    /// Waits for a change to the sources, then gathers the rest of its burst. False
    /// when the watcher has stopped.
    fn next_change(&self) -> bool {
        loop {
            let Ok(first) = self.events.recv() else {
                return false;
            };
            let mut changed = self.is_change(&first);
            let settled = Instant::now() + SETTLE;
            while let Some(left) = settled.checked_duration_since(Instant::now()) {
                match self.events.recv_timeout(left) {
                    Ok(event) => changed |= self.is_change(&event),
                    Err(_) => break,
                }
            }
            if changed {
                return true;
            }
        }
    }

    /// A change to a watched source. Reads are not (the build itself opens every
    /// source), nor is anything else in the config file's folder, such as the site
    /// being written beside it. A failed notification counts: better a rebuild too
    /// many than a stale page.
    fn is_change(&self, event: &notify::Result<notify::Event>) -> bool {
        let Ok(event) = event else { return true };
        if matches!(event.kind, EventKind::Access(_)) {
            return false;
        }
        event.paths.iter().any(|path| {
            self.files.contains(path) || self.folders.iter().any(|folder| path.starts_with(folder))
        })
    }
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

/// What the server answers from.
struct Served {
    /// The site folder.
    root: PathBuf,
    /// The path of `base_url` (`/portal`, or empty): the site is served below it.
    base_path: String,
    /// Add [`LIVE_RELOAD`] to every page sent.
    live_reload: bool,
}

impl Served {
    fn respond(&self, url: &str, generation: u64) -> Response {
        let path = url.split(['?', '#']).next().unwrap_or("/");
        if path == "/__reload" {
            return with_type(
                tiny_http::Response::from_string(generation.to_string()),
                "text/plain; charset=utf-8",
            );
        }
        let below = path
            .strip_prefix(self.base_path.as_str())
            .filter(|below| below.is_empty() || below.starts_with('/'));
        let file = below.and_then(|below| resolve(&self.root, below));
        match file.map(|file| (std::fs::read(&file), file)) {
            Some((Ok(bytes), file)) => self.answer(bytes, &content_type(&file), 200),
            _ => self.not_found(),
        }
    }

    fn not_found(&self) -> Response {
        let bytes =
            std::fs::read(self.root.join("404.html")).unwrap_or_else(|_| b"Not found".to_vec());
        self.answer(bytes, "text/html; charset=utf-8", 404)
    }

    /// A file as sent: a page with the live-reload script when it is on.
    fn answer(&self, mut bytes: Vec<u8>, content_type: &str, status: u16) -> Response {
        if self.live_reload && content_type.starts_with("text/html") {
            bytes = with_live_reload(bytes);
        }
        with_type(
            tiny_http::Response::from_data(bytes).with_status_code(status),
            content_type,
        )
    }
}

/// A page with [`LIVE_RELOAD`] before its `</body>` (at its end when it has none).
fn with_live_reload(mut page: Vec<u8>) -> Vec<u8> {
    let end = page
        .windows(b"</body>".len())
        .rposition(|window| window.eq_ignore_ascii_case(b"</body>"))
        .unwrap_or(page.len());
    page.splice(end..end, LIVE_RELOAD.bytes());
    page
}

fn with_type(response: Response, content_type: &str) -> Response {
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
    };
    response
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
}

/// The file a URL path names under `root`, never outside it.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let mut file = root.to_path_buf();
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part if part.contains('\\') || part.contains('\0') => return None,
            part => file.push(part),
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

/// The type of a file by its extension, with the charset of text.
fn content_type(path: &Path) -> Cow<'static, str> {
    let Some(guessed) = mime_guess::from_path(path).first_raw() else {
        return Cow::Borrowed("application/octet-stream");
    };
    match guessed {
        // The older name of the same type; browsers want it as text.
        "application/javascript" => Cow::Borrowed("text/javascript; charset=utf-8"),
        // Every text file the site writes is UTF-8.
        text if text.starts_with("text/") => Cow::Owned(format!("{text}; charset=utf-8")),
        other => Cow::Borrowed(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/index.html"), "x").unwrap();
        assert_eq!(
            resolve(root.path(), "/a/"),
            Some(root.path().join("a/index.html"))
        );
        assert_eq!(
            resolve(root.path(), "/a"),
            Some(root.path().join("a/index.html"))
        );
        assert_eq!(resolve(root.path(), "/../etc/passwd"), None);
        assert_eq!(resolve(root.path(), "/%2e%2e/etc/passwd"), None);
        assert_eq!(
            resolve(root.path(), "/a/%2e%2e%2f%2e%2e%2fetc/passwd"),
            None
        );
        assert_eq!(resolve(root.path(), "/a%2F..%2F..%2Fetc%2Fpasswd"), None);
        assert_eq!(
            resolve(root.path(), "/a%2findex.html"),
            Some(root.path().join("a/index.html"))
        );
        assert_eq!(resolve(root.path(), "/a/%ff%fe"), None, "not UTF-8");
        assert_eq!(resolve(root.path(), "/a/%00index.html"), None);
        assert_eq!(resolve(root.path(), "/a%5c..%5c..%5cetc"), None);
        assert_eq!(resolve(root.path(), "/missing"), None);
    }

    #[test]
    fn names_decode_as_utf8() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("clä ims.txt"), "x").unwrap();
        assert_eq!(
            resolve(root.path(), "/cl%C3%A4%20ims.txt"),
            Some(root.path().join("clä ims.txt"))
        );
    }

    #[test]
    fn the_live_reload_script_goes_before_the_end_of_the_body() {
        let page = with_live_reload(b"<html><body><p>x</p></BODY>\n</html>\n".to_vec());
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with("<html><body><p>x</p><script>\n"), "{page}");
        assert!(page.ends_with("</script>\n</BODY>\n</html>\n"), "{page}");
        let fragment = String::from_utf8(with_live_reload(b"<p>x</p>".to_vec())).unwrap();
        assert_eq!(fragment, format!("<p>x</p>{LIVE_RELOAD}"));
    }

    #[test]
    fn the_site_is_served_below_the_base_path_with_live_reload_on_pages_only() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/index.html"), "<body>A</body>").unwrap();
        std::fs::write(root.path().join("404.html"), "<body>Missing</body>").unwrap();
        std::fs::write(root.path().join("robots.txt"), "User-agent: *").unwrap();
        let served = Served {
            root: root.path().to_path_buf(),
            base_path: "/portal".to_owned(),
            live_reload: true,
        };
        let body = |url: &str| {
            let response = served.respond(url, 7);
            let status = response.status_code().0;
            let mut body = String::new();
            std::io::Read::read_to_string(&mut response.into_reader(), &mut body).unwrap();
            (status, body)
        };
        let (status, page) = body("/portal/a/");
        assert_eq!(status, 200);
        assert!(page.starts_with("<body>A<script>") && page.contains("/__reload"));
        assert_eq!(
            body("/portal/robots.txt"),
            (200, "User-agent: *".to_owned())
        );
        for outside in ["/a/", "/portala/", "/robots.txt"] {
            let (status, page) = body(outside);
            assert_eq!(status, 404, "{outside}");
            assert!(
                page.starts_with("<body>Missing<script>"),
                "{outside}: {page}"
            );
        }
        assert_eq!(body("/__reload"), (200, "7".to_owned()));
        // Nothing was written.
        assert_eq!(
            std::fs::read_to_string(root.path().join("a/index.html")).unwrap(),
            "<body>A</body>"
        );
    }

    #[test]
    fn types_by_extension() {
        for (name, expected) in [
            ("index.html", "text/html; charset=utf-8"),
            ("style.1a2b.css", "text/css; charset=utf-8"),
            ("calculator.js", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("sitemap.xml", "text/xml; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("logo.png", "image/png"),
            (
                "complaint-template.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            ("LICENSE", "application/octet-stream"),
            ("data.unknown-extension", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    /// Sources under watch in a fresh folder laid out as `portal serve` finds it.
    fn sources_in(dir: &Path) -> Sources {
        for folder in ["content", "templates", "site"] {
            std::fs::create_dir_all(dir.join(folder)).unwrap();
        }
        std::fs::write(dir.join("portal.toml"), "").unwrap();
        let mut config = Config::embedded();
        config.site.content_dir = dir.join("content");
        config.site.templates_dir = dir.join("templates");
        config.site.output_dir = dir.join("site");
        std::fs::create_dir_all(dir.join("var")).unwrap();
        config.store.statistics_file = dir.join("var/statistics.json");
        Sources::watch(&config, &dir.join("portal.toml")).unwrap()
    }

    #[test]
    fn only_the_sources_count_as_changes() {
        use notify::event::{AccessKind, CreateKind, ModifyKind};
        let dir = tempfile::tempdir().unwrap();
        let sources = sources_in(dir.path());
        let event = |kind, path: PathBuf| Ok(notify::Event::new(kind).add_path(path));
        let modified = EventKind::Modify(ModifyKind::Any);
        let root = std::path::absolute(dir.path()).unwrap();
        assert!(sources.is_change(&event(modified, root.join("content/contact.md"))));
        assert!(sources.is_change(&event(modified, root.join("templates/partials/x.html"))));
        assert!(sources.is_change(&event(modified, root.join("portal.toml"))));
        assert!(sources.is_change(&event(
            EventKind::Create(CreateKind::File),
            root.join("./content/new.md")
        )));
        // The build reads every source; reading is no change.
        assert!(!sources.is_change(&event(
            EventKind::Access(AccessKind::Any),
            root.join("content/contact.md")
        )));
        // Beside the config file: the site being written, an editor's backup.
        assert!(!sources.is_change(&event(modified, root.join(".site.building/index.html"))));
        assert!(!sources.is_change(&event(modified, root.join("site"))));
        assert!(!sources.is_change(&event(modified, root.join("portal.toml~"))));
        // The statistics file intake rewrites, and nothing else beside it.
        assert!(sources.is_change(&event(modified, root.join("var/statistics.json"))));
        assert!(!sources.is_change(&event(modified, root.join("var/.statistics.json.tmp"))));
    }

    #[test]
    fn new_statistics_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let sources = sources_in(dir.path());
        let (noticed, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = noticed.send(sources.next_change());
        });
        let staged = dir.path().join("var/statistics.json.tmp");
        std::fs::write(&staged, "{}").unwrap();
        std::fs::rename(&staged, dir.path().join("var/statistics.json")).unwrap();
        assert_eq!(heard.recv_timeout(Duration::from_secs(10)), Ok(true));
    }

    #[test]
    fn editing_content_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let sources = sources_in(dir.path());
        let (noticed, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = noticed.send(sources.next_change());
        });
        std::fs::write(dir.path().join("site/index.html"), "built").unwrap();
        std::fs::write(dir.path().join("content/contact.md"), "edited").unwrap();
        assert_eq!(heard.recv_timeout(Duration::from_secs(10)), Ok(true));
    }
}
