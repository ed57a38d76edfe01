//! Repository settings in `.cow/config`, in git's ini-like syntax.
//!
//! A hand-written reader and writer of the part of git's format cow uses: sections
//! (`[core]`), subsections (`[remote "origin"]` holds the key `remote.origin.url`; git's
//! old `[remote.origin]` form is read too), comments, and values with git's quoting
//! (double quotes; the escapes `\"`, `\\`, `\n`, `\t` and `\b`; a backslash ending a
//! line continues it; `#` and `;` outside quotes start a comment). The format is small,
//! and the rules cow adds to git's live here with it: one value per key (a key set more
//! than once is read as its last value and is not overwritten by a single one), and
//! known keys refuse values they cannot use. git is the oracle in the tests: git reads
//! what this writes, and this reads what git writes, to the same values.

use crate::fs::{Durability, IoResultExt};
use std::fs;
use std::path::{Path, PathBuf};

use super::{Error, Repository, Result};
use crate::odb::ChunkParams;

/// One `name = value` line, with the section it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The section, lowercase (section names are case-insensitive).
    section: String,
    /// The subsection, as written (subsection names are case-sensitive).
    subsection: Option<String>,
    /// The key's name as written; compared without regard to case.
    name: String,
    /// The value, unquoted.
    value: String,
}

impl Entry {
    fn is(&self, key: &Key<'_>) -> bool {
        self.in_section(key.section, key.subsection) && self.name.eq_ignore_ascii_case(key.name)
    }

    fn in_section(&self, section: &str, subsection: Option<&str>) -> bool {
        self.section.eq_ignore_ascii_case(section) && self.subsection.as_deref() == subsection
    }
}

/// A key split as git splits it: the section before the first dot, the name after the
/// last, and the subsection, if any, between them (`remote.my.host.url`: section
/// `remote`, subsection `my.host`, name `url`).
#[derive(Clone, Copy, Debug)]
struct Key<'a> {
    section: &'a str,
    subsection: Option<&'a str>,
    name: &'a str,
}

impl<'a> Key<'a> {
    fn parse(key: &'a str) -> Result<Key<'a>> {
        let invalid = || {
            Error::Config(format!(
                "'{key}' is not a key of the form section.name or section.subsection.name"
            ))
        };
        let (first, last) = key.find('.').zip(key.rfind('.')).ok_or_else(invalid)?;
        let parsed = Key {
            section: &key[..first],
            subsection: (first < last).then(|| &key[first + 1..last]),
            name: &key[last + 1..],
        };
        let section_ok = !parsed.section.is_empty() && parsed.section.chars().all(is_key_char);
        let name_ok = parsed.name.starts_with(|c: char| c.is_ascii_alphabetic())
            && parsed.name.chars().all(is_key_char);
        let subsection_ok = parsed.subsection.is_none_or(|s| !s.contains(['\n', '\0']));
        if section_ok && name_ok && subsection_ok {
            Ok(parsed)
        } else {
            Err(invalid())
        }
    }
}

/// git's `iskeychar`: what section and key names are made of.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// C's `isspace`, which git's reader skips and trims.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Settings as `section.key` or `section.subsection.key` values, kept in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    entries: Vec<Entry>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            entries: vec![Entry {
                section: "core".into(),
                subsection: None,
                name: "repositoryformatversion".into(),
                value: "0".into(),
            }],
        }
    }
}

/// The `[chunking]` keys: the chunker's parameters, fixed when a repository is made.
const CHUNKING_KEYS: [&str; 5] = [
    "minsize",
    "avgsize",
    "maxsize",
    "normalization",
    "threshold",
];

impl Config {
    /// The settings of a new repository: git's format version, and the chunker's
    /// parameters (a storage constant: see [`ChunkParams`]).
    pub fn for_new_repository() -> Config {
        let mut config = Config::default();
        let p = ChunkParams::DEFAULT;
        let values = [
            u64::from(p.min),
            u64::from(p.avg),
            u64::from(p.max),
            u64::from(p.normalization),
            p.threshold,
        ];
        for (name, value) in [
            "minSize",
            "avgSize",
            "maxSize",
            "normalization",
            "threshold",
        ]
        .into_iter()
        .zip(values)
        {
            config.entries.push(Entry {
                section: "chunking".into(),
                subsection: None,
                name: name.into(),
                value: value.to_string(),
            });
        }
        config
    }

