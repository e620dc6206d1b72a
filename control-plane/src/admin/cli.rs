//! `vidseed admin …`: its command line and the running of each command against the control
//! plane. Does I/O: HTTP through the client, standard output and error, the token file.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use http::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::client::{body, AdminClient, AdminError, Answer, DEFAULT_CONTROL_URL};
use super::table;
use super::wire::{self, Field, Progress};

/// Manage a running control plane: its videos, data nodes and settings.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AdminArgs {
    /// The control plane's HTTP address [env: VIDSEED_CONTROL_URL] [default: http://127.0.0.1:8081]
    #[arg(long, global = true, value_name = "URL")]
    pub control_url: Option<String>,
    /// The admin token the control plane printed at its first start [env: VIDSEED_ADMIN_TOKEN]
    // Tokens are URL-safe base64: one made before they stopped starting with '-' still parses.
    #[arg(long, global = true, value_name = "TOKEN", conflicts_with = "token_file", allow_hyphen_values = true)]
    pub token: Option<String>,
    /// Read the admin token from this file (surrounding whitespace is ignored)
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Print the API's JSON answers instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Publish a video file, or every video under a folder (hashing shows a progress bar)
    Add {
        /// A file or folder: absolute on the control plane's host, relative to its library, or
        /// relative to the current folder when it exists here
        path: PathBuf,
    },
    /// Stop publishing a file, or every file under a folder (a path in the library)
    Remove {
        /// The file's or folder's path in the library
        path: String,
    },
    /// List the published videos
    #[command(visible_alias = "list")]
    Videos,
    /// Our videos as federated (`video list`), and their metadata (`video edit UUID --title …`)
    Video {
        #[command(subcommand)]
        command: super::videos_cli::VideoCommand,
    },
    /// Manage data nodes
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// List the data nodes (same as `node list`)
    Nodes,
    /// Show the control plane's settings
    Settings,
    /// Follow an instance (a host such as peertube.example.org, or a base URL)
    Follow { host: String },
    /// Stop following an instance
    Unfollow { host: String },
    /// List the instances that follow this one, with their state
    Followers,
    /// List the instances this one follows, with their state
    Following,
    /// Accept a pending follower (manual approval); give its actor URL
    AcceptFollower { actor: String },
    /// Reject a follower; give its actor URL
    RejectFollower { actor: String },
    /// Block an instance: refused as a follower, its activities dropped
    Block { host: String },
    /// Unblock an instance
    Unblock { host: String },
    /// Copies of followed instances' videos this instance keeps (PeerTube's redundancy), and
    /// who may keep copies of ours
    Redundancy {
        #[command(subcommand)]
        command: super::redundancy_cli::RedundancyCommand,
    },
    /// Show or change how followers are answered
    Federation {
        /// Follow back every instance whose follow is accepted
        #[arg(long, value_name = "BOOL")]
        auto_follow_back: Option<bool>,
        /// New followers wait for `accept-follower`
        #[arg(long, value_name = "BOOL")]
        manual_approval: Option<bool>,
        /// Refuse every follower
        #[arg(long, value_name = "BOOL")]
        reject_followers: Option<bool>,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum NodeCommand {
    /// Register a data node: its config file goes to standard output (`> NAME.toml`) or to
    /// --output, its token and pin to standard error
    Add {
        /// A unique name for the node
        name: String,
        /// The node's public base URL (e.g. https://seed1.example.org); without it, the node's
        /// own `public_url` (or its listen address) is used when it first connects
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// A library folder the node holds (repeat for several; default: the whole library)
        #[arg(long = "folder", value_name = "FOLDER")]
        folders: Vec<String>,
        /// Write the config file here (mode 0600) instead of standard output; an existing file
        /// is refused unless --force
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// Revoke a data node's credentials: it can no longer connect
    Revoke {
        /// The node's name
        name: String,
    },
    /// List the data nodes
    List,
}

/// The environment variables `vidseed admin` reads, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminEnv {
    /// `VIDSEED_CONTROL_URL`
    pub control_url: Option<String>,
    /// `VIDSEED_ADMIN_TOKEN`
    pub token: Option<String>,
}

impl AdminEnv {
    pub fn from_process() -> Self {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.trim().is_empty());
        Self { control_url: var("VIDSEED_CONTROL_URL"), token: var("VIDSEED_ADMIN_TOKEN") }
    }
}

/// The control plane's URL: `--control-url`, else `VIDSEED_CONTROL_URL`, else the default.
pub fn control_url(args: &AdminArgs, env: &AdminEnv) -> String {
    args.control_url.clone().or_else(|| env.control_url.clone()).unwrap_or_else(|| DEFAULT_CONTROL_URL.to_owned())
}

