//! A strict reader of the Prometheus text exposition format (0.0.4), for the tests that scrape
//! `/metrics`: it refuses what `promtool check metrics` refuses — bad names, label syntax and
//! escapes, a TYPE after its samples or twice, families split apart, duplicate series, counters
//! without `_total`, negative counters, histograms whose buckets are not cumulative or lack
//! `+Inf`, `_sum` or `_count` — and returns the samples for the test to look at.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample: its full name, labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Family name → type.
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of the series `name` with exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
    }

    /// Like [`Scrape::value`], panicking with the scrape's names when absent.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| {
            let names: HashSet<&str> = self.samples.iter().map(|s| s.name.as_str()).collect();
            panic!("no series {name} {labels:?}; names: {names:?}")
        })
    }

    /// The sum over every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !n.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
    }
}

/// `name{a="x",b="y"} value` → its parts.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| format!("no value: {line:?}"))?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let end: usize;
        loop {
            // label name
            let start = match chars.peek() {
                Some((_, '}')) => {
                    end = chars.next().unwrap().0;
                    break;
                }
                Some((i, _)) => *i,
                None => return Err(format!("unterminated labels: {line:?}")),
            };
            let mut eq = None;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    eq = Some(i);
                    break;
                }
            }
            let eq = eq.ok_or_else(|| format!("label without '=': {line:?}"))?;
            let key = &after[start..eq];
            if !valid_label_name(key) {
                return Err(format!("bad label name {key:?} in {line:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label value not quoted: {line:?}"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in {line:?}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, '\n')) | None => return Err(format!("unterminated label value: {line:?}")),
                    Some((_, c)) => value.push(c),
                }
            }
            if labels.insert(key.to_owned(), value).is_some() {
                return Err(format!("label {key} twice in {line:?}"));
            }
            match chars.next() {
                Some((_, ',')) => continue,
                Some((i, '}')) => {
                    end = i;
                    break;
                }
                other => return Err(format!("expected ',' or '}}', got {other:?} in {line:?}")),
            }
        }
        rest = &after[end + 1..];
    }
    let rest = rest.strip_prefix(' ').ok_or_else(|| format!("no space before the value: {line:?}"))?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().unwrap_or(""))?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().map_err(|_| format!("bad timestamp in {line:?}"))?;
    }
    if parts.next().is_some() {
        return Err(format!("trailing text: {line:?}"));
    }
    Ok(Sample { name: name.to_owned(), labels, value })
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram" || t == "summary") {
                return base;
            }
        }
    }
    name
}

/// Parses and checks a whole scrape.
pub fn parse(text: &str) -> Result<Scrape, String> {
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut scrape = Scrape::default();
    let mut helps = HashSet::new();
    let mut seen_families: Vec<String> = Vec::new();
    let mut series = HashSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), Some(_)) if !valid_metric_name(name) || !helps.insert(name.to_owned()) => {
                    return Err(format!("bad or repeated HELP for {name}"));
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(format!("unknown type {kind} for {name}"));
                    }
                    if scrape.types.insert(name.to_owned(), kind.to_owned()).is_some() || seen_families.iter().any(|f| f == name) {
                        return Err(format!("TYPE of {name} repeated or after its samples"));
                    }
                    if kind == "counter" && !name.ends_with("_total") {
                        return Err(format!("counter {name} does not end in _total"));
                    }
                }
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line)?;
        let family = family_of(&sample.name, &scrape.types).to_owned();
        if !helps.contains(&family) {
            return Err(format!("{family} has no HELP"));
        }
        match seen_families.last() {
            Some(last) if *last == family => {}
            _ => {
                if seen_families.contains(&family) {
                    return Err(format!("the samples of {family} are split apart"));
                }
                seen_families.push(family.clone());
            }
        }
        if scrape.types.get(&family).map(String::as_str) == Some("counter") && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(format!("negative counter: {line}"));
        }
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(format!("duplicate series: {line}"));
        }
        scrape.samples.push(sample);
    }
    // Histograms: cumulative buckets ending with +Inf equal to _count, and a _sum.
    for (family, kind) in &scrape.types {
        if kind != "histogram" {
            continue;
        }
        let buckets: Vec<&Sample> = scrape.samples.iter().filter(|s| s.name == format!("{family}_bucket")).collect();
        let mut previous = (f64::NEG_INFINITY, 0.0);
        for b in &buckets {
            let le = parse_value(b.labels.get("le").ok_or_else(|| format!("{family} bucket without le"))?)?;
            if le <= previous.0 || b.value < previous.1 {
                return Err(format!("{family}: buckets not increasing and cumulative"));
            }
            previous = (le, b.value);
        }
        if previous.0 != f64::INFINITY {
            return Err(format!("{family}: no +Inf bucket"));
        }
        let count = scrape.value(&format!("{family}_count"), &[]).ok_or_else(|| format!("{family}: no _count"))?;
        scrape.value(&format!("{family}_sum"), &[]).ok_or_else(|| format!("{family}: no _sum"))?;
        if count != previous.1 {
            return Err(format!("{family}: +Inf bucket {} but _count {count}", previous.1));
        }
    }
    Ok(scrape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_refuses_what_promtool_refuses() {
        let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
        assert_eq!(parse(ok).unwrap().get("a_total", &[("x", "1")]), 2.0);
        for bad in [
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2",
            "# HELP a A.\n# TYPE a counter\na 2\n",
            "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",
            "# HELP g G.\n# TYPE g gauge\ng{x=\"\\t\"} 1\n",
            "# HELP g G.\n# TYPE g gauge\ng{x=\"1\"} 1\ng{x=\"1\"} 2\n",
            "# HELP g G.\n# TYPE g gauge\ng 1\n# HELP h H.\n# TYPE h gauge\nh 1\ng{y=\"2\"} 1\n",
            "# HELP g G.\ng 1\n# TYPE g gauge\n",
            "# HELP 1g G.\n# TYPE 1g gauge\n1g 1\n",
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
            "g 1\n",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