    /// The chunker's parameters: those recorded at init, or for a repository made
    /// before chunking, the defaults (which are what such a store will have used).
    pub fn chunk_params(&self) -> Result<ChunkParams> {
        let mut params = ChunkParams::DEFAULT;
        let get = |name: &str, slot: &mut u64| -> Result<()> {
            if let Some(v) = self.get(&format!("chunking.{name}")) {
                *slot = v.parse().map_err(|_| {
                    Error::Config(format!("chunking.{name} must be a number, not '{v}'"))
                })?;
            }
            Ok(())
        };
        let mut values = [
            u64::from(params.min),
            u64::from(params.avg),
            u64::from(params.max),
            u64::from(params.normalization),
            params.threshold,
        ];
        for (name, slot) in CHUNKING_KEYS.iter().zip(values.iter_mut()) {
            get(name, slot)?;
        }
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        params.min = small(values[0]);
        params.avg = small(values[1]);
        params.max = small(values[2]);
        params.normalization = u8::try_from(values[3]).unwrap_or(u8::MAX);
        params.threshold = values[4];
        params
            .check()
            .map_err(|e| Error::Config(format!("[chunking]: {e}")))?;
        Ok(params)
    }

    /// Parses a config file's text.
    pub fn parse(text: &str) -> Result<Config> {
        Parser::new(text).parse()
    }

    /// Reads a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = fs::read_to_string(path).context("read", path)?;
        Config::parse(&text)
    }

    /// Writes the config atomically (temporary file, sync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fs::write_atomic(
            path,
            crate::temp::CONFIG.name,
            self.to_string().as_bytes(),
            Durability::Sync,
        )?;
        Ok(())
    }

    /// The value of `section.key` or `section.subsection.key`, if set (the last one,
    /// if set more than once).
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = Key::parse(key).ok()?;
        self.entries
            .iter()
            .rev()
            .find(|e| e.is(&key))
            .map(|e| e.value.as_str())
    }

    /// The value of a boolean key, read as git reads one: `true`, `yes`, `on`, `1` or
    /// a key with no `=`; `false`, `no`, `off`, `0` or empty (any case). `None` when
    /// unset; an error naming the key for anything else.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|value| {
                parse_bool(value).ok_or_else(|| {
                    Error::Config(format!("'{key}' is '{value}', which is not a boolean"))
                })
            })
            .transpose()
    }

    /// Every setting as (`section.key` or `section.subsection.key`, value), in file
    /// order; section and key names lowercase, subsections as written (as
    /// `git config --list` shows them).
    pub fn iter(&self) -> impl Iterator<Item = (String, &str)> {
        self.entries.iter().map(|e| {
            let key = match &e.subsection {
                None => format!("{}.{}", e.section, e.name.to_ascii_lowercase()),
                Some(sub) => format!("{}.{sub}.{}", e.section, e.name.to_ascii_lowercase()),
            };
            (key, e.value.as_str())
        })
    }

    /// The subsections of `section` that hold a setting (`origin` for
    /// `[remote "origin"]`), each once, in the order they first appear.
    pub fn subsections(&self, section: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for entry in &self.entries {
            if let Some(sub) = &entry.subsection
                && entry.section.eq_ignore_ascii_case(section)
                && !out.contains(&sub.as_str())
            {
                out.push(sub);
            }
        }
        out
    }

    /// Sets `section.key` or `section.subsection.key` to `value`, replacing an earlier
    /// value. Refuses a value the key cannot take (a `core.compression` that is not a
    /// zstd level from 1 to 19; an empty `user.name` or `user.email`, or one with `<`,
    /// `>`, a line break or whitespace around it; a `remote.*.pathStyle` or `remote.*.singleWriter` that is
    /// not a boolean) and a key set more than once (which copy is meant? as git
    /// refuses); other keys take any value, quoted as needed when written.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let parsed = Key::parse(key)?;
        if value.contains('\0') {
            return Err(Error::Config(format!(
                "value for '{key}' cannot contain a NUL byte"
            )));
        }
        check_value(&parsed, value)
            .map_err(|why| Error::Config(format!("invalid value '{value}' for '{key}': {why}")))?;
        let mut matching = self.matching(key, &parsed)?;
        if let Some(i) = matching.pop() {
            self.entries[i].value = value.to_owned();
        } else {
            let at = self
                .entries
                .iter()
                .rposition(|e| e.in_section(parsed.section, parsed.subsection))
                .map_or(self.entries.len(), |i| i + 1);
            self.entries.insert(
                at,
                Entry {
                    section: parsed.section.to_ascii_lowercase(),
                    subsection: parsed.subsection.map(str::to_owned),
                    name: parsed.name.to_owned(),
                    value: value.to_owned(),
                },
            );
        }
        Ok(())
    }

    /// Removes `key`; returns whether it was set. Refuses, as [`set`](Self::set)
    /// does, a key set more than once.
    #[doc(alias = "unset")]
    pub fn remove(&mut self, key: &str) -> Result<bool> {
        let parsed = Key::parse(key)?;
        Ok(match self.matching(key, &parsed)?.pop() {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        })
    }

    /// Removes every setting of a section, or of one of its subsections
    /// (`remove_section("remote", Some("origin"))`); returns how many there were.
    #[doc(alias = "remove-section")]
    pub fn remove_section(&mut self, section: &str, subsection: Option<&str>) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| !e.in_section(section, subsection));
        before - self.entries.len()
    }

    /// The indexes of `key`'s entries: none or one, or an error for more.
    fn matching(&self, key: &str, parsed: &Key<'_>) -> Result<Vec<usize>> {
        let matching: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].is(parsed))
            .collect();
        if matching.len() > 1 {
            return Err(Error::Config(format!(
                "'{key}' has {} values: cannot overwrite multiple values with a single \
                 value (edit .cow/config to keep one)",
                matching.len()
            )));
        }
        Ok(matching)
    }
}

