//! URDNA2015 canonicalisation with rdf-canonize 3.x's legacy serialisation, pure: blank nodes
//! relabelled `_:c14nN`, literals escaped the legacy way (only `"`, `\`, LF and CR), lines
//! sorted in UTF-16 code-unit order as JavaScript sorts strings; bounded work.

use super::*;

/// Canonical N-Quads: blank nodes relabelled `_:c14nN`, lines sorted as JavaScript sorts.
pub(super) fn canonical_nquads(quads: &[Quad]) -> Result<String, LdError> {
    let labels = Canonicaliser::new(quads).labels()?;
    let mut lines: Vec<String> = quads
        .iter()
        .map(|q| nquad(q, &|b: &str| labels.get(b).map_or_else(|| format!("_:{b}"), Clone::clone)))
        .collect();
    lines.sort_by(|a, b| cmp_utf16(a, b));
    Ok(lines.concat())
}

/// JavaScript's string order (UTF-16 code units).
pub(super) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// One N-Quads line as rdf-canonize 3.x writes it; `label` gives a blank node's written form
/// (with its `_:`).
pub(super) fn nquad(quad: &Quad, label: &dyn Fn(&str) -> String) -> String {
    let mut line = String::new();
    match &quad.subject {
        NamedOrBlankNode::NamedNode(n) => {
            let _ = write!(line, "<{}>", n.as_str());
        }
        NamedOrBlankNode::BlankNode(b) => line.push_str(&label(b.as_str())),
    }
    let _ = write!(line, " <{}> ", quad.predicate.as_str());
    match &quad.object {
        Term::NamedNode(n) => {
            let _ = write!(line, "<{}>", n.as_str());
        }
        Term::BlankNode(b) => line.push_str(&label(b.as_str())),
        Term::Literal(literal) => {
            line.push('"');
            escape_literal(literal.value(), &mut line);
            line.push('"');
            if let Some(language) = literal.language() {
                line.push('@');
                line.push_str(language);
            } else if literal.datatype() != xsd::STRING && literal.datatype() != rdf::LANG_STRING {
                let _ = write!(line, "^^<{}>", literal.datatype().as_str());
            }
        }
    }
    match &quad.graph_name {
        GraphName::DefaultGraph => {}
        GraphName::NamedNode(n) => {
            let _ = write!(line, " <{}>", n.as_str());
        }
        GraphName::BlankNode(b) => {
            line.push(' ');
            line.push_str(&label(b.as_str()));
        }
    }
    line.push_str(" .\n");
    line
}

