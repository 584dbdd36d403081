//! The command line: one `Command` enum, each variant's doc comment its `--help`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::forms::Status;
use crate::store::ResolutionOutcome;

/// The Illinois HFS Managed Care Provider Resolution Portal: the public guidance site,
/// the spreadsheet downloads, and the mail intake that validates what providers send.
#[derive(Debug, Parser)]
#[command(name = "portal", version, max_term_width = 100)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "portal.toml"
    )]
    pub config: PathBuf,

    /// How logs on standard error look: text for people, json for journald.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::logging::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the three blank workbooks (complaint template, registration form, multiple
    /// registration template) into DIR.
    Templates {
        /// The folder to write into; created if missing.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },

    /// Validate one spreadsheet exactly as intake would (the registered-sender rule aside).
    ///
    /// Reads .xlsx, .xls, .xlsb, .ods or .csv, tells the kind of workbook apart, and lists
    /// every problem by row and column. Exit status: 0 when every line would be forwarded
    /// (or a registration is complete), 1 when anything would be closed, 2 when the file
    /// is unreadable or no known workbook (unknown_template).
    Check {
        /// The spreadsheet to check.
        file: PathBuf,
        /// The day HFS received it (YYYY-MM-DD), for the 30–60 day window. Default: today
        /// in Illinois.
        #[arg(long, value_name = "YYYY-MM-DD")]
        received: Option<NaiveDate>,
        /// Print the outcome as JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Build the public site from content/ and templates/ into site/, with the spreadsheet
    /// downloads, a sitemap and every internal link checked (a broken link fails the build,
    /// naming the file and the link).
    Build {
        /// Include pages marked `draft = true`.
        #[arg(long)]
        drafts: bool,
    },

    /// Build the site, serve it on 127.0.0.1, rebuild when content, templates, the
    /// config or the statistics file change, and reload the browser.
    Serve {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 1111)]
        port: u16,
        /// Include pages marked `draft = true`.
        #[arg(long)]
        drafts: bool,
    },

    /// Poll the intake and portal-inquiries mailboxes: file tickets and registrations,
    /// answer inquiries, send notices and forward accepted complaints to the MCOs.
    ///
    /// Senders are identified by their From address, as the receiving mail server
    /// authenticated it ([mail.authentication]). A notice the mail server does not
    /// take now waits in the outbox and later passes retry it, with a growing backoff
    /// (see `portal outbox`). Each pass ends by rewriting [store] statistics_file, the
    /// figures `portal build` publishes (under --watch at most once a minute). Exit status: 0 done, 1 finished with quarantined messages,
    /// 2 could not run. With --every or --watch, runs until SIGTERM or SIGINT, stopping
    /// cleanly after the message in hand (within 2 s when idle); a failed pass is
    /// retried.
    ///
    /// The store is held for the whole run, and staff commands (tickets, registrations,
    /// inquiries, messages, outbox, store export, report) run meanwhile are answered by
    /// the intake over the Unix socket portal.sock in the store's folder (mode 0600),
    /// between two messages of a pass; the socket is removed when intake stops.
    Intake {
        /// Run one pass and exit (the default; for cron and systemd timers).
        #[arg(long, conflicts_with_all = ["every", "watch"])]
        once: bool,
        /// Run a pass every DURATION (e.g. 30s, 5m, 1h) until stopped. With --watch, the
        /// safety pass's interval (default 5m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        every: Option<std::time::Duration>,
        /// Handle mail as it arrives: IMAP IDLE on each IMAP mailbox, a file watcher on
        /// each Maildir's new/, a pass within a second of new mail; a safety pass (which
        /// also retries the outbox and does the day's work) every --every. Reconnects
        /// with a growing backoff when a server goes away.
        #[arg(long)]
        watch: bool,
    },

    /// Staff view of tickets and decisions on them: list (with filters), show one, export
    /// all; decide the one extension; resolve.
    ///
    /// Exit status of every staff command: 0 done, 1 refused (the reason is printed:
    /// an unknown id, a decision already made, a ticket in the wrong state), 2 could not
    /// run (usage, config, store).
    Tickets {
        #[command(subcommand)]
        action: TicketsAction,
    },

    /// Staff view and decisions on registration requests.
    Registrations {
        #[command(subcommand)]
        action: RegistrationsAction,
    },

    /// Staff view of messages to portal inquiries; mark one read.
    Inquiries {
        #[command(subcommand)]
        action: InquiriesAction,
    },

    /// Every processed message with its outcome; show one in full; mark one read; put a
    /// quarantined one back.
    Messages {
        #[command(subcommand)]
        action: MessagesAction,
    },

    /// Notices waiting, sent or failed; send the waiting ones again.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },

    /// The store as one file of JSON lines: export it (the backup, and the way across a
    /// sled upgrade) or import an export into a new store.
    ///
    /// Exit status: 0 done, 1 refused (an import into a path that is not missing or an
    /// empty folder, or a file that is not a whole export: the line at fault is named and
    /// nothing is imported), 2 could not run (config, store, files).
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },

    /// Staff report: the public statistics' figures for any period, plus the overdue
    /// tickets by MCO with their ids and due dates (never on the site).
    ///
    /// Figures per Illinois month of receipt and MCO: complaints received, lines forwarded,
    /// lines closed by reason, proposals on time and late, overdue (as of today), median days
    /// from the forward to the first proposal, extensions granted; registrations received,
    /// approved and denied. Only records received within the period count. Text by default;
    /// --json adds "from", "to" and "overdue_tickets" to the statistics file's fields; --csv
    /// is the statistics CSV for the period. Exit status: 0 done, 2 could not run (usage,
    /// --from after --to, config, store).
    Report {
        /// The first Illinois day of the period (YYYY-MM-DD). Default: the first day of
        /// the month eleven months ago, as in the statistics file.
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<NaiveDate>,
        /// The last Illinois day of the period, included (YYYY-MM-DD). Default: today.
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<NaiveDate>,
        /// Print a JSON object.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print the figures as the statistics CSV (without the overdue tickets).
        #[arg(long)]
        csv: bool,
    },

    /// Show the portal at work on embedded defaults, in portal.toml's own paths: builds the
    /// site, mails a sample registration into the local Maildir, runs a pass, approves it,
    /// mails sample complaints dated relative to today (one good, one too early, one
    /// incomplete), an inquiry and an auto-reply, runs a pass, has the MCO answer the
    /// forwarded complaint with the returned workbook, runs a pass, builds the site again,
    /// and prints what was filed and which notices were written where. It refuses a store
    /// it did not make.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum TicketsAction {
    /// One line per ticket, every filter given applying (all combine).
    List {
        #[command(flatten)]
        filter: TicketFilterArgs,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One ticket in full, with its timeline.
    Show {
        /// The ticket id, e.g. PRP-2026-000123.
        id: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Every ticket as CSV (the default) or JSON, one row per claim line.
    Export {
        /// CSV (cells that a spreadsheet would take for a formula are neutralised).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide the one extension a ticket's MCO or provider asked for: grant it (the
    /// response is due `[rules] extension_days` later) or, with --deny, decline it.
    ///
    /// Only a forwarded or responded ticket whose extension was requested and not yet
    /// decided; anything else is refused (exit 1): one extension per ticket. The provider
    /// and the MCO are each told at once, by a notice of their own.
    Extend {
        /// The ticket id, e.g. PRP-2026-000123.
        id: String,
        /// The staff member deciding, recorded on the ticket and in the audit trail.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Decline the request instead of granting it (needs --reason).
        #[arg(long, requires = "reason")]
        deny: bool,
        /// Why it is declined: recorded, and told to both the provider and the MCO, so
        /// write no patient or claim details.
        #[arg(long, value_name = "TEXT", requires = "deny")]
        reason: Option<String>,
        /// Print the ticket as JSON afterwards.
        #[arg(long)]
        json: bool,
    },
    /// End a forwarded or responded ticket with HFS's resolution; the provider and the MCO
    /// are each told at once. A closed or resolved ticket is never reopened: resolving it
    /// is refused (exit 1).
    Resolve {
        /// The ticket id, e.g. PRP-2026-000123.
        id: String,
        /// resolved: the dispute was resolved; not_resolved: HFS closes it unresolved.
        #[arg(long, value_name = "resolved|not_resolved")]
        outcome: ResolutionOutcome,
        /// The staff member deciding, recorded on the ticket and in the audit trail.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// A note from HFS: recorded, and told to both the provider and the MCO in
        /// their notices, so write no patient or claim details.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Print the ticket as JSON afterwards.
        #[arg(long)]
        json: bool,
    },
}

/// The filters of `portal tickets list`; every one given must hold.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TicketFilterArgs {
    /// Only tickets with this status: forwarded, responded, resolved or closed.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<Status>,
    /// Only tickets for this MCO (its code, any case).
    #[arg(long, value_name = "CODE")]
    pub mco: Option<String>,
    /// Only tickets from this sender address (any case).
    #[arg(long, value_name = "ADDR")]
    pub sender: Option<String>,
    /// Only tickets with a line for this Provider NPI.
    #[arg(long, value_name = "NPI")]
    pub npi: Option<String>,
    /// Only tickets with a line of this MCO tracking number (any case).
    #[arg(long, value_name = "TRACKING")]
    pub tracking: Option<String>,
    /// Only tickets received (Illinois day) on or after this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<NaiveDate>,
    /// Only tickets received (Illinois day) on or before this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: Option<NaiveDate>,
    /// Only tickets overdue today: forwarded, no proposal yet, past their response due
    /// date.
    #[arg(long)]
    pub overdue: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegistrationsAction {
    /// One line per registration.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One registration in full.
    Show {
        /// The registration id, e.g. REG-2026-000004.
        id: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending registration and tell the registrant.
    Approve(Decide),
    /// Deny a pending registration and tell the registrant why.
    Deny(DecideWhy),
    /// Revoke an active registration and tell the registrant why.
    Revoke(DecideWhy),
}

/// Who decides, and why.
#[derive(Debug, clap::Args)]
pub struct Decide {
    /// The registration id.
    pub id: String,
    /// The staff member deciding, recorded in the audit trail.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// Why, recorded in the audit trail.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print the registration as JSON afterwards.
    #[arg(long)]
    pub json: bool,
}

/// Who decides against a registration, and why (required).
#[derive(Debug, clap::Args)]
pub struct DecideWhy {
    /// The registration id.
    pub id: String,
    /// The staff member deciding, recorded in the audit trail.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// Why: recorded in the audit trail and told to the registrant, so write no patient
    /// or claim details.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the registration as JSON afterwards.
    #[arg(long)]
    pub json: bool,
}

impl From<DecideWhy> for Decide {
    fn from(args: DecideWhy) -> Self {
        Decide {
            id: args.id,
            by: args.by,
            reason: Some(args.reason),
            json: args.json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum InquiriesAction {
    /// One line per inquiry.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Mark an inquiry read: the daily staff digest no longer lists it. Marking it again
    /// keeps the first mark.
    MarkRead {
        /// The inquiry id, e.g. INQ-2026-000001.
        id: String,
        /// The staff member, recorded in the audit trail.
        #[arg(long, value_name = "NAME")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MessagesAction {
    /// Every processed message with its outcome.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One message in full, for staff only: its record, every header, its text and the
    /// names and sizes of its attachments (this is protected health information), or,
    /// once its raw bytes were removed, the record and when.
    Show {
        /// The message's hash (or a unique prefix of it) from `messages list`.
        hash: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Mark a message (correspondence, MCO mail) read: the daily staff digest no longer
    /// lists it. Marking it again keeps the first mark.
    MarkRead {
        /// The message's hash (or a unique prefix of it) from `messages list`.
        hash: String,
        /// The staff member, recorded in the audit trail.
        #[arg(long, value_name = "NAME")]
        by: String,
    },
    /// Put a quarantined (or processed) message back into its inbox, to be handled
    /// afresh by the next pass (Maildir only). With --trust-sender, handle a message
    /// held as `unauthenticated` at once as if its sender were authenticated: no mail
    /// moves (IMAP or Maildir alike), its notices are sent, the audit trail names you.
    Release {
        /// The message's hash (or a unique prefix of it) from `messages list`.
        hash: String,
        /// Vouch for the sender of an `unauthenticated` message: it is handled from its
        /// stored bytes as authenticated mail (needs --by).
        #[arg(long, requires = "by")]
        trust_sender: bool,
        /// The staff member vouching for the sender, recorded in the audit trail.
        #[arg(long, value_name = "NAME", requires = "trust_sender")]
        by: Option<String>,
        /// Print the message record as JSON afterwards.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Write every record of the store — tickets, registrations, inquiries, messages with
    /// their raw bytes, notices, the audit trail, counters — to FILE.
    ///
    /// The first line is the header {"format": "portal-store", "version": 1}, then one
    /// JSON line per record, tree by tree in key order, and last {"records": N}; nothing in
    /// it says when it was written, so an unchanged store exports to the same bytes. FILE
    /// holds protected health information: it is written with mode 0600 under a temporary
    /// name, synced, then renamed over FILE. `-` writes to standard output. While an
    /// intake holds the store, the intake writes the export; while another process holds
    /// it, export waits, trying again for up to 10 minutes.
    Export {
        /// The file to write (replaced whole), or `-` for standard output.
        file: PathBuf,
    },
    /// Load an export into a new store at `[store] path`, which must be missing or an
    /// empty folder; anything else there is refused (exit 1) and left alone.
    ///
    /// Every line is checked (the header's format and version, each record, their order,
    /// the count at the end); a line at fault is refused by its number and nothing is left
    /// behind: the store is built in a hidden folder beside the path and moved into place
    /// once all of it has loaded and been flushed.
    Import {
        /// The export to load, or `-` for standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Every notice with its delivery state.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Send every waiting notice now, without waiting for its backoff (and failed
    /// ones again with --failed).
    Retry {
        /// Also retry notices that failed permanently.
        #[arg(long)]
        failed: bool,
        /// Print what happened as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `30s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => text.split_at(index),
        None => (text, "s"),
    };
    let invalid = || format!("{text:?} is not a duration such as 30s, 5m or 1h");
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        _ => return Err(invalid()),
    };
    if seconds == 0 {
        return Err("the interval must be at least one second".to_owned());
    }
    Ok(std::time::Duration::from_secs(seconds))
}
