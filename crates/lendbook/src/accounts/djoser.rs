//! djoser's endpoints under `/api/auth/`: the route table, token login/logout, registration
//! and the user list. One-user views are in `users`, emailed-link flows in `links`.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum_drf::auth::activation::Activations;
use axum_drf::auth::user::normalize_email;
use axum_drf::auth::validators::{validate_password, UserAttributes};
use axum_drf::auth::{NewUser, User};
use axum_drf::fields::{CharField, Errors};
use axum_drf::pagination::LimitOffset;
use axum_drf::permissions::AllowAny;
use axum_drf::routing::{RouteKind, Routes};
use axum_drf::store::{StoreError, Value as Sql};
use axum_drf::throttling::CredentialThrottle;
use axum_drf::{json, ApiError, ApiRequest, View};
use serde_json::{json, Value};

use super::emails::{self, Kind};
use super::validation::{self, USERNAME_TAKEN};
use super::{links, throttles, users};
use crate::app::AppState;
use axum_drf::auth::views;

pub fn routes() -> Routes<AppState> {
    // djoser's authtoken URLs accept the path with and without the trailing slash.
    Routes::new()
        .route("/api/auth/token/login/", views::token_login())
        .route("/api/auth/token/login", views::token_login())
        .route("/api/auth/token/logout/", views::token_logout())
        .route("/api/auth/token/logout", views::token_logout())
        .route_as("/api/auth/", RouteKind::RouterRoot, api_root())
        .route_as(
            "/api/auth/users/",
            RouteKind::Router,
            View::new("User List")
                .action_metadata(Method::POST, user_metadata())
                .get(list_users)
                .on_with(Method::POST, AllowAny, create_user)
                .credential_throttle(throttles::register()),
        )
        .route_as(
            "/api/auth/users/me/",
            RouteKind::Router,
            // DRF names an extra action after its function; the reference's OPTIONS here
            // fails (djoser's `get_object` swap misses metadata), so ours shows what it meant.
            View::new("Me")
                .action_metadata(Method::PUT, user_metadata())
                .get(users::me)
                .on(Method::PUT, users::me_update)
                .on(Method::PATCH, users::me_update)
                .on(Method::DELETE, users::me_destroy),
        )
        .route_as(
            "/api/auth/users/{id}/",
            RouteKind::Router,
            users::detail_route(),
        )
        .route_as(
            "/api/auth/users/set_password/",
            RouteKind::Router,
            action(
                "Set password",
                false,
                throttles::set_password(),
                users::set_password,
            ),
        )
        .route_as(
            "/api/auth/users/set_username/",
            RouteKind::Router,
            action(
                "Set username",
                false,
                throttles::set_password(),
                users::set_username,
            ),
        )
        .route_as(
            "/api/auth/users/reset_password/",
            RouteKind::Router,
            action(
                "Reset password",
                true,
                throttles::password_reset(),
                links::reset_password,
            ),
        )
        .route_as(
            "/api/auth/users/reset_password_confirm/",
            RouteKind::Router,
            action(
                "Reset password confirm",
                true,
                throttles::password_reset_confirm(),
                links::reset_password_confirm,
            ),
        )
        .route_as(
            "/api/auth/users/reset_username/",
            RouteKind::Router,
            action(
                "Reset username",
                true,
                throttles::password_reset(),
                links::reset_username,
            ),
        )
        .route_as(
            "/api/auth/users/reset_username_confirm/",
            RouteKind::Router,
            action(
                "Reset username confirm",
                true,
                throttles::password_reset_confirm(),
                links::reset_username_confirm,
            ),
        )
        .route_as(
            "/api/auth/users/activation/",
            RouteKind::Router,
            action(
                "Activation",
                true,
                throttles::activation(),
                links::activation,
            ),
        )
        .route_as(
            "/api/auth/users/resend_activation/",
            RouteKind::Router,
            // djoser answers a bare 400 while activation emails are off.
            action(
                "Resend activation",
                true,
                throttles::resend_activation(),
                links::resend_activation,
            )
            .bodiless(StatusCode::BAD_REQUEST),
        )
}

/// A POST-only djoser action. OPTIONS (and any other method) needs an authenticated user
/// even where POST is open to all, because DRF checks the viewset's default permission
/// (`CurrentUserOrAdmin`) for them; and its metadata shows `UserSerializer`'s fields, as
/// djoser's `get_serializer_class` falls back to it for `metadata`.
fn action<F, Fut>(
    name: &str,
    open: bool,
    throttle: CredentialThrottle,
    handler: F,
) -> View<AppState>
where
    F: Fn(AppState, ApiRequest) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    let view = View::new(name)
        .action_metadata(Method::POST, user_metadata())
        .credential_throttle(throttle);
    if open {
        view.on_with(Method::POST, AllowAny, handler)
    } else {
        view.post(handler)
    }
}

