//! Remotes as configured: the `[remote "NAME"]` sections of `.cow/config`, and the
//! remote-tracking refs `refs/remotes/NAME/BRANCH` that record what a remote's branches
//! held when last seen.
//!
//! A remote's settings are `remote.NAME.url` (a path, or `s3://bucket/prefix`) and, for
//! object storage, `endpoint`, `region`, `pathStyle`, `accessKeyId`, `secretAccessKey`
//! (each unset one comes from the `AWS_*` environment variables when the remote is
//! used) and `singleWriter`: the user's word that one writer at a time pushes there, so
//! a service that ignores conditional writes may be used.

use std::path::{Path, PathBuf};

use super::config::Config;
use super::ops::OpInfo;
use super::{Error, RefInfo, Repository, Result};
use crate::fs::IoResultExt;
use crate::refs::{Expected, RefName, Value};
use crate::remote::{self, Probe, S3Location, S3Options, S3Store, Spec, Url};

/// Options of [`Repository::add_remote`].
#[derive(Clone, Debug, Default)]
pub struct AddRemote {
    /// For an `s3://` remote: the endpoint, region, addressing and credentials to keep
    /// in its settings. What is left unset comes from the `AWS_*` environment variables
    /// when the remote is used (and when it is probed now). Refused for a path remote.
    pub s3: S3Options,
    /// Declare that one writer at a time pushes to the remote, so that a service that
    /// ignores conditional writes is accepted (two concurrent pushes to it could lose
    /// commits).
    pub single_writer: bool,
    /// The directory a relative path URL is taken from (default: the process's current
    /// directory). The path is stored absolute.
    pub base_dir: Option<PathBuf>,
}

/// The config key of one of a remote's settings.
fn key(name: &str, setting: &str) -> String {
    format!("remote.{name}.{setting}")
}

