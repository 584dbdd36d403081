//! Public statistics (PRODUCT.md **Statistics (public)**): aggregate figures by
//! Illinois month of receipt and MCO, counted from the store by intake and published
//! by the site generator from the file alone.
//!
//! - [`model`]: the file's shape, its JSON and CSV, and reading it back.

pub mod model;

pub use model::{MonthFigures, RegistrationFigures, Statistics};
