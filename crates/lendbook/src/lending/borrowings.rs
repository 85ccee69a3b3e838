//! Borrowings: what was lent to whom, when, and whether it came back.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum_drf::resource::{DetailAction, Field, ObjectRef, Resource};
use axum_drf::store::{now_micros, Value as Sql};
use axum_drf::{json, ApiError, ApiRequest};

use crate::app::AppState;

/// The `borrowings` resource (the reference's model is called `Borrowed`).
pub fn resource(
    model: axum_drf::permissions::Model,
    params: impl Fn() -> Vec<(&'static str, Sql)> + Send + Sync + 'static,
) -> Resource {
    Resource::new("borrowings", model, "lending_borrowed")
        .field(Field::id())
        .field(Field::related(
            "what",
            "t.what_id",
            "what_id",
            "lending_belonging",
            "owner_id",
        ))
        .field(Field::related(
            "to_who",
            "t.to_who_id",
            "to_who_id",
            "lending_friend",
            "owner_id",
        ))
        .field(Field::created_at("when", "t.lent_at", "lent_at"))
        .field(Field::optional_datetime(
            "returned",
            "t.returned",
            "returned",
        ))
        .filter("missing", "t.returned IS NULL")
        .filter(
            "overdue",
            "t.returned IS NULL AND t.lent_at < {overdue_before}",
        )
        .params(params)
}

/// `POST /api/v1/borrowings/{id}/return/`.
pub fn actions() -> Vec<DetailAction<AppState>> {
    vec![DetailAction::new(
        "return",
        "Mark returned",
        Method::POST,
        mark_returned,
    )]
}

/// Sets `returned` to now, once: the condition in the UPDATE makes two concurrent returns
/// unable to both succeed.
async fn mark_returned(_: AppState, _: ApiRequest, loan: ObjectRef) -> Result<Response, ApiError> {
    let changed = loan
        .db()
        .execute(
            "UPDATE lending_borrowed SET returned = $1 WHERE id = $2 AND returned IS NULL",
            vec![Sql::Int(now_micros()), Sql::Int(loan.object.id)],
        )
        .await?;
    if changed == 0 {
        return Err(ApiError::BadRequest("Already returned.".into()));
    }
    Ok(json(StatusCode::OK, &loan.render().await?))
}