/// rdf-canonize 3.x literal escaping: `"`, `\`, LF and CR only.
pub(super) fn escape_literal(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Blank node ids → issued identifiers (with `_:`), in issue order.
#[derive(Clone)]
pub(super) struct Issuer {
    prefix: &'static str,
    issued: HashMap<String, String>,
    order: Vec<String>,
}

impl Issuer {
    fn new(prefix: &'static str) -> Issuer {
        Issuer { prefix, issued: HashMap::new(), order: Vec::new() }
    }

    fn get(&self, id: &str) -> Option<&str> {
        self.issued.get(id).map(String::as_str)
    }

    fn issue(&mut self, id: &str) -> String {
        if let Some(existing) = self.issued.get(id) {
            return existing.clone();
        }
        let new = format!("{}{}", self.prefix, self.order.len());
        self.issued.insert(id.to_owned(), new.clone());
        self.order.push(id.to_owned());
        new
    }
}

pub(super) fn blank_nodes_of(quad: &Quad) -> [Option<(&str, &'static str)>; 3] {
    [
        match &quad.subject {
            NamedOrBlankNode::BlankNode(b) => Some((b.as_str(), "s")),
            NamedOrBlankNode::NamedNode(_) => None,
        },
        match &quad.object {
            Term::BlankNode(b) => Some((b.as_str(), "o")),
            _ => None,
        },
        match &quad.graph_name {
            GraphName::BlankNode(b) => Some((b.as_str(), "g")),
            _ => None,
        },
    ]
}

/// The URDNA2015 / RDFC-1.0 blank node labelling, hashing with the legacy serialisation.
pub(super) struct Canonicaliser<'a> {
    quads: &'a [Quad],
    /// Blank node → indices of the quads it occurs in, blank nodes in order of appearance.
    mentions: Vec<(&'a str, Vec<usize>)>,
    index: HashMap<&'a str, usize>,
    first_degree: Vec<String>,
    canonical: Issuer,
    budget: u64,
}

impl<'a> Canonicaliser<'a> {
    fn new(quads: &'a [Quad]) -> Canonicaliser<'a> {
        let mut mentions: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut index = HashMap::new();
        for (i, quad) in quads.iter().enumerate() {
            for (id, _) in blank_nodes_of(quad).into_iter().flatten() {
                let slot = *index.entry(id).or_insert_with(|| {
                    mentions.push((id, Vec::new()));
                    mentions.len() - 1
                });
                if mentions[slot].1.last() != Some(&i) {
                    mentions[slot].1.push(i);
                }
            }
        }
        let mut canonicaliser = Canonicaliser {
            quads,
            mentions,
            index,
            first_degree: Vec::new(),
            canonical: Issuer::new("_:c14n"),
            budget: CANONICALISATION_BUDGET,
        };
        canonicaliser.first_degree =
            (0..canonicaliser.mentions.len()).map(|slot| canonicaliser.hash_first_degree(slot)).collect();
        canonicaliser
    }

    fn spend(&mut self) -> Result<(), LdError> {
        self.budget = self.budget.checked_sub(1).ok_or(LdError::TooComplex)?;
        Ok(())
    }

    fn hash_first_degree(&self, slot: usize) -> String {
        let (id, quads) = &self.mentions[slot];
        let label = |b: &str| if b == *id { "_:a".to_owned() } else { "_:z".to_owned() };
        let mut lines: Vec<String> = quads.iter().map(|&i| nquad(&self.quads[i], &label)).collect();
        lines.sort_by(|a, b| cmp_utf16(a, b));
        sha256_hex(lines.concat().as_bytes())
    }

    fn labels(mut self) -> Result<HashMap<String, String>, LdError> {
        let mut by_hash: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (slot, hash) in self.first_degree.iter().enumerate() {
            by_hash.entry(hash.as_str()).or_default().push(slot);
        }
        let mut shared = Vec::new();
        for slots in by_hash.into_values() {
            if let [only] = slots[..] {
                self.canonical.issue(self.mentions[only].0);
            } else {
                shared.push(slots);
            }
        }
        for slots in shared {
            let mut results = Vec::new();
            for slot in slots {
                let id = self.mentions[slot].0;
                if self.canonical.get(id).is_some() {
                    continue;
                }
                let mut temporary = Issuer::new("_:b");
                temporary.issue(id);
                results.push(self.hash_n_degree(slot, &temporary)?);
            }
            results.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, issuer) in results {
                for id in &issuer.order {
                    self.canonical.issue(id);
                }
            }
        }
        Ok(self.canonical.issued)
    }

    fn hash_related(&self, related: &str, quad: &Quad, issuer: &Issuer, position: &str) -> String {
        let mut input = position.to_owned();
        if position != "g" {
            let _ = write!(input, "<{}>", quad.predicate.as_str());
        }
        match self.canonical.get(related).or_else(|| issuer.get(related)) {
            Some(id) => input.push_str(id),
            None => input.push_str(&self.first_degree[self.index[related]]),
        }
        sha256_hex(input.as_bytes())
    }

    fn hash_n_degree(&mut self, slot: usize, issuer: &Issuer) -> Result<(String, Issuer), LdError> {
        self.spend()?;
        let id = self.mentions[slot].0;
        let mut related_by_hash: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
        for &i in &self.mentions[slot].1 {
            let quad = &self.quads[i];
            for (related, position) in blank_nodes_of(quad).into_iter().flatten() {
                if related != id {
                    let hash = self.hash_related(related, quad, issuer, position);
                    related_by_hash.entry(hash).or_default().push(related);
                }
            }
        }
        let mut issuer = issuer.clone();
        let mut data = String::new();
        for (hash, mut related) in related_by_hash {
            data.push_str(&hash);
            let mut chosen: Option<(String, Issuer)> = None;
            let mut permutations = Permutations::new(related.len());
            while let Some(swap) = permutations.next_swap() {
                self.spend()?;
                if let Some((i, j)) = swap {
                    related.swap(i, j);
                }
                if let Some(candidate) = self.try_path(&related, &issuer, chosen.as_ref().map(|c| c.0.as_str()))? {
                    if chosen.as_ref().is_none_or(|c| candidate.0 < c.0) {
                        chosen = Some(candidate);
                    }
                }
            }
            if let Some((path, chosen_issuer)) = chosen {
                data.push_str(&path);
                issuer = chosen_issuer;
            }
        }
        Ok((sha256_hex(data.as_bytes()), issuer))
    }

    /// The path for one order of related blank nodes, or `None` once it exceeds `best`.
    fn try_path(
        &mut self,
        related: &[&'a str],
        issuer: &Issuer,
        best: Option<&str>,
    ) -> Result<Option<(String, Issuer)>, LdError> {
        let worse = |path: &str| best.is_some_and(|best| path > best);
        let mut issuer = issuer.clone();
        let mut path = String::new();
        let mut recursion = Vec::new();
        for &node in related {
            if let Some(id) = self.canonical.get(node) {
                path.push_str(id);
            } else {
                if issuer.get(node).is_none() {
                    recursion.push(node);
                }
                path.push_str(&issuer.issue(node));
            }
            if worse(&path) {
                return Ok(None);
            }
        }
        for node in recursion {
            let (hash, result_issuer) = self.hash_n_degree(self.index[node], &issuer)?;
            path.push_str(&issuer.issue(node));
            let _ = write!(path, "<{hash}>");
            issuer = result_issuer;
            if worse(&path) {
                return Ok(None);
            }
        }
        Ok(Some((path, issuer)))
    }
}

/// All orders of `n` items by Heap's algorithm: each order is the previous one with one swap.
pub(super) struct Permutations {
    counters: Vec<usize>,
    level: usize,
    started: bool,
}

impl Permutations {
    pub(super) fn new(n: usize) -> Permutations {
        Permutations { counters: vec![0; n], level: 1, started: false }
    }

    /// `Some(None)` for the first order (as given), then `Some(Some((i, j)))`: swap items `i`
    /// and `j` for the next order; `None` when all orders were given.
    pub(super) fn next_swap(&mut self) -> Option<Option<(usize, usize)>> {
        if !self.started {
            self.started = true;
            return Some(None);
        }
        while self.level < self.counters.len() {
            let level = self.level;
            if self.counters[level] < level {
                let other = if level.is_multiple_of(2) { 0 } else { self.counters[level] };
                self.counters[level] += 1;
                self.level = 1;
                return Some(Some((other, level)));
            }
            self.counters[level] = 0;
            self.level += 1;
        }
        None
    }
}
