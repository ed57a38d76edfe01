//! Push, fetch, pull and clone: round trips over a path remote and over a real
//! S3-compatible server (SeaweedFS, started on loopback by the `s3` harness), races
//! for one branch, damaged remotes, and resumed pushes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};

use std::sync::atomic::{AtomicU64, Ordering};

use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::s3::S3Server;
use crate::util::*;

/// A `cow` command in `dir` with the fixed identity, and S3 settings for `server`.
fn cow_in(env: &Env, dir: &Path, server: Option<&S3Server>) -> Command {
    let mut cmd = env.cow_cmd(dir);
    if let Some(s) = server {
        cmd.env("AWS_ACCESS_KEY_ID", &s.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret_key)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT", &s.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false");
    }
    cmd
}

fn run(env: &Env, dir: &Path, server: Option<&S3Server>, args: &[&str]) -> Output {
    cow_in(env, dir, server).args(args).output().unwrap()
}

fn run_ok(env: &Env, dir: &Path, server: Option<&S3Server>, args: &[&str]) -> String {
    let out = run(env, dir, server, args);
    assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Changes a working directory a little, at random: new, changed and removed files
/// and directories, tricky names among them.
fn mutate(rng: &mut Rng, dir: &Path) {
    let files: Vec<PathBuf> = list_files(dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join(".cow")))
        .collect();
    for _ in 0..3 {
        match rng.below(4) {
            0 if !files.is_empty() => {
                let f = &files[rng.below(files.len() as u64) as usize];
                if fs::symlink_metadata(f).is_ok_and(|m| m.is_file()) {
                    let mut data = fs::read(f).unwrap();
                    let n = 1 + rng.below(100) as usize;
                    data.extend(rng.bytes(n));
                    fs::write(f, data).unwrap();
                }
            }
            1 if !files.is_empty() => {
                let f = &files[rng.below(files.len() as u64) as usize];
                let _ = fs::remove_file(f);
            }
            _ => {
                let sub = dir.join(format!("d{}", rng.below(5)));
                generate_tree(rng, &sub, 1);
            }
        }
    }
}

/// Makes `n` commits in `dir`, each after a random change; returns each commit's id
/// and what its working directory held.
fn history(
    env: &Env,
    dir: &Path,
    rng: &mut Rng,
    n: usize,
) -> Vec<(String, BTreeMap<Vec<u8>, Item>)> {
    let mut out = Vec::new();
    for i in 0..n {
        mutate(rng, dir);
        let c = cow_in(env, dir, None)
            .args(["commit", "--allow-empty", "-m", &format!("snapshot {i}")])
            .output()
            .unwrap();
        assert!(c.status.success(), "{}", describe(&c));
        let id = run_ok(env, dir, None, &["rev-parse", "HEAD"])
            .trim()
            .to_owned();
        out.push((id, manifest(dir)));
    }
    out
}

/// Checks that `dir` has every snapshot: each commit checks out to what was
/// committed. Leaves `dir` on `branch`.
fn assert_has(
    env: &Env,
    dir: &Path,
    snapshots: &[(String, BTreeMap<Vec<u8>, Item>)],
    branch: &str,
) {
    for (id, files) in snapshots {
        run_ok(env, dir, None, &["checkout", "--force", id]);
        assert_eq!(&manifest(dir), files, "snapshot {id}");
    }
    run_ok(env, dir, None, &["checkout", branch]);
    let fsck = run_ok(env, dir, None, &["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
}

/// The history round trip: 50 snapshots pushed (or, for a path, taken from the
/// origin), cloned elsewhere, every snapshot equal; more commits, pushed, pulled on
/// the clone, equal again.
fn round_trip(server: Option<&S3Server>, url: &str) {
    let env = Env::new();
    let origin = env.work();
    run_ok(&env, &origin, None, &["init"]);
    let mut rng = Rng::new(15);
    let mut snapshots = history(&env, &origin, &mut rng, 50);
    let clone_dir = env.tmp.path().join("clone");
    let clone_dir_s = clone_dir.to_str().unwrap().to_owned();
    if server.is_some() {
        run_ok(&env, &origin, server, &["push", url, "main"]);
    }
    let origin_url = if server.is_some() {
        url.to_owned()
    } else {
        origin.to_str().unwrap().to_owned()
    };
    run_ok(
        &env,
        env.tmp.path(),
        server,
        &["clone", &origin_url, &clone_dir_s],
    );
    let log = |dir: &Path| run_ok(&env, dir, None, &["log", "--oneline"]);
    assert_eq!(log(&clone_dir), log(&origin), "the same history, same ids");
    assert_has(&env, &clone_dir, &snapshots, "main");

    let more = history(&env, &origin, &mut rng, 5);
    if server.is_some() {
        run_ok(&env, &origin, server, &["push", url]);
    }
    let pull_from = if server.is_some() {
        url.to_owned()
    } else {
        origin_url
    };
    run_ok(&env, &clone_dir, server, &["pull", &pull_from]);
    assert_eq!(log(&clone_dir), log(&origin));
    assert_eq!(manifest(&clone_dir), more.last().unwrap().1);
    snapshots.extend(more);
    assert_has(&env, &clone_dir, &snapshots, "main");
}

#[test]
fn a_history_round_trips_through_a_path_remote() {
    round_trip(None, "");
}

#[test]
fn a_history_round_trips_through_object_storage() {
    let Some(server) = S3Server::start() else {
        return;
    };
    round_trip(Some(&server), &format!("s3://{}/repos/one", server.bucket));
}

/// A pushed repository, in S3, and the client of its bucket.
fn pushed(server: &S3Server, env: &Env, prefix: &str) -> (String, Arc<dyn ObjectStore>) {
    let origin = env.work();
    run_ok(env, &origin, None, &["init"]);
    let mut rng = Rng::new(7);
    history(env, &origin, &mut rng, 3);
    let url = format!("s3://{}/{prefix}", server.bucket);
    run_ok(env, &origin, Some(server), &["push", &url, "main"]);
    (url, s3_client(server))
}

/// A client for the server's bucket.
fn s3_client(server: &S3Server) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&server.bucket)
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(&server.access_key)
            .with_secret_access_key(&server.secret_key)
            .build()
            .unwrap(),
    )
}

