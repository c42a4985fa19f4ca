//! Which capability a specification was derived from, and whether its values are allowed
//! (mplane.md §4, §5.3, §6, §8, §10, §12.3).
//!
//! How the RI decides, and what we do:
//! - The RI component's scheduler takes the **first capability whose schema equals the
//!   specification's** (registry URI, set of parameter names, set of result column names:
//!   [`schema_hash`]) **and whose `when` the specification's follows** ([`When::follows`]),
//!   `Specification.fulfills` (§5.3, §4). We do the same, and also require the same verb (the
//!   RI supervisor forwards specifications built from the registered capability, so the verbs
//!   always agree; a different verb is a different request).
//! - Labels alone are not enough: the supervisor relabels every forwarded specification
//!   `<capability label>-<N>` with its own counter and gives it a fresh token (§6, §8), and the
//!   2015 Tstat proxy broke on exactly this by comparing full labels (§12.3). A label whose
//!   base ([`base_label`]) names a capability only breaks ties between capabilities of one
//!   schema (which a deployment should not have, §8), after which equal metadata does (the
//!   specification carries the capability's metadata, §3.3); what is still tied is refused as
//!   ambiguous.
//! - Parameter values are then checked against the capability's constraints (§5.3): each
//!   needs a value (not `*`), of the element's type, allowed by the constraint (`*`, one value,
//!   a set, an inclusive range). The supervisor relays only truthy values (§10), so a value
//!   missing here may have been `0` or empty at the client.
//!
//! Errors name the specification, the nearest capability and every difference, so that the
//! exception a component answers with tells the client what to fix.

use super::model::{Capability, Specification, Statement};
use super::registry::Registries;
use super::token::{schema_hash, specification_token, SchemaError};
use super::when::When;
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use std::fmt;

/// A specification label without its serial: `tstat-log_rrds-3` → `tstat-log_rrds` (the RI
/// supervisor strips `-<digits>$`, §6). Other labels are returned unchanged.
pub fn base_label(label: &str) -> &str {
    match label.rfind('-') {
        Some(i)
            if i + 1 < label.len() && label.as_bytes()[i + 1..].iter().all(u8::is_ascii_digit) =>
        {
            &label[..i]
        }
        _ => label,
    }
}

/// How a specification's schema differs from a capability's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaDiff {
    /// The capability's label.
    pub capability: String,
    /// `(capability's, specification's)` registries, when they differ.
    pub registry: Option<(String, String)>,
    /// `(capability's, specification's)` verbs, when they differ.
    pub verb: Option<(String, String)>,
    /// Parameters of the capability the specification lacks.
    pub missing_parameters: Vec<String>,
    /// Parameters of the specification the capability does not have.
    pub extra_parameters: Vec<String>,
    /// Result columns of the capability the specification lacks.
    pub missing_results: Vec<String>,
    /// Result columns of the specification the capability does not have.
    pub extra_results: Vec<String>,
}

impl SchemaDiff {
    fn of(cap: &Capability, spec: &Specification) -> SchemaDiff {
        let pair = |a: &str, b: &str| (a != b).then(|| (a.to_string(), b.to_string()));
        let minus = |a: &mut dyn Iterator<Item = &String>, b: &dyn Fn(&String) -> bool| {
            a.filter(|x| !b(x)).cloned().collect::<Vec<_>>()
        };
        SchemaDiff {
            capability: label_of(cap),
            registry: pair(&cap.registry, &spec.registry),
            verb: pair(&cap.verb, &spec.verb),
            missing_parameters: minus(&mut cap.parameters.keys(), &|k| {
                spec.parameters.contains_key(k)
            }),
            extra_parameters: minus(&mut spec.parameters.keys(), &|k| {
                cap.parameters.contains_key(k)
            }),
            missing_results: minus(&mut cap.results.iter(), &|k| spec.results.contains(k)),
            extra_results: minus(&mut spec.results.iter(), &|k| cap.results.contains(k)),
        }
    }

    fn size(&self) -> usize {
        usize::from(self.registry.is_some()) * 1000
            + usize::from(self.verb.is_some()) * 100
            + self.missing_parameters.len()
            + self.extra_parameters.len()
            + self.missing_results.len()
            + self.extra_results.len()
    }

    /// Whether the schemas (and verbs) agree.
    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }
}

fn names(v: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut s = v.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > SHOWN {
        s.push_str(&format!(" and {} more", v.len() - SHOWN));
    }
    s
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some((c, s)) = &self.registry {
            parts.push(format!("registry is {c:?}, not {s:?}"));
        }
        if let Some((c, s)) = &self.verb {
            parts.push(format!("verb is {c:?}, not {s:?}"));
        }
        for (list, what) in [
            (&self.missing_parameters, "parameters missing"),
            (&self.extra_parameters, "parameters not offered"),
            (&self.missing_results, "result columns missing"),
            (&self.extra_results, "result columns not offered"),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what}: {}", names(list)));
            }
        }
        write!(f, "capability {}: {}", self.capability, parts.join("; "))
    }
}

