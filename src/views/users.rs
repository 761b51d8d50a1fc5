use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::models::users::{self, Role};

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    /// Opaque public id (UUID).
    #[schema(example = "0b8f8a9e-4f7e-4c55-9a38-0f6f5f2e7c11")]
    pub id: String,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    pub role: Role,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&users::Model> for UserResponse {
    fn from(user: &users::Model) -> Self {
        Self {
            id: user.pid.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role(),
            is_active: user.is_active,
            last_login_at: user.last_login_at.map(|t| t.with_timezone(&Utc)),
            created_at: user.created_at.with_timezone(&Utc),
            updated_at: user.updated_at.with_timezone(&Utc),
        }
    }
}
