//! Stored permissions (users, groups, model and object grants) and the scope SQL, on SQLite
//! or, with `DATABASE_URL=postgres://...`, PostgreSQL.

mod common;

use axum_drf::auth::User;
use axum_drf::permissions::{
    scope_filter, Grant, GrantTarget, GroupGrant, Model, PermissionStore, PermissionStoreError,
    Scope,
};
use axum_drf::store::Value;
use common::TestDb;

fn thing() -> Model {
    Model::new("shop", "Thing")
}

async fn store() -> (TestDb, PermissionStore) {
    let t = TestDb::new().await;
    let store = PermissionStore::new(t.db.clone());
    store
        .register_models(&[thing(), Model::new("shop", "Other")])
        .await
        .unwrap();
    (t, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn models_get_their_four_permissions_once() {
    let (_t, store) = store().await;
    store.register_models(&[thing()]).await.unwrap();
    store
        .register_permission(&thing(), "publish_thing", "Can publish thing")
        .await
        .unwrap();
    assert_eq!(
        store.all_permissions().await.unwrap(),
        [
            "shop.add_other",
            "shop.add_thing",
            "shop.change_other",
            "shop.change_thing",
            "shop.delete_other",
            "shop.delete_thing",
            "shop.publish_thing",
            "shop.view_other",
            "shop.view_thing",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_revokes_and_groups() {
    let (t, store) = store().await;
    let alice = t.user("alice", true, false, false).await;
    let a = GrantTarget::User(alice.id);

    assert!(store.grant(a, "shop.add_thing", None).await.unwrap());
    assert!(
        !store.grant(a, "shop.add_thing", None).await.unwrap(),
        "idempotent"
    );
    let editors = store.create_group("editors").await.unwrap();
    assert!(matches!(
        store.create_group("editors").await,
        Err(PermissionStoreError::GroupExists(_))
    ));
    assert!(matches!(
        store.create_group(" ").await,
        Err(PermissionStoreError::InvalidGroupName(_))
    ));
    store
        .grant(GrantTarget::Group(editors), "shop.change_thing", None)
        .await
        .unwrap();
    let perms = |s: &PermissionStore, id| {
        let s = s.clone();
        async move {
            s.user_perms(id)
                .await
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(perms(&store, alice.id).await, ["shop.add_thing"]);
    assert!(store.add_user_to_group(editors, alice.id).await.unwrap());
    assert!(!store.add_user_to_group(editors, alice.id).await.unwrap());
    assert_eq!(
        perms(&store, alice.id).await,
        ["shop.add_thing", "shop.change_thing"]
    );
    assert!(store
        .remove_user_from_group(editors, alice.id)
        .await
        .unwrap());
    assert!(!store
        .remove_user_from_group(editors, alice.id)
        .await
        .unwrap());
    assert_eq!(perms(&store, alice.id).await, ["shop.add_thing"]);
    assert!(store.revoke(a, "shop.add_thing", None).await.unwrap());
    assert!(!store.revoke(a, "shop.add_thing", None).await.unwrap());
    assert!(perms(&store, alice.id).await.is_empty());

    // Deleting a group takes its memberships and grants along.
    store.add_user_to_group(editors, alice.id).await.unwrap();
    assert!(store.delete_group("editors").await.unwrap());
    assert!(!store.delete_group("editors").await.unwrap());
    assert!(perms(&store, alice.id).await.is_empty());
    assert!(matches!(
        store.group_id("editors").await,
        Err(PermissionStoreError::UnknownGroup(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_grants_are_refused_with_a_reason() {
    let (t, store) = store().await;
    let alice = GrantTarget::User(t.user("alice", true, false, false).await.id);
    let err = store
        .grant(alice, "shop.fly_thing", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown permission \"shop.fly_thing\" (see `perms list` for the registered ones)"
    );
    let err = store.grant(alice, "add_thing", None).await.unwrap_err();
    assert!(matches!(err, PermissionStoreError::Name(_)), "{err}");
    let other = Model::new("shop", "Other");
    let err = store
        .grant(alice, "shop.view_thing", Some((&other, 1)))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "permission \"shop.view_thing\" is about shop.thing, not shop.other"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn object_grants_are_per_object_and_model_and_include_groups() {
    let (t, store) = store().await;
    let alice = t.user("alice", true, false, false).await;
    let bob = t.user("bob", true, false, false).await;
    let m = thing();
    let other = Model::new("shop", "Other");
    let a = GrantTarget::User(alice.id);
    store
        .grant(a, "shop.view_thing", Some((&m, 1)))
        .await
        .unwrap();
    store
        .grant(a, "shop.change_thing", Some((&m, 2)))
        .await
        .unwrap();
    store
        .grant(a, "shop.view_other", Some((&other, 1)))
        .await
        .unwrap();
    store.grant(a, "shop.delete_thing", None).await.unwrap();
    let readers = store.create_group("readers").await.unwrap();
    store.add_user_to_group(readers, alice.id).await.unwrap();
    store
        .grant(
            GrantTarget::Group(readers),
            "shop.view_thing",
            Some((&m, 3)),
        )
        .await
        .unwrap();
    store
        .grant(
            GrantTarget::Group(readers),
            "shop.change_thing",
            Some((&m, 1)),
        )
        .await
        .unwrap();

    let on = |id| {
        let store = store.clone();
        let m = m.clone();
        async move {
            let set = store.object_perms(alice.id, &m, id).await.unwrap();
            set.iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    // Model-level grants never show up as object grants.
    assert_eq!(on(1).await, ["shop.change_thing", "shop.view_thing"]);
    assert_eq!(on(2).await, ["shop.change_thing"]);
    assert_eq!(on(3).await, ["shop.view_thing"]);
    assert!(on(4).await.is_empty());
    assert!(store.object_perms(bob.id, &m, 1).await.unwrap().is_empty());
    assert_eq!(
        store
            .granted_object_ids(alice.id, &m, "view")
            .await
            .unwrap(),
        [1, 3]
    );
    assert_eq!(
        store
            .granted_object_ids(alice.id, &m, "change")
            .await
            .unwrap(),
        [1, 2]
    );
    assert!(store
        .granted_object_ids(bob.id, &m, "view")
        .await
        .unwrap()
        .is_empty());

    let held = store.describe_user(alice.id).await.unwrap();
    assert_eq!(held.groups, ["readers"]);
    let g = |perm: &str, object_id: Option<i64>, via: Option<&str>| Grant {
        perm: perm.into(),
        object_id,
        via_group: via.map(str::to_owned),
    };
    assert_eq!(
        held.grants,
        [
            g("shop.change_thing", Some(1), Some("readers")),
            g("shop.change_thing", Some(2), None),
            g("shop.delete_thing", None, None),
            g("shop.view_other", Some(1), None),
            g("shop.view_thing", Some(1), None),
            g("shop.view_thing", Some(3), Some("readers")),
        ]
    );
    assert_eq!(
        store.describe_group(readers).await.unwrap(),
        [
            GroupGrant {
                perm: "shop.change_thing".into(),
                object_id: Some(1)
            },
            GroupGrant {
                perm: "shop.view_thing".into(),
                object_id: Some(3)
            },
        ]
    );
    assert_eq!(store.group_members(readers).await.unwrap(), ["alice"]);
    assert_eq!(store.groups().await.unwrap(), [("readers".to_owned(), 1)]);

    // Revoking an object grant leaves the others.
    assert!(store
        .revoke(a, "shop.view_thing", Some((&m, 1)))
        .await
        .unwrap());
    assert_eq!(on(1).await, ["shop.change_thing"]);

    // Deleting the user deletes their grants and memberships.
    t.db.execute("DELETE FROM auth_user WHERE id = $1", vec![alice.id.into()])
        .await
        .unwrap();
    assert!(store
        .describe_user(alice.id)
        .await
        .unwrap()
        .grants
        .is_empty());
    assert!(store.group_members(readers).await.unwrap().is_empty());
}

/// Who sees which of things #1..#5 under each scope.
#[tokio::test(flavor = "multi_thread")]
async fn scope_filters_select_the_reachable_objects() {
    let (t, store) = store().await;
    let m = thing();
    t.db.execute(
        "CREATE TABLE things (id BIGINT PRIMARY KEY, owner_id BIGINT NOT NULL, name TEXT NOT NULL)",
        vec![],
    )
    .await
    .unwrap();
    let alice = t.user("alice", true, false, false).await;
    let bob = t.user("bob", true, false, false).await;
    let dave = t.user("dave", true, false, false).await;
    let erin = t.user("erin", true, false, false).await;
    let frank = t.user("frank", true, false, false).await;
    let root = t.user("root", true, true, true).await;
    let retired = t.user("retired", false, false, false).await;
    for (id, owner) in [
        (1, &alice),
        (2, &alice),
        (3, &bob),
        (4, &dave),
        (5, &retired),
    ] {
        t.db.execute(
            "INSERT INTO things (id, owner_id, name) VALUES ($1, $2, $3)",
            vec![
                Value::Int(id),
                owner.id.into(),
                format!("thing {id}").into(),
            ],
        )
        .await
        .unwrap();
    }
    // alice may view #3 (direct) and #4 (group); a change grant on #5 does not count.
    let user = |u: &User| GrantTarget::User(u.id);
    store
        .grant(user(&alice), "shop.view_thing", Some((&m, 3)))
        .await
        .unwrap();
    store
        .grant(user(&alice), "shop.change_thing", Some((&m, 5)))
        .await
        .unwrap();
    store
        .grant(user(&alice), "shop.view_other", None)
        .await
        .unwrap();
    let readers = store.create_group("readers").await.unwrap();
    store.add_user_to_group(readers, alice.id).await.unwrap();
    store
        .grant(
            GrantTarget::Group(readers),
            "shop.view_thing",
            Some((&m, 4)),
        )
        .await
        .unwrap();
    // erin holds the model-level view through a group, frank directly: they see all.
    let auditors = store.create_group("auditors").await.unwrap();
    store.add_user_to_group(auditors, erin.id).await.unwrap();
    store
        .grant(GrantTarget::Group(auditors), "shop.view_thing", None)
        .await
        .unwrap();
    store
        .grant(user(&frank), "shop.view_thing", None)
        .await
        .unwrap();
    // An inactive user's grants do not count.
    store
        .grant(user(&retired), "shop.view_thing", None)
        .await
        .unwrap();

    let visible = |scope: Scope, u: Option<&User>| {
        let f = scope_filter(scope, u, &m, "t.owner_id", "t.id", 2);
        let db = t.db.clone();
        async move {
            let mut params = vec![Value::Text("no such name".into())];
            params.extend(f.params);
            let sql = format!(
                "SELECT t.id FROM things t WHERE t.name <> $1 AND {} ORDER BY t.id",
                f.sql
            );
            db.query(sql, params)
                .await
                .unwrap()
                .iter()
                .map(|r| r.int(0).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let all = vec![1, 2, 3, 4, 5];
    let cases: Vec<(Scope, Option<&User>, Vec<i64>)> = vec![
        (Scope::Owner, Some(&alice), vec![1, 2]),
        (Scope::Owner, Some(&bob), vec![3]),
        (Scope::Owner, Some(&frank), vec![]),
        (Scope::Owner, Some(&root), vec![]),
        (Scope::Owner, None, vec![]),
        (Scope::Granted, Some(&alice), vec![1, 2, 3, 4]),
        (Scope::Granted, Some(&bob), vec![3]),
        (Scope::Granted, Some(&dave), vec![4]),
        (Scope::Granted, Some(&erin), all.clone()),
        (Scope::Granted, Some(&frank), all.clone()),
        (Scope::Granted, Some(&root), all.clone()),
        (Scope::Granted, Some(&retired), vec![5]),
        (Scope::Granted, None, vec![]),
        (Scope::All, Some(&bob), all.clone()),
        (Scope::All, None, all.clone()),
    ];
    for (scope, u, want) in cases {
        let name = u.map_or("anonymous", |u| u.username.as_str());
        assert_eq!(visible(scope, u).await, want, "{scope} / {name}");
    }
}
