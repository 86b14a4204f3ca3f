//! Who is calling: users with roles, passwords (argon2id) for the pages, sessions and API
//! tokens (random, kept only as BLAKE3 hashes, each with an end), and the checks every route
//! makes. Logins are throttled per name and per address ([`super::throttle`]); re-adding,
//! resetting or removing a user ends its sessions and tokens.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use super::AppState;
use crate::store::{Store, StoreError, UserRow};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cg_session";
/// A page session lasts a working day.
const SESSION_HOURS: i64 = 12;
/// How long an API token lasts unless `[auth] api_token_days` says otherwise.
pub const DEFAULT_API_TOKEN_LIFETIME: TimeDelta = TimeDelta::days(90);
/// The argon2 hash an unknown name is checked against, so timing does not tell which names exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAA";

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
    #[error("未知角色 {0:?}（应为 admin、ops 或 department）")]
    Role(String),
    #[error("department 角色须用 --department 指定部门")]
    NoDepartment,
    #[error("未知部门 {0:?}")]
    UnknownDepartment(String),
    #[error("没有用户 {0:?}")]
    UnknownUser(String),
    #[error("口令散列失败：{0}")]
    Hash(String),
    #[error("随机数来源出错：{0}")]
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
    /// Its name as people say it (税务局), for the page header.
    pub department_name: Option<String>,
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

/// What `users add` and `users reset` hand out once: the password and an API token. Only
/// hashes are kept.
#[derive(Debug)]
pub struct NewUser {
    pub password: String,
    pub api_token: String,
    /// When the API token stops working.
    pub api_token_expires: DateTime<Utc>,
}

/// Adds (or re-adds) a user with a fresh password and an API token of the default lifetime.
pub async fn add_user(
    store: &Store,
    departments: &crate::department::Departments,
    name: &str,
    role: &str,
    department: Option<&str>,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<NewUser, AuthError> {
    add_user_with_lifetime(store, departments, name, role, department, password, DEFAULT_API_TOKEN_LIFETIME, now).await
}

/// Adds a user, or re-adds one under a new role: either way with a fresh password and API token
/// (lasting `token_lifetime`), and every older session and token of the name ended, so a token
/// handed out under the old role does not carry over to the new one.
#[allow(clippy::too_many_arguments)]
pub async fn add_user_with_lifetime(
    store: &Store,
    departments: &crate::department::Departments,
    name: &str,
    role: &str,
    department: Option<&str>,
    password: Option<&str>,
    token_lifetime: TimeDelta,
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
    let user =
        UserRow { name: name.to_string(), role: role.as_str().to_string(), department, password_hash: String::new() };
    replace_credentials(store, user, password, token_lifetime, now).await
}

/// `users reset`: a new password and API token for an existing user, its role kept; every
/// older session and token ended.
pub async fn reset_user(
    store: &Store,
    name: &str,
    password: Option<&str>,
    token_lifetime: TimeDelta,
    now: DateTime<Utc>,
) -> Result<NewUser, AuthError> {
    let user = store.user(name).await?.ok_or_else(|| AuthError::UnknownUser(name.to_string()))?;
    replace_credentials(store, user, password, token_lifetime, now).await
}

/// Writes `user` with a new password, ends its old sessions and tokens and adds one new API
/// token, in one transaction.
async fn replace_credentials(
    store: &Store,
    mut user: UserRow,
    password: Option<&str>,
    token_lifetime: TimeDelta,
    now: DateTime<Utc>,
) -> Result<NewUser, AuthError> {
    let password = match password {
        Some(p) => p.to_string(),
        None => new_token()?[..16].to_string(),
    };
    user.password_hash = hash_password(&password)?;
    let api_token = new_token()?;
    let api_token_expires = now + token_lifetime;
    store.replace_user(&user, &token_hash(&api_token), api_token_expires, now).await?;
    Ok(NewUser { password, api_token, api_token_expires })
}

/// `tokens revoke`: ends every session and API token of `name`; how many there were.
pub async fn revoke_tokens(store: &Store, name: &str) -> Result<u64, AuthError> {
    if store.user(name).await?.is_none() {
        return Err(AuthError::UnknownUser(name.to_string()));
    }
    Ok(store.revoke_tokens(name).await?)
}

/// `users remove`: the user and every session and token of it.
pub async fn remove_user(store: &Store, name: &str) -> Result<(), AuthError> {
    if store.remove_user(name).await? { Ok(()) } else { Err(AuthError::UnknownUser(name.to_string())) }
}

/// What a login attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    /// A new session's token.
    Session(String),
    /// Wrong name or password.
    Refused,
    /// Too many failures of this name or from this address: try again after this long.
    Throttled(TimeDelta),
}

/// Checks a name and password, unless the name or the client address is locked for its
/// failures; on success opens a session. Argon2 runs on the blocking threads, a few at a
/// time, so a storm of logins does not hold up the pages.
pub async fn login(state: &AppState, name: &str, password: &str, address: Option<IpAddr>) -> Result<Login, AuthError> {
    let now = state.now();
    if let Some(wait) = state.login_throttle.wait(name, address, now) {
        return Ok(Login::Throttled(wait));
    }
    let store = &state.store;
    let user = store.user(name).await?;
    let hash = user.as_ref().map_or(DUMMY_HASH, |u| u.password_hash.as_str()).to_string();
    let ok = {
        let _turn = state.login_throttle.check_turn().await;
        let password = password.to_string();
        crate::supervisor::blocking(move || verify_password(&password, &hash)).await
    };
    if !(ok && user.is_some()) {
        if state.login_throttle.failed(name, address, now, &state.settings().gateway.login_policy) {
            let address = address.map(|a| a.to_string()).unwrap_or_default();
            tracing::warn!(user = name, address, "too many failed logins: locked for a while");
        }
        return Ok(Login::Refused);
    }
    state.login_throttle.succeeded(name);
    let token = new_token()?;
    let expires = now + chrono::Duration::hours(SESSION_HOURS);
    store.add_token(&token_hash(&token), name, "session", Some(expires), now).await?;
    Ok(Login::Session(token))
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
        // Already found by the masking layer for this request.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
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
        let department_name =
            user.department.as_deref().and_then(|d| state.settings().departments.get(d).map(|d| d.name.clone()));
        Ok(Caller { name: user.name, role, department: user.department, department_name })
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
        let clerk = Caller {
            name: "c".into(),
            role: Role::Department,
            department: Some("tax".into()),
            department_name: Some("税务局".into()),
        };
        assert!(clerk.sees("tax") && !clerk.sees("court"));
        assert_eq!(clerk.require(&[Role::Admin, Role::Ops]), Err(Denied::Forbidden));
        let ops = Caller { name: "o".into(), role: Role::Ops, department: None, department_name: None };
        assert!(ops.sees("court") && ops.scope().is_none());
    }
}
