//! The redundancy settings as the admin gives them and the store keeps them, pure: the
//! strategies (PeerTube's `redundancy.videos.strategies`: `most-views`, `trending`,
//! `recently-added` with `min_views`, each with a size budget and a `min_lifetime`), who may keep
//! copies of our videos (PeerTube's `remote_redundancy.videos.accept_from`: `nobody`, `anybody`
//! — the default — or `followings`), and the sizes and durations people write (`10GB`,
//! `25 hours`).

use std::time::Duration;

use serde_json::{json, Value};

use super::strategy::{Strategy, StrategyKind};

/// The settings key of the strategies (JSON, as [`strategies_to_json`] writes them).
pub const SETTING_STRATEGIES: &str = "redundancy_strategies";
/// The settings key of [`AcceptFrom`].
pub const SETTING_ACCEPT_FROM: &str = "redundancy_accept_from";

/// Who may keep copies of this instance's videos.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AcceptFrom {
    Nobody,
    /// Any instance (PeerTube's default).
    #[default]
    Anybody,
    /// Only instances this one follows (accepted follows).
    Followings,
}

impl AcceptFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptFrom::Nobody => "nobody",
            AcceptFrom::Anybody => "anybody",
            AcceptFrom::Followings => "followings",
        }
    }

    pub fn parse(s: &str) -> Result<AcceptFrom, String> {
        match s.trim() {
            "nobody" => Ok(AcceptFrom::Nobody),
            "anybody" => Ok(AcceptFrom::Anybody),
            "followings" => Ok(AcceptFrom::Followings),
            other => Err(format!("accept-from {other:?} is none of nobody, anybody, followings")),
        }
    }

    /// Whether a copy sent by an instance is accepted: never from a blocked host; otherwise as
    /// the setting says, `followed` telling whether this instance follows the sender.
    pub fn accepts(self, followed: bool, blocked: bool) -> bool {
        !blocked
            && match self {
                AcceptFrom::Nobody => false,
                AcceptFrom::Anybody => true,
                AcceptFrom::Followings => followed,
            }
    }
}

/// Bytes in `10GB`, `500 MiB`, `1.5 TB`, `1024` (PeerTube's units: a KB is 1024 bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("size {s:?} does not start with a number"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("size {s:?}: unknown unit {other:?} (use B, KB, MB, GB or TB)")),
    };
    let bytes = number * factor as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(format!("size {s:?} is out of range"));
    }
    Ok(bytes.round() as u64)
}

/// A duration in `25 hours`, `25h`, `2 days`, `90 min`, `3600` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("duration {s:?} does not start with a number"))?;
    let secs: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        other => return Err(format!("duration {s:?}: unknown unit {other:?} (use seconds, minutes, hours, days or weeks)")),
    };
    let total = number * secs;
    if !total.is_finite() || !(0.0..=1e15).contains(&total) {
        return Err(format!("duration {s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(total))
}

fn size_of(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("{what} {n} is not a whole number of bytes")),
        Value::String(s) => parse_size(s),
        _ => Err(format!("{what} must be a number of bytes or a size like \"10GB\"")),
    }
}

fn duration_of(v: &Value, what: &str) -> Result<Duration, String> {
    match v {
        Value::Number(n) => n.as_u64().map(Duration::from_secs).ok_or_else(|| format!("{what} {n} is not a whole number of seconds")),
        Value::String(s) => parse_duration(s),
        _ => Err(format!("{what} must be a number of seconds or a duration like \"25 hours\"")),
    }
}

/// One strategy from its JSON (`{"strategy", "size", "minLifetime", "minViews"?}`; sizes and
/// durations as numbers — bytes, seconds — or as text).
pub fn strategy_from_json(v: &Value) -> Result<Strategy, String> {
    let name = v.get("strategy").and_then(Value::as_str).ok_or("a strategy needs \"strategy\": most-views, trending or recently-added")?;
    let kind = StrategyKind::parse(name).ok_or_else(|| format!("unknown strategy {name:?} (most-views, trending or recently-added)"))?;
    let size = size_of(v.get("size").ok_or_else(|| format!("strategy {name} needs a \"size\""))?, "size")?;
    if size == 0 {
        return Err(format!("strategy {name}: a size of 0 keeps nothing"));
    }
    let min_lifetime = duration_of(v.get("minLifetime").ok_or_else(|| format!("strategy {name} needs a \"minLifetime\""))?, "minLifetime")?;
    if min_lifetime < Duration::from_secs(60) {
        return Err(format!("strategy {name}: minLifetime must be at least a minute (PeerTube wants at least 10 hours)"));
    }
    let min_views = match v.get("minViews") {
        None | Some(Value::Null) => 0,
        Some(n) => n.as_u64().ok_or("minViews must be a whole number")?,
    };
    if min_views > 0 && kind != StrategyKind::RecentlyAdded {
        return Err(format!("minViews applies to recently-added only, not to {name}"));
    }
    Ok(Strategy { kind, size, min_lifetime, min_views })
}