/// A boolean as git reads one (`true`/`yes`/`on`/`1`, `false`/`no`/`off`/`0`/empty,
/// any case); `None` for anything else.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Whether a known key can take `value`; unknown keys take anything, as in git.
fn check_value(key: &Key<'_>, value: &str) -> Result<(), &'static str> {
    let section = key.section.to_ascii_lowercase();
    let name = key.name.to_ascii_lowercase();
    match (section.as_str(), key.subsection.is_some(), name.as_str()) {
        ("chunking", false, name) if CHUNKING_KEYS.contains(&name) => {
            Err("the chunker's parameters are fixed when the repository is created")
        }
        ("gc", false, "oplogexpire") => super::gc::parse_age(value).map(|_| ()),
        ("commit", false, "onchange") if value.parse::<crate::worktree::OnChange>().is_err() => {
            Err("one of fail, skip, warn is needed")
        }
        ("core", false, "compression") => match value.parse::<i32>() {
            Ok(level) if (1..=19).contains(&level) => Ok(()),
            _ => Err("a zstd level from 1 to 19 is needed"),
        },
        ("user", false, "name" | "email") if value.is_empty() => Err("it cannot be empty"),
        ("user", false, "name" | "email") if value.contains(['<', '>']) => {
            Err("names and emails cannot contain '<' or '>'")
        }
        ("user", false, "name" | "email") if value.contains(['\n', '\r']) => {
            Err("names and emails cannot contain line breaks")
        }
        ("user", false, "name" | "email") if value.trim() != value => {
            Err("names and emails cannot start or end with whitespace")
        }
        ("remote", true, "pathstyle" | "singlewriter") if parse_bool(value).is_none() => {
            Err("a boolean is needed (true or false)")
        }
        _ => Ok(()),
    }
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut current: Option<(&str, Option<&str>)> = None;
        for entry in &self.entries {
            let here = (entry.section.as_str(), entry.subsection.as_deref());
            if current != Some(here) {
                match here.1 {
                    None => writeln!(f, "[{}]", here.0)?,
                    Some(sub) => {
                        let sub = sub.replace('\\', "\\\\").replace('"', "\\\"");
                        writeln!(f, "[{} \"{sub}\"]", here.0)?;
                    }
                }
                current = Some(here);
            }
            writeln!(f, "\t{} = {}", entry.name, quote_value(&entry.value))?;
        }
        Ok(())
    }
}

