//! Hostile mail: malformed MIME, a 30 MiB message, 500 attachments, zip bombs,
//! non-UTF-8 charsets, 1 MiB header lines (Subject, Message-ID, References), attachment
//! names that look like paths, a message without a sender or with one no notice can be
//! sent to, a PDF and an encrypted workbook in disguise. Each ends quarantined or
//! answered; none stops the run.
//!
//! Every hostile message is made here, at test time, and delivered with one ordinary
//! good complaint from a registered provider into one mailroom; then ONE pass runs
//! through the real binary (`portal intake --once`) under a 2 GiB address-space limit,
//! so a blow-up fails the test rather than the machine. Afterwards the store is read
//! directly: every message has its processed record with the expected outcome, left
//! the inbox for the expected folder, and got exactly the expected notices, none of
//! which repeats anything (PHI included) from the hostile input.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use portal::forms::samples::{SAMPLE_NPI, Sample};
use portal::forms::schema::claim;
use portal::forms::{Kind, Reason, Status, Value};
use portal::intake::hash;
use portal::mail::Folder;
use portal::mail::classify;
use portal::mail::maildir::Maildir;
use portal::store::{Delivery, MessageRecord, Notice, Outcome, Store, Ticket, Tree};

use crate::common::BoundedRun as Run;
use crate::common::{Mailroom, PROVIDER, Sent, config, fixture, message, portal_bounded};
use crate::zipkit::{RawPart, crc32_of_zeros, deflated_zeros, raw_zip, stored_parts};

const INTAKE: &str = "intake@portal.example.gov";
const INQUIRIES: &str = "HFS.Portalinquiries@illinois.gov";
/// A second registered provider: it sends the hostile workbooks, so the good complaint
/// from [`PROVIDER`] stays apart from them (and neither reaches the daily notice limit).
const SECOND: &str = "claims@lakeside-health.example";

/// The size cap the mailroom's config sets (`[mail] max_message_bytes`, 25 MiB).
const MAX_MESSAGE_BYTES: u64 = 25 * 1024 * 1024;
/// The address space `portal intake --once` may take (2 GiB).
const MEMORY_BYTES: u64 = 2 << 30;
/// Its CPU seconds, and the generous wall-clock wait for it.
const CPU_SECONDS: u64 = 300;
const WAIT: Duration = Duration::from_secs(600);

/// Protected health information planted in the hostile inputs (subjects, bodies,
/// headers, attachment names): no notice may repeat any of it.
const PHI: [&str; 4] = ["Jane Roe", "987654321", "CLM9999999", "1962-04-01"];
/// A line holding all of it.
const PHI_LINE: &str = "Patient Jane Roe, DOB 1962-04-01, Medicaid ID 987654321, claim CLM9999999";

// ---------------------------------------------------------------------------------
// Running the binary under limits.
// ---------------------------------------------------------------------------------

/// `Mailroom::cli(&["intake", "--once"])`, under prlimit's address-space and CPU limits
/// (util-linux), with a wall-clock wait.
fn intake_once(room: &Mailroom) -> Run {
    let args: [&std::ffi::OsStr; 4] = [
        "--config".as_ref(),
        room.config_path.as_os_str(),
        "intake".as_ref(),
        "--once".as_ref(),
    ];
    portal_bounded(
        MEMORY_BYTES,
        CPU_SECONDS,
        WAIT,
        Some(room.dir.path()),
        &args,
    )
}

// ---------------------------------------------------------------------------------
// Writing MIME by hand, so every header and byte is exactly as a hostile sender
// wants it.
// ---------------------------------------------------------------------------------

