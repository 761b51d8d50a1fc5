use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::UserResponse;

/// A new pair of tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// Access token (JWT) for `Authorization: Bearer …`.
    pub access: String,
    /// Opaque refresh token; spent by its first use.
    pub refresh: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

impl TokenPair {
    #[must_use]
    pub fn new(access: String, refresh: String, expires_in: u64) -> Self {
        Self {
            access,
            refresh,
            token_type: "Bearer".to_string(),
            expires_in,
        }
    }
}

/// `POST /api/auth/login`: the tokens and who they belong to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserResponse,
}
