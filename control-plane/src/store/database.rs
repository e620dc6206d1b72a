//! Where the control plane's state lives, pure: `--database` parsed into SQLite or PostgreSQL
//! (with an optional schema), shown without its password, schema names checked.

use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::postgres::PgConnectOptions;

use super::StoreError;

/// Where the state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL server; with `schema`, everything lives in that schema (created if missing).
    Postgres { url: String, schema: Option<String> },
}

impl Database {
    /// "postgres://…"/"postgresql://…" → Postgres (schema None); "sqlite://PATH", "sqlite:PATH"
    /// or a plain path → Sqlite. Any other "scheme://" is refused.
    pub fn parse(s: &str) -> Result<Database, StoreError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(StoreError::InvalidDatabase(
                "the database address is empty".into(),
            ));
        }
        if let Some((scheme, rest)) = split_scheme(s) {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => {
                    s.parse::<PgConnectOptions>().map_err(|e| {
                        StoreError::InvalidDatabase(format!("{}: {e}", redact_url(s)))
                    })?;
                    Ok(Database::Postgres {
                        url: s.to_owned(),
                        schema: None,
                    })
                }
                "sqlite" => sqlite_path(rest, s),
                other => Err(StoreError::InvalidDatabase(format!(
                    "unsupported scheme {other}:// in {} (use a file path, sqlite://PATH or \
                     postgres://…)",
                    redact_url(s)
                ))),
            };
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            return sqlite_path(rest, s);
        }
        Ok(Database::Sqlite(PathBuf::from(s)))
    }

    /// The default: an SQLite file `vidseed.db` in the state directory.
    pub fn in_state_dir(dir: &Path) -> Database {
        Database::Sqlite(dir.join("vidseed.db"))
    }

    /// "sqlite" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

/// Never shows a password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Database::Postgres { url, schema: None } => f.write_str(&redact_url(url)),
            Database::Postgres {
                url,
                schema: Some(schema),
            } => write!(f, "{} (schema {schema})", redact_url(url)),
        }
    }
}

/// Like `Display`: never shows a password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres { url, schema } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .field("schema", schema)
                .finish(),
        }
    }
}

/// `scheme://rest` → (scheme, rest), when `scheme` looks like a URL scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

fn sqlite_path(path: &str, whole: &str) -> Result<Database, StoreError> {
    if path.is_empty() {
        return Err(StoreError::InvalidDatabase(format!(
            "{whole:?} names no file"
        )));
    }
    Ok(Database::Sqlite(PathBuf::from(path)))
}

/// The URL with the password (in the user info or a `password=` parameter) replaced by `***`.
pub(super) fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// A schema name used unquoted-safe: ASCII letters, digits and '_', not starting with a digit,
/// at most 63 bytes (PostgreSQL's identifier limit).
pub(super) fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidDatabase(format!(
            "schema name {schema:?} must be 1 to 63 ASCII letters, digits or '_', not starting \
             with a digit"
        )))
    }
}
