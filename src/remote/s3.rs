//! S3-compatible object storage through `object_store`'s Amazon S3 client.

use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use super::{Error, Result};

/// Where a repository lives in object storage: `s3://BUCKET/PREFIX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix every file of the repository is stored under (no leading or
    /// trailing `/`; empty for the bucket's root).
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket` or `s3://bucket/prefix/…`.
    pub fn parse(url: &str) -> Result<S3Location> {
        let invalid = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("an object storage URL starts with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and
        // hyphens, starting and ending with a letter or digit.
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket.chars().all(ok_char)
            || !edge(bucket.chars().next())
            || !edge(bucket.chars().last())
        {
            return Err(invalid(
                "a bucket name is 3 to 63 lowercase letters, digits, '.' and '-'",
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..")
            || prefix.contains("//")
            || prefix.chars().any(char::is_control)
        {
            return Err(invalid("the prefix has an empty, '.' or '..' component"));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            prefix => write!(f, "s3://{}/{prefix}", self.bucket),
        }
    }
}

/// How to reach an S3-compatible service. Unset fields come from the usual `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT`, …).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// The service's URL, for S3-compatible services (`http://127.0.0.1:8333`).
    pub endpoint: Option<String>,
    /// The region (S3-compatible services mostly take any).
    pub region: Option<String>,
    /// Address buckets in the path (`endpoint/bucket/key`) rather than the host name
    /// (`bucket.endpoint/key`), as most self-hosted services need.
    pub path_style: bool,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
}

/// A repository's place in object storage, with the runtime that drives its client.
#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl S3Store {
    /// Sets up a client for `location`. Nothing is sent until the first request.
    pub fn open(location: &S3Location, options: &S3Options) -> Result<S3Store> {
        let store = build(location, options)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(S3Store {
            store: Arc::new(store),
            prefix: location.prefix.clone(),
            runtime,
        })
    }

    /// Whether the service honours conditional writes (see [`probe_conditional_writes`]).
    pub fn probe_conditional_writes(&self) -> Result<Probe> {
        self.runtime
            .block_on(probe_conditional_writes(self.store.as_ref(), &self.prefix))
    }
}

/// The client for `location`'s bucket.
pub(super) fn build(location: &S3Location, options: &S3Options) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
    // Unset, the client's default (path style, unless AWS_VIRTUAL_HOSTED_STYLE_REQUEST
    // says otherwise) stands.
    if options.path_style {
        builder = builder.with_virtual_hosted_style_request(false);
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &options.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &options.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    builder.build().map_err(|e| Error::Setup(e.to_string()))
}

/// What [`probe_conditional_writes`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Creating an object that exists fails, and so does replacing one whose version
    /// moved on: refs can move by compare-and-swap.
    Honoured,
    /// The service accepted a conditional write it should have refused (it ignores the
    /// header named): two writers could both "win", and one's commits would be lost.
    Ignored(&'static str),
}

/// Writes a probe object under `prefix` and checks that the service refuses what a
/// compare-and-swap relies on it to refuse: creating it again with `If-None-Match: *`,
/// and replacing it with `If-Match` naming a version it no longer has. Removes the
/// probe object afterwards.
pub async fn probe_conditional_writes(store: &dyn ObjectStore, prefix: &str) -> Result<Probe> {
    let name = format!(
        "probe-{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32)
    );
    let key = Key::from(if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    });
    let failed = |action, source| Error::Store {
        action,
        key: key.to_string(),
        source,
    };
    let put = |body: &'static [u8], mode| {
        store.put_opts(
            &key,
            PutPayload::from_static(body),
            PutOptions {
                mode,
                ..PutOptions::default()
            },
        )
    };
    let first = put(b"probe 1", PutMode::Create)
        .await
        .map_err(|e| failed("create", e))?;
    let outcome = async {
        match put(b"probe 2", PutMode::Create).await {
            Ok(_) => return Ok(Probe::Ignored("If-None-Match")),
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(failed("create again", e)),
        }
        // A cluster whose gateways share metadata asynchronously (SeaweedFS with two
        // filers) may not see the version just written for a moment: a refusal of the
        // current version is retried for a few seconds before it counts.
        let mut attempts = 0;
        loop {
            match put(b"probe 3", PutMode::Update(first.clone().into())).await {
                Ok(_) => break,
                Err(object_store::Error::Precondition { .. }) if attempts < 30 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(failed("replace", e)),
            }
        }
        // `first`'s version is gone now: a write that names it must be refused.
        match put(b"probe 4", PutMode::Update(first.clone().into())).await {
            Ok(_) => Ok(Probe::Ignored("If-Match")),
            Err(object_store::Error::Precondition { .. }) => Ok(Probe::Honoured),
            Err(e) => Err(failed("replace a stale version of", e)),
        }
    }
    .await;
    let removed = store.delete(&key).await.map_err(|e| failed("remove", e));
    let outcome = outcome?;
    removed?;
    Ok(outcome)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::{
        GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions,
        PutResult,
    };

    /// A store that takes every write as an unconditional one, as some servers do
    /// with the headers (Garage was measured doing it).
    #[derive(Debug)]
    pub(crate) struct IgnoresConditions(pub(crate) InMemory);

    impl std::fmt::Display for IgnoresConditions {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("IgnoresConditions")
        }
    }

    type R<T> = object_store::Result<T>;

    #[async_trait::async_trait]
    impl ObjectStore for IgnoresConditions {
        async fn put_opts(&self, key: &Key, body: PutPayload, _: PutOptions) -> R<PutResult> {
            self.0.put(key, body).await
        }
        async fn put_multipart_opts(
            &self,
            key: &Key,
            opts: PutMultipartOptions,
        ) -> R<Box<dyn MultipartUpload>> {
            self.0.put_multipart_opts(key, opts).await
        }
        async fn get_opts(&self, key: &Key, options: GetOptions) -> R<GetResult> {
            self.0.get_opts(key, options).await
        }
        async fn delete(&self, key: &Key) -> R<()> {
            self.0.delete(key).await
        }
        fn list(&self, prefix: Option<&Key>) -> futures::stream::BoxStream<'static, R<ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(&self, prefix: Option<&Key>) -> R<ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy(&self, from: &Key, to: &Key) -> R<()> {
            self.0.copy(from, to).await
        }
        async fn copy_if_not_exists(&self, from: &Key, to: &Key) -> R<()> {
            self.0.copy_if_not_exists(from, to).await
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_store_that_honours_conditions_passes_and_one_that_ignores_them_is_named() {
        let honest = InMemory::new();
        assert_eq!(
            block_on(probe_conditional_writes(&honest, "repo")).unwrap(),
            Probe::Honoured
        );
        let careless = IgnoresConditions(InMemory::new());
        assert_eq!(
            block_on(probe_conditional_writes(&careless, "")).unwrap(),
            Probe::Ignored("If-None-Match")
        );
        // Nothing is left behind either way.
        for store in [&honest as &dyn ObjectStore, &careless] {
            let left = block_on(store.list_with_delimiter(None)).unwrap();
            assert!(left.objects.is_empty() && left.common_prefixes.is_empty());
        }
    }

    #[test]
    fn urls() {
        let loc = S3Location::parse("s3://my-bucket/backups/laptop/").unwrap();
        assert_eq!(
            loc,
            S3Location {
                bucket: "my-bucket".into(),
                prefix: "backups/laptop".into()
            }
        );
        assert_eq!(S3Location::parse("s3://abc").unwrap().prefix, "");
        for bad in [
            "http://bucket/x",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-bucket",
            "s3://bucket/a/../b",
            "s3://bucket/a//b",
            "s3://bucket_1",
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
