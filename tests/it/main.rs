//! Integration tests: one binary, one module per topic.

mod util;

mod cli;
mod errors;
mod library;
mod oracle;
