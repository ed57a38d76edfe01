//! Integration tests: one binary, one module per topic.

mod util;

mod checkout;
mod chunking;
mod cli;
mod config;
mod diff;
mod errors;
mod fuzz;
mod gc;
mod git_habits;
mod history;
mod hostile;
mod input;
mod json_actions;
mod json_queries;
mod layers;
mod library;
mod log_formats;
mod odb;
mod on_change;
mod oplog;
mod oracle;
mod progress_identity;
mod race;
mod reach;
mod reliability;
mod remote;
mod remote_config;
mod restore_target;
mod roots;
mod s3;
mod s3cluster;
mod safety;
mod stats;
