//! djoser's `UserViewSet` for one user: `users/{id}/` and `users/me/` (retrieve, update,
//! destroy), `set_password/` and `set_username/`.
//!
//! Permission is djoser's `CurrentUserOrAdmin` with `HIDE_USERS`: another user's record is
//! answered `Not found.` to non-staff (but `403` on DELETE, and an id no user has reads
//! `No User matches the given query.`, exactly as the reference answers). One deviation:
//! staff who are not superusers get `403` for any write to a superuser (see `may_manage`).

use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum_drf::auth::activation::Activations;
use axum_drf::auth::service::RequestHead;
use axum_drf::auth::validators::{validate_password, UserAttributes};
use axum_drf::auth::{AuthEvent, AuthEventKind, ClientInfo, User};
use axum_drf::error::PERMISSION_DENIED;
use axum_drf::fields::{CharField, Errors};
use axum_drf::openapi::ViewDoc;
use axum_drf::store::{Statement, StoreError};
use axum_drf::View;
use axum_drf::{json, ApiError, ApiRequest};
use tower::ServiceExt;

use super::djoser::{user_json, user_metadata};
use super::emails::{self, Kind};
use super::validation::{self, PathId, USERNAME_TAKEN};
use crate::app::AppState;

const NO_USER: &str = "No User matches the given query.";

/// The user `users/{id}/` names, as djoser's `get_object` + `CurrentUserOrAdmin` decide.
async fn target(state: &AppState, req: &ApiRequest) -> Result<User, ApiError> {
    let me = req.user()?;
    let id = match validation::path_id(req.param("id").unwrap_or_default()) {
        PathId::Id(id) => id,
        PathId::OutOfRange => return Err(ApiError::NotFound(NO_USER.into())),
        PathId::Malformed => return Err(ApiError::NotFound("Not found.".into())),
    };
    let user = state
        .auth
        .users()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(NO_USER.into()))?;
    if me.is_staff || me.id == user.id {
        if !may_manage(me, &user) && !matches!(req.method, Method::GET | Method::HEAD) {
            return Err(ApiError::PermissionDenied(PERMISSION_DENIED.into()));
        }
        return Ok(user);
    }
    // djoser's HIDE_USERS turns the denial into a 404 for every action but destroy.
    if req.method == Method::DELETE {
        Err(ApiError::PermissionDenied(PERMISSION_DENIED.into()))
    } else {
        Err(ApiError::NotFound("Not found.".into()))
    }
}

/// Deliberate deviation from djoser, whose `CurrentUserOrAdmin` lets any staff user edit
/// and delete anyone: only a superuser may change, deactivate or delete a superuser.
/// Otherwise staff could take a superuser over (change its email, then reset its password).
fn may_manage(me: &User, target: &User) -> bool {
    me.id == target.id || !target.is_superuser || me.is_superuser
}

/// The `users/{id}/` route. DRF shows the PUT form in OPTIONS only to who may edit that
/// user (its metadata runs `get_object`), so OPTIONS picks between two otherwise identical
/// views after a look at the target; other methods go straight to the plain one.
pub fn detail_route() -> (MethodRouter<AppState>, ViewDoc) {
    let view = |editable: bool| {
        let view = View::new("User Instance");
        let view = if editable {
            view.action_metadata(Method::PUT, user_metadata())
        } else {
            view
        };
        view.get(retrieve)
            .on(Method::PUT, update)
            .on(Method::PATCH, update)
            .on(Method::DELETE, destroy)
    };
    let doc = view(true).doc();
    let (editable, plain) = (view(true).into_route(), view(false).into_route());
    let router = axum::routing::any(
        move |State(state): State<AppState>, params: RawPathParams, req: Request| {
            let chosen = plain.clone();
            let editable = editable.clone();
            // Only what the check needs crosses the await: a request body is not `Sync`.
            let options = (req.method() == Method::OPTIONS).then(|| {
                let id = params
                    .iter()
                    .find(|(k, _)| *k == "id")
                    .map(|(_, v)| v.to_owned());
                (req.headers().clone(), id.unwrap_or_default())
            });
            async move {
                let route = match options {
                    Some((headers, id)) if may_edit(&state, &headers, &id).await => editable,
                    _ => chosen,
                };
                match route.with_state(state).oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        },
    );
    (router, doc)
}

async fn may_edit(state: &AppState, headers: &HeaderMap, id: &str) -> bool {
    let head = RequestHead {
        method: &Method::OPTIONS,
        headers,
        // OPTIONS is never CSRF-checked, the one use of the transport.
        extensions: None,
        body: &[],
    };
    let Ok(identity) = state.auth.authenticate(head).await else {
        return false;
    };
    let Some(me) = identity.user() else {
        return false;
    };
    let PathId::Id(id) = validation::path_id(id) else {
        return false;
    };
    if me.id == id {
        return true;
    }
    me.is_staff
        && matches!(state.auth.users().by_id(id).await, Ok(Some(target)) if may_manage(me, &target))
}

/// `GET users/{id}/`.
pub async fn retrieve(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = target(&state, &req).await?;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

/// `PUT`/`PATCH users/{id}/`.
pub async fn update(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = target(&state, &req).await?;
    apply_update(&state, &req, user).await
}

/// `DELETE users/{id}/`.
pub async fn destroy(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = target(&state, &req).await?;
    delete_user(&state, &req, user).await
}

/// `GET users/me/`.
pub async fn me(_: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &user_json(req.user()?)))
}

