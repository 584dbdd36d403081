//! The ids people quote: `PRP-2026-000123` (a ticket), `REG-…` (a registration),
//! `INQ-…` (an inquiry). Each is its own type, so a registration id can never be
//! looked up as a ticket, and code that must tell them apart matches on [`RecordId`]
//! instead of slicing a prefix off a string.
//!
//! Input is read leniently (trimmed, any case: `tickets show prp-2026-000001` works,
//! as does a subject tag a mail client lower-cased); output is always the canonical
//! upper-case form with six or more digits, which is also the store's key.

use std::fmt;
use std::str::FromStr;

/// Text that is not an id of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what} id such as {example}")]
pub struct BadId {
    pub text: String,
    pub what: &'static str,
    pub example: &'static str,
}

/// The year and number of an id, from `PREFIX-YYYY-NNNNNN` in any case.
fn parse_parts(text: &str, prefix: &str) -> Option<(u16, u64)> {
    let mut parts = text.trim().split('-');
    let (Some(head), Some(year), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !head.eq_ignore_ascii_case(prefix)
        || year.len() != 4
        || !digits(year)
        || number.len() < 6
        || !digits(number)
    {
        return None;
    }
    Some((year.parse().ok()?, number.parse().ok()?))
}

/// An id handed out in sequence per year by the store (`Store::allocate`).
pub trait Sequenced: Sized {
    /// The letters every id of this kind starts with.
    const PREFIX: &'static str;
    /// The `number`th id of `year`.
    fn new(year: u16, number: u64) -> Self;
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            year: u16,
            number: u64,
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so that `{:<16}` lines ids up in tables.
                f.pad(&format!("{}-{}-{:06}", $prefix, self.year, self.number))
            }
        }

        impl FromStr for $name {
            type Err = BadId;

            fn from_str(text: &str) -> Result<Self, BadId> {
                parse_parts(text, $prefix)
                    .map(|(year, number)| $name { year, number })
                    .ok_or_else(|| BadId {
                        text: text.to_owned(),
                        what: $what,
                        example: concat!($prefix, "-2026-000123"),
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        /// True when `text` is this id as the portal writes it (upper case).
        impl PartialEq<str> for $name {
            fn eq(&self, text: &str) -> bool {
                text.starts_with($prefix) && text.parse::<$name>().is_ok_and(|id| id == *self)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, text: &&str) -> bool {
                *self == **text
            }
        }

        impl Sequenced for $name {
            const PREFIX: &'static str = $prefix;

            fn new(year: u16, number: u64) -> Self {
                $name { year, number }
            }
        }

        impl From<$name> for RecordId {
            fn from(id: $name) -> RecordId {
                RecordId::$name(id)
            }
        }
    };
}

id_type!(
    /// A ticket: one complaint template and its claim lines.
    TicketId,
    "PRP",
    "a ticket"
);
id_type!(
    /// A registration request.
    RegistrationId,
    "REG",
    "a registration"
);
id_type!(
    /// A message to portal inquiries.
    InquiryId,
    "INQ",
    "an inquiry"
);

/// Any of the three: what a notice or a reply is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordId {
    TicketId(TicketId),
    RegistrationId(RegistrationId),
    InquiryId(InquiryId),
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::TicketId(id) => fmt::Display::fmt(id, f),
            RecordId::RegistrationId(id) => fmt::Display::fmt(id, f),
            RecordId::InquiryId(id) => fmt::Display::fmt(id, f),
        }
    }
}

impl FromStr for RecordId {
    type Err = BadId;

    fn from_str(text: &str) -> Result<Self, BadId> {
        text.parse()
            .map(RecordId::TicketId)
            .or_else(|_| text.parse().map(RecordId::RegistrationId))
            .or_else(|_| text.parse().map(RecordId::InquiryId))
            .map_err(|_| BadId {
                text: text.to_owned(),
                what: "a ticket, registration or inquiry",
                example: "PRP-2026-000123",
            })
    }
}

impl serde::Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_in_any_case_and_print_canonically() {
        let id: TicketId = " prp-2026-000001 ".parse().unwrap();
        assert_eq!(id, TicketId::new(2026, 1));
        assert_eq!(id.to_string(), "PRP-2026-000001");
        assert!(id == "PRP-2026-000001" && id != "prp-2026-000001");
        assert_eq!(format!("{id:<17}|"), "PRP-2026-000001  |");
        assert_eq!(
            "Reg-2027-1234567"
                .parse::<RegistrationId>()
                .unwrap()
                .to_string(),
            "REG-2027-1234567"
        );
        assert_eq!(
            serde_json::to_string(&InquiryId::new(2026, 42)).unwrap(),
            "\"INQ-2026-000042\""
        );
    }

    #[test]
    fn other_shapes_are_refused_naming_the_kind() {
        for text in [
            "PRP-26-000123",
            "PRP-2026-1",
            "PRP-2026-00012x",
            "PRP2026000123",
            "",
        ] {
            assert!(text.parse::<TicketId>().is_err(), "{text}");
        }
        let error = "REG-2026-000001".parse::<TicketId>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"REG-2026-000001\" is not a ticket id such as PRP-2026-000123"
        );
    }

    #[test]
    fn a_record_id_knows_its_kind() {
        assert_eq!(
            "inq-2026-000007".parse::<RecordId>().unwrap(),
            RecordId::InquiryId(InquiryId::new(2026, 7))
        );
        assert_eq!(
            serde_json::from_str::<RecordId>("\"PRP-2026-000123\"").unwrap(),
            RecordId::from(TicketId::new(2026, 123))
        );
        assert!("ABC-2026-000123".parse::<RecordId>().is_err());
    }
}
