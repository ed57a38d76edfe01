//! A remote in an object store, laid out so that push and fetch never list:
//!
//! ```text
//! PREFIX/root                  the one mutable object: "cow remote root 1",
//!                              "generation N", "manifest <sha256>"
//! PREFIX/manifests/<sha256>    immutable, named by its hash: the refs, the default
//!                              branch, and every pack and large object the remote holds
//! PREFIX/packs/<sum>.pack      immutable packs named by their checksum (cow's format),
//! PREFIX/packs/<sum>.idx       each index uploaded after its pack: its presence marks
//!                              a complete pack
//! PREFIX/objects/<id>          an object too large to pack: its loose zstd frame
//! ```
//!
//! A push uploads what the remote lacks (local packs whose every object goes, as they
//! are; the rest in new packs of at most [`PACK_INPUT`] bytes of content; several in
//! flight), writes a new manifest, and moves `root` to it by one
//! conditional single-part PUT (`If-Match` on the version read, or `If-None-Match: *`
//! for a new remote). A concurrent push that moved `root` first makes the write fail;
//! the push then re-reads the refs, and retries only if the refs it changes are still
//! what it expected. The generation number in `root` keeps it from ever returning to
//! byte-identical content (an ETag is the body's MD5 on most services: ABA).
//!
//! A fetch reads `root` and the manifest, the indexes of packs it has not got, and the
//! packs holding objects it lacks, into a staging directory where every object is
//! verified against its id before anything is installed in the local store. Staged
//! files survive a killed fetch and are not downloaded again. (The caller then checks
//! that every new ref's history is complete before moving any ref.)

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart};
use sha2::{Digest, Sha256};

use super::{Error, Progress, RefUpdate, RemoteRefs, Result, S3Location, S3Options, Transfer};
use crate::fs::IoResultExt;
use crate::object::{Kind, ObjectId};
use crate::odb::backend::{FileKind, LocalBackend, ReadBackend, WriteBackend};
use crate::odb::{Candidate, MAX_PACKED_SIZE, Odb, RepackOptions};
use crate::reach::Reached;

/// Content bytes (before compression) a pushed pack holds at most: with zstd's usual
/// 3–5× on source trees, packs of a few tens of MiB, few enough requests and small
/// enough to retry.
pub const PACK_INPUT: u64 = 128 << 20;

/// Files larger than this are uploaded in parts.
const PART_SIZE: usize = 16 << 20;

/// Uploads or downloads in flight at once.
const IN_FLIGHT: usize = 4;

/// How many times a push re-reads the refs after losing a race for `root` to a push of
/// other refs (or to a service's lagging view of it), pausing longer each time.
const MAX_ATTEMPTS: usize = 16;

const ROOT_MAGIC: &str = "cow remote root 1";
const MANIFEST_MAGIC: &str = "cow remote manifest 1";

/// The largest root or manifest read (a manifest lists every ref and pack).
const MAX_METADATA: usize = 64 << 20;

/// A file a manifest lists: a pack (with its index size) or a large object.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    name: String,
    bytes: u64,
    idx_bytes: u64,
}

/// What a manifest says the remote holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Manifest {
    head: Option<String>,
    refs: BTreeMap<String, ObjectId>,
    packs: Vec<Listed>,
    large: Vec<Listed>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = format!("{MANIFEST_MAGIC}\n");
        if let Some(head) = &self.head {
            out += &format!("head {head}\n");
        }
        for (name, id) in &self.refs {
            out += &format!("ref {id} {name}\n");
        }
        for p in &self.packs {
            out += &format!("pack {} {} {}\n", p.name, p.bytes, p.idx_bytes);
        }
        for l in &self.large {
            out += &format!("object {} {}\n", l.name, l.bytes);
        }
        out.into_bytes()
    }

    fn parse(bytes: &[u8], what: &str) -> Result<Manifest> {
        let bad = |reason: String| Error::Corrupt {
            what: what.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_MAGIC) {
            return Err(bad(format!("does not start with '{MANIFEST_MAGIC}'")));
        }
        let mut m = Manifest::default();
        let hex_name = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        for line in lines {
            let fields: Vec<&str> = line.split(' ').collect();
            let number = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| bad(format!("bad line {line:?}")))
            };
            match fields.as_slice() {
                ["head", name] if name.starts_with("refs/heads/") => {
                    m.head = Some(check_ref(name, what)?)
                }
                ["ref", id, name] => {
                    let id = id.parse().map_err(|_| bad(format!("bad id in {line:?}")))?;
                    m.refs.insert(check_ref(name, what)?, id);
                }
                ["pack", name, bytes, idx] if hex_name(name) => m.packs.push(Listed {
                    name: name.to_string(),
                    bytes: number(bytes)?,
                    idx_bytes: number(idx)?,
                }),
                ["object", id, bytes] if id.parse::<ObjectId>().is_ok() => m.large.push(Listed {
                    name: id.to_string(),
                    bytes: number(bytes)?,
                    idx_bytes: 0,
                }),
                _ => return Err(bad(format!("unexpected line {line:?}"))),
            }
        }
        Ok(m)
    }
}

/// A ref name as a remote lists it: refused unless git's rules accept it.
fn check_ref(name: &str, what: &str) -> Result<String> {
    match crate::refs::RefName::new(name) {
        Ok(n) if n.as_str().starts_with("refs/") => Ok(name.to_owned()),
        _ => Err(Error::Corrupt {
            what: what.to_owned(),
            reason: format!("invalid ref name {name:?}"),
        }),
    }
}