/// Checks that `name` can name a remote: one component of a ref name, so that
/// `refs/remotes/NAME/BRANCH` belongs to it alone.
fn check_name(name: &str) -> Result<()> {
    let invalid = |reason| Error::InvalidRemoteName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.starts_with('-') {
        return Err(invalid("it cannot start with '-'"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not names"));
    }
    if name.contains('/') {
        return Err(invalid("it cannot contain '/'"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || ":?*[\\^~".contains(c))
    {
        return Err(invalid(
            "it cannot contain spaces, control characters or any of :?*[\\^~",
        ));
    }
    match RefName::new(&format!("refs/remotes/{name}/HEAD")) {
        Ok(_) => Ok(()),
        Err(crate::refs::Error::InvalidName { reason, .. }) => Err(invalid(reason)),
        Err(e) => Err(e.into()),
    }
}

/// `path` with its `.` and `..` components resolved by name, for a path that does
/// not exist (yet) and so cannot be resolved on disk.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The prefix of a remote's tracking refs.
fn tracking_prefix(name: &str) -> String {
    format!("refs/remotes/{name}/")
}

/// Decides whether a remote whose service answered the conditional-write probe with
/// `probe` may be used: a service that honours conditional writes may, and one that
/// ignores them only when the user declared one writer at a time. Pushing to it
/// otherwise could let two writers both move a ref, and one's commits would be lost.
pub(crate) fn check_probe(
    url: &Url,
    probe: Probe,
    single_writer: bool,
) -> Result<(), remote::Error> {
    match probe {
        Probe::Honoured => Ok(()),
        Probe::Ignored(_) if single_writer => Ok(()),
        Probe::Ignored(header) => Err(remote::Error::Unsafe {
            url: url.to_string(),
            header,
        }),
    }
}

/// Reads remote `name`'s settings from `config`; a relative path URL is taken from
/// `work_dir`.
fn spec_from_config(config: &Config, name: &str, work_dir: &Path) -> Result<Spec> {
    let get = |setting| config.get(&key(name, setting)).map(str::to_owned);
    let get_bool = |setting| config.get_bool(&key(name, setting));
    let url = get("url").ok_or_else(|| {
        Error::Config(format!(
            "remote {name} has no URL (set {})",
            key(name, "url")
        ))
    })?;
    Ok(Spec {
        name: name.to_owned(),
        url: Url::parse(&url, work_dir)?,
        s3: S3Options {
            endpoint: get("endpoint"),
            region: get("region"),
            path_style: get_bool("pathStyle")?.unwrap_or(false),
            access_key_id: get("accessKeyId"),
            secret_access_key: get("secretAccessKey"),
        },
        single_writer: get_bool("singleWriter")?.unwrap_or(false),
    })
}

impl Repository {
    /// The directory a relative remote path is taken from: the working directory, or
    /// a bare store itself.
    fn remote_base(&self) -> &Path {
        self.work_dir.as_deref().unwrap_or(&self.cow_dir)
    }

    /// Every configured remote, in the order the config names them.
    pub fn remotes(&self) -> Result<Vec<Spec>> {
        let config = self.config()?;
        config
            .subsections("remote")
            .into_iter()
            .map(|name| spec_from_config(&config, name, self.remote_base()))
            .collect()
    }

    /// The remote named `name`.
    pub fn remote(&self, name: &str) -> Result<Spec> {
        let config = self.config()?;
        if !config.subsections("remote").contains(&name) {
            return Err(Error::NoSuchRemote(name.to_owned()));
        }
        spec_from_config(&config, name, self.remote_base())
    }

    /// The remote-tracking branches of remote `name` (`refs/remotes/NAME/*`), sorted,
    /// with the short name after `refs/remotes/NAME/` and the commit each holds.
    pub fn tracking_branches(&self, name: &str) -> Result<Vec<RefInfo>> {
        check_name(name)?;
        let prefix = tracking_prefix(name);
        Ok(self
            .refs
            .list(&prefix)?
            .into_iter()
            .map(|(full, id)| RefInfo {
                name: full.as_str()[prefix.len()..].to_owned(),
                id,
                current: false,
            })
            .collect())
    }

    /// Adds remote `name` at `url`: a path (relative ones are taken from
    /// `options.base_dir` and stored absolute), `file:///path`, or
    /// `s3://bucket/prefix`. Refuses a name that is taken or cannot name
    /// `refs/remotes/NAME/`, and a URL cow cannot use. An object store is probed
    /// first: it must refuse a second create of an object with `If-None-Match: *` and
    /// a replace naming a stale version with `If-Match`, or the remote is refused
    /// ([`remote::Error::Unsafe`]) unless `options.single_writer` is set; a service
    /// that cannot be reached is an error. Nothing is stored when anything fails.
    pub fn add_remote(&self, name: &str, url: &str, options: AddRemote) -> Result<Spec> {
        self.add_remote_probing(name, url, options, |location, s3| {
            S3Store::open(location, s3)?
                .probe_conditional_writes()
                .map(Some)
        })
    }

    /// [`add_remote`](Self::add_remote) without the probe (for a clone: it only reads,
    /// and the first push probes).
    pub(crate) fn add_remote_unprobed(
        &self,
        name: &str,
        url: &str,
        options: AddRemote,
    ) -> Result<Spec> {
        self.add_remote_probing(name, url, options, |_, _| Ok(None))
    }

    /// [`add_remote`](Self::add_remote) with the probe of an object store given
    /// (`None`: not probed).
    fn add_remote_probing(
        &self,
        name: &str,
        url: &str,
        options: AddRemote,
        probe: impl FnOnce(&S3Location, &S3Options) -> remote::Result<Option<Probe>>,
    ) -> Result<Spec> {
        check_name(name)?;
        let exists = |config: &Config| config.subsections("remote").contains(&name);
        if exists(&self.config()?) {
            return Err(Error::RemoteExists(name.to_owned()));
        }
        let base = match options.base_dir {
            Some(dir) => dir,
            None => std::env::current_dir().context("read", Path::new("."))?,
        };
        let mut settings: Vec<(&str, String)> = Vec::new();
        match Url::parse(url, &base)? {
            Url::Path(path) => {
                let s3 = &options.s3;
                if s3.endpoint.is_some()
                    || s3.region.is_some()
                    || s3.path_style
                    || s3.access_key_id.is_some()
                    || s3.secret_access_key.is_some()
                {
                    return Err(Error::InvalidRemote {
                        name: name.to_owned(),
                        reason: "an endpoint, region, path-style addressing and credentials \
                                 are for s3:// remotes"
                            .into(),
                    });
                }
                let path = std::fs::canonicalize(&path).unwrap_or_else(|_| normalize(&path));
                let path = path.to_str().ok_or_else(|| Error::InvalidRemote {
                    name: name.to_owned(),
                    reason: format!(
                        "{} is not UTF-8, which the config cannot hold",
                        crate::quote::quote_fs_path(&path)
                    ),
                })?;
                settings.push(("url", path.to_owned()));
            }
            Url::S3(location) => {
                // Probe before the lock is taken: it is a few network round trips.
                if let Some(verdict) = probe(&location, &options.s3)? {
                    check_probe(&Url::S3(location.clone()), verdict, options.single_writer)?;
                }
                let s3 = options.s3;
                settings.push(("url", location.to_string()));
                settings.extend(s3.endpoint.map(|v| ("endpoint", v)));
                settings.extend(s3.region.map(|v| ("region", v)));
                if s3.path_style {
                    settings.push(("pathStyle", "true".into()));
                }
                settings.extend(s3.access_key_id.map(|v| ("accessKeyId", v)));
                settings.extend(s3.secret_access_key.map(|v| ("secretAccessKey", v)));
            }
        }
        if options.single_writer {
            settings.push(("singleWriter", "true".into()));
        }
        self.edit_config(|config| {
            if exists(config) {
                return Err(Error::RemoteExists(name.to_owned()));
            }
            for (setting, value) in &settings {
                config.set(&key(name, setting), value)?;
            }
            spec_from_config(config, name, self.remote_base())
        })
    }

    /// Removes remote `name`: its settings and every remote-tracking ref under
    /// `refs/remotes/NAME/`, in one ref transaction, under the repository lock.
    /// Returns the refs it deleted.
    pub fn remove_remote(&self, name: &str) -> Result<Vec<RefName>> {
        check_name(name)?;
        let _lock = self.lock()?;
        let mut config = self.config()?;
        if config.remove_section("remote", Some(name)) == 0 {
            return Err(Error::NoSuchRemote(name.to_owned()));
        }
        let mut tx = self.refs.transaction();
        let mut deleted = Vec::new();
        for full in self.refs.names(&tracking_prefix(name))? {
            let expected = match self.refs.read(&full)? {
                Some(Value::Id(id)) => Expected::Value(id),
                Some(Value::Symbolic(target)) => Expected::Symbolic(target),
                None => continue,
            };
            tx.delete(full.clone(), expected);
            deleted.push(full);
        }
        // Every ref lock is taken and every value checked before the settings go, and
        // the refs go right after: a refusal leaves both as they were.
        let prepared = tx.prepare()?;
        config.save(&self.cow_dir.join("config"))?;
        self.commit_refs(prepared, OpInfo::new(format!("remove remote {name}")))?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Error as RemoteError;

    fn repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn a_service_that_ignores_conditional_writes_needs_single_writer() {
        let url = Url::S3(S3Location::parse("s3://bucket/repo").unwrap());
        assert!(check_probe(&url, Probe::Honoured, false).is_ok());
        assert!(check_probe(&url, Probe::Honoured, true).is_ok());
        assert!(check_probe(&url, Probe::Ignored("If-Match"), true).is_ok());
        let err = check_probe(&url, Probe::Ignored("If-None-Match"), false).unwrap_err();
        assert!(
            matches!(
                err,
                RemoteError::Unsafe {
                    header: "If-None-Match",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("s3://bucket/repo ignores If-None-Match")
                && message.contains("single-writer"),
            "{message}"
        );
    }

    /// `add_remote` with a fake probe: a service that ignores conditional writes is
    /// refused and nothing is stored, or accepted with `singleWriter = true` when the
    /// user declares one writer; a probe that fails stores nothing either.
    #[test]
    fn add_remote_stores_nothing_unless_the_probe_passes() {
        let (_dir, repo) = repo();
        let before = repo.config().unwrap();
        let ignored = |_: &S3Location, _: &S3Options| Ok(Some(Probe::Ignored("If-None-Match")));
        let options = || AddRemote {
            s3: S3Options {
                endpoint: Some("http://127.0.0.1:1".into()),
                path_style: true,
                ..S3Options::default()
            },
            ..AddRemote::default()
        };
        let err = repo
            .add_remote_probing("garage", "s3://bucket/repo", options(), ignored)
            .unwrap_err();
        assert!(
            matches!(err, Error::Remote(RemoteError::Unsafe { .. })),
            "{err:?}"
        );
        let unreachable =
            |_: &S3Location, _: &S3Options| Err(RemoteError::Setup("connection refused".into()));
        assert!(
            repo.add_remote_probing("down", "s3://bucket/repo", options(), unreachable)
                .is_err()
        );
        assert_eq!(repo.config().unwrap(), before);
        assert!(repo.remotes().unwrap().is_empty());

        let spec = repo
            .add_remote_probing(
                "garage",
                "s3://bucket/repo/",
                AddRemote {
                    single_writer: true,
                    ..options()
                },
                ignored,
            )
            .unwrap();
        assert!(spec.single_writer && spec.s3.path_style);
        assert_eq!(spec.url.to_string(), "s3://bucket/repo");
        let config = repo.config().unwrap();
        assert_eq!(config.get("remote.garage.singleWriter"), Some("true"));
        assert_eq!(config.get("remote.garage.url"), Some("s3://bucket/repo"));
        assert_eq!(
            config.get("remote.garage.endpoint"),
            Some("http://127.0.0.1:1")
        );

        // A path remote is not probed.
        let never = |_: &S3Location, _: &S3Options| -> remote::Result<Option<Probe>> {
            panic!("a path remote is probed")
        };
        repo.add_remote_probing("other", "/srv/other", AddRemote::default(), never)
            .unwrap();
        let names: Vec<String> = repo
            .remotes()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["garage", "other"]);
    }

    #[test]
    fn paths_that_do_not_exist_are_normalized_by_name() {
        for (path, want) in [
            ("/a/b/../c", "/a/c"),
            ("/a/./b/", "/a/b"),
            ("/../a", "/a"),
            ("/a/b/../../..", "/"),
        ] {
            assert_eq!(normalize(Path::new(path)), Path::new(want), "{path}");
        }
    }

    #[test]
    fn remote_names_follow_gits_rules_without_slashes() {
        for good in ["origin", "my.host", "UPPER", "a-b_c", "caf\u{e9}", "x@y"] {
            check_name(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in [
            "", "-x", ".", "..", "a/b", "a b", "a\tb", "a\u{7}", "a:b", "a?", "a*", "a[b", "a\\b",
            "a^b", "a~b", ".hidden", "a..b", "x.lock", "a@{b",
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidRemoteName { .. }),
                "{bad:?}: {err:?}"
            );
        }
    }
}
