//! Which torrent a request is about: a Gamma(0.2, 100) sample mapped onto the torrent list as
//! aquatic_ws_load_test maps it, so that a few torrents get most of the load. Pure: the random
//! numbers come from the caller's generator.

use vidseed_loadtest::rng::Rng;

/// Gamma(shape, scale) by Marsaglia and Tsang's method ("A simple method for generating gamma
/// variables", 2000). For shape < 1 it samples shape + 1 and multiplies by U^(1/shape).
#[derive(Clone, Copy, Debug)]
pub struct Gamma {
    scale: f64,
    /// d = a - 1/3 and c = 1 / sqrt(9 d) for a = shape (or shape + 1 when boosted).
    d: f64,
    c: f64,
    /// 1 / shape when shape < 1.
    boost: Option<f64>,
}

impl Gamma {
    pub fn new(shape: f64, scale: f64) -> Self {
        assert!(
            shape > 0.0 && scale > 0.0,
            "Gamma needs a positive shape and scale"
        );
        let (a, boost) = if shape < 1.0 {
            (shape + 1.0, Some(1.0 / shape))
        } else {
            (shape, None)
        };
        let d = a - 1.0 / 3.0;
        Gamma {
            scale,
            d,
            c: 1.0 / (9.0 * d).sqrt(),
            boost,
        }
    }

    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let g = loop {
            let x = rng.normal();
            let t = 1.0 + self.c * x;
            if t <= 0.0 {
                continue;
            }
            let v = t * t * t;
            let u = rng.open01();
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + self.d * (1.0 - v + v.ln()) {
                break self.d * v;
            }
        };
        let g = match self.boost {
            Some(inv_shape) => g * rng.open01().powf(inv_shape),
            None => g,
        };
        g * self.scale
    }
}

/// Maps a Gamma(0.2, 100) sample onto `0..n` as aquatic_ws_load_test does:
/// `(min(g, 101) - 1) / 100 * (n - 1)`, negative values giving 0. About 43 % of the picks land
/// on the first torrent (47 % with 200 torrents) and the rest spread with a long tail.
pub fn torrent_index(g: f64, n: usize) -> usize {
    let p = (g.min(101.0) - 1.0) / 100.0;
    let max = n.saturating_sub(1);
    ((p * max as f64).max(0.0) as usize).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_stats(g: &Gamma, n: usize, seed: u64) -> (f64, f64, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let xs: Vec<f64> = (0..n).map(|_| g.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n as f64 - 1.0);
        (mean, var, xs)
    }

    #[test]
    fn gamma_has_the_right_moments() {
        // shape 3, scale 2: mean 6, variance 12 (no boost).
        let (mean, var, xs) = sample_stats(&Gamma::new(3.0, 2.0), 200_000, 7);
        assert!((mean - 6.0).abs() < 0.05, "mean {mean}");
        assert!((var - 12.0).abs() < 0.3, "variance {var}");
        assert!(xs.iter().all(|&x| x > 0.0 && x.is_finite()));
        // aquatic's distribution, shape 0.2 (boosted), scale 100: mean 20, variance 2000.
        let (mean, var, xs) = sample_stats(&Gamma::new(0.2, 100.0), 400_000, 11);
        assert!((mean - 20.0).abs() < 0.5, "mean {mean}");
        assert!((var - 2000.0).abs() < 120.0, "variance {var}");
        assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        // P(X < 1) = P(Gamma(0.2, 1) < 0.01) = 0.43284 (regularised lower incomplete gamma).
        let below1 = xs.iter().filter(|&&x| x < 1.0).count() as f64 / xs.len() as f64;
        assert!((below1 - 0.43284).abs() < 0.005, "P(X<1) = {below1}");
        // The median of Gamma(0.2, 1) is 0.020746, so the median here is 2.0746.
        let mut sorted = xs;
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!((median - 2.0746).abs() < 0.08, "median {median}");
    }

    #[test]
    fn gamma_of_shape_one_is_exponential() {
        // Exponential(scale 5): P(X > 5) = e^-1.
        let (mean, _, xs) = sample_stats(&Gamma::new(1.0, 5.0), 200_000, 3);
        assert!((mean - 5.0).abs() < 0.06, "mean {mean}");
        let tail = xs.iter().filter(|&&x| x > 5.0).count() as f64 / xs.len() as f64;
        assert!((tail - (-1.0f64).exp()).abs() < 0.005, "tail {tail}");
    }

    #[test]
    fn torrent_index_follows_aquatic_and_stays_in_range() {
        assert_eq!(torrent_index(0.0, 10_000), 0);
        assert_eq!(torrent_index(1.0, 10_000), 0);
        assert_eq!(torrent_index(11.0, 10_000), 999);
        assert_eq!(torrent_index(101.0, 10_000), 9999);
        assert_eq!(torrent_index(1e9, 10_000), 9999);
        assert_eq!(torrent_index(50.0, 1), 0);
        let g = Gamma::new(0.2, 100.0);
        let mut rng = Rng::new(5);
        let mut counts = vec![0u32; 200];
        for _ in 0..100_000 {
            counts[torrent_index(g.sample(&mut rng), 200)] += 1;
        }
        // Index 0 takes every g < 1 + 100/199, i.e. P(Gamma(0.2, 1) < 0.015025) = 0.4692.
        let first = f64::from(counts[0]) / 100_000.0;
        assert!((first - 0.4692).abs() < 0.01, "share of torrent 0: {first}");
        assert!(
            counts[199] > 0,
            "the clamp keeps the tail on the last torrent"
        );
    }
}
