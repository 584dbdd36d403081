//! How a staff command reaches the store: it opens the store itself (no intake is
//! running), or it runs inside the intake that holds the store, which lends it its open
//! store while serving the command over `portal.sock` (`src/control/`). Either way the
//! command's code is the same.

use std::ops::Deref;

use anyhow::Result;

use crate::config::Config;
use crate::intake::Intake;
use crate::mail::notice::Composer;
use crate::mail::transport::{self, Sender};
use crate::store::Store;

/// Where a staff command finds the store.
#[derive(Debug, Clone, Copy)]
pub enum Access<'a> {
    /// Open it (waiting a few seconds for another process to release it).
    Open,
    /// The store the serving intake holds open.
    Lent(&'a Store),
}

/// An open store: the command's own, or the intake's.
pub enum Held<'a> {
    Own(Store),
    Lent(&'a Store),
}

impl Deref for Held<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        match self {
            Held::Own(store) => store,
            Held::Lent(store) => store,
        }
    }
}

/// What a staff decision works with: the store, and a composer and transport of its
/// own (so a mail server found down by a pass does not hold back the decision's
/// notice).
pub struct Deciding<'a> {
    pub store: Held<'a>,
    composer: Composer,
    transport: Box<dyn Sender>,
}

impl Deciding<'_> {
    /// The intake over these, for a staff decision's notices.
    pub fn intake<'s>(&'s self, config: &'s Config) -> Intake<'s> {
        Intake {
            config,
            store: &self.store,
            composer: &self.composer,
            transport: self.transport.as_ref(),
            stop: None,
        }
    }
}

impl<'a> Access<'a> {
    /// The store, to read or to record.
    pub fn store(self, config: &Config) -> Result<Held<'a>> {
        Ok(match self {
            Access::Open => Held::Own(Store::open(&config.store.path)?),
            Access::Lent(store) => Held::Lent(store),
        })
    }

    /// The store with a composer and a transport, for a decision that sends notices.
    pub fn deciding(self, config: &Config) -> Result<Deciding<'a>> {
        self.store(config)?.deciding(config)
    }
}

impl<'a> Held<'a> {
    /// This store with a composer and a transport, for a decision that sends notices.
    pub fn deciding(self, config: &Config) -> Result<Deciding<'a>> {
        Ok(Deciding {
            store: self,
            composer: Composer::new(&config.site.templates_dir, &config.mail.from)?,
            transport: transport::from_config(&config.smtp)?,
        })
    }
}