/// The root pointer as read: which manifest, its generation, and the version a
/// conditional write must name to replace it.
#[derive(Clone, Debug)]
struct Root {
    generation: u64,
    /// The manifest it names.
    manifest: String,
    version: UpdateVersion,
}

/// Request and byte counters, shared with the upload tasks.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// A remote kept in an object store (S3 or any other `object_store` backend).
#[derive(Debug)]
pub struct StoreRemote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    runtime: tokio::runtime::Runtime,
    single_writer: bool,
    /// Where packs are staged: `push/` before upload, `fetch/` after download.
    scratch: PathBuf,
    /// `root` as last read (`None`: the remote is empty).
    root: Option<Root>,
    manifest: Manifest,
    /// Packs and large objects uploaded by [`StoreRemote::send`], for the next manifest.
    sent: Manifest,
    counters: Arc<Counters>,
}

impl StoreRemote {
    /// A remote in S3 (or an S3-compatible service) at `location`; `scratch` is a
    /// local directory for staging packs (created if missing).
    pub fn open_s3(
        location: &S3Location,
        options: &S3Options,
        single_writer: bool,
        scratch: PathBuf,
    ) -> Result<StoreRemote> {
        let store = super::s3::build(location, options)?;
        StoreRemote::new(
            Arc::new(store),
            &location.prefix,
            location.to_string(),
            single_writer,
            scratch,
        )
    }

    /// A remote in any object store, under `prefix`; `url` names it in messages.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        url: String,
        single_writer: bool,
        scratch: PathBuf,
    ) -> Result<StoreRemote> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(StoreRemote {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            url,
            runtime,
            single_writer,
            scratch,
            root: None,
            manifest: Manifest::default(),
            sent: Manifest::default(),
            counters: Arc::default(),
        })
    }

    fn key(&self, rel: &str) -> Key {
        key(&self.prefix, rel)
    }

    fn failed(&self, action: &'static str, key: &Key) -> impl Fn(object_store::Error) -> Error {
        let key = key.to_string();
        move |source| Error::Store {
            action,
            key: key.clone(),
            source,
        }
    }

    /// A small object's bytes; `None` when absent.
    fn get_small(&self, rel: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        let key = self.key(rel);
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let got = self.runtime.block_on(async {
            let got = match self.store.get(&key).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                got => got?,
            };
            if got.meta.size > MAX_METADATA as u64 {
                return Ok(Some((Vec::new(), got.meta.size, None)));
            }
            let version = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            let size = got.meta.size;
            let bytes = got.bytes().await?;
            Ok(Some((bytes.to_vec(), size, Some(version))))
        });
        match got.map_err(self.failed("read", &key))? {
            None => Ok(None),
            Some((_, size, None)) => Err(Error::Corrupt {
                what: key.to_string(),
                reason: format!("{size} bytes is too large"),
            }),
            Some((bytes, _, Some(version))) => {
                self.counters
                    .bytes_down
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                Ok(Some((bytes, version)))
            }
        }
    }

    fn put(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<object_store::PutResult, object_store::Error> {
        let key = self.key(rel);
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_up
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.runtime.block_on(self.store.put_opts(
            &key,
            PutPayload::from(bytes),
            PutOptions {
                mode,
                ..PutOptions::default()
            },
        ))
    }

    /// Reads `root` and its manifest into `self`.
    fn read_root(&mut self) -> Result<()> {
        let Some((bytes, version)) = self.get_small("root")? else {
            self.root = None;
            self.manifest = Manifest::default();
            return Ok(());
        };
        let what = self.key("root").to_string();
        let bad = |reason: &str| Error::Corrupt {
            what: what.clone(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        match lines.next() {
            Some(ROOT_MAGIC) => {}
            Some(line) if line.starts_with("cow remote root ") => {
                return Err(Error::Format {
                    url: self.url.clone(),
                    reason: format!("its format is '{line}' (a newer cow wrote it)"),
                });
            }
            _ => return Err(bad("not a cow remote root")),
        }
        let generation = lines
            .next()
            .and_then(|l| l.strip_prefix("generation "))
            .and_then(|g| g.parse().ok())
            .ok_or_else(|| bad("no generation"))?;
        let manifest = lines
            .next()
            .and_then(|l| l.strip_prefix("manifest "))
            .filter(|m| m.len() == 64 && m.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("no manifest"))?
            .to_owned();
        let rel = format!("manifests/{manifest}");
        let what = self.key(&rel).to_string();
        let (bytes, _) = self.get_small(&rel)?.ok_or_else(|| Error::Corrupt {
            what: what.clone(),
            reason: "the manifest root names is missing".into(),
        })?;
        if hex::encode(Sha256::digest(&bytes)) != manifest {
            return Err(Error::Corrupt {
                what,
                reason: "content does not hash to its name".into(),
            });
        }
        self.manifest = Manifest::parse(&bytes, &what)?;
        self.root = Some(Root {
            generation,
            manifest,
            version,
        });
        Ok(())
    }

    /// Refuses a service that ignores conditional writes, unless single-writer.
    fn check_conditional_writes(&self) -> Result<()> {
        if self.single_writer {
            return Ok(());
        }
        self.counters.requests.fetch_add(4, Ordering::Relaxed);
        let probe = self.runtime.block_on(super::probe_conditional_writes(
            self.store.as_ref(),
            &self.prefix,
        ))?;
        match probe {
            super::Probe::Honoured => Ok(()),
            super::Probe::Ignored(header) => Err(Error::Unsafe {
                url: self.url.clone(),
                header,
            }),
        }
    }

    fn staging(&self, dir: &str) -> Result<(PathBuf, Arc<LocalBackend>)> {
        let path = self.scratch.join(dir);
        let pack = path.join("pack");
        std::fs::create_dir_all(&pack).context("create", &pack)?;
        Ok((path.clone(), Arc::new(LocalBackend::new(path))))
    }

    /// Uploads pack `name` from local files: the pack first, as an index marks a
    /// complete pack.
    fn upload_pack(
        &self,
        name: &str,
        pack: PathBuf,
        idx: PathBuf,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let counters = Arc::clone(&self.counters);
        let pack_key = self.key(&format!("packs/{name}.pack"));
        let idx_key = self.key(&format!("packs/{name}.idx"));
        async move {
            upload(Arc::clone(&store), pack_key, pack, Arc::clone(&counters)).await?;
            upload(store, idx_key, idx, counters).await
        }
    }

    /// Whether `rel` exists with `size` bytes (a file a killed push uploaded).
    fn present(&self, rel: &str, size: u64) -> bool {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let key = self.key(rel);
        self.runtime
            .block_on(self.store.head(&key))
            .is_ok_and(|meta| meta.size == size)
    }
}

fn key(prefix: &str, rel: &str) -> Key {
    Key::from(if prefix.is_empty() {
        rel.to_owned()
    } else {
        format!("{prefix}/{rel}")
    })
}

/// Uploads the local file `path` as `key`: one PUT, or parts for a large file.
async fn upload(
    store: Arc<dyn ObjectStore>,
    key: Key,
    path: PathBuf,
    counters: Arc<Counters>,
) -> Result<()> {
    let failed = |source| Error::Store {
        action: "upload",
        key: key.to_string(),
        source,
    };
    let mut file = std::fs::File::open(&path).context("open", &path)?;
    let size = file.metadata().context("stat", &path)?.len();
    if size <= PART_SIZE as u64 {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).context("read", &path)?;
        counters.requests.fetch_add(1, Ordering::Relaxed);
        store
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(failed)?;
    } else {
        let parts = store.put_multipart(&key).await.map_err(failed)?;
        let mut writer = WriteMultipart::new_with_chunk_size(parts, PART_SIZE);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).context("read", &path)?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(failed)?;
            writer.write(&buf[..n]);
        }
        counters
            .requests
            .fetch_add(2 + size.div_ceil(PART_SIZE as u64), Ordering::Relaxed);
        writer.finish().await.map_err(failed)?;
    }
    counters.bytes_up.fetch_add(size, Ordering::Relaxed);
    Ok(())
}

