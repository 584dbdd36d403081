//! `portal.toml`: the typed configuration every command starts from.
//!
//! The file is parsed into plain structs (`deny_unknown_fields` everywhere, so a
//! misspelt key is an error that names it), then [`Config::check`] looks at the
//! values as a whole. A table whose `kind` key decides its other keys (a mailbox,
//! `[smtp]`) is an enum with a variant per kind: what a kind needs is there, and a key
//! of another kind is refused by name. Real objects (stores, mail connections) are made later from a
//! checked `Config`. Secrets never live here: only the names of the environment
//! variables or commands that hold them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::rules::Window;

mod check;

use check::base_url_path;

/// The whole `portal.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The public site. Default: see [`Site`].
    #[serde(default)]
    pub site: Site,
    /// The numbers behind rules R1, R4, R7 and R9.
    #[serde(default)]
    pub rules: Rules,
    /// The embedded ticket store.
    #[serde(default)]
    pub store: Store,
    /// Mailboxes and notice settings.
    #[serde(default)]
    pub mail: Mail,
    /// How notices leave: a folder of .eml files (default `var/outbox`) or an SMTP
    /// server.
    #[serde(default, deserialize_with = "smtp_table")]
    pub smtp: Smtp,
    /// The managed care organizations, one `[[mco]]` table each. Default: the six
    /// Illinois MCOs with placeholder dispute addresses.
    #[serde(default = "default_mcos", rename = "mco")]
    pub mcos: Vec<Mco>,
}

/// `[site]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Where the site is published: an absolute `http(s)` URL, maybe with a path
    /// (`https://hfs.illinois.gov/portal/`), without a query or fragment. Default
    /// `https://portal.example.gov`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Markdown pages. Default `content`.
    #[serde(default = "default_content_dir")]
    pub content_dir: PathBuf,
    /// Tera templates for pages and notices. Default `templates`.
    #[serde(default = "default_templates_dir")]
    pub templates_dir: PathBuf,
    /// Generated site. Default `site`.
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
}

/// `[rules]` (also the `rules` value of the page and notice templates).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// R1: the earliest day after filing with the MCO that HFS accepts a complaint. Default 30.
    #[serde(default = "default_window_min_days")]
    pub window_min_days: u32,
    /// R1: the last day after filing with the MCO that HFS accepts a complaint. Default 60.
    #[serde(default = "default_window_max_days")]
    pub window_max_days: u32,
    /// R4: the most claim lines on one template. Default 100.
    #[serde(default = "default_max_lines")]
    pub max_lines: u32,
    /// R7: business days a registration review takes at least. Default 2.
    #[serde(default = "default_registration_business_days")]
    pub registration_business_days: u32,
    /// R9: business days HFS takes to present a ticket to the MCO. Default 10.
    #[serde(default = "default_presented_within_business_days")]
    pub presented_within_business_days: u32,
    /// R9: calendar days the MCO has to propose a resolution. Default 30.
    #[serde(default = "default_response_days")]
    pub response_days: u32,
    /// 140.75(e): calendar days the one extension adds to the response's due date.
    /// Default 30.
    #[serde(default = "default_extension_days")]
    pub extension_days: u32,
    /// State offices closed on days beyond the legal holidays (e.g. a declared closure).
    /// Default none.
    #[serde(default)]
    pub closure_days: Vec<NaiveDate>,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The sled store's folder. Default `var/store`.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Days the raw mail of a final record, and the body of a sent notice, are kept
    /// before retention removes them (the records stay). At least 1. Default 2190
    /// (six years).
    #[serde(
        default = "default_keep_raw_days",
        deserialize_with = "at_least_one_day"
    )]
    pub keep_raw_days: u32,
    /// The public statistics intake writes and `portal build` publishes (no store
    /// needed to build the site). Default `var/statistics.json`.
    #[serde(default = "default_statistics_file")]
    pub statistics_file: PathBuf,
}

