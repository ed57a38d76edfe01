//! The reachability walk (`cow::reach::reachable`) against `git rev-list --objects`
//! on the same history: ids are git's, so the sets can be compared directly.

use std::collections::BTreeSet;

use crate::util::*;
use cow::ObjectId;

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

fn git_objects(mirror: &GitMirror, args: &[&str]) -> BTreeSet<String> {
    let mut full = vec!["rev-list", "--objects"];
    full.extend_from_slice(args);
    String::from_utf8(mirror.run(&full))
        .unwrap()
        .lines()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect()
}

fn cow_objects(repo: &cow::Repository, include: &[&str], exclude: &[&str]) -> BTreeSet<String> {
    let ids =
        |revs: &[&str]| -> Vec<ObjectId> { revs.iter().map(|r| r.parse().unwrap()).collect() };
    let reached = cow::reach::reachable(repo.odb(), &ids(include), &ids(exclude)).unwrap();
    let set: BTreeSet<String> = reached.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(set.len(), reached.len(), "each object is listed once");
    set
}

#[test]
fn reachable_sets_match_git_rev_list() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    write(&w.join("a.txt"), "one\n");
    write(&w.join("d/b.txt"), "b\n");
    write(&w.join("d/e/c.txt"), "c\n");
    write(&w.join("keep.txt"), "keep\n");
    env.init();
    let mirror = GitMirror::new(&env);
    let c1 = env.commit("one");
    assert_eq!(c1, mirror.snapshot("one"));
    // Two: a.txt goes, d/b.txt changes.
    std::fs::remove_file(w.join("a.txt"))?;
    write(&w.join("d/b.txt"), "b2\n");
    let c2 = env.commit("two");
    assert_eq!(c2, mirror.snapshot("two"));
    // Three: a.txt comes back as it was in one (a blob only one, not two, holds).
    write(&w.join("a.txt"), "one\n");
    write(&w.join("new.txt"), "new\n");
    let c3 = env.commit("three");
    assert_eq!(c3, mirror.snapshot("three"));
    // A side branch from one.
    env.cow_ok(["checkout", "-b", "side", &c1]);
    mirror.run(&["reset", "-q", &c1]);
    write(&w.join("d/e/c.txt"), "c on the side\n");
    let c4 = env.commit("four");
    assert_eq!(c4, mirror.snapshot("four"));
    let repo = cow::Repository::open(&w)?;

    // Everything, and linear ranges: the same set as git's.
    for (include, exclude) in [
        (vec![&c3], vec![]),
        (vec![&c3, &c4], vec![]),
        (vec![&c3], vec![&c2]),
        (vec![&c3], vec![&c1]),
        (vec![&c3, &c4], vec![&c1]),
        (vec![&c2], vec![&c3]),
    ] {
        let include: Vec<&str> = include.into_iter().map(String::as_str).collect();
        let exclude: Vec<&str> = exclude.into_iter().map(String::as_str).collect();
        let mut args = include.clone();
        let negated: Vec<String> = exclude.iter().map(|e| format!("^{e}")).collect();
        args.extend(negated.iter().map(String::as_str));
        assert_eq!(
            cow_objects(&repo, &include, &exclude),
            git_objects(&mirror, &args),
            "{include:?} not {exclude:?}"
        );
    }
    // `three` not `two` lists a.txt's blob again, as git does: only `one`, which is not
    // on the boundary, holds it.
    let a_blob = git(&mirror.git_dir, ["rev-parse", &format!("{c1}:a.txt")]);
    assert!(cow_objects(&repo, &[&c3], &[&c2]).contains(&a_blob));

    // Diverged: `four` not `three`. Never less than the exact difference (everything
    // four reaches minus everything three reaches), never more than git lists.
    let exact: BTreeSet<String> = git_objects(&mirror, &[&c4])
        .difference(&git_objects(&mirror, &[&c3]))
        .cloned()
        .collect();
    let ours = cow_objects(&repo, &[&c4], &[&c3]);
    let gits = git_objects(&mirror, &[&c4, &format!("^{c3}")]);
    assert!(exact.is_subset(&ours), "{exact:?} ⊄ {ours:?}");
    assert!(ours.is_subset(&gits), "{ours:?} ⊄ {gits:?}");
    // Here the boundary (one, and the excluded tip three) holds everything four
    // shares with three, so the set is exact.
    assert_eq!(ours, exact);
    Ok(())
}

#[test]
fn excluded_objects_the_store_lacks_exclude_nothing_else_and_included_ones_are_errors() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "f\n");
    env.init();
    let c1 = env.commit("one");
    let repo = cow::Repository::open(env.work())?;
    let elsewhere = cow::ObjectId::hash(cow::Kind::Commit, b"a commit this store never had");
    let all = cow_objects(&repo, &[&c1], &[]);
    assert_eq!(all.len(), 3, "commit, tree, blob: {all:?}");
    assert_eq!(cow_objects(&repo, &[&c1], &[&elsewhere.to_string()]), all);
    let err = cow::reach::reachable(repo.odb(), &[elsewhere], &[]).unwrap_err();
    assert!(matches!(err, cow::odb::Error::NotFound { .. }), "{err}");
    Ok(())
}

#[test]
fn paths_are_where_each_object_was_first_seen() -> Result {
    let env = Env::new();
    write(&env.work().join("d/e/f"), "f\n");
    env.init();
    let c1 = env.commit("one");
    let repo = cow::Repository::open(env.work())?;
    let reached = cow::reach::reachable(repo.odb(), &[c1.parse()?], &[])?;
    let paths: Vec<(cow::Kind, &[u8])> = reached.iter().map(|r| (r.kind, &r.path[..])).collect();
    assert_eq!(
        paths,
        [
            (cow::Kind::Commit, &b""[..]),
            (cow::Kind::Tree, b""),
            (cow::Kind::Tree, b"d"),
            (cow::Kind::Blob, b"d/e/f"),
            (cow::Kind::Tree, b"d/e"),
        ]
    );
    Ok(())
}
