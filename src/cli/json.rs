//! JSON output (`--json`), written by hand: the documents are small and flat, and
//! strings need only RFC 8259's escapes. DESIGN's rules: every record has `"type"`, the
//! first document carries `"schema": 1`, ids are full hex, and in `--json` mode errors
//! go to stderr as `{"type":"error","message":…}` lines.

use std::fmt;
use std::io::Write;

/// The version of every JSON document's shape; fields are added, never renamed or
/// removed.
pub const SCHEMA: u64 = 1;

/// A JSON value.
#[derive(Clone, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Int(u64),
    Str(String),
    Array(Vec<Json>),
    /// Fields in the order written.
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// A string, or `null` for `None`.
    pub fn opt_str(value: Option<&str>) -> Json {
        value.map_or(Json::Null, |v| Json::Str(v.to_owned()))
    }

    /// A path field: `name` with the path as a UTF-8 string and, when its bytes are
    /// not UTF-8, a `twin` field (`path_b64`) with them in base64 (the string then has
    /// U+FFFD where they were not).
    pub fn path(
        name: &'static str,
        twin: &'static str,
        path: &std::path::Path,
    ) -> Vec<(&'static str, Json)> {
        use std::os::unix::ffi::OsStrExt;
        match path.to_str() {
            Some(s) => vec![(name, s.into())],
            None => {
                let bytes = path.as_os_str().as_bytes();
                vec![
                    (name, path.to_string_lossy().into_owned().into()),
                    (twin, Json::Str(base64(bytes))),
                ]
            }
        }
    }

    /// An object with `"type"` first.
    pub fn record(kind: &str, mut fields: Vec<(&'static str, Json)>) -> Json {
        fields.insert(0, ("type", Json::Str(kind.to_owned())));
        Json::Object(fields)
    }

    /// A record that starts a document: `"type"`, then `"schema"`, then `fields`.
    pub fn document(kind: &str, mut fields: Vec<(&'static str, Json)>) -> Json {
        fields.insert(0, ("schema", Json::Int(SCHEMA)));
        Json::record(kind, fields)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
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

fn write_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Int(n) => write!(f, "{n}"),
            Json::Str(s) => write_str(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_str(f, name)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
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
        !broken_pipe && err.downcast_ref::<super::Quiet>().is_none()
    };
    match result {
        Err(err) if json && reportable(&err) => {
            let message = super::one_line(&err) + super::hint(&err).unwrap_or_default();
            let line = Json::record("error", vec![("message", message.into())]);
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
    fn strings_are_escaped() {
        let doc = Json::document(
            "t",
            vec![
                ("s", "a\"b\\c\nd\u{1}\u{e9}".into()),
                ("n", Json::Null),
                ("a", Json::Array(vec![Json::Int(1), true.into()])),
            ],
        );
        assert_eq!(
            doc.to_string(),
            r#"{"type":"t","schema":1,"s":"a\"b\\c\nd\u0001é","n":null,"a":[1,true]}"#
        );
    }

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
