//! Markdown to HTML with pulldown-cmark (tables, footnotes, strikethrough), with an id
//! on every heading, an anchor link beside it, and the headings kept for the page's
//! table of contents.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use serde::Serialize;

/// A heading of the rendered page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub title: String,
}

/// A page body, rendered.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
}

/// Renders `markdown` to HTML.
pub fn render(markdown: &str) -> Rendered {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let mut output: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut headings = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    let mut index = 0;
    while index < events.len() {
        let Event::Start(Tag::Heading { level, id, .. }) = &events[index] else {
            output.push(events[index].clone());
            index += 1;
            continue;
        };
        let end = events[index..]
            .iter()
            .position(|event| matches!(event, Event::End(TagEnd::Heading(_))))
            .map_or(events.len(), |offset| index + offset);
        let inner = &events[index + 1..end];
        let title: String = inner
            .iter()
            .filter_map(|event| match event {
                Event::Text(text) | Event::Code(text) => Some(text.as_ref()),
                _ => None,
            })
            .collect();
        let wanted = id
            .as_ref()
            .map_or_else(|| slugify(&title), |id| id.to_string());
        let id = unique(wanted, &mut used_ids);
        let level_number = heading_number(*level);
        let mut inner_html = String::new();
        html::push_html(&mut inner_html, inner.iter().cloned());
        // The anchor sits beside the heading, not inside it, so the heading's
        // accessible name stays its own text.
        let heading = format!(
            "<div class=\"heading heading-{level_number}\"><h{level_number} id=\"{id}\">{inner_html}</h{level_number}><a class=\"anchor\" href=\"#{id}\" aria-label=\"Link to the section {label}\">#</a></div>\n",
            label = escape(&title),
        );
        output.push(Event::Html(CowStr::from(heading)));
        headings.push(Heading {
            level: level_number,
            id,
            title,
        });
        index = end + 1;
    }
    let mut html_text = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut html_text, output.into_iter());
    Rendered {
        html: html_text,
        headings,
    }
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// `When you can submit` → `when-you-can-submit`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "section".to_owned()
    } else {
        slug
    }
}

fn unique(wanted: String, used: &mut Vec<String>) -> String {
    let mut id = wanted.clone();
    let mut n = 1;
    while used.contains(&id) {
        id = format!("{wanted}-{n}");
        n += 1;
    }
    used.push(id.clone());
    id
}

/// HTML-escapes text for an attribute.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_ids_anchors_and_toc_entries() {
        let rendered = render(
            "## When you can submit\n\ntext\n\n### The `tracking` number\n\n## When you can submit\n",
        );
        assert_eq!(
            rendered.headings,
            [
                Heading {
                    level: 2,
                    id: "when-you-can-submit".into(),
                    title: "When you can submit".into()
                },
                Heading {
                    level: 3,
                    id: "the-tracking-number".into(),
                    title: "The tracking number".into()
                },
                Heading {
                    level: 2,
                    id: "when-you-can-submit-1".into(),
                    title: "When you can submit".into()
                },
            ]
        );
        assert!(rendered.html.contains(
            "<h2 id=\"when-you-can-submit\">When you can submit</h2><a class=\"anchor\" href=\"#when-you-can-submit\""
        ));
        assert!(rendered.html.contains("<code>tracking</code>"));
    }

    #[test]
    fn tables_and_footnotes() {
        let rendered =
            render("| a | b |\n|---|---|\n| 1 | 2 |\n\nNote[^1].\n\n[^1]: The footnote.\n");
        assert!(rendered.html.contains("<table>"));
        assert!(rendered.html.contains("<th>a</th>"));
        assert!(rendered.html.contains("footnote-definition"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("The 30–60 day window"), "the-30-60-day-window");
        assert_eq!(slugify("  HIPAA: what we expect  "), "hipaa-what-we-expect");
        assert_eq!(slugify("!!!"), "section");
    }
}