/// Base64 in lines of 76 characters.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() / 3 * 4 + bytes.len() / 57 * 2 + 8);
    for (index, chunk) in bytes.chunks(3).enumerate() {
        if index > 0 && index % 19 == 0 {
            out.push_str("\r\n");
        }
        let byte = |at: usize| u32::from(chunk.get(at).copied().unwrap_or(0));
        let group = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for at in 0..4 {
            if at <= chunk.len() {
                out.push(char::from(ALPHABET[(group >> (18 - 6 * at)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A message: `headers` (CRLF-separated lines), a blank line, `body`.
fn raw(headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = headers.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// The usual headers of a message from `from`.
fn envelope(from: &str, to: &str, subject: &str, id: &str) -> Vec<String> {
    vec![
        format!("From: {from}"),
        format!("To: {to}"),
        format!("Subject: {subject}"),
        format!("Message-ID: <{id}@hostile.example>"),
        "Date: Tue, 24 Nov 2026 10:00:00 -0600".to_owned(),
        "MIME-Version: 1.0".to_owned(),
    ]
}

/// One body part: its header lines and its (already encoded) content.
struct Part {
    headers: String,
    body: Vec<u8>,
}

fn text_part(text: &str) -> Part {
    Part {
        headers: "Content-Type: text/plain; charset=us-ascii".to_owned(),
        body: text.as_bytes().to_vec(),
    }
}

/// An attachment whose Content-Disposition parameters are `params` verbatim.
fn attachment(params: &str, bytes: &[u8]) -> Part {
    Part {
        headers: format!(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; {params}\r\nContent-Transfer-Encoding: base64"
        ),
        body: base64(bytes).into_bytes(),
    }
}

const BOUNDARY: &str = "=_hostile_7f3a";

/// The multipart/mixed body of `parts`, closed properly.
fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{}\r\n\r\n", part.headers).as_bytes());
        body.extend_from_slice(&part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A multipart/mixed message with the usual headers.
fn multipart(from: &str, subject: &str, id: &str, parts: &[Part]) -> Vec<u8> {
    let mut headers = envelope(from, INTAKE, subject, id);
    headers.push(format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\""
    ));
    raw(&headers, &multipart_body(parts))
}

/// Pseudo-random bytes, the same every run.
fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Workbooks: good complaints with their own claims, and zip bombs.
// ---------------------------------------------------------------------------------

/// A good complaint (every line goes to the MCO) of `count` lines whose claim and
/// tracking numbers start at `first`, so complaints in one pass are no duplicates.
fn complaint_from(first: usize, count: usize) -> Vec<u8> {
    let config = config();
    let mut lines = portal::forms::samples::complaint_lines(
        Sample::Good,
        portal::today::today_in_illinois(),
        4,
        count,
    );
    for (index, line) in lines.iter_mut().enumerate() {
        line.values[claim::CLAIM_NUMBER] = Some(Value::Text(format!("CLM{:07}", first + index)));
        line.values[claim::TRACKING_NUMBER] =
            Some(Value::Text(format!("0TRK-{:05}", first + index)));
    }
    portal::forms::write::complaint_with_lines(&config.mcos, &config.rules, &lines)
        .expect("the complaint is written")
}

/// A real-looking complaint template (.xlsx: the blank template's parts) carrying a
/// member of ~100 MiB of zeros deflated to 650 kB, which declares `declared` bytes
/// (its true size when `None`).
fn zip_bomb(declared: Option<u32>) -> Vec<u8> {
    let config = config();
    let blank = portal::forms::write::blank(Kind::Complaint, &config.mcos, &config.rules)
        .expect("a blank template");
    let mut parts = stored_parts(&blank);
    let (data, size) = deflated_zeros(406_425);
    assert!(size > 100 * 1024 * 1024);
    parts.push(RawPart {
        name: "xl/media/image1.png".to_owned(),
        method: 8,
        flags: 0,
        crc: crc32_of_zeros(size),
        data,
        declared: declared.unwrap_or(size as u32),
    });
    raw_zip(&parts)
}

// ---------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------

/// What a message must become.
#[derive(Debug, Clone)]
enum Expect {
    /// One ticket with this status and whole-ticket reason, whose problems mention
    /// `says` (when not empty), answered with these notice kinds.
    Ticket {
        status: Status,
        reason: Option<Reason>,
        says: &'static str,
        notices: &'static [&'static str],
    },
    /// Answered with how to submit.
    Help,
    /// Stored as an inquiry and answered.
    Inquiry,
    /// A machine's: recorded, answered by nobody.
    Automatic,
    /// Quarantined for `why`, with a quarantine notice to the sender or with none.
    Quarantined {
        why: &'static [&'static str],
        notice: bool,
    },
}

/// One hostile (or good) message.
struct Case {
    name: &'static str,
    inquiries: bool,
    raw: Vec<u8>,
    expect: Expect,
}

fn case(name: &'static str, raw: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        inquiries: false,
        raw,
        expect,
    }
}

const FORWARDED: Expect = Expect::Ticket {
    status: Status::Forwarded,
    reason: None,
    says: "",
    notices: &["accepted", "mco_forward"],
};

fn closed_unknown(says: &'static str) -> Expect {
    Expect::Ticket {
        status: Status::Closed,
        reason: Some(Reason::UnknownTemplate),
        says,
        notices: &["closed"],
    }
}

/// The good complaint: one ordinary message among the hostile ones.
fn good_complaint() -> Case {
    let raw = message(
        PROVIDER,
        INTAKE,
        "Claims for review",
        "See attached.",
        &[("claims.xlsx", complaint_from(4200, 3))],
    );
    case("good complaint", raw, FORWARDED)
}

fn malformed_mime() -> Vec<Case> {
    // A boundary declared but never used, and one used but never declared.
    let mut headers = envelope(
        "front-desk@clinic-one.example",
        INTAKE,
        &format!("Broken boundaries: {PHI_LINE}"),
        "broken-boundary",
    );
    headers.push("Content-Type: multipart/mixed; boundary=\"declared\"".to_owned());
    let body = format!(
        "--used\r\nContent-Type: text/plain\r\n\r\n{PHI_LINE}\r\n--used\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"claims.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAI\r\n"
    );
    let broken_boundaries = raw(&headers, body.as_bytes());

    // A multipart cut off in the middle of a base64 workbook, never closed.
    let good = complaint_from(9100, 2);
    let mut cut = multipart(
        SECOND,
        "Claims",
        "cut-short",
        &[
            text_part("See attached."),
            attachment("filename=\"claims.xlsx\"", &good),
        ],
    );
    cut.truncate(cut.len() - good.len() / 2);

    // No header section at all: the body starts at the first byte.
    let no_headers = format!("{PHI_LINE}\r\nPlease review the attached claims.\r\n").into_bytes();

    // Binary garbage, NULs and bare CRs included.
    let mut garbage = noise(64 * 1024, 0x5eed);
    garbage.extend_from_slice(b"\r\nFrom: \0\xff\xfe\r\r\n\r\n");

    // Content-Transfer-Encoding lies: a workbook declared base64 but sent as raw
    // binary, and one declared quoted-printable but sent as base64 text.
    let workbook = complaint_from(9200, 2);
    let lie_binary = multipart(
        SECOND,
        "Claims",
        "cte-binary",
        &[
            text_part("See attached."),
            Part {
                headers: "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"claims.xlsx\"\r\nContent-Transfer-Encoding: base64".to_owned(),
                body: workbook,
            },
        ],
    );
    let lie_qp = multipart(
        SECOND,
        "Claims",
        "cte-qp",
        &[
            text_part("See attached."),
            Part {
                headers: "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"claims.xlsx\"\r\nContent-Transfer-Encoding: quoted-printable".to_owned(),
                body: base64(&complaint_from(9300, 2)).into_bytes(),
            },
        ],
    );

    // Ten thousand nested multiparts.
    let depth = 10_000;
    let mut nested =
        envelope("nesting@clinic-two.example", INTAKE, "Nested", "nested").join("\r\n");
    for level in 0..depth {
        nested.push_str(&format!(
            "\r\nContent-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}"
        ));
    }
    nested.push_str("\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
    for level in (0..depth).rev() {
        nested.push_str(&format!("--n{level}--\r\n"));
    }

    vec![
        case("broken boundaries", broken_boundaries, Expect::Help),
        // mail-parser keeps a part it cannot decode as it stands: base64 text, which is
        // no spreadsheet. The sender learns that no template came through.
        case("cut short", cut, Expect::Help),
        case(
            "no headers",
            no_headers,
            Expect::Quarantined {
                why: &["no sender address", "not a mail message"],
                notice: false,
            },
        ),
        case(
            "binary garbage",
            garbage,
            Expect::Quarantined {
                why: &["no sender address", "not a mail message"],
                notice: false,
            },
        ),
        // Not base64 at all: mail-parser keeps the part as text, made valid UTF-8, which
        // mangles the workbook: a closed ticket that says the file is damaged.
        case(
            "transfer encoding lie: binary as base64",
            lie_binary,
            closed_unknown("damaged"),
        ),
        case(
            "transfer encoding lie: base64 as quoted-printable",
            lie_qp,
            Expect::Help,
        ),
        case(
            "10,000 nested multiparts",
            nested.into_bytes(),
            Expect::Help,
        ),
    ]
}

/// A body of ~30 MiB: a scanned "chart" of PHI, base64, over the 25 MiB cap.
fn thirty_mib() -> Vec<u8> {
    oversized("records@big-hospital.example", "thirty-mib")
}

/// A 30 MiB message from `from` (a chart scan with PHI in its name and subject).
fn oversized(from: &str, id: &str) -> Vec<u8> {
    let mut headers = envelope(from, INTAKE, &format!("Chart for {PHI_LINE}"), id);
    headers.push(format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\""
    ));
    let line = base64(&PHI_LINE.as_bytes()[..57]);
    assert_eq!(line.len(), 76);
    let mut chart = String::with_capacity(31 << 20);
    while chart.len() < 30 << 20 {
        chart.push_str(&line);
        chart.push_str("\r\n");
    }
    let parts = [
        text_part(PHI_LINE),
        Part {
            headers: "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"Jane Roe chart.pdf\"\r\nContent-Transfer-Encoding: base64".to_owned(),
            body: chart.into_bytes(),
        },
    ];
    let raw = raw(&headers, &multipart_body(&parts));
    assert!(
        raw.len() as u64 > MAX_MESSAGE_BYTES && raw.len() < 31 << 20,
        "{}",
        raw.len()
    );
    raw
}

/// 500 small attachments (PHI in their names).
fn five_hundred_attachments() -> Vec<u8> {
    let parts: Vec<Part> = std::iter::once(text_part("Five hundred notes attached."))
        .chain((0..500).map(|n| {
            attachment(
                &format!("filename=\"Jane Roe note {n}.txt\""),
                format!("note {n}: {PHI_LINE}\r\n").as_bytes(),
            )
        }))
        .collect();
    multipart(
        "many-files@clinic-four.example",
        "Notes",
        "five-hundred",
        &parts,
    )
}

fn zip_bombs_and_disguises() -> Vec<Case> {
    let encrypted = std::fs::read(fixture("hostile/encrypted.xlsx"))
        .expect("tests/fixtures/hostile/encrypted.xlsx");
    let pdf = format!("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% {PHI_LINE}\n%%EOF\n")
        .into_bytes();
    vec![
        case(
            "zip bomb, honest sizes",
            multipart(
                SECOND,
                "Claims",
                "bomb-honest",
                &[
                    text_part("See attached."),
                    attachment("filename=\"Jane Roe claims.xlsx\"", &zip_bomb(None)),
                ],
            ),
            closed_unknown("zip bomb"),
        ),
        case(
            "zip bomb, lying sizes",
            multipart(
                SECOND,
                "Claims",
                "bomb-lying",
                &[
                    text_part("See attached."),
                    attachment("filename=\"claims.xlsx\"", &zip_bomb(Some(1_000))),
                ],
            ),
            closed_unknown("damaged"),
        ),
        case(
            "encrypted .xlsx",
            multipart(
                SECOND,
                "Claims",
                "encrypted",
                &[
                    text_part("See attached."),
                    attachment("filename=\"claims.xlsx\"", &encrypted),
                ],
            ),
            closed_unknown("password-protected"),
        ),
        case(
            "PDF named .xlsx",
            multipart(
                SECOND,
                "Claims",
                "pdf",
                &[
                    text_part("See attached."),
                    attachment("filename=\"claims.xlsx\"", &pdf),
                ],
            ),
            Expect::Help,
        ),
    ]
}

/// Attachment names that are paths: reduced to their last component, never used as
/// paths; the complaint inside is filed as any other.
fn path_names() -> Vec<Case> {
    let named = |params: &str, first: usize, id: &str| {
        multipart(
            SECOND,
            "Claims",
            id,
            &[
                text_part("See attached."),
                attachment(params, &complaint_from(first, 2)),
            ],
        )
    };
    vec![
        case(
            "name ../../etc/passwd.xlsx",
            named("filename=\"../../etc/passwd.xlsx\"", 5200, "path-slash"),
            FORWARDED,
        ),
        case(
            "name ..\\..\\x.xlsx (quoted)",
            named("filename=\"..\\..\\x.xlsx\"", 5300, "path-backslash"),
            FORWARDED,
        ),
        case(
            "name ..\\..\\x.xlsx (RFC 2231)",
            named("filename*=UTF-8''..%5C..%5Cx.xlsx", 5400, "path-2231"),
            FORWARDED,
        ),
    ]
}

fn charsets() -> Vec<Case> {
    let single = |from: &str, id: &str, subject: &[u8], charset: &str, body: &[u8]| {
        let mut raw = format!("From: {from}\r\nTo: {INTAKE}\r\nMessage-ID: <{id}@hostile.example>\r\nMIME-Version: 1.0\r\nSubject: ").into_bytes();
        raw.extend_from_slice(subject);
        raw.extend_from_slice(format!("\r\nContent-Type: text/plain; charset=\"{charset}\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").as_bytes());
        raw.extend_from_slice(body);
        raw
    };
    let latin1 = single(
        "dr.muller@clinique-lumiere.example",
        "latin1",
        b"=?ISO-8859-1?Q?R=E9clamation_pour_Jos=E9?=",
        "ISO-8859-1",
        &[
            b"Bonjour, voici la r\xe9clamation de M. M\xfcller. ".as_slice(),
            PHI_LINE.as_bytes(),
        ]
        .concat(),
    );
    let mut cp1252_body = b"\x93Smart quotes\x94 \x96 \x80 12.00 \x85 ".to_vec();
    cp1252_body.extend_from_slice(PHI_LINE.as_bytes());
    let mut cp1252_subject = b"\x93Claims\x94 \x96 ".to_vec(); // raw 8-bit in a header
    cp1252_subject.extend_from_slice(PHI_LINE.as_bytes());
    let cp1252 = single(
        "office@smart-quotes.example",
        "cp1252",
        &cp1252_subject,
        "windows-1252",
        &cp1252_body,
    );
    let unknown = single(
        "qapla@unknown-charset.example",
        "unknown-charset",
        b"=?x-klingon-9?Q?q=E4pla_=FF=FE?=",
        "x-klingon-9",
        &[b"\xe4\xff\xfe\x80\x81 ".as_slice(), PHI_LINE.as_bytes()].concat(),
    );
    // Shift_JIS: a subject, a body and an attachment name ("ハロー.xlsx") carrying a
    // good complaint from a registered provider.
    let hello = b"\x83n\x83\x8D\x81[";
    let mut headers = envelope(
        SECOND,
        INTAKE,
        &format!("=?Shift_JIS?B?{}?= claims", base64(hello)),
        "shift-jis",
    );
    headers.push(format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\""
    ));
    let shift_jis = raw(
        &headers,
        &multipart_body(&[
            Part {
                headers:
                    "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit"
                        .to_owned(),
                body: [hello.as_slice(), b" ", PHI_LINE.as_bytes()].concat(),
            },
            attachment(
                &format!(
                    "filename=\"=?Shift_JIS?B?{}?=\"",
                    base64(&[hello.as_slice(), b".xlsx"].concat())
                ),
                &complaint_from(7200, 2),
            ),
        ]),
    );
    vec![
        case("ISO-8859-1", latin1, Expect::Help),
        case("Windows-1252, raw 8-bit header", cp1252, Expect::Help),
        case("unknown charset", unknown, Expect::Help),
        case(
            "Shift_JIS with a Shift_JIS attachment name",
            shift_jis,
            FORWARDED,
        ),
    ]
}

/// Headers of a megabyte.
fn long_headers() -> Vec<Case> {
    let megabyte = 1 << 20;
    let subject = format!("{}{PHI_LINE}", "A".repeat(megabyte));
    let long_subject = raw(
        &envelope(
            "long-subject@clinic-three.example",
            INTAKE,
            &subject,
            "long-subject",
        ),
        format!("{PHI_LINE}\r\n").as_bytes(),
    );

    let mut headers = envelope("long-id@clinic-six.example", INTAKE, "Question", "x");
    headers[3] = format!("Message-ID: <{}@long.example>", "m".repeat(megabyte));
    let long_id = raw(&headers, b"Hello.\r\n");

    let mut headers = envelope(
        "long-thread@clinic-seven.example",
        INTAKE,
        "Re: Re: Re: our thread",
        "long-thread",
    );
    let ids: Vec<String> = (0..20_000)
        .map(|n| format!("<{n:040}@thread.example>"))
        .collect();
    headers.push(format!("References: {}", ids.join(" ")));
    let long_references = raw(&headers, b"Hello again.\r\n");
    assert!(long_references.len() > megabyte);

    // Inquiries: Windows-1252, with a 1 MiB header line.
    let mut inquiry = format!(
        "From: question@clinic-five.example\r\nTo: {INQUIRIES}\r\nMessage-ID: <inquiry@hostile.example>\r\nSubject: =?windows-1252?Q?=93Registration=94_question?=\r\nX-Filler: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        "x".repeat(megabyte)
    )
    .into_bytes();
    inquiry.push(0x93);
    inquiry.extend_from_slice(PHI_LINE.as_bytes());
    inquiry.extend_from_slice(b"\x94\r\n");

    vec![
        case("1 MiB Subject line", long_subject, Expect::Help),
        case("1 MiB Message-ID", long_id, Expect::Help),
        case("20,000 References (1 MiB)", long_references, Expect::Help),
        Case {
            name: "inquiry, Windows-1252, 1 MiB header",
            inquiries: true,
            raw: inquiry,
            expect: Expect::Inquiry,
        },
    ]
}

fn senders() -> Vec<Case> {
    let no_sender = Expect::Quarantined {
        why: &["no sender address"],
        notice: false,
    };
    let no_from = raw(
        &[
            "To: intake@portal.example.gov".to_owned(),
            "Subject: Claims".to_owned(),
            "Message-ID: <no-from@hostile.example>".to_owned(),
        ],
        format!("{PHI_LINE}\r\n").as_bytes(),
    );
    // Addresses mail-parser takes and the mail builder refuses (a quoted local part
    // comes out of mail-parser as `@clinic.example`).
    let quoted = raw(
        &envelope(
            "\"jane roe\"@clinic-eight.example",
            INTAKE,
            "Claims",
            "quoted-sender",
        ),
        format!("{PHI_LINE}\r\n").as_bytes(),
    );
    let spaced = raw(
        &envelope(
            "jane roe@clinic-eight.example",
            INTAKE,
            "Claims",
            "spaced-sender",
        ),
        format!("{PHI_LINE}\r\n").as_bytes(),
    );
    vec![
        case("no From", no_from, no_sender.clone()),
        case("From with a quoted local part", quoted, no_sender.clone()),
        case("From with a space", spaced, no_sender),
        case(
            "30 MiB message",
            thirty_mib(),
            Expect::Quarantined {
                why: &["too large"],
                notice: true,
            },
        ),
        // Quarantined with a notice, not answered: the classifier looks at 100
        // attachments at most, so a ticket filed from the first 100 could drop templates
        // further down without anyone knowing. Staff see it in Quarantine and may
        // release it; the sender learns the limits.
        case(
            "500 attachments",
            five_hundred_attachments(),
            Expect::Quarantined {
                why: &["too many attachments"],
                notice: true,
            },
        ),
    ]
}

/// What once lost a message or answered the wrong person (R12, R13): a bounce too
/// large to read, a stranger quoting a ticket id, an auto-reply by its older headers, a
/// spreadsheet beside the template, and a Message-ID reused on another workbook.
fn trust() -> Vec<Case> {
    let stranger = raw(
        &envelope(
            "someone@elsewhere.example",
            INTAKE,
            "Re: [PRP-2026-000001] please cancel",
            "stranger-on-a-ticket",
        ),
        format!("Cancel it. {PHI_LINE}\r\n").as_bytes(),
    );
    let mut autoreply = envelope(
        "nurse@clinic-two.example",
        INTAKE,
        "Away: claims",
        "x-autoreply",
    );
    autoreply.push("X-Autoreply: yes".to_owned());
    autoreply.push("Precedence: auto_reply".to_owned());
    let autoreply = raw(&autoreply, format!("Away. {PHI_LINE}\r\n").as_bytes());
    let mut log = rust_xlsxwriter::Workbook::new();
    log.add_worksheet()
        .write_string(0, 0, PHI_LINE)
        .expect("a cell is written");
    let log = log.save_to_buffer().expect("the workbook is written");
    let with_id = |raw: Vec<u8>, id: &str| -> Vec<u8> {
        let text = String::from_utf8(raw).expect("a built message is text");
        let start = text.find("Message-ID: ").expect("a Message-ID");
        let end = start + text[start..].find("\r\n").expect("the header ends");
        format!("{}Message-ID: <{id}>{}", &text[..start], &text[end..]).into_bytes()
    };
    let beside = with_id(
        message(
            SECOND,
            INTAKE,
            "Claims and our log",
            "Attached.",
            &[
                ("claims.xlsx", complaint_from(6300, 2)),
                ("Jane Roe log.xlsx", log),
            ],
        ),
        "reused@lakeside-health.example",
    );
    let reused = with_id(
        message(
            SECOND,
            INTAKE,
            "More claims",
            "Attached.",
            &[("claims.xlsx", complaint_from(6400, 2))],
        ),
        "reused@lakeside-health.example",
    );
    vec![
        case(
            "30 MiB bounce from a mailer daemon",
            oversized("MAILER-DAEMON@mx.big-hospital.example", "thirty-mib-bounce"),
            Expect::Quarantined {
                why: &["too large"],
                notice: false,
            },
        ),
        case("a stranger writing on a ticket id", stranger, Expect::Help),
        case(
            "X-Autoreply and Precedence: auto_reply",
            autoreply,
            Expect::Automatic,
        ),
        case("a spreadsheet beside the template", beside, FORWARDED),
        case("a Message-ID reused on another workbook", reused, FORWARDED),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = vec![good_complaint()];
    cases.extend(malformed_mime());
    cases.extend(zip_bombs_and_disguises());
    cases.extend(path_names());
    cases.extend(charsets());
    cases.extend(long_headers());
    cases.extend(senders());
    cases.extend(trust());
    cases
}

// ---------------------------------------------------------------------------------
// Checking what became of each.
// ---------------------------------------------------------------------------------

fn outbox_files(room: &Mailroom) -> HashSet<PathBuf> {
    std::fs::read_dir(room.path("outbox"))
        .map(|entries| {
            entries
                .map(|entry| entry.expect("an outbox entry").path())
                .collect()
        })
        .unwrap_or_default()
}

/// The longest line of a message.
fn longest_line(raw: &[u8]) -> usize {
    raw.split(|byte| *byte == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Everything a reader of a notice sees: subject, text and HTML bodies, headers.
fn readable(raw: &[u8]) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a notice parses");
    let mut seen = String::from_utf8_lossy(raw).into_owned();
    for index in 0..message.text_body_count() {
        seen.push_str(&message.body_text(index).unwrap_or_default());
    }
    for index in 0..message.html_body_count() {
        seen.push_str(&message.body_html(index).unwrap_or_default());
    }
    seen.push_str(message.subject().unwrap_or(""));
    seen
}

/// Checks one case against its record and notices; returns what is wrong.
fn check(store: &Store, case: &Case, record: &MessageRecord) -> Vec<String> {
    let mut wrong = Vec::new();
    let notices: Vec<Notice> = record
        .notices
        .iter()
        .map(|id| {
            store
                .get(Tree::Outbox, id.to_be_bytes())
                .expect("the store reads")
                .expect("the notice is recorded")
        })
        .collect();
    let mut kinds: Vec<&str> = notices.iter().map(|notice| notice.kind.as_str()).collect();
    kinds.sort_unstable();
    for notice in &notices {
        if !matches!(notice.delivery, Delivery::Sent { .. }) {
            wrong.push(format!(
                "notice {} not sent: {:?}",
                notice.kind, notice.delivery
            ));
        }
        if notice.kind != "mco_forward" && notice.to != record.from {
            wrong.push(format!(
                "notice {} to {} rather than the sender {}",
                notice.kind, notice.to, record.from
            ));
        }
        if longest_line(&notice.raw) > 998 {
            wrong.push(format!(
                "notice {} has a line of {} characters",
                notice.kind,
                longest_line(&notice.raw)
            ));
        }
        if notice.raw.len() > 256 * 1024 && notice.kind != "mco_forward" {
            wrong.push(format!(
                "notice {} is {} bytes",
                notice.kind,
                notice.raw.len()
            ));
        }
    }
    let expect_kinds = |wrong: &mut Vec<String>, expected: &[&str]| {
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        if kinds != expected {
            wrong.push(format!("notices {kinds:?}, expected {expected:?}"));
        }
    };
    match (&case.expect, &record.outcome) {
        (
            Expect::Ticket {
                status,
                reason,
                says,
                notices: expected,
            },
            Outcome::Tickets { ids },
        ) => {
            expect_kinds(&mut wrong, expected);
            if ids.len() != 1 {
                wrong.push(format!("tickets {ids:?}"));
                return wrong;
            }
            let ticket: Ticket = store
                .record(ids[0])
                .expect("the store reads")
                .expect("the ticket is recorded");
            if ticket.status != *status || ticket.reason != *reason {
                wrong.push(format!(
                    "ticket {} is {:?} ({:?}): {:?}",
                    ticket.id, ticket.status, ticket.reason, ticket.problems
                ));
            }
            if !says.is_empty()
                && !ticket
                    .problems
                    .iter()
                    .any(|problem| problem.message.contains(says))
            {
                wrong.push(format!(
                    "ticket {} does not say {says:?}: {:?}",
                    ticket.id, ticket.problems
                ));
            }
            // The provider learns why, in the words of the ticket.
            if let Some(notice) = notices.iter().find(|notice| notice.kind == "closed") {
                let text = readable(&notice.raw);
                for problem in &ticket.problems {
                    if !text.contains(&problem.message) {
                        wrong.push(format!("the closed notice lacks {:?}", problem.message));
                    }
                }
            }
        }
        (Expect::Help, Outcome::Help) => expect_kinds(&mut wrong, &["help"]),
        (Expect::Automatic, Outcome::Automatic) => expect_kinds(&mut wrong, &[]),
        (Expect::Inquiry, Outcome::Inquiry { .. }) => expect_kinds(&mut wrong, &["inquiry_answer"]),
        (Expect::Quarantined { why, notice }, Outcome::Quarantined { why: actual }) => {
            if !why.contains(&actual.as_str()) {
                wrong.push(format!(
                    "quarantined for {actual:?}, expected one of {why:?}"
                ));
            }
            let kinds: &[&str] = match (notice, why.contains(&"too large")) {
                (false, _) => &[],
                (true, true) => &["too_large"],
                (true, false) => &["quarantined"],
            };
            expect_kinds(&mut wrong, kinds);
        }
        (expected, actual) => wrong.push(format!("outcome {actual:?}, expected {expected:?}")),
    }
    wrong
}

#[test]
fn hostile_mail_is_quarantined_or_answered_and_never_stops_the_run() {
    let room = Mailroom::new(&format!(
        "[mail]\nmax_message_bytes = {MAX_MESSAGE_BYTES}\n"
    ));
    assert_eq!(room.config.mail.max_message_bytes, MAX_MESSAGE_BYTES);
    room.register(PROVIDER, SAMPLE_NPI);
    room.register(SECOND, SAMPLE_NPI);
    let earlier_notices = outbox_files(&room);

    let cases = all_cases();
    let mut hashes = HashSet::new();
    assert!(
        cases.iter().all(|case| hashes.insert(hash(&case.raw))),
        "every message is distinct"
    );

    // How the classifier reads the names and encodings the cases rely on.
    let names = |name: &str| -> Vec<Option<String>> {
        let case = cases.iter().find(|case| case.name == name).expect("a case");
        classify::parse(&case.raw)
            .expect("it parses")
            .attachments
            .into_iter()
            .map(|attachment| attachment.name)
            .collect()
    };
    assert_eq!(
        names("name ../../etc/passwd.xlsx"),
        [Some("passwd.xlsx".to_owned())]
    );
    assert_eq!(
        names("name ..\\..\\x.xlsx (RFC 2231)"),
        [Some("x.xlsx".to_owned())]
    );
    // In a quoted string `\.` is an escaped `.`: the name has no separator left at all.
    assert_eq!(
        names("name ..\\..\\x.xlsx (quoted)"),
        [Some("....x.xlsx".to_owned())]
    );
    // Legacy multi-byte charsets are decoded (mail-parser's `full_encoding`).
    assert_eq!(
        names("Shift_JIS with a Shift_JIS attachment name"),
        [Some("ハロー.xlsx".to_owned())]
    );

    let mut delivered: Vec<(String, &Case)> = Vec::new();
    for case in &cases {
        let id = if case.inquiries {
            room.deliver_inquiry(&case.raw)
        } else {
            room.deliver(&case.raw)
        };
        delivered.push((id, case));
    }

    // ONE pass, through the real binary, under the memory limit.
    let run = intake_once(&room);
    eprintln!("intake --once over {} messages: {run}", cases.len());
    assert_eq!(
        run.code,
        Some(1),
        "exit 1: something was quarantined\n{run}"
    );
    assert!(
        run.stdout
            .contains(&format!("intake: {} message(s)", cases.len())),
        "{run}"
    );
    assert!(
        !run.stderr.contains("panicked")
            && !run.stderr.contains("ERROR")
            && !run.stderr.contains("error:"),
        "{run}"
    );

    // Every message left its inbox, for the folder its outcome calls for.
    let inquiries = Maildir::open(&room.path("mail/inquiries")).expect("the inquiries Maildir");
    assert!(
        room.intake_folder(None).is_empty(),
        "intake inbox: {:?}",
        room.intake_folder(None)
    );
    assert!(
        inquiries.ids(None).expect("listed").is_empty(),
        "the inquiries inbox is empty"
    );
    let folder_of = |id: &str, inquiry: bool| -> Option<Folder> {
        [Folder::Processed, Folder::Quarantine]
            .into_iter()
            .find(|folder| {
                let ids = if inquiry {
                    inquiries.ids(Some(*folder)).expect("listed")
                } else {
                    room.intake_folder(Some(*folder))
                };
                ids.iter().any(|known| known == id)
            })
    };

    let store = Store::open(&room.config.store.path).expect("the store opens after the run");
    let records: BTreeMap<String, MessageRecord> = store
        .all::<MessageRecord>(Tree::Messages)
        .expect("the store reads")
        .into_iter()
        .map(|record| (record.hash.clone(), record))
        .collect();
    let mut wrong = Vec::new();
    let mut outcomes = Vec::new();
    for (id, case) in &delivered {
        // A message too large to take is known by its header alone, all that was read.
        let read = if case.raw.len() as u64 > MAX_MESSAGE_BYTES {
            &case.raw[..portal::mail::header_end(&case.raw)]
        } else {
            &case.raw[..]
        };
        let Some(record) = records.get(&hash(read)) else {
            wrong.push(format!("{}: no processed record", case.name));
            continue;
        };
        let said = match &record.outcome {
            Outcome::Tickets { ids } => store
                .record::<Ticket>(ids[0])
                .ok()
                .flatten()
                .map(|ticket| {
                    format!(
                        " {:?}: {}",
                        ticket.status,
                        ticket
                            .problems
                            .first()
                            .map_or("", |problem| &problem.message)
                    )
                })
                .unwrap_or_default(),
            Outcome::Quarantined { why } => format!(" ({why})"),
            _ => String::new(),
        };
        outcomes.push(format!(
            "{:<50} {:>9} bytes  {}{said}",
            case.name,
            case.raw.len(),
            record.outcome.label()
        ));
        let expected = if record.outcome.is_quarantined() {
            Folder::Quarantine
        } else {
            Folder::Processed
        };
        if folder_of(id, case.inquiries) != Some(expected) {
            wrong.push(format!(
                "{}: in {:?}, expected {expected:?}",
                case.name,
                folder_of(id, case.inquiries)
            ));
        }
        wrong.extend(
            check(&store, case, record)
                .into_iter()
                .map(|what| format!("{}: {what}", case.name)),
        );
    }
    eprintln!("{}", outcomes.join("\n"));

    // No notice repeats anything from the hostile input, and none about a provider's
    // complaint names a claim.
    let sent: Vec<Sent> = outbox_files(&room)
        .difference(&earlier_notices)
        .map(|path| Sent::parse(&std::fs::read(path).expect("a notice")))
        .collect();
    assert!(!sent.is_empty());
    for notice in &sent {
        let seen = readable(&notice.raw);
        for phi in PHI {
            if seen.contains(phi) {
                wrong.push(format!(
                    "notice {:?} to {} repeats {phi:?}",
                    notice.subject, notice.to
                ));
            }
        }
        if notice.to != "disputes@molina.example" && seen.contains("CLM00") {
            wrong.push(format!(
                "notice {:?} to {} names a claim",
                notice.subject, notice.to
            ));
        }
    }

    // Names were never paths: nothing was written outside the mailroom, nor anywhere
    // under the names given.
    let root = room.dir.path();
    for path in [
        PathBuf::from("/etc/passwd.xlsx"),
        root.join("../../etc/passwd.xlsx"),
        root.join("../x.xlsx"),
        root.join("../../x.xlsx"),
        root.join("..\\..\\x.xlsx"),
    ] {
        assert!(!path.exists(), "{} exists", path.display());
    }
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.expect("the mailroom lists");
        let name = entry.file_name().to_string_lossy();
        assert!(
            !name.contains("passwd") && !name.ends_with("x.xlsx") && !name.contains('\\'),
            "{}",
            entry.path().display()
        );
    }

    assert!(
        wrong.is_empty(),
        "{} problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