/// Why a specification was not matched or its values not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// No capability has its schema and verb.
    #[error("no capability matches specification {spec}{}", nearest.as_ref().map(|d| format!(" (nearest: {d})")).unwrap_or_default())]
    NoCapability {
        /// The specification's label (or token).
        spec: String,
        /// How it differs from the nearest capability (the one its label names, if any).
        nearest: Option<Box<SchemaDiff>>,
    },
    /// Several capabilities match and nothing tells them apart.
    #[error("specification {spec} matches several capabilities: {}", candidates.join(", "))]
    Ambiguous {
        /// The specification's label (or token).
        spec: String,
        /// Their labels.
        candidates: Vec<String>,
    },
    /// The schema matches, the temporal scope does not fit (§4).
    #[error("temporal scope {spec_when:?} of specification {spec} is not within {capability_when:?} of capability {capability}")]
    WhenOutside {
        /// The specification's label (or token).
        spec: String,
        /// The capability's label.
        capability: String,
        /// The specification's `when`.
        spec_when: String,
        /// The capability's `when`.
        capability_when: String,
    },
    /// A parameter without a value (absent, or `*`).
    #[error("parameter {parameter} has no value")]
    MissingValue {
        /// The parameter.
        parameter: String,
    },
    /// A value given for a parameter the capability does not have.
    #[error("parameter {parameter} is not a parameter of capability {capability}")]
    UnknownParameter {
        /// The parameter.
        parameter: String,
        /// The capability's label.
        capability: String,
    },
    /// A value outside the constraint (§5.3).
    #[error("parameter {parameter} = {value:?} is not allowed: capability {capability} allows {constraint:?}")]
    ConstraintViolated {
        /// The parameter.
        parameter: String,
        /// The value given (clipped).
        value: String,
        /// The capability's constraint.
        constraint: String,
        /// The capability's label.
        capability: String,
    },
    /// An element unknown to the registry, or a value not of its element's type.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

fn label_of<P>(s: &Statement<P>) -> String {
    s.label
        .clone()
        .or_else(|| s.token.clone())
        .unwrap_or_else(|| "(unlabelled)".to_string())
}

fn clip(s: &str) -> String {
    const CLIP: usize = 64;
    if s.len() <= CLIP {
        return s.to_string();
    }
    let mut end = CLIP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Finds the capability `spec` was derived from among `capabilities` (see the module
/// documentation for the rules), then checks its parameter values against that capability's
/// constraints. `tzero` is now (UTC): relative scopes are evaluated at it.
pub fn match_specification<'c, C: AsRef<Capability>>(
    capabilities: &'c [C],
    spec: &Specification,
    registries: &Registries,
    tzero: NaiveDateTime,
) -> Result<&'c C, MatchError> {
    let spec_hash = schema_hash(spec);
    let base = spec.label.as_deref().map(base_label);
    let mut candidates: Vec<&'c C> = capabilities
        .iter()
        .filter(|c| {
            let cap = c.as_ref();
            cap.verb == spec.verb && schema_hash(cap) == spec_hash
        })
        .collect();
    if candidates.is_empty() {
        let named = capabilities
            .iter()
            .map(AsRef::as_ref)
            .find(|c| base.is_some() && c.label.as_deref() == base);
        let nearest = named
            .map(|c| SchemaDiff::of(c, spec))
            .or_else(|| {
                capabilities
                    .iter()
                    .map(|c| SchemaDiff::of(c.as_ref(), spec))
                    .min_by_key(SchemaDiff::size)
            })
            .map(Box::new);
        return Err(MatchError::NoCapability {
            spec: label_of(spec),
            nearest,
        });
    }
    // Ties between capabilities of one schema: the one the label names first, then one with
    // the same metadata (a stable sort keeps registration order otherwise).
    candidates.sort_by_key(|c| {
        let cap = c.as_ref();
        (
            !(base.is_some() && cap.label.as_deref() == base),
            cap.metadata != spec.metadata,
        )
    });
    let fitting: Vec<&'c C> = candidates
        .iter()
        .copied()
        .filter(|c| spec.when.follows(&c.as_ref().when, tzero))
        .collect();
    let Some(&first) = fitting.first() else {
        let cap = candidates[0].as_ref();
        return Err(MatchError::WhenOutside {
            spec: label_of(spec),
            capability: label_of(cap),
            spec_when: spec.when.to_string(),
            capability_when: cap.when.to_string(),
        });
    };
    if let Some(&second) = fitting.get(1) {
        let key = |c: &C| {
            let cap = c.as_ref();
            (
                base.is_some() && cap.label.as_deref() == base,
                cap.metadata == spec.metadata,
            )
        };
        if key(first) == key(second) {
            return Err(MatchError::Ambiguous {
                spec: label_of(spec),
                candidates: fitting.iter().map(|c| label_of(c.as_ref())).collect(),
            });
        }
    }
    check_parameters(first.as_ref(), spec, registries)?;
    Ok(first)
}

