//! The command line: parsing (the `redundancy` commands too), where the URL and token come
//! from, the path `add` sends.

use std::path::Path;

use clap::Parser;

use crate::admin::cli::{admin_token, control_url, path_to_send, AdminArgs, AdminCommand, AdminEnv, NodeCommand};
use crate::admin::client::AdminError;
use crate::admin::redundancy_cli::{RedundancyCommand as R, StrategyCommand};

/// `vidseed admin` as the binary nests it.
#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    admin: AdminArgs,
}

fn parse(words: &[&str]) -> Result<AdminArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("admin").chain(words.iter().copied())).map(|c| c.admin)
}

#[test]
fn commands_parse() {
    assert_eq!(parse(&["videos"]).unwrap().command, AdminCommand::Videos);
    assert_eq!(parse(&["list"]).unwrap().command, AdminCommand::Videos);
    assert_eq!(parse(&["nodes"]).unwrap().command, AdminCommand::Nodes);
    assert_eq!(parse(&["node", "list"]).unwrap().command, AdminCommand::Node { command: NodeCommand::List });
    assert_eq!(parse(&["settings"]).unwrap().command, AdminCommand::Settings);
    assert_eq!(parse(&["add", "films/a.mp4"]).unwrap().command, AdminCommand::Add { path: "films/a.mp4".into() });
    assert_eq!(parse(&["remove", "films"]).unwrap().command, AdminCommand::Remove { path: "films".into() });
    assert_eq!(
        parse(&[
            "node",
            "add",
            "paris-1",
            "--public-url",
            "https://s.example.org",
            "--folder",
            "films",
            "--folder",
            "talks"
        ])
        .unwrap()
        .command,
        AdminCommand::Node {
            command: NodeCommand::Add {
                name: "paris-1".into(),
                public_url: Some("https://s.example.org".into()),
                folders: vec!["films".into(), "talks".into()],
                output: None,
                force: false,
            }
        }
    );
    assert_eq!(
        parse(&["node", "add", "edge-1", "--output", "edge-1.toml", "--force"]).unwrap().command,
        AdminCommand::Node {
            command: NodeCommand::Add {
                name: "edge-1".into(),
                public_url: None,
                folders: vec![],
                output: Some("edge-1.toml".into()),
                force: true,
            }
        }
    );
    let e = parse(&["node", "add", "edge-1", "--force"]).unwrap_err().to_string();
    assert!(e.contains("--output"), "--force alone says what it needs: {e}");
    assert_eq!(
        parse(&["node", "revoke", "paris-1"]).unwrap().command,
        AdminCommand::Node { command: NodeCommand::Revoke { name: "paris-1".into() } }
    );
}

#[test]
fn global_options_go_before_or_after_the_command() {
    let before = parse(&["--control-url", "http://10.0.0.2:8081", "--json", "--token", "t", "videos"]).unwrap();
    let after = parse(&["videos", "--control-url", "http://10.0.0.2:8081", "--json", "--token", "t"]).unwrap();
    assert_eq!(before, after);
    assert_eq!(after.control_url.as_deref(), Some("http://10.0.0.2:8081"));
    assert!(after.json);
    let nested = parse(&["node", "list", "--token-file", "admin.token"]).unwrap();
    assert_eq!(nested.token_file.as_deref(), Some(Path::new("admin.token")));
}

#[test]
fn usage_errors_are_clap_errors_exiting_2() {
    for words in
        [&[][..], &["frobnicate"], &["add"], &["node", "add"], &["videos", "--token", "a", "--token-file", "b"]]
    {
        let err = parse(words).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{words:?}: {err}");
    }
}

fn no_options() -> AdminArgs {
    parse(&["videos"]).unwrap()
}

#[test]
fn url_comes_from_the_option_then_the_environment_then_the_default() {
    let env = AdminEnv { control_url: Some("http://env:1".into()), token: None };
    assert_eq!(control_url(&no_options(), &AdminEnv::default()), "http://127.0.0.1:8081");
    assert_eq!(control_url(&no_options(), &env), "http://env:1");
    assert_eq!(control_url(&parse(&["videos", "--control-url", "http://opt:2"]).unwrap(), &env), "http://opt:2");
}