/// The admin token: `--token`, else the `--token-file`'s text, else `VIDSEED_ADMIN_TOKEN`.
pub fn admin_token(args: &AdminArgs, env: &AdminEnv) -> Result<String, AdminError> {
    let token = if let Some(token) = &args.token {
        token.trim().to_owned()
    } else if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AdminError::TokenFile { path: path.display().to_string(), reason: e.to_string() })?;
        let token = text.trim().to_owned();
        if token.is_empty() {
            return Err(AdminError::TokenFile { path: path.display().to_string(), reason: "it is empty".to_owned() });
        }
        token
    } else {
        env.token.as_deref().unwrap_or_default().trim().to_owned()
    };
    if token.is_empty() {
        Err(AdminError::NoToken)
    } else {
        Ok(token)
    }
}

/// The path `add` sends: an absolute one as given; a relative one that exists in the current
/// folder made absolute (the control plane does not know our current folder); any other as
/// given, for the control plane to find in its library.
pub fn path_to_send(path: &Path) -> Result<String, AdminError> {
    let resolved = if path.is_relative() && path.exists() {
        std::fs::canonicalize(path)
            .map_err(|e| AdminError::Local { what: format!("cannot resolve {} ({e})", path.display()), hint: None })?
    } else {
        path.to_owned()
    };
    resolved.into_os_string().into_string().map_err(|p| AdminError::Local {
        what: format!("the path {} is not valid UTF-8", Path::new(&p).display()),
        hint: Some("rename the file or folder, or pass its path in the library".to_owned()),
    })
}

/// Runs `vidseed admin …` with the process's environment, standard output and error; the exit
/// code is 0 on success, 1 on any error (and when `add` could not publish every file).
pub async fn run(args: AdminArgs) -> ExitCode {
    let tty = std::io::stderr().is_terminal();
    execute(args, &AdminEnv::from_process(), &mut std::io::stdout(), &mut std::io::stderr(), tty).await
}

/// [`run`] on a current-thread runtime of its own, for callers without one.
pub fn run_blocking(args: AdminArgs) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime ({e})");
            ExitCode::FAILURE
        }
    }
}

/// [`run`] with its environment and outputs passed in; a progress bar is drawn on the terminal's
/// standard error only when `progress_bar` is set. Write errors (a closed pipe) are ignored.
pub async fn execute<O: Write, E: Write>(
    args: AdminArgs,
    env: &AdminEnv,
    out: &mut O,
    err: &mut E,
    progress_bar: bool,
) -> ExitCode {
    match dispatch(args, env, out, err, progress_bar).await {
        Ok(code) => {
            let _ = out.flush();
            code
        }
        Err(e) => {
            let _ = out.flush();
            let _ = writeln!(err, "{}", e.render());
            ExitCode::FAILURE
        }
    }
}

