//! Detection from web-server access logs (SPEC §7): parse a line, score it
//! against the rules, say how severe it is. Pure: no database, no HTTP, no
//! clock (time comes from the lines), so it is tested on strings and a
//! replayed file always gives the same verdicts.
//!
//! `threat_score = min(max + 0.05 × (matches − 1), 1.0)` over the component
//! scores of the rules that match; ≥ 0.9 CRITICAL, ≥ 0.7 HIGH, ≥ 0.5
//! MEDIUM, else LOW. Scores are kept in thousandths so the bands are exact.
pub mod decode;
pub mod parse;
pub mod rng;
pub mod rules;
pub mod windows;

use std::sync::Arc;

use crate::models::severity::Severity;
use decode::{has_escape, percent_decode};
use parse::LogLine;
use rules::{Field, Rules};
use windows::{Observation, Windows};

/// Longest evidence snippet kept per rule, in bytes.
const EVIDENCE: usize = 120;

/// One rule that matched a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub rule: String,
    /// Thousandths.
    pub score: u16,
    /// The text that matched (pattern rules), cut to 120 bytes.
    pub evidence: Option<String>,
}

/// The rules one request matched, highest score first (ties in rule order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub components: Vec<Component>,
}

impl Verdict {
    /// `min(max + 50 × (matches − 1), 1000)` thousandths; 0 for no match.
    #[must_use]
    pub fn threat_score(&self) -> u16 {
        let Some(top) = self.components.first() else {
            return 0;
        };
        let extra = u16::try_from(self.components.len() - 1)
            .unwrap_or(u16::MAX)
            .saturating_mul(50);
        top.score.saturating_add(extra).min(1000)
    }

    #[must_use]
    pub fn severity(&self) -> Severity {
        severity_of(self.threat_score())
    }

    /// The highest-scoring rule: the event type.
    #[must_use]
    pub fn top_rule(&self) -> Option<&str> {
        self.components.first().map(|c| c.rule.as_str())
    }

    #[must_use]
    pub fn is_match(&self) -> bool {
        !self.components.is_empty()
    }

    #[must_use]
    pub fn matched(&self, rule: &str) -> bool {
        self.components.iter().any(|c| c.rule == rule)
    }
}

/// The severity band of a threat score in thousandths.
#[must_use]
pub const fn severity_of(score: u16) -> Severity {
    match score {
        900.. => Severity::Critical,
        700..=899 => Severity::High,
        500..=699 => Severity::Medium,
        _ => Severity::Low,
    }
}

fn snippet(text: &[u8], start: usize, end: usize) -> String {
    let end = end.min(start + EVIDENCE);
    String::from_utf8_lossy(&text[start..end]).into_owned()
}

/// Scores the requests of one log stream. The rules are shared; the
/// windows (request rates per client) belong to this stream.
#[derive(Debug, Clone)]
pub struct Detector {
    rules: Arc<Rules>,
    windows: Windows,
    /// Evidence per rule for the line being scored (reused).
    hits: Vec<Option<Option<String>>>,
    fired: Vec<usize>,
}

impl Detector {
    /// A detector tracking at most `max_clients` addresses in its windows.
    #[must_use]
    pub fn new(rules: Arc<Rules>, max_clients: usize) -> Self {
        let windows = Windows::new(&rules, max_clients);
        let n = rules.rules.len();
        Self {
            rules,
            windows,
            hits: vec![None; n],
            fired: Vec::new(),
        }
    }

    #[must_use]
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// How many client addresses the windows track now.
    #[must_use]
    pub fn tracked_clients(&self) -> usize {
        self.windows.tracked_clients()
    }

    fn scan(&mut self, field: Field, text: &[u8]) {
        let Some(fs) = self.rules.field(field) else {
            return;
        };
        if !fs.set.is_match(text) {
            return;
        }
        for i in fs.set.matches(text).iter() {
            let group = &fs.groups[i];
            if self.hits[group.rule].as_ref().is_some_and(Option::is_some) {
                continue;
            }
            if group.unless.as_ref().is_some_and(|u| u.is_match(text)) {
                continue;
            }
            let evidence = group
                .regex
                .find(text)
                .map(|m| snippet(text, m.start(), m.end()));
            self.hits[group.rule] = Some(evidence);
        }
    }

    /// Scores one request (and counts it in this stream's windows).
    pub fn inspect(&mut self, line: &LogLine<'_>) -> Verdict {
        self.hits.iter_mut().for_each(|h| *h = None);
        let target = line.request.target();
        let uri = percent_decode(target);
        self.scan(Field::Uri, uri.as_bytes());
        if has_escape(&uri) {
            let twice = percent_decode(&uri).into_owned();
            self.scan(Field::Uri, twice.as_bytes());
        }
        self.scan(Field::RawUri, target.as_bytes());
        if let Some(ua) = &line.user_agent {
            self.scan(Field::UserAgent, ua.as_bytes());
        }
        if let Some(referer) = &line.referer {
            self.scan(Field::Referer, referer.as_bytes());
        }
        let path = uri.split('?').next().unwrap_or_default();
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.windows.observe(
            &self.rules,
            Observation {
                client: line.client,
                time: line.time.timestamp(),
                status: line.status,
                path,
            },
            &mut fired,
        );
        for &rule in &fired {
            if self.hits[rule].is_none() {
                self.hits[rule] = Some(None);
            }
        }
        self.fired = fired;

        let mut components: Vec<Component> = self
            .hits
            .iter_mut()
            .enumerate()
            .filter_map(|(i, hit)| {
                hit.take().map(|evidence| Component {
                    rule: self.rules.rules[i].name.clone(),
                    score: self.rules.rules[i].score,
                    evidence,
                })
            })
            .collect();
        // Stable: equal scores keep rule order.
        components.sort_by_key(|c| std::cmp::Reverse(c.score));
        Verdict { components }
    }
}

#[cfg(test)]
mod tests;
