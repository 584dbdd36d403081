//! `portal inquiries list|mark-read`.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::access::Access;
use super::messages::say_marked;
use super::render::Listing;
use crate::cli::InquiriesAction;
use crate::config::Config;
use crate::ids::InquiryId;
use crate::staff::{InquiryView, mark_inquiry_read};
use crate::store::{Inquiry, Tree};

pub(super) fn run(
    config: &Config,
    access: Access<'_>,
    action: InquiriesAction,
    out: &mut dyn Write,
) -> Result<()> {
    match action {
        InquiriesAction::List { json } => list(config, access, json, out),
        InquiriesAction::MarkRead { id, by } => {
            let id: InquiryId = id.parse()?;
            let store = access.store(config)?;
            let (inquiry, marked) = mark_inquiry_read(&store, id, &by, Utc::now())?;
            say_marked(&format!("Inquiry {}", inquiry.id), &marked, out)
        }
    }
}

fn list(config: &Config, access: Access<'_>, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = access.store(config)?;
    let inquiries = store.all::<Inquiry>(Tree::Inquiries)?;
    let listing = Listing {
        empty: "No inquiries.",
        headers: &["ID", "RECEIVED", "FROM", "ANSWERED", "READ"],
        noun: ("inquiry", "inquiries"),
    };
    listing.print(out, json, &inquiries, InquiryView::from, |inquiry| {
        vec![
            inquiry.id.to_string(),
            inquiry.received_on.to_string(),
            inquiry.from.clone(),
            if inquiry.answered {
                "answered"
            } else {
                "not answered"
            }
            .to_owned(),
            inquiry
                .read
                .as_ref()
                .map_or_else(|| "-".to_owned(), |mark| format!("by {}", mark.by)),
        ]
    })
}