fn print_lines(out: &mut impl Write, lines: &[String]) {
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

fn print_json<T>(out: &mut impl Write, answer: &Answer<T>) {
    let text = serde_json::to_string_pretty(&answer.raw).unwrap_or_else(|_| answer.raw.to_string());
    let _ = writeln!(out, "{text}");
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn dispatch<O: Write, E: Write>(
    args: AdminArgs,
    env: &AdminEnv,
    out: &mut O,
    err: &mut E,
    progress_bar: bool,
) -> Result<ExitCode, AdminError> {
    let token = admin_token(&args, env)?;
    let client = AdminClient::new(&control_url(&args, env), &token)?;
    let json = args.json;
    match args.command {
        AdminCommand::Add { path } => {
            let path = path_to_send(&path)?;
            let mut bar: Option<ProgressBar> = None;
            let answer = client
                .add(&path, |p| {
                    if progress_bar {
                        show_progress(bar.get_or_insert_with(new_bar), p);
                    }
                })
                .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let answer = answer?;
            if json {
                print_json(out, &answer);
            } else {
                print_lines(out, &table::render_add_result(&answer.data));
            }
            let _ = out.flush();
            print_lines(err, &table::render_add_failures(&answer.data));
            Ok(if answer.data.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AdminCommand::Remove { path } => {
            let answer = client.remove(&path).await?;
            show(out, json, &answer, table::render_removed)
        }
        AdminCommand::Videos => {
            let answer = client.videos().await?;
            show(out, json, &answer, |list| table::render_videos(&list.videos))
        }
        AdminCommand::Video { command } => {
            super::videos_cli::run(&client, command, out, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Node { command: NodeCommand::Add { name, public_url, folders, output, force } } => {
            // Refused before the node exists: its token would be lost otherwise.
            if let Some(path) = output.as_deref().filter(|p| !force && p.symlink_metadata().is_ok()) {
                return Err(AdminError::Local {
                    what: format!("{} exists; the node was not added", path.display()),
                    hint: Some("give another --output file, or add --force to overwrite it".to_owned()),
                });
            }
            let answer = client.add_node(&name, public_url.as_deref(), &folders).await?;
            let node = &answer.data;
            if let Some(path) = &output {
                if let Err(e) = write_private(path, &node.config, force) {
                    // The node exists now: its configuration (and token) must not be lost.
                    let _ = out.write_all(node.config.as_bytes());
                    return Err(AdminError::Local {
                        what: format!("node {} was added, but its configuration could not be written to {} ({e})", table::clean(&node.name), path.display()),
                        hint: Some("its configuration is on standard output above; save it by hand".to_owned()),
                    });
                }
            }
            if json {
                print_json(out, &answer);
            } else if let Some(path) = &output {
                print_lines(out, &table::render_new_node(node, Some(&path.display().to_string())));
            } else {
                // Only the configuration on standard output, so that `> NAME.toml` saves exactly it.
                let _ = out.write_all(node.config.as_bytes());
                let _ = out.flush();
                print_lines(err, &table::render_new_node(node, None));
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Node { command: NodeCommand::Revoke { name } } => {
            let answer = client.revoke_node(&name).await?;
            show(out, json, &answer, table::render_revoked)
        }
        AdminCommand::Node { command: NodeCommand::List } | AdminCommand::Nodes => {
            let answer = client.nodes().await?;
            let now = now_ms();
            show(out, json, &answer, |list| table::render_nodes(&list.nodes, now))
        }
        AdminCommand::Settings => {
            let answer = client.settings().await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Follow { host } => {
            let request = wire::HostRequest { host: Field::Given(host) };
            let answer = client.admin::<wire::Followed>(Method::POST, "following", body(&request)).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Unfollow { host } => {
            let target = format!("following?host={}", AdminClient::encode_query(&host));
            let answer = client.admin::<wire::Unfollowed>(Method::DELETE, &target, None).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Followers => {
            let answer = client.admin::<wire::Followers>(Method::GET, "followers", None).await?;
            show(out, json, &answer, |v| table::render_follows(&v.followers, "followers"))
        }
        AdminCommand::Following => {
            let answer = client.admin::<wire::Following>(Method::GET, "following", None).await?;
            show(out, json, &answer, |v| table::render_follows(&v.following, "following"))
        }
        AdminCommand::AcceptFollower { actor } => {
            let request = wire::ActorRequest { actor: Field::Given(actor) };
            let answer = client.admin::<wire::FollowerAnswered>(Method::POST, "followers/accept", body(&request)).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::RejectFollower { actor } => {
            let request = wire::ActorRequest { actor: Field::Given(actor) };
            let answer = client.admin::<wire::FollowerAnswered>(Method::POST, "followers/reject", body(&request)).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Block { host } => {
            let request = wire::HostRequest { host: Field::Given(host) };
            let answer = client.admin::<wire::Blocked>(Method::POST, "blocklist", body(&request)).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Unblock { host } => {
            let target = format!("blocklist?host={}", AdminClient::encode_query(&host));
            let answer = client.admin::<wire::Unblocked>(Method::DELETE, &target, None).await?;
            show_fields(out, json, &answer)
        }
        AdminCommand::Redundancy { command } => super::redundancy_cli::run(&client, command, json, out, err, progress_bar).await,
        AdminCommand::Federation { auto_follow_back, manual_approval, reject_followers } => {
            let change = wire::FederationChange {
                auto_follow_back: Field::from_option(auto_follow_back),
                manual_approval: Field::from_option(manual_approval),
                reject_followers: Field::from_option(reject_followers),
            };
            let answer = if change == wire::FederationChange::default() {
                client.admin::<wire::FederationSettings>(Method::GET, "federation", None).await?
            } else {
                client.admin::<wire::FederationSettings>(Method::PUT, "federation", body(&change)).await?
            };
            show_fields(out, json, &answer)
        }
    }
}

/// Writes `text` to a new file only its owner may read (mode 0600), or over an existing one
/// with `overwrite` (its mode made 0600 too).
fn write_private(path: &Path, text: &str, overwrite: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn show<T>(
    out: &mut impl Write,
    json: bool,
    answer: &Answer<T>,
    render: impl FnOnce(&T) -> Vec<String>,
) -> Result<ExitCode, AdminError> {
    if json {
        print_json(out, answer);
    } else {
        print_lines(out, &render(&answer.data));
    }
    Ok(ExitCode::SUCCESS)
}

/// An answer shown as its fields, `key: value` a line (nested keys dotted), as sent.
fn show_fields<T>(out: &mut impl Write, json: bool, answer: &Answer<T>) -> Result<ExitCode, AdminError> {
    if json {
        print_json(out, answer);
    } else {
        print_lines(out, &table::render_settings(&answer.raw));
    }
    Ok(ExitCode::SUCCESS)
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "hashing {wide_msg} {bytes}/{total_bytes} [{bar:30}] {binary_bytes_per_sec}, {eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn show_progress(bar: &ProgressBar, p: &Progress) {
    bar.set_length(p.total);
    bar.set_position(p.done);
    bar.set_message(table::clean(&p.file));
}
