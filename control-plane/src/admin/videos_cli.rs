//! `vidseed admin video list` (our videos as federated: UUID, title, duration, resolution, state,
//! who caches them) and `vidseed admin video edit UUID --title …` (an Update follows). Does I/O
//! through the admin client; the table is pure.

use std::io::Write;

use clap::Subcommand;
use http::Method;

use super::client::{AdminClient, AdminError};
use super::table::{clock_duration, resolution};
use crate::publish::wire::{PublishedEntry, PublishedList, VideoEdit};

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum VideoCommand {
    /// Our videos as other instances see them: UUID, title, duration, resolution, state and
    /// the instances that keep a copy
    List,
    /// Edit a video's metadata; followers get an Update at once
    Edit(Box<EditArgs>),
}

/// `vidseed admin video edit`.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct EditArgs {
    /// The video's UUID (see `vidseed admin videos`)
    uuid: String,
    /// Its title (3 to 120 characters)
    #[arg(long)]
    title: Option<String>,
    /// Its description (Markdown, 3 to 10 000 characters; "" removes it)
    #[arg(long)]
    description: Option<String>,
    /// Its language code, e.g. en, fr, pt-br ("" removes it)
    #[arg(long)]
    language: Option<String>,
    /// PeerTube's licence number, 1 to 7 (0 removes it)
    #[arg(long)]
    licence: Option<i64>,
    /// PeerTube's category number, 1 to 18 (0 removes it)
    #[arg(long)]
    category: Option<i64>,
    /// A tag (repeat for up to 5; the list replaces the old one)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Remove every tag
    #[arg(long, conflicts_with = "tags")]
    no_tags: bool,
}

/// The table of `vidseed admin video list`.
pub fn render(videos: &[PublishedEntry]) -> Vec<String> {
    if videos.is_empty() {
        return vec!["no videos published yet".into()];
    }
    let rows: Vec<[String; 6]> = videos
        .iter()
        .map(|v| {
            let cached = if v.cached_at.is_empty() { "-".to_owned() } else { v.cached_at.join(" ") };
            [v.uuid.clone(), v.title.clone(), clock_duration(v.duration), resolution(v.width, v.height, v.fps), v.state.clone(), cached]
        })
        .collect();
    let head = ["UUID", "TITLE", "DURATION", "RESOLUTION", "STATE", "CACHED AT"];
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..6).map(width).collect();
    let line = |cells: [&str; 6]| {
        cells.iter().enumerate().map(|(i, c)| if i == 5 { c.to_string() } else { format!("{c:<w$}", w = widths[i]) }).collect::<Vec<_>>().join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(head)];
    for r in &rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
    }
    out
}

/// `vidseed admin videos`.
pub async fn list(client: &AdminClient, out: &mut impl Write, json: bool) -> Result<(), AdminError> {
    let answer = client.admin::<PublishedList>(Method::GET, "videos/published", None).await?;
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&answer.raw).unwrap_or_default());
        return Ok(());
    }
    for l in render(&answer.data.videos) {
        let _ = writeln!(out, "{l}");
    }
    Ok(())
}

/// `vidseed admin video …`.
pub async fn run(client: &AdminClient, command: VideoCommand, out: &mut impl Write, json: bool) -> Result<(), AdminError> {
    let VideoCommand::Edit(args) = command else {
        return list(client, out, json).await;
    };
    let EditArgs { uuid, title, description, language, licence, category, tags, no_tags } = *args;
    let edit = VideoEdit {
        title,
        description,
        language,
        licence,
        category,
        tags: if no_tags { Some(Vec::new()) } else if tags.is_empty() { None } else { Some(tags) },
    };
    if edit.is_empty() {
        return Err(AdminError::Local { what: "nothing to change".into(), hint: Some("give --title, --description, --language, --licence, --category or --tag".into()) });
    }
    let body = serde_json::to_value(&edit).unwrap_or_default();
    let answer = client.admin::<PublishedEntry>(Method::PUT, &format!("videos/published/{uuid}"), Some(body)).await?;
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&answer.raw).unwrap_or_default());
    } else {
        let e = &answer.data;
        let _ = writeln!(out, "updated {} ({}): followers get an Update", e.uuid, e.title);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_uuid_title_duration_resolution_and_copies() {
        let e = PublishedEntry {
            uuid: "202e2a06-b073-46f0-8197-a77a379ce081".into(),
            title: "sample clip".into(),
            path: "a.mp4".into(),
            duration: Some(3725),
            width: Some(640),
            height: Some(360),
            fps: Some(25),
            state: "federated".into(),
            url: "http://x/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081".into(),
            description: None,
            language: None,
            licence: None,
            category: None,
            tags: vec![],
            cached_at: vec!["127.0.0.1:9012".into()],
        };
        let t = render(&[e]);
        assert!(t[0].starts_with("UUID"));
        assert!(t[1].contains("sample clip") && t[1].contains("1:02:05") && t[1].contains("640x360 25fps") && t[1].ends_with("127.0.0.1:9012"), "{}", t[1]);
        assert_eq!(clock_duration(Some(8)), "0:08");
        assert_eq!(clock_duration(None), "-");
        assert_eq!(resolution(Some(0), Some(0), None), "-", "audio only");
        assert_eq!(render(&[]), vec!["no videos published yet".to_owned()]);
    }
}
