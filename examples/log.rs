//! A formatted history, newest first along first parents: `cargo run --example log --
//! REPO [REV]` prints `ID DATE AUTHOR: SUBJECT` lines, the date in ISO 8601 as
//! `git log --date=iso` shows it and the id abbreviated as short as the store allows.

use std::error::Error;

use cow::Repository;
use cow::object::date::iso_date;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let repo = Repository::open(args.next().ok_or("usage: log REPO [REV]")?)?;
    let start = args.next().unwrap_or_else(|| "HEAD".to_owned());
    for entry in repo.log(start)? {
        let (id, commit) = entry?;
        let short = repo.odb().shortest_unique_prefix(&id, 7)?;
        let author = String::from_utf8_lossy(&commit.author.name);
        println!(
            "{short} {} {author}: {}",
            iso_date(commit.author.time),
            commit.summary()
        );
    }
    Ok(())
}