#[test]
fn token_comes_from_the_option_then_the_file_then_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin.token");
    std::fs::write(&file, "  file-token\n").unwrap();
    let file = file.to_str().unwrap();
    let env = AdminEnv { control_url: None, token: Some("env-token".into()) };

    assert_eq!(admin_token(&no_options(), &AdminEnv::default()), Err(AdminError::NoToken));
    assert_eq!(admin_token(&no_options(), &env).unwrap(), "env-token");
    assert_eq!(admin_token(&parse(&["videos", "--token-file", file]).unwrap(), &env).unwrap(), "file-token");
    assert_eq!(admin_token(&parse(&["videos", "--token", " opt-token "]).unwrap(), &env).unwrap(), "opt-token");
    // A token may start with '-' (URL-safe base64 made before tokens stopped doing so).
    assert_eq!(admin_token(&parse(&["--token", "-Ab_9", "videos"]).unwrap(), &env).unwrap(), "-Ab_9");
    assert_eq!(admin_token(&parse(&["videos", "--token", "-x"]).unwrap(), &env).unwrap(), "-x");
    assert_eq!(
        admin_token(&parse(&["videos", "--token", ""]).unwrap(), &AdminEnv::default()),
        Err(AdminError::NoToken)
    );

    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let empty = dir.path().join("empty");
    assert!(matches!(
        admin_token(&parse(&["videos", "--token-file", empty.to_str().unwrap()]).unwrap(), &env),
        Err(AdminError::TokenFile { reason, .. }) if reason == "it is empty"
    ));
    let missing = dir.path().join("missing");
    assert!(matches!(
        admin_token(&parse(&["videos", "--token-file", missing.to_str().unwrap()]).unwrap(), &env),
        Err(AdminError::TokenFile { .. })
    ));
}

#[test]
fn add_sends_absolute_paths_for_local_files_only() {
    // Tests run in the crate's folder, which holds Cargo.toml.
    let local = std::fs::canonicalize("Cargo.toml").unwrap();
    assert_eq!(path_to_send(Path::new("Cargo.toml")).unwrap(), local.to_str().unwrap());
    assert_eq!(path_to_send(Path::new("/srv/videos/a.mp4")).unwrap(), "/srv/videos/a.mp4");
    assert_eq!(path_to_send(Path::new("films/not-here.mp4")).unwrap(), "films/not-here.mp4");
}

fn redundancy(words: &[&str]) -> R {
    let mut all = vec!["redundancy"];
    all.extend_from_slice(words);
    match parse(&all).unwrap().command {
        AdminCommand::Redundancy { command } => command,
        other => panic!("{other:?}"),
    }
}

#[test]
fn redundancy_commands_parse() {
    let url = "https://peertube.example/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081";
    assert_eq!(redundancy(&["add", url]), R::Add { video_url: url.into(), no_wait: false });
    assert_eq!(redundancy(&["add", url, "--no-wait"]), R::Add { video_url: url.into(), no_wait: true });
    assert_eq!(redundancy(&["list"]), R::List);
    assert_eq!(redundancy(&["copies"]), R::List);
    assert!(parse(&["redundancy", "list", "--json"]).unwrap().json);
    assert_eq!(redundancy(&["remove", url]), R::Remove { video_url: url.into() });
    assert_eq!(redundancy(&["allow", "peertube.example"]), R::Allow { host: "peertube.example".into() });
    assert_eq!(redundancy(&["deny", "peertube.example"]), R::Deny { host: "peertube.example".into() });
    assert_eq!(redundancy(&["strategy"]), R::Strategy { command: None });
    assert_eq!(
        redundancy(&["strategy", "set", "recently-added", "--size", "10GB", "--min-lifetime", "25 hours", "--min-views", "3"]),
        R::Strategy {
            command: Some(StrategyCommand::Set { name: "recently-added".into(), size: "10GB".into(), min_lifetime: "25 hours".into(), min_views: Some(3) })
        }
    );
    assert_eq!(redundancy(&["accept-from", "followings"]), R::AcceptFrom { value: Some("followings".into()) });
    assert_eq!(redundancy(&["accept-from"]), R::AcceptFrom { value: None });
    assert_eq!(redundancy(&["videos"]), R::Videos);
    assert!(parse(&["redundancy", "add"]).is_err(), "a video URL is needed");
    assert!(parse(&["redundancy", "strategy", "set", "trending"]).is_err(), "--size and --min-lifetime are needed");
}
