//! Logs for people and for journald: plain lines on standard error, or JSON with
//! `--log-format json`; on a terminal, a progress bar while intake works through a
//! backlog. Nothing logged carries PHI: ids, short hashes, outcomes and counts only.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Messages a backlog must hold before a progress bar is worth showing.
const BAR_FROM: u64 = 20;

/// Sets up logging for the process; `quiet` keeps only warnings (for commands that
/// tell their own story, like the demo).
pub fn init(format: LogFormat, quiet: bool) {
    let terminal = std::io::stderr().is_terminal() && format == LogFormat::Text;
    // On a terminal the bar shows progress; lines would tear it, so only warnings print.
    let level = if terminal || quiet {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    };
    let registry = tracing_subscriber::registry();
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(level),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    // Colours only on a terminal: never escape codes in a log file.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr)
                    .with_filter(level),
            )
            // No filter of its own, yet it hears intake's INFO events while the lines
            // above stop at WARN: a per-layer filter holds back only its own layer
            // (tests/progress.rs runs intake on a terminal to show it).
            .with(terminal.then(|| Progress {
                bar: Mutex::new(None),
            }))
            .try_init(),
    };
    // A second initialisation (tests calling main logic twice) keeps the first.
    let _ = result;
}

/// Drives a progress bar from intake's `mailbox listed` and `message handled` events.
struct Progress {
    bar: Mutex<Option<ProgressBar>>,
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    waiting: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "waiting" {
            self.waiting = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber> Layer<S> for Progress {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() > Level::INFO {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Ok(mut bar) = self.bar.lock() else { return };
        match fields.message.as_deref() {
            Some("mailbox listed") => {
                let waiting = fields.waiting.unwrap_or(0);
                match bar.as_ref() {
                    Some(existing) => existing.inc_length(waiting),
                    None if waiting >= BAR_FROM => {
                        let new = ProgressBar::new(waiting);
                        if let Ok(style) = ProgressStyle::with_template(
                            "{spinner} intake {pos}/{len} messages [{bar:30}] {per_sec} ETA {eta}",
                        ) {
                            new.set_style(style.progress_chars("=> "));
                        }
                        *bar = Some(new);
                    }
                    None => {}
                }
            }
            Some("message handled") => {
                if let Some(bar) = bar.as_ref() {
                    bar.inc(1);
                }
            }
            Some("pass finished") => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
