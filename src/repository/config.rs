//! Repository settings in `.cow/config`, in git's ini-like syntax.

use crate::fs::{Durability, IoResultExt};
use std::fs;
use std::path::Path;

use super::{Error, Repository, Result};

/// Settings as `section.key = value` pairs, kept in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            entries: vec![("core".into(), "repositoryformatversion".into(), "0".into())],
        }
    }
}

impl Config {
    /// Parses a config file's text.
    pub fn parse(text: &str) -> Result<Config> {
        let mut entries = Vec::new();
        let mut section = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim().to_ascii_lowercase());
                continue;
            }
            let bad = || Error::Config(format!("line {} is malformed: {line:?}", n + 1));
            let (key, value) = line.split_once('=').ok_or_else(bad)?;
            let section = section.clone().ok_or_else(bad)?;
            entries.push((
                section,
                key.trim().to_ascii_lowercase(),
                value.trim().to_owned(),
            ));
        }
        Ok(Config { entries })
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

    fn split_key(key: &str) -> Result<(String, String)> {
        let (section, name) = key
            .rsplit_once('.')
            .filter(|(s, n)| {
                let ok = |p: &str| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                };
                ok(s) && ok(n)
            })
            .ok_or_else(|| {
                Error::Config(format!("'{key}' is not a key of the form section.name"))
            })?;
        Ok((section.to_ascii_lowercase(), name.to_ascii_lowercase()))
    }

    /// The value of `section.key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        let (section, name) = Self::split_key(key).ok()?;
        self.entries
            .iter()
            .rev()
            .find(|(s, k, _)| *s == section && *k == name)
            .map(|(_, _, v)| v.as_str())
    }

    /// Every setting as (`section.key`, value), in file order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &str)> {
        self.entries
            .iter()
            .map(|(s, k, v)| (format!("{s}.{k}"), v.as_str()))
    }

    /// Sets `section.key` to `value`, replacing an earlier value. Refuses a value the
    /// key cannot take (a `core.compression` that is not a zstd level from 1 to 19, an
    /// empty `user.name` or `user.email`, or one with `<`, `>`) and a key set more than
    /// once (which copy is meant? as git refuses); other keys take any one-line value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let (section, name) = Self::split_key(key)?;
        if value.contains(['\n', '\r']) || value.trim() != value {
            return Err(Error::Config(format!(
                "value for '{key}' cannot have newlines or surrounding spaces"
            )));
        }
        check_value(&section, &name, value)
            .map_err(|why| Error::Config(format!("invalid value '{value}' for '{key}': {why}")))?;
        let mut matching = self
            .entries
            .iter_mut()
            .filter(|(s, k, _)| *s == section && *k == name)
            .collect::<Vec<_>>();
        if matching.len() > 1 {
            return Err(Error::Config(format!(
                "'{key}' has {} values: cannot overwrite multiple values with a single \
                 value (edit .cow/config to keep one)",
                matching.len()
            )));
        }
        if let Some(entry) = matching.pop() {
            entry.2 = value.to_owned();
        } else {
            let at = self
                .entries
                .iter()
                .rposition(|(s, _, _)| *s == section)
                .map_or(self.entries.len(), |i| i + 1);
            self.entries.insert(at, (section, name, value.to_owned()));
        }
        Ok(())
    }
}

/// Whether a known key can take `value` (lowercase section and name); unknown keys
/// take anything, as in git.
fn check_value(section: &str, name: &str, value: &str) -> Result<(), &'static str> {
    match (section, name) {
        ("core", "compression") => match value.parse::<i32>() {
            Ok(level) if (1..=19).contains(&level) => Ok(()),
            _ => Err("a zstd level from 1 to 19 is needed"),
        },
        ("user", "name" | "email") if value.is_empty() => Err("it cannot be empty"),
        ("user", "name" | "email") if value.contains(['<', '>']) => {
            Err("names and emails cannot contain '<' or '>'")
        }
        _ => Ok(()),
    }
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut current: Option<&str> = None;
        for (section, key, value) in &self.entries {
            if current != Some(section) {
                writeln!(f, "[{section}]")?;
                current = Some(section);
            }
            writeln!(f, "\t{key} = {value}")?;
        }
        Ok(())
    }
}

impl Repository {
    /// The repository's settings.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.cow_dir.join("config"))
    }

    /// Sets one setting, such as `user.name`.
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut config = self.config()?;
        config.set(key, value)?;
        config.save(&self.cow_dir.join("config"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(c.set(key, "").is_err());
            assert!(c.set(key, "a <b>").is_err());
        }
        c.set("unknown.key", "anything at all").unwrap();
    }

    #[test]
    fn a_key_set_twice_is_not_overwritten() {
        let mut c = Config::parse("[user]\n\tname = a\n\tname = b\n").unwrap();
        let err = c.set("user.name", "c").unwrap_err().to_string();
        assert!(err.contains("'user.name' has 2 values"), "{err}");
        assert_eq!(c.get("user.name"), Some("b"));
        assert_eq!(c.to_string(), "[user]\n\tname = a\n\tname = b\n");
    }
}
