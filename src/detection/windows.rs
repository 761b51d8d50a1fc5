//! Per-client sliding windows for the window rules (request rate, error
//! share, refused logins), on the log's own clock, in bounded memory.
//!
//! Each window rule keeps, per client address, `BUCKETS` counters covering
//! its length (so a 60-second window counts in 3-second steps). At most
//! `max_clients` addresses are tracked: when a new one arrives at the cap,
//! addresses idle for longer than every window go first (they hold
//! nothing), then the least recently seen. Time only comes from the lines,
//! and ties are broken by arrival order, so replaying a file gives the same
//! results every time.
use std::{collections::HashMap, net::IpAddr};

use super::rules::{Rules, WindowSpec};

/// Counters per window.
pub const BUCKETS: usize = 20;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// `t / width` of the seconds this bucket counts.
    epoch: i64,
    total: u32,
    hits: u32,
}

const UNUSED: Bucket = Bucket {
    epoch: i64::MIN,
    total: 0,
    hits: 0,
};

#[derive(Debug, Clone)]
struct Ring {
    buckets: [Bucket; BUCKETS],
    latest: i64,
}

impl Ring {
    const fn new() -> Self {
        Self {
            buckets: [UNUSED; BUCKETS],
            latest: i64::MIN,
        }
    }

    /// Counts one request at `epoch`; returns (total, hits) over the last
    /// `span` epochs.
    fn add(&mut self, epoch: i64, span: i64, hit: bool) -> (u32, u32) {
        self.latest = self.latest.max(epoch);
        // BUCKETS is a small constant: the casts cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let slot = &mut self.buckets[epoch.rem_euclid(BUCKETS as i64) as usize];
        if slot.epoch < epoch {
            *slot = Bucket {
                epoch,
                total: 0,
                hits: 0,
            };
        }
        // A line older than the whole ring counts for nothing.
        if slot.epoch == epoch {
            slot.total = slot.total.saturating_add(1);
            slot.hits = slot.hits.saturating_add(u32::from(hit));
        }
        let oldest = self.latest.saturating_sub(span);
        self.buckets
            .iter()
            .filter(|b| b.epoch > oldest)
            .fold((0, 0), |(t, h), b| {
                (t.saturating_add(b.total), h.saturating_add(b.hits))
            })
    }
}

#[derive(Debug, Clone)]
struct Client {
    last_seen: i64,
    arrival: u64,
    rings: Vec<Ring>,
}

/// One window rule, ready to count.
#[derive(Debug, Clone)]
struct Tracked {
    rule: usize,
    /// Seconds per bucket.
    width: i64,
    /// Buckets making up the window.
    span: i64,
    spec: WindowSpec,
}

/// What one request looks like to the windows.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub client: IpAddr,
    /// Unix seconds, from the log line.
    pub time: i64,
    pub status: u16,
    /// Decoded path, without the query.
    pub path: &'a str,
}

/// The window state of one log stream.
#[derive(Debug, Clone)]
pub struct Windows {
    tracked: Vec<Tracked>,
    clients: HashMap<IpAddr, Client>,
    max_clients: usize,
    /// Longest window, seconds: a client idle longer holds nothing.
    horizon: i64,
    now: i64,
    arrivals: u64,
}

impl Windows {
    /// Windows for the window rules of `rules`, tracking at most
    /// `max_clients` addresses (at least 1).
    #[must_use]
    pub fn new(rules: &Rules, max_clients: usize) -> Self {
        let tracked: Vec<Tracked> = rules
            .rules
            .iter()
            .enumerate()
            .filter_map(|(rule, r)| {
                r.window.as_ref().map(|w| {
                    let seconds = i64::from(w.spec.seconds());
                    let width = (seconds + BUCKETS as i64 - 1) / BUCKETS as i64;
                    Tracked {
                        rule,
                        width,
                        span: (seconds + width - 1) / width,
                        spec: w.spec.clone(),
                    }
                })
            })
            .collect();
        let horizon = tracked.iter().map(|t| t.width * t.span).max().unwrap_or(0);
        Self {
            tracked,
            clients: HashMap::new(),
            max_clients: max_clients.max(1),
            horizon,
            now: i64::MIN,
            arrivals: 0,
        }
    }

    /// How many addresses are tracked now.
    #[must_use]
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// Counts `obs` and pushes the index of every window rule it trips
    /// onto `fired`.
    pub fn observe(&mut self, rules: &Rules, obs: Observation<'_>, fired: &mut Vec<usize>) {
        if self.tracked.is_empty() {
            return;
        }
        self.now = self.now.max(obs.time);
        if !self.clients.contains_key(&obs.client) && self.clients.len() >= self.max_clients {
            self.make_room();
        }
        let client = match self.clients.entry(obs.client) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.arrivals += 1;
                e.insert(Client {
                    last_seen: obs.time,
                    arrival: self.arrivals,
                    rings: vec![Ring::new(); self.tracked.len()],
                })
            }
        };
        client.last_seen = client.last_seen.max(obs.time);
        for (t, ring) in self.tracked.iter().zip(client.rings.iter_mut()) {
            let epoch = obs.time.div_euclid(t.width);
            match &t.spec {
                WindowSpec::Requests { more_than, .. } => {
                    let (total, _) = ring.add(epoch, t.span, false);
                    if total > *more_than {
                        fired.push(t.rule);
                    }
                }
                WindowSpec::ErrorRatio {
                    at_least,
                    more_than,
                    ..
                } => {
                    let (total, errors) = ring.add(epoch, t.span, obs.status >= 400);
                    if total >= *at_least && f64::from(errors) > *more_than * f64::from(total) {
                        fired.push(t.rule);
                    }
                }
                WindowSpec::FailedLogins {
                    more_than,
                    statuses,
                    ..
                } => {
                    let failed = statuses.contains(&obs.status)
                        && rules.rules[t.rule]
                            .window
                            .as_ref()
                            .and_then(|w| w.path.as_ref())
                            .is_some_and(|re| re.is_match(obs.path.as_bytes()));
                    let (_, failures) = ring.add(epoch, t.span, failed);
                    if failed && failures > *more_than {
                        fired.push(t.rule);
                    }
                }
            }
        }
    }

    /// Frees at least one slot: idle addresses first, then the least
    /// recently seen sixteenth.
    fn make_room(&mut self) {
        let idle_before = self.now.saturating_sub(self.horizon);
        self.clients.retain(|_, c| c.last_seen >= idle_before);
        if self.clients.len() < self.max_clients {
            return;
        }
        let mut ages: Vec<(i64, u64, IpAddr)> = self
            .clients
            .iter()
            .map(|(ip, c)| (c.last_seen, c.arrival, *ip))
            .collect();
        let evict = (self.max_clients / 16).max(1).min(ages.len());
        ages.select_nth_unstable(evict - 1);
        for (_, _, ip) in &ages[..evict] {
            self.clients.remove(ip);
        }
    }
}
