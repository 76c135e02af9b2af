//! Reading one member of an untrusted zip into memory, within limits.
//!
//! Members are looked up by name and inflated into a buffer; nothing is ever
//! extracted to disk, so member names (`../../etc/passwd`) are harmless.
//!
//! Three guards stop a zip bomb, each before the memory is spent:
//! 1. the size the central directory declares is checked against the cap
//!    (and against the exact size the caller expects, when it knows it);
//! 2. the zip crate (9.x) refuses to inflate past the declared size, so a
//!    header that understates the size fails after declared + 1 bytes; that
//!    failure is reported as [`EngineError::TooLarge`];
//! 3. independently of the crate's behaviour, the read goes through
//!    `take(cap + 1)`, so at most one byte past the cap is ever produced.

use std::io::{self, Cursor, Read};

use zip::ZipArchive;

use crate::error::{EngineError, Result};

/// Largest buffer reserved up front from a declared size: the declaration
/// is untrusted, so beyond this the buffer grows only as data arrives.
const MAX_PREALLOCATE: u64 = 64 * 1024 * 1024;

/// What the caller knows about a member's size.
#[derive(Debug, Clone, Copy)]
pub(super) struct SizeRule {
    /// Most bytes the member may inflate to.
    pub cap: u64,
    /// The exact size the member must have, when known in advance.
    pub exact: Option<u64>,
}

/// Inflate the member `name` of `archive`, enforcing `rule`. Errors name
/// the member as the field, e.g. `bindata/data.bin`.
pub(super) fn read_member(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    name: &str,
    rule: SizeRule,
    source_name: &str,
) -> Result<Vec<u8>> {
    let invalid = |reason: String| EngineError::invalid(source_name, name, reason);
    let index = archive
        .index_for_name(name)
        .ok_or_else(|| invalid("missing from the X3P archive".to_string()))?;
    let file = archive
        .by_index(index)
        .map_err(|e| invalid(format!("cannot be opened: {e}")))?;
    if file.is_dir() {
        return Err(invalid("is a directory, expected a file".to_string()));
    }

    let declared = file.size();
    if declared > rule.cap {
        return Err(EngineError::too_large(
            source_name,
            &format!("uncompressed size of zip member {name}"),
            declared,
            rule.cap,
        ));
    }
    if let Some(exact) = rule.exact.filter(|e| *e != declared) {
        return Err(invalid(format!(
            "expected {exact} bytes, got {declared} (size declared in the zip)"
        )));
    }

    let mut buf = Vec::with_capacity(usize::try_from(declared.min(MAX_PREALLOCATE)).unwrap_or(0));
    if let Err(e) = file.take(rule.cap.saturating_add(1)).read_to_end(&mut buf) {
        return Err(if inflates_past_declared_size(&e) {
            EngineError::too_large(
                source_name,
                &format!("inflated size of zip member {name} (more than its header declares)"),
                declared.saturating_add(1),
                declared,
            )
        } else {
            invalid(format!("cannot be inflated: {e}"))
        });
    }
    let got = buf.len() as u64;
    if got > rule.cap {
        return Err(EngineError::too_large(
            source_name,
            &format!("inflated size of zip member {name}"),
            got,
            rule.cap,
        ));
    }
    if let Some(exact) = rule.exact.filter(|e| *e != got) {
        return Err(invalid(format!("expected {exact} bytes, got {got}")));
    }
    Ok(buf)
}

/// True for the zip crate's "member is larger than its header says" error.
///
/// The crate exposes no error kind for it, only this `InvalidData` message;
/// the zip-bomb test in `x3p.rs` pins it so a wording change in an upgrade
/// fails loudly instead of silently turning bombs into "corrupt" errors.
fn inflates_past_declared_size(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData
        && e.to_string()
            .contains("larger than its declared uncompressed size")
}

#[cfg(test)]
mod tests {
    use super::super::write::zip_members;
    use super::*;

    fn archive(bytes: &[u8]) -> ZipArchive<Cursor<&[u8]>> {
        ZipArchive::new(Cursor::new(bytes)).expect("valid zip")
    }

    const ROOMY: SizeRule = SizeRule {
        cap: 1 << 20,
        exact: None,
    };

    #[test]
    fn reads_a_member_and_reports_missing_or_directory_ones() {
        let zip = zip_members(&[("bindata/a.bin", b"hello")]).expect("zip");
        let mut a = archive(&zip);
        assert_eq!(
            read_member(&mut a, "bindata/a.bin", ROOMY, "t").unwrap(),
            b"hello"
        );
        match read_member(&mut a, "nope", ROOMY, "t") {
            Err(EngineError::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, "nope");
                assert!(reason.contains("missing"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_member(&mut a, "bindata/", ROOMY, "t"),
            Err(EngineError::InvalidInput { .. })
        ));
    }

    #[test]
    fn declared_size_over_cap_or_not_exact_is_refused_before_inflating() {
        let zip = zip_members(&[("m", &[0u8; 1000][..])]).expect("zip");
        let mut a = archive(&zip);
        let tight = SizeRule {
            cap: 999,
            exact: None,
        };
        match read_member(&mut a, "m", tight, "t") {
            Err(EngineError::TooLarge { actual, limit, .. }) => {
                assert_eq!((actual, limit), (1000, 999));
            }
            other => panic!("{other:?}"),
        }
        let exact = SizeRule {
            cap: 5000,
            exact: Some(1008),
        };
        match read_member(&mut a, "m", exact, "t") {
            Err(EngineError::InvalidInput { reason, .. }) => {
                assert!(reason.contains("expected 1008 bytes, got 1000"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
