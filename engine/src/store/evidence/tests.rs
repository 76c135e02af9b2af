//! The evidence store's rules, each on a folder and on a real S3-compatible
//! server (`scripts/s3-throwaway`; a bucket prefix of each test's own).

use std::path::{Path, PathBuf};

use object_store::{ObjectStoreExt, PutPayload};

use super::*;
use crate::store::test_support::s3_location;

/// The read limit of the tests' stores (the engine's is the largest file it
/// accepts).
const LIMIT: u64 = 4 << 20;

/// For each `async fn name(store: &EvidenceStore)`, a module `name` with
/// the tests `name::local` (a temporary folder) and `name::s3`.
macro_rules! on_both_stores {
    ($($body:ident),+ $(,)?) => {
        $(
            mod $body {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::EvidenceStore::local(dir.path().join("evidence"), super::LIMIT)
                        .unwrap();
                    super::$body(&store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    let test = concat!(module_path!(), "::s3");
                    let Some(s3) = super::s3_location(test) else { return };
                    let store = super::s3_store(s3).await;
                    super::$body(&store).await;
                }
            }
        )+
    };
}

on_both_stores!(
    put_then_get_round_trips,
    a_second_put_of_the_same_bytes_writes_nothing,
    empty_file_is_stored,
    an_object_tampered_with_in_the_store_is_detected_on_read,
    an_object_of_the_wrong_size_is_never_overwritten,
    a_missing_object_is_named,
    objects_over_the_read_limit_are_not_read,
    remove_if_new_undoes_only_its_own_write,
    invalid_sha256_strings_are_rejected,
    concurrent_puts_of_the_same_bytes_write_once,
);

async fn s3_store(s3: S3Location) -> EvidenceStore {
    EvidenceStore::open(&EvidenceLocation::S3(s3), Path::new("unused"), LIMIT)
        .await
        .expect("open the test bucket")
}

/// Replace an object's bytes behind the store's back, as someone with
/// write access to the bucket or folder could.
async fn tamper(store: &EvidenceStore, sha256: &str, bytes: &[u8]) {
    if let Some(path) = store.local_path(sha256).unwrap() {
        make_writable(&path);
    }
    store
        .store
        .put(&store.key(sha256), PutPayload::from(bytes.to_vec()))
        .await
        .expect("overwrite the object directly");
}

async fn raw_bytes(store: &EvidenceStore, sha256: &str) -> Vec<u8> {
    let got = store.store.get(&store.key(sha256)).await.unwrap();
    got.bytes().await.unwrap().to_vec()
}

/// Overwriting a read-only file first needs write permission back.
fn make_writable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    #[cfg(not(unix))]
    {
        let mut p = std::fs::metadata(path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        std::fs::set_permissions(path, p).unwrap();
    }
}

fn problem_of(err: &EngineError, sha256: &str) -> EvidenceProblem {
    match err {
        EngineError::Evidence {
            sha256: named,
            problem,
            ..
        } => {
            assert_eq!(named, sha256, "the error names the file: {err}");
            assert!(err.to_string().contains(sha256), "{err}");
            assert!(!err.is_user_error());
            problem.clone()
        }
        other => panic!("not an evidence error: {other}"),
    }
}

async fn put_then_get_round_trips(store: &EvidenceStore) {
    let put = store.put(b"abc".to_vec()).await.unwrap();
    assert!(put.newly_written);
    assert_eq!(put.sha256, sha256_hex(b"abc"));
    assert!(store.contains(&put.sha256).await.unwrap());
    assert_eq!(store.get(&put.sha256).await.unwrap(), b"abc");
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(
        store
            .location_of(&put.sha256)
            .unwrap()
            .ends_with(&format!("sha256/ba/78/{}", put.sha256)),
        "layout sha256/ab/cd/<hex>"
    );
}

async fn a_second_put_of_the_same_bytes_writes_nothing(store: &EvidenceStore) {
    let first = store.put(b"evidence bytes".to_vec()).await.unwrap();
    let second = store.put(b"evidence bytes".to_vec()).await.unwrap();
    assert!(first.newly_written);
    assert!(!second.newly_written);
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(store.count().await.unwrap(), 1);
    // Undoing the second (which wrote nothing) keeps the object.
    store.remove_if_new(&second).await.unwrap();
    assert_eq!(store.get(&first.sha256).await.unwrap(), b"evidence bytes");
}

async fn empty_file_is_stored(store: &EvidenceStore) {
    let put = store.put(Vec::new()).await.unwrap();
    assert_eq!(store.get(&put.sha256).await.unwrap(), b"");
}

async fn an_object_tampered_with_in_the_store_is_detected_on_read(store: &EvidenceStore) {
    let put = store.put(b"original evidence".to_vec()).await.unwrap();
    tamper(store, &put.sha256, b"tampered evidence").await;
    let err = store.get(&put.sha256).await.unwrap_err();
    assert_eq!(
        problem_of(&err, &put.sha256),
        EvidenceProblem::Corrupt {
            actual: sha256_hex(b"tampered evidence")
        }
    );
}

async fn an_object_of_the_wrong_size_is_never_overwritten(store: &EvidenceStore) {
    let put = store.put(b"original evidence".to_vec()).await.unwrap();
    tamper(store, &put.sha256, b"short").await;
    let err = store.put(b"original evidence".to_vec()).await.unwrap_err();
    assert_eq!(
        problem_of(&err, &put.sha256),
        EvidenceProblem::Damaged {
            stored: 5,
            expected: 17
        }
    );
    assert!(err.to_string().contains("damaged"), "{err}");
    // The damaged object is left as found, for inspection.
    assert_eq!(raw_bytes(store, &put.sha256).await, b"short");
}

