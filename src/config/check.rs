//! The checks of a parsed configuration that serde cannot make: ranges, uniqueness,
//! addresses, the base URL, and that mail leaves this machine only over TLS.

use anyhow::{Result, bail};

use super::{Config, MailboxKind, Smtp, Tls};

impl Config {
    /// Checks values that serde cannot: ranges, uniqueness, addresses.
    pub(super) fn check(&self) -> Result<()> {
        let rules = &self.rules;
        if rules.window_min_days > rules.window_max_days {
            bail!(
                "rules.window_min_days ({}) is greater than rules.window_max_days ({})",
                rules.window_min_days,
                rules.window_max_days
            );
        }
        if !(1..=10_000).contains(&rules.max_lines) {
            bail!(
                "rules.max_lines must be between 1 and 10000, not {}",
                rules.max_lines
            );
        }
        if let Err(problem) = base_url_path(&self.site.base_url) {
            bail!("site.base_url {:?} {problem}", self.site.base_url);
        }
        if self.mcos.is_empty() {
            bail!("at least one [[mco]] is needed");
        }
        for (index, mco) in self.mcos.iter().enumerate() {
            let at = format!("mco #{} ({})", index + 1, mco.code);
            if mco.code.trim().is_empty() || mco.name.trim().is_empty() {
                bail!("{at}: code and name must not be empty");
            }
            if mco.name.contains(',') {
                // A spreadsheet list validation is one comma-separated string.
                bail!(
                    "[[mco]] #{} ({}): the name {:?} contains a comma, which the template's MCO drop-down cannot hold",
                    index + 1,
                    mco.code,
                    mco.name
                );
            }
            if !is_plain_address(&mco.dispute_address) {
                bail!(
                    "{at}: dispute_address {:?} is not an email address",
                    mco.dispute_address
                );
            }
            for address in &mco.reply_addresses {
                if !is_plain_address(address) {
                    bail!("{at}: reply_addresses {address:?} is not an email address");
                }
            }
            for other in &self.mcos[..index] {
                if other.code.eq_ignore_ascii_case(&mco.code)
                    || other.name.eq_ignore_ascii_case(&mco.name)
                {
                    bail!("{at}: the code or name is used by another [[mco]] too");
                }
            }
        }
        for (name, mailbox) in [
            ("intake", &self.mail.intake),
            ("inquiries", &self.mail.inquiries),
        ] {
            if !is_plain_address(&mailbox.address) {
                bail!(
                    "mail.{name}.address {:?} is not an email address",
                    mailbox.address
                );
            }
        }
        if let Some(address) = &self.mail.staff_address
            && !is_plain_address(address)
        {
            bail!("mail.staff_address {address:?} is not an email address");
        }
        for id in &self.mail.authentication.trusted_authserv_ids {
            if id.trim().is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!(
                    "mail.authentication.trusted_authserv_ids: {id:?} is not an authserv-id (the host name the receiving mail server writes first in its Authentication-Results header)"
                );
            }
        }
        self.check_tls()
    }

    /// PHI only over TLS: mail to or from a host beyond this machine travels encrypted.
    /// `tls = "none"` is for a server on loopback alone (a local relay, the tests).
    fn check_tls(&self) -> Result<()> {
        let mut servers: Vec<(&str, &str, Tls)> = Vec::new();
        for (table, mailbox) in [
            ("mail.intake", &self.mail.intake),
            ("mail.inquiries", &self.mail.inquiries),
        ] {
            if let MailboxKind::Imap(server) = &mailbox.kind {
                servers.push((table, &server.host, server.tls));
            }
        }
        if let Smtp::Server(server) = &self.smtp {
            servers.push(("smtp", &server.host, server.tls));
        }
        for (table, host, tls) in servers {
            if tls == Tls::None && !is_loopback(host) {
                bail!(
                    "{table}.tls = \"none\" would carry protected health information unencrypted to {host:?}: \
                     use \"implicit\" or \"starttls\" (tls = \"none\" is allowed only for localhost, 127.0.0.0/8 and ::1)"
                );
            }
        }
        Ok(())
    }
}

/// The path of a base URL (without its trailing `/`), or what is wrong with the URL.
pub(super) fn base_url_path(url: &str) -> Result<&str, &'static str> {
    const NOT_ABSOLUTE: &str =
        "is not an absolute http or https URL, such as https://portal.example.gov/";
    let (scheme, rest) = url.split_once("://").ok_or(NOT_ABSOLUTE)?;
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return Err(NOT_ABSOLUTE);
    }
    if url.contains(['?', '#']) {
        return Err("has a query or a fragment; it may only have a path");
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\`{}|^".contains(c))
    {
        return Err("has a character that a URL cannot hold unencoded");
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(NOT_ABSOLUTE);
    }
    Ok(rest[host_end..].trim_end_matches('/'))
}

/// A bare `local@domain` address: enough to catch a typo in the config.
fn is_plain_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

/// `localhost`, an address in 127.0.0.0/8, or ::1: a host on this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}
