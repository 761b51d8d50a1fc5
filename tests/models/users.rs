use loco_rs::{app::Hooks, config::Config, environment::Environment};
use vigil::{
    app::{check_production_secrets, App, COMMITTED_JWT_SECRETS},
    models::users::{self, NewUser, Role},
};

#[test]
fn roles_parse_case_insensitively_and_print_uppercase() {
    assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
    assert_eq!("Analyst".parse::<Role>().unwrap(), Role::Analyst);
    assert!("root".parse::<Role>().is_err());
    assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), "\"ADMIN\"");
}

#[tokio::test]
async fn passwords_are_hashed_and_verified() {
    let boot = crate::support::boot().await;
    let user = users::Model::create_with_password(
        &boot.app_context.db,
        &vigil::models::audit::By::new("test", None),
        &NewUser {
            username: "alice",
            email: "Alice@Example.com",
            password: "a-long-password",
            role: Role::Analyst,
        },
    )
    .await
    .unwrap();
    assert_eq!(user.email, "alice@example.com");
    assert!(user.password.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(users::Model::password_matches(
        Some(&user),
        "a-long-password"
    ));
    assert!(!users::Model::password_matches(
        Some(&user),
        "a-long-passwore"
    ));
    assert!(!users::Model::password_matches(None, "a-long-password"));
}

async fn config_with_secret(secret: &str) -> Config {
    let mut config = App::load_config(&Environment::Test).await.unwrap();
    if let Some(jwt) = config.auth.as_mut().and_then(|a| a.jwt.as_mut()) {
        jwt.secret = secret.to_string();
    }
    config
}

#[tokio::test]
async fn production_refuses_committed_or_weak_jwt_secrets() {
    for secret in COMMITTED_JWT_SECRETS
        .iter()
        .copied()
        .chain(["", "c2hvcnQ="])
    {
        let config = config_with_secret(secret).await;
        let err = check_production_secrets(&Environment::Production, &config)
            .expect_err("refused in production");
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
        // The same secret is fine outside production.
        check_production_secrets(&Environment::Development, &config).unwrap();
    }
    let strong =
        config_with_secret("q3F0bW9yZS10aGFuLTMyLXJhbmRvbS1ieXRlcy1mb3ItdGhlLWtleS1oZXJlIQ==")
            .await;
    check_production_secrets(&Environment::Production, &strong).unwrap();
}

#[tokio::test]
async fn production_config_reads_the_secret_from_the_environment() {
    let text = std::fs::read_to_string("config/production.yaml").unwrap();
    assert!(text.contains(r#"get_env(name="JWT_SECRET""#));
    for secret in COMMITTED_JWT_SECRETS {
        assert!(
            !text.contains(secret),
            "no committed secret in production.yaml"
        );
    }
}
