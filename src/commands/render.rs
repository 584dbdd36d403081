//! The one renderer of staff output: JSON for scripts, plain-text tables and field
//! lists for people. Every cell passes through [`plain`], so control characters that
//! mail can smuggle into a sender or subject never reach the terminal.

use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use crate::store::Delivery;

/// Pretty JSON and a newline.
pub(super) fn json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// A list as a JSON array (`--json`), or as a table with a count line, or a sentence
/// when there is nothing to show.
pub(super) struct Listing<'a> {
    /// Printed when the list is empty, e.g. "No tickets."
    pub empty: &'a str,
    pub headers: &'a [&'a str],
    /// The noun counted at the end, singular and plural: ("ticket", "tickets").
    pub noun: (&'a str, &'a str),
}

impl Listing<'_> {
    /// Prints the list, ending a table with "N nouns."
    pub fn print<'i, T, V: Serialize>(
        &self,
        out: &mut dyn Write,
        as_json: bool,
        items: &'i [T],
        view: impl Fn(&'i T) -> V,
        row: impl Fn(&T) -> Vec<String>,
    ) -> Result<()> {
        self.print_with(out, as_json, items, view, row, |_| String::new())
    }

    /// As [`Listing::print`], with `more` after the count ("N nouns: {more}.") when
    /// it says anything.
    pub fn print_with<'i, T, V: Serialize>(
        &self,
        out: &mut dyn Write,
        as_json: bool,
        items: &'i [T],
        view: impl Fn(&'i T) -> V,
        row: impl Fn(&T) -> Vec<String>,
        more: impl Fn(&[T]) -> String,
    ) -> Result<()> {
        if as_json {
            let views: Vec<V> = items.iter().map(view).collect();
            return json(out, &views);
        }
        if items.is_empty() {
            writeln!(out, "{}", self.empty)?;
            return Ok(());
        }
        table(out, "", self.headers, items.iter().map(row).collect())?;
        let noun = if items.len() == 1 {
            self.noun.0
        } else {
            self.noun.1
        };
        let more = more(items);
        if more.is_empty() {
            writeln!(out, "{} {noun}.", items.len())?;
        } else {
            writeln!(out, "{} {noun}: {more}.", items.len())?;
        }
        Ok(())
    }
}

/// A plain-text table: a header, then one line per row, columns padded to the widest
/// cell (the last column is not padded), each line after `indent`.
pub(super) fn table(
    out: &mut dyn Write,
    indent: &str,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<()> {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| plain(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            text.push_str(cell);
            if index != last {
                text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{indent}{}", line(headers.to_vec()))?;
    for row in &rows {
        writeln!(
            out,
            "{indent}{}",
            line(row.iter().map(String::as_str).collect())
        )?;
    }
    Ok(())
}

/// `  Label:      value` lines, labels padded to `width`.
pub(super) fn fields(out: &mut dyn Write, width: usize, fields: &[(&str, String)]) -> Result<()> {
    for (label, value) in fields {
        writeln!(out, "  {:<width$}{value}", format!("{label}:"))?;
    }
    Ok(())
}

/// Text for a terminal: control characters (which mail can smuggle in) become `?`.
pub(super) fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The first twelve hex digits of a message hash, as `messages list` shows it.
pub(super) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

pub(super) fn date_or_dash(day: Option<NaiveDate>) -> String {
    day.map_or_else(|| "-".to_owned(), |day| day.to_string())
}

/// The text, or `-` when there is none.
pub(super) fn or_dash(text: Option<impl ToString>) -> String {
    text.map_or_else(|| "-".to_owned(), |text| text.to_string())
}

/// How a staff decision's notice to `to` fared, in one sentence.
pub(super) fn delivery(out: &mut dyn Write, to: &str, delivery: &Delivery) -> Result<()> {
    let to = plain(to);
    match delivery {
        Delivery::Sent { .. } => writeln!(out, "The notice was sent to {to}.")?,
        Delivery::Pending { last_error, .. } => writeln!(
            out,
            "The notice to {to} could not be sent yet ({}); it waits in the outbox for the next intake pass or `portal outbox retry`.",
            plain(last_error.as_deref().unwrap_or("not attempted"))
        )?,
        // A decision's notice is never held back by the daily limit.
        Delivery::Suppressed { .. } => writeln!(out, "The notice to {to} was held back.")?,
        Delivery::Failed { error, .. } => writeln!(
            out,
            "The notice to {to} was refused ({}); see `portal outbox list` and `portal outbox retry --failed`.",
            plain(error)
        )?,
    }
    Ok(())
}

pub(super) fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
