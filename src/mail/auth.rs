//! Sender authentication: the `Authentication-Results` header (RFC 8601) that the
//! receiving mail server writes after checking DKIM, SPF and DMARC, read with RFC
//! 5322's comments and quoted strings ([`parse`]); and whether a message's From
//! address is authenticated by a header the portal trusts ([`is_authenticated`]).
//!
//! Anyone can write an `Authentication-Results` header into a message. Only one whose
//! authserv-id names the portal's own receiving server counts, and that server is
//! expected to remove any copy of its own header a sender put in before it adds its
//! own (README, *Sender authentication*).

/// One `Authentication-Results` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// Who checked the message (the receiving server's authserv-id), as written.
    pub authserv_id: String,
    /// The version after the authserv-id, when one is given (only `1` exists).
    pub version: Option<u32>,
    /// Each method's result in the order written; empty for `; none`.
    pub results: Vec<MethodResult>,
}

/// One method's result: `dkim=pass header.d=clinic.example header.b=abc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, … lower-cased; a method the portal does not know is
    /// kept too.
    pub method: String,
    /// `pass`, `fail`, `none`, `neutral`, `temperror`, … lower-cased.
    pub result: String,
    /// The `reason=` text, when given.
    pub reason: Option<String>,
    /// `(ptype.property, value)` in the order written, the name lower-cased:
    /// `("header.d", "clinic.example")`. A `name=value` without a ptype (Microsoft's
    /// `action=none`) is kept under its bare name.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The value of the first property with this name (`header.d`), if any.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The receiving server adds its header at the top, so it is among the first; more
/// than this many are a sender's padding and are not read.
pub const MAX_HEADERS: usize = 50;

/// Parses one `Authentication-Results` value (what follows the colon). A value that
/// does not follow RFC 8601's grammar — an unclosed comment or quoted string, a
/// result without a method, no authserv-id — is `None`, which counts as no header.
/// One pass over the text: nothing backtracks, so hostile input costs linear time.
pub fn parse(value: &str) -> Option<AuthenticationResults> {
    let mut cursor = Cursor::new(value);
    cursor.cfws()?;
    let authserv_id = cursor.value()?;
    if authserv_id.trim().is_empty() {
        return None;
    }
    cursor.cfws()?;
    let version = if cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
        let version = cursor.digits()?;
        cursor.cfws()?;
        Some(version)
    } else {
        None
    };
    // At least one `;`: a result, or `; none`.
    if cursor.peek() != Some(b';') {
        return None;
    }
    let mut results = Vec::new();
    while cursor.eat(b';') {
        cursor.cfws()?;
        if cursor.at_end() {
            // A trailing `;`, as some servers write.
            break;
        }
        if let Some(result) = cursor.result()? {
            results.push(result);
        }
        if !cursor.at_end() && cursor.peek() != Some(b';') {
            return None;
        }
    }
    Some(AuthenticationResults {
        authserv_id,
        version,
        results,
    })
}

/// True when a header whose authserv-id is `trusted` (compared without case) says
/// that the message's From domain is authenticated: `dmarc=pass` for that domain, or
/// `dkim=pass` with a signing domain (`header.d`) aligned with it — the same
/// organizational domain by the public suffix list (DMARC's relaxed alignment).
/// Headers from anyone else, malformed ones, and every other result (`fail`,
/// `neutral`, `none`, `temperror`, …) count for nothing. SPF alone never
/// authenticates: it speaks for the envelope sender, not for the From address.
pub fn is_authenticated(headers: &[&str], trusted: &[String], from_domain: &str) -> bool {
    let from_domain = domain_of(from_domain);
    if from_domain.is_empty() {
        return false;
    }
    headers
        .iter()
        .take(MAX_HEADERS)
        .filter_map(|value| parse(value))
        .filter(|header| {
            trusted
                .iter()
                .any(|id| id.trim().eq_ignore_ascii_case(header.authserv_id.trim()))
        })
        .flat_map(|header| header.results)
        .any(|result| vouches_for(&result, &from_domain))
}

/// One result that authenticates `from_domain` (lower-cased).
fn vouches_for(result: &MethodResult, from_domain: &str) -> bool {
    if result.result != "pass" {
        return false;
    }
    match result.method.as_str() {
        // `header.from` is required: a `dmarc=pass` that does not say for which
        // domain could be the verdict on another From (a message may carry two), and
        // every DMARC verifier in use (OpenDMARC, rspamd, the large mailbox
        // providers) writes it.
        "dmarc" => result
            .property("header.from")
            .is_some_and(|domain| domain_of(domain) == from_domain),
        "dkim" => result
            .property("header.d")
            .is_some_and(|domain| aligned(&domain_of(domain), from_domain)),
        _ => false,
    }
}

/// DMARC's relaxed alignment: the same domain, or the same organizational domain
/// (the public suffix plus one label). A public suffix has no organizational domain,
/// so `co.uk` never aligns with `clinic.co.uk`.
pub fn aligned(signer: &str, from_domain: &str) -> bool {
    if signer.is_empty() {
        return false;
    }
    if signer == from_domain {
        return true;
    }
    match (organizational(signer), organizational(from_domain)) {
        (Some(signer), Some(from)) => signer == from,
        _ => false,
    }
}

/// The organizational domain of a lower-cased domain, from the compiled-in public
/// suffix list; `None` for a public suffix itself. A top-level domain the list does
/// not know (`.example`, `.test`) counts as a suffix of one label.
fn organizational(domain: &str) -> Option<&str> {
    psl::domain_str(domain)
}

