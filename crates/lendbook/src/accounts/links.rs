//! djoser's emailed-link flows: password reset, username reset, activation.
//!
//! Differences from djoser 2.3.5, all on the safe side and invisible to a well-behaved
//! client: a link works once (recorded per user, purpose and issue time, in the transaction
//! of its change, so parallel uses and other spellings of it lose) and expires
//! (`[accounts] *_timeout_secs`); its token is bound to its purpose, and an activation
//! link to its activation period, so an account an administrator deactivated stays
//! deactivated; a request answers 204 at once whether or not the address is known (the
//! look-up and delivery run in the background); and a reset password is also checked for
//! similarity to the user's own attributes once the link proved who the user is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_drf::auth::activation::{ActivationPeriod, Activations};
use axum_drf::auth::signing::{decode_uid, LinkCheck, LinkSigner, LinkUse, UsedLinks};
use axum_drf::auth::validators::{validate_password, UserAttributes};
use axum_drf::auth::{AuthEventKind, User};
use axum_drf::fields::{CharField, Errors};
use axum_drf::store::{now_micros, Statement, StoreError};
use axum_drf::{ApiError, ApiRequest};
use serde_json::{Map, Value};

use super::emails::{self, Kind};
use super::users::check_password_rules;
use super::validation;
use crate::app::AppState;

/// djoser's `INVALID_UID_ERROR`.
pub const INVALID_UID: &str = "Invalid user id or user doesn't exist.";
/// djoser's `INVALID_TOKEN_ERROR`.
pub const INVALID_TOKEN: &str = "Invalid token for given user.";
/// djoser's `STALE_TOKEN_ERROR`.
pub const STALE_TOKEN: &str = "Stale token for given user.";

/// `POST users/reset_password/` `{"email"}`: 204 whatever the address.
pub async fn reset_password(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    request_link(state, req, Kind::PasswordReset).await
}

/// `POST users/reset_username/` `{"email"}`: 204 whatever the address.
pub async fn reset_username(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    request_link(state, req, Kind::UsernameReset).await
}