/// `[mail]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    /// The From of every notice. Default `Provider Resolution Portal <intake@portal.example.gov>`.
    #[serde(default = "default_from")]
    pub from: String,
    /// At most this many notices to one sender in one day. Default 20.
    #[serde(default = "default_notices_per_sender_per_day")]
    pub notices_per_sender_per_day: u32,
    /// Larger messages are quarantined unread. Default 26214400 (25 MiB).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Where templates and registration forms arrive. Default the Maildir
    /// `var/mail/intake` for `intake@portal.example.gov`.
    #[serde(
        default = "default_intake_mailbox",
        deserialize_with = "intake_mailbox_table"
    )]
    pub intake: Mailbox,
    /// The portal-inquiries mailbox. Default the Maildir `var/mail/inquiries` for
    /// `HFS.Portalinquiries@illinois.gov`.
    #[serde(
        default = "default_inquiries_mailbox",
        deserialize_with = "inquiries_mailbox_table"
    )]
    pub inquiries: Mailbox,
    /// Where the daily staff digest goes. Default none: no digest.
    #[serde(default)]
    pub staff_address: Option<String>,
    /// Sender authentication. Default off (every From address trusted, and each pass
    /// says so in its log).
    #[serde(default)]
    pub authentication: Authentication,
}

/// `[mail.authentication]`: which `Authentication-Results` headers the portal
/// believes (RFC 8601). The receiving mail server checks DKIM, SPF and DMARC and
/// writes the header under its authserv-id; it must remove any header carrying that
/// id which a sender put in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    /// The authserv-ids of the receiving servers whose headers count, compared
    /// without case. Default none: authentication is off.
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
}

impl Authentication {
    /// True when some authserv-id is trusted: mail to intake is acted on only when
    /// its sender is authenticated.
    pub fn is_on(&self) -> bool {
        !self.trusted_authserv_ids.is_empty()
    }
}

/// `[mail.intake]` and `[mail.inquiries]`: the address, and how the mailbox is
/// reached. Read by [`mailbox_table`], so that an omitted `kind` means `maildir`.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The mailbox's address, as the site shows it.
    pub address: String,
    /// The `kind` key and the keys that belong to it.
    pub kind: MailboxKind,
}

/// How a mailbox is reached: `kind = "maildir"` (the default) or `kind = "imap"`, each
/// with its own keys only, so that a key of the other kind is an error naming it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum MailboxKind {
    /// A Maildir on this machine.
    Maildir {
        /// The folder.
        path: PathBuf,
    },
    /// A mailbox on an IMAP server.
    Imap(ImapServer),
}

/// The keys of a `kind = "imap"` mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapServer {
    /// The server's host name.
    pub host: String,
    /// The port. Default 993 for implicit TLS, 143 otherwise.
    pub port: Option<u16>,
    /// `implicit` (default), `starttls` or `none`.
    #[serde(default)]
    pub tls: Tls,
    /// An extra CA certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// The login name.
    pub user: String,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A command printing an OAuth2 bearer token (XOAUTH2).
    pub oauth2_token_command: Option<String>,
}

/// `[smtp]`: how notices leave, `kind = "file"` (the default) or `kind = "smtp"`, each
/// with its own keys only. Read by [`smtp_table`], so that an omitted `kind` means
/// `file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Smtp {
    /// `.eml` files in a folder.
    File {
        /// The folder. Default `var/outbox`.
        #[serde(default = "default_outbox_path")]
        path: PathBuf,
    },
    /// An SMTP server.
    #[serde(rename = "smtp")]
    Server(SmtpServer),
}

/// The keys of `kind = "smtp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpServer {
    /// The server's host name.
    pub host: String,
    /// The port. Default 465 for implicit TLS, 587 for STARTTLS, 25 otherwise.
    pub port: Option<u16>,
    /// `implicit`, `starttls` (default) or `none`.
    #[serde(default = "default_smtp_tls")]
    pub tls: Tls,
    /// An extra CA certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// The login name; needed with a password or token.
    pub user: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A command printing an OAuth2 bearer token (XOAUTH2).
    pub oauth2_token_command: Option<String>,
}

/// One `[[mco]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mco {
    /// Short code, e.g. `MOLINA`; accepted in templates in place of the name.
    pub code: String,
    /// The name shown in the template's drop-down.
    pub name: String,
    /// Where accepted complaints are forwarded.
    pub dispute_address: String,
    /// More addresses the MCO's proposals and requests come from. Default none.
    #[serde(default)]
    pub reply_addresses: Vec<String>,
}