/// A value as git writes it: in double quotes when it starts or ends with whitespace or
/// holds a comment character (or a carriage return, vertical tab or form feed, which
/// older gits read as a space), with `"`, `\`, newlines, tabs and backspaces
/// escaped.
fn quote_value(value: &str) -> String {
    let needs_quotes = value.starts_with(is_space)
        || value.ends_with(is_space)
        || value.contains(['#', ';', '\r', '\x0b', '\x0c']);
    let mut out = String::with_capacity(value.len() + 2);
    if needs_quotes {
        out.push('"');
    }
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// git's config reader (config.c: `get_base_var`, `get_value`, `parse_value`), over
/// the whole text: a value can continue on the next line.
struct Parser<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    line: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Parser {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    /// The next character, `\r\n` read as `\n`; `None` at the end.
    fn next(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        let c = if c == '\r' && self.chars.peek() == Some(&'\n') {
            self.chars.next();
            '\n'
        } else {
            c
        };
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn malformed(&self, what: &str) -> Error {
        Error::Config(format!("line {} is malformed: {what}", self.line))
    }

    fn parse(mut self) -> Result<Config> {
        let mut entries = Vec::new();
        let mut section: Option<(String, Option<String>)> = None;
        while let Some(&c) = self.chars.peek() {
            if is_space(c) {
                self.next();
            } else if c == '#' || c == ';' {
                while self.next().is_some_and(|c| c != '\n') {}
            } else if c == '[' {
                self.next();
                section = Some(self.header()?);
            } else if c.is_ascii_alphabetic() {
                let Some((name_of_section, subsection)) = &section else {
                    return Err(self.malformed("a key outside a section"));
                };
                let (name, value) = self.key_value()?;
                entries.push(Entry {
                    section: name_of_section.clone(),
                    subsection: subsection.clone(),
                    name,
                    value,
                });
            } else {
                return Err(self.malformed(&format!("unexpected {c:?}")));
            }
        }
        Ok(Config { entries })
    }

    /// A section header after its `[`: `[section]`, `[section "subsection"]`, or the
    /// old `[section.subsection]` (whose subsection git lowercases).
    fn header(&mut self) -> Result<(String, Option<String>)> {
        let mut base = String::new();
        let mut quoted = None;
        loop {
            match self.next() {
                Some(']') => break,
                Some(c) if is_space(c) && c != '\n' => {
                    quoted = Some(self.quoted_subsection()?);
                    break;
                }
                Some(c) if is_key_char(c) || c == '.' => base.push(c.to_ascii_lowercase()),
                _ => return Err(self.malformed("a section header is [name] or [name \"sub\"]")),
            }
        }
        let (section, old_sub) = match base.split_once('.') {
            Some((section, sub)) => (section.to_owned(), Some(sub.to_owned())),
            None => (base, None),
        };
        if section.is_empty() {
            return Err(self.malformed("a section header without a name"));
        }
        let subsection = match (old_sub, quoted) {
            (None, sub) | (sub, None) => sub,
            (Some(old), Some(quoted)) => Some(format!("{old}.{quoted}")),
        };
        Ok((section, subsection))
    }

    /// `"subsection"]` after a section name and a space: `\` takes the next character
    /// as it is.
    fn quoted_subsection(&mut self) -> Result<String> {
        let bad = |p: &Self| p.malformed("a subsection is a quoted name on one line");
        let mut c = self.next();
        while c.is_some_and(|c| is_space(c) && c != '\n') {
            c = self.next();
        }
        if c != Some('"') {
            return Err(bad(self));
        }
        let mut sub = String::new();
        loop {
            match self.next() {
                None | Some('\n' | '\0') => return Err(bad(self)),
                Some('"') => break,
                Some('\\') => match self.next() {
                    None | Some('\n' | '\0') => return Err(bad(self)),
                    Some(c) => sub.push(c),
                },
                Some(c) => sub.push(c),
            }
        }
        match self.next() {
            Some(']') => Ok(sub),
            _ => Err(bad(self)),
        }
    }

    /// `name = value` or a bare `name` (a boolean true), through the end of its line.
    fn key_value(&mut self) -> Result<(String, String)> {
        let mut name = String::new();
        while let Some(&c) = self.chars.peek() {
            if !is_key_char(c) {
                break;
            }
            name.push(c);
            self.next();
        }
        let mut c = self.next();
        while matches!(c, Some(' ' | '\t')) {
            c = self.next();
        }
        match c {
            None | Some('\n') => Ok((name, "true".to_owned())),
            Some('=') => Ok((name, self.value()?)),
            Some(_) => Err(self.malformed(&format!("'{name}' is not followed by '='"))),
        }
    }

    /// A value after its `=`, through the end of its (last) line: whitespace outside
    /// quotes is dropped before the value and after it, and kept inside it.
    fn value(&mut self) -> Result<String> {
        let mut value = String::new();
        let mut quoted = false;
        let mut comment = false;
        // Where the value ends if only whitespace follows.
        let mut trim_to = None;
        loop {
            let c = match self.next() {
                None | Some('\n') if quoted => return Err(self.malformed("an unclosed quote")),
                None | Some('\n') => {
                    value.truncate(trim_to.unwrap_or(value.len()));
                    return Ok(value);
                }
                Some(c) => c,
            };
            if comment {
                continue;
            }
            if is_space(c) && !quoted {
                trim_to.get_or_insert(value.len());
                if !value.is_empty() {
                    value.push(c);
                }
                continue;
            }
            if !quoted && (c == '#' || c == ';') {
                comment = true;
                continue;
            }
            trim_to = None;
            match c {
                '\\' => match self.next() {
                    // A line continuation.
                    None | Some('\n') => {}
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('b') => value.push('\x08'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    Some(c) => return Err(self.malformed(&format!("an invalid escape '\\{c}'"))),
                },
                '"' => quoted = !quoted,
                c => value.push(c),
            }
        }
    }
}

/// The keys cow reads in each section it owns (`remote` keys are per remote, in a
/// subsection); keys in other sections are anyone's, as in git.
const KNOWN_KEYS: [(&str, bool, &[&str]); 5] = [
    ("core", false, &["repositoryformatversion", "compression"]),
    ("user", false, &["name", "email"]),
    (
        "remote",
        true,
        &[
            "url",
            "endpoint",
            "region",
            "pathStyle",
            "accessKeyId",
            "secretAccessKey",
            "singleWriter",
        ],
    ),
    ("chunking", false, &CHUNKING_KEYS),
    ("gc", false, &["opLogExpire"]),
];

/// Refuses a key of a section cow owns (`core`, `user`, `remote`, `chunking`) that cow
/// does not know, a misspelling most likely; a key of any other section is accepted
/// as git accepts it (`section.key`), to be kept and listed.
pub fn check_key(key: &str) -> Result<()> {
    let parsed = Key::parse(key)?;
    let Some((section, subsection, names)) = KNOWN_KEYS
        .iter()
        .find(|(section, _, _)| section.eq_ignore_ascii_case(parsed.section))
    else {
        return Ok(());
    };
    let known = names.iter().any(|n| n.eq_ignore_ascii_case(parsed.name));
    if known && parsed.subsection.is_some() == *subsection {
        return Ok(());
    }
    let form = if *subsection {
        format!("{section}.<name>.")
    } else {
        format!("{section}.")
    };
    let list: Vec<String> = names.iter().map(|n| format!("{form}{n}")).collect();
    Err(Error::Config(format!(
        "unknown key '{key}' (the keys of [{section}] are {})",
        list.join(", ")
    )))
}

/// The file of cow's global settings: `$XDG_CONFIG_HOME/cow/config`, else
/// `~/.config/cow/config`; `None` when neither variable is set.
pub fn global_config_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty());
    match xdg {
        Some(dir) => Some(PathBuf::from(dir).join("cow/config")),
        None => home().map(|h| h.join(".config/cow/config")),
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The git config files git reads for a user's settings, in the order git reads
/// them (a later one wins): `GIT_CONFIG_GLOBAL` alone when set, else
/// `$XDG_CONFIG_HOME/git/config` (or `~/.config/git/config`) then `~/.gitconfig`.
pub fn git_config_paths() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("GIT_CONFIG_GLOBAL") {
        return vec![PathBuf::from(path)];
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("git/config"))
        .or_else(|| home().map(|h| h.join(".config/git/config")));
    xdg.into_iter()
        .chain(home().map(|h| h.join(".gitconfig")))
        .collect()
}

impl Config {
    /// No settings at all (not even a format version): a global file not written yet.
    pub fn empty() -> Config {
        Config {
            entries: Vec::new(),
        }
    }

    /// Reads a config file; a file that does not exist is [`Config::empty`].
    pub fn load_or_empty(path: &Path) -> Result<Config> {
        match fs::read_to_string(path) {
            Ok(text) => Config::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::empty()),
            Err(e) => Err(crate::fs::IoError::new("read", path, e).into()),
        }
    }

    /// Adds `other`'s settings after these ones, so that they win where both have one.
    pub fn extend(&mut self, other: Config) {
        self.entries.extend(other.entries);
    }

    /// The global settings ([`global_config_path`]), empty when there are none or
    /// the file cannot be read for lack of permission (a command run as another user,
    /// whose HOME is not its own: git reads on in that case too).
    pub fn global() -> Result<Config> {
        let Some(path) = global_config_path() else {
            return Ok(Config::empty());
        };
        match fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::PermissionDenied
                        | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(Config::empty())
            }
            Err(e) => Err(crate::fs::IoError::new("read", path, e).into()),
        }
    }

    /// Changes the global settings: reads them, lets `edit` change them, and writes
    /// them back (creating the file and its directory) if it succeeds.
    pub fn edit_global<T>(edit: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
        let path = global_config_path().ok_or_else(|| {
            Error::Config("no global config: neither HOME nor XDG_CONFIG_HOME is set".into())
        })?;
        let mut config = Config::load_or_empty(&path)?;
        let out = edit(&mut config)?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).context("create directory", dir)?;
        }
        config.save(&path)?;
        Ok(out)
    }
}

