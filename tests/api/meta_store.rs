//! The metadata store's contract, run against whichever store this run tests (embedded, or
//! ClickHouse with `SPURLOS_TEST_STORE=clickhouse`): documents by kind and key, changes applied
//! all at once, ids that are never handed out twice, also after their documents are removed
//! and the store is opened again.

use super::helpers::*;
use spurlos::config::Config;
use spurlos::store::{DocChange, Store};
use std::sync::Arc;

async fn open(dir: &std::path::Path) -> Arc<dyn Store> {
    let settings = Config::load_from(None, &test_env(dir, &[])).unwrap();
    spurlos::store::open(&settings.config).await.unwrap()
}

fn put(kind: &'static str, key: &str, body: &str) -> DocChange {
    DocChange {
        kind,
        key: key.into(),
        body: Some(body.into()),
    }
}

fn remove(kind: &'static str, key: &str) -> DocChange {
    DocChange {
        kind,
        key: key.into(),
        body: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_change_all_at_once_and_ids_are_never_handed_out_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    assert_eq!(store.docs("customer").await.unwrap(), vec![]);
    let a = store.next_id("customer").await.unwrap();
    let b = store.next_id("customer").await.unwrap();
    assert!(b > a, "{a} then {b}");
    // Kinds count on their own.
    assert_eq!(store.next_id("site").await.unwrap(), 1);
    store
        .apply(vec![
            put("customer", &a.to_string(), r#"{"n":"a"}"#),
            put("customer", &b.to_string(), r#"{"n":"b"}"#),
            put("site", "1", r#"{"s":1}"#),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.doc("customer", &b.to_string()).await.unwrap(),
        Some(r#"{"n":"b"}"#.to_string())
    );
    assert_eq!(store.doc("customer", "999").await.unwrap(), None);
    // A change and a removal in one go; a later version replaces an earlier one.
    store
        .apply(vec![
            put("customer", &a.to_string(), r#"{"n":"a2"}"#),
            remove("customer", &b.to_string()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.docs("customer").await.unwrap(),
        vec![(a.to_string(), r#"{"n":"a2"}"#.to_string())]
    );
    // The removed document's id is not handed out again, not even after a restart, and
    // neither is an id that was handed out but never stored.
    let c = store.next_id("customer").await.unwrap();
    assert!(c > b, "{c} after {b}");
    drop(store);
    let store = open(dir.path()).await;
    let d = store.next_id("customer").await.unwrap();
    assert!(d > c, "{d} after {c}");
    store.apply(vec![remove("site", "1")]).await.unwrap();
    assert!(store.next_id("site").await.unwrap() > 1);
}
