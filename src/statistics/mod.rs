//! Public statistics (PRODUCT.md **Statistics (public)**): aggregate figures by
//! Illinois month of receipt and MCO, counted from the store by intake and published
//! by the site generator from the file alone.
//!
//! - [`model`]: the file's shape, its JSON and CSV, and reading it back.
//! - [`count`]: the figures as a pure function of records, a period and a day — what
//!   each figure counts is pinned there.
//! - [`publish`]: the figures from the store; the file written atomically after each
//!   pass and staff decision ([`publish_or_log`]); the staff report of any period
//!   (`portal report`).

pub mod count;
pub mod model;
pub mod publish;

pub use count::{OverdueTicket, Period};
pub use model::{MonthFigures, RegistrationFigures, Statistics};
pub use publish::{Report, compute, compute_for, publish, publish_or_log, report};
