//! The public statistics page: `portal build` turns `[store] statistics_file` into
//! `/statistics/` with its charts and tables, and publishes `statistics.json` (the
//! file as it is) and `statistics.csv` beside it; without the file the page says no
//! figures are published yet; a malformed file fails the build, naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use portal::config::Config;
use portal::forms::report::Reason;
use portal::site::{BuildOptions, build};
use portal::statistics::{MonthFigures, RegistrationFigures, Statistics};
use quick_xml::events::Event;

use crate::common::{XorShift, date};

/// A site built from the shipped content and templates into a temporary folder,
/// with the statistics file in that folder.
struct Site {
    dir: tempfile::TempDir,
    config: Config,
}

impl Site {
    fn new(base_url: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut config = crate::common::config();
        config.site.base_url = base_url.to_owned();
        config.site.content_dir = root.join("content");
        config.site.templates_dir = root.join("templates");
        config.site.output_dir = dir.path().join("site");
        config.store.statistics_file = dir.path().join("var/statistics.json");
        Site { dir, config }
    }

    fn statistics_file(&self) -> &Path {
        &self.config.store.statistics_file
    }

    fn write_statistics(&self, text: &str) {
        std::fs::create_dir_all(self.statistics_file().parent().unwrap()).unwrap();
        std::fs::write(self.statistics_file(), text).unwrap();
    }

    fn build(&self) -> anyhow::Result<portal::site::BuildReport> {
        build(
            &self.config,
            &BuildOptions {
                drafts: false,
                live_reload: false,
                today: date("2026-11-30"),
            },
        )
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join("site").join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|error| panic!("{relative}: {error}"))
    }
}

/// Twelve months of made-up figures for every configured MCO and `mco: null`, as
/// intake writes them: months oldest first, MCOs in configuration order, null last.
fn figures(config: &Config, as_of: NaiveDate, seed: u64) -> Statistics {
    let mut random = XorShift::new(seed);
    let first = as_of.with_day(1).unwrap() - Months::new(11);
    let months: Vec<String> = (0..12)
        .map(|n| (first + Months::new(n)).format("%Y-%m").to_string())
        .collect();
    let mut codes: Vec<Option<&str>> = config
        .mcos
        .iter()
        .map(|mco| Some(mco.code.as_str()))
        .collect();
    codes.push(None);
    let mut rows = Vec::new();
    for month in &months {
        for code in &codes {
            let mut row = MonthFigures::empty(month, *code);
            row.complaints = random.below(40);
            for count in row.lines_closed.values_mut() {
                *count = random.below(6);
            }
            if code.is_some() {
                row.lines_forwarded = random.below(150);
                row.proposals_on_time = random.below(30);
                row.proposals_late = random.below(5);
                row.overdue = random.below(4);
                row.extensions = random.below(3);
                row.median_days_to_proposal =
                    (random.below(5) > 0).then(|| random.below(400) as f64 / 10.0);
            }
            rows.push(row);
        }
    }
    Statistics {
        as_of,
        registrations: months
            .iter()
            .map(|month| RegistrationFigures {
                month: month.clone(),
                received: random.below(20),
                approved: random.below(15),
                denied: random.below(4),
            })
            .collect(),
        months: rows,
    }
}

