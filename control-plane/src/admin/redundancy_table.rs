//! `vidseed admin redundancy …`'s answers (their types are `wire.rs`'s) as text, pure: the copies this
//! instance keeps (with their state, progress and nodes), a download's progress over a video's
//! copies, the hosts whose videos may be copied, the strategies, the fetch orders and the
//! copies others keep of our videos.

use super::table::{clean, human_size, render_table, Align};
use super::wire::{CopyInfo, FetchOrder, HostList, ReceivedCopy, RedundancySettings, RemoteVideoInfo, StrategyInfo};

fn kind_cell(c: &CopyInfo) -> String {
    match (c.kind.as_str(), c.resolution) {
        ("hls", _) => "HLS".to_owned(),
        (_, Some(r)) => format!("web-video {r}p{}", c.fps.map_or_else(String::new, |f| f.to_string())),
        (k, None) => k.to_owned(),
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done.min(total).saturating_mul(100)).checked_div(total).unwrap_or(0)
}

fn state_cell(c: &CopyInfo) -> String {
    match c.state.as_str() {
        "downloading" | "verifying" => format!("{} {}%", c.state, percent(c.done_bytes, c.total_bytes)),
        s => s.to_owned(),
    }
}

/// The copies table: VIDEO, KIND, SIZE, STRATEGY, STATE, NODES, EXPIRES; a failed copy's reason
/// on an indented line below it.
pub fn render_copies(copies: &[CopyInfo]) -> Vec<String> {
    if copies.is_empty() {
        return vec!["this instance keeps no copies; add one with `vidseed admin redundancy add VIDEO_URL`".to_owned()];
    }
    let columns = [
        ("VIDEO", Align::Left),
        ("KIND", Align::Left),
        ("SIZE", Align::Right),
        ("STRATEGY", Align::Left),
        ("STATE", Align::Left),
        ("NODES", Align::Left),
        ("EXPIRES", Align::Left),
    ];
    let rows: Vec<Vec<String>> = copies
        .iter()
        .map(|c| {
            vec![
                c.video_name.clone().unwrap_or_else(|| c.video_url.clone()),
                kind_cell(c),
                human_size(c.size),
                c.strategy.clone(),
                state_cell(c),
                if c.nodes.is_empty() { "-".to_owned() } else { c.nodes.join(", ") },
                c.expires.clone().unwrap_or_else(|| "never".to_owned()),
            ]
        })
        .collect();
    let mut table = render_table(&columns, &rows).into_iter();
    let mut out: Vec<String> = table.next().into_iter().collect();
    for (line, c) in table.zip(copies) {
        out.push(line);
        if c.video_name.is_some() {
            out.push(format!("    url     {}", clean(&c.video_url)));
        }
        if let Some(r) = c.reason.as_deref().filter(|_| c.state == "failed") {
            out.push(format!("    reason  {}", clean(r)));
        }
        if let Some(line) = retry_line(c) {
            out.push(format!("    retry   {line}"));
        }
    }
    out
}

/// When a failed copy is tried again, or that it no longer is.
fn retry_line(c: &CopyInfo) -> Option<String> {
    let failures = |n: u32| if n == 1 { "1 failure".to_owned() } else { format!("{n} failures") };
    if c.gave_up {
        let how = if c.strategy == "manual" { "add it again to try again" } else { "its strategy drops it" };
        return Some(format!("given up after {} in a row; {how}", failures(c.attempts)));
    }
    c.retry_at.as_deref().map(|at| format!("{} so far; next try at {}", failures(c.attempts), clean(at)))
}

/// Where a download of a video's copies stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub done: u64,
    pub total: u64,
    /// Every copy serves or failed: nothing more will happen.
    pub finished: bool,
    /// Copies that failed, with their reasons.
    pub failed: Vec<String>,
    /// `2 serving, 1 downloading`.
    pub summary: String,
}

