//! `portal inquiries list`.

use std::io::Write;

use anyhow::Result;

use super::render::Listing;
use crate::cli::InquiriesAction;
use crate::config::Config;
use crate::staff::InquiryView;
use crate::store::{Inquiry, Store, Tree};

pub(super) fn run(config: &Config, action: InquiriesAction, out: &mut dyn Write) -> Result<()> {
    let InquiriesAction::List { json } = action;
    let store = Store::open(&config.store.path)?;
    let inquiries = store.all::<Inquiry>(Tree::Inquiries)?;
    let listing = Listing {
        empty: "No inquiries.",
        headers: &["ID", "RECEIVED", "FROM", "ANSWERED"],
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
        ]
    })
}
