//! The lending app: friends, belongings and borrowings, each owned by the user who created
//! it. Each resource is a declaration; the framework supplies the viewset behaviour, and
//! its permission policy and scope come from the configuration (`[resources.<name>]`).

mod borrowings;

use axum_drf::resource::{Field, Resource, ResourceRouter};
use axum_drf::routing::Routes;
use axum_drf::store::{now_micros, Value as Sql};

use crate::app::AppState;
use crate::config::LendingSettings;
use crate::permissions::{Policies, ResourcePolicy};

/// Applies a resource's configured policy and scope.
fn with_policy(resource: Resource, policy: Option<&ResourcePolicy>) -> Resource {
    // Every lending table has its per-owner count kept by triggers (migration 0002).
    let resource = resource.owner_count("lending_owner_count");
    match policy {
        Some(p) => resource.permission(p.permission.clone()).scope(p.scope),
        None => resource,
    }
}

/// The lending routes under `/api/v1/`.
pub fn routes(settings: &LendingSettings, policies: &Policies) -> Routes<AppState> {
    let months = settings.overdue_months;
    // The cut-off is computed per request, so "overdue" moves with the clock.
    let overdue_before = move || {
        vec![(
            "overdue_before",
            Sql::Int(axum_drf::datetime::months_before(now_micros(), months)),
        )]
    };
    let model = |name: &str| {
        crate::permissions::resource(name)
            .map(|r| r.model())
            .expect("lending resources are listed in permissions::RESOURCES")
    };

    let friends = Resource::new("friends", model("friends"), "lending_friend")
        .field(Field::id())
        .field(Field::char("name", "t.name", 100))
        // The oldest open loan's date is kept on the friend by triggers (migration 0004):
        // a comparison per row, no query or index probe per friend.
        .field(Field::computed_bool(
            "has_overdue",
            "(t.open_since IS NOT NULL AND t.open_since < {overdue_before})",
        ))
        .params(overdue_before);

    let belongings = Resource::new("belongings", model("belongings"), "lending_belonging")
        .field(Field::id())
        .field(Field::char("name", "t.name", 100));

    let borrowings = borrowings::resource(model("borrowings"), overdue_before);

    ResourceRouter::new("/api/v1")
        .register(with_policy(friends, policies.resource("friends")))
        .register(with_policy(belongings, policies.resource("belongings")))
        .register_with_actions(
            with_policy(borrowings, policies.resource("borrowings")),
            borrowings::actions(),
        )
        .into_routes()
}
