//! Integration tests: one binary, one module per topic.

mod util;

mod errors;
mod library;
mod oracle;
