//! The files that differ between two snapshots, as `git diff --name-status` prints
//! them: `cargo run --example diff -- REPO OLD NEW` (revisions such as `HEAD~1`,
//! `main`, a tag or an id).

use std::error::Error;

use cow::{DiffOptions, Repository};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, old, new] = &args[..] else {
        return Err("usage: diff REPO OLD NEW".into());
    };
    let repo = Repository::open(repo)?;
    let diff = repo.diff_revs(old, new, &DiffOptions::default())?;
    for change in &diff.changes {
        match change.similarity {
            // A rename: its similarity, then both paths.
            Some(similarity) => println!(
                "{}{similarity:03}\t{}\t{}",
                change.status.letter(),
                change.old_path.quoted(),
                change.new_path.quoted()
            ),
            None => println!("{}\t{}", change.status.letter(), change.new_path.quoted()),
        }
    }
    Ok(())
}
