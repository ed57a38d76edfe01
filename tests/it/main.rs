//! Integration tests: one binary, one module per topic.

mod util;

mod library;
mod oracle;
