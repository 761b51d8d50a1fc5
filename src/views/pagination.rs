use serde::Serialize;
use utoipa::ToSchema;

/// A page of results, shaped like Django REST Framework's, with absolute links.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// Total number of matching items (null with `cursor` pagination, which
    /// never counts, so that deep pages stay as cheap as the first).
    pub count: Option<u64>,
    /// Absolute URL of the next page, if any.
    pub next: Option<String>,
    /// Absolute URL of the previous page, if any.
    pub previous: Option<String>,
    pub results: Vec<T>,
}
