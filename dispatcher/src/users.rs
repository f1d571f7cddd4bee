//! Admin users of the `/int` API: creating them, setting passwords and moving them between
//! tenants. The operator's CLI (`avni-int-dispatcher user …`) and `/int/user` share these rules.

use avni_int_shared::IntegrationSystemId;
use base64::Engine;
use rand::RngCore;
use sqlx::PgPool;

/// `users.email` is `varchar(250)`.
pub const MAX_EMAIL_CHARS: usize = 250;
/// bcrypt reads at most 72 bytes; a longer password would be silently cut, so it is refused.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// The cost Spring Security's `BCryptPasswordEncoder` uses by default.
pub const BCRYPT_COST: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("email {0}")]
    InvalidEmail(&'static str),
    #[error("a user with email {0} already exists")]
    DuplicateEmail(String),
    #[error("password {0}")]
    InvalidPassword(&'static str),
    #[error("no integration system named or numbered {0:?}")]
    UnknownTenant(String),
    #[error("{0:?} names several integration systems; use the id")]
    AmbiguousTenant(String),
    #[error("no active user with email {0}")]
    UnknownUser(String),
    #[error("hashing the password: {0}")]
    Hash(#[from] bcrypt::BcryptError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The email as stored (trimmed), or why it cannot be one.
pub fn validate_email(email: &str) -> Result<String, UsersError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(UsersError::InvalidEmail("must not be blank"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(UsersError::InvalidEmail("must be at most 250 characters"));
    }
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(email.to_owned()),
        _ => Err(UsersError::InvalidEmail("must be an email address")),
    }
}

/// A bcrypt hash in Spring's `$2a$10$` format, so the original service could read it too.
pub fn hash_password(password: &str) -> Result<String, UsersError> {
    if password.is_empty() {
        return Err(UsersError::InvalidPassword("must not be empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UsersError::InvalidPassword("must be at most 72 bytes"));
    }
    Ok(bcrypt::hash_with_result(password, BCRYPT_COST)?.format_for_version(bcrypt::Version::TwoA))
}

/// The hash of a random secret nobody knows: the account exists but no password opens it
/// until an operator sets one.
pub fn unusable_hash() -> Result<String, UsersError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hash_password(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..24]))
}

/// bcrypt takes tens of milliseconds of CPU: run it off the async threads.
pub async fn hash_off_thread(password: Option<String>) -> Result<String, UsersError> {
    tokio::task::spawn_blocking(move || match password {
        Some(password) => hash_password(&password),
        None => unusable_hash(),
    })
    .await
    .unwrap_or_else(|_| Err(UsersError::InvalidPassword("could not be hashed")))
}

/// An integration system by id or by name (not voided).
pub async fn resolve_tenant(
    pool: &PgPool,
    name_or_id: &str,
) -> Result<IntegrationSystemId, UsersError> {
    let text = name_or_id.trim();
    let ids: Vec<i32> = sqlx::query_scalar(
        "SELECT id FROM integration_system
         WHERE (id::text = $1 OR name = $1) AND NOT coalesce(is_voided, false)
         ORDER BY (id::text = $1) DESC, id",
    )
    .bind(text)
    .fetch_all(pool)
    .await?;
    match ids.as_slice() {
        [] => Err(UsersError::UnknownTenant(text.to_owned())),
        // An exact id wins over a system that happens to be named like a number.
        [id, ..] if id.to_string() == text => Ok(IntegrationSystemId(*id)),
        [id] => Ok(IntegrationSystemId(*id)),
        _ => Err(UsersError::AmbiguousTenant(text.to_owned())),
    }
}

/// Serialises writes that check email uniqueness, so two concurrent creates cannot both pass.
async fn lock_email(tx: &mut sqlx::PgConnection, email: &str) -> Result<(), UsersError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('avni-int user ' || lower($1)))")
        .bind(email)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether another active user (not `except`) already has `email`, ignoring case.
