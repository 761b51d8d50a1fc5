//! Severity, ordered by rank: "highest seen", the promotion threshold and
//! `ordering=severity` all use the same comparison.
use std::str::FromStr;

use strum::VariantArray;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    ToSchema,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// LOW to CRITICAL.
    pub const ALL: &'static [Self] = Self::VARIANTS;

    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// 1 (LOW) … 4 (CRITICAL), as stored in `severity_rank`.
    #[must_use]
    pub const fn rank(self) -> i16 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
            Self::Critical => 4,
        }
    }

    #[must_use]
    pub fn from_rank(rank: i16) -> Self {
        match rank {
            i16::MIN..=1 => Self::Low,
            2 => Self::Medium,
            3 => Self::High,
            _ => Self::Critical,
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::variant_named(s.trim()).ok_or_else(|| {
            format!("unknown severity `{s}`: expected LOW, MEDIUM, HIGH or CRITICAL")
        })
    }
}

/// Case-insensitive on input, uppercase on output.
impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_rank_not_alphabet() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Medium > Severity::Low);
        for &s in Severity::ALL {
            assert_eq!(Severity::from_rank(s.rank()), s);
            assert_eq!(s.as_str().to_lowercase().parse::<Severity>().unwrap(), s);
        }
        assert!("urgent".parse::<Severity>().is_err());
    }
}