/// An object store that counts the requests and uploaded bytes passing through it.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Counting {
    fn new(inner: Arc<dyn ObjectStore>) -> Counting {
        Counting {
            inner,
            requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::SeqCst),
            self.bytes.load(Ordering::SeqCst),
        )
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Counting {
    async fn put_opts(&self, key: &Key, body: PutPayload, opts: PutOptions) -> R<PutResult> {
        self.count();
        self.bytes
            .fetch_add(body.content_length() as u64, Ordering::SeqCst);
        self.inner.put_opts(key, body, opts).await
    }
    async fn put_multipart_opts(
        &self,
        key: &Key,
        opts: PutMultipartOptions,
    ) -> R<Box<dyn MultipartUpload>> {
        // Parts are not counted: the test's pushes are far below the part size.
        self.count();
        self.inner.put_multipart_opts(key, opts).await
    }
    async fn get_opts(&self, key: &Key, options: GetOptions) -> R<GetResult> {
        self.count();
        self.inner.get_opts(key, options).await
    }
    async fn delete(&self, key: &Key) -> R<()> {
        self.count();
        self.inner.delete(key).await
    }
    fn list(&self, prefix: Option<&Key>) -> futures::stream::BoxStream<'static, R<ObjectMeta>> {
        self.count();
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> R<ListResult> {
        self.count();
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy(&self, from: &Key, to: &Key) -> R<()> {
        self.count();
        self.inner.copy(from, to).await
    }
    async fn copy_if_not_exists(&self, from: &Key, to: &Key) -> R<()> {
        self.count();
        self.inner.copy_if_not_exists(from, to).await
    }
}

type R<T> = object_store::Result<T>;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The keys under `prefix`.
fn keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    use futures::StreamExt;
    let prefix = object_store::path::Path::from(prefix);
    let mut out: Vec<String> = block_on(store.list(Some(&prefix)).collect::<Vec<_>>())
        .into_iter()
        .map(|m| m.unwrap().location.to_string())
        .collect();
    out.sort();
    out
}