impl Mco {
    /// One of this MCO's addresses: its dispute mailbox or a reply address.
    pub fn is_address(&self, address: &str) -> bool {
        std::iter::once(&self.dispute_address)
            .chain(&self.reply_addresses)
            .any(|known| known.eq_ignore_ascii_case(address.trim()))
    }
}

/// Transport security for IMAP and SMTP.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    #[default]
    Implicit,
    Starttls,
    None,
}

impl Config {
    /// The MCO with this code (the codes tickets carry).
    pub fn mco(&self, code: &str) -> Option<&Mco> {
        self.mcos.iter().find(|mco| mco.code == code)
    }

    /// Parses and checks a configuration from its text.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    /// Reads, parses and checks a configuration file. Relative paths inside it stay
    /// relative to the working directory, as an admin running `portal` expects.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid configuration {}", path.display()))
    }

    /// The built-in defaults, as if `portal.toml` were empty.
    pub fn embedded() -> Config {
        Config::parse("").expect("the embedded defaults are valid")
    }

    /// The R1 window, from `[rules]`.
    pub fn window(&self) -> Window {
        Window {
            min_days: self.rules.window_min_days,
            max_days: self.rules.window_max_days,
        }
    }
}

impl Site {
    /// The path of `base_url` without its trailing `/`: `/portal` for
    /// `https://hfs.illinois.gov/portal/`, empty for a site at the root of its host.
    pub fn base_path(&self) -> &str {
        base_url_path(&self.base_url).unwrap_or("")
    }
}

impl Default for Site {
    fn default() -> Self {
        Site {
            base_url: default_base_url(),
            content_dir: default_content_dir(),
            templates_dir: default_templates_dir(),
            output_dir: default_output_dir(),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            window_min_days: default_window_min_days(),
            window_max_days: default_window_max_days(),
            max_lines: default_max_lines(),
            registration_business_days: default_registration_business_days(),
            presented_within_business_days: default_presented_within_business_days(),
            response_days: default_response_days(),
            extension_days: default_extension_days(),
            closure_days: Vec::new(),
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            path: default_store_path(),
            keep_raw_days: default_keep_raw_days(),
            statistics_file: default_statistics_file(),
        }
    }
}

/// Reads `[store] keep_raw_days`: a whole number of days, at least one.
fn at_least_one_day<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match u32::deserialize(deserializer)? {
        0 => Err(D::Error::custom(
            "store.keep_raw_days must be at least 1 (days the raw mail is kept)",
        )),
        days => Ok(days),
    }
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            from: default_from(),
            notices_per_sender_per_day: default_notices_per_sender_per_day(),
            max_message_bytes: default_max_message_bytes(),
            intake: default_intake_mailbox(),
            inquiries: default_inquiries_mailbox(),
            staff_address: None,
            authentication: Authentication::default(),
        }
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp::File {
            path: default_outbox_path(),
        }
    }
}

/// Reads `[mail.intake]`: see [`mailbox_table`].
fn intake_mailbox_table<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mailbox, D::Error> {
    mailbox_table(deserializer, "mail.intake")
}

/// Reads `[mail.inquiries]`: see [`mailbox_table`].
fn inquiries_mailbox_table<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Mailbox, D::Error> {
    mailbox_table(deserializer, "mail.inquiries")
}

/// Reads a mailbox table: `address`, and the keys of its `kind` (`maildir` when the
/// key is omitted, as it always could be).
fn mailbox_table<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &str,
) -> Result<Mailbox, D::Error> {
    let mut table = toml::Table::deserialize(deserializer)?;
    let address = table
        .remove("address")
        .ok_or_else(|| D::Error::custom(format!("[{name}]: missing field `address`")))?;
    let address = String::deserialize(address)
        .map_err(|error| D::Error::custom(format!("[{name}] address: {}", error.message())))?;
    Ok(Mailbox {
        address,
        kind: by_kind(table, name, "maildir")?,
    })
}

