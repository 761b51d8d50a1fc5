//! The source allowlist: networks whose events are stored (marked
//! `allowlisted`) but never open or join an alert. The ingestion path asks
//! a [`Compiled`] list, merged into sorted disjoint ranges, so a lookup is
//! a binary search whatever the number of entries.
use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use ipnet::IpNet;
use loco_rs::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::allowlist_entries::{self, ActiveModel, Column, Entity, Model};
use super::{
    audit::{self, By, Entry},
    FieldErrors, Invalid,
};

impl ActiveModelBehavior for ActiveModel {}

/// Most entries the list holds.
pub const MAX_ENTRIES: u64 = 100_000;

/// `POST /api/allowlist` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// A network (`10.0.0.0/8`, `2001:db8::/32`) or one address.
    #[schema(example = "10.0.0.0/8", max_length = 50)]
    pub cidr: String,
    /// Why these sources are trusted (1 to 500 characters).
    #[schema(example = "internal vulnerability scanner", max_length = 500)]
    pub reason: String,
    /// When the entry stops applying (in the future); none: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Parses `10.0.0.0/8`, `10.1.2.3` (a /32) or an IPv6 equivalent; host
/// bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
///
/// # Errors
/// A message for the `cidr` field.
pub fn parse_network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    if let Ok(net) = raw.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(match raw.split_once('/') {
        Some((addr, len)) if addr.parse::<IpAddr>().is_ok() => {
            let max = if addr.contains(':') { 128 } else { 32 };
            format!("`/{len}` is not a prefix length for this address: use 0 to {max}")
        }
        _ => format!("`{raw}` is not an IP address or a CIDR network such as 10.0.0.0/8"),
    })
}

impl NewEntry {
    fn check(&self, now: DateTime<Utc>) -> Result<IpNet, FieldErrors> {
        let mut fields = FieldErrors::new();
        let net = parse_network(&self.cidr).map_err(|m| fields.insert("cidr".into(), vec![m]));
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            fields.insert("reason".into(), vec!["Must be 1 to 500 characters.".into()]);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            fields.insert("expires_at".into(), vec!["Must be in the future.".into()]);
        }
        match net {
            Ok(net) if fields.is_empty() => Ok(net),
            _ => Err(fields),
        }
    }
}

/// An entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntrySnapshot {
    pub id: String,
    #[schema(example = "10.0.0.0/8")]
    pub cidr: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it applies now (false once `expires_at` has passed).
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Model {
    #[must_use]
    pub fn snapshot(&self, now: DateTime<Utc>) -> EntrySnapshot {
        EntrySnapshot {
            id: self.pid.to_string(),
            cidr: self.cidr.clone(),
            reason: self.reason.clone(),
            expires_at: self.expires_at.map(|t| t.with_timezone(&Utc)),
            active: self.expires_at.is_none_or(|t| t > now),
            created_by: self.created_by.clone(),
            created_at: self.created_at.with_timezone(&Utc),
        }
    }

    /// Adds an entry, audited in the same transaction.
    ///
    /// # Errors
    /// 400 naming the invalid fields; database errors.
    pub async fn create(db: &DatabaseConnection, by: &By, params: &NewEntry) -> Result<Self> {
        let now = Utc::now();
        let net = params.check(now).map_err(Invalid)?;
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        if Entity::find().count(&txn).await? >= MAX_ENTRIES {
            return Err(Invalid::field(
                "cidr",
                format!("The allowlist holds {MAX_ENTRIES} entries at most: delete some first."),
            )
            .into());
        }
        let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.trunc_subsecs(6).into();
        let row = ActiveModel {
            pid: ActiveValue::set(Uuid::now_v7()),
            cidr: ActiveValue::set(net.to_string()),
            reason: ActiveValue::set(params.reason.trim().to_string()),
            expires_at: ActiveValue::set(params.expires_at.map(|t| t.trunc_subsecs(6).into())),
            created_by: ActiveValue::set(by.actor.chars().take(200).collect()),
            created_at: ActiveValue::set(stamp),
            updated_at: ActiveValue::set(stamp),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::commit_with(
            txn,
            by,
            Entry::new("allowlist.created", row.pid.to_string()).after(row.snapshot(now)),
        )
        .await?;
        Ok(row)
    }

    /// Deletes an entry, audited in the same transaction.
    ///
    /// # Errors
    /// 404; database errors.
    pub async fn remove(db: &DatabaseConnection, by: &By, pid: &str) -> Result<()> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row =
            super::find_by_pid::<Entity, _>(&txn, "allowlist entry", Column::Pid, pid).await?;
        Entity::delete_by_id(row.id).exec(&txn).await?;
        audit::commit_with(
            txn,
            by,
            Entry::new("allowlist.deleted", row.pid.to_string()).before(row.snapshot(Utc::now())),
        )
        .await?;
        Ok(())
    }

    /// A page (from 1) of entries, newest first, and their count.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_page(
        db: &DatabaseConnection,
        page: u64,
        size: u64,
    ) -> ModelResult<(Vec<Self>, u64)> {
        Ok(
            super::listing::page_of(db, Entity::find().order_by_desc(Column::Id), page, size)
                .await?,
        )
    }

    /// # Errors
    /// 404; database errors.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "allowlist entry", Column::Pid, pid).await
    }
}