/// Where a name or email from git's config came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitIdentity {
    /// `user.name`, and the file that set it.
    pub name: Option<(String, PathBuf)>,
    /// `user.email`, and the file that set it.
    pub email: Option<(String, PathBuf)>,
}

/// git's `user.name` and `user.email`, read from the files of
/// [`git_config_paths`] (with cow's parser; a file it cannot read is skipped).
pub fn git_identity() -> GitIdentity {
    let mut identity = GitIdentity {
        name: None,
        email: None,
    };
    for path in git_config_paths() {
        let Ok(config) = Config::load(&path) else {
            continue;
        };
        let value = |key| {
            config
                .get(key)
                .map(|v: &str| (v.trim().to_owned(), path.clone()))
                .filter(|(v, _)| !v.is_empty())
        };
        identity.name = value("user.name").or(identity.name);
        identity.email = value("user.email").or(identity.email);
    }
    identity
}

impl Repository {
    /// The settings in force: the global ones ([`Config::global`]) overridden by the
    /// repository's.
    pub fn settings(&self) -> Result<Config> {
        let mut config = Config::global()?;
        config.extend(self.config()?);
        Ok(config)
    }

    /// The keys (`user.name`, `user.email`) the next commit's author or committer
    /// would take from git's config, because neither the environment (`COW_*`) nor
    /// cow's config sets them, each with the git config file it comes from; empty
    /// when git's are not needed.
    pub fn identity_from_git(&self) -> Result<Vec<(&'static str, PathBuf)>> {
        let settings = self.settings()?;
        let env = |name| std::env::var_os(name).is_some();
        let mut files = Vec::new();
        let git = git_identity();
        for (key, vars, found) in [
            (
                "user.name",
                ["COW_AUTHOR_NAME", "COW_COMMITTER_NAME"],
                git.name,
            ),
            (
                "user.email",
                ["COW_AUTHOR_EMAIL", "COW_COMMITTER_EMAIL"],
                git.email,
            ),
        ] {
            let author_needs = !env(vars[0]);
            let committer_needs = !env(vars[1]) && !env(vars[0]);
            if (author_needs || committer_needs)
                && settings.get(key).is_none()
                && let Some((_, path)) = found
            {
                files.push((key, path));
            }
        }
        Ok(files)
    }