/// Reads `[smtp]`: the keys of its `kind` (`file` when the key is omitted).
fn smtp_table<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Smtp, D::Error> {
    by_kind(toml::Table::deserialize(deserializer)?, "smtp", "file")
}

/// A table whose `kind` key says which other keys it may hold (`default_kind` when
/// the key is omitted), read as the enum `T` whose variants are the kinds. serde has
/// no default for an enum's tag, so the table is handed to `T` as `{ <kind> = { the
/// other keys } }`; read that way, an error still says which key it is about, and is
/// told with the table's name, which serde's own messages lack.
fn by_kind<T: DeserializeOwned, E: serde::de::Error>(
    mut table: toml::Table,
    name: &str,
    default_kind: &str,
) -> Result<T, E> {
    let kind = match table.remove("kind") {
        None => default_kind.to_owned(),
        Some(toml::Value::String(kind)) => kind,
        Some(other) => {
            return Err(E::custom(format!(
                "[{name}] kind: expected a string, not {}",
                other.type_str()
            )));
        }
    };
    let tagged = toml::Table::from_iter([(kind, toml::Value::Table(table))]);
    T::deserialize(toml::Value::Table(tagged)).map_err(|error| {
        // The message, then `in <key>` on a line of its own: one line here.
        let error = error.to_string();
        E::custom(format!("[{name}]: {}", error.trim_end().replace('\n', " ")))
    })
}

fn maildir(address: &str, path: &str) -> Mailbox {
    Mailbox {
        address: address.to_owned(),
        kind: MailboxKind::Maildir {
            path: PathBuf::from(path),
        },
    }
}

fn default_intake_mailbox() -> Mailbox {
    maildir("intake@portal.example.gov", "var/mail/intake")
}
fn default_inquiries_mailbox() -> Mailbox {
    maildir("HFS.Portalinquiries@illinois.gov", "var/mail/inquiries")
}
fn default_base_url() -> String {
    "https://portal.example.gov".to_owned()
}
fn default_content_dir() -> PathBuf {
    PathBuf::from("content")
}
fn default_templates_dir() -> PathBuf {
    PathBuf::from("templates")
}
fn default_output_dir() -> PathBuf {
    PathBuf::from("site")
}
fn default_window_min_days() -> u32 {
    30
}
fn default_window_max_days() -> u32 {
    60
}
fn default_max_lines() -> u32 {
    100
}
fn default_registration_business_days() -> u32 {
    2
}
fn default_presented_within_business_days() -> u32 {
    10
}
fn default_response_days() -> u32 {
    30
}
fn default_extension_days() -> u32 {
    30
}
fn default_store_path() -> PathBuf {
    PathBuf::from("var/store")
}
fn default_statistics_file() -> PathBuf {
    PathBuf::from("var/statistics.json")
}
fn default_keep_raw_days() -> u32 {
    2190
}
fn default_from() -> String {
    "Provider Resolution Portal <intake@portal.example.gov>".to_owned()
}
fn default_notices_per_sender_per_day() -> u32 {
    20
}
fn default_max_message_bytes() -> u64 {
    26_214_400
}
fn default_outbox_path() -> PathBuf {
    PathBuf::from("var/outbox")
}
fn default_smtp_tls() -> Tls {
    Tls::Starttls
}

