//! Snapshots a directory with cow's library and prints the commit's id: what an
//! embedder's program does, built without cow's command line.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args_os().nth(1).ok_or("usage: cow-downstream DIR")?;
    let repo = cow::Repository::init(&dir)?;
    std::fs::write(repo.require_work_dir()?.join("hello.txt"), "hello\n")?;
    let time = cow::object::Time {
        seconds: 1_700_000_000,
        offset_minutes: 0,
    };
    let who = cow::object::Signature::new("A U Thor", "author@example.com", time)?;
    let options = cow::repository::CommitOptions {
        author: Some(who.clone()),
        committer: Some(who),
        ..Default::default()
    };
    let outcome = repo.commit("first", &options)?;
    println!("{}", outcome.id);
    Ok(())
}
