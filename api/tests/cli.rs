//! The `casetrace` command line as other tools call it: a real process per
//! command, on a data directory shared with an in-process engine that
//! counts what is on file.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{backends, casetrace, stderr, stdout, TestEngine, WELLER_DIR};

/// Parse `--json` output: one object per line.
fn json_lines(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn ids(line: &Value) -> Vec<&str> {
    line["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .map(|c| c["casing_id"].as_str().expect("casing_id"))
        .collect()
}

fn assert_best_first(line: &Value) {
    let scores: Vec<f64> = line["candidates"]
        .as_array()
        .expect("candidates array")
        .iter()
        .map(|c| c["score"].as_f64().expect("numeric score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{line}");
}

/// A manifest with four good rows (absolute paths to the real scans), a
/// relative path to a file that is not a scan, a missing file and a bad
/// `kind`; returns its path.
fn write_manifest(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("notes.txt"), "not a scan").expect("write notes");
    let mut csv = String::from("file,casing_id,kind,calibre\n");
    for id in ["TW01-01", "TW01-02", "TW01-05", "TW02-01"] {
        csv += &format!("{WELLER_DIR}{id}.x3p,{id},evidence,9mm Luger\n");
    }
    csv += "notes.txt,NOTES-1,evidence,\n";
    csv += "missing.x3p,MISSING-1,evidence,\n";
    csv += &format!("{WELLER_DIR}TW02-02.x3p,BADKIND-1,shell,\n");
    let path = dir.join("manifest.csv");
    std::fs::write(&path, csv).expect("write manifest");
    path
}

#[actix_web::test]
async fn import_names_failed_rows_and_candidates_follow_the_contract() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let manifest = write_manifest(t.dir.path());
        let manifest = manifest.to_str().expect("utf-8 path");

        let o = casetrace(&t, &["import", manifest]);
        assert!(!o.status.success(), "a failed row must fail the run");
        assert!(
            stdout(&o).contains("7 rows, 4 imported, 0 already on file, 3 failed"),
            "{}",
            stdout(&o)
        );
        let err = stderr(&o);
        for (line, id) in [(6, "NOTES-1"), (7, "MISSING-1"), (8, "BADKIND-1")] {
            assert!(
                err.contains(&format!("row {line} ({id}")),
                "{id} not named: {err}"
            );
        }
        assert!(err.contains("missing.x3p"), "{err}");
        let counts = t.counts().await;
        assert_eq!(
            (counts.rows, counts.evidence_files),
            (4, 4),
            "{}",
            t.backend
        );

        // Importing again writes nothing new and still names the failures.
        let o = casetrace(&t, &["import", manifest]);
        assert!(
            stdout(&o).contains("0 imported, 4 already on file, 3 failed"),
            "{}",
            stdout(&o)
        );
        let counts = t.counts().await;
        assert_eq!(
            (counts.rows, counts.evidence_files),
            (4, 4),
            "{}",
            t.backend
        );

        let lines = json_lines(&casetrace(
            &t,
            &["candidates", "TW01-01", "--limit", "2", "--json"],
        ));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["casing_id"], "TW01-01");
        let first = ids(&lines[0]);
        assert_eq!(first.len(), 2, "{}", lines[0]);
        assert!(
            first.iter().all(|id| id.starts_with("TW01-")),
            "same gun first: {}",
            lines[0]
        );
        assert_best_first(&lines[0]);
        // Four casings on file: the list of two was chosen among all three
        // others, and the line says so.
        assert_eq!(lines[0]["compared"], 3, "{}", lines[0]);
        // Every candidate has an LR from a named calibration or the reason
        // it has none, never neither.
        for c in lines[0]["candidates"].as_array().expect("candidates") {
            let with_lr = c["log10_lr"].is_number() && c["calibration"].is_string();
            let withheld = c["log10_lr"].is_null() && c["lr_withheld"].is_string();
            assert!(with_lr != withheld, "{c}");
        }

        let lines = json_lines(&casetrace(
            &t,
            &["candidates", "--all", "--limit", "10", "--json"],
        ));
        let queries: Vec<&str> = lines
            .iter()
            .map(|l| l["casing_id"].as_str().expect("id"))
            .collect();
        assert_eq!(queries.len(), 4, "{queries:?}");
        for line in &lines {
            let listed = ids(line);
            assert_eq!(listed.len(), 3, "every other casing: {line}");
            assert!(
                !listed.contains(&line["casing_id"].as_str().expect("id")),
                "never itself: {line}"
            );
            assert_best_first(line);
        }

        let o = casetrace(&t, &["candidates", "NO-SUCH-CASING", "--json"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("NO-SUCH-CASING"), "{}", stderr(&o));

        // Searching with a scan not on file ranks its gun first, stores nothing.
        let query = format!("{WELLER_DIR}TW01-08.x3p");
        let lines = json_lines(&casetrace(
            &t,
            &["search", &query, "--limit", "3", "--json"],
        ));
        assert_eq!(lines[0]["casing_id"], Value::Null);
        assert!(ids(&lines[0])[0].starts_with("TW01-"), "{}", lines[0]);
        assert_best_first(&lines[0]);
        assert_eq!(t.counts().await.rows, 4);

        let o = casetrace(&t, &["search", manifest, "--json"]);
        assert!(!o.status.success(), "a CSV is not a scan");
        assert!(
            stderr(&o).contains("manifest.csv"),
            "names the file: {}",
            stderr(&o)
        );
        t.close().await;
    }
}

