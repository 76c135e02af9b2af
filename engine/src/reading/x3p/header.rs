//! Parsing and validating an X3P `main.xml` (ISO 25178-72 / ISO 5436-2).
//!
//! Only the handful of fields needed to decode the height grid are kept;
//! everything else (instrument, dates, vendor extensions) is skipped without
//! being buffered. The document is read with quick-xml's streaming reader
//! while tracking the element path, so the parser never builds a tree whose
//! size an attacker controls. Element names are compared by local name, which
//! copes with the namespace prefix real files put on the root
//! (`<p:ISO5436_2 ...>`). The root may also be `ISO5436`: some files in
//! circulation were written with the older name, and the records below it are
//! the same (issue #14).
//!
//! Error fields name the element by its path below the root, e.g.
//! `Record3/MatrixDimension/SizeX`.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::{EngineError, Result};

pub(super) const CX_AXIS_TYPE: &str = "Record1/Axes/CX/AxisType";
pub(super) const CX_INCREMENT: &str = "Record1/Axes/CX/Increment";
pub(super) const CY_AXIS_TYPE: &str = "Record1/Axes/CY/AxisType";
pub(super) const CY_INCREMENT: &str = "Record1/Axes/CY/Increment";
pub(super) const CZ_AXIS_TYPE: &str = "Record1/Axes/CZ/AxisType";
pub(super) const CZ_DATA_TYPE: &str = "Record1/Axes/CZ/DataType";
pub(super) const CZ_INCREMENT: &str = "Record1/Axes/CZ/Increment";
pub(super) const CZ_OFFSET: &str = "Record1/Axes/CZ/Offset";
pub(super) const SIZE_X: &str = "Record3/MatrixDimension/SizeX";
pub(super) const SIZE_Y: &str = "Record3/MatrixDimension/SizeY";
pub(super) const SIZE_Z: &str = "Record3/MatrixDimension/SizeZ";
pub(super) const POINT_DATA_LINK: &str = "Record3/DataLink/PointDataLink";
pub(super) const MD5_POINT_DATA: &str = "Record3/DataLink/MD5ChecksumPointData";
pub(super) const VALID_POINTS_LINK: &str = "Record3/DataLink/ValidPointsLink";

/// The leaf elements whose text is collected.
const WANTED: [&str; 14] = [
    CX_AXIS_TYPE,
    CX_INCREMENT,
    CY_AXIS_TYPE,
    CY_INCREMENT,
    CZ_AXIS_TYPE,
    CZ_DATA_TYPE,
    CZ_INCREMENT,
    CZ_OFFSET,
    SIZE_X,
    SIZE_Y,
    SIZE_Z,
    POINT_DATA_LINK,
    MD5_POINT_DATA,
    VALID_POINTS_LINK,
];

/// Layouts of Record3 the reader does not decode; named up front so the
/// user gets "not supported" rather than a confusing "SizeX missing".
const UNSUPPORTED: [(&str, &str); 2] = [
    (
        "Record3/ListDimension",
        "point-list X3P files are not supported; only matrix (grid) data can be read",
    ),
    (
        "Record3/DataList",
        "points stored inline in main.xml are not supported; only a binary PointDataLink can be read",
    ),
];

/// The root element's local names accepted: `ISO5436_2` is the standard's,
/// `ISO5436` is written by some older software for the same document.
const ROOTS: [&str; 2] = ["ISO5436_2", "ISO5436"];

