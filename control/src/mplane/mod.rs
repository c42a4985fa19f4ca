//! mPlane built in: the protocol core (messages, temporal scopes, registries, tokens,
//! matching), Tstat's capabilities, and the component that serves them over mutual TLS, to a
//! supervisor (component-initiated) or to clients directly (client-initiated).
//!
//! The contract is the protocol as the 2015 reference implementation (RI, PyPI `mplane-sdk`
//! 0.9.0) and the historic Tstat proxy speak it, documented in `shared/reference/mplane.md`
//! (section numbers below are that file's); where its protocol spec and the RI disagree, the RI
//! wins, because the RI supervisor is what a probe has to satisfy. The interop test bed
//! (`shared/mplane-interop/`, notably `reference_component.py`) runs the real supervisor.
//!
//! | module | owns | mplane.md |
//! |---|---|---|
//! | [`model`] | the message kinds, the envelope, their JSON form, parse errors and input limits | §2, §3, §8 |
//! | [`when`] | temporal scopes: syntax, normal form, evaluation, `follows`, job windows | §3.2, §4 |
//! | [`value`] | the seven primitive types, canonical values, constraints | §3.2, §5.3 |
//! | [`registry`] | registry documents, the embedded core, demo and Tstat registries | §5.1, §5.2, §5.4 |
//! | [`token`] | the RI's schema hash and capability and specification tokens (MD5) | §5.3, §6 |
//! | [`matching`] | finding the capability a specification came from, checking its values | §4, §5.3, §6, §8, §10, §12.3 |
//! | [`tstat`] | the ten Tstat capabilities and what each drives | §12 |
//! | [`net`] | mutual TLS (rustls), peer identities from certificate subjects, the HTTP/1.1 client and server | §7 |
//! | [`rbac`] | `[Roles]` and `[Authorizations]` with the RI's substring, last-match-wins rule | §7.3 |
//! | [`component`] | jobs, receipts, results, interrupts, redemptions; the supervisor workflow; the client-facing server | §8, §9 |
//! | [`client`] | the client of the client-initiated workflow (`tstat-dpdk ctl`): crawling capabilities, deriving and sending specifications, redeeming, interrupting | §3.1, §6, §9 |
//! | [`export`] | the exporters of `tstat-exporter_rrd`, `_streaming`, `_log` (the repository side is `crate::repository`) | §11 |
//! | [`probe`] | the Tstat services of the control plane: reference-counted runtime switches, real result rows, `[mplane]` settings | §12 |
//! | [`rows`] | result rows of the `log_*` capabilities from captured `log_tcp_complete` / `log_http_complete` lines | §3.2, §5.4, §12.2 |
//!
//! The wire rules in one place:
//! - A message is one JSON object whose kind is its one reserved key; the key's value is the
//!   verb, the envelope's content type, or the exception's token (§2).
//! - `version` is 1 (anything ≤ 1 accepted, more refused); `registry` names the registry of
//!   every element used, in every statement and notification (§3.1, §5.2).
//! - Values are JSON strings: naturals `"42"`, booleans `"True"`, addresses `"192.0.2.1"`,
//!   times `"YYYY-MM-DD HH:MM:SS.ffffff"` in UTC with no `T` and no zone; scalars are accepted
//!   on input (§3.2).
//! - `when` is `now`, `now + 30m`, `A ... B`, with an optional period ` / D`, or repeated
//!   (§4); a result's is absolute.
//! - Constraints are `*`, one value, `a,b`, or `lo ... hi`; a single-value constraint is
//!   filled in by clients (§5.3).
//! - Schemas (registry + parameter names + result names) match specifications to
//!   capabilities; specifications arrive relabelled `<label>-<N>` with a fresh token (§5.3,
//!   §6, §8).
//! - Receipts, results and exceptions carry the specification's token; redemptions and
//!   interrupts refer to it (§6, §8). A failure is `{"exception": token, "message": …}`.
//! - Bodies travel as `application/x-mplane+json` exactly ([`model::CONTENT_TYPE`], §7.1); the
//!   registration answer is not an mPlane message ([`model::parse_registration_reply`], §8).
//!
//! Everything that reads untrusted input ([`Message::from_json`], [`When`]'s `FromStr`,
//! [`Registry::from_json`]) returns typed errors and never panics; the `mplane_message` fuzz
//! target and the property tests of this module check it.

pub mod client;
pub mod component;
pub mod export;
pub mod matching;
pub mod model;
pub mod net;
pub mod probe;
pub mod rbac;
pub mod registry;
pub mod rows;
pub mod token;
pub mod tstat;
pub mod value;
pub mod when;

#[cfg(test)]
mod tests;

pub use matching::{match_specification, MatchError};
pub use model::{
    Capability, Envelope, Exception, Kind, Limits, Message, Notification, ParseError,
    ParseErrorKind, ResultMessage, Specification, Statement,
};
pub use registry::{Registries, Registry};
pub use token::{capability_token, schema_hash, specification_token, SchemaError};
pub use tstat::{TstatAction, TstatCapability};
pub use value::{Constraint, Prim};
pub use when::{When, WhenError};
