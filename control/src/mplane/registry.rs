//! mPlane registries (mplane.md §5.1, §5.2): which element names exist and their primitive
//! types.
//!
//! A registry document is `{"registry-format": "mplane-0", "registry-uri": …,
//! "registry-revision": n, "includes": [uri…], "elements": [{"name", "prim", "desc"}…]}`.
//! Includes are resolved depth-first and later definitions override earlier ones, the
//! registry's own elements last (the RI's `Registry._parse_json_bytestream`).
//!
//! [`Registries::builtin`] holds the three a Tstat deployment needs, embedded in the binary so
//! nothing is ever downloaded:
//! - `http://ict-mplane.eu/registry/core`, the 113 elements of the SDK 0.9.0 core registry
//!   (`mplane/registry.json`);
//! - `http://ict-mplane.eu/registry/demo`, which no longer exists online; the interop test
//!   bed's stand-in (`registries/demo-registry.json`: the core elements under the demo URI);
//! - the historic Tstat registry ([`TSTAT_REGISTRY_URI`], `registries/tstat-registry.json`,
//!   fp7mplane/components `tstat/tstat-registry.json`), which includes demo.
//!
//! Element names are looked up in the registry the message names and in its includes only.
//! (The RI looks them up in every registry it has loaded, whichever the message names; for
//! messages that name the Tstat registry the two agree.)

use super::value::Prim;
use std::collections::BTreeMap;

/// The RI's built-in core registry.
pub const CORE_REGISTRY_URI: &str = "http://ict-mplane.eu/registry/core";
/// The consortium "demo" registry that the Tstat registry includes (§5.2).
pub const DEMO_REGISTRY_URI: &str = "http://ict-mplane.eu/registry/demo";
/// The registry of every Tstat message (§5.2): the GitHub URL of `tstat-registry.json`.
pub const TSTAT_REGISTRY_URI: &str =
    "https://raw.githubusercontent.com/fp7mplane/components/master/tstat/tstat-registry.json";

const DEMO_JSON: &str = include_str!("registries/demo-registry.json");
const TSTAT_JSON: &str = include_str!("registries/tstat-registry.json");

/// How deep includes may nest before a lookup gives up (a loop, or an absurd chain).
const MAX_INCLUDE_DEPTH: usize = 16;

/// One element of a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its name, e.g. `delay.twoway.icmp.us.min`.
    pub name: String,
    /// Its type.
    pub prim: Prim,
    /// Its description, if the registry gives one.
    pub desc: Option<String>,
}

/// One registry document, its includes not resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    uri: String,
    revision: i64,
    includes: Vec<String>,
    elements: BTreeMap<String, Element>,
}

/// A registry document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Not JSON.
    #[error("registry is not JSON: {0}")]
    Json(String),
    /// A key is missing or has the wrong type.
    #[error("registry: `{0}` missing or of the wrong type")]
    Field(&'static str),
    /// Not `mplane-0`.
    #[error("unsupported registry format {0:?} (only mplane-0)")]
    Format(String),
    /// An element of an unknown primitive type.
    #[error("element {name:?}: unknown primitive type {prim:?}")]
    Prim {
        /// The element.
        name: String,
        /// Its `prim`.
        prim: String,
    },
}

/// An element name or registry that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The message names a registry we do not have (the RI would try to fetch it and answer
    /// 500 on failure, §5.2).
    #[error("unknown registry {0:?}")]
    UnknownRegistry(String),
    /// The element is in neither the registry nor its includes (the RI answers 500, §5.2).
    #[error("element {name:?} is not defined in registry {registry:?} or its includes")]
    UnknownElement {
        /// The registry the message names.
        registry: String,
        /// The element name.
        name: String,
    },
}

impl Registry {
    /// Parses a registry document.
    pub fn from_json(text: &str) -> Result<Registry, RegistryError> {
        use serde_json::Value;
        let v: Value =
            serde_json::from_str(text).map_err(|e| RegistryError::Json(e.to_string()))?;
        let field = |k: &'static str| v.get(k).ok_or(RegistryError::Field(k));
        let format = field("registry-format")?
            .as_str()
            .ok_or(RegistryError::Field("registry-format"))?;
        if format != "mplane-0" {
            return Err(RegistryError::Format(format.to_string()));
        }
        let uri = field("registry-uri")?
            .as_str()
            .ok_or(RegistryError::Field("registry-uri"))?
            .to_string();
        let revision = match field("registry-revision")? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or(RegistryError::Field("registry-revision"))?;
        let includes = match v.get("includes") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|u| u.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or(RegistryError::Field("includes"))?,
            Some(_) => return Err(RegistryError::Field("includes")),
        };
        let mut elements = BTreeMap::new();
        for e in field("elements")?
            .as_array()
            .ok_or(RegistryError::Field("elements"))?
        {
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .ok_or(RegistryError::Field("elements[].name"))?;
            let prim_name = e
                .get("prim")
                .and_then(Value::as_str)
                .ok_or(RegistryError::Field("elements[].prim"))?;
            let prim = Prim::from_name(prim_name).ok_or_else(|| RegistryError::Prim {
                name: name.to_string(),
                prim: prim_name.to_string(),
            })?;
            let desc = e.get("desc").and_then(Value::as_str).map(str::to_string);
            elements.insert(
                name.to_string(),
                Element {
                    name: name.to_string(),
                    prim,
                    desc,
                },
            );
        }
        Ok(Registry {
            uri,
            revision,
            includes,
            elements,
        })
    }

    /// Its URI (`registry-uri`), the name messages refer to it by.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Its revision.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The URIs it includes, in order.
    pub fn includes(&self) -> &[String] {
        &self.includes
    }

    /// Its own elements (not those of its includes), by name.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.elements.values()
    }

    /// The same elements under another URI.
    fn renamed(&self, uri: &str) -> Registry {
        Registry {
            uri: uri.to_string(),
            ..self.clone()
        }
    }
}