/// DRF's `DefaultRouter` root for djoser's router: `{"users": ".../api/auth/users/"}`.
fn api_root() -> View<AppState> {
    View::new("Api Root")
        .description("The default basic root view for DefaultRouter")
        .get(|_: AppState, req: ApiRequest| async move {
            let link = match &req.format_suffix {
                Some(f) => format!("{}/api/auth/users.{f}", req.origin()),
                None => format!("{}/api/auth/users/", req.origin()),
            };
            Ok(json(StatusCode::OK, &json!({ "users": link })))
        })
}

/// OPTIONS field metadata of djoser's `UserSerializer`.
pub fn user_metadata() -> Value {
    json!({
        "email": {"type": "email", "required": false, "read_only": false, "label": "Email address", "max_length": 254},
        "id": {"type": "integer", "required": false, "read_only": true, "label": "ID"},
        "username": {"type": "string", "required": false, "read_only": true, "label": "Username",
                     "help_text": "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."}
    })
}

/// djoser's `UserSerializer` output.
pub fn user_json(user: &User) -> Value {
    json!({"email": user.email, "id": user.id, "username": user.username})
}

/// `POST /api/auth/users/`: registration with Django's username, email and password rules.
/// Privileged fields (`is_staff`, `id`, ...) are ignored.
async fn create_user(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    // `[accounts] allow_registration = false`: DRF's permission-denied answer, before the
    // body is looked at. Deliberately 403 even without credentials: logging in cannot
    // open registration, so DRF's 401 would only invite a useless retry.
    if !state.config.accounts.allow_registration {
        return Err(ApiError::PermissionDenied(
            "You do not have permission to perform this action.".into(),
        ));
    }
    let data = req.object_data()?;
    let mut errors = Errors::default();

    let username = validation::username(&state, &data, "username", true, &mut errors).await?;
    let email = validation::optional_email(&data, &mut errors).unwrap_or_default();

    let password = errors
        .take("password", CharField::new().validate(&data, "password"))
        .flatten();
    errors.into_result()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };

    let attributes = UserAttributes {
        username: &username,
        email: &email,
        ..UserAttributes::default()
    };
    if let Err(messages) = validate_password(&password, &attributes) {
        let mut errors = Errors::default();
        errors.extend("password", messages);
        errors.into_result()?;
    }

    let new = NewUser {
        // Already NFKC-normalised by the field.
        username,
        email: normalize_email(&email),
        password_hash: state.auth.hash_password(&password).await?,
        // djoser's SEND_ACTIVATION_EMAIL: inactive until the emailed link is followed.
        is_active: !state.config.accounts.send_activation_email,
        ..NewUser::default()
    };
    let created = if new.is_active {
        state.auth.users().create(&new).await
    } else {
        Activations::new(state.db.clone())
            .create_pending_user(&new)
            .await
    };
    let user = match created {
        Ok(user) => user,
        Err(StoreError::UniqueViolation(_)) => {
            return Err(ApiError::field("username", USERNAME_TAKEN))
        }
        Err(e) => return Err(e.into()),
    };
    if !user.is_active {
        emails::spawn_send(&state, Kind::Activation, user.clone());
    }
    Ok(json(StatusCode::CREATED, &user_json(&user)))
}

/// `GET /api/auth/users/`: staff see everyone, other users only themselves (paginated).
async fn list_users(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let page = LimitOffset::from_request(&req, 100, None);
    let (count, rows) = if user.is_staff {
        let count = state
            .db
            .query("SELECT COUNT(*) FROM auth_user", vec![])
            .await?
            .first()
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0);
        let rows = state
            .db
            .query(
                concat!(
                    "SELECT ",
                    axum_drf::user_columns!(),
                    " FROM auth_user ORDER BY id LIMIT $1 OFFSET $2"
                ),
                vec![Sql::Int(page.limit), Sql::Int(page.offset)],
            )
            .await?
            .iter()
            .map(User::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        (count, rows)
    } else {
        let rows = if page.offset == 0 {
            vec![(**user).clone()]
        } else {
            vec![]
        };
        (1, rows)
    };
    let results = rows.iter().map(user_json).collect();
    Ok(json(StatusCode::OK, &page.page(&req, count, results)))
}
