//! The objects a pass or a staff decision works with — the store, the notice composer
//! and the transport — made once from a checked config.

use anyhow::Result;

use crate::config::Config;
use crate::mail::notice::Composer;
use crate::mail::transport::{self, Sender};
use crate::store::Store;

/// The store, composer and transport of one run.
pub struct Services {
    pub store: Store,
    pub composer: Composer,
    /// The file transport or the SMTP client `[smtp]` names.
    pub transport: Box<dyn Sender>,
}

impl Services {
    /// Opens the existing store (waiting for another process to release it) and
    /// builds the composer and transport.
    pub fn open(config: &Config) -> Result<Services> {
        Services::with_store(config, Store::open(&config.store.path)?)
    }

    /// As [`Services::open`], creating the store where its path is missing or an
    /// empty folder: for `intake` and the demo, which begin the store.
    pub fn open_or_create(config: &Config) -> Result<Services> {
        Services::with_store(config, Store::open_or_create(&config.store.path)?)
    }

    /// As [`Services::open`], with a store already open.
    pub fn with_store(config: &Config, store: Store) -> Result<Services> {
        let composer = Composer::new(&config.site.templates_dir, &config.mail.from)?;
        let transport = transport::from_config(&config.smtp)?;
        Ok(Services {
            store,
            composer,
            transport,
        })
    }
}
