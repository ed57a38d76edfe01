//! `cow remote`: remotes in the config, their remote-tracking refs, the names and URLs
//! refused, and the probe of an object store's conditional writes against a real
//! SeaweedFS (tests/it/s3.rs). A service that ignores conditional writes is faked at the
//! library level (src/repository/remotes.rs); Garage, which does, is the real-server
//! lane for that refusal, and is not installed here.

use std::fs;
use std::path::Path;

use crate::s3::S3Server;
use crate::util::*;

/// A repository with one commit; returns the environment and the commit's id.
fn repo_with_commit() -> (Env, String) {
    let env = Env::new();
    env.init();
    write(&env.work().join("f"), "content\n");
    let id = env.commit("first");
    (env, id)
}

/// Writes remote-tracking ref `refs/remotes/<name>` holding `id`.
fn tracking_ref(env: &Env, name: &str, id: &str) {
    write(
        &env.work().join(".cow/refs/remotes").join(name),
        format!("{id}\n"),
    );
}

fn config_text(env: &Env) -> String {
    fs::read_to_string(env.work().join(".cow/config")).unwrap()
}

#[test]
fn remotes_are_added_listed_shown_and_removed_with_their_tracking_refs() -> Result {
    let (env, id) = repo_with_commit();
    let other = env.tmp.path().join("other");
    fs::create_dir(&other)?;
    let other = fs::canonicalize(&other)?;
    // Relative to the current directory (a subdirectory here), stored absolute.
    fs::create_dir(env.work().join("sub"))?;
    let out = env
        .cow_cmd(&env.work().join("sub"))
        .args(["remote", "add", "origin", "../../other"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );
    env.cow_ok(["remote", "add", "backup", "file:///srv/backup/./repo"]);
    env.cow_ok(["remote", "add", "origin2", "/does/not/../exist"]);

    assert_eq!(env.cow_ok(["remote"]), "origin\nbackup\norigin2\n");
    assert_eq!(env.cow_ok(["remote", "list"]), "origin\nbackup\norigin2\n");
    let o = other.display();
    assert_eq!(
        env.cow_ok(["remote", "-v"]),
        format!(
            "origin\t{o} (fetch)\norigin\t{o} (push)\n\
             backup\t/srv/backup/repo (fetch)\nbackup\t/srv/backup/repo (push)\n\
             origin2\t/does/exist (fetch)\norigin2\t/does/exist (push)\n"
        )
    );
    assert_eq!(
        env.cow_ok(["config", "remote.origin.url"]),
        format!("{o}\n")
    );
    assert!(config_text(&env).contains(&format!("[remote \"origin\"]\n\turl = {o}\n")));

    // Remote-tracking refs of origin, nested ones too, and one of origin2, whose name
    // origin is a prefix of.
    tracking_ref(&env, "origin/main", &id);
    tracking_ref(&env, "origin/feature/x", &id);
    tracking_ref(&env, "origin2/main", &id);
    let short = &id[..12];
    assert_eq!(
        env.cow_ok(["remote", "show", "origin"]),
        format!(
            "* remote origin\n  Fetch URL: {o}\n  Push  URL: {o}\n  Single-writer: no\n  \
             Remote-tracking branches:\n    feature/x {short}\n    main      {short}\n"
        )
    );
    assert_eq!(
        env.cow_ok(["rev-parse", "refs/remotes/origin/main"]),
        format!("{id}\n")
    );

    env.cow_ok(["remote", "remove", "origin"]);
    assert_eq!(env.cow_ok(["remote"]), "backup\norigin2\n");
    assert!(
        !config_text(&env).contains("origin\""),
        "{}",
        config_text(&env)
    );
    assert!(!env.work().join(".cow/refs/remotes/origin").exists());
    assert!(env.work().join(".cow/refs/remotes/origin2/main").is_file());
    assert_eq!(
        env.cow(["config", "remote.origin.url"]).status.code(),
        Some(1)
    );
    assert_error(
        &env.cow(["remote", "show", "origin"]),
        "no such remote 'origin'",
    );
    assert_error(
        &env.cow(["remote", "remove", "origin"]),
        "no such remote 'origin'",
    );

    // `rm` is `remove`; a name can be added again once removed.
    env.cow_ok(["remote", "rm", "origin2"]);
    assert!(!env.work().join(".cow/refs/remotes/origin2").exists());
    env.cow_ok(["remote", "add", "origin", "/again"]);
    assert_eq!(env.cow_ok(["remote"]), "backup\norigin\n");
    env.cow_ok(["fsck"]);
    Ok(())
}

#[test]
fn remote_json_follows_the_schema() -> Result {
    use serde_json::{Value, json};
    let (env, id) = repo_with_commit();
    let parse = |text: String| -> Value {
        assert_eq!(text.lines().count(), 1, "one document: {text}");
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(
        parse(env.cow_ok(["remote", "--json"])),
        json!({"type": "remotes", "schema": 1, "remotes": []})
    );
    env.cow_ok(["remote", "add", "--single-writer", "a", "/srv/a \"q\""]);
    tracking_ref(&env, "a/main", &id);
    let mut remote_a = json!({
        "type": "remote", "name": "a", "url": "/srv/a \"q\"", "kind": "path",
        "path": "/srv/a \"q\"", "bucket": null, "prefix": null, "endpoint": null,
        "region": null, "path_style": false, "access_key_id": null,
        "secret_access_key_in_config": false, "single_writer": true,
    });
    assert_eq!(
        parse(env.cow_ok(["remote", "list", "--json"])),
        json!({"type": "remotes", "schema": 1, "remotes": [remote_a]})
    );
    remote_a["schema"] = 1.into();
    remote_a["branches"] = json!([{
        "type": "remote_branch", "name": "main", "ref": "refs/remotes/a/main", "id": id,
    }]);
    assert_eq!(
        parse(env.cow_ok(["remote", "show", "--json", "a"])),
        remote_a
    );
    // An error in --json mode is a JSON line on stderr, and nothing on stdout.
    let out = env.cow(["remote", "show", "--json", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        parse(String::from_utf8(out.stderr)?),
        json!({"type": "error", "message": "no such remote 'nope'"})
    );
    // So is a directory that is not a repository.
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["remote", "--json"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let error = parse(String::from_utf8(out.stderr)?);
    assert_eq!(error["type"], "error");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("not a cow repository"), "{message}");
    Ok(())
}

#[test]
fn duplicate_names_bad_names_and_bad_urls_are_refused_and_change_nothing() -> Result {
    let (env, _) = repo_with_commit();
    env.cow_ok(["remote", "add", "origin", "/srv/origin"]);
    let before = config_text(&env);
    let refused = [
        (vec!["origin", "/elsewhere"], "remote origin already exists"),
        (vec!["a/b", "/x"], "'a/b' is not a valid remote name"),
        (vec!["a b", "/x"], "'a b' is not a valid remote name"),
        (vec!["..", "/x"], "'..' is not a valid remote name"),
        (
            vec![".hidden", "/x"],
            "'.hidden' is not a valid remote name",
        ),
        (vec!["x.lock", "/x"], "'x.lock' is not a valid remote name"),
        (vec!["a:b", "/x"], "'a:b' is not a valid remote name"),
        (vec!["--", "-x", "/x"], "'-x' is not a valid remote name"),
        (vec!["", "/x"], "'' is not a valid remote name"),
        (vec!["x", "http://x"], "invalid remote URL 'http://x'"),
        (
            vec!["x", "s3://Bad_Bucket"],
            "invalid remote URL 's3://Bad_Bucket'",
        ),
        (vec!["x", "s3://ab"], "invalid remote URL 's3://ab'"),
        (vec!["x", "s3://bucket/a/../b"], "invalid remote URL"),
        (
            vec!["x", "file://host/path"],
            "a file URL is file:///absolute/path",
        ),
        (vec!["x", ""], "invalid remote URL '': it is empty"),
        (
            vec!["--endpoint", "http://127.0.0.1:1", "x", "/path"],
            "remote x: an endpoint, region, path-style addressing and credentials are for \
             s3:// remotes",
        ),
    ];
    for (args, want) in refused {
        let mut full = vec!["remote", "add"];
        full.extend(args);
        assert_error(&env.cow(&full), want);
    }
    assert_eq!(config_text(&env), before, "a refused add changes nothing");
    // Usage errors exit 2.
    for args in [
        &["remote", "add", "x"][..],
        &["remote", "bogus"],
        &["remote", "show"],
    ] {
        assert_eq!(env.cow(args).status.code(), Some(2), "{args:?}");
    }
    Ok(())
}

/// Names git refuses for a remote, cow refuses too (git's own rule: NAME must make a
/// valid `refs/remotes/NAME/…`); cow refuses `/` as well, and a leading `-`.
#[test]
fn remote_names_git_refuses_are_refused() -> Result {
    if !git_available() {
        return Ok(());
    }
    let (env, _) = repo_with_commit();
    let git_repo = env.tmp.path().join("git");
    git(
        env.tmp.path(),
        ["init", "-q", "--object-format=sha256", "git"],
    );
    for name in [
        "origin",
        "my.host",
        "UPPER",
        "a_b",
        "caf\u{e9}",
        "x@y",
        "end.",
        "a b",
        "a\tb",
        "a:b",
        "a?b",
        "a*b",
        "a[b",
        "a\\b",
        "a^b",
        "a~b",
        ".hidden",
        "a..b",
        "x.lock",
        "a@{b",
        "@",
        ".",
        "..",
        "a\u{7f}",
    ] {
        let by_git = git_cmd(&git_repo)
            .args(["remote", "add", "--", name, "/x"])
            .output()?
            .status
            .success();
        let by_cow = env
            .cow(["remote", "add", "--", name, "/x"])
            .status
            .success();
        assert_eq!(by_cow, by_git, "{name:?}: cow {by_cow}, git {by_git}");
    }
    Ok(())
}

#[test]
fn remote_settings_are_config_keys() -> Result {
    let (env, _) = repo_with_commit();
    env.cow_ok(["remote", "add", "origin", "/srv/origin"]);
    env.cow_ok(["config", "remote.origin.region", "eu-west-1"]);
    env.cow_ok(["config", "remote.origin.singleWriter", "on"]);
    assert_error(
        &env.cow(["config", "remote.origin.pathStyle", "maybe"]),
        "a boolean is needed",
    );
    assert_eq!(env.cow_ok(["config", "REMOTE.origin.SINGLEWRITER"]), "on\n");
    assert_eq!(
        env.cow(["config", "remote.Origin.region"]).status.code(),
        Some(1)
    );
    assert!(
        env.cow_ok(["remote", "show", "origin"])
            .contains("  Single-writer: yes\n")
    );
    assert!(
        env.cow_ok(["config", "--list"])
            .contains("remote.origin.url=/srv/origin\nremote.origin.region=eu-west-1\n")
    );
    // A boolean that is not one is an error naming the key.
    let config = env.work().join(".cow/config");
    let text = config_text(&env).replace("singleWriter = on", "singleWriter = sometimes");
    fs::write(&config, text)?;
    assert_error(
        &env.cow(["remote", "-v"]),
        "'remote.origin.singleWriter' is 'sometimes', which is not a boolean",
    );
    Ok(())
}

/// The environment `cow remote add` reads credentials and region from, and nothing
/// else (no AWS config files, no instance metadata lookups: credentials are given).
fn aws_env(cmd: &mut std::process::Command, access_key: &str, secret_key: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_REGION", "us-east-1");
}

#[test]
fn adding_an_s3_remote_probes_the_server() -> Result {
    let Some(server) = S3Server::start() else {
        return Ok(());
    };
    let (env, id) = repo_with_commit();
    let url = format!("s3://{}/repos/one", server.bucket);
    let mut cmd = env.cow_cmd(&env.work());
    cmd.args([
        "remote",
        "add",
        "--endpoint",
        &server.endpoint,
        "--path-style",
    ])
    .args(["origin", &url]);
    aws_env(&mut cmd, &server.access_key, &server.secret_key);
    let out = cmd.output()?;
    assert!(
        out.status.success(),
        "{}\n{}",
        describe(&out),
        server.log_tail()
    );
    let text = config_text(&env);
    assert!(
        text.contains(&format!(
            "[remote \"origin\"]\n\turl = {url}\n\tendpoint = {}\n\tpathStyle = true\n",
            server.endpoint
        )),
        "{text}"
    );
    // Credentials came from the environment and are not stored.
    assert!(!text.contains(&server.secret_key) && !text.contains(&server.access_key));
    tracking_ref(&env, "origin/main", &id);
    let show = env.cow_ok(["remote", "show", "origin"]);
    assert_eq!(
        show,
        format!(
            "* remote origin\n  Fetch URL: {url}\n  Push  URL: {url}\n  Endpoint: {}\n  \
             Region: (from AWS_REGION when set)\n  Path-style addressing: yes\n  \
             Access key id: (from AWS_ACCESS_KEY_ID when set)\n  Single-writer: no\n  \
             Remote-tracking branches:\n    main {}\n",
            server.endpoint,
            &id[..12]
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.cow_ok(["remote", "show", "--json", "origin"]))?;
    for (field, want) in [
        ("kind", serde_json::json!("s3")),
        ("path", serde_json::Value::Null),
        ("bucket", server.bucket.clone().into()),
        ("prefix", "repos/one".into()),
        ("endpoint", server.endpoint.clone().into()),
        ("region", serde_json::Value::Null),
        ("path_style", true.into()),
        ("access_key_id", serde_json::Value::Null),
    ] {
        assert_eq!(json[field], want, "{field}: {json}");
    }

    // Wrong credentials: the probe fails, and nothing is stored.
    let before = config_text(&env);
    let mut cmd = env.cow_cmd(&env.work());
    cmd.args([
        "remote",
        "add",
        "--endpoint",
        &server.endpoint,
        "--path-style",
    ])
    .args(["--region", "us-east-1", "other", &url]);
    aws_env(&mut cmd, &server.access_key, "not-the-secret");
    assert_error(&cmd.output()?, "could not create 'repos/one/probe-");
    assert_eq!(config_text(&env), before);
    Ok(())
}

#[test]
fn an_unreachable_s3_endpoint_is_an_error_and_stores_nothing() -> Result {
    let (env, _) = repo_with_commit();
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let before = config_text(&env);
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cmd = env.cow_cmd(&env.work());
    cmd.args(["remote", "add", "--endpoint", &endpoint, "--path-style"])
        .args(["origin", "s3://bucket/repo"]);
    aws_env(&mut cmd, "AKIDEXAMPLE", "secret");
    let out = cmd.output()?;
    assert_error(&out, "could not create 'repo/probe-");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Connection refused"),
        "{}",
        describe(&out)
    );
    assert_eq!(config_text(&env), before);
    assert_eq!(env.cow_ok(["remote"]), "");
    Ok(())
}

/// `remote add` with the library: `base_dir` resolves a relative path.
#[test]
fn the_library_adds_a_relative_path_from_base_dir() -> Result {
    let (env, _) = repo_with_commit();
    let repo = cow::Repository::open(env.work())?;
    let spec = repo.add_remote(
        "up",
        "../up/./x",
        cow::repository::AddRemote {
            base_dir: Some(Path::new("/srv/base").to_owned()),
            ..Default::default()
        },
    )?;
    assert_eq!(spec.url, cow::remote::Url::Path("/srv/up/x".into()));
    assert_eq!(repo.remote("up")?.url, spec.url);
    let err = repo.remote("down").unwrap_err();
    assert!(
        matches!(err, cow::Error::NoSuchRemote(ref n) if n == "down"),
        "{err}"
    );
    assert_eq!(repo.remove_remote("up")?, Vec::<cow::refs::RefName>::new());
    assert!(repo.remotes()?.is_empty());
    Ok(())
}

/// A clone stores where it came from as `origin`, with its remote-tracking branch, and
/// a later push or fetch finds it by name.
#[test]
fn a_clone_configures_origin() -> Result {
    let (env, id) = repo_with_commit();
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["clone", "work", "copy"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let copy = env.tmp.path().join("copy");
    let work = fs::canonicalize(env.work())?;
    let run = |args: &[&str]| {
        let out = env.cow_cmd(&copy).args(args).output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["remote", "-v"]),
        format!(
            "origin\t{w} (fetch)\norigin\t{w} (push)\n",
            w = work.display()
        )
    );
    assert!(run(&["remote", "show", "origin"]).ends_with(&format!(
        "  Remote-tracking branches:\n    main {}\n",
        &id[..12]
    )));
    run(&["fetch", "origin"]);
    Ok(())
}
