//! Original evidence files, stored content-addressed and never modified.
//!
//! A file lives at `root/sha256/ab/cd/<64 hex digits>`, named by the
//! SHA-256 of its bytes: identical submissions share one file, and the name
//! itself proves the content (checked on every read). Two directory levels
//! of two hex digits keep any one directory to a few hundred entries even
//! with millions of files.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuse anything but 64 lowercase hex digits, before it is used in a
/// path or stored: a crafted value ("../..", "/etc", uppercase variants of
/// a stored name) must never reach the file system.
pub(crate) fn check_sha256_hex(sha256: &str) -> Result<()> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidMetadata {
            field: "sha256".into(),
            reason: format!("{sha256:?} is not 64 lowercase hex digits"),
        })
    }
}

/// The evidence file store under one directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Where [`BlobStore::put`] left a file, and whether it wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPut {
    pub sha256: String,
    pub path: PathBuf,
    /// True when this call created the file, false when it was on file.
    pub newly_written: bool,
}

impl BlobStore {
    /// A store rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this hash lives (whether or not it exists).
    pub fn path_for(&self, sha256: &str) -> Result<PathBuf> {
        check_sha256_hex(sha256)?;
        Ok(self
            .root
            .join("sha256")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    /// Store `bytes` unless already on file. An existing file is never
    /// rewritten: evidence is never modified, only checked.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobPut> {
        let sha256 = sha256_hex(bytes);
        let path = self.path_for(&sha256)?;
        if check_existing(&path, bytes.len())? {
            return Ok(BlobPut {
                sha256,
                path,
                newly_written: false,
            });
        }
        let dir = path.parent().expect("a blob path has parent directories");
        fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        // Written under a temporary name in the same directory, then renamed:
        // the final name only ever holds a complete, synced file, even if
        // the process dies half-way.
        let mut tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(dir)
            .map_err(|e| EngineError::io(dir, e))?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.write_all(bytes)
            .map_err(|e| EngineError::io(&tmp_path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| EngineError::io(&tmp_path, e))?;
        make_read_only(&tmp_path).map_err(|e| EngineError::io(&tmp_path, e))?;
        // No-clobber: if a concurrent put of the same bytes got there first,
        // keep its file and drop ours.
        match tmp.persist_noclobber(&path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                check_existing(&path, bytes.len())?;
                return Ok(BlobPut {
                    sha256,
                    path,
                    newly_written: false,
                });
            }
            Err(e) => return Err(EngineError::io(&path, e.error)),
        }
        sync_dir(dir)?;
        Ok(BlobPut {
            sha256,
            path,
            newly_written: true,
        })
    }

    /// The file with this hash, checked against it: a file whose bytes no
    /// longer hash to its name is reported, never returned.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path_for(sha256)?;
        let bytes = fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(EngineError::io(
                &path,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("evidence file is corrupt: its content hashes to {actual}"),
                ),
            ));
        }
        Ok(bytes)
    }

    /// Whether a file with this hash is on file (not checked).
    pub fn contains(&self, sha256: &str) -> Result<bool> {
        let path = self.path_for(sha256)?;
        path.try_exists().map_err(|e| EngineError::io(&path, e))
    }

    /// Undo a [`put`](Self::put) of a failed submission: delete the file
    /// only if that put created it. The path is recomputed from the hash,
    /// not taken from `put`, so only a file of this store is ever deleted.
    pub fn remove_if_new(&self, put: &BlobPut) -> Result<()> {
        if !put.newly_written {
            return Ok(());
        }
        let path = self.path_for(&put.sha256)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            // Already gone: the undo is done.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io(&path, e)),
        }
    }
}

/// True when a regular file of the expected length is at `path`, false when
/// nothing is; an error for anything else there.
fn check_existing(path: &Path, expected_len: usize) -> Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(EngineError::io(path, e)),
    };
    let problem = if !meta.is_file() {
        Some("is not a regular file".to_string())
    } else if meta.len() != expected_len as u64 {
        Some(format!(
            "holds {} bytes where its name promises {expected_len}: the stored evidence is damaged",
            meta.len()
        ))
    } else {
        None
    };
    match problem {
        Some(p) => Err(EngineError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, p),
        )),
        None => Ok(true),
    }
}

/// Evidence files are never modified: read-only for everyone (0o444), a
/// guard against accidental edits by people and tools on the host.
fn make_read_only(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    let permissions = {
        use std::os::unix::fs::PermissionsExt;
        fs::Permissions::from_mode(0o444)
    };
    #[cfg(not(unix))]
    let permissions = {
        let mut p = fs::metadata(path)?.permissions();
        p.set_readonly(true);
        p
    };
    fs::set_permissions(path, permissions)
}