/// Every file under `.cow/objects` and `.cow/refs`, with its bytes.
fn store_files(work: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["objects", "refs"] {
        for e in walkdir::WalkDir::new(work.join(".cow").join(sub)) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                out.insert(e.path().to_owned(), fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_corrupt_or_truncated_pack_on_the_server_fails_fetch_and_clone_naming_it() {
    let Some(server) = S3Server::start() else {
        return;
    };
    for damage in ["flip", "truncate"] {
        let env = Env::new();
        let prefix = format!("damaged-{damage}");
        let (url, store) = pushed(&server, &env, &prefix);
        // A clone made before the damage, to fetch into.
        let before = env.tmp.path().join("before");
        run_ok(
            &env,
            env.tmp.path(),
            Some(&server),
            &["clone", &url, before.to_str().unwrap()],
        );
        // A new commit pushed, then its pack damaged through the S3 API.
        let old_packs = keys(&*store, &format!("{prefix}/packs"));
        history(&env, &env.work(), &mut Rng::new(99), 1);
        run_ok(&env, &env.work(), Some(&server), &["push", &url]);
        let new_pack = keys(&*store, &format!("{prefix}/packs"))
            .into_iter()
            .find(|k| k.ends_with(".pack") && !old_packs.contains(k))
            .unwrap_or_else(|| panic!("no new pack: {old_packs:?}"));
        let key = object_store::path::Path::from(new_pack.as_str());
        let mut bytes =
            block_on(async { store.get(&key).await.unwrap().bytes().await.unwrap() }).to_vec();
        match damage {
            "flip" => {
                let at = bytes.len() / 2;
                bytes[at] ^= 0x40;
            }
            _ => bytes.truncate(bytes.len() * 2 / 3),
        }
        block_on(store.put(&key, bytes.into())).unwrap();

        let name = new_pack
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".pack")
            .to_owned();
        let files = store_files(&before);
        let out = run(&env, &before, Some(&server), &["fetch", &url]);
        assert!(!out.status.success(), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("cow: error:") && err.contains(&name),
            "{damage}: {err}"
        );
        assert_eq!(
            store_files(&before),
            files,
            "{damage}: the local store is unchanged"
        );

        let target = env.tmp.path().join("after");
        let out = run(
            &env,
            env.tmp.path(),
            Some(&server),
            &["clone", &url, target.to_str().unwrap()],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(&name));
        assert!(!target.exists(), "a failed clone leaves nothing");
    }
}

#[test]
fn two_pushers_racing_for_one_branch_one_wins_and_the_other_is_told_to_fetch_first() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = Env::new();
    let (url, _store) = pushed(&server, &env, "race");
    // Two clones, each with its own new commit on main.
    let clones: Vec<PathBuf> = (0..2)
        .map(|i| {
            let dir = env.tmp.path().join(format!("c{i}"));
            run_ok(
                &env,
                env.tmp.path(),
                Some(&server),
                &["clone", &url, dir.to_str().unwrap()],
            );
            write(&dir.join(format!("from-{i}")), format!("clone {i}"));
            run_ok(&env, &dir, None, &["commit", "-m", &format!("clone {i}")]);
            dir
        })
        .collect();
    let tips: Vec<String> = clones
        .iter()
        .map(|d| {
            run_ok(&env, d, None, &["rev-parse", "HEAD"])
                .trim()
                .to_owned()
        })
        .collect();
    // Both read the remote's refs before either moves them (the library's steps, so
    // that the race is certain to happen): the second compare-and-swap must fail.
    let mut remotes: Vec<_> = clones
        .iter()
        .map(|dir| {
            let repo = cow::Repository::open(dir).unwrap();
            let location = cow::remote::S3Location::parse(&url).unwrap();
            let options = server.s3_options();
            let spec = cow::remote::Spec {
                name: "origin".into(),
                url: cow::remote::Url::S3(location),
                s3: options,
                single_writer: false,
            };
            let mut remote = repo.open_remote(&spec).unwrap();
            let refs = remote.refs().unwrap();
            (repo, remote, refs)
        })
        .collect();
    let mut results = Vec::new();
    for (i, (repo, remote, refs)) in remotes.iter_mut().enumerate() {
        let old = *refs
            .refs
            .get("refs/heads/main")
            .unwrap_or_else(|| panic!("{refs:?}"));
        let new: cow::ObjectId = tips[i].parse().unwrap();
        let objects = cow::reach::reachable(repo.odb(), &[new], &[old]).unwrap();
        remote
            .send(repo.odb(), objects, &cow::remote::NoProgress)
            .unwrap();
        results.push(remote.update_refs(
            &[cow::remote::RefUpdate {
                name: "refs/heads/main".into(),
                old: Some(old),
                new: Some(new),
            }],
            None,
        ));
    }
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let lost = results[1].as_ref().unwrap_err().to_string();
    assert!(lost.contains("fetch first"), "{lost}");

    // Through the command line, both at once: exactly one wins, the other is told to
    // fetch first, and after it pulls... it cannot (diverged), but its commit is
    // still local and nothing on the remote is lost.
    for (i, dir) in clones.iter().enumerate() {
        write(&dir.join(format!("again-{i}")), "x");
        run_ok(&env, dir, None, &["commit", "-m", "again"]);
    }
    let barrier = Arc::new(Barrier::new(2));
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = clones
            .iter()
            .map(|dir| {
                let barrier = Arc::clone(&barrier);
                let mut cmd = cow_in(&env, dir, Some(&server));
                cmd.args(["push", "--force", &url, "main"]);
                s.spawn(move || {
                    barrier.wait();
                    cmd.output().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<bool> = outs.iter().map(|o| o.status.success()).collect();
    // A forced push may follow the other one: both can succeed one after the other;
    // what must never happen is a push that reports success and is not there.
    let remote_main = {
        let dir = env.tmp.path().join("check");
        run_ok(
            &env,
            env.tmp.path(),
            Some(&server),
            &["clone", &url, dir.to_str().unwrap()],
        );
        let fsck = run_ok(&env, &dir, None, &["fsck"]);
        assert!(fsck.contains("no problems"), "{fsck}");
        run_ok(&env, &dir, None, &["rev-parse", "HEAD"])
            .trim()
            .to_owned()
    };
    let heads: Vec<String> = clones
        .iter()
        .map(|d| {
            run_ok(&env, d, None, &["rev-parse", "HEAD"])
                .trim()
                .to_owned()
        })
        .collect();
    assert!(won.iter().any(|w| *w), "{outs:?}");
    assert!(heads.contains(&remote_main));
    for (o, w) in outs.iter().zip(&won) {
        if !w {
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("fetch first"),
                "{}",
                describe(o)
            );
        }
    }
}

#[test]
fn pushing_one_changed_file_sends_little_and_a_rerun_after_a_kill_resends_nothing() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = Env::new();
    let work = env.work();
    run_ok(&env, &work, None, &["init"]);
    for d in 0..100 {
        for f in 0..100 {
            write(
                &work.join(format!("d{d}/f{f}.txt")),
                format!("file {d}/{f}\n").repeat(20),
            );
        }
    }
    run_ok(&env, &work, None, &["commit", "-m", "10,000 files"]);
    let url = format!("s3://{}/big", server.bucket);
    let json = |out: &str| -> serde_json::Value { serde_json::from_str(out).unwrap() };
    let first = json(&run_ok(
        &env,
        &work,
        Some(&server),
        &["push", "--json", &url, "main"],
    ));
    assert_eq!(
        first["transfer"]["objects"],
        10_000 + 100 + 1 + 1,
        "{first}"
    );
    // The commit wrote one pack holding exactly these objects: it went as it was, under
    // its own name, not re-encoded.
    let local_packs: Vec<String> = fs::read_dir(work.join(".cow/objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pack"))
        .collect();
    assert_eq!(local_packs.len(), 1, "{local_packs:?}");
    let remote_packs = keys(&*s3_client(&server), "big/packs");
    let name = local_packs[0].trim_start_matches("pack-");
    assert_eq!(
        remote_packs,
        [
            format!("big/packs/{}", name.replace(".pack", ".idx")),
            format!("big/packs/{name}")
        ]
    );

    write(&work.join("d5/f5.txt"), "changed\n");
    run_ok(&env, &work, None, &["commit", "-m", "one file"]);
    // Pushed through the library, with the client wrapped to count what reaches it.
    let counting = Arc::new(Counting::new(s3_client(&server)));
    let repo = cow::Repository::open(&work).unwrap();
    let mut remote = cow::remote::StoreRemote::new(
        counting.clone(),
        "big",
        url.clone(),
        false,
        env.tmp.path().join("scratch"),
    )
    .unwrap();
    let pushed = repo
        .push_to(
            &mut remote,
            None,
            &cow::repository::PushOptions::default(),
            &cow::remote::NoProgress,
        )
        .unwrap();
    // The commit, the root tree, d5's tree and the blob.
    assert_eq!(pushed.transfer.objects, 4, "{pushed:?}");
    let (requests, bytes) = counting.counts();
    // Read root and the manifest; look for the pack; the pack, its index, the new
    // manifest and root.
    assert_eq!(requests, 7, "{pushed:?}");
    assert!(bytes < 16 << 10, "{bytes} bytes uploaded");
    assert_eq!(pushed.transfer.requests, requests);

    // Killed pushes, re-run: each re-run completes; a pack a killed push finished
    // uploading is not sent again.
    let mut rng = Rng::new(3);
    for round in 0..4 {
        write(&work.join(format!("new/{round}")), rng.bytes(200_000));
        run_ok(&env, &work, None, &["commit", "-m", "more"]);
        let mut child = cow_in(&env, &work, Some(&server))
            .args(["push", &url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(rng.below(400)));
        let _ = child.kill();
        let _ = child.wait();
        let rerun = json(&run_ok(
            &env,
            &work,
            Some(&server),
            &["push", "--json", &url],
        ));
        let sent = rerun["transfer"]["packs"].as_u64().unwrap();
        let reused = rerun["transfer"]["reused_packs"].as_u64().unwrap();
        let updated = rerun["updated"].as_array().unwrap().len();
        // Either the killed push finished (nothing to do), or it had uploaded the
        // pack (reused, not sent), or it had not (sent once).
        assert!(updated == 0 || sent + reused == 1, "{rerun}");
    }
    let dir = env.tmp.path().join("check");
    run_ok(
        &env,
        env.tmp.path(),
        Some(&server),
        &["clone", &url, dir.to_str().unwrap()],
    );
    assert_eq!(manifest(&dir), manifest(&work));
}

#[test]
fn a_push_rerun_after_its_packs_were_uploaded_sends_none_of_them_again() {
    // A killed push leaves complete packs behind with root unmoved; a re-run builds
    // the same packs (same objects, same bytes, same names) and finds them there.
    let env = Env::new();
    let work = env.work();
    env.init();
    let mut rng = Rng::new(11);
    generate_tree(&mut rng, &work.join("t"), 3);
    for i in 0..50 {
        write(&work.join(format!("f{i}")), rng.bytes(3000));
    }
    env.commit("one");
    let repo = cow::Repository::open(&work).unwrap();
    let head = repo.head_commit().unwrap().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let open = || {
        cow::remote::StoreRemote::new(
            Arc::clone(&store),
            "p",
            "mem".into(),
            false,
            env.tmp.path().join("scratch"),
        )
        .unwrap()
    };
    use cow::remote::Remote;
    let objects = cow::reach::reachable(repo.odb(), &[head], &[]).unwrap();
    let mut killed = open();
    killed.refs().unwrap();
    let first = killed
        .send(repo.odb(), objects.clone(), &cow::remote::NoProgress)
        .unwrap();
    assert!(first.packs >= 1 && first.bytes > 0, "{first:?}");
    drop(killed); // root never moved
    let options = cow::repository::PushOptions::default();
    let rerun = repo
        .push_to(&mut open(), None, &options, &cow::remote::NoProgress)
        .unwrap();
    assert_eq!(rerun.transfer.packs, 0, "{rerun:?}");
    assert_eq!(rerun.transfer.reused_packs, first.packs, "{rerun:?}");
    assert_eq!(rerun.transfer.bytes, 0, "{rerun:?}");
    assert_eq!(rerun.updated.len(), 1);
    // And what it pushed is complete: a fetch into a new repository verifies it all.
    let other = env.tmp.path().join("other");
    let clone = cow::Repository::init(&other).unwrap();
    let fetched = clone
        .fetch_from(
            &mut open(),
            Some("origin"),
            &Default::default(),
            &cow::remote::NoProgress,
        )
        .unwrap();
    assert_eq!(fetched.transfer.objects, objects.len() as u64);
    assert_eq!(
        clone.resolve("origin/main").unwrap(),
        head,
        "the remote-tracking branch"
    );
}

// ---- on a multi-node cluster ----

use crate::s3cluster::{S3Cluster, S3ClusterOptions};

/// The remote at `s3://BUCKET/PREFIX` through gateway `gateway` of `cluster`.
fn cluster_remote(
    cluster: &S3Cluster,
    gateway: usize,
    prefix: &str,
    scratch: &Path,
) -> cow::remote::StoreRemote {
    let location =
        cow::remote::S3Location::parse(&format!("s3://{}/{prefix}", cluster.bucket)).unwrap();
    cow::remote::StoreRemote::open_s3(
        &location,
        &cluster.s3_options(gateway),
        false,
        scratch.to_owned(),
    )
    .unwrap()
}

/// Kills the volume server holding the most of the bucket's objects, the first time a
/// push reports progress (its first pack is built and about to be uploaded).
struct KillOnProgress<'c> {
    cluster: std::cell::RefCell<&'c mut S3Cluster>,
    killed: std::cell::Cell<Option<usize>>,
}

impl KillOnProgress<'_> {
    fn kill(&self) -> usize {
        let mut cluster = self.cluster.borrow_mut();
        let victim = (0..cluster.volume_count())
            .max_by_key(|&i| cluster.objects_on_volume(i))
            .unwrap();
        cluster.kill_volume(victim);
        victim
    }
}

impl cow::remote::Progress for KillOnProgress<'_> {
    fn update(&self, _: &'static str, _: u64, _: u64, _: &'static str) {
        if self.killed.get().is_none() {
            self.killed.set(Some(self.kill()));
        }
    }
}

#[test]
fn push_and_fetch_complete_on_a_replicated_cluster_with_a_volume_server_down() {
    let Some(mut cluster) = S3Cluster::start(S3ClusterOptions::default()) else {
        return;
    };
    let env = Env::new();
    let work = env.work();
    env.init();
    let mut rng = Rng::new(5);
    generate_tree(&mut rng, &work.join("tree"), 3);
    for i in 0..40 {
        write(&work.join(format!("data/{i}")), rng.bytes(50_000));
    }
    let first = env.commit("first");
    let repo = cow::Repository::open(&work).unwrap();
    let scratch = env.tmp.path().join("scratch");
    let options = cow::repository::PushOptions::default();

    // The first push, then a second one during which a volume server dies.
    let mut remote = cluster_remote(&cluster, 0, "ha", &scratch);
    repo.push_to(&mut remote, None, &options, &cow::remote::NoProgress)
        .unwrap();
    for i in 0..40 {
        write(&work.join(format!("more/{i}")), rng.bytes(50_000));
    }
    let second = env.commit("second");
    let killer = KillOnProgress {
        cluster: std::cell::RefCell::new(&mut cluster),
        killed: std::cell::Cell::new(None),
    };
    let pushed = repo.push_to(&mut remote, None, &options, &killer).unwrap();
    let victim = killer.killed.get().expect("the push reported progress");
    assert_eq!(pushed.updated.len(), 1);

    // A fetch through the other gateway with that server still down, then another
    // server down too once it is back.
    let fetch_into = |cluster: &S3Cluster, dir: &str, gateway: usize| {
        let repo = cow::Repository::init(env.tmp.path().join(dir)).unwrap();
        let mut remote = cluster_remote(cluster, gateway, "ha", &scratch.join(dir));
        repo.fetch_from(
            &mut remote,
            Some("origin"),
            &Default::default(),
            &cow::remote::NoProgress,
        )
        .unwrap();
        let report = repo.fsck(&Default::default()).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        repo.resolve("origin/main").unwrap().to_string()
    };
    assert_eq!(fetch_into(&cluster, "a", 1), second);
    cluster.restart_volume(victim);
    let other = (victim + 1) % cluster.volume_count();
    cluster.stop_volume(other);
    assert_eq!(fetch_into(&cluster, "b", 0), second);
    cluster.restart_volume(other);
    assert_ne!(first, second);
}

#[test]
fn pushers_through_two_gateways_race_for_one_branch_and_one_wins() {
    let Some(cluster) = S3Cluster::start(S3ClusterOptions::default()) else {
        return;
    };
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("f"), "base");
    let base: cow::ObjectId = env.commit("base").parse().unwrap();
    let repo = cow::Repository::open(&work).unwrap();
    let scratch = env.tmp.path().join("scratch");
    let mut setup = cluster_remote(&cluster, 0, "race2", &scratch);
    repo.push_to(
        &mut setup,
        None,
        &cow::repository::PushOptions::default(),
        &cow::remote::NoProgress,
    )
    .unwrap();
    // Two commits on top of base, each to be pushed through its own gateway.
    let mut tips = Vec::new();
    for i in 0..2 {
        repo.checkout(base, &Default::default()).unwrap();
        write(&work.join("f"), format!("writer {i}"));
        tips.push(
            env.commit(&format!("writer {i}"))
                .parse::<cow::ObjectId>()
                .unwrap(),
        );
    }
    // Both read the refs before either writes (the race is certain), each sends its
    // objects, then both compare-and-swap at once from two threads.
    let mut remotes: Vec<_> = (0..2)
        .map(|g| {
            let mut r = cluster_remote(&cluster, g, "race2", &scratch.join(g.to_string()));
            use cow::remote::Remote;
            assert_eq!(r.refs().unwrap().refs["refs/heads/main"], base);
            let objects = cow::reach::reachable(repo.odb(), &[tips[g]], &[base]).unwrap();
            r.send(repo.odb(), objects, &cow::remote::NoProgress)
                .unwrap();
            r
        })
        .collect();
    let barrier = Barrier::new(2);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = remotes
            .iter_mut()
            .zip(&tips)
            .map(|(r, tip)| {
                let barrier = &barrier;
                s.spawn(move || {
                    use cow::remote::Remote;
                    barrier.wait();
                    r.update_refs(
                        &[cow::remote::RefUpdate {
                            name: "refs/heads/main".into(),
                            old: Some(base),
                            new: Some(*tip),
                        }],
                        None,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let loser = 1 - winners[0];
    let lost = results[loser].as_ref().unwrap_err().to_string();
    assert!(lost.contains("fetch first"), "{lost}");
    // The remote holds the winner's commit, complete.
    let check = cow::Repository::init(env.tmp.path().join("check")).unwrap();
    let mut remote = cluster_remote(&cluster, 1 - winners[0], "race2", &scratch.join("c"));
    check
        .fetch_from(
            &mut remote,
            Some("origin"),
            &Default::default(),
            &cow::remote::NoProgress,
        )
        .unwrap();
    assert_eq!(check.resolve("origin/main").unwrap(), tips[winners[0]]);
    assert!(check.fsck(&Default::default()).unwrap().problems.is_empty());
}

// ---- what a review found ----

#[test]
fn a_fetch_moves_no_ref_to_a_commit_whose_objects_are_not_all_here() {
    // A fetch killed mid-way can leave the new commit without its tree and blobs (the
    // commit is installed first). The next fetch must bring the rest, not take the
    // commit's presence for the whole.
    let env = Env::new();
    let origin = env.work();
    env.init();
    write(&origin.join("a"), "one");
    env.commit("one");
    let clone = env.tmp.path().join("clone");
    run_ok(
        &env,
        env.tmp.path(),
        None,
        &["clone", origin.to_str().unwrap(), clone.to_str().unwrap()],
    );
    write(&origin.join("big"), "a file the clone does not have yet");
    let second: cow::ObjectId = env.commit("two").parse().unwrap();
    let source = cow::Repository::open(&origin).unwrap();
    let commit = source.odb().read(&second).unwrap();
    let target = cow::Repository::open(&clone).unwrap();
    target.odb().write(commit.kind, &commit.data).unwrap();

    run_ok(&env, &clone, None, &["fetch"]);
    assert_eq!(
        run_ok(&env, &clone, None, &["rev-parse", "origin/main"]).trim(),
        second.to_string()
    );
    let fsck = run_ok(&env, &clone, None, &["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
    run_ok(&env, &clone, None, &["pull"]);
    assert_eq!(
        fs::read(clone.join("big")).unwrap(),
        b"a file the clone does not have yet"
    );
}

#[test]
fn relative_remote_paths_are_taken_from_the_c_directory() {
    let env = Env::new();
    let a = env.tmp.path().join("a");
    let b = env.tmp.path().join("b");
    for dir in [&a, &b] {
        run_ok(&env, env.tmp.path(), None, &["init", dir.to_str().unwrap()]);
    }
    write(&a.join("f"), "x");
    run_ok(&env, &a, None, &["commit", "-m", "x"]);
    // b is on another branch, so a push may update its main.
    run_ok(&env, &b, None, &["checkout", "-b", "elsewhere"]);
    // From the parent directory, with -C a: ../b is b, not a sibling of the parent.
    run_ok(
        &env,
        env.tmp.path(),
        None,
        &["-C", "a", "push", "../b", "main"],
    );
    assert_eq!(
        run_ok(&env, &b, None, &["rev-parse", "main"]),
        run_ok(&env, &a, None, &["rev-parse", "main"])
    );
}

#[test]
fn a_failed_clone_removes_every_directory_it_made() {
    let env = Env::new();
    let out = run(
        &env,
        env.tmp.path(),
        None,
        &["clone", "/nonexistent/repository", "x/y/z"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().last().unwrap().starts_with("cow: error:"),
        "{err}"
    );
    assert!(
        !env.tmp.path().join("x").exists(),
        "x/ and x/y/ are gone too"
    );
    // Into an existing empty directory: emptied again, kept.
    fs::create_dir(env.tmp.path().join("empty")).unwrap();
    let out = run(
        &env,
        env.tmp.path(),
        None,
        &["clone", "/nonexistent/repository", "empty"],
    );
    assert!(!out.status.success());
    assert_eq!(
        fs::read_dir(env.tmp.path().join("empty")).unwrap().count(),
        0
    );
}

#[test]
fn a_remote_branch_clashing_with_a_tracking_ref_is_skipped_with_a_warning() {
    let env = Env::new();
    let origin = env.work();
    env.init();
    write(&origin.join("f"), "1");
    env.commit("one");
    run_ok(&env, &origin, None, &["branch", "a"]);
    let clone = env.tmp.path().join("clone");
    run_ok(
        &env,
        env.tmp.path(),
        None,
        &["clone", origin.to_str().unwrap(), clone.to_str().unwrap()],
    );
    // The remote replaces its branch a with a/b, and moves main.
    run_ok(&env, &origin, None, &["branch", "-D", "a"]);
    run_ok(&env, &origin, None, &["branch", "a/b"]);
    write(&origin.join("f"), "2");
    let main = env.commit("two");
    let out = run(&env, &clone, None, &["fetch"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "cow: warning: refs/remotes/origin/a/b not updated: refs/remotes/origin/a exists"
        ),
        "{err}"
    );
    assert_eq!(
        run_ok(&env, &clone, None, &["rev-parse", "origin/main"]).trim(),
        main
    );
}

#[test]
fn after_a_gc_a_push_sends_only_what_changed() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let mut rng = Rng::new(21);
    for i in 0..300 {
        write(&work.join(format!("d{}/f{i}", i % 10)), rng.bytes(2000));
    }
    env.commit("one");
    let repo = cow::Repository::open(&work).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let mut remote = cow::remote::StoreRemote::new(
        store,
        "",
        "mem".into(),
        false,
        env.tmp.path().join("scratch"),
    )
    .unwrap();
    let options = cow::repository::PushOptions::default();
    let first = repo
        .push_to(&mut remote, None, &options, &cow::remote::NoProgress)
        .unwrap();
    repo.gc(&Default::default()).unwrap();
    write(&work.join("d3/f3"), "changed");
    env.commit("two");
    repo.gc(&Default::default()).unwrap();
    let second = repo
        .push_to(&mut remote, None, &options, &cow::remote::NoProgress)
        .unwrap();
    // The commit, the root tree, d3's tree, the blob; nothing the first push sent.
    assert_eq!(second.transfer.objects, 4, "{second:?}");
    assert!(
        second.transfer.bytes * 20 < first.transfer.bytes,
        "{} bytes after {}",
        second.transfer.bytes,
        first.transfer.bytes
    );
}

#[test]
fn a_fetch_killed_mid_way_does_not_download_again_what_it_had_staged() {
    if !crate::reliability::strace_available() {
        return;
    }
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = Env::new();
    let work = env.work();
    env.init();
    let url = format!("s3://{}/resume", server.bucket);
    // Three pushes: three packs on the remote.
    let mut rng = Rng::new(8);
    for round in 0..3 {
        for i in 0..30 {
            write(&work.join(format!("r{round}/{i}")), rng.bytes(20_000));
        }
        env.commit(&format!("round {round}"));
        run_ok(&env, &work, Some(&server), &["push", &url, "main"]);
    }
    let json = |out: &str| -> serde_json::Value { serde_json::from_str(out).unwrap() };
    let init = |dir: &Path| {
        run_ok(&env, env.tmp.path(), None, &["init", dir.to_str().unwrap()]);
        run_ok(&env, dir, Some(&server), &["remote", "add", "origin", &url]);
    };
    let fetch_into = |dir: &Path| {
        init(dir);
        json(&run_ok(&env, dir, Some(&server), &["fetch", "--json"]))
    };
    let full = fetch_into(&env.tmp.path().join("full"));
    let full_bytes = full["transfer"]["bytes"].as_u64().unwrap();

    // Killed at its fifth rename: the three indexes and the first pack downloaded have
    // their names in the staging directory (each staged file is renamed into place
    // when complete), the other packs not.
    let dir = env.tmp.path().join("killed");
    init(&dir);
    let out = Command::new("strace")
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "trace=rename,renameat,renameat2",
            "-e",
            "inject=rename,renameat,renameat2:signal=KILL:when=5",
        ])
        .arg(env!("CARGO_BIN_EXE_cow"))
        .arg("fetch")
        .current_dir(&dir)
        .envs(
            cow_in(&env, &dir, Some(&server))
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?))),
        )
        .output()
        .unwrap();
    assert!(!out.status.success(), "killed: {}", describe(&out));
    assert!(
        run(
            &env,
            &dir,
            None,
            &["rev-parse", "--verify", "refs/tags/none"]
        )
        .status
        .code()
            != Some(0)
    );
    let rerun = json(&run_ok(&env, &dir, Some(&server), &["fetch", "--json"]));
    let rerun_bytes = rerun["transfer"]["bytes"].as_u64().unwrap();
    assert!(
        rerun_bytes < full_bytes,
        "{rerun_bytes} of {full_bytes} downloaded again"
    );
    assert_eq!(rerun["updated"], full["updated"]);
    assert_eq!(rerun["updated"].as_array().unwrap().len(), 1, "{rerun}");
    let fsck = run_ok(&env, &dir, None, &["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
}

#[test]
fn an_object_too_large_to_pack_travels_as_its_own_file() {
    // Over 16 MiB and stored whole (as a repository made before chunking stores it,
    // here by a threshold set by hand): kept loose, pushed as `objects/<id>` in parts,
    // fetched streaming.
    let env = Env::new();
    let work = env.work();
    env.init();
    let config = work.join(".cow/config");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("threshold = 1048576", "threshold = 1099511627776");
    fs::write(&config, text).unwrap();
    let big = Rng::new(4).bytes(20 << 20);
    write(&work.join("big.bin"), &big);
    write(&work.join("small"), "small");
    env.commit("big");
    let via_path = env.tmp.path().join("via-path");
    run_ok(
        &env,
        env.tmp.path(),
        None,
        &["clone", work.to_str().unwrap(), via_path.to_str().unwrap()],
    );
    assert!(fs::read(via_path.join("big.bin")).unwrap() == big);
    let Some(server) = S3Server::start() else {
        return;
    };
    let url = format!("s3://{}/large", server.bucket);
    let pushed: serde_json::Value = serde_json::from_str(&run_ok(
        &env,
        &work,
        Some(&server),
        &["push", "--json", &url, "main"],
    ))
    .unwrap();
    assert!(
        pushed["transfer"]["bytes"].as_u64().unwrap() > 20 << 20,
        "{pushed}"
    );
    let keys = keys(&*s3_client(&server), "large/objects");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let via_s3 = env.tmp.path().join("via-s3");
    run_ok(
        &env,
        env.tmp.path(),
        Some(&server),
        &["clone", &url, via_s3.to_str().unwrap()],
    );
    assert!(fs::read(via_s3.join("big.bin")).unwrap() == big);
    let fsck = run_ok(&env, &via_s3, None, &["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
}

#[test]
fn an_edited_large_file_travels_through_object_storage_as_readable_packs() {
    // The commit of an edit stores the touched chunk as a delta against the previous
    // version's chunk, in another pack: that commit's pack is not sent as it is, since
    // a receiver checks each fetch's packs with only what it stages, not with its own
    // store. A clone made before the edit fetches it and reads every version.
    let Some(server) = S3Server::start() else {
        return;
    };
    let env = Env::new();
    let work = env.work();
    env.init();
    let mut big = Rng::new(9).bytes(12 << 20);
    write(&work.join("big.bin"), &big);
    env.commit("v1");
    let url = format!("s3://{}/edits", server.bucket);
    run_ok(&env, &work, Some(&server), &["push", &url, "main"]);
    let clone = env.tmp.path().join("clone");
    run_ok(
        &env,
        env.tmp.path(),
        Some(&server),
        &["clone", &url, clone.to_str().unwrap()],
    );
    big[6 << 20..(6 << 20) + 4096].fill(1);
    write(&work.join("big.bin"), &big);
    env.commit("v2");
    run_ok(&env, &work, Some(&server), &["push", &url, "main"]);
    run_ok(&env, &clone, Some(&server), &["pull"]);
    assert!(fs::read(clone.join("big.bin")).unwrap() == big);
    let fsck = run_ok(&env, &clone, None, &["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
    let old = run_ok(&env, &clone, None, &["cat-file", "-s", "HEAD~1:big.bin"]);
    assert_eq!(old.trim(), (12 << 20).to_string());
}

#[test]
fn push_delete_removes_a_remote_branch_and_fetch_prune_its_tracking_branches() {
    let env = Env::new();
    let origin = env.work();
    env.init();
    write(&origin.join("f"), "1");
    env.commit("one");
    run_ok(&env, &origin, None, &["branch", "topic"]);
    run_ok(&env, &origin, None, &["branch", "old"]);
    let a = env.tmp.path().join("a");
    let b = env.tmp.path().join("b");
    for dir in [&a, &b] {
        run_ok(
            &env,
            env.tmp.path(),
            None,
            &["clone", origin.to_str().unwrap(), dir.to_str().unwrap()],
        );
    }
    // a deletes topic on the remote; its own tracking branch goes with it.
    let out = run(&env, &a, None, &["push", "--delete", "origin", "topic"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(" - [deleted]         topic"));
    assert!(
        !run(
            &env,
            &origin,
            None,
            &["rev-parse", "--verify", "refs/heads/topic"]
        )
        .status
        .success()
    );
    assert!(
        !run(&env, &a, None, &["rev-parse", "origin/topic"])
            .status
            .success()
    );
    // Deleting what is not there is an error; so is the branch checked out there.
    let out = run(&env, &a, None, &["push", "--delete", "origin", "topic"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out = run(&env, &a, None, &["push", "--delete", "origin", "main"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        run(&env, &origin, None, &["rev-parse", "main"])
            .status
            .success()
    );

    // b still has origin/topic until it fetches with --prune.
    run_ok(&env, &b, None, &["fetch"]);
    assert!(
        run(&env, &b, None, &["rev-parse", "origin/topic"])
            .status
            .success()
    );
    let out = run(&env, &b, None, &["fetch", "--prune"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(" - [deleted]         (none) -> origin/topic"),
        "{}",
        describe(&out)
    );
    assert!(
        !run(&env, &b, None, &["rev-parse", "origin/topic"])
            .status
            .success()
    );
    assert!(
        run(&env, &b, None, &["rev-parse", "origin/old"])
            .status
            .success()
    );
}