/// `PUT`/`PATCH users/me/`.
pub async fn me_update(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = (**req.user()?).clone();
    apply_update(&state, &req, user).await
}

/// `DELETE users/me/`.
pub async fn me_destroy(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = (**req.user()?).clone();
    delete_user(&state, &req, user).await
}

/// djoser's `UserSerializer.update`: only `email` is writable (`username` and `id` are
/// read-only and ignored); PUT and PATCH behave alike because no field is required.
async fn apply_update(
    state: &AppState,
    req: &ApiRequest,
    user: User,
) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let email = validation::optional_email(&data, &mut errors);
    errors.into_result()?;
    let Some(email) = email else {
        return Ok(json(StatusCode::OK, &user_json(&user)));
    };
    let (user_email_before, user_active_before) = (user.email.clone(), user.is_active);
    // With activation on, djoser deactivates a user whose address changed and mails a new
    // activation link there, so an address is proven before it is trusted.
    let reactivate = state.config.accounts.send_activation_email && email != user.email;
    let mut stmts = vec![Statement::new(
        "UPDATE auth_user SET email = $1 WHERE id = $2",
        vec![email.as_str().into(), user.id.into()],
    )];
    if reactivate {
        stmts.extend(Activations::begin(user.id));
    }
    state.db.transaction(stmts).await?;
    state.auth.user_changed(user.id).await;
    let updated = User {
        email,
        is_active: user.is_active && !reactivate,
        ..user
    };
    if updated.email != user_email_before {
        super::audit(state, req, AuthEventKind::EmailChange, &updated);
    }
    if reactivate && user_active_before {
        super::audit(state, req, AuthEventKind::Deactivation, &updated);
    }
    if reactivate {
        emails::spawn_send(state, Kind::Activation, updated.clone());
    }
    Ok(json(StatusCode::OK, &user_json(&updated)))
}

/// djoser's `destroy`: the *requesting* user's `current_password` must be given, also when
/// staff delete someone else. Tokens, sessions and owned rows go with the user (cascade).
async fn delete_user(state: &AppState, req: &ApiRequest, user: User) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    validation::current_password(state, req.user()?, &data, &mut errors).await?;
    errors.into_result()?;
    state.auth.users().delete(user.id).await?;
    state.auth.user_changed(user.id).await;
    state.auth.audit(
        AuthEvent::new(AuthEventKind::Deactivation)
            .with_user(&user)
            .with_detail("deleted")
            .with_client(&ClientInfo::of(req)),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST users/set_password/`: `new_password` (Django's validators) and `current_password`.
/// Every session of the user ends, as Django's session hash check makes them end; so does the
/// API token unless `[auth] revoke_tokens_on_password_change = false` (the reference keeps it).
pub async fn set_password(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let new_password = errors
        .take(
            "new_password",
            CharField::new().validate(&data, "new_password"),
        )
        .flatten();
    validation::current_password(&state, user, &data, &mut errors).await?;
    errors.into_result()?;
    let new_password =
        new_password.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    check_password_rules(&new_password, user)?;
    let hash = state.auth.hash_password(&new_password).await?;
    state.auth.change_password(user.id, &hash).await?;
    super::audit(&state, &req, AuthEventKind::PasswordChange, user);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Django's password validators for `user`, as `{"new_password": [...]}`.
pub fn check_password_rules(password: &str, user: &User) -> Result<(), ApiError> {
    let attributes = UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    };
    validate_password(password, &attributes).map_err(|messages| {
        let mut errors = Errors::default();
        errors.extend("new_password", messages);
        errors
            .into_result()
            .err()
            .unwrap_or_else(|| ApiError::Internal("no messages".into()))
    })
}

/// `POST users/set_username/`: `current_password` and `new_username`. Sessions and the token
/// stay valid (Django's session hash does not cover the username).
pub async fn set_username(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let data = req.object_data()?;
    let mut errors = Errors::default();
    validation::current_password(&state, user, &data, &mut errors).await?;
    let new_username =
        validation::username(&state, &data, "new_username", false, &mut errors).await?;
    errors.into_result()?;
    let new_username =
        new_username.ok_or_else(|| ApiError::Internal("validated field missing".into()))?;
    match state
        .auth
        .users()
        .set_username(user.id, &new_username)
        .await
    {
        Ok(()) => {}
        // Taken between the check and the write.
        Err(StoreError::UniqueViolation(_)) => {
            return Err(ApiError::field("new_username", USERNAME_TAKEN))
        }
        Err(e) => return Err(e.into()),
    }
    state.auth.user_changed(user.id).await;
    let renamed = User {
        username: new_username,
        ..(**user).clone()
    };
    super::audit(&state, &req, AuthEventKind::UsernameChange, &renamed);
    Ok(StatusCode::NO_CONTENT.into_response())
}
