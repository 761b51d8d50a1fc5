//! The alert lifecycle: one transition table, used by the single-alert and
//! the bulk endpoints alike.
use std::str::FromStr;

use strum::VariantArray;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// `OPEN → ACKNOWLEDGED → INVESTIGATING → ESCALATED → MITIGATED → RESOLVED`,
/// and `IGNORED` (false positive).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    ToSchema,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Investigating,
    Escalated,
    Mitigated,
    Resolved,
    Ignored,
}

/// What a requested status change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Already in that status: nothing to do (200).
    NoOp,
    Allowed,
    /// Not a legal move (409 `invalid_transition`).
    Invalid,
}

impl AlertStatus {
    /// Every status, in lifecycle order.
    pub const ALL: &'static [Self] = Self::VARIANTS;

    /// As stored and shown: `OPEN`, `ACKNOWLEDGED`, …
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Position along the forward path; `IGNORED` sits beside it.
    const fn step(self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Acknowledged => 1,
            Self::Investigating => 2,
            Self::Escalated => 3,
            Self::Mitigated => 4,
            Self::Resolved | Self::Ignored => 5,
        }
    }

    /// Open alerts are joined by new events with their fingerprint.
    #[must_use]
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Ignored)
    }

    /// The transition table: an open status moves forward to any later one
    /// (or to `IGNORED`); `RESOLVED` and `IGNORED` reopen to `OPEN`.
    #[must_use]
    pub fn can_move_to(self, next: Self) -> Transition {
        let forward = self.is_open() && (next == Self::Ignored || next.step() > self.step());
        let reopen = !self.is_open() && next == Self::Open;
        if self == next {
            Transition::NoOp
        } else if forward || reopen {
            Transition::Allowed
        } else {
            Transition::Invalid
        }
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::variant_named(s.trim()).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|st| st.as_str()).collect();
            format!("unknown status `{s}`: expected one of {}", names.join(", "))
        })
    }
}

impl<'de> Deserialize<'de> for AlertStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{AlertStatus::*, Transition::*, *};

    #[test]
    fn forward_moves_skip_ahead_but_never_back() {
        assert_eq!(Open.can_move_to(Acknowledged), Allowed);
        assert_eq!(Open.can_move_to(Resolved), Allowed);
        assert_eq!(Acknowledged.can_move_to(Escalated), Allowed);
        assert_eq!(Mitigated.can_move_to(Resolved), Allowed);
        assert_eq!(Escalated.can_move_to(Acknowledged), Invalid);
        assert_eq!(Investigating.can_move_to(Open), Invalid);
    }

    #[test]
    fn ignored_and_resolved_only_reopen() {
        for open in [Open, Acknowledged, Investigating, Escalated, Mitigated] {
            assert_eq!(open.can_move_to(Ignored), Allowed, "{open}");
        }
        for closed in [Resolved, Ignored] {
            assert_eq!(closed.can_move_to(Open), Allowed);
            for &other in AlertStatus::ALL {
                if other != Open && other != closed {
                    assert_eq!(closed.can_move_to(other), Invalid, "{closed} -> {other}");
                }
            }
        }
        assert_eq!(Resolved.can_move_to(Ignored), Invalid);
    }

    #[test]
    fn same_status_is_a_no_op() {
        for &s in AlertStatus::ALL {
            assert_eq!(s.can_move_to(s), NoOp);
        }
    }
}
