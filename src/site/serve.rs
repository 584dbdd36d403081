//! `portal serve`: build, serve `site/` on 127.0.0.1, rebuild when the content, the
//! templates or the config change, and reload the browser (the pages poll
//! `/__reload`, which answers with the build generation).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::{BuildOptions, BuildReport, build};
use crate::config::Config;

/// How often the sources are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_millis(300);

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
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|error| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let address = server
        .server_addr()
        .to_ip()
        .map_or_else(|| format!("127.0.0.1:{port}"), |a| a.to_string());
    on_event(&describe(&report));
    on_event(&format!(
        "Serving {} at http://{address}/ (Ctrl-C to stop)",
        report.output.display()
    ));

    let generation = Arc::new(AtomicU64::new(1));
    let root = config.site.output_dir.clone();
    let on_event = Arc::new(on_event);
    {
        let generation = Arc::clone(&generation);
        let on_event = Arc::clone(&on_event);
        let watched = vec![
            config.site.content_dir.clone(),
            config.site.templates_dir.clone(),
            config_path.clone(),
        ];
        std::thread::spawn(move || {
            let mut last = fingerprint(&watched);
            let mut config = config;
            loop {
                std::thread::sleep(WATCH_EVERY);
                let now = fingerprint(&watched);
                if now == last {
                    continue;
                }
                last = now;
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
        let response = respond(&root, request.url(), generation.load(Ordering::SeqCst));
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

/// The newest modification time and the number of files under the watched paths.
fn fingerprint(paths: &[PathBuf]) -> (Option<SystemTime>, usize) {
    let mut newest = None;
    let mut count = 0;
    for path in paths {
        for entry in walkdir::WalkDir::new(path).into_iter().flatten() {
            count += 1;
            if let Ok(modified) = entry
                .metadata()
                .ok()
                .and_then(|metadata| metadata.modified().ok())
                .ok_or(())
            {
                newest = newest.max(Some(modified));
            }
        }
    }
    (newest, count)
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn respond(root: &Path, url: &str, generation: u64) -> Response {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    if path == "/__reload" {
        return with_type(
            tiny_http::Response::from_string(generation.to_string()),
            "text/plain; charset=utf-8",
        );
    }
    match resolve(root, path) {
        Some(file) => match std::fs::read(&file) {
            Ok(bytes) => with_type(tiny_http::Response::from_data(bytes), &content_type(&file)),
            Err(_) => not_found(root),
        },
        None => not_found(root),
    }
}

fn not_found(root: &Path) -> Response {
    let bytes = std::fs::read(root.join("404.html")).unwrap_or_else(|_| b"Not found".to_vec());
    with_type(
        tiny_http::Response::from_data(bytes).with_status_code(404),
        "text/html; charset=utf-8",
    )
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
}
