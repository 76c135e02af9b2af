//! Where an import's files come from: a folder, a zip, a tar or tar.gz, or
//! a lone manifest whose paths point at local files. Files are handed out
//! one at a time, each read through a size cap, so an archive is never
//! unpacked whole into memory or onto disk.
//!
//! Inside a folder or archive, the manifest is the shallowest entry named
//! `manifest.csv` or `manifest.jsonl`, and its rows' paths are relative to
//! the manifest's folder and may not leave the folder or archive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use super::manifest::{ManifestFormat, MAX_MANIFEST_BYTES};
use crate::error::{EngineError, Result};
use crate::store::SourceKind;

/// Names a manifest may have inside a folder or archive.
const MANIFEST_NAMES: [&str; 3] = ["manifest.csv", "manifest.jsonl", "manifest.ndjson"];

/// A source of import files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSource {
    pub path: PathBuf,
    pub kind: SourceKind,
    /// A lone manifest whose rows may name files under its own folder
    /// only (as rows of a folder's manifest may), not anywhere on the
    /// machine. Always set for manifests named over the network.
    manifest_confined: bool,
}

/// The manifest as found in a source.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Its name inside the source (or its path, for a lone manifest).
    pub name: String,
    pub format: ManifestFormat,
    /// Its folder inside the archive (`""` at the top); rows' paths are
    /// relative to it.
    pub base: String,
    pub bytes: Vec<u8>,
}

/// One file read for a row (by its index in the request list).
#[derive(Debug)]
pub struct FileRead {
    pub index: usize,
    pub bytes: std::result::Result<Vec<u8>, String>,
}

