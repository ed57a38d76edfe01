//! Integration tests: one binary, one module per topic.

mod util;

mod checkout;
mod cli;
mod errors;
mod library;
mod oracle;