/// The strategies from their JSON list; each strategy at most once.
pub fn strategies_from_json(v: &Value) -> Result<Vec<Strategy>, String> {
    let list = v.as_array().ok_or("the strategies must be a list")?;
    let mut out: Vec<Strategy> = Vec::new();
    for item in list {
        let s = strategy_from_json(item)?;
        if out.iter().any(|o| o.kind == s.kind) {
            return Err(format!("strategy {} is given twice", s.kind.as_str()));
        }
        out.push(s);
    }
    Ok(out)
}

/// The strategies as JSON (sizes in bytes, durations in seconds).
pub fn strategies_to_json(list: &[Strategy]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                let mut v = json!({ "strategy": s.kind.as_str(), "size": s.size, "minLifetime": s.min_lifetime.as_secs() });
                if s.kind == StrategyKind::RecentlyAdded {
                    v["minViews"] = json!(s.min_views);
                }
                v
            })
            .collect(),
    )
}

/// The strategies as stored (nothing stored, or unreadable: none).
pub fn stored_strategies(text: Option<&str>) -> Vec<Strategy> {
    text.and_then(|t| serde_json::from_str::<Value>(t).ok()).and_then(|v| strategies_from_json(&v).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_as_people_write_them() {
        assert_eq!(parse_size("10GB"), Ok(10 << 30));
        assert_eq!(parse_size("500 MiB"), Ok(500 << 20));
        assert_eq!(parse_size("1.5KB"), Ok(1536));
        assert_eq!(parse_size("42"), Ok(42));
        assert!(parse_size("GB").is_err());
        assert!(parse_size("10 parsecs").unwrap_err().contains("unit"));
        assert!(parse_size("1e400").is_err());
        assert!(parse_size("99999999999TB").is_err());
        assert_eq!(parse_duration("25 hours"), Ok(Duration::from_secs(90_000)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("90 min"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 fortnights").is_err());
    }

    #[test]
    fn strategies_round_trip_and_bad_ones_are_refused_with_the_reason() {
        let v = json!([
            { "strategy": "most-views", "size": "10GB", "minLifetime": "25 hours" },
            { "strategy": "recently-added", "size": 1000, "minLifetime": 36000, "minViews": 10 },
        ]);
        let s = strategies_from_json(&v).unwrap();
        assert_eq!(s[0], Strategy { kind: StrategyKind::MostViews, size: 10 << 30, min_lifetime: Duration::from_secs(90_000), min_views: 0 });
        assert_eq!(s[1].min_views, 10);
        assert_eq!(strategies_from_json(&strategies_to_json(&s)).unwrap(), s);
        assert_eq!(stored_strategies(Some(&strategies_to_json(&s).to_string())), s);
        assert_eq!(stored_strategies(None), vec![]);
        assert_eq!(stored_strategies(Some("not json")), vec![]);

        let bad = |v: Value| strategies_from_json(&v).unwrap_err();
        assert!(bad(json!({})).contains("list"));
        assert!(bad(json!([{ "strategy": "manual", "size": 1, "minLifetime": 60 }])).contains("unknown strategy"));
        assert!(bad(json!([{ "strategy": "trending", "minLifetime": 60 }])).contains("size"));
        assert!(bad(json!([{ "strategy": "trending", "size": 0, "minLifetime": 60 }])).contains("keeps nothing"));
        assert!(bad(json!([{ "strategy": "trending", "size": -5, "minLifetime": 60 }])).contains("whole number"));
        assert!(bad(json!([{ "strategy": "trending", "size": 1, "minLifetime": 1 }])).contains("at least a minute"));
        assert!(bad(json!([{ "strategy": "trending", "size": 1, "minLifetime": 60, "minViews": 3 }])).contains("recently-added only"));
        let twice = json!({ "strategy": "trending", "size": 1, "minLifetime": 60 });
        assert!(bad(json!([twice, twice])).contains("twice"));
    }

    #[test]
    fn who_may_keep_copies_of_our_videos() {
        assert_eq!(AcceptFrom::default(), AcceptFrom::Anybody);
        for p in [AcceptFrom::Nobody, AcceptFrom::Anybody, AcceptFrom::Followings] {
            assert_eq!(AcceptFrom::parse(p.as_str()), Ok(p));
            assert!(!p.accepts(true, true), "blocked hosts never");
        }
        assert!(AcceptFrom::Anybody.accepts(false, false));
        assert!(!AcceptFrom::Nobody.accepts(true, false));
        assert!(AcceptFrom::Followings.accepts(true, false));
        assert!(!AcceptFrom::Followings.accepts(false, false));
        assert!(AcceptFrom::parse("everyone").is_err());
    }
}
