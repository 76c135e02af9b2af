//! Issue #15: the evaluation and model tooling (`casetrace-lab`) is for the
//! command line only. The server's modules (routes, app, dto, auth, audit
//! trail, errors, panics) must not use it, so the server is the same
//! whatever the tooling grows.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_command_line_uses_the_lab_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let cli = src.join("cli");
    let (mut users, mut server_files) = (Vec::new(), 0);
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source file");
        let uses = text.contains("casetrace_lab");
        if file.starts_with(&cli) {
            if uses {
                users.push(file.clone());
            }
        } else {
            server_files += 1;
            assert!(
                !uses,
                "{} uses casetrace_lab: the tooling is for the command line only",
                file.display()
            );
        }
    }
    assert!(
        server_files > 10,
        "the server's files were read: {server_files}"
    );
    assert_eq!(
        users,
        [cli.join("mod.rs")],
        "the command line reaches the tooling through its dispatcher"
    );
}

/// Issue #15, one door: the api reaches the records through the engine's
/// facade only (`Engine`, and `Operator` for the operator's commands),
/// which decides access for the caller's `Principal`. No source file of
/// the server or the command line opens the database or names the store;
/// tests do, through the engine's `store-access` feature.
#[test]
fn the_api_never_touches_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 10,
        "the api's files were read: {}",
        files.len()
    );
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source file");
        for (n, line) in text.lines().enumerate() {
            let without_error_variant = line.replace("EngineError::Database", "");
            for name in ["open_database", "store::", "Database"] {
                assert!(
                    !without_error_variant.contains(name),
                    "{}:{} names `{name}`: go through the engine's facade",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}