impl ImportSource {
    /// Recognise what `path` is: a folder, or a file by its first bytes
    /// (zip, gzip, tar), else by its name (a `.csv`/`.jsonl` manifest).
    pub fn open(path: &Path) -> Result<ImportSource> {
        let meta = std::fs::metadata(path).map_err(|e| EngineError::io(path, e))?;
        let kind = if meta.is_dir() {
            SourceKind::Folder
        } else {
            let mut head = [0u8; 512];
            let mut file = File::open(path).map_err(|e| EngineError::io(path, e))?;
            let n = read_up_to(&mut file, &mut head).map_err(|e| EngineError::io(path, e))?;
            let head = &head[..n];
            if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
                SourceKind::Zip
            } else if head.starts_with(&[0x1f, 0x8b]) {
                SourceKind::TarGz
            } else if head.len() >= 262 && &head[257..262] == b"ustar" {
                SourceKind::Tar
            } else if ManifestFormat::from_name(&path.to_string_lossy()).is_some() {
                SourceKind::Manifest
            } else {
                return Err(EngineError::invalid(
                    &path.display().to_string(),
                    "format",
                    "not a folder, zip, tar, tar.gz or .csv/.jsonl manifest",
                ));
            }
        };
        Ok(ImportSource {
            path: path.to_path_buf(),
            kind,
            manifest_confined: false,
        })
    }

    /// The same source, with a lone manifest's rows held to files under
    /// the manifest's folder (no `..`, no absolute paths, no symlinks
    /// leading out). Other sources are confined already.
    pub fn confined_to_its_folder(mut self) -> ImportSource {
        self.manifest_confined = true;
        self
    }

    /// Whether rows' paths must stay inside the source.
    pub fn confined(&self) -> bool {
        self.kind != SourceKind::Manifest || self.manifest_confined
    }

    /// The folder a confined lone manifest's rows are read from.
    fn manifest_folder(&self) -> Result<PathBuf> {
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        parent
            .canonicalize()
            .map_err(|e| EngineError::io(&parent, e))
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// Find and read the manifest.
    pub fn read_manifest(&self) -> Result<ManifestFile> {
        let label = self.label();
        match self.kind {
            SourceKind::Manifest => {
                let format = ManifestFormat::from_name(&label)
                    .ok_or_else(|| EngineError::invalid(&label, "name", "not .csv or .jsonl"))?;
                let file = File::open(&self.path).map_err(|e| EngineError::io(&self.path, e))?;
                let bytes = read_capped(file, MAX_MANIFEST_BYTES)
                    .map_err(|e| EngineError::invalid(&label, "manifest", e))?;
                Ok(ManifestFile {
                    name: label,
                    format,
                    base: String::new(),
                    bytes,
                })
            }
            SourceKind::Folder => {
                let found = MANIFEST_NAMES
                    .iter()
                    .map(|n| self.path.join(n))
                    .find(|p| p.is_file())
                    .ok_or_else(|| no_manifest(&label))?;
                let name = found
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let file = File::open(&found).map_err(|e| EngineError::io(&found, e))?;
                let bytes = read_capped(file, MAX_MANIFEST_BYTES)
                    .map_err(|e| EngineError::invalid(&label, &name, e))?;
                manifest_file(name, bytes)
            }
            SourceKind::Zip => {
                let mut zip = self.open_zip()?;
                let names: Vec<String> = zip
                    .file_names()
                    .filter_map(|n| n.ok().map(|n| n.into_owned()))
                    .collect();
                let name = shallowest_manifest(&label, names.iter().map(String::as_str))?;
                let entry = zip
                    .by_name(&name)
                    .map_err(|e| EngineError::invalid(&label, &name, e.to_string()))?;
                let bytes = read_capped(entry, MAX_MANIFEST_BYTES)
                    .map_err(|e| EngineError::invalid(&label, &name, e))?;
                manifest_file(name, bytes)
            }
            SourceKind::Tar | SourceKind::TarGz => {
                // First pass: only entry names, to find the shallowest
                // manifest; the second pass reads it.
                let mut names = Vec::new();
                self.each_tar_entry(|path, _| {
                    names.push(path);
                    Ok(true)
                })?;
                let name = shallowest_manifest(&label, names.iter().map(String::as_str))?;
                let mut bytes = None;
                self.each_tar_entry(|path, entry| {
                    if path == name {
                        bytes = Some(
                            read_capped(entry, MAX_MANIFEST_BYTES)
                                .map_err(|e| EngineError::invalid(&label, &name, e))?,
                        );
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                manifest_file(name.clone(), bytes.ok_or_else(|| no_manifest(&label))?)
            }
        }
    }

    /// Read the files named by `keys` (paths as resolved by the manifest
    /// rows), each capped at `max_bytes`, and hand each to `sink` as it is
    /// read. A folder or zip is read in the order of `keys`; a tar in its
    /// own order, once. A key not found is reported as missing. `sink`
    /// returning false stops the reading.
    pub fn read_files(
        &self,
        keys: &[String],
        max_bytes: u64,
        mut sink: impl FnMut(FileRead) -> bool,
    ) -> Result<()> {
        match self.kind {
            SourceKind::Manifest if self.manifest_confined => {
                let root = self.manifest_folder()?;
                for (index, key) in keys.iter().enumerate() {
                    let bytes = read_in_folder(&root, key, max_bytes);
                    if !sink(FileRead { index, bytes }) {
                        break;
                    }
                }
            }
            SourceKind::Manifest => {
                for (index, key) in keys.iter().enumerate() {
                    let bytes = File::open(key)
                        .map_err(|e| format!("cannot read {key}: {e}"))
                        .and_then(|f| read_capped(f, max_bytes));
                    if !sink(FileRead { index, bytes }) {
                        break;
                    }
                }
            }
            SourceKind::Folder => {
                let root = self
                    .path
                    .canonicalize()
                    .map_err(|e| EngineError::io(&self.path, e))?;
                for (index, key) in keys.iter().enumerate() {
                    let bytes = read_in_folder(&root, key, max_bytes);
                    if !sink(FileRead { index, bytes }) {
                        break;
                    }
                }
            }
            SourceKind::Zip => {
                let mut zip = self.open_zip()?;
                for (index, key) in keys.iter().enumerate() {
                    let bytes = match zip.by_name(key) {
                        Ok(entry) if entry.is_dir() => {
                            Err(format!("{key} is a folder in the archive"))
                        }
                        Ok(entry) if entry.size() > max_bytes => Err(format!(
                            "{key} is {} bytes, limit {max_bytes}",
                            entry.size()
                        )),
                        Ok(entry) => read_capped(entry, max_bytes),
                        Err(zip::result::ZipError::FileNotFound) => {
                            Err(format!("{key} is not in the archive"))
                        }
                        Err(e) => Err(format!("{key}: {e}")),
                    };
                    if !sink(FileRead { index, bytes }) {
                        break;
                    }
                }
            }
            SourceKind::Tar | SourceKind::TarGz => {
                let mut wanted: HashMap<&str, Vec<usize>> = HashMap::new();
                for (i, k) in keys.iter().enumerate() {
                    wanted.entry(k.as_str()).or_default().push(i);
                }
                let mut go_on = true;
                self.each_tar_entry(|path, entry| {
                    let Some(indices) = wanted.remove(path.as_str()) else {
                        return Ok(true);
                    };
                    let size = entry.header().size().unwrap_or(0);
                    let bytes = if size > max_bytes {
                        Err(format!("{path} is {size} bytes, limit {max_bytes}"))
                    } else {
                        read_capped(entry, max_bytes)
                    };
                    for index in indices {
                        go_on = sink(FileRead {
                            index,
                            bytes: bytes.clone(),
                        });
                        if !go_on {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })?;
                if go_on {
                    let mut missing: Vec<(&str, Vec<usize>)> = wanted.into_iter().collect();
                    missing.sort_by_key(|(_, idx)| idx[0]);
                    'missing: for (key, indices) in missing {
                        for index in indices {
                            let bytes = Err(format!("{key} is not in the archive"));
                            if !sink(FileRead { index, bytes }) {
                                break 'missing;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn open_zip(&self) -> Result<zip::ZipArchive<BufReader<File>>> {
        let file = File::open(&self.path).map_err(|e| EngineError::io(&self.path, e))?;
        zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| EngineError::invalid(&self.label(), "zip", e.to_string()))
    }

    /// Visit every regular file of a tar(.gz) in order, with its normalised
    /// path (`None` for paths that could never be a manifest row's: `..`,
    /// absolute). `visit` returning false stops.
    fn each_tar_entry(
        &self,
        mut visit: impl FnMut(String, &mut tar::Entry<'_, Box<dyn Read + '_>>) -> Result<bool>,
    ) -> Result<()> {
        let label = self.label();
        let file = File::open(&self.path).map_err(|e| EngineError::io(&self.path, e))?;
        let reader: Box<dyn Read> = if self.kind == SourceKind::TarGz {
            Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(BufReader::new(file))
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|e| EngineError::invalid(&label, "tar", e.to_string()))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| EngineError::invalid(&label, "tar", e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let Some(path) = entry.path().ok().and_then(|p| normalised(&p)) else {
                continue;
            };
            if !visit(path, &mut entry)? {
                break;
            }
        }
        Ok(())
    }
}

/// A relative path with `/` separators and no `.`, or `None` if it is
/// absolute or climbs with `..` (such entries match no row).
fn normalised(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn no_manifest(label: &str) -> EngineError {
    EngineError::invalid(
        label,
        "manifest",
        "no manifest.csv or manifest.jsonl found at the top level or in a folder",
    )
}

/// The manifest entry nearest the top; two at that depth are ambiguous.
fn shallowest_manifest<'a>(label: &str, names: impl Iterator<Item = &'a str>) -> Result<String> {
    let mut found: Vec<&str> = names
        .filter(|n| {
            let file = n.rsplit('/').next().unwrap_or(n);
            MANIFEST_NAMES.contains(&file) && normalised(Path::new(n)).as_deref() == Some(*n)
        })
        .collect();
    found.sort_by_key(|n| n.matches('/').count());
    match found.as_slice() {
        [] => Err(no_manifest(label)),
        [one] => Ok(one.to_string()),
        [a, b, ..] if a.matches('/').count() == b.matches('/').count() => {
            Err(EngineError::invalid(
                label,
                "manifest",
                format!("two manifests at the same depth: {a} and {b}"),
            ))
        }
        [first, ..] => Ok(first.to_string()),
    }
}

fn manifest_file(name: String, bytes: Vec<u8>) -> Result<ManifestFile> {
    let format = ManifestFormat::from_name(&name)
        .ok_or_else(|| EngineError::invalid(&name, "name", "not .csv or .jsonl"))?;
    let base = match name.rfind('/') {
        Some(i) => name[..i].to_string(),
        None => String::new(),
    };
    Ok(ManifestFile {
        name,
        format,
        base,
        bytes,
    })
}

/// A file under `root` (canonical); a symlink leading outside is refused.
fn read_in_folder(root: &Path, key: &str, max_bytes: u64) -> std::result::Result<Vec<u8>, String> {
    let path = root.join(key);
    let real = path
        .canonicalize()
        .map_err(|e| format!("{key} cannot be read: {e}"))?;
    if !real.starts_with(root) {
        return Err(format!("{key} leads outside the folder"));
    }
    let file = File::open(&real).map_err(|e| format!("{key} cannot be read: {e}"))?;
    read_capped(file, max_bytes)
}

/// Everything `reader` holds, refusing more than `max` bytes as soon as
/// they are seen.
pub fn read_capped(reader: impl Read, max: u64) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("read failed: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("larger than the limit of {max} bytes"));
    }
    Ok(bytes)
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    fn tar_gz_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(file.reopen().unwrap(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        file
    }

    fn read_all(
        source: &ImportSource,
        keys: &[&str],
        max: u64,
    ) -> Vec<std::result::Result<Vec<u8>, String>> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let mut out: Vec<Option<_>> = keys.iter().map(|_| None).collect();
        source
            .read_files(&keys, max, |r| {
                out[r.index] = Some(r.bytes);
                true
            })
            .unwrap();
        out.into_iter()
            .map(|o| o.expect("every key answered"))
            .collect()
    }

    #[test]
    fn zip_and_tar_gz_give_the_manifest_and_files_by_name() {
        let entries: [(&str, &[u8]); 3] = [
            ("set/manifest.csv", b"file,casing_id\na.x3p,A\n"),
            ("set/a.x3p", b"AAAA"),
            ("set/big.x3p", &[7u8; 100]),
        ];
        let zip = zip_with(&entries);
        let tgz = tar_gz_with(&entries);
        for (file, kind) in [(&zip, SourceKind::Zip), (&tgz, SourceKind::TarGz)] {
            let source = ImportSource::open(file.path()).unwrap();
            assert_eq!(source.kind, kind);
            let manifest = source.read_manifest().unwrap();
            assert_eq!(
                (manifest.base.as_str(), manifest.format),
                ("set", ManifestFormat::Csv)
            );
            let got = read_all(&source, &["set/a.x3p", "set/none.x3p", "set/big.x3p"], 10);
            assert_eq!(got[0].as_deref(), Ok(&b"AAAA"[..]));
            assert!(
                got[1].as_ref().unwrap_err().contains("not in the archive"),
                "{got:?}"
            );
            assert!(got[2].as_ref().unwrap_err().contains("limit"), "{got:?}");
        }
    }

    #[test]
    fn folders_refuse_symlinks_leading_outside() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.csv"), b"file,casing_id\n").unwrap();
        std::fs::write(dir.path().join("a.x3p"), b"A").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let source = ImportSource::open(dir.path()).unwrap();
        assert_eq!(source.kind, SourceKind::Folder);
        let got = read_all(&source, &["a.x3p", "link"], 10);
        assert_eq!(got[0].as_deref(), Ok(&b"A"[..]));
        assert!(got[1].as_ref().unwrap_err().contains("outside"), "{got:?}");
    }

    #[test]
    fn two_manifests_at_one_depth_are_ambiguous() {
        let zip = zip_with(&[("manifest.csv", b"x"), ("manifest.jsonl", b"y")]);
        let err = ImportSource::open(zip.path())
            .unwrap()
            .read_manifest()
            .unwrap_err();
        assert!(err.to_string().contains("two manifests"), "{err}");
    }
}
