//! Role-based access control as the RI configures and applies it (mplane.md §7.3): `[Roles]`
//! maps an identity to comma-separated roles, `[Authorizations]` a capability label key to the
//! roles allowed to see and use it.
//!
//! The RI's rules are kept, because operators' files are written for them:
//! - a key authorises a capability when it occurs **anywhere** in the capability's label
//!   (`tstat-log_rrds` covers `tstat-log_rrds-probe7`), and when several keys occur, the
//!   **last one in file order** decides;
//! - a label no key covers is visible to nobody; an identity without roles sees nothing.

use std::collections::BTreeSet;
use std::path::Path;

/// `[Roles]` and `[Authorizations]` of an INI file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rbac {
    roles: Vec<(String, BTreeSet<String>)>,
    authorizations: Vec<(String, BTreeSet<String>)>,
}

/// A line of the file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct RbacError {
    /// The file (or `<text>`).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

fn role_set(v: &str) -> BTreeSet<String> {
    v.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

impl Rbac {
    /// Reads the two sections of an INI file; other sections are ignored (an RI component's
    /// configuration file works as it is).
    pub fn from_ini(text: &str, file: &str) -> Result<Rbac, RbacError> {
        let mut rbac = Rbac::default();
        let mut section = String::new();
        for (n, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if let Some(s) = l.strip_prefix('[') {
                let name = s.strip_suffix(']').ok_or_else(|| RbacError {
                    file: file.to_string(),
                    line: n + 1,
                    what: format!("'{l}' is not a section header"),
                })?;
                section = name.trim().to_string();
                continue;
            }
            let target = match section.as_str() {
                "Roles" => &mut rbac.roles,
                "Authorizations" => &mut rbac.authorizations,
                _ => continue,
            };
            // configparser accepts `key = value` and `key: value`; inline comments after ';'
            // are not stripped by it either, so keep the value whole.
            let Some((k, v)) = l.split_once('=').or_else(|| l.split_once(':')) else {
                return Err(RbacError {
                    file: file.to_string(),
                    line: n + 1,
                    what: format!("'{l}' is not 'key = value'"),
                });
            };
            let key = k.trim().to_string();
            if key.is_empty() {
                return Err(RbacError {
                    file: file.to_string(),
                    line: n + 1,
                    what: "empty key".into(),
                });
            }
            // A repeated key replaces the earlier one in place, as configparser does (strict
            // mode would refuse it; the RI's files have none).
            let roles = role_set(v);
            match target.iter_mut().find(|(k2, _)| *k2 == key) {
                Some(slot) => slot.1 = roles,
                None => target.push((key, roles)),
            }
        }
        Ok(rbac)
    }

    /// Reads an INI file.
    pub fn load(path: &Path) -> anyhow::Result<Rbac> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        Ok(Rbac::from_ini(&text, &path.display().to_string())?)
    }

    /// The roles of an identity (empty when it is not listed).
    pub fn roles_of(&self, identity: &str) -> BTreeSet<String> {
        self.roles
            .iter()
            .find(|(id, _)| id == identity)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }

    /// Whether `identity` may see and use the capability labelled `label`.
    pub fn allows(&self, identity: &str, label: &str) -> bool {
        let roles = self.roles_of(identity);
        if roles.is_empty() {
            return false;
        }
        self.authorizations
            .iter()
            .rev()
            .find(|(key, _)| label.contains(key.as_str()))
            .is_some_and(|(_, allowed)| !allowed.is_disjoint(&roles))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "\
[TLS]
cert = x
[Roles]
org.mplane.SSB.Clients.Client-1 = guest
org.mplane.SSB.Clients.Client-2 = restricted
org.mplane.SSB.Supervisors.Supervisor-1 = admin,guest
[Authorizations]
tstat-log_rrds = guest,admin,restricted
tstat-log = guest
tstat-log_tcp_complete-core = admin
";

    #[test]
    fn ri_rules() {
        let r = Rbac::from_ini(CONF, "t").unwrap();
        let c1 = "org.mplane.SSB.Clients.Client-1";
        let c2 = "org.mplane.SSB.Clients.Client-2";
        let sup = "org.mplane.SSB.Supervisors.Supervisor-1";
        // Substring keys, last match wins: `tstat-log` comes after `tstat-log_rrds`, so
        // for tstat-log_rrds it is `tstat-log` (guest) that decides.
        assert!(r.allows(c1, "tstat-log_rrds"));
        assert!(!r.allows(c2, "tstat-log_rrds"));
        assert!(r.allows(c1, "tstat-log_http_complete"));
        // The later, longer key decides for the core capability: admin only.
        assert!(!r.allows(c1, "tstat-log_tcp_complete-core"));
        assert!(r.allows(sup, "tstat-log_tcp_complete-core"));
        // Unlisted label, unlisted identity.
        assert!(!r.allows(c1, "tstat-exporter_rrd"));
        assert!(!r.allows("org.mplane.Nobody", "tstat-log_http_complete"));
        assert_eq!(r.roles_of(sup).len(), 2);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Rbac::from_ini("[Roles]\nno separator here\n", "f.conf").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("f.conf", 2));
        assert!(Rbac::from_ini("[Roles\n", "f").is_err());
    }
}