/// The domain of an address or a domain, lower-cased, without a trailing dot.
fn domain_of(text: &str) -> String {
    let domain = text.rsplit('@').next().unwrap_or("").trim();
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// A position in a header value, read byte by byte. Every delimiter is ASCII, so a
/// slice between two of them is always valid UTF-8.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    /// Takes `byte` when it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        if next {
            self.at += 1;
        }
        next
    }

    /// Takes the longest run of bytes `accept` allows (maybe none).
    fn run(&mut self, accept: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&accept) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// Skips folding white space and comments, nested ones included; `None` when a
    /// comment is never closed. The depth is counted, never recursed into, so deep
    /// nesting costs no stack.
    fn cfws(&mut self) -> Option<()> {
        loop {
            self.run(|byte| byte.is_ascii_whitespace());
            if !self.eat(b'(') {
                return Some(());
            }
            let mut depth = 1usize;
            while depth > 0 {
                match self.peek()? {
                    // A quoted-pair at the very end steps past it: `peek` then ends it.
                    b'\\' => self.at += 2,
                    b'(' => {
                        depth += 1;
                        self.at += 1;
                    }
                    b')' => {
                        depth -= 1;
                        self.at += 1;
                    }
                    _ => self.at += 1,
                }
            }
        }
    }

    /// A keyword (RFC 8601: letters, digits and hyphens), lower-cased; `None` when
    /// there is none here.
    fn keyword(&mut self) -> Option<String> {
        let word = self.run(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        (!word.is_empty()).then(|| word.to_ascii_lowercase())
    }

    /// One or more digits, as a number.
    fn digits(&mut self) -> Option<u32> {
        self.run(|byte| byte.is_ascii_digit()).parse().ok()
    }

    /// A MIME token or a quoted string (RFC 2045 `value`).
    fn value(&mut self) -> Option<String> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let token = self.run(is_token_byte);
        (!token.is_empty()).then(|| token.to_owned())
    }

    /// A quoted string without its quotes, quoted-pairs undone and line breaks
    /// unfolded; `None` when it is never closed.
    fn quoted(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut text = String::new();
        loop {
            let start = self.at;
            self.run(|byte| !matches!(byte, b'"' | b'\\' | b'\r' | b'\n'));
            text.push_str(&self.text[start..self.at]);
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(text);
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.text[self.at..].chars().next()?;
                    text.push(escaped);
                    self.at += escaped.len_utf8();
                }
                _ => self.at += 1,
            }
        }
    }

    /// A property's value: a quoted string (perhaps the local part of `"a b"@d`) or
    /// the run of text up to white space, a comment or the next `;` — `@d`, `a@d`, a
    /// domain, the start of a signature (`header.b=Ab+/=`).
    fn pvalue(&mut self) -> Option<String> {
        if self.peek() == Some(b'"') {
            let mut value = self.quoted()?;
            if self.eat(b'@') {
                let domain = self.run(is_pvalue_byte);
                if domain.is_empty() {
                    return None;
                }
                value.push('@');
                value.push_str(domain);
            }
            return Some(value);
        }
        let value = self.run(is_pvalue_byte);
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// After a `;`: `method[/version] = result [reason=…] [ptype.property=value …]`,
    /// or `none` (no result: `Some(None)`). `None` when it is malformed.
    fn result(&mut self) -> Option<Option<MethodResult>> {
        let method = self.keyword()?;
        self.cfws()?;
        if method == "none" && (self.at_end() || self.peek() == Some(b';')) {
            return Some(None);
        }
        if self.eat(b'/') {
            self.cfws()?;
            self.digits()?;
            self.cfws()?;
        }
        if !self.eat(b'=') {
            return None;
        }
        self.cfws()?;
        let mut result = MethodResult {
            method,
            result: self.keyword()?,
            reason: None,
            properties: Vec::new(),
        };
        self.properties(&mut result)?;
        Some(Some(result))
    }

    /// The `reason=` and the properties of a result, up to the next `;` or the end.
    fn properties(&mut self, result: &mut MethodResult) -> Option<()> {
        loop {
            self.cfws()?;
            if self.at_end() || self.peek() == Some(b';') {
                return Some(());
            }
            let ptype = self.keyword()?;
            self.cfws()?;
            if self.eat(b'=') {
                self.cfws()?;
                if ptype == "reason" {
                    result.reason = Some(self.value()?);
                } else {
                    let value = self.pvalue()?;
                    result.properties.push((ptype, value));
                }
                continue;
            }
            if !self.eat(b'.') {
                return None;
            }
            self.cfws()?;
            let property = self.keyword()?;
            self.cfws()?;
            if !self.eat(b'=') {
                return None;
            }
            self.cfws()?;
            let value = self.pvalue()?;
            result
                .properties
                .push((format!("{ptype}.{property}"), value));
        }
    }
}

/// A byte of a MIME token (RFC 2045): not a space, a control or a tspecial. Bytes of
/// UTF-8 beyond ASCII count as token bytes (RFC 8616).
fn is_token_byte(byte: u8) -> bool {
    byte > b' ' && byte != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&byte)
}

/// A byte of an unquoted property value.
fn is_pvalue_byte(byte: u8) -> bool {
    byte > b' ' && byte != 0x7f && !b"();\"".contains(&byte)
}

#[cfg(test)]
mod tests;