    /// The repository's settings.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.cow_dir.join("config"))
    }

    /// Sets one setting, such as `user.name` or `remote.origin.region`. Refuses a key
    /// cow does not know in a section it owns ([`check_key`]).
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        self.edit_config(|config| config.set(key, value))
    }

    /// Removes one setting from the repository's config; returns whether it was set.
    #[doc(alias = "unset")]
    pub fn unset_config(&self, key: &str) -> Result<bool> {
        self.edit_config(|config| config.remove(key))
    }

    /// Changes the settings under the repository lock: reads them, lets `edit` change
    /// them, and writes them back if it succeeds.
    pub(crate) fn edit_config<T>(&self, edit: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        let mut config = self.config()?;
        let out = edit(&mut config)?;
        config.save(&self.cow_dir.join("config"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_of_cows_sections_are_refused() {
        for key in [
            "core.compression",
            "USER.Name",
            "remote.o.pathStyle",
            "x.y",
            "x.y.z",
        ] {
            assert!(check_key(key).is_ok(), "{key}");
        }
        for key in [
            "core.compresion",
            "user.mail",
            "remote.url",
            "remote.o.name",
            "chunking.x",
        ] {
            let err = check_key(key).unwrap_err().to_string();
            assert!(err.contains(&format!("unknown key '{key}'")), "{err}");
        }
        let err = check_key("remote.url").unwrap_err().to_string();
        assert!(err.contains("remote.<name>.url"), "{err}");
    }

    #[test]
    fn set_get_round_trip() {
        let mut c = Config::default();
        c.set("user.name", "A U Thor").unwrap();
        c.set("user.email", "a@x").unwrap();
        c.set("user.name", "Other").unwrap();
        let parsed = Config::parse(&c.to_string()).unwrap();
        assert_eq!(parsed.get("user.name"), Some("Other"));
        assert_eq!(parsed.get("USER.EMAIL"), Some("a@x"));
        assert_eq!(parsed.get("core.repositoryformatversion"), Some("0"));
        assert!(c.set("nodot", "x").is_err());
        assert!(c.set("user.name", "a\nb").is_err());
        assert!(Config::parse("key = outside a section").is_err());
    }

    #[test]
    fn known_keys_take_only_values_they_can_use() {
        let mut c = Config::default();
        for level in ["1", "19", "3"] {
            c.set("core.compression", level).unwrap();
        }
        for bad in ["0", "20", "25", "-1", "banana", "", "3.5"] {
            let err = c.set("core.compression", bad).unwrap_err().to_string();
            assert!(err.contains("a zstd level from 1 to 19"), "{bad:?}: {err}");
        }
        assert_eq!(c.get("core.compression"), Some("3"));
        for key in ["user.name", "user.email"] {
            for bad in ["", "a <b>", " a", "a\t", "a\nb"] {
                assert!(c.set(key, bad).is_err(), "{key} = {bad:?}");
            }
        }
        c.set("unknown.key", "anything at all").unwrap();
        for key in ["remote.o.pathStyle", "remote.o.singlewriter"] {
            c.set(key, "Yes").unwrap();
            let err = c.set(key, "maybe").unwrap_err().to_string();
            assert!(err.contains("a boolean is needed"), "{err}");
        }
        assert_eq!(c.get_bool("remote.o.pathstyle").unwrap(), Some(true));
    }

    #[test]
    fn a_key_set_twice_is_not_overwritten() {
        let mut c = Config::parse("[user]\n\tname = a\n\tname = b\n").unwrap();
        let err = c.set("user.name", "c").unwrap_err().to_string();
        assert!(err.contains("'user.name' has 2 values"), "{err}");
        assert!(c.remove("user.name").is_err());
        assert_eq!(c.get("user.name"), Some("b"));
        assert_eq!(c.to_string(), "[user]\n\tname = a\n\tname = b\n");
    }

    #[test]
    fn keys_split_at_the_first_and_last_dot() {
        let mut c = Config::default();
        c.set("remote.my.host.url", "/a").unwrap();
        c.set("Remote.Origin.URL", "/b").unwrap();
        c.set("remote.Origin.pathStyle", "true").unwrap();
        c.set("remote..url", "/empty").unwrap();
        assert_eq!(
            c.to_string(),
            "[core]\n\trepositoryformatversion = 0\n\
             [remote \"my.host\"]\n\turl = /a\n\
             [remote \"Origin\"]\n\tURL = /b\n\tpathStyle = true\n\
             [remote \"\"]\n\turl = /empty\n"
        );
        // Subsections are case-sensitive; section and key names are not.
        assert_eq!(c.get("REMOTE.Origin.url"), Some("/b"));
        assert_eq!(c.get("remote.origin.url"), None);
        assert_eq!(c.get("remote.my.host.url"), Some("/a"));
        assert_eq!(c.get("remote.my.url"), None);
        assert_eq!(c.subsections("remote"), ["my.host", "Origin", ""]);
        let keys: Vec<String> = c.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "core.repositoryformatversion",
                "remote.my.host.url",
                "remote.Origin.url",
                "remote.Origin.pathstyle",
                "remote..url"
            ]
        );
        assert_eq!(c.remove_section("remote", Some("Origin")), 2);
        assert_eq!(c.remove_section("remote", Some("Origin")), 0);
        assert!(c.remove("remote.my.host.URL").unwrap());
        assert!(!c.remove("remote.my.host.url").unwrap());
        assert_eq!(c.subsections("remote"), [""]);
        for bad in [
            "a", ".a", "a.", "a.b.", "a_b.c", "a.1c", "a.b\nc.d", "a b.c",
        ] {
            assert!(c.set(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_read_with_gits_quoting() {
        let text = "[Section \"Sub \\\"q\\\" \\\\ x\"]\n\
                    \tplain = a  b   # comment\n\
                    \tquoted = \" lead; # not a comment \" after ; comment\n\
                    \tescapes = tab\\there\\nnew \\\"q\\\" back\\\\slash\n\
                    \tcontinued = one \\\n  two\n\
                    \tbare\n\
                    \tempty =\n\
                    [old.Style]\n\tk = v\r\n\
                    [core] inline = yes ; c\n";
        let c = Config::parse(text).unwrap();
        let sub = "section.Sub \"q\" \\ x";
        assert_eq!(c.get(&format!("{sub}.plain")), Some("a  b"));
        assert_eq!(
            c.get(&format!("{sub}.quoted")),
            Some(" lead; # not a comment  after")
        );
        assert_eq!(
            c.get(&format!("{sub}.escapes")),
            Some("tab\there\nnew \"q\" back\\slash")
        );
        assert_eq!(c.get(&format!("{sub}.continued")), Some("one   two"));
        assert_eq!(c.get(&format!("{sub}.bare")), Some("true"));
        assert_eq!(c.get(&format!("{sub}.empty")), Some(""));
        assert_eq!(c.get("old.style.k"), Some("v"));
        assert_eq!(c.get("core.inline"), Some("yes"));
        assert_eq!(Config::parse(&c.to_string()).unwrap(), c);
        for bad in [
            "[a]\nk = \"open\n",
            "[a]\nk = \\q\n",
            "[a \"sub]\n",
            "[a \"s\" ]\n",
            "[a\nk = v\n",
            "[]\n",
            "[a]\n1k = v\n",
            "[a]\nk v\n",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_quoted_when_written_as_needed() {
        let mut c = Config::parse("").unwrap();
        for (value, written) in [
            ("plain value", "plain value"),
            (" lead", "\" lead\""),
            ("trail ", "\"trail \""),
            ("a#b", "\"a#b\""),
            ("a;b", "\"a;b\""),
            ("q\"b\\", "q\\\"b\\\\"),
            ("new\nline\ttab", "new\\nline\\ttab"),
            ("cr\rx", "\"cr\rx\""),
            ("", ""),
        ] {
            c.set("a.k", value).unwrap();
            assert_eq!(c.to_string(), format!("[a]\n\tk = {written}\n"));
            assert_eq!(
                Config::parse(&c.to_string()).unwrap().get("a.k"),
                Some(value)
            );
        }
    }
}