/// The entries in force, as disjoint sorted ranges per address family.
#[derive(Debug, Default, Clone)]
pub struct Compiled {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    /// When the next entry expires: the list must be compiled again then.
    pub next_expiry: Option<DateTime<Utc>>,
}

fn merge<T: Ord + Copy>(mut ranges: Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut() {
            // Overlapping or adjacent: one range.
            if succ(last.1).is_none_or(|next| start <= next) {
                last.1 = last.1.max(end);
                continue;
            }
        }
        out.push((start, end));
    }
    out
}

fn within<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= x);
    i > 0 && x <= ranges[i - 1].1
}

impl Compiled {
    /// The entries of `rows` in force at `now`.
    #[must_use]
    pub fn new(rows: &[Model], now: DateTime<Utc>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut next_expiry: Option<DateTime<Utc>> = None;
        for row in rows {
            if let Some(at) = row.expires_at.map(|t| t.with_timezone(&Utc)) {
                if at <= now {
                    continue;
                }
                next_expiry = Some(next_expiry.map_or(at, |n| n.min(at)));
            }
            match row.cidr.parse::<IpNet>() {
                Ok(IpNet::V4(net)) => {
                    v4.push((u32::from(net.network()), u32::from(net.broadcast())));
                }
                Ok(IpNet::V6(net)) => {
                    v6.push((u128::from(net.network()), u128::from(net.broadcast())));
                }
                Err(_) => {
                    tracing::warn!(entry = %row.pid, cidr = %row.cidr, "unreadable allowlist entry skipped")
                }
            }
        }
        Self {
            v4: merge(v4, |x: u32| x.checked_add(1)),
            v6: merge(v6, |x: u128| x.checked_add(1)),
            next_expiry,
        }
    }

    /// Whether `ip` is allowlisted (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => within(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => within(&self.v4, u32::from(v4)),
                None => within(&self.v6, u128::from(v6)),
            },
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cidr: &str, expires_at: Option<DateTime<Utc>>) -> Model {
        let now = Utc::now().into();
        Model {
            created_at: now,
            updated_at: now,
            id: 1,
            pid: Uuid::now_v7(),
            cidr: cidr.into(),
            reason: "r".into(),
            expires_at: expires_at.map(Into::into),
            created_by: "a".into(),
        }
    }

    #[test]
    fn networks_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_network("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_network("10.1.2.3").unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            parse_network("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert!(parse_network("10.0.0.0/33")
            .unwrap_err()
            .contains("0 to 32"));
        assert!(parse_network("::/129").unwrap_err().contains("0 to 128"));
        assert!(parse_network("example.com").is_err());
    }

    #[test]
    fn lookups_follow_merged_ranges_and_expiry() {
        let now = Utc::now();
        let rows = vec![
            row("10.0.0.0/8", None),
            row("10.1.0.0/16", None),
            row("192.168.1.0/24", None),
            row("192.168.2.0/24", None),
            row("203.0.113.7", Some(now - chrono::Duration::minutes(1))),
            row("198.51.100.0/24", Some(now + chrono::Duration::minutes(5))),
            row("2001:db8::/32", None),
        ];
        let list = Compiled::new(&rows, now);
        for yes in [
            "10.255.0.1",
            "192.168.2.200",
            "198.51.100.9",
            "2001:db8::5",
            "::ffff:10.0.0.1",
        ] {
            assert!(list.contains(yes.parse().unwrap()), "{yes}");
        }
        for no in [
            "11.0.0.0",
            "192.168.3.0",
            "203.0.113.7",
            "2001:db9::1",
            "9.255.255.255",
        ] {
            assert!(!list.contains(no.parse().unwrap()), "{no}");
        }
        assert_eq!(list.next_expiry, Some(now + chrono::Duration::minutes(5)));
        assert!(Compiled::new(&[row("0.0.0.0/0", None)], now)
            .contains("255.255.255.255".parse().unwrap()));
    }
}
