pub mod _entities;
pub mod alert_histories;
pub mod alert_status;
pub mod alerts;
pub mod api_keys;
pub mod events;
pub mod idempotency_keys;
pub mod listing;
pub mod log_cursors;
pub mod login_throttles;
pub mod outbox_envelopes;
pub mod refresh_tokens;
pub mod severity;
pub mod stats;
pub mod tallies;
pub mod users;
pub mod webhook_deliveries;
pub mod webhooks;

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
