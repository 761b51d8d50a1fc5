pub mod _entities;
pub mod alert_histories;
pub mod alert_status;
pub mod alerts;
pub mod allowlist;
pub mod api_keys;
pub mod audit;
pub mod escalation;
pub mod events;
pub mod idempotency_keys;
pub mod listing;
pub mod log_cursors;
pub mod login_throttles;
pub mod new_event;
pub mod outbox_envelopes;
pub mod refresh_tokens;
pub mod severity;
pub mod silences;
pub mod stats;
pub mod suppression;
pub mod tallies;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

/// Field name → messages: every invalid field of an input at once.
pub type FieldErrors = std::collections::BTreeMap<String, Vec<String>>;

// A model says *why* it refuses, never with which HTTP status: the types
// below (and each model's own, such as `alerts::ChangeError`) travel inside
// `loco_rs::Error::Any`, and `crate::errors` is the one place that gives each
// its status and code. Their `Display` is the human message.

/// The input broke the model's rules; every invalid field is named.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Invalid fields: {}", .0.keys().map(String::as_str).collect::<Vec<_>>().join(", "))]
pub struct Invalid(pub FieldErrors);

impl Invalid {
    /// One invalid field.
    #[must_use]
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        Self(FieldErrors::from([(
            name.to_string(),
            vec![message.into()],
        )]))
    }
}

/// No row of this kind has this public id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("No {kind} with id `{id}`")]
pub struct NotFound {
    /// What was looked for, as a reader says it: `alert`, `API key`.
    pub kind: &'static str,
    pub id: String,
}

impl NotFound {
    #[must_use]
    pub fn new(kind: &'static str, id: &str) -> Self {
        Self {
            kind,
            id: id.to_string(),
        }
    }
}

/// The row of `E` whose public id (`pid_column`) is `pid`: [`NotFound`]
/// (naming `kind`) when there is none or `pid` is not a UUID.
///
/// # Errors
/// [`NotFound`]; database errors.
pub async fn find_by_pid<E, C>(
    db: &C,
    kind: &'static str,
    pid_column: E::Column,
    pid: &str,
) -> loco_rs::Result<E::Model>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter};
    let missing = || NotFound::new(kind, pid);
    let id = uuid::Uuid::parse_str(pid).map_err(|_| missing())?;
    E::find()
        .filter(pid_column.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| missing().into())
}

/// Carries a domain error through `loco_rs::Error` to the edge.
macro_rules! domain_errors {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for loco_rs::Error {
            fn from(err: $t) -> Self {
                Self::Any(Box::new(err))
            }
        }
    )*};
}
pub(crate) use domain_errors;

domain_errors!(Invalid, NotFound);

/// The variant of `T` whose name is `name`, in any ASCII case.
pub fn variant_named<T>(name: &str) -> Option<T>
where
    T: strum::VariantArray + Copy + Into<&'static str>,
{
    T::VARIANTS
        .iter()
        .copied()
        .find(|v| name.eq_ignore_ascii_case((*v).into()))
}
