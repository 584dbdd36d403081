//! How a staff command reaches the store: it opens the store itself (no intake is
//! running), or it runs inside the intake that holds the store, which lends it its open
//! store (and its notice composer, made once) while serving the command over
//! `portal.sock` (`src/control/`). Either way the command's code is the same.

use std::ops::Deref;

use anyhow::Result;

use crate::config::Config;
use crate::intake::Intake;
use crate::mail::notice::Composer;
use crate::mail::transport::{self, Sender};
use crate::store::{Store, TurnGuard};

/// Where a staff command finds the store.
#[derive(Debug, Clone, Copy)]
pub enum Access<'a> {
    /// Open it (waiting a few seconds for another process to release it).
    Open,
    /// What the serving intake holds: its open store, and its composer when it could
    /// make one (else the command makes its own).
    Lent {
        store: &'a Store,
        composer: Option<&'a Composer>,
    },
}

/// A command's own `T`, or the intake's.
pub enum Held<'a, T> {
    Own(T),
    Lent(&'a T),
}

impl<T> Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Held::Own(own) => own,
            Held::Lent(lent) => lent,
        }
    }
}

/// What a staff decision works with: the store, the composer, and a transport of its
/// own (so a mail server a pass found down does not hold back the decision's notice).
pub struct Deciding<'a> {
    pub store: Held<'a, Store>,
    composer: Held<'a, Composer>,
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
            figures: crate::intake::Figures::Publish,
        }
    }
}

impl<'a> Access<'a> {
    /// The store, to read or to record.
    pub fn store(self, config: &Config) -> Result<Held<'a, Store>> {
        Ok(match self {
            Access::Open => Held::Own(Store::open(&config.store.path)?),
            Access::Lent { store, .. } => Held::Lent(store),
        })
    }

    /// The lent store's turn, taken for a command served by the intake (see
    /// [`Store::turn`]); a command that opened the store has it to itself.
    pub fn turn(self) -> Option<TurnGuard<'a>> {
        match self {
            Access::Open => None,
            Access::Lent { store, .. } => Some(store.turn()),
        }
    }

    /// The store with a composer and a transport, for a decision that sends notices.
    pub fn deciding(self, config: &Config) -> Result<Deciding<'a>> {
        let store = self.store(config)?;
        self.with(store, config)
    }

    /// `store` (from [`Access::store`]) with a composer and a transport.
    pub fn with(self, store: Held<'a, Store>, config: &Config) -> Result<Deciding<'a>> {
        let composer = match self {
            Access::Lent {
                composer: Some(composer),
                ..
            } => Held::Lent(composer),
            _ => Held::Own(Composer::new(
                &config.site.templates_dir,
                &config.mail.from,
            )?),
        };
        Ok(Deciding {
            store,
            composer,
            transport: transport::from_config(&config.smtp)?,
        })
    }
}