/// Downloads `key` into a new file of `kind` named `name` in `backend`, streaming.
async fn download(
    store: Arc<dyn ObjectStore>,
    key: Key,
    backend: Arc<LocalBackend>,
    kind: FileKind,
    name: String,
    size: u64,
    counters: Arc<Counters>,
) -> Result<u64> {
    let failed = |source| Error::Store {
        action: "download",
        key: key.to_string(),
        source,
    };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let got = store.get(&key).await.map_err(failed)?;
    let location = backend.location(kind, &name);
    let mut file = backend.create(kind).context("create", &location)?;
    let mut stream = got.into_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(failed)?;
        total += chunk.len() as u64;
        // The manifest says how large the file is: a server sending more is not
        // followed (it could fill the disk).
        if total > size {
            break;
        }
        file.write_all(&chunk).context("write", &location)?;
        counters
            .bytes_down
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    if total != size {
        return Err(Error::Corrupt {
            what: key.to_string(),
            reason: format!("the manifest lists {size} bytes, the server sent {total}"),
        });
    }
    file.finish(&name, false).context("write", &location)?;
    Ok(total)
}

/// Removes a staged pack (its index first, so that no reader takes it as complete).
fn remove_staged(backend: &LocalBackend, name: &str) {
    let _ = backend.remove(FileKind::Index, name);
    let _ = backend.remove(FileKind::Pack, name);
}

/// Transfers running on the remote's runtime, at most [`IN_FLIGHT`] at once, while
/// the caller's thread goes on (building the next pack) and reports progress.
struct Jobs {
    handles: std::collections::VecDeque<tokio::task::JoinHandle<Result<()>>>,
    counters: Arc<Counters>,
    step: &'static str,
}

impl Jobs {
    fn new(counters: &Arc<Counters>, step: &'static str) -> Jobs {
        Jobs {
            handles: Default::default(),
            counters: Arc::clone(counters),
            step,
        }
    }

    /// Starts `job`, first waiting for one to end if [`IN_FLIGHT`] are running.
    fn push(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        job: impl std::future::Future<Output = Result<()>> + Send + 'static,
        progress: &dyn Progress,
    ) -> Result<()> {
        while self.handles.len() >= IN_FLIGHT {
            self.wait_one(runtime, progress)?;
        }
        self.handles.push_back(runtime.spawn(job));
        Ok(())
    }