async fn email_taken(
    tx: &mut sqlx::PgConnection,
    email: &str,
    except: Option<i32>,
) -> Result<bool, UsersError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1)
            AND NOT coalesce(is_voided, false) AND id IS DISTINCT FROM $2)",
    )
    .bind(email)
    .bind(except)
    .fetch_one(tx)
    .await?)
}

/// Inserts an active user with an already made hash; the email must be free among active users.
pub async fn insert_user(
    pool: &PgPool,
    email: &str,
    tenant: IntegrationSystemId,
    password_hash: &str,
) -> Result<i32, UsersError> {
    let email = validate_email(email)?;
    let mut tx = pool.begin().await?;
    lock_email(&mut tx, &email).await?;
    if email_taken(&mut tx, &email, None).await? {
        return Err(UsersError::DuplicateEmail(email));
    }
    let id: i32 = sqlx::query_scalar(
        "INSERT INTO users (email, password, working_integration_system_id, uuid, is_voided)
         VALUES ($1, $2, $3, gen_random_uuid()::text, false) RETURNING id",
    )
    .bind(&email)
    .bind(password_hash)
    .bind(tenant.0)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a user's email, keeping it unique among active users.
pub async fn change_email(pool: &PgPool, user_id: i32, email: &str) -> Result<(), UsersError> {
    let email = validate_email(email)?;
    let mut tx = pool.begin().await?;
    lock_email(&mut tx, &email).await?;
    if email_taken(&mut tx, &email, Some(user_id)).await? {
        return Err(UsersError::DuplicateEmail(email));
    }
    sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `user create`: a new user of the tenant named (or numbered) `tenant`, who logs in with
/// `password`.
pub async fn create_user(
    pool: &PgPool,
    email: &str,
    tenant: &str,
    password: &str,
) -> Result<i32, UsersError> {
    let email = validate_email(email)?;
    let tenant = resolve_tenant(pool, tenant).await?;
    let hash = hash_off_thread(Some(password.to_owned())).await?;
    insert_user(pool, &email, tenant, &hash).await
}

/// The active user with `email` (any case).
async fn active_user_id(pool: &PgPool, email: &str) -> Result<i32, UsersError> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE lower(email) = lower($1) AND NOT coalesce(is_voided, false)
         ORDER BY id LIMIT 1",
    )
    .bind(email.trim())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| UsersError::UnknownUser(email.trim().to_owned()))
}

/// `user set-password`: the new password works at once; every open session of the user ends
/// (a reset is often because the old one leaked) and the login throttle is lifted.
pub async fn set_password(pool: &PgPool, email: &str, password: &str) -> Result<(), UsersError> {
    let hash = hash_off_thread(Some(password.to_owned())).await?;
    let user_id = active_user_id(pool, email).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET password = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM int_session WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM int_login_failure WHERE email = lower($1)")
        .bind(email.trim())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `user set-tenant`: the user works on another integration system from their next request.
pub async fn set_tenant(
    pool: &PgPool,
    email: &str,
    tenant: &str,
) -> Result<IntegrationSystemId, UsersError> {
    let tenant = resolve_tenant(pool, tenant).await?;
    let user_id = active_user_id(pool, email).await?;
    sqlx::query("UPDATE users SET working_integration_system_id = $2 WHERE id = $1")
        .bind(user_id)
        .bind(tenant.0)
        .execute(pool)
        .await?;
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked() {
        assert_eq!(validate_email(" a@b.org ").unwrap(), "a@b.org");
        assert!(validate_email("nobody").is_err());
        assert!(validate_email("@b.org").is_err());
        assert!(validate_email(&format!("{}@b.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn hashes_are_springs_format_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        assert!(bcrypt::verify("s3cret", &hash).unwrap());
        assert!(hash_password("").is_err());
        assert!(hash_password(&"x".repeat(73)).is_err());
    }

    #[test]
    fn unusable_hashes_differ_and_refuse_the_obvious() {
        let a = unusable_hash().unwrap();
        assert_ne!(a, unusable_hash().unwrap());
        assert!(!bcrypt::verify("", &a).unwrap_or(false));
    }
}
