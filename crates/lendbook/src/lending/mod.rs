//! The lending app: friends, belongings and borrowings, each owned by the user who created
//! it. Each resource is a declaration; the framework supplies the viewset behaviour.

mod borrowings;
mod ownership;

use axum_drf::resource::{Field, Resource, ResourceRouter};
use axum_drf::routing::Routes;
use axum_drf::store::Value as Sql;

pub use ownership::IsOwner;

use crate::app::AppState;
use crate::config::LendingSettings;

/// The lending routes under `/api/v1/`.
pub fn routes(settings: &LendingSettings) -> Routes<AppState> {
    let months = settings.overdue_months;
    let overdue_before = move || {
        vec![(
            "overdue_before",
            Sql::Int(axum_drf::datetime::months_before(
                axum_drf::store::now_micros(),
                months,
            )),
        )]
    };
    let policy = || {
        axum_drf::permissions::Perm::new(axum_drf::permissions::IsAuthenticated)
            & axum_drf::permissions::Perm::new(IsOwner)
    };

    let friends = Resource::new("friends", "Friend", "lending.friend", "lending_friend")
        .field(Field::id())
        .field(Field::char("name", "t.name", 100))
        // One correlated EXISTS per row, inside the list query: no query per friend.
        .field(Field::computed_bool(
            "has_overdue",
            "EXISTS (SELECT 1 FROM lending_borrowed b WHERE b.to_who_id = t.id \
             AND b.returned IS NULL AND b.lent_at < {overdue_before})",
        ))
        .params(overdue_before)
        .permission(policy());

    let belongings = Resource::new(
        "belongings",
        "Belonging",
        "lending.belonging",
        "lending_belonging",
    )
    .field(Field::id())
    .field(Field::char("name", "t.name", 100))
    .permission(policy());

    ResourceRouter::new("/api/v1")
        .register(friends)
        .register(belongings)
        .register_with_actions(
            borrowings::resource(overdue_before).permission(policy()),
            borrowings::actions(),
        )
        .into_routes()
}