/// The progress of the copies of `video_url`, summed.
pub fn download_of(copies: &[CopyInfo], video_url: &str) -> Download {
    let mine: Vec<&CopyInfo> = copies.iter().filter(|c| c.video_url == video_url).collect();
    let done = mine.iter().map(|c| if c.state == "serving" { c.total_bytes.max(c.done_bytes) } else { c.done_bytes }).sum();
    let total = mine.iter().map(|c| c.total_bytes.max(c.size)).sum();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in &mine {
        match counts.iter_mut().find(|(s, _)| *s == c.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.state.clone(), 1)),
        }
    }
    let summary = counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
    let failed = mine
        .iter()
        .filter(|c| c.state == "failed")
        .map(|c| {
            let why = format!("{}: {}", kind_cell(c), c.reason.as_deref().unwrap_or("failed"));
            match retry_line(c) {
                Some(retry) => format!("{why} ({retry})"),
                None => why,
            }
        })
        .collect();
    let finished = !mine.is_empty() && mine.iter().all(|c| c.state == "serving" || c.state == "failed");
    Download { done, total, finished, failed, summary }
}

/// After `redundancy add`: what became of the copies.
pub fn render_download(copies: &[CopyInfo], video_url: &str) -> Vec<String> {
    let d = download_of(copies, video_url);
    let mut out = vec![format!("{}: {} ({} of {})", clean(video_url), d.summary, human_size(d.done), human_size(d.total))];
    out.extend(render_copies(&copies.iter().filter(|c| c.video_url == video_url).cloned().collect::<Vec<_>>()));
    out
}

/// HOST, REDUNDANCY (allowed/denied), FOLLOWED.
pub fn render_hosts(list: &HostList) -> Vec<String> {
    if list.hosts.is_empty() {
        return vec!["this instance follows no instance; follow one with `vidseed admin follow HOST`".to_owned()];
    }
    let rows: Vec<Vec<String>> = list
        .hosts
        .iter()
        .map(|h| vec![h.host.clone(), if h.allowed { "allowed" } else { "denied" }.to_owned(), if h.followed { "yes" } else { "no" }.to_owned()])
        .collect();
    render_table(&[("HOST", Align::Left), ("REDUNDANCY", Align::Left), ("FOLLOWED", Align::Left)], &rows)
}

