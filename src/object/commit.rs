//! Commits: a root tree, parents, author, committer and message, in git's layout.

use std::fmt;

use super::{BuildError, DecodeError, ObjectId};

/// A point in time with the UTC offset it was recorded in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Offset from UTC in minutes (`+0130` is 90).
    pub offset_minutes: i32,
}

impl Time {
    /// The last second of the year 9999 (UTC), the latest date [`Time::parse`] takes.
    pub const MAX_SECONDS: i64 = 253_402_300_799;

    /// Parses a date given by a user, `<unix seconds> <+hhmm>` (the format of
    /// `COW_AUTHOR_DATE`), from 1970 to the end of the year 9999: git refuses earlier
    /// dates and, like git's date parser, later ones are refused rather than stored
    /// as nonsense.
    pub fn parse(s: &str) -> Option<Time> {
        Time::parse_stored(s).filter(|t| (0..=Time::MAX_SECONDS).contains(&t.seconds))
    }

    /// Parses the date of a signature line as stored: any seconds that fit an `i64`
    /// (a crafted or foreign commit may hold any of them; readers must cope).
    fn parse_stored(s: &str) -> Option<Time> {
        let (secs, tz) = s.trim().split_once(' ')?;
        Some(Time {
            seconds: secs.parse().ok()?,
            offset_minutes: parse_offset(tz.trim())?,
        })
    }

    /// The current time in the machine's local UTC offset.
    pub fn now() -> Time {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Time {
            seconds,
            offset_minutes: local_offset_minutes(seconds),
        }
    }
}

impl fmt::Display for Time {
    /// `<seconds> <+hhmm>`, as in a commit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let abs = self.offset_minutes.unsigned_abs();
        write!(f, "{} {sign}{:02}{:02}", self.seconds, abs / 60, abs % 60)
    }
}

fn parse_offset(tz: &str) -> Option<i32> {
    let b = tz.as_bytes();
    if b.len() != 5 || !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = tz[1..3].parse().ok()?;
    let minutes: i32 = tz[3..5].parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

pub(super) fn local_offset_minutes(seconds: i64) -> i32 {
    let t = seconds as libc::time_t;
    // SAFETY: `localtime_r` writes only into the `tm` we own and reads `t`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        (tm.tm_gmtoff / 60) as i32
    }
}

/// Who made a commit and when: `Name <email> <seconds> <+hhmm>`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Signature {
    /// The name, as bytes.
    pub name: Vec<u8>,
    /// The email address, as bytes.
    pub email: Vec<u8>,
    /// When.
    pub time: Time,
}

impl Signature {
    /// Builds a signature, refusing names and emails git could not parse back
    /// (containing `<`, `>` or a newline).
    pub fn new(name: &str, email: &str, time: Time) -> Result<Signature, BuildError> {
        for part in [name, email] {
            if part.contains(['<', '>', '\n']) {
                return Err(BuildError::InvalidIdentity(part.to_owned()));
            }
        }
        Ok(Signature {
            name: name.as_bytes().to_vec(),
            email: email.as_bytes().to_vec(),
            time,
        })
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name);
        out.extend_from_slice(b" <");
        out.extend_from_slice(&self.email);
        out.extend_from_slice(b"> ");
        out.extend_from_slice(self.time.to_string().as_bytes());
    }

    /// Parses `Name <email> <seconds> <+hhmm>`.
    pub fn decode(line: &[u8]) -> Option<Signature> {
        let lt = line.iter().position(|&b| b == b'<')?;
        let gt = lt + line[lt..].iter().position(|&b| b == b'>')?;
        let name = line[..lt].strip_suffix(b" ").unwrap_or(&line[..lt]);
        let email = &line[lt + 1..gt];
        let time = std::str::from_utf8(line.get(gt + 1..)?).ok()?;
        Some(Signature {
            name: name.to_vec(),
            email: email.to_vec(),
            time: Time::parse_stored(time)?,
        })
    }
}

impl fmt::Display for Signature {
    /// `Name <email>`, without the time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} <{}>",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.email)
        )
    }
}

/// A snapshot: the root tree, the commits it follows, who made it and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Commit {
    /// The root tree of the snapshot.
    pub tree: ObjectId,
    /// Parent commits, first parent first.
    pub parents: Vec<ObjectId>,
    /// Who wrote the change.
    pub author: Signature,
    /// Who made the snapshot.
    pub committer: Signature,
    /// Other headers (`encoding`, `gpgsig`, …) in order, kept so that a commit written by
    /// git re-encodes to the same bytes. Values of several lines hold `\n`.
    pub extra_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The message, stored as given (`cow commit -m x` stores `x\n`).
    pub message: Vec<u8>,
}