/// djoser's `SendEmailResetSerializer.get_user`: active users with a usable password.
async fn request_link(state: AppState, req: ApiRequest, kind: Kind) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let email = validation::required_email(&data, &mut errors);
    errors.into_result()?;
    let email = email.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    emails::spawn_send_to(&state, kind, move |state| async move {
        let users = state.auth.users().by_email(&email, true).await?;
        Ok(users
            .into_iter()
            .filter(User::has_usable_password)
            .collect())
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST users/resend_activation/` `{"email"}`: 204, or djoser's bare 400 when activation
/// is off.
pub async fn resend_activation(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let email = validation::required_email(&data, &mut errors);
    errors.into_result()?;
    if !state.config.accounts.send_activation_email {
        return Ok(StatusCode::BAD_REQUEST.into_response());
    }
    let email = email.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    emails::spawn_send_to(&state, Kind::Activation, move |state| async move {
        let users = state.auth.users().by_email(&email, false).await?;
        Ok(users
            .into_iter()
            .filter(User::has_usable_password)
            .collect())
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A verified link: its user, which use of which link it is, and (activation) the period
/// it belongs to.
struct Link {
    user: User,
    link_use: LinkUse,
    used: bool,
    expire_at: i64,
    period: Option<ActivationPeriod>,
}

/// djoser's `UidAndTokenSerializer.validate`: the uid names a user (`uid` error) and the
/// token is valid for them (`token` error), plus our expiry and single use.
async fn verify(state: &AppState, data: &Map<String, Value>, kind: Kind) -> Result<Link, ApiError> {
    let text = |key: &str| match data.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let (uid, token) = (text("uid"), text("token"));
    let user = match decode_uid(&uid) {
        Some(id) => state.auth.users().by_id(id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::field("uid", INVALID_UID))?;
    let accounts = &state.config.accounts;
    let max_age = match kind {
        Kind::Activation => accounts.activation_timeout_secs,
        Kind::PasswordReset | Kind::UsernameReset => accounts.password_reset_timeout_secs,
    };
    // Activation links are bound to the activation period they were sent in.
    let (purpose, period) = match kind {
        Kind::Activation => {
            let period = Activations::new(state.db.clone())
                .period(user.id)
                .await?
                .ok_or_else(|| ApiError::field("token", INVALID_TOKEN))?;
            (
                Activations::purpose(kind.purpose(), period.since),
                Some(period),
            )
        }
        Kind::PasswordReset | Kind::UsernameReset => (kind.purpose().to_owned(), None),
    };
    let signer = LinkSigner::new(&state.auth.config().secret);
    if signer.check(&purpose, &user, &token, max_age) != LinkCheck::Valid {
        return Err(ApiError::field("token", INVALID_TOKEN));
    }
    // Recorded under the full purpose: activation links of different periods issued in
    // the same second are different links.
    let link_use = LinkUse::of(user.id, &purpose, &token)
        .ok_or_else(|| ApiError::field("token", INVALID_TOKEN))?;
    let issued = link_use.issued;
    let used = UsedLinks::new(state.db.clone()).is_used(&link_use).await?;
    Ok(Link {
        user,
        link_use,
        used,
        expire_at: issued.saturating_add(max_age.max(0)),
        period,
    })
}

/// Runs `change` together with consuming the link; a concurrent second use loses.
async fn consume(state: &AppState, link: &Link, change: Vec<Statement>) -> Result<(), ApiError> {
    let mut stmts = UsedLinks::new(state.db.clone()).consume(&link.link_use, link.expire_at);
    stmts.extend(change);
    match state.db.transaction(stmts).await {
        Ok(_) => Ok(()),
        Err(StoreError::UniqueViolation(_)) => Err(ApiError::field("token", INVALID_TOKEN)),
        Err(e) => Err(e.into()),
    }
}

/// `POST users/reset_password_confirm/` `{"uid", "token", "new_password"}`.
pub async fn reset_password_confirm(
    state: AppState,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let field = CharField::new();
    errors.take("uid", field.validate(&data, "uid"));
    errors.take("token", field.validate(&data, "token"));
    let new_password = errors
        .take("new_password", field.validate(&data, "new_password"))
        .flatten();
    errors.into_result()?;
    let new_password =
        new_password.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    // djoser validates before it knows the user, so these answers tell nothing about the uid.
    validate_password(&new_password, &UserAttributes::default()).map_err(|messages| {
        ApiError::Validation(serde_json::json!({ "new_password": messages }))
    })?;
    let link = verify(&state, &data, Kind::PasswordReset).await?;
    if link.used {
        return Err(ApiError::field("token", INVALID_TOKEN));
    }
    // The link proved who this is: now the similarity rule can see their attributes.
    check_password_rules(&new_password, &link.user)?;
    let hash = state.auth.hash_password(&new_password).await?;
    let mut change = vec![Statement::new(
        "UPDATE auth_user SET password = $1, last_login = $2 WHERE id = $3",
        vec![hash.into(), now_micros().into(), link.user.id.into()],
    )];
    // A new password ends every session (Django's session hash) and, by default, the token.
    change.extend(state.auth.password_change_statements(link.user.id));
    consume(&state, &link, change).await?;
    state.auth.user_changed(link.user.id).await;
    super::audit(&state, &req, AuthEventKind::PasswordReset, &link.user);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST users/reset_username_confirm/` `{"uid", "token", "new_username"}`.
pub async fn reset_username_confirm(
    state: AppState,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    // djoser declares only `new_username` as a field; uid and token are read raw.
    let new_username = validation::username(&state, &data, "new_username", &mut errors).await?;
    errors.into_result()?;
    let new_username =
        new_username.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    let link = verify(&state, &data, Kind::UsernameReset).await?;
    let new_username_for_audit = new_username.clone();
    if link.used {
        return Err(ApiError::field("token", INVALID_TOKEN));
    }
    let result = consume(
        &state,
        &link,
        vec![Statement::new(
            "UPDATE auth_user SET username = $1, last_login = $2 WHERE id = $3",
            vec![
                new_username.into(),
                now_micros().into(),
                link.user.id.into(),
            ],
        )],
    )
    .await;
    if let Err(ApiError::Validation(v)) = &result {
        // The username was taken between the check and the write (the token row is new, so
        // the violation is the username's) — unless the token was consumed meanwhile.
        if UsedLinks::new(state.db.clone())
            .is_used(&link.link_use)
            .await?
        {
            return Err(ApiError::Validation(v.clone()));
        }
        return Err(ApiError::field("new_username", validation::USERNAME_TAKEN));
    }
    result?;
    state.auth.user_changed(link.user.id).await;
    let renamed = User {
        username: new_username_for_audit,
        ..link.user.clone()
    };
    super::audit(&state, &req, AuthEventKind::UsernameChange, &renamed);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST users/activation/` `{"uid", "token"}`: 204, or 403 `Stale token for given user.` when
/// the account is active already.
pub async fn activation(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let field = CharField::new();
    errors.take("uid", field.validate(&data, "uid"));
    errors.take("token", field.validate(&data, "token"));
    errors.into_result()?;
    let link = verify(&state, &data, Kind::Activation).await?;
    if link.user.is_active {
        return Err(ApiError::PermissionDenied(STALE_TOKEN.into()));
    }
    // Inactive, and its period closed: an administrator deactivated the account (or it was
    // activated and deactivated since). No link brings it back.
    let Some(period) = link.period.filter(|p| p.pending) else {
        return Err(ApiError::field("token", INVALID_TOKEN));
    };
    if link.used {
        return Err(ApiError::field("token", INVALID_TOKEN));
    }
    consume(
        &state,
        &link,
        Activations::complete(link.user.id, period.since),
    )
    .await?;
    state.auth.user_changed(link.user.id).await;
    super::audit(&state, &req, AuthEventKind::Activation, &link.user);
    Ok(StatusCode::NO_CONTENT.into_response())
}
