//! The config file against git: git reads what cow writes to the same keys and values
//! (`git config -f FILE -z --list`, and `--get` key by key), and cow reads what git
//! writes, and config text written by hand with git's trickier syntax, as git does.

use std::fs;
use std::path::Path;

use cow::repository::Config;

use crate::util::*;

/// `git config -f FILE ARGS` run hermetically.
fn git_config(file: &Path, args: &[&str]) -> std::process::Output {
    git_cmd(file.parent().unwrap())
        .arg("config")
        .arg("-f")
        .arg(file)
        .args(args)
        .output()
        .expect("run git config")
}

/// What git reads from a config file: (key, value) in file order (`None`: a key with
/// no `=`).
fn git_list(file: &Path) -> Vec<(String, Option<String>)> {
    let out = git_config(file, &["-z", "--list"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_terminator('\0')
        .map(|record| match record.split_once('\n') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (record.to_owned(), None),
        })
        .collect()
}

/// What cow reads, in the same shape (a key with no `=` reads as `true`).
fn cow_list(config: &Config) -> Vec<(String, Option<String>)> {
    config
        .iter()
        .map(|(k, v)| (k, Some(v.to_owned())))
        .collect()
}

/// Values that need quoting or escaping, or look like syntax.
const TRICKY_VALUES: &[&str] = &[
    "plain",
    "",
    " leading space",
    "trailing space ",
    "  both  ",
    "inner   spaces",
    "hash # inside",
    "semi ; colon",
    "#start",
    "say \"hi\"",
    "back\\slash",
    "ends with backslash\\",
    "new\nline",
    "\n",
    "tab\there",
    "\tleading tab",
    "cr\rinside",
    "trailing cr\r",
    "= equals = ",
    "[section]",
    "caf\u{e9} \u{1f404}",
    "\"",
    "\\\"",
    "back\x08space",
];

/// Keys with subsections git must read back: dots, quotes, backslashes, spaces and
/// case in the subsection.
const TRICKY_KEYS: &[&str] = &[
    "core.compression",
    "user.name",
    "remote.origin.url",
    "remote.Origin.url",
    "remote.my.host.url",
    "remote.with space.pathStyle",
    "remote.quote\"d.url",
    "remote.back\\slash.url",
    "remote..url",
    "remote.-.url",
    "Section-2.Sub.Key-1",
];

#[test]
fn git_reads_what_cow_writes() -> Result {
    if !git_available() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("config");
    let mut config = Config::default();
    for (i, key) in TRICKY_KEYS.iter().enumerate() {
        let value = match *key {
            "core.compression" => "7",
            "user.name" => "A U Thor",
            "remote.with space.pathStyle" => "true",
            _ => TRICKY_VALUES[i % TRICKY_VALUES.len()],
        };
        config.set(key, value)?;
    }
    for (i, value) in TRICKY_VALUES.iter().enumerate() {
        config.set(&format!("values.v{i}"), value)?;
        config.set(&format!("values.sub {i}.v"), value)?;
    }
    config.save(&file)?;
    assert_eq!(git_list(&file), cow_list(&config));
    for key in TRICKY_KEYS {
        let out = git_config(&file, &["-z", "--get", key]);
        assert!(out.status.success(), "{key}: {}", describe(&out));
        let want = format!("{}\0", config.get(key).unwrap());
        assert_eq!(String::from_utf8(out.stdout)?, want, "{key}");
    }
    // Subsections are case-sensitive, sections and names are not, for both.
    let out = git_config(&file, &["--get", "REMOTE.origin.URL"]);
    assert_eq!(config.get("REMOTE.origin.URL"), Some(" leading space"));
    assert_eq!(String::from_utf8(out.stdout)?, " leading space\n");
    assert_eq!(
        git_config(&file, &["--get", "remote.ORIGIN.url"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(config.get("remote.ORIGIN.url"), None);

    // Removing a subsection: git sees none of its keys, and the rest as before.
    config.remove_section("remote", Some("my.host"));
    config.remove("values.v3")?;
    config.save(&file)?;
    assert_eq!(git_list(&file), cow_list(&config));
    assert!(
        !git_list(&file)
            .iter()
            .any(|(k, _)| k.starts_with("remote.my.host."))
    );
    Ok(())
}

#[test]
fn git_reads_seeded_random_values_as_cow_wrote_them() -> Result {
    if !git_available() {
        return Ok(());
    }
    let alphabet = [
        " ", " ", "a", "b", "\t", "\n", "\r", "#", ";", "\"", "\\", "=", "[", "]", ".", "\u{e9}",
        "\x0b", "\x0c", "\x08",
    ];
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("config");
    let mut rng = Rng::new(0xc0f1);
    for round in 0..10 {
        let mut config = Config::parse("")?;
        for i in 0..30 {
            let len = rng.below(8) as usize;
            let value: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
            let sub: String = (0..rng.below(4))
                .map(|_| rng.pick(&alphabet).replace('\n', "n"))
                .collect();
            config.set(&format!("r{round}.{sub}.k{i}"), &value)?;
        }
        config.save(&file)?;
        assert_eq!(
            git_list(&file),
            cow_list(&config),
            "round {round}:\n{config}"
        );
    }
    Ok(())
}

#[test]
fn cow_reads_what_git_writes() -> Result {
    if !git_available() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("config");
    // Start from a file cow wrote; git adds to it.
    Config::default().save(&file)?;
    for (i, key) in TRICKY_KEYS.iter().enumerate() {
        let value = TRICKY_VALUES[(i * 7) % TRICKY_VALUES.len()];
        let out = git_config(&file, &[key, value]);
        assert!(out.status.success(), "{key}: {}", describe(&out));
    }
    for (i, value) in TRICKY_VALUES.iter().enumerate() {
        let out = git_config(&file, &[&format!("values.sub {i}.v"), value]);
        assert!(out.status.success(), "{value:?}: {}", describe(&out));
    }
    let out = git_config(&file, &["remote.origin.singleWriter", "yes"]);
    assert!(out.status.success());
    let config = Config::load(&file)?;
    assert_eq!(cow_list(&config), git_list(&file));
    assert_eq!(config.get_bool("remote.origin.singlewriter")?, Some(true));

    // git removes a section cow wrote keys into.
    let mut config = config;
    config.set("remote.origin.region", "eu-west-1")?;
    config.save(&file)?;
    let out = git_config(&file, &["--remove-section", "remote.origin"]);
    assert!(out.status.success(), "{}", describe(&out));
    let config = Config::load(&file)?;
    assert_eq!(cow_list(&config), git_list(&file));
    assert_eq!(config.get("remote.origin.region"), None);
    Ok(())
}

/// Config text in git's syntax that cow never writes but reads as git does:
/// continuation lines, comments after values and headers, the old `[a.b]` header, a
/// key with no `=`, CRLF line ends, quotes mid-value.
#[test]
fn hand_written_syntax_reads_as_git_reads_it() -> Result {
    if !git_available() {
        return Ok(());
    }
    let text = "\u{feff}# comment\n\
                ; comment\n\
                [core]\n\
                \trepositoryformatversion = 0 # trailing\n\
                [remote \"origin\"] ; comment after a header\n\
                \turl = /srv/repo\n\
                \tPathStyle\n\
                \tregion = \"eu-west-1\"\n\
                \tendpoint = http://127.0.0.1:8333 \\\n\
                \t  continued\n\
                [Remote \"origin\"]\n\
                \tsingleWriter = off\r\n\
                [remote.Old]\n\
                \turl = mid\" quoted \"value\n\
                [remote \"a\\\"b\\\\c\"]\n\
                \turl = x ;\n\
                [core] inline = yes\n\
                [empty]\n";
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("config");
    fs::write(&file, text)?;
    let config = Config::parse(text)?;
    let mut git = git_list(&file);
    for (key, value) in &mut git {
        if value.is_none() {
            // git keeps "no value", which its booleans read as true; cow stores true.
            assert_eq!(
                git_config(&file, &["--type=bool", "--get", key]).stdout,
                b"true\n"
            );
            *value = Some("true".into());
        }
    }
    assert_eq!(cow_list(&config), git);
    assert_eq!(
        config.get("remote.origin.endpoint"),
        Some("http://127.0.0.1:8333 \t  continued")
    );
    assert_eq!(config.get("remote.old.url"), Some("mid quoted value"));
    assert_eq!(config.get("remote.a\"b\\c.url"), Some("x"));
    assert_eq!(config.get_bool("remote.origin.pathstyle")?, Some(true));
    assert_eq!(config.get_bool("remote.origin.singlewriter")?, Some(false));
    assert_eq!(config.subsections("remote"), ["origin", "old", "a\"b\\c"]);
    // What cow writes back, git reads the same.
    config.save(&file)?;
    assert_eq!(cow_list(&Config::load(&file)?), git);
    assert_eq!(git_list(&file), git);
    Ok(())
}

/// Text git refuses, cow refuses too.
#[test]
fn malformed_text_is_refused_as_git_refuses_it() -> Result {
    if !git_available() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("config");
    // (git reads a key before any section header as a key of no section; cow, whose
    // keys all have one, refuses it.)
    assert!(Config::parse("key = outside a section\n").is_err());
    for text in [
        "[a]\nk = \"unclosed\n",
        "[a]\nk = bad \\q escape\n",
        "[a \"unclosed]\nk = v\n",
        "[a \"s\" ]\nk = v\n",
        "[a\"s\"]\nk = v\n",
        "[a_b]\nk = v\n",
        "[a]\n1k = v\n",
        "[a]\nk v\n",
        "[a]\nk_x = v\n",
    ] {
        fs::write(&file, text)?;
        assert!(
            !git_config(&file, &["--list"]).status.success(),
            "git reads {text:?}"
        );
        assert!(Config::parse(text).is_err(), "cow reads {text:?}");
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 500,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Config-like text: what parses prints back to text that parses to the same
    /// settings, and every key read can be set to its value and read back.
    #[test]
    fn what_parses_prints_and_parses_the_same(
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "[a]", "[A \"s\"]", "[a \"x.y\"]", "[a.b]", "[a \"q\\\"\\\\\"]", "\n", "\r\n",
            " ", "\t", "k", "K2", "-", "=", "\"", "\\", "\\n", "\\t", "\\\n", "#", ";",
            "v", "\u{e9}", "\x0b", ".",
        ]), 0..40)
    ) {
        let text = tokens.concat();
        if let Ok(config) = Config::parse(&text) {
            let printed = config.to_string();
            let again = Config::parse(&printed).expect("printed config parses");
            proptest::prop_assert_eq!(&again, &config, "{:?} printed as {:?}", text, printed);
            for (key, value) in config.iter() {
                let copies = config.iter().filter(|(k, _)| k.eq_ignore_ascii_case(&key)).count();
                let mut edited = config.clone();
                if copies == 1 {
                    edited.set(&key, value).expect("a key read can be set");
                    let reparsed = Config::parse(&edited.to_string()).unwrap();
                    proptest::prop_assert_eq!(reparsed.get(&key), Some(value));
                }
            }
        }
    }
}