    /// Waits for the oldest job, reporting bytes moved a few times a second.
    fn wait_one(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        progress: &dyn Progress,
    ) -> Result<()> {
        let Some(handle) = self.handles.front_mut() else {
            return Ok(());
        };
        loop {
            // The timer is made inside the runtime, which drives it.
            let waited = runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_millis(250), &mut *handle).await
            });
            let counter = match self.step {
                "upload" => &self.counters.bytes_up,
                _ => &self.counters.bytes_down,
            };
            progress.update(self.step, counter.load(Ordering::Relaxed), 0, "bytes");
            if let Ok(joined) = waited {
                self.handles.pop_front();
                return joined.map_err(|e| Error::Setup(format!("a transfer task failed: {e}")))?;
            }
        }
    }

    /// Waits for every job; the first error wins.
    fn finish(&mut self, runtime: &tokio::runtime::Runtime, progress: &dyn Progress) -> Result<()> {
        while !self.handles.is_empty() {
            self.wait_one(runtime, progress)?;
        }
        Ok(())
    }

    /// Stops what is still running (after an error).
    fn abort(&mut self) {
        for handle in self.handles.drain(..) {
            handle.abort();
        }
    }
}

/// Cuts the objects a push sends into runs of at most [`PACK_INPUT`] content bytes,
/// in path order so that versions of one file share a pack (and can be deltas).
fn cut_into_packs(
    local: &Odb,
    mut objects: Vec<Reached>,
) -> Result<(Vec<Vec<Reached>>, Vec<ObjectId>)> {
    let rank = |k: Kind| match k {
        Kind::Commit => 0,
        Kind::Tree => 1,
        _ => 2,
    };
    objects.sort_by(|a, b| {
        rank(a.kind)
            .cmp(&rank(b.kind))
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut packs = vec![Vec::new()];
    let mut large = Vec::new();
    let mut bytes = 0;
    for object in objects {
        let size = local.record_size(&object.id)?;
        if size > MAX_PACKED_SIZE {
            large.push(object.id);
            continue;
        }
        let same_file = packs
            .last()
            .and_then(|p: &Vec<Reached>| p.last())
            .is_some_and(|last| last.path == object.path);
        if bytes + size > PACK_INPUT && !same_file && !packs.last().expect("one").is_empty() {
            packs.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        packs.last_mut().expect("one").push(object);
    }
    packs.retain(|p| !p.is_empty());
    Ok((packs, large))
}

/// The local packs (as a manifest lists them, with their ids) all of whose objects are among
/// `objects`, so that they can be sent as they are. Cruft packs are left out (their
/// objects are unreachable), and so are a pack that is not a local file and a pack
/// with a chunk delta against another pack's chunk (a receiver checks each pack on
/// its own).
fn reusable_packs(local: &Odb, objects: &[Reached]) -> Result<Vec<(Listed, Vec<ObjectId>)>> {
    let wanted: HashSet<ObjectId> = objects.iter().map(|r| r.id).collect();
    let backend = local.backend();
    let mut out = Vec::new();
    for name in local.pack_names() {
        if backend
            .stat(FileKind::Times, &name)
            .ok()
            .flatten()
            .is_some()
        {
            continue;
        }
        let (Ok(pack), Ok(idx)) = (
            std::fs::metadata(backend.location(FileKind::Pack, &name)),
            std::fs::read(backend.location(FileKind::Index, &name)),
        ) else {
            continue;
        };
        let what = backend.location(FileKind::Index, &name);
        let ids = crate::odb::index_object_ids(&idx, &what.to_string_lossy())?;
        if !ids.is_empty()
            && ids.iter().all(|id| wanted.contains(id))
            && !local.pack_needs_other_packs(&name)?
        {
            let listed = Listed {
                name,
                bytes: pack.len(),
                idx_bytes: idx.len() as u64,
            };
            out.push((listed, ids));
        }
    }
    Ok(out)
}

/// Writes `objects` (read from `local`) as one pack in `staging`, as gc packs them
/// (deltas, blocks, a dictionary) at the store's compression level. The same objects
/// always make the same pack, so a re-run push finds the one a killed push uploaded.
fn stage_pack(
    local: &Odb,
    staging: Arc<LocalBackend>,
    objects: &[Reached],
) -> Result<crate::odb::PackInfo> {
    let candidates = objects
        .iter()
        .map(|r| Candidate {
            id: r.id,
            kind: r.kind,
            path: r.path.clone(),
        })
        .collect();
    let options = RepackOptions {
        level: local.level(),
        ..RepackOptions::default()
    };
    let written = local.write_pack(candidates, staging, &options)?;
    Ok(written
        .pack
        .expect("a pack of at least one object small enough to pack is written"))
}

impl super::Remote for StoreRemote {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    fn refs(&mut self) -> Result<RemoteRefs> {
        self.read_root()?;
        Ok(RemoteRefs {
            refs: self.manifest.refs.clone(),
            head: self.manifest.head.clone(),
        })
    }

    fn send(
        &mut self,
        local: &Odb,
        objects: Vec<Reached>,
        progress: &dyn Progress,
    ) -> Result<Transfer> {
        let mut transfer = Transfer::default();
        if objects.is_empty() {
            return Ok(transfer);
        }
        let (dir, backend) = self.staging("push")?;
        // Local packs whose every object is being sent go as they are, not re-encoded
        // (a first push is mostly these); the rest is packed anew.
        let reused = reusable_packs(local, &objects)?;
        let covered: HashSet<ObjectId> = reused.iter().flat_map(|r| r.1.iter().copied()).collect();
        let objects: Vec<Reached> = objects
            .into_iter()
            .filter(|r| !covered.contains(&r.id))
            .collect();
        let (packs, large) = cut_into_packs(local, objects)?;
        let total_objects: u64 = covered.len() as u64
            + packs.iter().map(|p| p.len() as u64).sum::<u64>()
            + large.len() as u64;
        // Each pack is uploaded while the next is built.
        let mut jobs = Jobs::new(&self.counters, "upload");
        let sent = (|| -> Result<()> {
            for (listed, ids) in reused {
                transfer.objects += ids.len() as u64;
                self.sent.packs.push(listed.clone());
                let Listed {
                    name,
                    bytes,
                    idx_bytes,
                } = listed;
                if self.present(&format!("packs/{name}.idx"), idx_bytes) {
                    transfer.reused_packs += 1;
                    continue;
                }
                transfer.packs += 1;
                transfer.bytes += bytes + idx_bytes;
                let pack_path = local.backend().location(FileKind::Pack, &name);
                let idx_path = local.backend().location(FileKind::Index, &name);
                jobs.push(
                    &self.runtime,
                    self.upload_pack(&name, pack_path, idx_path),
                    progress,
                )?;
            }
            for objects in &packs {
                let info = stage_pack(local, Arc::clone(&backend), objects)?;
                transfer.objects += info.objects;
                progress.update("pack", transfer.objects, total_objects, "objects");
                let idx_path = backend.location(FileKind::Index, &info.name);
                let idx_bytes = std::fs::metadata(&idx_path)
                    .context("stat", &idx_path)?
                    .len();
                self.sent.packs.push(Listed {
                    name: info.name.clone(),
                    bytes: info.bytes,
                    idx_bytes,
                });
                // Content-named: a killed push left it complete if its index is there.
                if self.present(&format!("packs/{}.idx", info.name), idx_bytes) {
                    transfer.reused_packs += 1;
                    remove_staged(&backend, &info.name);
                    continue;
                }
                transfer.packs += 1;
                transfer.bytes += info.bytes + idx_bytes;
                let upload = self.upload_pack(
                    &info.name,
                    backend.location(FileKind::Pack, &info.name),
                    idx_path,
                );
                let backend = Arc::clone(&backend);
                jobs.push(
                    &self.runtime,
                    async move {
                        upload.await?;
                        remove_staged(&backend, &info.name);
                        Ok(())
                    },
                    progress,
                )?;
            }
            for id in &large {
                let hex = id.to_string();
                let path = local.backend().location(FileKind::Loose, &hex);
                let size = std::fs::metadata(&path).context("stat", &path)?.len();
                transfer.objects += 1;
                self.sent.large.push(Listed {
                    name: hex.clone(),
                    bytes: size,
                    idx_bytes: 0,
                });
                if self.present(&format!("objects/{hex}"), size) {
                    continue;
                }
                transfer.bytes += size;
                let upload = upload(
                    Arc::clone(&self.store),
                    self.key(&format!("objects/{hex}")),
                    path,
                    Arc::clone(&self.counters),
                );
                jobs.push(&self.runtime, upload, progress)?;
            }
            jobs.finish(&self.runtime, progress)
        })();
        jobs.abort();
        let _ = std::fs::remove_dir_all(&dir);
        sent?;
        Ok(transfer)
    }

    fn update_refs(&mut self, updates: &[RefUpdate], head: Option<&str>) -> Result<()> {
        for attempt in 0.. {
            for update in updates {
                if self.manifest.refs.get(&update.name) != update.old.as_ref() {
                    return Err(Error::RefMoved {
                        name: update.name.clone(),
                    });
                }
            }
            if self.root.is_none() {
                // A new remote: its first push checks the service can be trusted with
                // the compare-and-swap every later push relies on.
                self.check_conditional_writes()?;
            }
            let mut next = self.manifest.clone();
            for update in updates {
                match update.new {
                    Some(id) => next.refs.insert(update.name.clone(), id),
                    None => next.refs.remove(&update.name),
                };
            }
            // As in a repository: `a` and `a/b` cannot both be refs (no clone could
            // make both).
            for update in updates.iter().filter(|u| u.new.is_some()) {
                let clash = next
                    .refs
                    .keys()
                    .find(|other| crate::refs::names_clash(&update.name, other));
                if let Some(other) = clash {
                    return Err(Error::Refused(format!(
                        "cannot create {} on {}: {other} exists there",
                        update.name, self.url
                    )));
                }
            }
            if next.head.is_none() {
                next.head = head.map(str::to_owned);
            }
            let known: HashSet<String> = next.packs.iter().map(|p| p.name.clone()).collect();
            next.packs.extend(
                self.sent
                    .packs
                    .iter()
                    .filter(|p| !known.contains(&p.name))
                    .cloned(),
            );
            let known: HashSet<String> = next.large.iter().map(|p| p.name.clone()).collect();
            next.large.extend(
                self.sent
                    .large
                    .iter()
                    .filter(|p| !known.contains(&p.name))
                    .cloned(),
            );
            let bytes = next.encode();
            let name = hex::encode(Sha256::digest(&bytes));
            let rel = format!("manifests/{name}");
            self.put(&rel, bytes, PutMode::Overwrite)
                .map(drop)
                .map_err(self.failed("write", &self.key(&rel)))?;
            let generation = match &self.root {
                None => 1,
                Some(root) => root
                    .generation
                    .checked_add(1)
                    .ok_or_else(|| Error::Corrupt {
                        what: self.key("root").to_string(),
                        reason: "its generation cannot grow".into(),
                    })?,
            };
            let root = format!("{ROOT_MAGIC}\ngeneration {generation}\nmanifest {name}\n");
            let mode = match &self.root {
                Some(root) => PutMode::Update(root.version.clone()),
                None => PutMode::Create,
            };
            match self.put("root", root.into_bytes(), mode) {
                Ok(put) => {
                    self.sent = Manifest::default();
                    self.manifest = next;
                    self.root = Some(Root {
                        generation,
                        manifest: name,
                        version: UpdateVersion {
                            e_tag: put.e_tag,
                            version: put.version,
                        },
                    });
                    return Ok(());
                }
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) if attempt < MAX_ATTEMPTS => {
                    // Another push moved root: retry on top of it, if it left the refs
                    // this one changes as they were. A service whose gateways share
                    // metadata asynchronously may also refuse a version it has not
                    // seen yet: the pause (growing to a second) lets it catch up.
                    std::thread::sleep(std::time::Duration::from_millis(
                        (25 << attempt.min(6)).min(1000),
                    ));
                    self.read_root()?;
                    // The write may have gone through with its answer lost (the
                    // client's retry is then refused): root names this very manifest.
                    if self.root.as_ref().is_some_and(|r| r.manifest == name) {
                        self.sent = Manifest::default();
                        return Ok(());
                    }
                }
                Err(e) => return Err(self.failed("write", &self.key("root"))(e)),
            }
        }
        unreachable!("the loop returns")
    }

    fn receive(
        &mut self,
        local: &Odb,
        _wants: &[ObjectId],
        _haves: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<Transfer> {
        let bytes_down = self.counters.bytes_down.load(Ordering::Relaxed);
        let mut transfer = Transfer::default();
        let (dir, backend) = self.staging("fetch")?;
        let mut have_packs: HashSet<String> = local.pack_names().into_iter().collect();
        // Indexes first (small): a pack is fetched only if it holds an object this
        // store lacks.
        let mut wanted = Vec::new();
        let mut manifest_packs = self.manifest.packs.clone();
        manifest_packs.retain(|p| have_packs.insert(p.name.clone()));
        for pack in &manifest_packs {
            let rel = format!("packs/{}.idx", pack.name);
            let what = self.key(&rel).to_string();
            let idx = match std::fs::read(backend.location(FileKind::Index, &pack.name)) {
                Ok(staged) if staged.len() as u64 == pack.idx_bytes => staged,
                _ => {
                    let (idx, _) = self.get_small(&rel)?.ok_or_else(|| Error::Corrupt {
                        what: what.clone(),
                        reason: "listed in the manifest but missing".into(),
                    })?;
                    idx
                }
            };
            let ids = crate::odb::index_object_ids(&idx, &what).map_err(|e| Error::Corrupt {
                what: what.clone(),
                reason: e.to_string(),
            })?;
            if ids.iter().all(|id| local.contains_stored(id)) {
                transfer.reused_packs += 1;
                continue;
            }
            wanted.push((pack.clone(), idx));
        }
        let large: Vec<Listed> = self
            .manifest
            .large
            .iter()
            .filter(|l| l.name.parse().is_ok_and(|id| !local.contains(&id)))
            .cloned()
            .collect();
        // Download what is not staged already (a killed fetch leaves its packs).
        let mut jobs = Vec::new();
        for (pack, idx) in &wanted {
            let staged = |kind| {
                std::fs::metadata(backend.location(kind, &pack.name)).is_ok_and(|m| {
                    m.len()
                        == if kind == FileKind::Pack {
                            pack.bytes
                        } else {
                            pack.idx_bytes
                        }
                })
            };
            if !staged(FileKind::Pack) {
                jobs.push((
                    format!("packs/{}.pack", pack.name),
                    FileKind::Pack,
                    pack.name.clone(),
                    pack.bytes,
                ));
            }
            if !staged(FileKind::Index) {
                let location = backend.location(FileKind::Index, &pack.name);
                let mut file = backend
                    .create(FileKind::Index)
                    .context("create", &location)?;
                file.write_all(idx).context("write", &location)?;
                file.finish(&pack.name, false).context("write", &location)?;
            }
        }
        for l in &large {
            if std::fs::metadata(backend.location(FileKind::Loose, &l.name))
                .map(|m| m.len())
                .ok()
                != Some(l.bytes)
            {
                jobs.push((
                    format!("objects/{}", l.name),
                    FileKind::Loose,
                    l.name.clone(),
                    l.bytes,
                ));
            }
        }
        let mut downloads = Jobs::new(&self.counters, "download");
        for (rel, kind, name, size) in jobs {
            let download = download(
                Arc::clone(&self.store),
                self.key(&rel),
                Arc::clone(&backend),
                kind,
                name,
                size,
                Arc::clone(&self.counters),
            );
            downloads.push(
                &self.runtime,
                async move { download.await.map(drop) },
                progress,
            )?;
        }
        let downloaded = downloads.finish(&self.runtime, progress);
        downloads.abort();
        downloaded?;
        transfer.bytes = self.counters.bytes_down.load(Ordering::Relaxed) - bytes_down;
        // Every object verified before anything is installed.
        let staged = Odb::with_backend(backend.clone());
        let mut chunk_lists = Vec::new();
        for (pack, _) in &wanted {
            let what = self.key(&format!("packs/{}.pack", pack.name)).to_string();
            match staged.verify_pack(&pack.name) {
                Ok(verified) => {
                    transfer.objects += verified.ids.len() as u64;
                    chunk_lists.extend(
                        verified
                            .chunk_lists
                            .into_iter()
                            .map(|id| (id, what.clone())),
                    );
                }
                Err(e) => {
                    let _ = backend.remove(FileKind::Index, &pack.name);
                    let _ = backend.remove(FileKind::Pack, &pack.name);
                    return Err(Error::Corrupt {
                        what,
                        reason: e.to_string(),
                    });
                }
            }
        }
        for l in &large {
            let id: ObjectId = l.name.parse().expect("checked");
            if let Err(e) = staged.verify(&id) {
                let _ = backend.remove(FileKind::Loose, &l.name);
                return Err(Error::Corrupt {
                    what: self.key(&format!("objects/{}", l.name)).to_string(),
                    reason: e.to_string(),
                });
            }
            transfer.objects += 1;
        }
        // Install: each pack before its index, then one sync. A staged file is moved
        // into place when the store is a directory on the same filesystem (synced
        // first: it was downloaded unsynced), else copied.
        let target = local.backend();
        let mut moved_into = Vec::new();
        let mut install = |kind: FileKind, name: &str| -> Result<()> {
            let from = backend.location(kind, name);
            let to = target.location(kind, name);
            let synced = std::fs::File::open(&from).and_then(|f| f.sync_all());
            if synced.is_ok() && std::fs::rename(&from, &to).is_ok() {
                if let Some(dir) = to.parent() {
                    moved_into.push(dir.to_owned());
                }
                return Ok(());
            }
            let mut reader = std::fs::File::open(&from).context("open", &from)?;
            let mut file = target.create(kind).context("create", &to)?;
            std::io::copy(&mut reader, &mut file).context("write", &to)?;
            file.finish(name, true).context("write", &to)?;
            Ok(())
        };
        for (pack, _) in &wanted {
            install(FileKind::Pack, &pack.name)?;
            install(FileKind::Index, &pack.name)?;
            transfer.packs += 1;
        }
        for l in &large {
            install(FileKind::Loose, &l.name)?;
        }
        moved_into.sort();
        moved_into.dedup();
        for dir in moved_into {
            crate::fs::sync_dir(&dir)?;
        }
        local.sync()?;
        local.reload_packs();
        // A chunked blob's chunks may be partly here already: it is checked whole now
        // that they are all in one store. A bad one leaves its packs unused (no ref
        // moves), for gc to drop.
        for (id, what) in &chunk_lists {
            if let Err(e) = local.verify(id) {
                return Err(Error::Corrupt {
                    what: what.clone(),
                    reason: e.to_string(),
                });
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(transfer)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Remote;
    use super::*;
    use object_store::memory::InMemory;

    fn update(id: ObjectId) -> RefUpdate {
        RefUpdate {
            name: "refs/heads/main".into(),
            old: None,
            new: Some(id),
        }
    }

    #[test]
    fn a_first_push_to_a_service_that_ignores_conditions_is_refused_unless_single_writer() {
        let scratch = tempfile::tempdir().unwrap();
        let id = ObjectId::empty_tree();
        for single_writer in [false, true] {
            let store = Arc::new(super::super::s3::tests::IgnoresConditions(InMemory::new()));
            let mut remote = StoreRemote::new(
                store,
                "p",
                "mem".into(),
                single_writer,
                scratch.path().into(),
            )
            .unwrap();
            remote.refs().unwrap();
            let moved = remote.update_refs(&[update(id)], Some("refs/heads/main"));
            if single_writer {
                moved.unwrap();
                assert_eq!(remote.refs().unwrap().refs["refs/heads/main"], id);
            } else {
                let err = moved.unwrap_err().to_string();
                assert!(err.contains("ignores If-None-Match"), "{err}");
                assert!(remote.refs().unwrap().refs.is_empty(), "nothing moved");
            }
        }
    }

    #[test]
    fn root_moves_by_compare_and_swap_and_never_repeats_its_bytes() {
        let scratch = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let open = || {
            StoreRemote::new(
                Arc::clone(&store),
                "",
                "mem".into(),
                false,
                scratch.path().into(),
            )
            .unwrap()
        };
        let (a, b) = (ObjectId::empty_tree(), ObjectId::hash(Kind::Blob, b"b"));
        let mut first = open();
        first.refs().unwrap();
        first.update_refs(&[update(a)], None).unwrap();
        let root1 = block(&store, "root");
        // Both read the same root; the first to write wins, the second is refused.
        let (mut x, mut y) = (open(), open());
        x.refs().unwrap();
        y.refs().unwrap();
        let to = |old, new| RefUpdate {
            name: "refs/heads/main".into(),
            old: Some(old),
            new: Some(new),
        };
        x.update_refs(&[to(a, b)], None).unwrap();
        let c = ObjectId::hash(Kind::Blob, b"c");
        let err = y.update_refs(&[to(a, c)], None).unwrap_err();
        assert!(matches!(err, Error::RefMoved { .. }), "{err}");
        // One that wanted exactly what is there now is done (as when its own write
        // went through and only the answer was lost).
        let (mut z, mut w) = (open(), open());
        z.refs().unwrap();
        w.refs().unwrap();
        z.update_refs(&[to(b, c)], None).unwrap();
        w.update_refs(&[to(b, c)], None).unwrap();
        x.refs().unwrap();
        x.update_refs(&[to(c, b)], None).unwrap();
        // Back to the first value: root's bytes still differ (generation 5, not 1).
        x.update_refs(&[to(b, a)], None).unwrap();
        let root5 = block(&store, "root");
        assert_ne!(root1, root5);
        assert!(String::from_utf8(root5).unwrap().contains("generation 5"));
        // A push of another ref, racing, is retried on top of the winner.
        let (mut p, mut q) = (open(), open());
        p.refs().unwrap();
        q.refs().unwrap();
        p.update_refs(&[to(a, b)], None).unwrap();
        let other = RefUpdate {
            name: "refs/heads/other".into(),
            old: None,
            new: Some(a),
        };
        q.update_refs(&[other], None).unwrap();
        let refs = open().refs().unwrap().refs;
        assert_eq!(refs["refs/heads/main"], b);
        assert_eq!(refs["refs/heads/other"], a);
        // And a deletion, by the same compare-and-swap.
        let mut d = open();
        d.refs().unwrap();
        let delete = RefUpdate {
            name: "refs/heads/other".into(),
            old: Some(a),
            new: None,
        };
        d.update_refs(&[delete], None).unwrap();
        assert!(!open().refs().unwrap().refs.contains_key("refs/heads/other"));
    }

    fn block(store: &Arc<dyn ObjectStore>, key: &str) -> Vec<u8> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { store.get(&Key::from(key)).await?.bytes().await })
            .unwrap()
            .to_vec()
    }

    #[test]
    fn refs_that_no_repository_could_hold_together_are_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut remote =
            StoreRemote::new(store, "", "mem".into(), false, scratch.path().into()).unwrap();
        remote.refs().unwrap();
        let id = ObjectId::empty_tree();
        let named = |name: &str| RefUpdate {
            name: name.into(),
            old: None,
            new: Some(id),
        };
        remote.update_refs(&[named("refs/heads/a")], None).unwrap();
        let err = remote.update_refs(&[named("refs/heads/a/b")], None);
        assert!(matches!(err, Err(Error::Refused(_))), "{err:?}");
        remote.update_refs(&[named("refs/heads/ab")], None).unwrap();
        // The other way round too.
        remote.update_refs(&[named("refs/tags/x/y")], None).unwrap();
        let err = remote.update_refs(&[named("refs/tags/x")], None);
        assert!(matches!(err, Err(Error::Refused(_))), "{err:?}");
    }

    #[test]
    fn a_manifest_head_must_be_a_branch() {
        let id = ObjectId::empty_tree();
        let text = format!("{MANIFEST_MAGIC}\nhead refs/other/x\nref {id} refs/other/x\n");
        assert!(Manifest::parse(text.as_bytes(), "m").is_err());
        let text = format!("{MANIFEST_MAGIC}\nhead refs/heads/x\nref {id} refs/heads/x\n");
        let m = Manifest::parse(text.as_bytes(), "m").unwrap();
        assert_eq!(m.head.as_deref(), Some("refs/heads/x"));
        assert_eq!(Manifest::parse(&m.encode(), "m").unwrap(), m);
    }

    #[test]
    fn a_root_whose_generation_cannot_grow_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut remote = StoreRemote::new(
            Arc::clone(&store),
            "",
            "mem".into(),
            false,
            scratch.path().into(),
        )
        .unwrap();
        remote.refs().unwrap();
        remote
            .update_refs(&[update(ObjectId::empty_tree())], None)
            .unwrap();
        let root = String::from_utf8(block(&store, "root")).unwrap();
        let crafted = root.replace("generation 1", &format!("generation {}", u64::MAX));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.put(&Key::from("root"), PutPayload::from(crafted.into_bytes())))
            .unwrap();
        remote.refs().unwrap();
        let next = RefUpdate {
            name: "refs/heads/other".into(),
            old: None,
            new: Some(ObjectId::empty_tree()),
        };
        let err = remote.update_refs(&[next], None).unwrap_err().to_string();
        assert!(err.contains("generation cannot grow"), "{err}");
    }

    #[test]
    fn a_damaged_manifest_or_root_is_refused_naming_it() {
        let scratch = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut remote = StoreRemote::new(
            Arc::clone(&store),
            "r",
            "mem".into(),
            false,
            scratch.path().into(),
        )
        .unwrap();
        remote.refs().unwrap();
        remote
            .update_refs(&[update(ObjectId::empty_tree())], None)
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let root = String::from_utf8(block(&store, "r/root")).unwrap();
        let manifest = root
            .lines()
            .nth(2)
            .unwrap()
            .strip_prefix("manifest ")
            .unwrap();
        let key = Key::from(format!("r/manifests/{manifest}"));
        rt.block_on(store.put(&key, PutPayload::from_static(b"cow remote manifest 1\n")))
            .unwrap();
        let err = remote.refs().unwrap_err().to_string();
        assert!(
            err.contains(manifest) && err.contains("does not hash"),
            "{err}"
        );
        rt.block_on(store.put(
            &Key::from("r/root"),
            PutPayload::from_static(b"cow remote root 2\n"),
        ))
        .unwrap();
        let err = remote.refs().unwrap_err().to_string();
        assert!(err.contains("a newer cow"), "{err}");
    }
}