/// Make a rename in `dir` durable (on Unix a directory is synced through a
/// handle to it; elsewhere there is no such call).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| EngineError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (BlobStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (BlobStore::new(dir.path().join("evidence")), dir)
    }

    fn files_under(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
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

    /// Corrupting a read-only file first needs write permission back.
    fn make_writable(path: &Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        #[cfg(not(unix))]
        {
            let mut p = fs::metadata(path).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            fs::set_permissions(path, p).unwrap();
        }
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn put_lays_out_files_by_hash_read_only() {
        let (store, _dir) = store();
        let put = store.put(b"abc").unwrap();
        assert!(put.newly_written);
        assert_eq!(put.sha256, sha256_hex(b"abc"));
        assert_eq!(
            put.path,
            store.root().join("sha256/ba/78").join(&put.sha256),
            "layout root/sha256/ab/cd/<hex>"
        );
        assert_eq!(fs::read(&put.path).unwrap(), b"abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&put.path).unwrap().permissions().mode() & 0o777,
                0o444
            );
        }
        assert!(store.contains(&put.sha256).unwrap());
        assert_eq!(store.get(&put.sha256).unwrap(), b"abc");
    }

    #[test]
    fn put_twice_keeps_one_file() {
        let (store, _dir) = store();
        let first = store.put(b"evidence bytes").unwrap();
        let second = store.put(b"evidence bytes").unwrap();
        assert!(first.newly_written);
        assert!(!second.newly_written);
        assert_eq!(first.path, second.path);
        // No temporary files left behind either.
        assert_eq!(files_under(store.root()), vec![first.path.clone()]);
        // Undoing the second (which wrote nothing) keeps the file.
        store.remove_if_new(&second).unwrap();
        assert!(first.path.exists());
    }

    #[test]
    fn empty_file_is_stored() {
        let (store, _dir) = store();
        let put = store.put(b"").unwrap();
        assert_eq!(store.get(&put.sha256).unwrap(), b"");
    }

    #[test]
    fn get_detects_a_corrupted_file() {
        let (store, _dir) = store();
        let put = store.put(b"original evidence").unwrap();
        make_writable(&put.path);
        fs::write(&put.path, b"tampered evidence").unwrap();
        let err = store.get(&put.sha256).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(!err.is_user_error());
    }

    #[test]
    fn put_refuses_to_overwrite_a_damaged_file() {
        let (store, _dir) = store();
        let put = store.put(b"original evidence").unwrap();
        make_writable(&put.path);
        fs::write(&put.path, b"short").unwrap();
        let err = store.put(b"original evidence").unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        // The damaged file is left as found, for inspection.
        assert_eq!(fs::read(&put.path).unwrap(), b"short");
    }

    #[test]
    fn get_of_a_missing_file_is_an_error() {
        let (store, _dir) = store();
        let err = store.get(&sha256_hex(b"never stored")).unwrap_err();
        assert!(
            matches!(&err, EngineError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn remove_if_new_undoes_only_its_own_write() {
        let (store, _dir) = store();
        let put = store.put(b"to undo").unwrap();
        store.remove_if_new(&put).unwrap();
        assert!(!put.path.exists());
        assert!(!store.contains(&put.sha256).unwrap());
        // Repeating is harmless.
        store.remove_if_new(&put).unwrap();
        // A forged path is ignored: the path comes from the hash.
        let keep = store.put(b"keep me").unwrap();
        let forged = BlobPut {
            sha256: sha256_hex(b"something else"),
            path: keep.path.clone(),
            newly_written: true,
        };
        store.remove_if_new(&forged).unwrap();
        assert!(keep.path.exists());
    }

    #[test]
    fn invalid_sha256_strings_are_rejected() {
        let (store, _dir) = store();
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
            assert!(store.path_for(s).is_err(), "{s:?} accepted");
            assert!(store.get(s).is_err(), "{s:?} accepted");
            assert!(store.contains(s).is_err(), "{s:?} accepted");
            let forged = BlobPut {
                sha256: s.clone(),
                path: PathBuf::from("/tmp"),
                newly_written: true,
            };
            assert!(store.remove_if_new(&forged).is_err(), "{s:?} accepted");
            let err = check_sha256_hex(s).unwrap_err();
            assert!(
                matches!(&err, EngineError::InvalidMetadata { field, .. } if field == "sha256")
            );
        }
        assert!(store.path_for(&good).unwrap().starts_with(store.root()));
    }

    #[test]
    fn concurrent_puts_of_the_same_bytes_write_once() {
        let (store, _dir) = store();
        let bytes = vec![7u8; 1 << 20];
        let puts: Vec<BlobPut> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| store.put(&bytes).unwrap()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(
            puts.iter().filter(|p| p.newly_written).count(),
            1,
            "{puts:?}"
        );
        assert_eq!(files_under(store.root()).len(), 1);
        assert_eq!(store.get(&puts[0].sha256).unwrap(), bytes);
    }
}