/// `eval` on three Weller pistols (27 real scans): the report has every
/// figure, and the method keeps the skeleton's bar on real data.
#[test]
fn eval_reports_accuracy_and_timings_on_real_scans() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let labels = std::fs::read_to_string(format!("{WELLER_DIR}labels.csv")).expect("labels.csv");
    let mut subset: Vec<&str> = labels.lines().take(1).collect();
    subset.extend(
        labels
            .lines()
            .skip(1)
            .filter(|l| ["TW01-", "TW02-", "TW03-"].iter().any(|g| l.starts_with(g))),
    );
    let csv = subset
        .join("\n")
        .replace(",TW", &format!(",{WELLER_DIR}TW"));
    let path = dir.path().join("labels.csv");
    std::fs::write(&path, csv).expect("write labels");

    let o = Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .args([
            "--data-dir",
            dir.path().join("unused").to_str().expect("utf-8"),
        ])
        .args(["eval", path.to_str().expect("utf-8"), "--json"])
        .output()
        .expect("run casetrace eval");
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(report["casings"], subset.len() - 1);
    assert_eq!(report["firearms"], 3);
    let figure = |k: &str| {
        report[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} missing: {report:#}"))
    };
    assert!(figure("top10") >= 0.9, "{report:#}");
    assert!(figure("top1") >= 0.9, "{report:#}");
    assert!(figure("pair_auc") >= 0.95, "{report:#}");
    // Per mark: processed scans carry no pin mark, so the firing pin is
    // scored on no pair and the marks combined rank as the breech face.
    let marks = report["marks"].as_array().expect("marks");
    let mark = |name: &str| {
        marks
            .iter()
            .find(|m| m["mark"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {report:#}"))
    };
    assert_eq!(mark("firing_pin")["queries"], 0, "{report:#}");
    assert_eq!(mark("firing_pin")["pairs"]["known_match_pairs"], 0);
    assert_eq!(mark("breech_face")["pairs"]["auc"], report["pair_auc"]);
    assert_eq!(mark("combined")["top1"], mark("breech_face")["top1"]);
    assert_eq!(mark("combined")["top1"], report["top1"]);
    for stage in ["search", "load", "compare"] {
        assert!(
            report["seconds_per_query"][stage].as_f64().is_some(),
            "{stage}: {report:#}"
        );
    }
    // The scratch directory is the report's own: nothing lands in --data-dir.
    assert!(!dir.path().join("unused").exists());
}

/// The committed synthetic fixtures: a manifest with paths relative to its
/// own folder imports from any working directory, and each casing's mate
/// ranks first.
#[actix_web::test]
async fn relative_manifest_paths_resolve_against_the_manifest_folder() {
    let t = TestEngine::open(&crate::common::Backend::Sqlite).await;
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/synthetic/labels.csv"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .args(t.cli_args())
        .args(["import", manifest])
        .current_dir(t.dir.path())
        .output()
        .expect("run casetrace import");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("4 imported"), "{}", stdout(&o));
    let lines = json_lines(&casetrace(
        &t,
        &["candidates", "--all", "--limit", "1", "--json"],
    ));
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let query = line["casing_id"].as_str().expect("id");
        let gun = &query[..7];
        assert!(ids(line)[0].starts_with(gun), "mate first: {line}");
    }
    t.close().await;
}

/// Trace files, serial search, leads and histories from the command line:
/// the same JSON shapes as the REST API, and failures named on stderr.
#[test]
fn traces_leads_and_histories_from_the_command_line() {
    for backend in backends() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let t = rt.block_on(TestEngine::open(&backend));
        let dir = t.dir.path();
        // Two casings of one gun on file to take up as a lead.
        let manifest = dir.join("casings.csv");
        let mut csv = String::from("file,casing_id,kind,case_number\n");
        csv += &format!("{WELLER_DIR}TW01-01.x3p,TF-1,test_fire,LAB-1\n");
        csv += &format!("{WELLER_DIR}TW01-03.x3p,EV-1,evidence,CASE-9\n");
        std::fs::write(&manifest, csv).expect("write manifest");
        let o = casetrace(&t, &["import", manifest.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));

        let traces = dir.join("traces.csv");
        std::fs::write(
            &traces,
            "trace_number,serial,date,event,make,licensee_id,casing_id\n\
             T-1,RX 1234,2023-05-01,recovery,Ruger,,\n\
             T-2,RX-1234,2020-01-02,dealer_sale,Ruger,FFL-7,\n\
             T-3,RX-1234,2023-05-03,test_fire,Ruger,,TF-1\n\
             T-4,RX-1234,2023-05-03,test_fire,Ruger,,NO-SUCH\n",
        )
        .expect("write traces");
        let o = casetrace(&t, &["traces", "import", traces.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let report: Value = serde_json::from_slice(&o.stdout).expect("report JSON");
        assert_eq!(report["recorded"], 3, "{report:#}");
        assert_eq!(report["firearms_created"], 1, "{report:#}");
        assert!(
            stderr(&o).contains("row 5 (T-4)") && stderr(&o).contains("NO-SUCH"),
            "{}",
            stderr(&o)
        );

        let o = casetrace(&t, &["firearms", "search", "RX?23?"]);
        let found = json_lines(&o);
        assert_eq!(found.len(), 1, "{}", stdout(&o));
        assert_eq!(found[0]["firearm"]["serial_normalised"], "RX1234");
        let gun = found[0]["firearm"]["id"].as_i64().unwrap().to_string();

        let o = casetrace(&t, &["leads", "mark", "EV-1", "TF-1", "--comment", "top"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let lead: Value = serde_json::from_slice(&o.stdout).expect("lead JSON");
        assert_eq!(lead["marked_by"], "cli:local-admin");
        let id = lead["id"].as_i64().unwrap().to_string();
        let o = casetrace(&t, &["leads", "decide", &id, "hit"]);
        assert!(o.status.success(), "{}", stderr(&o));

        let o = casetrace(&t, &["firearms", "history", &gun]);
        assert!(o.status.success(), "{}", stderr(&o));
        let history: Value = serde_json::from_slice(&o.stdout).expect("history JSON");
        assert_eq!(
            history["linked_cases"],
            serde_json::json!(["CASE-9", "LAB-1"])
        );
        assert_eq!(history["time_to_crime"][0]["days"], 1215);
        let o = casetrace(&t, &["case", "CASE-9"]);
        let case: Value = serde_json::from_slice(&o.stdout).expect("case JSON");
        assert_eq!(case["firearms"][0]["id"].to_string(), gun);

        let o = casetrace(&t, &["case", "NO-SUCH-CASE"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("NO-SUCH-CASE"), "{}", stderr(&o));
        rt.block_on(t.close());
    }
}

/// The operator's tenant administration from the command line: an agency,
/// a key that then works over HTTP, an agreement; and every command that
/// touches records leaves an audit record as the local administrator.
#[test]
fn operators_register_agencies_and_keys_and_commands_are_audited() {
    use actix_web::test as atest;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for backend in backends() {
        let t = rt.block_on(TestEngine::open(&backend));
        let o = casetrace(
            &t,
            &[
                "agencies",
                "add",
                "nl-nfi",
                "--name",
                "NFI",
                "--country",
                "NL",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let o = casetrace(
            &t,
            &[
                "agencies",
                "add",
                "nl-nfi",
                "--name",
                "Other",
                "--country",
                "NL",
            ],
        );
        assert!(
            !o.status.success(),
            "re-registering with other details must fail"
        );
        let o = casetrace(
            &t,
            &[
                "keys",
                "issue",
                "--agency",
                "nl-nfi",
                "--holder",
                "lab 3",
                "--roles",
                "examiner,auditor",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let issued: Value = serde_json::from_slice(&o.stdout).expect("key JSON");
        let key = issued["key"].as_str().expect("the key").to_string();
        assert_eq!(issued["roles"], serde_json::json!(["examiner", "auditor"]));
        let o = casetrace(
            &t,
            &[
                "keys", "issue", "--agency", "nl-nfi", "--holder", "x", "--roles", "god",
            ],
        );
        assert!(
            stderr(&o).contains("\"god\" is not a role"),
            "{}",
            stderr(&o)
        );
        let o = casetrace(&t, &["agreements", "grant", "local", "nl-nfi", "view"]);
        assert!(o.status.success(), "{}", stderr(&o));

        // The issued key works over HTTP as the NFI.
        rt.block_on(async {
            let app = atest::init_service(casetrace_api::app::create_app(t.state())).await;
            let req = atest::TestRequest::get()
                .uri("/v1/agreements")
                .insert_header(("authorization", format!("Bearer {key}")))
                .to_request();
            let body: Value = atest::call_and_read_body_json(&app, req).await;
            assert_eq!(body[0]["owner"], "local", "{body}");
        });
        let o = casetrace(&t, &["keys", "revoke", issued["id"].as_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));

        let o = casetrace(&t, &["audit", "list", "--agency", "local"]);
        let actions: Vec<String> = json_lines(&o)
            .iter()
            .filter(|r| r["actor"] == "cli:local-admin")
            .map(|r| {
                format!(
                    "{} {}",
                    r["action"].as_str().unwrap(),
                    r["outcome"].as_str().unwrap()
                )
            })
            .collect();
        for expected in [
            "cli agencies ok",
            "cli agencies failed",
            "cli keys ok",
            "cli keys failed",
            "cli agreements ok",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{expected} not in {actions:?}"
            );
        }
        rt.block_on(t.close());
    }
}

/// Issue #15: the operator commands go through the engine's operator door
/// (`EngineConfig::open_operator`), which loads neither the model nor the
/// index: they run without a model or ONNX Runtime (as `audit verify` must
/// on copies of the database, key and checkpoint log), and each still
/// leaves an audit record attributable to the local administrator.
#[test]
fn operator_commands_need_no_model_and_leave_attributable_audit_records() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for backend in backends() {
        let t = rt.block_on(TestEngine::open(&backend));
        let commands: [&[&str]; 7] = [
            &["agencies", "list"],
            &["keys", "list"],
            &["agreements", "list", "local"],
            &["audit", "checkpoint"],
            &["audit", "verify"],
            &["audit", "refusals"],
            &["audit", "list", "--limit", "1"],
        ];
        for command in commands {
            let mut args = vec![
                "--model-dir",
                "/nonexistent/model",
                "--ort-lib",
                "/nonexistent/libonnxruntime.so",
            ];
            args.extend_from_slice(command);
            let o = casetrace(&t, &args);
            assert!(o.status.success(), "{command:?}: {}", stderr(&o));
        }
        let o = casetrace(&t, &["audit", "list", "--agency", "local"]);
        let records = json_lines(&o);
        for command in commands {
            let line = command.join(" ");
            let action = format!("cli {}", command[0]);
            assert!(
                records.iter().any(|r| r["agency"] == "local"
                    && r["actor"] == "cli:local-admin"
                    && r["action"] == action.as_str()
                    && r["outcome"] == "ok"
                    && r["resource"].as_str().unwrap_or("").ends_with(&line)),
                "no audit record of `{line}` in {records:?}"
            );
        }
        rt.block_on(t.close());
    }
}
