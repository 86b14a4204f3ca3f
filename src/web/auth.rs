//! Who is calling: users with roles, passwords (argon2id) for the pages, sessions and API
//! tokens (random, kept only as BLAKE3 hashes), and the checks every route makes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use super::AppState;
use crate::store::{Store, StoreError, UserRow};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cg_session";
/// A page session lasts a working day.
const SESSION_HOURS: i64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including retries, user management and unmasked ID numbers.
    Admin,
    /// Reads every department.
    Ops,
    /// Reads its own department's records and problems only.
    Department,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "ops" => Some(Role::Ops),
            "department" => Some(Role::Department),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Department => "department",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Ops => "运维",
            Role::Department => "部门",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown role {0:?} (expected admin, ops or department)")]
    Role(String),
    #[error("the department role needs --department")]
    NoDepartment,
    #[error("unknown department {0:?}")]
    UnknownDepartment(String),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("random source: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The department a department user is limited to.
    pub department: Option<String>,
}

impl Caller {
    /// The department this caller may see, or `None` for all of them.
    pub fn scope(&self) -> Option<&str> {
        match self.role {
            Role::Department => self.department.as_deref(),
            Role::Admin | Role::Ops => None,
        }
    }

    /// May this caller see `department`'s data?
    pub fn sees(&self, department: &str) -> bool {
        self.scope().is_none_or(|d| d == department)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Refuses callers whose role is not in `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Denied> {
        if roles.contains(&self.role) { Ok(()) } else { Err(Denied::Forbidden) }
    }
}

/// A request without a valid caller, or with one not allowed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No or unknown credentials: the pages send to the login, the API answers 401.
    Unauthenticated {
        page: bool,
    },
    Forbidden,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Unauthenticated { page: true } => Redirect::to("/login").into_response(),
            Denied::Unauthenticated { page: false } => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({"error": "unauthenticated", "message": "请先登录或提供 API 令牌"})),
            )
                .into_response(),
            Denied::Forbidden => {
                (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({"error": "forbidden", "message": "无权访问"})))
                    .into_response()
            }
        }
    }
}

/// A new random token: 32 bytes from the operating system, hex.
pub fn new_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What the store keeps of a token. Tokens are 256 random bits, so a fast hash is enough.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = argon2::Argon2::default().hash_password(password.as_bytes(), &salt);
    Ok(hash.map_err(|e| AuthError::Hash(e.to_string()))?.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// What `users add` hands out once: the password and an API token. Only hashes are kept.
#[derive(Debug)]
pub struct NewUser {
    pub password: String,
    pub api_token: String,
}

/// Adds (or resets) a user with a fresh password and API token.
pub async fn add_user(
    store: &Store,
    departments: &crate::department::Departments,
    name: &str,
    role: &str,
    department: Option<&str>,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<NewUser, AuthError> {
    let role = Role::parse(role).ok_or_else(|| AuthError::Role(role.to_string()))?;
    let department = match (role, department) {
        (Role::Department, None) => return Err(AuthError::NoDepartment),
        (Role::Department, Some(d)) if departments.get(d).is_none() => {
            return Err(AuthError::UnknownDepartment(d.to_string()));
        }
        (Role::Department, Some(d)) => Some(d.to_string()),
        _ => None,
    };
    let password = match password {
        Some(p) => p.to_string(),
        None => new_token()?[..16].to_string(),
    };
    let user = UserRow {
        name: name.to_string(),
        role: role.as_str().to_string(),
        department,
        password_hash: hash_password(&password)?,
    };
    store.upsert_user(&user, now).await?;
    let api_token = new_token()?;
    store.add_token(&token_hash(&api_token), name, "api", None, now).await?;
    Ok(NewUser { password, api_token })
}

/// Checks a name and password; on success opens a session and returns its token.
pub async fn login(store: &Store, name: &str, password: &str, now: DateTime<Utc>) -> Result<Option<String>, AuthError> {
    let Some(user) = store.user(name).await? else {
        // Same work for an unknown name, so timing does not tell which names exist.
        let _ = verify_password(password, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAA");
        return Ok(None);
    };
    let ok = {
        let (password, hash) = (password.to_string(), user.password_hash.clone());
        tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
    };
    if !ok {
        return Ok(None);
    }
    let token = new_token()?;
    let expires = now + chrono::Duration::hours(SESSION_HOURS);
    store.add_token(&token_hash(&token), name, "session", Some(expires), now).await?;
    Ok(Some(token))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
    })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// The session token of a request, if it carries one (for logout).
pub fn session_token(parts: &Parts) -> Option<String> {
    cookie(&parts.headers, SESSION_COOKIE)
}

/// Is the caller named by the session cookie, which a browser adds by itself (an ambient
/// credential), rather than by a bearer token, which only a program that holds it sends?
/// The bearer wins when both are present, as in [`Caller`].
pub fn rides_on_cookie(headers: &HeaderMap) -> bool {
    bearer(headers).is_none() && cookie(headers, SESSION_COOKIE).is_some()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Denied> {
        let page = !(parts.uri.path().starts_with("/api/") || parts.uri.path() == "/metrics");
        let denied = Denied::Unauthenticated { page };
        let token = bearer(&parts.headers).or_else(|| cookie(&parts.headers, SESSION_COOKIE)).ok_or(denied)?;
        let user = match state.store.token_user(&token_hash(&token), state.now()).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(denied),
            Err(e) => {
                tracing::error!(error = %e, "reading a token");
                return Err(denied);
            }
        };
        let role = Role::parse(&user.role).ok_or(Denied::Forbidden)?;
        Ok(Caller { name: user.name, role, department: user.department })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("正确的密码").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("正确的密码", &hash));
        assert!(!verify_password("错误的密码", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_kept_hashed() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn a_department_user_sees_only_its_department() {
        let clerk = Caller { name: "c".into(), role: Role::Department, department: Some("tax".into()) };
        assert!(clerk.sees("tax") && !clerk.sees("court"));
        assert_eq!(clerk.require(&[Role::Admin, Role::Ops]), Err(Denied::Forbidden));
        let ops = Caller { name: "o".into(), role: Role::Ops, department: None };
        assert!(ops.sees("court") && ops.scope().is_none());
    }
}