/// Checks every parameter value of `spec` against `cap`'s constraints (§5.3): present, not
/// `*`, of the element's type, allowed. The schemas are assumed to match.
pub fn check_parameters(
    cap: &Capability,
    spec: &Specification,
    registries: &Registries,
) -> Result<(), MatchError> {
    for (name, constraint) in &cap.parameters {
        let value = match spec.parameters.get(name) {
            Some(v) if v != "*" => v,
            _ => {
                return Err(MatchError::MissingValue {
                    parameter: name.clone(),
                })
            }
        };
        let prim = registries
            .prim(&cap.registry, name)
            .map_err(SchemaError::from)?;
        let ok = constraint
            .allows(prim, value)
            .map_err(|error| SchemaError::Value {
                section: "parameter",
                name: name.clone(),
                error,
            })?;
        if !ok {
            return Err(MatchError::ConstraintViolated {
                parameter: name.clone(),
                value: clip(value),
                constraint: constraint.to_string(),
                capability: label_of(cap),
            });
        }
    }
    Ok(())
}

/// Checks that every element of a capability exists in its registry and that its constraints
/// and metadata fit their types: what the RI supervisor would otherwise refuse with a 500 at
/// registration (§5.2, acceptance checklist item 3).
pub fn validate_capability(cap: &Capability, registries: &Registries) -> Result<(), SchemaError> {
    for (name, c) in &cap.parameters {
        let prim = registries.prim(&cap.registry, name)?;
        c.canonical(prim).map_err(|error| SchemaError::Value {
            section: "parameter",
            name: name.clone(),
            error,
        })?;
    }
    for (name, v) in &cap.metadata {
        let prim = registries.prim(&cap.registry, name)?;
        prim.canonical(v).map_err(|error| SchemaError::Value {
            section: "metadata",
            name: name.clone(),
            error,
        })?;
    }
    for name in &cap.results {
        registries.prim(&cap.registry, name)?;
    }
    Ok(())
}

/// Builds the specification an RI client would send for `cap` (its `invoke_capability`):
/// parameters from `values`, those with a single-value constraint filled in automatically
/// (§5.3); metadata and result columns copied; label `<capability label>-<serial>`; the
/// client's token at `tzero` (§6). The scope must fit the capability's.
pub fn derive_specification(
    cap: &Capability,
    when: When,
    values: &BTreeMap<String, String>,
    serial: u64,
    registries: &Registries,
    tzero: NaiveDateTime,
) -> Result<Specification, MatchError> {
    if let Some(name) = values.keys().find(|k| !cap.parameters.contains_key(*k)) {
        return Err(MatchError::UnknownParameter {
            parameter: name.clone(),
            capability: label_of(cap),
        });
    }
    if !when.follows(&cap.when, tzero) {
        return Err(MatchError::WhenOutside {
            spec: format!("for {}", label_of(cap)),
            capability: label_of(cap),
            spec_when: when.to_string(),
            capability_when: cap.when.to_string(),
        });
    }
    let mut parameters = BTreeMap::new();
    for (name, c) in &cap.parameters {
        let value = values
            .get(name)
            .map(String::as_str)
            .or_else(|| c.single_value())
            .ok_or_else(|| MatchError::MissingValue {
                parameter: name.clone(),
            })?;
        parameters.insert(name.clone(), value.to_string());
    }
    let mut spec = Specification {
        verb: cap.verb.clone(),
        registry: cap.registry.clone(),
        label: cap.label.as_ref().map(|l| format!("{l}-{serial}")),
        token: None,
        link: None,
        export: None,
        when,
        parameters,
        metadata: cap.metadata.clone(),
        results: cap.results.clone(),
    };
    check_parameters(cap, &spec, registries)?;
    spec.token = Some(specification_token(&spec, registries, tzero)?);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_labels() {
        assert_eq!(base_label("tstat-log_rrds-3"), "tstat-log_rrds");
        assert_eq!(base_label("tstat-log_rrds-42"), "tstat-log_rrds");
        assert_eq!(base_label("tstat-log_rrds"), "tstat-log_rrds");
        assert_eq!(
            base_label("tstat-log_tcp_complete-core"),
            "tstat-log_tcp_complete-core"
        );
        assert_eq!(base_label("tstat-log_rrds-"), "tstat-log_rrds-");
        assert_eq!(base_label("tstat-log_rrds-3a"), "tstat-log_rrds-3a");
        assert_eq!(base_label("-7"), "");
        assert_eq!(base_label(""), "");
    }
}
