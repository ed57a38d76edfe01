//! JSON output (`--json`) helpers beside serde_json: DESIGN's rules are that every
//! record has `"type"`, the first document carries `"schema": 1`, ids are full hex,
//! paths that are not UTF-8 get a base64 `_b64` twin, and in `--json` mode errors go to
//! stderr as `{"type":"error","message":…}` lines.

use std::io::Write;

use serde_json::{Map, Value, json};

/// A path field: `name` with the path as a UTF-8 string and, when its bytes are not
/// UTF-8, a `twin` field (`path_b64`) with them in base64 (the string then has U+FFFD
/// where they were not).
pub fn insert_path(
    fields: &mut Map<String, Value>,
    name: &str,
    twin: &str,
    path: &std::path::Path,
) {
    use std::os::unix::ffi::OsStrExt;
    fields.insert(name.into(), path.to_string_lossy().into_owned().into());
    if path.to_str().is_none() {
        fields.insert(twin.into(), base64(path.as_os_str().as_bytes()).into());
    }
}

/// A byte-string field (a path inside a snapshot, a name, a message): `name` as a UTF-8
/// string and, when the bytes are not UTF-8, a `twin` field with them in base64.
pub fn insert_bytes(fields: &mut Map<String, Value>, name: &str, twin: &str, bytes: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    insert_path(
        fields,
        name,
        twin,
        std::path::Path::new(std::ffi::OsStr::from_bytes(bytes)),
    );
}

/// A time: `{"time": RFC 3339 with the offset, "unix": seconds}` fields.
pub fn insert_time(fields: &mut Map<String, Value>, time: cow::object::Time) {
    fields.insert("time".into(), super::format::rfc3339_date(time).into());
    fields.insert("unix".into(), time.seconds.into());
}

/// An author or committer: `{"name", "email", "time", "unix"}` (with `name_b64` or
/// `email_b64` when those bytes are not UTF-8).
pub fn signature(sig: &cow::object::Signature) -> Value {
    let mut fields = Map::new();
    insert_bytes(&mut fields, "name", "name_b64", &sig.name);
    insert_bytes(&mut fields, "email", "email_b64", &sig.email);
    insert_time(&mut fields, sig.time);
    Value::Object(fields)
}

/// Prints one JSON document and a newline.
pub fn print(out: &mut dyn Write, document: &Value) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, document)?;
    writeln!(out)?;
    Ok(())
}

/// One side of a change: `{PREFIX}_mode` and `{PREFIX}_id`, `null` when absent.
pub fn insert_side(fields: &mut Map<String, Value>, prefix: &str, side: Option<cow::diff::Side>) {
    fields.insert(
        format!("{prefix}_mode"),
        side.map(|s| s.mode.as_padded_str()).into(),
    );
    fields.insert(
        format!("{prefix}_id"),
        side.map(|s| s.id.to_string()).into(),
    );
}

/// A path inside a snapshot as [`insert_path`] writes a filesystem path.
pub fn insert_repo_path(
    fields: &mut Map<String, Value>,
    name: &str,
    twin: &str,
    path: &cow::object::RepoPath,
) {
    insert_bytes(fields, name, twin, path.as_bytes());
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Prints a warning on stderr: `cow: warning: MESSAGE`, or in `--json` mode one
/// `{"type":"warning","message":…}` line, so stdout carries only the document.
pub fn warn(json: bool, message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = match json {
        true => writeln!(err, "{}", json!({"type": "warning", "message": message})),
        false => writeln!(err, "cow: warning: {message}"),
    };
}

/// Runs a command's body; in `--json` mode an error is printed to stderr as one JSON
/// line and the exit status is 1, instead of the usual `cow: error:` line.
pub fn errors_as_json(json: bool, body: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let result = body();
    let reportable = |err: &anyhow::Error| {
        let broken_pipe = err.chain().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        !broken_pipe
            && err.downcast_ref::<super::Quiet>().is_none()
            && err.downcast_ref::<super::Usage>().is_none()
    };
    match result {
        Err(err) if json && reportable(&err) => {
            let message = super::one_line(&err) + super::hint(&err).unwrap_or_default();
            let line = json!({"type": "error", "message": message});
            let _ = writeln!(std::io::stderr(), "{line}");
            Err(super::Quiet(1).into())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (bytes, want) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"\xff\xfe\x00", "//4A"),
        ] {
            assert_eq!(base64(bytes), want);
        }
    }
}