async fn a_missing_object_is_named(store: &EvidenceStore) {
    let sha = sha256_hex(b"never stored");
    let err = store.get(&sha).await.unwrap_err();
    assert_eq!(problem_of(&err, &sha), EvidenceProblem::Missing);
    assert!(
        err.to_string().contains(&store.location_of(&sha).unwrap()),
        "the error says where it looked: {err}"
    );
    assert!(!store.contains(&sha).await.unwrap());
}

async fn objects_over_the_read_limit_are_not_read(store: &EvidenceStore) {
    let bytes = vec![1u8; LIMIT as usize + 1];
    let put = store.put(bytes).await.unwrap();
    let err = store.get(&put.sha256).await.unwrap_err();
    assert_eq!(
        problem_of(&err, &put.sha256),
        EvidenceProblem::OverLimit {
            stored: LIMIT + 1,
            limit: LIMIT
        }
    );
}

async fn remove_if_new_undoes_only_its_own_write(store: &EvidenceStore) {
    let put = store.put(b"to undo".to_vec()).await.unwrap();
    store.remove_if_new(&put).await.unwrap();
    assert!(!store.contains(&put.sha256).await.unwrap());
    // Repeating is harmless.
    store.remove_if_new(&put).await.unwrap();
    // Only the object named by the hash is ever removed.
    let keep = store.put(b"keep me".to_vec()).await.unwrap();
    let other = EvidencePut {
        sha256: sha256_hex(b"something else"),
        newly_written: true,
    };
    store.remove_if_new(&other).await.unwrap();
    assert!(store.contains(&keep.sha256).await.unwrap());
    assert_eq!(store.count().await.unwrap(), 1);
}

async fn invalid_sha256_strings_are_rejected(store: &EvidenceStore) {
    let good = sha256_hex(b"x");
    let bad = [
        String::new(),
        "abc".to_string(),
        good.to_uppercase(),
        format!("{good}0"),
        good[..63].to_string(),
        format!("../../{}", &good[6..]),
        format!("/{}", &good[1..]),
        format!("{}g", &good[..63]),
        format!("{}\0", &good[..63]),
        format!("{}é", &good[..62]),
    ];
    for s in &bad {
        assert!(store.location_of(s).is_err(), "{s:?} accepted");
        assert!(store.get(s).await.is_err(), "{s:?} accepted");
        assert!(store.contains(s).await.is_err(), "{s:?} accepted");
        let forged = EvidencePut {
            sha256: s.clone(),
            newly_written: true,
        };
        assert!(
            store.remove_if_new(&forged).await.is_err(),
            "{s:?} accepted"
        );
        let err = check_sha256_hex(s).unwrap_err();
        assert!(matches!(&err, EngineError::InvalidMetadata { field, .. } if field == "sha256"));
    }
}

async fn concurrent_puts_of_the_same_bytes_write_once(store: &EvidenceStore) {
    let bytes = vec![7u8; 1 << 20];
    let puts = futures_util::future::join_all((0..4).map(|_| store.put(bytes.clone()))).await;
    let puts: Vec<EvidencePut> = puts.into_iter().map(|p| p.unwrap()).collect();
    assert_eq!(
        puts.iter().filter(|p| p.newly_written).count(),
        1,
        "{puts:?}"
    );
    assert_eq!(store.count().await.unwrap(), 1);
    assert_eq!(store.get(&puts[0].sha256).await.unwrap(), bytes);
}

/// The folder keeps the layout casetrace always wrote, read-only, with no
/// temporary files left behind.
#[tokio::test]
async fn a_folder_keeps_the_data_directory_layout_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    let store = EvidenceStore::local(&root, LIMIT).unwrap();
    let put = store.put(b"abc".to_vec()).await.unwrap();
    store.put(b"abc".to_vec()).await.unwrap();
    let path = store.local_path(&put.sha256).unwrap().unwrap();
    assert_eq!(path, root.join("sha256/ba/78").join(&put.sha256));
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
    assert_eq!(files_under(&root), vec![path]);
}

/// A data directory written before the store moved to object_store (files
/// put there by hand, as the old store laid them out) reads as before.
#[tokio::test]
async fn files_of_an_existing_data_directory_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    let sha = sha256_hex(b"old evidence");
    let path = root
        .join("sha256")
        .join(&sha[0..2])
        .join(&sha[2..4])
        .join(&sha);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"old evidence").unwrap();
    let store = EvidenceStore::local(&root, LIMIT).unwrap();
    assert_eq!(store.get(&sha).await.unwrap(), b"old evidence");
    assert!(
        !store
            .put(b"old evidence".to_vec())
            .await
            .unwrap()
            .newly_written
    );
}

/// A bucket that cannot be reached fails at open, naming the store.
#[tokio::test]
async fn an_unreachable_bucket_fails_at_open() {
    let Some(mut s3) = s3_location("an_unreachable_bucket_fails_at_open") else {
        return;
    };
    s3.credentials = Some(S3Credentials {
        access_key_id: "nobody".into(),
        secret_access_key: "wrong-secret".into(),
    });
    let url = s3.url();
    let err = EvidenceStore::open(&EvidenceLocation::S3(s3), Path::new("unused"), LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Config(_)), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(!format!("{err:?}").contains("wrong-secret"), "{err:?}");
}

#[test]
fn credentials_never_print_the_secret() {
    let c = S3Credentials {
        access_key_id: "AKIA-test".into(),
        secret_access_key: "very-secret".into(),
    };
    let shown = format!("{c:?}");
    assert!(
        shown.contains("AKIA-test") && !shown.contains("very-secret"),
        "{shown}"
    );
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