/// The accepted roots as an error message lists them.
fn roots_listed() -> String {
    ROOTS
        .iter()
        .map(|r| format!("<{r}>"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Text of the wanted leaf elements of `main.xml`, keyed by path below the
/// root (one of the `WANTED` constants). Values are trimmed.
#[derive(Debug, Default)]
pub(super) struct MainXml {
    fields: HashMap<&'static str, String>,
}

impl MainXml {
    /// The trimmed text of `path`, if the element was present.
    pub(super) fn get(&self, path: &str) -> Option<&str> {
        self.fields.get(path).map(String::as_str)
    }

    /// The trimmed text of `path`, or an error naming it.
    pub(super) fn require(&self, source_name: &str, path: &str) -> Result<&str> {
        match self.get(path) {
            Some(text) if !text.is_empty() => Ok(text),
            Some(_) => Err(EngineError::invalid(source_name, path, "is empty")),
            None => Err(EngineError::invalid(
                source_name,
                path,
                "missing from main.xml",
            )),
        }
    }
}

/// Stream through `xml` and collect the wanted fields.
///
/// Fails on non-UTF-8 bytes (X3P mandates UTF-8, and decoding other
/// encodings would widen the attack surface for no real file), on malformed
/// XML, on a root element other than `ISO5436_2` or `ISO5436`, on a wanted field given
/// twice (an ambiguous evidence file must not be resolved by guessing) and on
/// unsupported Record3 layouts.
pub(super) fn parse_main_xml(xml: &[u8], source_name: &str) -> Result<MainXml> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let text = std::str::from_utf8(xml)
        .map_err(|e| EngineError::invalid(source_name, "main.xml", format!("is not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut walk = Walk {
        source_name,
        ..Walk::default()
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| walk.malformed(reader.error_position(), e))?;
        let pos = reader.buffer_position();
        match event {
            Event::Start(start) => walk.open(start.local_name().as_ref(), pos)?,
            Event::Empty(start) => {
                walk.open(start.local_name().as_ref(), pos)?;
                walk.close();
            }
            Event::End(_) => walk.close(),
            Event::Text(t) => walk.text(&t.xml10_content()),
            Event::CData(c) => walk.text(&c.xml10_content()),
            Event::GeneralRef(r) => {
                if walk.current.is_some() {
                    // Only the predefined entities and character references
                    // resolve; custom entities are refused, which also rules
                    // out entity-expansion bombs.
                    let entity = format!("&{};", &*r);
                    let resolved =
                        quick_xml::escape::unescape(&entity).map_err(|e| walk.malformed(pos, e))?;
                    walk.text(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        if let Some(err) = walk.error.take() {
            return Err(err);
        }
    }
    if !walk.seen_root {
        return Err(EngineError::invalid(
            source_name,
            "main.xml",
            format!("has no {} root element", roots_listed()),
        ));
    }
    if walk.depth() != 0 {
        return Err(walk.malformed(
            reader.buffer_position(),
            "the document ends before its elements are closed",
        ));
    }
    Ok(walk.out)
}

/// State of the streaming walk over `main.xml`.
#[derive(Debug, Default)]
struct Walk<'s> {
    source_name: &'s str,
    out: MainXml,
    seen_root: bool,
    /// Path below the root, e.g. `Record1/Axes/CX`.
    path: String,
    /// Length of `path` before each open element (the root included), so
    /// closing an element is a truncate.
    lengths: Vec<usize>,
    /// The wanted field currently open and the text gathered for it; text
    /// elsewhere is dropped unread, so unwanted content is never buffered.
    current: Option<(&'static str, String)>,
    /// A semantic error found while closing an element.
    error: Option<EngineError>,
}

impl Walk<'_> {
    fn depth(&self) -> usize {
        self.lengths.len()
    }

    fn malformed(&self, pos: u64, detail: impl std::fmt::Display) -> EngineError {
        EngineError::invalid(
            self.source_name,
            "main.xml",
            format!("malformed XML at byte {pos}: {detail}"),
        )
    }

    fn open(&mut self, name: &str, pos: u64) -> Result<()> {
        if self.depth() == 0 {
            if self.seen_root {
                return Err(self.malformed(pos, format!("second root element <{name}>")));
            }
            if !ROOTS.contains(&name) {
                return Err(EngineError::invalid(
                    self.source_name,
                    "main.xml",
                    format!("root element is <{name}>, expected {}", roots_listed()),
                ));
            }
            self.seen_root = true;
            self.lengths.push(0);
            return Ok(());
        }
        self.lengths.push(self.path.len());
        if !self.path.is_empty() {
            self.path.push('/');
        }
        self.path.push_str(name);
        if let Some((_, reason)) = UNSUPPORTED.iter().find(|(p, _)| *p == self.path) {
            return Err(EngineError::invalid(self.source_name, &self.path, *reason));
        }
        self.current = WANTED
            .iter()
            .find(|w| **w == self.path)
            .map(|w| (*w, String::new()));
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some((_, buf)) = self.current.as_mut() {
            buf.push_str(text);
        }
    }

    fn close(&mut self) {
        if let Some((field, text)) = self.current.take() {
            let text = text.trim().to_string();
            if self.out.fields.insert(field, text).is_some() && self.error.is_none() {
                self.error = Some(EngineError::invalid(
                    self.source_name,
                    field,
                    "given more than once in main.xml",
                ));
            }
        }
        // quick-xml checks that end tags match, so the stack cannot underflow
        // on well-formed input; `unwrap_or` keeps a stray end harmless anyway.
        let len = self.lengths.pop().unwrap_or(0);
        self.path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: EngineError) -> (String, String) {
        match err {
            EngineError::InvalidInput { field, reason, .. } => (field, reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    const MINIMAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2">
  <Record1><Axes>
    <CX><AxisType>I</AxisType><Increment> 6.25e-06 </Increment></CX>
    <CZ><DataType>D</DataType></CZ>
  </Axes></Record1>
  <Record3>
    <MatrixDimension><SizeX>561</SizeX><SizeY>563</SizeY><SizeZ>1</SizeZ></MatrixDimension>
    <DataLink><PointDataLink>bindata/data.bin</PointDataLink><MD5ChecksumPointData/></DataLink>
    <Mask><Annotations/><Version>2</Version></Mask>
  </Record3>
</p:ISO5436_2>"#;

    #[test]
    fn collects_wanted_fields_by_path_with_prefixed_root() {
        let xml = parse_main_xml(MINIMAL.as_bytes(), "t").expect("parses");
        assert_eq!(xml.get(CX_INCREMENT), Some("6.25e-06"));
        assert_eq!(xml.get(CX_AXIS_TYPE), Some("I"));
        assert_eq!(xml.get(SIZE_X), Some("561"));
        assert_eq!(xml.get(SIZE_Y), Some("563"));
        assert_eq!(xml.get(POINT_DATA_LINK), Some("bindata/data.bin"));
        // An empty element is present but empty, and `require` says so.
        assert_eq!(xml.get(MD5_POINT_DATA), Some(""));
        assert!(field_of(xml.require("t", MD5_POINT_DATA).unwrap_err())
            .1
            .contains("empty"));
        // Absent fields are reported by path.
        assert_eq!(xml.get(CY_INCREMENT), None);
        assert_eq!(
            field_of(xml.require("t", CY_INCREMENT).unwrap_err()).0,
            CY_INCREMENT
        );
    }

    #[test]
    fn older_iso5436_root_gives_the_same_fields() {
        let older = MINIMAL
            .replace("<p:ISO5436_2 ", "<p:ISO5436 ")
            .replace("</p:ISO5436_2>", "</p:ISO5436>");
        let xml = parse_main_xml(older.as_bytes(), "t").expect("parses");
        assert_eq!(xml.get(CX_INCREMENT), Some("6.25e-06"));
        assert_eq!(xml.get(SIZE_X), Some("561"));
        assert_eq!(xml.get(POINT_DATA_LINK), Some("bindata/data.bin"));
        // The root's name is checked once: a child named like a root is just
        // an unknown element, and a mismatched end tag is still malformed.
        let mixed = "<ISO5436><Record3></Record3></ISO5436_2>";
        let (field, reason) = field_of(parse_main_xml(mixed.as_bytes(), "t").unwrap_err());
        assert_eq!(field, "main.xml");
        assert!(reason.contains("malformed"), "{reason}");
    }

    #[test]
    fn entities_and_cdata_resolve_inside_fields() {
        let xml = r#"<ISO5436_2><Record3><DataLink><PointDataLink>bin&#x64;ata/<![CDATA[data]]>&amp;.bin</PointDataLink></DataLink></Record3></ISO5436_2>"#;
        let parsed = parse_main_xml(xml.as_bytes(), "t").expect("parses");
        assert_eq!(parsed.get(POINT_DATA_LINK), Some("bindata/data&.bin"));
    }

    #[test]
    fn non_utf8_is_rejected_naming_main_xml() {
        let (field, reason) =
            field_of(parse_main_xml(b"<ISO5436_2>\xff\xfe</ISO5436_2>", "t").unwrap_err());
        assert_eq!(field, "main.xml");
        assert!(reason.contains("UTF-8"), "{reason}");
    }

    #[test]
    fn malformed_xml_is_rejected_with_position() {
        for bad in [
            "<ISO5436_2><Record1></Record3></ISO5436_2>",
            "<ISO5436_2><Record1>",
            "",
            "<ISO5436_2/><ISO5436_2/>",
        ] {
            let (field, reason) = field_of(parse_main_xml(bad.as_bytes(), "t").unwrap_err());
            assert_eq!(field, "main.xml", "{bad}");
            assert!(
                reason.contains("malformed") || reason.contains("root"),
                "{bad}: {reason}"
            );
        }
    }

    #[test]
    fn wrong_root_custom_entities_and_duplicates_are_rejected() {
        let (_, reason) = field_of(parse_main_xml(b"<svg/>", "t").unwrap_err());
        assert!(
            reason.contains("root element is <svg>, expected <ISO5436_2> or <ISO5436>"),
            "{reason}"
        );
        // Near misses of the accepted names are still refused.
        for near in ["<ISO5436_3/>", "<ISO5436_/>", "<iso5436_2/>", "<ISO/>"] {
            let (field, reason) = field_of(parse_main_xml(near.as_bytes(), "t").unwrap_err());
            assert_eq!(field, "main.xml", "{near}");
            assert!(reason.contains("expected <ISO5436_2>"), "{near}: {reason}");
        }

        let bomb = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><ISO5436_2><Record3><MatrixDimension><SizeX>&a;</SizeX></MatrixDimension></Record3></ISO5436_2>"#;
        let (field, _) = field_of(parse_main_xml(bomb.as_bytes(), "t").unwrap_err());
        assert_eq!(field, "main.xml");

        let twice = "<ISO5436_2><Record3><MatrixDimension><SizeX>1</SizeX><SizeX>2</SizeX></MatrixDimension></Record3></ISO5436_2>";
        let (field, reason) = field_of(parse_main_xml(twice.as_bytes(), "t").unwrap_err());
        assert_eq!(field, SIZE_X);
        assert!(reason.contains("more than once"), "{reason}");
    }

    #[test]
    fn point_lists_are_reported_as_unsupported() {
        let xml = "<ISO5436_2><Record3><ListDimension>5</ListDimension></Record3></ISO5436_2>";
        let (field, reason) = field_of(parse_main_xml(xml.as_bytes(), "t").unwrap_err());
        assert_eq!(field, "Record3/ListDimension");
        assert!(reason.contains("not supported"), "{reason}");
    }
}