/// The rows of the table with `id` on the page, each cell's text; header and footer
/// rows included. The table is read as XML: the page writes it well-formed.
pub fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + html[start..].find("</table>").unwrap() + "</table>".len();
    let mut reader = quick_xml::Reader::from_str(&html[start..end]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell: Option<String> = None;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|error| panic!("{id}: {error}"))
        {
            Event::Start(tag) if tag.name().as_ref() == "tr" => rows.push(Vec::new()),
            Event::Start(tag) if matches!(tag.name().as_ref(), "th" | "td") => {
                cell = Some(String::new());
            }
            Event::End(tag) if matches!(tag.name().as_ref(), "th" | "td") => {
                rows.last_mut()
                    .unwrap()
                    .push(cell.take().unwrap().trim().to_owned());
            }
            Event::Text(text) => {
                if let Some(cell) = &mut cell {
                    cell.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(cell) = &mut cell {
                    let entity = format!("&{};", reference.xml10_content());
                    cell.push_str(&quick_xml::escape::unescape(&entity).unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    rows
}

/// The page's name of a month: `2026-11` → `November 2026`.
fn month_name(month: &str) -> String {
    date(&format!("{month}-01")).format("%B %Y").to_string()
}

fn mco_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config.mcos.iter().map(|mco| mco.name.clone()).collect();
    names.push("MCO not known".into());
    names
}

/// Sums `figure` over the rows of the file that `keep` keeps.
fn sum(
    statistics: &Statistics,
    keep: impl Fn(&MonthFigures) -> bool,
    figure: impl Fn(&MonthFigures) -> u64,
) -> String {
    statistics
        .months
        .iter()
        .filter(|row| keep(row))
        .map(figure)
        .sum::<u64>()
        .to_string()
}

#[test]
fn the_pages_tables_hold_the_files_numbers() {
    let site = Site::new("https://portal.example.gov");
    let statistics = figures(&site.config, date("2026-11-30"), 13);
    site.write_statistics(&statistics.to_json());
    site.build().unwrap();
    let page = site.read("statistics/index.html");
    assert!(
        page.contains("Figures as of <time datetime=\"2026-11-30\">November 30, 2026</time>"),
        "{page}"
    );
    assert!(page.contains("from December 2025 to November 2026"));
    let names = mco_names(&site.config);
    let codes: Vec<Option<String>> = site
        .config
        .mcos
        .iter()
        .map(|mco| Some(mco.code.clone()))
        .chain([None])
        .collect();

    // Complaints: a row per month, a column per MCO (by its configured name).
    let complaints = table(&page, "complaints-table");
    let mut header = vec!["Month".to_owned()];
    header.extend(names.iter().cloned());
    header.push("All MCOs".into());
    assert_eq!(complaints[0], header);
    assert_eq!(complaints.len(), 1 + 12 + 1);
    for (row, month) in complaints[1..13]
        .iter()
        .zip(statistics.months.chunks(codes.len()))
    {
        let mut expected = vec![month_name(&month[0].month)];
        expected.extend(month.iter().map(|figures| figures.complaints.to_string()));
        expected.push(
            month
                .iter()
                .map(|figures| figures.complaints)
                .sum::<u64>()
                .to_string(),
        );
        assert_eq!(row, &expected);
    }
    let mut totals = vec!["All months".to_owned()];
    totals.extend(
        codes
            .iter()
            .map(|code| sum(&statistics, |row| row.mco == *code, |row| row.complaints)),
    );
    totals.push(sum(&statistics, |_| true, |row| row.complaints));
    assert_eq!(complaints[13], totals);

    // Lines closed by reason, every reason by its plain name and code.
    let closed = table(&page, "closed-table");
    assert_eq!(closed.len(), 1 + Reason::WORDS.len() + 1);
    let by_code: BTreeMap<&str, &str> = closed[1..=Reason::WORDS.len()]
        .iter()
        .map(|row| (row[1].as_str(), row[2].as_str()))
        .collect();
    for word in Reason::WORDS {
        let expected = sum(&statistics, |_| true, |row| row.lines_closed[*word]);
        assert_eq!(
            by_code.get(word).copied(),
            Some(expected.as_str()),
            "{word}"
        );
    }
    assert_eq!(
        closed.last().unwrap()[2],
        sum(&statistics, |_| true, MonthFigures::lines_closed_total)
    );

    // Proposals, overdue and extensions per forwarded MCO.
    let proposals = table(&page, "proposals-table");
    assert_eq!(proposals.len(), 1 + site.config.mcos.len() + 1);
    for (row, mco) in proposals[1..].iter().zip(&site.config.mcos) {
        let code = Some(mco.code.clone());
        let of = |figure: fn(&MonthFigures) -> u64| sum(&statistics, |row| row.mco == code, figure);
        assert_eq!(
            row,
            &[
                mco.name.clone(),
                of(|row| row.proposals_on_time),
                of(|row| row.proposals_late),
                of(|row| row.overdue),
                of(|row| row.extensions),
            ]
        );
    }

    // Lines forwarded and closed per MCO.
    let lines = table(&page, "lines-table");
    for ((row, code), name) in lines[1..].iter().zip(&codes).zip(&names) {
        let of =
            |figure: fn(&MonthFigures) -> u64| sum(&statistics, |row| row.mco == *code, figure);
        assert_eq!(
            row,
            &[
                name.clone(),
                of(|row| row.complaints),
                of(|row| row.lines_forwarded),
                of(MonthFigures::lines_closed_total),
            ]
        );
    }

    // Medians as in the file, one decimal; "none" where there was no proposal.
    let medians = table(&page, "median-table");
    assert_eq!(medians.len(), 13);
    for (row, month) in medians[1..]
        .iter()
        .zip(statistics.months.chunks(codes.len()))
    {
        let mut expected = vec![month_name(&month[0].month)];
        expected.extend(month[..site.config.mcos.len()].iter().map(|figures| {
            figures
                .median_days_to_proposal
                .map_or_else(|| "none".to_owned(), |median| format!("{median:.1}"))
        }));
        assert_eq!(row, &expected);
    }

    // Registrations per month.
    let registrations = table(&page, "registrations-table");
    for (row, month) in registrations[1..13].iter().zip(&statistics.registrations) {
        assert_eq!(
            row,
            &[
                month_name(&month.month),
                month.received.to_string(),
                month.approved.to_string(),
                month.denied.to_string(),
            ]
        );
    }
}

#[test]
fn the_copies_are_the_file_and_its_csv_linked_and_in_the_sitemap() {
    let site = Site::new("https://portal.example.gov");
    let statistics = figures(&site.config, date("2026-11-30"), 7);
    // Written compactly, not as `to_json` would: the copy is the file as it is.
    let text = serde_json::to_string(&statistics).unwrap();
    site.write_statistics(&text);
    // The build passes its own link check with the page's links to both copies.
    site.build().unwrap();
    assert_eq!(site.read("statistics/statistics.json"), text);
    assert_eq!(site.read("statistics/statistics.csv"), statistics.to_csv());
    let page = site.read("statistics/index.html");
    assert!(
        page.contains("<a href=\"/statistics/statistics.csv\">"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"/statistics/statistics.json\">"),
        "{page}"
    );
    let sitemap = site.read("sitemap.xml");
    for url in [
        "/statistics/",
        "/statistics/statistics.json",
        "/statistics/statistics.csv",
    ] {
        assert!(
            sitemap.contains(&format!("<loc>https://portal.example.gov{url}</loc>")),
            "{url}: {sitemap}"
        );
    }
    // The page is in the navigation of every page.
    assert!(
        site.read("index.html")
            .contains("<li><a href=\"/statistics/\">Statistics</a></li>")
    );
}

#[test]
fn below_a_base_path_the_copies_are_linked_and_listed_there() {
    let site = Site::new("https://hfs.illinois.gov/portal/");
    site.write_statistics(&figures(&site.config, date("2026-11-30"), 3).to_json());
    site.build().unwrap();
    let page = site.read("statistics/index.html");
    assert!(
        page.contains("<a href=\"/portal/statistics/statistics.csv\">"),
        "{page}"
    );
    assert!(
        site.read("sitemap.xml")
            .contains("<loc>https://hfs.illinois.gov/portal/statistics/statistics.json</loc>")
    );
}

#[test]
fn the_charts_are_svg_images_with_a_title_and_a_description_and_no_script() {
    let site = Site::new("https://portal.example.gov");
    let statistics = figures(&site.config, date("2026-11-30"), 5);
    site.write_statistics(&statistics.to_json());
    site.build().unwrap();
    let page = site.read("statistics/index.html");
    assert!(!page.contains("<script"), "the page needs no JavaScript");
    let svgs: Vec<&str> = page
        .match_indices("<svg")
        .map(|(start, _)| &page[start..start + page[start..].find("</svg>").unwrap() + 6])
        .collect();
    assert_eq!(svgs.len(), 3);
    for svg in &svgs {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut labelled_by = Vec::new();
        let mut role = None;
        let mut ids = Vec::new();
        let mut rects = 0;
        loop {
            match reader
                .read_event()
                .unwrap_or_else(|error| panic!("{error}: {svg}"))
            {
                Event::Start(tag) | Event::Empty(tag) => {
                    let name = tag.name().as_ref().to_owned();
                    for attribute in tag.attributes() {
                        let attribute = attribute.unwrap();
                        let value = attribute.value.to_string();
                        match (name.as_str(), attribute.key.as_ref()) {
                            ("svg", "role") => role = Some(value),
                            ("svg", "aria-labelledby") => {
                                labelled_by = value.split(' ').map(str::to_owned).collect();
                            }
                            ("title" | "desc", "id") => ids.push(format!("{name}:{value}")),
                            _ => {}
                        }
                    }
                    if name == "rect" && tag.attributes().any(|a| a.unwrap().key.as_ref() == "y") {
                        rects += 1;
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(role.as_deref(), Some("img"), "{svg}");
        let [title, desc] = labelled_by.as_slice() else {
            panic!("aria-labelledby names the title and the description: {svg}")
        };
        assert_eq!(
            ids,
            [format!("title:{title}"), format!("desc:{desc}")],
            "{svg}"
        );
        assert!(rects > 0, "{svg}");
    }
    // One column per month and MCO; a bar per reason; three per forwarded MCO.
    assert_eq!(
        svgs[0].matches("<rect ").count(),
        12 * (site.config.mcos.len() + 1)
    );
    assert_eq!(svgs[1].matches("<rect ").count(), Reason::WORDS.len());
    assert!(svgs[2].contains("fill=\"url(#proposals-late)\""));
    let molina = site
        .config
        .mcos
        .iter()
        .find(|mco| mco.code == "MOLINA")
        .unwrap();
    assert!(svgs[0].contains(&format!(">{}</text>", molina.name)));
    assert!(svgs[2].contains(&format!(">{}</text>", molina.name)));
    let total: u64 = statistics.months.iter().map(|row| row.complaints).sum();
    assert!(svgs[0].contains(&format!("{total} in all")), "{}", svgs[0]);
}

#[test]
fn without_the_file_the_page_says_no_figures_are_published_yet() {
    let site = Site::new("https://portal.example.gov");
    site.build().unwrap();
    let page = site.read("statistics/index.html");
    assert!(page.contains("No figures are published yet."), "{page}");
    assert!(!page.contains("<svg"));
    assert!(!page.contains("statistics.csv"));
    assert!(!page.contains("statistics.json"));
    // The words explaining each figure are there all the same.
    assert!(page.contains("What the figures mean"));
    assert!(page.contains("Sent before the window opened (<code>too_early</code>)"));
    assert!(!site.path("statistics/statistics.json").exists());
    assert!(!site.path("statistics/statistics.csv").exists());
    let sitemap = site.read("sitemap.xml");
    assert!(sitemap.contains("<loc>https://portal.example.gov/statistics/</loc>"));
    assert!(!sitemap.contains("statistics.json"));
}

#[test]
fn a_file_without_months_builds_a_page_without_charts() {
    let site = Site::new("https://portal.example.gov");
    site.write_statistics("{\"as_of\": \"2026-11-30\", \"months\": [], \"registrations\": []}");
    site.build().unwrap();
    let page = site.read("statistics/index.html");
    assert!(
        page.contains("Figures as of <time datetime=\"2026-11-30\">"),
        "{page}"
    );
    assert!(
        page.contains("No complaints have been counted yet."),
        "{page}"
    );
    assert!(!page.contains("<svg"));
    assert!(page.contains("<a href=\"/statistics/statistics.csv\">"));
}

#[test]
fn a_malformed_file_fails_the_build_naming_it_and_keeps_the_last_site() {
    let site = Site::new("https://portal.example.gov");
    site.write_statistics(&figures(&site.config, date("2026-11-30"), 1).to_json());
    site.build().unwrap();
    let good = site.read("statistics/index.html");

    site.write_statistics("{\"as_of\": \"2026-11-30\", \"months\": [{\"month\": \"Nov\"}]}");
    let error = format!("{:#}", site.build().unwrap_err());
    let name = site.statistics_file().display().to_string();
    assert!(error.contains(&name), "{error}");
    assert!(error.contains("is not a statistics file"), "{error}");
    assert_eq!(site.read("statistics/index.html"), good);
}