fn default_mcos() -> Vec<Mco> {
    [
        (
            "AETNA",
            "Aetna Better Health of Illinois",
            "disputes@aetna.example",
        ),
        (
            "BCCHP",
            "Blue Cross Community Health Plans",
            "disputes@bcchp.example",
        ),
        (
            "COUNTYCARE",
            "CountyCare Health Plan",
            "disputes@countycare.example",
        ),
        ("MERIDIAN", "Meridian", "disputes@meridian.example"),
        (
            "MOLINA",
            "Molina Healthcare of Illinois",
            "disputes@molina.example",
        ),
        ("YOUTHCARE", "YouthCare", "disputes@youthcare.example"),
    ]
    .into_iter()
    .map(|(code, name, dispute_address)| Mco {
        code: code.to_owned(),
        name: name.to_owned(),
        dispute_address: dispute_address.to_owned(),
        reply_addresses: Vec::new(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_the_documented_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.rules.window_min_days, 30);
        assert_eq!(config.rules.window_max_days, 60);
        assert_eq!(config.rules.max_lines, 100);
        assert_eq!(config.rules.registration_business_days, 2);
        assert_eq!(config.mcos.len(), 6);
        assert_eq!(config.store.path, PathBuf::from("var/store"));
        assert_eq!(config.store.keep_raw_days, 2190);
        assert_eq!(config.mail.notices_per_sender_per_day, 20);
    }

    #[test]
    fn raw_mail_is_kept_at_least_a_day() {
        let config = Config::parse("[store]\nkeep_raw_days = 30\n").unwrap();
        assert_eq!(config.store.keep_raw_days, 30);
        let error = format!(
            "{:#}",
            Config::parse("[store]\nkeep_raw_days = 0\n").unwrap_err()
        );
        assert!(
            error.contains("store.keep_raw_days must be at least 1"),
            "{error}"
        );
    }

    #[test]
    fn the_shipped_portal_toml_parses() {
        let text = include_str!("../portal.toml");
        let config = Config::parse(text).unwrap();
        assert_eq!(config.mcos.len(), 6);
        assert_eq!(
            config.mail.inquiries.address,
            "HFS.Portalinquiries@illinois.gov"
        );
        assert!(
            matches!(&config.mail.intake.kind, MailboxKind::Maildir { path } if path == Path::new("var/mail/intake"))
        );
        assert!(matches!(&config.smtp, Smtp::File { path } if path == Path::new("var/outbox")));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = Config::parse("[rules]\nwindow_max_dayz = 61\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("window_max_dayz"),
            "{error:#}"
        );
        let error = Config::parse("colour = 1\n").unwrap_err();
        assert!(format!("{error:#}").contains("colour"), "{error:#}");
    }

    /// The whole error chain of a refused configuration, as the binary prints it.
    fn refusal(text: &str) -> String {
        format!("{:#}", Config::parse(text).unwrap_err())
    }

    #[test]
    fn mail_leaves_this_machine_only_over_tls() {
        let imap = |table: &str, host: &str, tls: &str| {
            format!(
                "[mail.{table}]\naddress = \"in@portal.example.gov\"\nkind = \"imap\"\n\
                 host = \"{host}\"\ntls = \"{tls}\"\nuser = \"portal\"\npassword_env = \"P\"\n"
            )
        };
        let smtp = |host: &str, tls: &str| {
            format!("[smtp]\nkind = \"smtp\"\nhost = \"{host}\"\ntls = \"{tls}\"\n")
        };
        for (text, key) in [
            (
                imap("intake", "imap.example.invalid", "none"),
                "mail.intake.tls",
            ),
            (
                imap("inquiries", "10.0.0.1.example.invalid", "none"),
                "mail.inquiries.tls",
            ),
            (smtp("smtp.example.invalid", "none"), "smtp.tls"),
            (smtp("128.0.0.1", "none"), "smtp.tls"),
            (smtp("localhost.example.invalid", "none"), "smtp.tls"),
        ] {
            let error = refusal(&text);
            assert!(error.contains(key), "{key}: {error}");
            assert!(error.contains("unencrypted"), "{error}");
        }
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
        ] {
            Config::parse(&imap("intake", host, "none")).unwrap();
            Config::parse(&smtp(host, "none")).unwrap();
        }
        for tls in ["implicit", "starttls"] {
            Config::parse(&imap("intake", "imap.example.invalid", tls)).unwrap();
            Config::parse(&smtp("smtp.example.invalid", tls)).unwrap();
        }
    }

    #[test]
    fn each_kind_takes_its_own_keys_and_an_omitted_kind_is_the_local_one() {
        let config = Config::parse(
            "[mail.intake]\naddress = \"in@portal.example.gov\"\npath = \"in\"\n\
             [smtp]\npath = \"out\"\n",
        )
        .unwrap();
        assert!(
            matches!(&config.mail.intake.kind, MailboxKind::Maildir { path } if path == Path::new("in"))
        );
        assert!(matches!(&config.smtp, Smtp::File { path } if path == Path::new("out")));
        let config = Config::parse("[smtp]\n").unwrap();
        assert!(matches!(&config.smtp, Smtp::File { path } if path == Path::new("var/outbox")));

        let config = Config::parse(
            "[mail.inquiries]\naddress = \"q@portal.example.gov\"\nkind = \"imap\"\n\
             host = \"imap.example.gov\"\nuser = \"portal\"\npassword_env = \"P\"\n\
             [smtp]\nkind = \"smtp\"\nhost = \"smtp.example.gov\"\n",
        )
        .unwrap();
        let MailboxKind::Imap(imap) = &config.mail.inquiries.kind else {
            panic!("an imap mailbox: {:?}", config.mail.inquiries);
        };
        assert_eq!(
            (imap.host.as_str(), imap.user.as_str(), imap.port, imap.tls),
            ("imap.example.gov", "portal", None, Tls::Implicit)
        );
        assert_eq!(config.mail.inquiries.address, "q@portal.example.gov");
        let Smtp::Server(smtp) = &config.smtp else {
            panic!("an smtp server: {:?}", config.smtp);
        };
        assert_eq!(
            (smtp.host.as_str(), smtp.tls),
            ("smtp.example.gov", Tls::Starttls)
        );
        assert!(matches!(
            &config.mail.intake.kind,
            MailboxKind::Maildir { .. }
        ));
    }

    #[test]
    fn an_imap_key_under_a_maildir_is_named_with_its_table() {
        let error = refusal(
            "[mail.intake]\naddress = \"in@portal.example.gov\"\nkind = \"maildir\"\n\
             path = \"in\"\nhost = \"imap.example.gov\"\n",
        );
        assert!(
            error.contains("`host`") && error.contains("mail.intake"),
            "{error}"
        );
        // The same key, with `kind` left to its default.
        let error = refusal(
            "[mail.inquiries]\naddress = \"q@portal.example.gov\"\npath = \"q\"\nuser = \"me\"\n",
        );
        assert!(
            error.contains("`user`") && error.contains("mail.inquiries"),
            "{error}"
        );
        // And the other way round.
        let error = refusal(
            "[mail.intake]\naddress = \"in@portal.example.gov\"\nkind = \"imap\"\n\
             host = \"h.example\"\nuser = \"me\"\npath = \"in\"\n",
        );
        assert!(
            error.contains("`path`") && error.contains("mail.intake"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_required_key_is_named_with_its_table() {
        let error =
            refusal("[mail.intake]\naddress = \"in@portal.example.gov\"\nkind = \"maildir\"\n");
        assert!(
            error.contains("`path`") && error.contains("mail.intake"),
            "{error}"
        );
        let error = refusal(
            "[mail.inquiries]\naddress = \"q@portal.example.gov\"\nkind = \"imap\"\nuser = \"me\"\n",
        );
        assert!(
            error.contains("`host`") && error.contains("mail.inquiries"),
            "{error}"
        );
        let error = refusal(
            "[mail.inquiries]\naddress = \"q@portal.example.gov\"\nkind = \"imap\"\nhost = \"h.example\"\n",
        );
        assert!(error.contains("`user`"), "{error}");
        let error = refusal("[mail.intake]\npath = \"in\"\n");
        assert!(
            error.contains("`address`") && error.contains("mail.intake"),
            "{error}"
        );
        let error = refusal("[smtp]\nkind = \"smtp\"\nport = 25\n");
        assert!(
            error.contains("`host`") && error.contains("smtp"),
            "{error}"
        );
    }

    #[test]
    fn an_smtp_key_under_the_file_transport_is_named() {
        let error = refusal("[smtp]\nkind = \"file\"\nhost = \"smtp.example.gov\"\n");
        assert!(
            error.contains("`host`") && error.contains("[smtp]"),
            "{error}"
        );
        let error = refusal("[smtp]\nhost = \"smtp.example.gov\"\n");
        assert!(error.contains("`host`"), "{error}");
        let error = refusal("[smtp]\nkind = \"smtp\"\nhost = \"h.example\"\npath = \"out\"\n");
        assert!(error.contains("`path`"), "{error}");
        let error = refusal("[smtp]\nkind = \"pigeon\"\n");
        assert!(
            error.contains("pigeon") && error.contains("`smtp`"),
            "{error}"
        );
    }

    #[test]
    fn an_inverted_window_is_refused() {
        let error = Config::parse("[rules]\nwindow_min_days = 70\n").unwrap_err();
        assert!(error.to_string().contains("window_min_days"), "{error}");
    }

    #[test]
    fn duplicate_mco_codes_are_refused() {
        let text = "[[mco]]\ncode = \"A\"\nname = \"One\"\ndispute_address = \"a@x.example\"\n\
                    [[mco]]\ncode = \"a\"\nname = \"Two\"\ndispute_address = \"b@x.example\"\n";
        assert!(Config::parse(text).is_err());
    }

    #[test]
    fn an_mco_name_with_a_comma_is_refused_naming_the_mco_and_the_name() {
        let error = refusal(
            "[[mco]]\ncode = \"A\"\nname = \"One\"\ndispute_address = \"a@x.example\"\n\
             [[mco]]\ncode = \"ACME\"\nname = \"Acme Health, Inc.\"\ndispute_address = \"b@x.example\"\n",
        );
        assert!(
            error.contains("[[mco]] #2 (ACME)")
                && error.contains("\"Acme Health, Inc.\"")
                && error.contains("comma"),
            "{error}"
        );
    }

    #[test]
    fn the_base_url_is_an_absolute_http_url_without_query_or_fragment() {
        for good in [
            "https://portal.example.gov",
            "https://hfs.illinois.gov/portal/",
            "https://hfs.illinois.gov/portal",
            "http://localhost:8080/",
        ] {
            let config = Config::parse(&format!("[site]\nbase_url = {good:?}\n")).unwrap();
            assert_eq!(config.site.base_url, good);
        }
        let path = |url: &str| {
            let site = Site {
                base_url: url.to_owned(),
                ..Site::default()
            };
            site.base_path().to_owned()
        };
        assert_eq!(path("https://portal.example.gov"), "");
        assert_eq!(path("https://portal.example.gov/"), "");
        assert_eq!(path("https://hfs.illinois.gov/portal/"), "/portal");
        assert_eq!(path("https://hfs.illinois.gov/a/b"), "/a/b");
        for bad in [
            "",
            "portal.example.gov",
            "/portal/",
            "ftp://portal.example.gov/",
            "https://",
            "https:///portal/",
            "https://portal.example.gov/?page=1",
            "https://portal.example.gov/portal#top",
            "https://portal example.gov/",
            "https://portal.example.gov/a b/",
        ] {
            let error = refusal(&format!("[site]\nbase_url = {bad:?}\n"));
            assert!(
                error.contains("site.base_url") && error.contains(&format!("{bad:?}")),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn authentication_is_off_by_default_and_on_with_a_trusted_id() {
        let config = Config::parse("").unwrap();
        assert!(!config.mail.authentication.is_on());
        assert!(!common_config().mail.authentication.is_on());
        let config = Config::parse(
            "[mail.authentication]\ntrusted_authserv_ids = [\"mx.portal.example.gov\"]\n",
        )
        .unwrap();
        assert!(config.mail.authentication.is_on());
        assert_eq!(
            config.mail.authentication.trusted_authserv_ids,
            ["mx.portal.example.gov"]
        );
        for bad in ["\"\"", "\"  \"", "\"mx portal\""] {
            let error = refusal(&format!(
                "[mail.authentication]\ntrusted_authserv_ids = [{bad}]\n"
            ));
            assert!(error.contains("trusted_authserv_ids"), "{error}");
        }
        let error = refusal("[mail.authentication]\ntrusted_ids = [\"mx.example\"]\n");
        assert!(error.contains("trusted_ids"), "{error}");
    }

    /// The shipped portal.toml.
    fn common_config() -> Config {
        Config::parse(include_str!("../portal.toml")).unwrap()
    }

    #[test]
    fn a_bad_dispute_address_is_refused() {
        let text = "[[mco]]\ncode = \"A\"\nname = \"One\"\ndispute_address = \"nobody\"\n";
        let error = Config::parse(text).unwrap_err();
        assert!(error.to_string().contains("dispute_address"), "{error}");
    }
}