/// A set of registries keyed by URI: what a process has loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registries {
    by_uri: BTreeMap<String, Registry>,
}

impl Registries {
    /// No registry.
    pub fn empty() -> Registries {
        Registries::default()
    }

    /// The core, demo and Tstat registries (see the module documentation).
    pub fn builtin() -> Registries {
        let demo = Registry::from_json(DEMO_JSON).expect("the embedded demo registry is valid");
        let tstat = Registry::from_json(TSTAT_JSON).expect("the embedded Tstat registry is valid");
        let mut r = Registries::empty();
        r.insert(demo.renamed(CORE_REGISTRY_URI));
        r.insert(demo);
        r.insert(tstat);
        r
    }

    /// Adds a registry (replacing one with the same URI, which it returns).
    pub fn insert(&mut self, registry: Registry) -> Option<Registry> {
        self.by_uri.insert(registry.uri.clone(), registry)
    }

    /// The registry with this URI.
    pub fn get(&self, uri: &str) -> Option<&Registry> {
        self.by_uri.get(uri)
    }

    /// The element `name` as registry `uri` defines it, its includes resolved.
    pub fn element(&self, uri: &str, name: &str) -> Result<&Element, LookupError> {
        let root = self
            .by_uri
            .get(uri)
            .ok_or_else(|| LookupError::UnknownRegistry(uri.to_string()))?;
        self.find(root, name, 0)
            .ok_or_else(|| LookupError::UnknownElement {
                registry: uri.to_string(),
                name: name.to_string(),
            })
    }

    /// The type of element `name` in registry `uri`.
    pub fn prim(&self, uri: &str, name: &str) -> Result<Prim, LookupError> {
        self.element(uri, name).map(|e| e.prim)
    }

    fn find<'a>(&'a self, reg: &'a Registry, name: &str, depth: usize) -> Option<&'a Element> {
        if let Some(e) = reg.elements.get(name) {
            return Some(e);
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return None;
        }
        // Later includes override earlier ones.
        reg.includes
            .iter()
            .rev()
            .filter_map(|u| self.by_uri.get(u))
            .find_map(|inc| self.find(inc, name, depth + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registries_resolve_includes() {
        let r = Registries::builtin();
        let t = r.get(TSTAT_REGISTRY_URI).unwrap();
        assert_eq!(t.elements().count(), 135);
        assert_eq!(t.includes(), [DEMO_REGISTRY_URI]);
        assert_eq!(r.get(CORE_REGISTRY_URI).unwrap().elements().count(), 113);
        // Own elements, and the core ones through demo (§5.4).
        assert_eq!(r.prim(TSTAT_REGISTRY_URI, "rrdMetirc"), Ok(Prim::String));
        assert_eq!(r.prim(TSTAT_REGISTRY_URI, "rtt.average.ms"), Ok(Prim::Time));
        assert_eq!(r.prim(TSTAT_REGISTRY_URI, "repository.url"), Ok(Prim::Url));
        assert_eq!(r.prim(TSTAT_REGISTRY_URI, "source.ip4"), Ok(Prim::Address));
        assert_eq!(r.prim(TSTAT_REGISTRY_URI, "System_ID"), Ok(Prim::String));
        assert_eq!(r.prim(CORE_REGISTRY_URI, "start"), Ok(Prim::Time));
        assert!(matches!(
            r.prim(CORE_REGISTRY_URI, "rrdMetirc"),
            Err(LookupError::UnknownElement { .. })
        ));
        assert!(matches!(
            r.prim("http://example.org/nope", "start"),
            Err(LookupError::UnknownRegistry(_))
        ));
    }

    #[test]
    fn include_loops_end() {
        let a = r#"{"registry-format":"mplane-0","registry-uri":"a","registry-revision":0,
                   "includes":["b"],"elements":[]}"#;
        let b = r#"{"registry-format":"mplane-0","registry-uri":"b","registry-revision":"1",
                   "includes":["a"],"elements":[{"name":"x","prim":"real"}]}"#;
        let mut r = Registries::empty();
        r.insert(Registry::from_json(a).unwrap());
        r.insert(Registry::from_json(b).unwrap());
        assert_eq!(r.prim("a", "x"), Ok(Prim::Real));
        assert!(r.prim("a", "y").is_err());
    }

    #[test]
    fn bad_registries_are_refused() {
        assert!(matches!(
            Registry::from_json("["),
            Err(RegistryError::Json(_))
        ));
        assert!(matches!(
            Registry::from_json(r#"{"registry-format":"mplane-1"}"#),
            Err(RegistryError::Format(_))
        ));
        let bad_prim = r#"{"registry-format":"mplane-0","registry-uri":"a",
            "registry-revision":0,"elements":[{"name":"x","prim":"float"}]}"#;
        assert!(matches!(
            Registry::from_json(bad_prim),
            Err(RegistryError::Prim { .. })
        ));
    }
}
