//! `vidseed admin redundancy …`: its subcommands and their running against the admin API's
//! redundancy endpoints. Does I/O: HTTP through the client, standard output and error, and for
//! `add` a progress bar fed by polling the copies' state until every copy serves or failed.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use http::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use super::client::{body, AdminClient, AdminError, Answer};
use super::redundancy_table as t;
use super::wire::{self, CopyList, Field, RedundancySettings};
use crate::redundancy::config::{parse_duration, parse_size};

/// How often `add` asks how the download goes.
const POLL: Duration = Duration::from_millis(500);
/// After this long with nothing downloaded, `add` says why it may be waiting.
const QUIET: Duration = Duration::from_secs(30);

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum RedundancyCommand {
    /// Keep a copy of a followed instance's video (give its URL; its host must allow
    /// redundancy), then show the download's progress until the nodes serve it
    Add {
        video_url: String,
        /// Return once the copy is recorded, without waiting for the download
        #[arg(long)]
        no_wait: bool,
    },
    /// List the copies this instance keeps: video, kind, size, state, nodes serving it, expiry
    #[command(visible_alias = "copies")]
    List,
    /// Stop keeping a video's copies (its origin is told first, then the nodes delete the files)
    Remove { video_url: String },
    /// Allow copies of a followed instance's videos (off by default, as in PeerTube)
    Allow { host: String },
    /// Stop copying an instance's videos; the copies of them are removed
    Deny { host: String },
    /// The followed instances and whether their videos may be copied
    Hosts,
    /// Show or change the strategies that choose what to copy (most-views, trending,
    /// recently-added)
    Strategy {
        #[command(subcommand)]
        command: Option<StrategyCommand>,
    },
    /// Show, or set, who may keep copies of this instance's videos: nobody, anybody (the
    /// default) or followings
    AcceptFrom { value: Option<String> },
    /// The fetch orders the data nodes get (files, sources, checks)
    Orders,
    /// The copies other instances keep of this instance's videos
    Received,
    /// The followed instances' videos this instance knows (what `add` can copy)
    Videos,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum StrategyCommand {
    /// List the strategies
    List,
    /// Add or change a strategy
    Set {
        /// most-views, trending or recently-added
        name: String,
        /// What its copies may take together, e.g. 10GB
        #[arg(long)]
        size: String,
        /// How long a copy is kept at least, e.g. "25 hours" or 25h (PeerTube wants 10 h or more)
        #[arg(long)]
        min_lifetime: String,
        /// recently-added only: fewer views and a video is not copied
        #[arg(long)]
        min_views: Option<u64>,
    },
    /// Remove a strategy (its copies are dropped as they expire)
    Remove { name: String },
}

fn print_lines(out: &mut impl Write, lines: &[String]) {
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

fn print<T>(out: &mut impl Write, json: bool, answer: &Answer<T>, render: impl FnOnce(&T) -> Vec<String>) -> Result<ExitCode, AdminError> {
    if json {
        let text = serde_json::to_string_pretty(&answer.raw).unwrap_or_else(|_| answer.raw.to_string());
        let _ = writeln!(out, "{text}");
    } else {
        print_lines(out, &render(&answer.data));
    }
    Ok(ExitCode::SUCCESS)
}

fn local(what: String, hint: &str) -> AdminError {
    AdminError::Local { what, hint: Some(hint.to_owned()) }
}

/// Runs one `redundancy` subcommand.
pub async fn run<O: Write, E: Write>(
    client: &AdminClient,
    command: RedundancyCommand,
    json: bool,
    out: &mut O,
    err: &mut E,
    progress_bar: bool,
) -> Result<ExitCode, AdminError> {
    use RedundancyCommand as R;
    let q = AdminClient::encode_query;
    match command {
        R::Add { video_url, no_wait } => add(client, &video_url, no_wait, json, out, err, progress_bar).await,
        R::List => {
            let a = client.admin::<CopyList>(Method::GET, "redundancy", None).await?;
            print(out, json, &a, |v| t::render_copies(&v.copies))
        }
        R::Remove { video_url } => {
            let a = client.admin::<wire::CopiesRemoved>(Method::DELETE, &format!("redundancy?videoUrl={}", q(&video_url)), None).await?;
            print(out, json, &a, |v| vec![format!("removed {} cop(ies) of {video_url}; its origin is told", v.removed)])
        }
        R::Allow { host } => {
            let request = wire::HostRequest { host: Field::Given(host) };
            let a = client.admin::<wire::HostPermission>(Method::POST, "redundancy/hosts", body(&request)).await?;
            print(out, json, &a, |v| vec![format!("copies of {}'s videos are allowed", v.host)])
        }
        R::Deny { host } => {
            let a = client.admin::<wire::HostPermission>(Method::DELETE, &format!("redundancy/hosts?host={}", q(&host)), None).await?;
            let removed = |v: &wire::HostPermission| v.removed_copies.map_or_else(|| "null".to_owned(), |n| n.to_string());
            print(out, json, &a, |v| vec![format!("copies of {}'s videos are denied; {} cop(ies) removed", v.host, removed(v))])
        }
        R::Hosts => {
            let a = client.admin::<wire::HostList>(Method::GET, "redundancy/hosts", None).await?;
            print(out, json, &a, t::render_hosts)
        }
        R::Strategy { command } => strategy(client, command.unwrap_or(StrategyCommand::List), json, out).await,
        R::AcceptFrom { value } => {
            let a = match value {
                Some(v) => {
                    let change = wire::RedundancyChange { accept_from: Field::Given(v), ..Default::default() };
                    client.admin::<RedundancySettings>(Method::PUT, "redundancy/strategies", body(&change)).await?
                }
                None => client.admin::<RedundancySettings>(Method::GET, "redundancy/strategies", None).await?,
            };
            print(out, json, &a, |v| vec![format!("copies of this instance's videos accepted from: {}", v.accept_from)])
        }
        R::Orders => {
            let a = client.admin::<wire::OrderList>(Method::GET, "redundancy/orders", None).await?;
            print(out, json, &a, |v| t::render_orders(&v.orders))
        }
        R::Received => {
            let a = client.admin::<wire::ReceivedList>(Method::GET, "redundancy/received", None).await?;
            print(out, json, &a, |v| t::render_received(&v.received))
        }
        R::Videos => {
            let a = client.admin::<wire::RemoteVideoList>(Method::GET, "redundancy/videos", None).await?;
            print(out, json, &a, |v| t::render_remote_videos(&v.videos))
        }
    }
}

async fn strategy(client: &AdminClient, command: StrategyCommand, json: bool, out: &mut impl Write) -> Result<ExitCode, AdminError> {
    let current = client.admin::<RedundancySettings>(Method::GET, "redundancy/strategies", None).await?;
    let list = &current.data.strategies;
    let strategies = match command {
        StrategyCommand::List => return print(out, json, &current, t::render_strategies),
        StrategyCommand::Set { name, size, min_lifetime, min_views } => {
            let size = parse_size(&size).map_err(|e| local(e, "give a size like 10GB or 500MB"))?;
            let life = parse_duration(&min_lifetime).map_err(|e| local(e, "give a duration like \"25 hours\" or 25h"))?;
            t::with_strategy(list, &name, size, life.as_secs(), min_views)
        }
        StrategyCommand::Remove { name } => t::without_strategy(list, &name)
            .ok_or_else(|| local(format!("there is no {name} strategy"), "list them with `vidseed admin redundancy strategy`"))?,
    };
    let change = wire::RedundancyChange { strategies: Field::Given(wire::to_json(&strategies)), ..Default::default() };
    let a = client.admin::<RedundancySettings>(Method::PUT, "redundancy/strategies", body(&change)).await?;
    print(out, json, &a, t::render_strategies)
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("copying {bytes}/{total_bytes} [{bar:30}] {binary_bytes_per_sec} {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn add<O: Write, E: Write>(
    client: &AdminClient,
    video_url: &str,
    no_wait: bool,
    json: bool,
    out: &mut O,
    err: &mut E,
    progress_bar: bool,
) -> Result<ExitCode, AdminError> {
    let request = wire::AddCopy { video_url: Field::Given(video_url.to_owned()) };
    let first = client.admin::<CopyList>(Method::POST, "redundancy", body(&request)).await?;
    let mut copies = first.data.copies.clone();
    let video = copies.first().map_or_else(|| video_url.to_owned(), |c| c.video_url.clone());
    let mut last = first;
    if !no_wait {
        let bar = progress_bar.then(new_bar);
        let (start, mut hinted) = (Instant::now(), false);
        loop {
            let d = t::download_of(&copies, &video);
            if let Some(bar) = &bar {
                bar.set_length(d.total);
                bar.set_position(d.done);
                bar.set_message(d.summary.clone());
            }
            if d.finished {
                break;
            }
            if !copies.iter().any(|c| c.video_url == video) {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Err(local(format!("the copies of {video} were removed meanwhile"), "see `vidseed admin redundancy list`"));
            }
            if !hinted && d.done == 0 && start.elapsed() >= QUIET {
                hinted = true;
                let text = "no data node has downloaded anything yet: copies are made by data nodes that can fetch \
                            (see `vidseed admin redundancy orders` and `vidseed admin nodes`); Ctrl-C leaves, the copy goes on";
                match &bar {
                    Some(bar) => bar.suspend(|| writeln!(err, "note: {text}")),
                    None => writeln!(err, "note: {text}"),
                }
                .ok();
            }
            tokio::time::sleep(POLL).await;
            last = client.admin::<CopyList>(Method::GET, "redundancy", None).await?;
            copies = last.data.copies.clone();
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
    let mine: Vec<Value> = last.raw["copies"].as_array().into_iter().flatten().filter(|c| c["videoUrl"] == video.as_str()).cloned().collect();
    if json {
        let text = serde_json::to_string_pretty(&json!({ "copies": mine })).unwrap_or_default();
        let _ = writeln!(out, "{text}");
    } else {
        print_lines(out, &t::render_download(&copies, &video));
    }
    let failed = t::download_of(&copies, &video).failed;
    let _ = out.flush();
    for f in &failed {
        let _ = writeln!(err, "error: {f}");
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
