//! Which units of a file being imported are verified and written, pure: the set a download
//! resumes from after a crash or restart (kept beside the partial file as one byte per unit:
//! `1` verified, anything else not), and the next units to fetch.

/// One file's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    done: Vec<bool>,
}

impl Progress {
    /// Nothing verified yet.
    pub fn new(units: usize) -> Progress {
        Progress { done: vec![false; units] }
    }

    /// Progress as saved; a record of another length (the check changed) starts again.
    pub fn load(saved: &[u8], units: usize) -> Progress {
        if saved.len() != units {
            return Progress::new(units);
        }
        Progress { done: saved.iter().map(|&b| b == 1).collect() }
    }

    /// What to save.
    pub fn save(&self) -> Vec<u8> {
        self.done.iter().map(|&d| u8::from(d)).collect()
    }

    pub fn mark(&mut self, unit: usize) {
        if let Some(d) = self.done.get_mut(unit) {
            *d = true;
        }
    }

    pub fn is_done(&self, unit: usize) -> bool {
        self.done.get(unit).copied().unwrap_or(false)
    }

    pub fn complete(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    pub fn verified(&self) -> usize {
        self.done.iter().filter(|&&d| d).count()
    }

    /// Up to `n` units not verified and not in `in_flight`, in file order.
    pub fn next(&self, n: usize, in_flight: &[usize]) -> Vec<usize> {
        self.done.iter().enumerate().filter(|(i, d)| !**d && !in_flight.contains(i)).map(|(i, _)| i).take(n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_from_what_was_saved() {
        let mut p = Progress::new(5);
        assert_eq!(p.next(2, &[]), vec![0, 1]);
        p.mark(0);
        p.mark(3);
        assert_eq!(p.next(10, &[1]), vec![2, 4]);
        let again = Progress::load(&p.save(), 5);
        assert_eq!(again, p);
        assert_eq!(again.verified(), 2);
        assert!(!again.complete());
        assert_eq!(Progress::load(&p.save(), 6), Progress::new(6), "another check: start again");
        assert_eq!(Progress::load(&[1, 1, 7, 0, 1], 5).verified(), 3);
        let mut all = Progress::new(2);
        all.mark(0);
        all.mark(1);
        all.mark(9);
        assert!(all.complete());
        assert!(all.next(3, &[]).is_empty());
    }
}
