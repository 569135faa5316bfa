//! Least privilege: read-only roles for analysts and for the web server.
//!
//! A read-only role can connect, read every table and view (also those later migrations
//! create), and nothing else. Its sessions also default to read-only transactions, so a
//! mistaken write fails even where a grant was too wide.

use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("{0:?} is not a valid role name: use lower-case letters, digits and _ (not starting with a digit), at most 63 characters")]
    BadName(String),
    #[error("role {0:?} does not exist (pass --create to create it)")]
    Missing(String),
    #[error("granting read-only access to {role:?}: {source}")]
    Db { role: String, source: sqlx::Error },
}

/// A PostgreSQL role name we are willing to put into DDL: plain lower-case identifiers
/// only, so the name needs no quoting and means the same in `psql` as here.
pub fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
        && !name.starts_with("pg_")
}

/// What [`grant_readonly`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantReport {
    pub created: bool,
    pub password_set: bool,
    pub database: String,
    /// Whether the functions that write large objects were revoked from PUBLIC here
    /// (it takes a superuser: see [`LARGE_OBJECT_REVOKE`]).
    pub large_objects_revoked: bool,
}

/// The functions that create or change large objects. Every role may call them (they
/// are granted to PUBLIC), and large objects live outside the tables a read-only role
/// cannot write; only their owner, a superuser, can revoke them.
pub const LARGE_OBJECT_REVOKE: &str = "REVOKE EXECUTE ON FUNCTION \
    lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea), lo_import(text), \
    lo_import(text, oid), lo_put(oid, bigint, bytea), lowrite(integer, bytea), \
    lo_truncate(integer, integer), lo_truncate64(integer, bigint), lo_unlink(oid) \
    FROM PUBLIC";

/// Make `role` a read-only user of the current database and its `public` schema. With
/// `create`, a missing role is created with LOGIN; `password` (from the environment,
/// never the command line) is set when given. Idempotent.
pub async fn grant_readonly(
    pool: &PgPool,
    role: &str,
    create: bool,
    password: Option<&str>,
) -> Result<GrantReport, RoleError> {
    if !valid_role_name(role) {
        return Err(RoleError::BadName(role.to_string()));
    }
    let db = |source| RoleError::Db {
        role: role.to_string(),
        source,
    };
    let mut tx = pool.begin().await.map_err(db)?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS "exists!""#,
        role
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    if !exists && !create {
        return Err(RoleError::Missing(role.to_string()));
    }
    let database = sqlx::query_scalar!(r#"SELECT current_database() AS "db!""#)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    // Utility statements take no bind parameters: build them with format(), whose %I and
    // %L quote identifiers and literals.
    let mut statements: Vec<String> = Vec::new();
    if !exists {
        statements.push(format!("CREATE ROLE {role} LOGIN"));
    }
    if let Some(pw) = password {
        let stmt = sqlx::query_scalar!(
            r#"SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text) AS "s!""#,
            role,
            pw
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        statements.push(stmt);
    }
    let quoted_db = sqlx::query_scalar!(r#"SELECT format('%I', current_database()) AS "s!""#)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    statements.extend([
        format!("GRANT CONNECT ON DATABASE {quoted_db} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
        // Tables and views that later migrations create (by this same owner).
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}"),
        format!("REVOKE CREATE ON SCHEMA public FROM {role}"),
        format!("ALTER ROLE {role} SET default_transaction_read_only = on"),
    ]);
    for stmt in &statements {
        sqlx::query(stmt).execute(&mut *tx).await.map_err(db)?;
    }
    // Large objects: revoked from PUBLIC when we may (a superuser); Catalyst uses none.
    // In a savepoint, so a refusal leaves the rest of the grant in place.
    sqlx::query("SAVEPOINT large_objects")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let large_objects_revoked = match sqlx::query(LARGE_OBJECT_REVOKE).execute(&mut *tx).await {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!("revoking the large-object functions: {e}");
            sqlx::query("ROLLBACK TO SAVEPOINT large_objects")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            false
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(GrantReport {
        created: !exists,
        password_set: password.is_some(),
        database,
        large_objects_revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::valid_role_name;

    #[test]
    fn role_names_are_plain_identifiers() {
        for ok in ["analyst", "catalyst_web", "_r2", "a"] {
            assert!(valid_role_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Analyst",
            "2fast",
            "a-b",
            "a b",
            "x\"; DROP TABLE events; --",
            "pg_read_all_data",
            &"a".repeat(64),
        ] {
            assert!(!valid_role_name(bad), "{bad}");
        }
    }
}