fn duration_text(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The strategies (STRATEGY, SIZE, MIN LIFETIME, MIN VIEWS), the check interval and who may
/// keep copies of our videos.
pub fn render_strategies(s: &RedundancySettings) -> Vec<String> {
    let mut out = if s.strategies.is_empty() {
        vec!["no strategy: only copies added by hand are kept (`vidseed admin redundancy strategy set most-views --size 10GB --min-lifetime 25h`)".to_owned()]
    } else {
        let rows: Vec<Vec<String>> = s
            .strategies
            .iter()
            .map(|x| vec![x.strategy.clone(), human_size(x.size), duration_text(x.min_lifetime), x.min_views.map_or_else(|| "-".to_owned(), |v| v.to_string())])
            .collect();
        render_table(&[("STRATEGY", Align::Left), ("SIZE", Align::Right), ("MIN LIFETIME", Align::Right), ("MIN VIEWS", Align::Right)], &rows)
    };
    if let Some(i) = s.check_interval {
        out.push(format!("checked every {}", duration_text(i)));
    }
    out.push(format!("copies of this instance's videos accepted from: {}", clean(&s.accept_from)));
    out
}

/// The strategies list with `name` set (added or replaced), as the API takes it.
pub fn with_strategy(current: &[StrategyInfo], name: &str, size: u64, min_lifetime_secs: u64, min_views: Option<u64>) -> Vec<StrategyInfo> {
    let mut list: Vec<StrategyInfo> = current.iter().filter(|s| s.strategy != name).cloned().collect();
    list.push(StrategyInfo { strategy: name.to_owned(), size, min_lifetime: min_lifetime_secs, min_views });
    list
}

/// The strategies list without `name`; `None` if it was not there.
pub fn without_strategy(current: &[StrategyInfo], name: &str) -> Option<Vec<StrategyInfo>> {
    current.iter().any(|s| s.strategy == name).then(|| current.iter().filter(|s| s.strategy != name).cloned().collect())
}

/// The fetch orders: per order its id, then each file's path, size, check and first source.
pub fn render_orders(orders: &[FetchOrder]) -> Vec<String> {
    if orders.is_empty() {
        return vec!["no fetch orders".to_owned()];
    }
    let mut out = Vec::new();
    for o in orders {
        out.push(clean(&o.id));
        let rows: Vec<Vec<String>> = o
            .files
            .iter()
            .map(|f| {
                vec![
                    format!("  {}", f.path),
                    human_size(f.size),
                    f.check.kind().to_owned(),
                    f.sources.first().map_or("-", String::as_str).to_owned(),
                ]
            })
            .collect();
        out.extend(render_table(&[("  FILE", Align::Left), ("SIZE", Align::Right), ("CHECK", Align::Left), ("SOURCE", Align::Left)], &rows));
    }
    out
}

/// The copies others keep of our videos: VIDEO, URL, EXPIRES, CHECKED.
pub fn render_received(list: &[ReceivedCopy]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no other instance keeps a copy of this instance's videos".to_owned()];
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.video_url.clone(),
                c.href.clone(),
                c.expires.clone().unwrap_or_else(|| "never".to_owned()),
                if c.verified { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    render_table(&[("VIDEO", Align::Left), ("COPY", Align::Left), ("EXPIRES", Align::Left), ("CHECKED", Align::Left)], &rows)
}

/// The followed instances' videos: NAME, HOST, VIEWS, SIZE, FILES, COPIED, and the URL below.
pub fn render_remote_videos(list: &[RemoteVideoInfo]) -> Vec<String> {
    if list.is_empty() {
        return vec!["no video of a followed instance is known yet (they come with its activities and outbox)".to_owned()];
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|x| {
            let files = format!("{} web{}", x.web_videos, if x.hls { " + HLS" } else { "" });
            vec![x.name.clone(), x.host.clone(), x.views.to_string(), human_size(x.size), files, if x.copied { "yes" } else { "no" }.to_owned()]
        })
        .collect();
    let columns = [("NAME", Align::Left), ("HOST", Align::Left), ("VIEWS", Align::Right), ("SIZE", Align::Right), ("FILES", Align::Left), ("COPIED", Align::Left)];
    let mut table = render_table(&columns, &rows).into_iter();
    let mut out: Vec<String> = table.next().into_iter().collect();
    for (line, x) in table.zip(list) {
        out.push(line);
        out.push(format!("    url  {}", clean(&x.url)));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admin::wire::CopyList;

    fn copy(kind: &str, state: &str, done: u64, reason: Option<&str>) -> CopyInfo {
        CopyInfo {
            id: format!("https://me/redundancy/{kind}"),
            video_url: "https://o.example/videos/watch/u".into(),
            video_name: Some("sample clip".into()),
            kind: kind.into(),
            resolution: (kind == "web-video").then_some(360),
            fps: (kind == "web-video").then_some(25),
            size: 1000,
            strategy: "manual".into(),
            state: state.into(),
            reason: reason.map(Into::into),
            done_bytes: done,
            total_bytes: 1000,
            nodes: if state == "serving" { vec!["edge-1".into()] } else { vec![] },
            expires: None,
            expires_at: None,
            announced: false,
            created_at: 0,
            updated_at: 0,
            attempts: 0,
            retry_at: None,
            gave_up: false,
        }
    }

    #[test]
    fn copies_show_state_progress_nodes_and_reasons() {
        let lines = render_copies(&[copy("web-video", "downloading", 420, None), copy("hls", "failed", 0, Some("the origin\u{1b}[2J is gone")), copy("web-video", "serving", 1000, None)]);
        assert!(lines[0].starts_with("VIDEO") && lines[0].contains("EXPIRES"), "{lines:?}");
        assert!(lines[1].contains("web-video 360p25") && lines[1].contains("downloading 42%") && lines[1].contains("never"), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("reason  the origin?[2J is gone")), "control characters cleaned: {lines:?}");
        assert!(lines.iter().any(|l| l.contains("serving") && l.contains("edge-1")), "{lines:?}");
        assert!(lines.iter().any(|l| l.trim_start().starts_with("url     https://o.example")), "{lines:?}");
        assert!(render_copies(&[])[0].contains("redundancy add"));
        let parsed: CopyList = serde_json::from_value(json!({ "copies": [{
            "id": "x", "videoUrl": "v", "kind": "hls", "size": 5, "strategy": "trending", "state": "preparing",
            "doneBytes": 0, "totalBytes": 5, "expires": "2026-12-08T00:00:00.000Z", "announced": false }] }))
        .unwrap();
        assert_eq!(parsed.copies[0].expires.as_deref(), Some("2026-12-08T00:00:00.000Z"));
    }

    #[test]
    fn a_failed_copy_says_when_it_is_tried_again_or_that_it_no_longer_is() {
        let waiting = CopyInfo { attempts: 2, retry_at: Some("2026-12-08T00:01:00.000Z".into()), ..copy("hls", "failed", 0, Some("local: no source left")) };
        let lines = render_copies(&[waiting]);
        assert!(lines.iter().any(|l| l.trim_start() == "retry   2 failures so far; next try at 2026-12-08T00:01:00.000Z"), "{lines:?}");
        let manual = CopyInfo { attempts: 8, gave_up: true, ..copy("hls", "failed", 0, Some("x")) };
        assert!(render_copies(std::slice::from_ref(&manual)).iter().any(|l| l.contains("given up after 8 failures in a row; add it again")));
        let strategy = CopyInfo { strategy: "trending".into(), ..manual };
        assert!(render_copies(&[strategy]).iter().any(|l| l.contains("its strategy drops it")));
        assert!(!render_copies(&[copy("hls", "serving", 1000, None)]).iter().any(|l| l.contains("retry")));
        let waiting = CopyInfo { attempts: 1, retry_at: Some("T".into()), ..copy("hls", "failed", 0, Some("gone")) };
        assert_eq!(download_of(&[waiting], "https://o.example/videos/watch/u").failed, vec!["HLS: gone (1 failure so far; next try at T)".to_owned()]);
        let parsed: CopyList = serde_json::from_value(json!({ "copies": [{
            "id": "x", "videoUrl": "v", "kind": "hls", "size": 5, "strategy": "manual", "state": "failed",
            "doneBytes": 0, "totalBytes": 5, "attempts": 1, "retryAt": "2026-12-08T00:00:00.000Z", "gaveUp": false }] }))
        .unwrap();
        assert_eq!((parsed.copies[0].attempts, parsed.copies[0].retry_at.as_deref()), (1, Some("2026-12-08T00:00:00.000Z")));
    }

    #[test]
    fn a_download_sums_the_video_s_copies() {
        let url = "https://o.example/videos/watch/u";
        let d = download_of(&[copy("web-video", "downloading", 250, None), copy("hls", "serving", 1000, None)], url);
        assert_eq!((d.done, d.total, d.finished), (1250, 2000, false));
        assert_eq!(d.summary, "1 downloading, 1 serving");
        let d = download_of(&[copy("web-video", "failed", 0, Some("disk full")), copy("hls", "serving", 1000, None)], url);
        assert!(d.finished);
        assert_eq!(d.failed, vec!["web-video 360p25: disk full".to_owned()]);
        assert!(!download_of(&[], url).finished, "no copy yet: not finished");
        assert!(render_download(&[copy("hls", "serving", 1000, None)], url)[0].contains("1 serving (1000 B of 1000 B)"));
    }

    #[test]
    fn strategies_are_edited_one_at_a_time() {
        let current = vec![
            StrategyInfo { strategy: "most-views".into(), size: 10, min_lifetime: 3600, min_views: None },
            StrategyInfo { strategy: "recently-added".into(), size: 20, min_lifetime: 7200, min_views: Some(3) },
        ];
        let v = crate::admin::wire::to_json(&with_strategy(&current, "most-views", 99, 90_000, None));
        assert_eq!(v, json!([{ "strategy": "recently-added", "size": 20, "minLifetime": 7200, "minViews": 3 }, { "strategy": "most-views", "size": 99, "minLifetime": 90_000 }]));
        let v = without_strategy(&current, "recently-added").map(|l| crate::admin::wire::to_json(&l));
        assert_eq!(v, Some(json!([{ "strategy": "most-views", "size": 10, "minLifetime": 3600 }])));
        assert_eq!(without_strategy(&current, "trending"), None);
        let text = render_strategies(&RedundancySettings { strategies: current, accept_from: "anybody".into(), check_interval: Some(3600) });
        assert!(text[1].contains("most-views") && text[1].contains("1 h"), "{text:?}");
        assert!(text.iter().any(|l| l == "checked every 1 h"));
        assert!(text.last().unwrap().ends_with("anybody"));
        assert!(render_strategies(&RedundancySettings { strategies: vec![], accept_from: "nobody".into(), check_interval: None })[0].contains("no strategy"));
    }

    #[test]
    fn hosts_orders_and_received_copies() {
        let hosts: HostList = serde_json::from_value(json!({ "hosts": [{ "host": "a.example", "allowed": true, "followed": true }, { "host": "b.example", "allowed": false, "followed": true }] })).unwrap();
        let t = render_hosts(&hosts);
        assert!(t[1].contains("a.example") && t[1].contains("allowed"));
        assert!(t[2].contains("denied"));
        let orders: crate::admin::wire::OrderList = serde_json::from_value(json!({ "orders": [{ "id": "https://me/redundancy/videos/u/360",
            "files": [{ "path": "a.mp4", "urlPath": "/static/redundancy/a.mp4", "size": 2048, "contentType": "video/mp4",
                        "check": { "kind": "pieces", "pieceLength": 1024, "sha1": [] }, "sources": ["https://o/a.mp4"] }],
            "parallel": 4 }] }))
        .unwrap();
        let t = render_orders(&orders.orders);
        assert_eq!(t[0], "https://me/redundancy/videos/u/360");
        assert!(t[2].contains("a.mp4") && t[2].contains("2.0 KiB") && t[2].contains("pieces") && t[2].contains("https://o/a.mp4"), "{t:?}");
        assert_eq!(render_orders(&[]), vec!["no fetch orders".to_owned()]);
        let rec: crate::admin::wire::ReceivedList = serde_json::from_value(json!({ "received": [{ "id": "https://c/redundancy/1", "actor": "https://c/accounts/peertube",
            "videoUrl": "https://me/videos/watch/ab", "infoHash": "ab".repeat(20), "href": "https://c/static/redundancy/a.mp4", "expires": null, "verified": true }] }))
        .unwrap();
        let t = render_received(&rec.received);
        assert!(t[1].contains("never") && t[1].ends_with("yes"), "{t:?}");
        let videos: crate::admin::wire::RemoteVideoList = serde_json::from_value(json!({ "videos": [{ "url": "https://o/videos/watch/u", "name": "clip", "host": "o",
            "published": "2025-01-02T03:04:05.000Z", "views": 7, "size": 2048, "webVideos": 2, "hls": true, "copied": false }] }))
        .unwrap();
        let t = render_remote_videos(&videos.videos);
        assert!(t[1].contains("clip") && t[1].contains("2 web + HLS") && t[1].ends_with("no"), "{t:?}");
        assert_eq!(t[2], "    url  https://o/videos/watch/u");
    }
}
