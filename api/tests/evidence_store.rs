//! Evidence in an S3-compatible bucket (issue #17), on the real server
//! `scripts/s3-throwaway` starts, on both database backends: a submission
//! stores its file in the bucket, a failed one leaves no object there, and
//! a second node configured on the same bucket and database reads every
//! file (its `check`, and `casetrace check` from the command line), with
//! nothing in its own data directory; a bulk import uploads beside its
//! analysers and stores each row with its object in the bucket.

use actix_web::http::StatusCode;
use actix_web::test;
use casetrace_api::app::create_app;
use casetrace_engine::service::Submission;
use casetrace_engine::EngineError;

use crate::common::{
    backends, casetrace, operator, post_multipart, s3_evidence, second_node, send, stderr, stdout,
    submission, weller, weller_submission, Counts, TestEngine,
};

#[actix_web::test]
async fn evidence_submitted_through_one_node_is_read_by_another_from_the_bucket() {
    for backend in backends() {
        let Some(bucket) = s3_evidence() else { return };
        let t = TestEngine::open_with_evidence(&backend, bucket).await;
        let app = test::init_service(create_app(t.state())).await;
        let bytes = weller("TW01-01");
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("TW01-01", &bytes)).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {:#}", t.backend, r.json);
        let sha = r.json["casing"]["sha256"].as_str().unwrap().to_string();
        assert_eq!(
            t.counts().await,
            Counts {
                rows: 1,
                evidence_files: 1,
                indexed: 1
            },
            "{}",
            t.backend
        );
        // In the bucket, not in the node's data directory.
        assert!(t.engine.evidence().local_path(&sha).unwrap().is_none());
        assert!(!t.engine.config().data_dir.join("evidence").exists());

        let b = second_node(&t, &backend, |_| {}).await;
        assert_eq!(b.evidence().get(&sha).await.unwrap(), bytes);
        let report = b.check().await.unwrap();
        assert!(report.is_clean(), "{}: {:?}", t.backend, report.problems);
        assert_eq!(report.evidence_checked, 1);
        assert!(!b.config().data_dir.join("evidence").exists());
        b.close().await;

        // The command line, configured on the bucket, reads it too.
        let check = casetrace(&t, &["check"]);
        assert!(check.status.success(), "{}", stderr(&check));
        assert!(
            stdout(&check).contains("1 evidence files verified: all agree"),
            "{}",
            stdout(&check)
        );

        // With the object gone from the bucket, both name the casing and
        // where its file should be.
        let undo = casetrace_engine::store::EvidencePut {
            sha256: sha.clone(),
            newly_written: true,
        };
        t.engine.evidence().remove_if_new(&undo).await.unwrap();
        let report = t.engine.check().await.unwrap();
        let location = t.engine.evidence().location_of(&sha).unwrap();
        assert!(location.starts_with("s3://"), "{location}");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("casing TW01-01 (local)") && p.contains(&location)),
            "{:?}",
            report.problems
        );
        let check = casetrace(&t, &["check"]);
        assert!(!check.status.success());
        assert!(stderr(&check).contains(&location), "{}", stderr(&check));
        t.close().await;
    }
}

#[actix_web::test]
async fn a_failed_submission_leaves_no_object_in_the_bucket() {
    for backend in backends() {
        let Some(bucket) = s3_evidence() else { return };
        let t = TestEngine::open_with_evidence(&backend, bucket).await;

        // Refused before anything is written.
        let app = test::init_service(create_app(t.state())).await;
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("../x", &weller("TW01-01"))).to_request(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_metadata");
        assert_eq!(t.counts().await, Counts::EMPTY, "{}", t.backend);

        // Two files under one casing id at once: both are analysed and
        // (usually both) written before either row commits; the unique
        // constraint settles it and the loser removes its object again.
        let submit = |scan: &str| {
            let engine = t.engine.clone();
            let sub = Submission {
                casing_id: "R-1".into(),
                ..weller_submission(scan)
            };
            async move { engine.submit(&operator(), sub).await }
        };
        let (a, b) = futures_util::join!(submit("TW01-02"), submit("TW02-01"));
        let (won, lost_scan) = match (a, b) {
            (Ok(won), Err(lost)) => (won, ("TW02-01", lost)),
            (Err(lost), Ok(won)) => (won, ("TW01-02", lost)),
            other => panic!("{}: one must win: {other:?}", t.backend),
        };
        assert!(
            matches!(lost_scan.1, EngineError::CasingIdConflict { .. }),
            "{}",
            lost_scan.1
        );
        let evidence = t.engine.evidence();
        assert!(evidence.contains(&won.casing.sha256).await.unwrap());
        let lost_sha = casetrace_engine::store::sha256_hex(&weller(lost_scan.0));
        assert!(
            !evidence.contains(&lost_sha).await.unwrap(),
            "{}: the losing submission's object is still in the bucket",
            t.backend
        );
        assert_eq!(
            t.counts().await,
            Counts {
                rows: 1,
                evidence_files: 1,
                indexed: 1
            },
            "{}",
            t.backend
        );
        t.close().await;
    }
}

#[actix_web::test]
async fn a_bulk_import_stores_every_file_in_the_bucket() {
    for backend in backends() {
        let Some(bucket) = s3_evidence() else { return };
        let t = TestEngine::open_with_evidence(&backend, bucket).await;
        let folder = t.dir.path().join("set");
        std::fs::create_dir_all(&folder).unwrap();
        let mut manifest = String::from("file,casing_id\n");
        for name in ["TW01-01", "TW01-02", "TW02-01", "TW03-01"] {
            std::fs::write(folder.join(format!("{name}.x3p")), weller(name)).unwrap();
            manifest += &format!("{name}.x3p,{name}\n");
        }
        std::fs::write(folder.join("manifest.csv"), manifest).unwrap();

        let o = casetrace(
            &t,
            &["import", folder.join("manifest.csv").to_str().unwrap()],
        );
        assert!(o.status.success(), "{}: {}", t.backend, stderr(&o));
        assert!(stdout(&o).contains("4 rows, 4 imported"), "{}", stdout(&o));
        let check = casetrace(&t, &["check"]);
        assert!(check.status.success(), "{}", stderr(&check));
        assert!(
            stdout(&check).contains("4 evidence files verified: all agree"),
            "{}",
            stdout(&check)
        );
        assert!(!t.engine.config().data_dir.join("evidence").exists());
        t.close().await;
    }
}