impl Commit {
    /// The canonical content bytes (without the `commit <len>\0` header).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.message.len());
        out.extend_from_slice(format!("tree {}\n", self.tree).as_bytes());
        for p in &self.parents {
            out.extend_from_slice(format!("parent {p}\n").as_bytes());
        }
        out.extend_from_slice(b"author ");
        self.author.encode_into(&mut out);
        out.extend_from_slice(b"\ncommitter ");
        self.committer.encode_into(&mut out);
        out.push(b'\n');
        for (key, value) in &self.extra_headers {
            out.extend_from_slice(key);
            out.push(b' ');
            for (i, line) in value.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"\n ");
                }
                out.extend_from_slice(line);
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.message);
        out
    }

    /// Parses canonical content bytes.
    pub fn decode(data: &[u8]) -> Result<Commit, DecodeError> {
        let err = |m: &str| DecodeError::Commit(m.to_owned());
        let (headers, message) = match find(data, b"\n\n") {
            Some(i) => (&data[..i + 1], &data[i + 2..]),
            None if data.ends_with(b"\n") => (data, &b""[..]),
            None => return Err(err("no blank line after the headers")),
        };
        let mut tree = None;
        let mut parents = Vec::new();
        let mut author = None;
        let mut committer = None;
        let mut extra_headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for line in headers
            .strip_suffix(b"\n")
            .unwrap_or(headers)
            .split(|&b| b == b'\n')
        {
            if let Some(cont) = line.strip_prefix(b" ") {
                let (_, value) = extra_headers
                    .last_mut()
                    .ok_or_else(|| err("continuation line without a header"))?;
                value.push(b'\n');
                value.extend_from_slice(cont);
                continue;
            }
            let (key, value) = match line.iter().position(|&b| b == b' ') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => (line, &b""[..]),
            };
            let parse_id = |v: &[u8]| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<ObjectId>().ok())
            };
            match key {
                b"tree" if tree.is_none() && parents.is_empty() => {
                    tree = Some(parse_id(value).ok_or_else(|| err("malformed tree id"))?);
                }
                b"parent" if tree.is_some() && author.is_none() => {
                    parents.push(parse_id(value).ok_or_else(|| err("malformed parent id"))?);
                }
                b"author" if tree.is_some() && author.is_none() => {
                    author = Some(Signature::decode(value).ok_or_else(|| err("malformed author"))?);
                }
                b"committer" if author.is_some() && committer.is_none() => {
                    committer =
                        Some(Signature::decode(value).ok_or_else(|| err("malformed committer"))?);
                }
                b"tree" | b"parent" | b"author" | b"committer" => {
                    return Err(err("headers out of order or repeated"));
                }
                _ if committer.is_some() => extra_headers.push((key.to_vec(), value.to_vec())),
                _ => return Err(err("unknown header before committer")),
            }
        }
        Ok(Commit {
            tree: tree.ok_or_else(|| err("missing tree"))?,
            parents,
            author: author.ok_or_else(|| err("missing author"))?,
            committer: committer.ok_or_else(|| err("missing committer"))?,
            extra_headers,
            message: message.to_vec(),
        })
    }

    /// The first line of the message.
    pub fn summary(&self) -> String {
        let first = self
            .message
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        String::from_utf8_lossy(first).into_owned()
    }

    /// The id of this commit.
    pub fn id(&self) -> ObjectId {
        ObjectId::hash(super::Kind::Commit, &self.encode())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> Signature {
        Signature::new(
            "A U Thor",
            "a@example.com",
            Time::parse("1700000000 -0130").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn time_round_trip() {
        for s in ["0 +0000", "1700000000 -0130", "1 +1400"] {
            assert_eq!(Time::parse(s).unwrap().to_string(), s);
        }
        for bad in ["", "12", "x +0000", "1 0000", "1 +000", "1 +0060"] {
            assert!(Time::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn user_dates_stop_at_year_9999_but_stored_ones_are_read()
    -> Result<(), Box<dyn std::error::Error>> {
        let last = "253402300799 +0000";
        assert_eq!(
            Time::parse(last).map(|t| t.seconds),
            Some(Time::MAX_SECONDS)
        );
        for bad in [
            "253402300800 +0000",
            "9223372036854775807 +0000",
            "-1 +0000",
        ] {
            assert!(Time::parse(bad).is_none(), "{bad:?}");
        }
        // A stored commit keeps whatever date it holds, and re-encodes to its bytes.
        let line = b"a <b> 9223372036854775807 +0000";
        let sig = Signature::decode(line).ok_or("a stored huge date is refused")?;
        assert_eq!(sig.time.seconds, i64::MAX);
        let mut again = Vec::new();
        sig.encode_into(&mut again);
        assert_eq!(again, line);
        Ok(())
    }

    #[test]
    fn commit_round_trip_with_extra_headers() {
        let c = Commit {
            tree: ObjectId::empty_tree(),
            parents: vec![ObjectId::empty_tree(), ObjectId::empty_tree()],
            author: sig(),
            committer: sig(),
            extra_headers: vec![(b"gpgsig".to_vec(), b"line1\nline2".to_vec())],
            message: b"subject\n\nbody\n".to_vec(),
        };
        let bytes = c.encode();
        assert!(bytes.starts_with(b"tree 6ef19b41"));
        assert_eq!(Commit::decode(&bytes).unwrap(), c);
        assert_eq!(c.summary(), "subject");
    }

    #[test]
    fn decode_refuses_malformed() {
        assert!(Commit::decode(b"tree xyz\n\n").is_err());
        assert!(Commit::decode(b"author a <b> 1 +0000\n\n").is_err());
        assert!(Signature::new("a<b", "c", Time::now()).is_err());
    }
}
