//! The Prometheus text exposition format (version 0.0.4) both planes answer `/metrics` with,
//! pure: a scrape gathers plain numbers into an [`Exposition`] (names, help, labels, values),
//! and [`Exposition::render`] writes them with the `prometheus-client` crate's encoder. Counters
//! get their `_total` suffix there; names here go without it.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label pairs of one sample.
pub type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone)]
enum Values {
    Counters(Vec<(Labels, u64)>),
    Gauges(Vec<(Labels, f64)>),
    /// Per-bucket counts (not cumulative) with their upper bounds, `+Inf` last; the sum.
    Histogram { buckets: Vec<(f64, u64)>, sum: f64 },
}

#[derive(Debug, Clone)]
struct Family {
    name: &'static str,
    help: &'static str,
    values: Values,
}

/// The metrics of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A counter without labels.
    pub fn counter(&mut self, name: &'static str, help: &'static str, value: u64) {
        self.counters(name, help, vec![(Vec::new(), value)]);
    }

    /// A counter with a sample per label set.
    pub fn counters(&mut self, name: &'static str, help: &'static str, samples: Vec<(Labels, u64)>) {
        self.families.push(Family { name, help, values: Values::Counters(samples) });
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.gauges(name, help, vec![(Vec::new(), value)]);
    }

    /// A gauge with a sample per label set.
    pub fn gauges(&mut self, name: &'static str, help: &'static str, samples: Vec<(Labels, f64)>) {
        self.families.push(Family { name, help, values: Values::Gauges(samples) });
    }

    /// A histogram: `bounds` are the buckets' upper bounds, `counts` the observations in each
    /// (one more than `bounds`: the last is above them all), `sum` their total.
    pub fn histogram(&mut self, name: &'static str, help: &'static str, bounds: &[f64], counts: &[u64], sum: f64) {
        let buckets = bounds.iter().copied().chain([f64::INFINITY]).zip(counts.iter().copied()).collect();
        self.families.push(Family { name, help, values: Values::Histogram { buckets, sum } });
    }

    /// The text, with every name prefixed by `prefix` and `_`.
    pub fn render(self, prefix: &str) -> String {
        let mut registry = Registry::with_prefix(prefix);
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            match &f.values {
                Values::Counters(samples) => {
                    let mut metric = encoder.encode_descriptor(f.name, f.help, None, MetricType::Counter)?;
                    for (labels, v) in samples {
                        ConstCounter::new(*v).encode(metric.encode_family(labels)?)?;
                    }
                }
                Values::Gauges(samples) => {
                    let mut metric = encoder.encode_descriptor(f.name, f.help, None, MetricType::Gauge)?;
                    for (labels, v) in samples {
                        ConstGauge::new(*v).encode(metric.encode_family(labels)?)?;
                    }
                }
                Values::Histogram { buckets, sum } => {
                    let mut metric = encoder.encode_descriptor(f.name, f.help, None, MetricType::Histogram)?;
                    let count = buckets.iter().map(|(_, n)| n).sum();
                    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(*sum, count, buckets, None)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_the_text_format() {
        let mut e = Exposition::new();
        e.counter("requests", "Requests served.", 3);
        e.counters("responses", "Responses by class.", vec![(vec![("class", "2xx".into())], 5), (vec![("class", "4xx".into())], 1)]);
        e.gauge("ready", "Whether ready.", 1.0);
        e.gauges("nodes", "Nodes by state.", vec![(vec![("state", "a \"b\"\n".into())], 2.0)]);
        e.histogram("duration_seconds", "Time taken.", &[0.1, 1.0], &[2, 1, 1], 2.5);
        let text = e.render("x");
        let want = "\
# HELP x_requests_total Requests served.
# TYPE x_requests_total counter
x_requests_total 3
# HELP x_responses_total Responses by class.
# TYPE x_responses_total counter
x_responses_total{class=\"2xx\"} 5
x_responses_total{class=\"4xx\"} 1
# HELP x_ready Whether ready.
# TYPE x_ready gauge
x_ready 1.0
# HELP x_nodes Nodes by state.
# TYPE x_nodes gauge
x_nodes{state=\"a \\\"b\\\"\\n\"} 2.0
# HELP x_duration_seconds Time taken.
# TYPE x_duration_seconds histogram
x_duration_seconds_bucket{le=\"0.1\"} 2
x_duration_seconds_bucket{le=\"1\"} 3
x_duration_seconds_bucket{le=\"+Inf\"} 4
x_duration_seconds_sum 2.5
x_duration_seconds_count 4
";
        assert_eq!(text, want);
    }
}
