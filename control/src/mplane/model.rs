//! The mPlane message model and its JSON form (mplane.md §2, §3).
//!
//! A message is a JSON object whose kind is the one reserved key it carries (§2): the statements
//! `capability`, `specification` and `result`, the notifications `receipt`, `redemption`,
//! `interrupt`, `withdrawal` and `indirection`, `exception`, and the container `envelope`. The
//! kind key's value is the verb (for an envelope the content type, for an exception the token).
//!
//! Parsing ([`Message::from_json`]) is purely syntactic: it needs no registry, keeps every value
//! as the string the wire carries (§3.2), and never panics. Anything malformed is a
//! [`ParseError`] that says what is wrong and where (a JSON path such as
//! `$.contents[2].when`), with the token of the message it is in when that could be read, so
//! that an mPlane exception can answer it. Inputs are bounded ([`Limits`]): oversized bodies
//! and absurd nesting are refused before they are parsed.
//!
//! Wire rules kept here, each from mplane.md:
//! - `version` may be absent or any integer up to 1; a larger one is refused (§3.1). We always
//!   send 1.
//! - `registry` is required in every statement-shaped message, notifications included (§3.1).
//! - Parameter, metadata and result values may arrive as JSON strings or as scalars; scalars
//!   become the strings the RI would relay (`7` → `"7"`, `true` → `"True"`, `null` → `"*"`,
//!   floats as Python prints them), and we always send strings (§3.2).
//! - `when` is required in statements (§3.1); a redemption or interrupt without one is the
//!   token-only form (§2, §3.1), which needs `token`.
//! - `export` is kept apart from `link` (the RI parser stores it in `link` by mistake, §3.1;
//!   Tstat never uses either, §11).
//! - An exception is `{"exception": <token or null>, "message": …}` and nothing else (§3.3).
//! - An envelope holds `contents` (required) and optionally `token`, `label`, `when`; envelopes
//!   may nest (§2).
//! - `resultvalues` are row-major in the order of `results` (§3.1); a row of another length is
//!   refused (the RI crashes on a longer one), and `resultvalues` is left out when there are no
//!   columns or no rows (§3.1, acceptance checklist item 7).
//! - Unknown keys are ignored, as by the RI. Serialisation sorts keys, as the RI does (§3.1),
//!   and writes compact JSON (key order and white space carry no meaning).
//!
//! Stricter than the RI, on inputs it never sends: a message with two kind keys is refused
//! (the RI takes the first in its own order); non-string `label`, `token`, `link` and verbs are
//! refused (the RI stores any JSON value and fails later); duplicate result columns are
//! refused. `indirection` is parsed and written like a specification although the RI can do
//! neither (§2).

use super::value::{py_float_repr, Constraint, ConstraintError};
use super::when::{When, WhenError};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt;

/// The protocol version we speak and send (§3.1).
pub const MPLANE_VERSION: i64 = 1;
/// The HTTP content type of mPlane bodies (§7.1). The RI compares the header for exact
/// equality: send exactly this, with no `; charset=…`.
pub const CONTENT_TYPE: &str = "application/x-mplane+json";
/// Whether an HTTP `Content-Type` value names an mPlane body: the media type (before any `;`)
/// equals [`CONTENT_TYPE`], ignoring case and surrounding white space. For what we receive;
/// what we send must be [`CONTENT_TYPE`] exactly, as the RI compares for equality (§7.1).
pub fn is_mplane_content_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// The usual content type of an envelope (`"envelope": "message"`, §3.3).
pub const ENVELOPE_MESSAGE: &str = "message";
/// The verb of every Tstat capability (§12.1).
pub const VERB_MEASURE: &str = "measure";

/// How many envelopes may nest inside one another.
const MAX_ENVELOPE_NESTING: usize = 8;
/// Longest piece of the input an error repeats.
const CLIP: usize = 64;

/// Bounds on what [`Message::from_json_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of JSON arrays and objects. A Tstat envelope of results needs 5.
    pub max_depth: usize,
}

impl Limits {
    /// 4 MiB and 32 levels: far above any Tstat message (a capability registration envelope is
    /// about 10 KiB), far below what could hurt.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 4 << 20,
        max_depth: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The kind of a message: the name of its reserved key (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `capability`.
    Capability,
    /// `withdrawal`.
    Withdrawal,
    /// `specification`.
    Specification,
    /// `receipt`.
    Receipt,
    /// `result`.
    Result,
    /// `indirection`.
    Indirection,
    /// `redemption`.
    Redemption,
    /// `interrupt`.
    Interrupt,
    /// `exception`.
    Exception,
    /// `envelope`.
    Envelope,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::Capability,
        Kind::Withdrawal,
        Kind::Specification,
        Kind::Receipt,
        Kind::Result,
        Kind::Indirection,
        Kind::Redemption,
        Kind::Interrupt,
        Kind::Exception,
        Kind::Envelope,
    ];

    /// Its JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Capability => "capability",
            Kind::Withdrawal => "withdrawal",
            Kind::Specification => "specification",
            Kind::Receipt => "receipt",
            Kind::Result => "result",
            Kind::Indirection => "indirection",
            Kind::Redemption => "redemption",
            Kind::Interrupt => "interrupt",
            Kind::Exception => "exception",
            Kind::Envelope => "envelope",
        }
    }

    /// The kind with this JSON key.
    pub fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The sections of a statement-shaped message (§3.1): capabilities and withdrawals
/// (`P` = [`Constraint`]), specifications, receipts, results, full-form redemptions and
/// interrupts, indirections (`P` = `String`, the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<P> {
    /// The verb (the kind key's value): `measure` for Tstat.
    pub verb: String,
    /// The URI of the registry that defines every element name used (§5.2).
    pub registry: String,
    /// A human-readable name; specifications carry `<capability label>-<N>` (§6).
    pub label: Option<String>,
    /// The opaque identifier (§6).
    pub token: Option<String>,
    /// Where the next message goes (§8; a component never posts to it).
    pub link: Option<String>,
    /// The indirect export target (§11; unused by Tstat).
    pub export: Option<String>,
    /// The temporal scope (§4).
    pub when: When,
    /// Parameters: constraints in a capability, values otherwise.
    pub parameters: BTreeMap<String, P>,
    /// Metadata: element name to value.
    pub metadata: BTreeMap<String, String>,
    /// Result column names, in row order.
    pub results: Vec<String>,
}

/// A capability (or the body of a withdrawal): parameters are constraints.
pub type Capability = Statement<Constraint>;
/// A specification (or the body of a receipt, a result, a full-form redemption or
/// interrupt, an indirection): parameters are values.
pub type Specification = Statement<String>;

impl<P> Statement<P> {
    /// A statement with no label, token, link, parameters, metadata or results.
    pub fn new(verb: &str, registry: &str, when: When) -> Statement<P> {
        Statement {
            verb: verb.to_string(),
            registry: registry.to_string(),
            label: None,
            token: None,
            link: None,
            export: None,
            when,
            parameters: BTreeMap::new(),
            metadata: BTreeMap::new(),
            results: Vec::new(),
        }
    }
}

impl Specification {
    /// The sections a receipt or result for this specification carries: all of them, with the
    /// same token and label, but no `link` or `export` (the RI's `Receipt(specification=…)`,
    /// §3.3, §8).
    pub fn echo(&self) -> Specification {
        Specification {
            link: None,
            export: None,
            ..self.clone()
        }
    }
}

/// A result: a specification's sections plus the rows, with an absolute `when` (§3.1, §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultMessage {
    /// The sections, echoed from the specification, `when` the time actually covered.
    pub statement: Specification,
    /// The rows (`resultvalues`), each in the order of `statement.results`.
    pub values: Vec<Vec<String>>,
}

impl ResultMessage {
    /// A result for `spec` covering `when` (which should be absolute: `T1 ... T2`).
    pub fn new(spec: &Specification, when: When, values: Vec<Vec<String>>) -> ResultMessage {
        ResultMessage {
            statement: Specification {
                when,
                ..spec.echo()
            },
            values,
        }
    }
}

/// A redemption or interrupt: refers to a specification by token (§2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The full form, which the RI always sends: the specification's sections, with its token.
    Full(Box<Specification>),
    /// The token-only form (`{"interrupt": verb, "version", "registry", "token"}`, §3.1).
    TokenOnly {
        /// The verb.
        verb: String,
        /// The registry, if given. Always give it when sending: the RI fails as soon as it
        /// re-serialises a notification without one (§3.1).
        registry: Option<String>,
        /// The label, if given.
        label: Option<String>,
        /// The token of the specification.
        token: String,
    },
}

impl Notification {
    /// The full form for `spec` (with its token).
    pub fn for_specification(spec: &Specification) -> Notification {
        Notification::Full(Box::new(spec.echo()))
    }

    /// The token of the specification it refers to (always present in parsed ones).
    pub fn token(&self) -> Option<&str> {
        match self {
            Notification::Full(s) => s.token.as_deref(),
            Notification::TokenOnly { token, .. } => Some(token),
        }
    }

    /// Its label, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            Notification::Full(s) => s.label.as_deref(),
            Notification::TokenOnly { label, .. } => label.as_deref(),
        }
    }
}

/// A protocol-level error (§2, §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The token of the message it answers (`null` when unknown).
    pub token: Option<String>,
    /// A human-readable message.
    pub message: String,
}

impl Exception {
    /// An exception about the message with this token.
    pub fn new(token: Option<&str>, message: impl Into<String>) -> Exception {
        Exception {
            token: token.map(str::to_string),
            message: message.into(),
        }
    }
}

/// A container of messages (§2): registrations, poll replies, repeated results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The content type (the `envelope` key's value): [`ENVELOPE_MESSAGE`] or a kind name.
    pub content_type: String,
    /// A token (for the results of a repeated specification).
    pub token: Option<String>,
    /// A label.
    pub label: Option<String>,
    /// A temporal scope.
    pub when: Option<When>,
    /// The messages.
    pub contents: Vec<Message>,
}

impl Envelope {
    /// `{"envelope": "message", "version": 1, "contents": [...]}`.
    pub fn new(contents: Vec<Message>) -> Envelope {
        Envelope {
            content_type: ENVELOPE_MESSAGE.to_string(),
            token: None,
            label: None,
            when: None,
            contents,
        }
    }
}

/// Any mPlane message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// "I can do this" (component → client).
    Capability(Capability),
    /// "I no longer can" (a capability under the key `withdrawal`; ignored by the 0.9.0
    /// supervisor, §2).
    Withdrawal(Capability),
    /// "Please do this" (client → component).
    Specification(Specification),
    /// "Accepted, result later": the specification echoed, same token (§8).
    Receipt(Specification),
    /// The outcome of a specification.
    Result(ResultMessage),
    /// "Ask somebody else" (defined, never sent by the RI, §2).
    Indirection(Specification),
    /// "Is the result ready?".
    Redemption(Notification),
    /// "Stop this specification".
    Interrupt(Notification),
    /// A protocol-level error.
    Exception(Exception),
    /// A container.
    Envelope(Envelope),
}

/// Where and why a message could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {kind}")]
pub struct ParseError {
    /// A JSON path to the offending part: `$` is the whole body, e.g.
    /// `$.contents[1].parameters["System_ID"]`.
    pub at: String,
    /// The token of the innermost message the error is in, when it could be read: an
    /// exception in reply should carry it.
    pub token: Option<String>,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The body exceeds [`Limits::max_bytes`].
    #[error("body of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`], or envelopes nested too deep.
    #[error("nested deeper than {max} levels (at byte {offset})")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Byte offset where it was exceeded (0 when found after parsing).
        offset: usize,
    },
    /// Not JSON (serde_json's message, with line and column).
    #[error("not JSON: {0}")]
    Json(String),
    /// A value of the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    Type {
        /// What was expected.
        expected: &'static str,
        /// What was there.
        found: &'static str,
    },
    /// No kind key.
    #[error("not an mPlane message: no capability, specification, result, receipt, redemption, interrupt, withdrawal, indirection, exception or envelope key")]
    NoKind,
    /// Two kind keys.
    #[error("both `{0}` and `{1}`: a message has exactly one kind")]
    TwoKinds(Kind, Kind),
    /// A required key is absent.
    #[error("`{0}` is missing")]
    Missing(&'static str),
    /// `version` above 1.
    #[error("protocol version {0} is not supported (this implementation speaks version 1)")]
    Version(String),
    /// A bad temporal scope.
    #[error("bad temporal scope: {0}")]
    When(WhenError),
    /// A bad constraint.
    #[error("bad constraint: {0}")]
    Constraint(ConstraintError),
    /// A result column listed twice.
    #[error("result column {0:?} is listed twice")]
    DuplicateColumn(String),
    /// A row of `resultvalues` of the wrong length.
    #[error("row has {found} values for {expected} result columns")]
    RowLength {
        /// The number of columns.
        expected: usize,
        /// The number of values in the row.
        found: usize,
    },
}

fn clip(s: &str) -> String {
    if s.len() <= CLIP {
        return s.to_string();
    }
    let mut end = CLIP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn key_path(at: &str, key: &str) -> String {
    format!("{at}.{key}")
}

fn elem_path(at: &str, section: &str, name: &str) -> String {
    format!("{at}.{section}[{:?}]", clip(name))
}

fn index_path(at: &str, key: &str, i: usize) -> String {
    format!("{at}.{key}[{i}]")
}

/// Error context: the token of the message being parsed.
struct Cx<'t> {
    token: Option<&'t str>,
}

impl Cx<'_> {
    fn err(&self, at: String, kind: ParseErrorKind) -> ParseError {
        ParseError {
            at,
            token: self.token.map(str::to_string),
            kind,
        }
    }

    fn type_err(&self, at: String, expected: &'static str, v: &Json) -> ParseError {
        self.err(
            at,
            ParseErrorKind::Type {
                expected,
                found: json_type(v),
            },
        )
    }

    fn opt_str(
        &self,
        map: &Map<String, Json>,
        key: &'static str,
        at: &str,
    ) -> Result<Option<String>, ParseError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.type_err(key_path(at, key), "a string", v)),
        }
    }

    fn req_str(
        &self,
        map: &Map<String, Json>,
        key: &'static str,
        at: &str,
    ) -> Result<String, ParseError> {
        self.opt_str(map, key, at)?
            .ok_or_else(|| self.err(at.to_string(), ParseErrorKind::Missing(key)))
    }

    /// A parameter, metadata or result value: a string, or a scalar turned into the string
    /// the RI would relay (§3.2).
    fn scalar(&self, v: &Json, at: String) -> Result<String, ParseError> {
        match v {
            Json::String(s) => Ok(s.clone()),
            Json::Bool(true) => Ok("True".into()),
            Json::Bool(false) => Ok("False".into()),
            Json::Null => Ok("*".into()),
            Json::Number(n) => Ok(if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                py_float_repr(n.as_f64().unwrap_or(f64::NAN))
            }),
            _ => Err(self.type_err(at, "a string", v)),
        }
    }

    fn version(&self, map: &Map<String, Json>, at: &str) -> Result<(), ParseError> {
        let Some(v) = map.get("version") else {
            return Ok(());
        };
        let n: Option<i128> = match v {
            Json::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e30)
                        .map(|f| f.trunc() as i128)
                }),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match n {
            Some(n) if n <= i128::from(MPLANE_VERSION) => Ok(()),
            Some(_) => Err(self.err(
                key_path(at, "version"),
                ParseErrorKind::Version(clip(&v.to_string())),
            )),
            None => Err(self.type_err(key_path(at, "version"), "an integer", v)),
        }
    }

    fn when(&self, v: &Json, at: String) -> Result<When, ParseError> {
        match v {
            Json::String(s) => s.parse().map_err(|e| self.err(at, ParseErrorKind::When(e))),
            _ => Err(self.type_err(at, "a string", v)),
        }
    }

    fn object<'v>(
        &self,
        map: &'v Map<String, Json>,
        key: &'static str,
        at: &str,
    ) -> Result<Option<&'v Map<String, Json>>, ParseError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Object(o)) => Ok(Some(o)),
            Some(v) => Err(self.type_err(key_path(at, key), "an object", v)),
        }
    }

    fn array<'v>(
        &self,
        map: &'v Map<String, Json>,
        key: &'static str,
        at: &str,
    ) -> Result<Option<&'v Vec<Json>>, ParseError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Array(a)) => Ok(Some(a)),
            Some(v) => Err(self.type_err(key_path(at, key), "an array", v)),
        }
    }
}

fn parse_statement<P>(
    map: &Map<String, Json>,
    kind: Kind,
    at: &str,
    param: impl Fn(&Cx, &Json, String) -> Result<P, ParseError>,
) -> Result<Statement<P>, ParseError> {
    let token = Cx { token: None }.opt_str(map, "token", at)?;
    let cx = Cx {
        token: token.as_deref(),
    };
    let verb = cx.req_str(map, kind.key(), at)?;
    cx.version(map, at)?;
    let registry = cx.req_str(map, "registry", at)?;
    let label = cx.opt_str(map, "label", at)?;
    let link = cx.opt_str(map, "link", at)?;
    let export = cx.opt_str(map, "export", at)?;
    let when = match map.get("when") {
        None | Some(Json::Null) => {
            return Err(cx.err(at.to_string(), ParseErrorKind::Missing("when")))
        }
        Some(v) => cx.when(v, key_path(at, "when"))?,
    };
    let mut parameters = BTreeMap::new();
    if let Some(o) = cx.object(map, "parameters", at)? {
        for (k, v) in o {
            parameters.insert(k.clone(), param(&cx, v, elem_path(at, "parameters", k))?);
        }
    }
    let mut metadata = BTreeMap::new();
    if let Some(o) = cx.object(map, "metadata", at)? {
        for (k, v) in o {
            metadata.insert(k.clone(), cx.scalar(v, elem_path(at, "metadata", k))?);
        }
    }
    let mut results: Vec<String> = Vec::new();
    if let Some(a) = cx.array(map, "results", at)? {
        for (i, v) in a.iter().enumerate() {
            let Json::String(name) = v else {
                return Err(cx.type_err(index_path(at, "results", i), "a string", v));
            };
            if results.contains(name) {
                return Err(cx.err(
                    index_path(at, "results", i),
                    ParseErrorKind::DuplicateColumn(clip(name)),
                ));
            }
            results.push(name.clone());
        }
    }
    Ok(Statement {
        verb,
        registry,
        label,
        token,
        link,
        export,
        when,
        parameters,
        metadata,
        results,
    })
}

fn constraint_param(cx: &Cx, v: &Json, at: String) -> Result<Constraint, ParseError> {
    let text = cx.scalar(v, at.clone())?;
    Constraint::parse(&text).map_err(|e| cx.err(at, ParseErrorKind::Constraint(e)))
}

fn value_param(cx: &Cx, v: &Json, at: String) -> Result<String, ParseError> {
    cx.scalar(v, at)
}

fn parse_result(map: &Map<String, Json>, at: &str) -> Result<ResultMessage, ParseError> {
    let statement = parse_statement(map, Kind::Result, at, value_param)?;
    let cx = Cx {
        token: statement.token.as_deref(),
    };
    let columns = statement.results.len();
    let mut values = Vec::new();
    if let Some(rows) = cx.array(map, "resultvalues", at)? {
        for (i, row) in rows.iter().enumerate() {
            let row_at = index_path(at, "resultvalues", i);
            let Json::Array(cells) = row else {
                return Err(cx.type_err(row_at, "an array", row));
            };
            if cells.len() != columns {
                return Err(cx.err(
                    row_at,
                    ParseErrorKind::RowLength {
                        expected: columns,
                        found: cells.len(),
                    },
                ));
            }
            let mut out = Vec::with_capacity(cells.len());
            for (j, c) in cells.iter().enumerate() {
                out.push(cx.scalar(c, format!("{row_at}[{j}]"))?);
            }
            values.push(out);
        }
    }
    if columns == 0 {
        // Rows of no values carry nothing, and the RI writes no `resultvalues` for them.
        values.clear();
    }
    Ok(ResultMessage { statement, values })
}

fn parse_notification(
    map: &Map<String, Json>,
    kind: Kind,
    at: &str,
) -> Result<Notification, ParseError> {
    let token = Cx { token: None }.opt_str(map, "token", at)?;
    let cx = Cx {
        token: token.as_deref(),
    };
    let Some(token) = token.clone() else {
        return Err(cx.err(at.to_string(), ParseErrorKind::Missing("token")));
    };
    if map.contains_key("when") {
        return parse_statement(map, kind, at, value_param)
            .map(|s| Notification::Full(Box::new(s)));
    }
    let verb = cx.req_str(map, kind.key(), at)?;
    cx.version(map, at)?;
    Ok(Notification::TokenOnly {
        verb,
        registry: cx.opt_str(map, "registry", at)?,
        label: cx.opt_str(map, "label", at)?,
        token,
    })
}

fn parse_exception(map: &Map<String, Json>, at: &str) -> Result<Exception, ParseError> {
    let cx = Cx { token: None };
    let token = cx.opt_str(map, "exception", at)?;
    let cx = Cx {
        token: token.as_deref(),
    };
    let message = cx.req_str(map, "message", at)?;
    Ok(Exception { token, message })
}

fn parse_envelope(
    map: &Map<String, Json>,
    at: &str,
    nesting: usize,
) -> Result<Envelope, ParseError> {
    let token = Cx { token: None }.opt_str(map, "token", at)?;
    let cx = Cx {
        token: token.as_deref(),
    };
    if nesting >= MAX_ENVELOPE_NESTING {
        return Err(cx.err(
            at.to_string(),
            ParseErrorKind::TooDeep {
                max: MAX_ENVELOPE_NESTING,
                offset: 0,
            },
        ));
    }
    let content_type = cx.req_str(map, "envelope", at)?;
    cx.version(map, at)?;
    let label = cx.opt_str(map, "label", at)?;
    let when = match map.get("when") {
        None | Some(Json::Null) => None,
        Some(v) => Some(cx.when(v, key_path(at, "when"))?),
    };
    let items = cx
        .array(map, "contents", at)?
        .ok_or_else(|| cx.err(at.to_string(), ParseErrorKind::Missing("contents")))?;
    let mut contents = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        contents.push(parse_message(
            v,
            &index_path(at, "contents", i),
            nesting + 1,
        )?);
    }
    Ok(Envelope {
        content_type,
        token,
        label,
        when,
        contents,
    })
}

fn parse_message(v: &Json, at: &str, nesting: usize) -> Result<Message, ParseError> {
    let Json::Object(map) = v else {
        return Err(Cx { token: None }.type_err(at.to_string(), "an object", v));
    };
    let mut kinds = Kind::ALL.into_iter().filter(|k| map.contains_key(k.key()));
    let no_token = Cx { token: None };
    let kind = kinds
        .next()
        .ok_or_else(|| no_token.err(at.to_string(), ParseErrorKind::NoKind))?;
    if let Some(other) = kinds.next() {
        return Err(no_token.err(at.to_string(), ParseErrorKind::TwoKinds(kind, other)));
    }
    Ok(match kind {
        Kind::Capability => Message::Capability(parse_statement(map, kind, at, constraint_param)?),
        Kind::Withdrawal => Message::Withdrawal(parse_statement(map, kind, at, constraint_param)?),
        Kind::Specification => Message::Specification(parse_statement(map, kind, at, value_param)?),
        Kind::Receipt => Message::Receipt(parse_statement(map, kind, at, value_param)?),
        Kind::Indirection => Message::Indirection(parse_statement(map, kind, at, value_param)?),
        Kind::Result => Message::Result(parse_result(map, at)?),
        Kind::Redemption => Message::Redemption(parse_notification(map, kind, at)?),
        Kind::Interrupt => Message::Interrupt(parse_notification(map, kind, at)?),
        Kind::Exception => Message::Exception(parse_exception(map, at)?),
        Kind::Envelope => Message::Envelope(parse_envelope(map, at, nesting)?),
    })
}

/// Refuses nesting deeper than `max` before serde_json sees the body (which has its own
/// recursion limit of 128, far more than any message needs).
fn check_depth(bytes: &[u8], max: usize) -> Result<(), usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(i);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn parse_body(bytes: &[u8], limits: &Limits) -> Result<Json, ParseError> {
    let root = |kind| ParseError {
        at: "$".to_string(),
        token: None,
        kind,
    };
    if bytes.len() > limits.max_bytes {
        return Err(root(ParseErrorKind::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        }));
    }
    check_depth(bytes, limits.max_depth).map_err(|offset| {
        root(ParseErrorKind::TooDeep {
            max: limits.max_depth,
            offset,
        })
    })?;
    serde_json::from_slice(bytes).map_err(|e| root(ParseErrorKind::Json(e.to_string())))
}

impl<P: fmt::Display> Statement<P> {
    fn to_map(&self, key: &str) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert(key.to_string(), Json::from(self.verb.as_str()));
        m.insert("version".into(), Json::from(MPLANE_VERSION));
        m.insert("registry".into(), Json::from(self.registry.as_str()));
        for (k, v) in [
            ("label", &self.label),
            ("link", &self.link),
            ("export", &self.export),
            ("token", &self.token),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Json::from(v.as_str()));
            }
        }
        m.insert("when".into(), Json::from(self.when.to_string()));
        if !self.parameters.is_empty() {
            let p = self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Json::from(v.to_string())))
                .collect();
            m.insert("parameters".into(), Json::Object(p));
        }
        if !self.metadata.is_empty() {
            let p = self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Json::from(v.as_str())))
                .collect();
            m.insert("metadata".into(), Json::Object(p));
        }
        if !self.results.is_empty() {
            let r = self
                .results
                .iter()
                .map(|s| Json::from(s.as_str()))
                .collect();
            m.insert("results".into(), Json::Array(r));
        }
        m
    }
}

impl Message {
    /// Parses one message (often an envelope) from an HTTP body, within [`Limits::DEFAULT`].
    pub fn from_json(bytes: &[u8]) -> Result<Message, ParseError> {
        Message::from_json_with(bytes, &Limits::DEFAULT)
    }

    /// Parses one message within the given limits.
    pub fn from_json_with(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        let v = parse_body(bytes, limits)?;
        parse_message(&v, "$", 0)
    }

    /// Parses one message from a JSON value (envelope nesting is still bounded).
    pub fn from_value(v: &Json) -> Result<Message, ParseError> {
        parse_message(v, "$", 0)
    }

    /// The message as a JSON value, as the RI would accept it (§3.1, §3.2).
    pub fn to_value(&self) -> Json {
        let m = match self {
            Message::Capability(s) => s.to_map("capability"),
            Message::Withdrawal(s) => s.to_map("withdrawal"),
            Message::Specification(s) => s.to_map("specification"),
            Message::Receipt(s) => s.to_map("receipt"),
            Message::Indirection(s) => s.to_map("indirection"),
            Message::Result(r) => {
                let mut m = r.statement.to_map("result");
                if !r.statement.results.is_empty() && !r.values.is_empty() {
                    let rows = r
                        .values
                        .iter()
                        .map(|row| {
                            Json::Array(row.iter().map(|v| Json::from(v.as_str())).collect())
                        })
                        .collect();
                    m.insert("resultvalues".into(), Json::Array(rows));
                }
                m
            }
            Message::Redemption(n) => notification_map(n, Kind::Redemption),
            Message::Interrupt(n) => notification_map(n, Kind::Interrupt),
            Message::Exception(e) => {
                let mut m = Map::new();
                m.insert(
                    "exception".into(),
                    e.token.as_deref().map_or(Json::Null, Json::from),
                );
                m.insert("message".into(), Json::from(e.message.as_str()));
                m
            }
            Message::Envelope(e) => {
                let mut m = Map::new();
                m.insert("envelope".into(), Json::from(e.content_type.as_str()));
                m.insert("version".into(), Json::from(MPLANE_VERSION));
                m.insert(
                    "contents".into(),
                    Json::Array(e.contents.iter().map(Message::to_value).collect()),
                );
                if let Some(t) = &e.token {
                    m.insert("token".into(), Json::from(t.as_str()));
                }
                if let Some(l) = &e.label {
                    m.insert("label".into(), Json::from(l.as_str()));
                }
                if let Some(w) = &e.when {
                    m.insert("when".into(), Json::from(w.to_string()));
                }
                m
            }
        };
        Json::Object(m)
    }

    /// The message as compact JSON (keys sorted), ready for an HTTP body with
    /// [`CONTENT_TYPE`].
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The message as indented JSON, for logs and fixtures.
    pub fn to_json_pretty(&self) -> String {
        format!("{:#}", self.to_value())
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Capability(_) => Kind::Capability,
            Message::Withdrawal(_) => Kind::Withdrawal,
            Message::Specification(_) => Kind::Specification,
            Message::Receipt(_) => Kind::Receipt,
            Message::Result(_) => Kind::Result,
            Message::Indirection(_) => Kind::Indirection,
            Message::Redemption(_) => Kind::Redemption,
            Message::Interrupt(_) => Kind::Interrupt,
            Message::Exception(_) => Kind::Exception,
            Message::Envelope(_) => Kind::Envelope,
        }
    }

    /// Its token: the statement's, the referred specification's for a notification, the
    /// answered message's for an exception, the envelope's own.
    pub fn token(&self) -> Option<&str> {
        match self {
            Message::Capability(s) | Message::Withdrawal(s) => s.token.as_deref(),
            Message::Specification(s) | Message::Receipt(s) | Message::Indirection(s) => {
                s.token.as_deref()
            }
            Message::Result(r) => r.statement.token.as_deref(),
            Message::Redemption(n) | Message::Interrupt(n) => n.token(),
            Message::Exception(e) => e.token.as_deref(),
            Message::Envelope(e) => e.token.as_deref(),
        }
    }

    /// Its label, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            Message::Capability(s) | Message::Withdrawal(s) => s.label.as_deref(),
            Message::Specification(s) | Message::Receipt(s) | Message::Indirection(s) => {
                s.label.as_deref()
            }
            Message::Result(r) => r.statement.label.as_deref(),
            Message::Redemption(n) | Message::Interrupt(n) => n.label(),
            Message::Exception(_) => None,
            Message::Envelope(e) => e.label.as_deref(),
        }
    }

    /// The messages in order, envelopes (at any depth) replaced by their contents: what a poll
    /// reply asks a component to handle (§8).
    pub fn flatten(self) -> Vec<Message> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(m) = stack.pop() {
            match m {
                Message::Envelope(e) => stack.extend(e.contents.into_iter().rev()),
                other => out.push(other),
            }
        }
        out
    }
}

fn notification_map(n: &Notification, kind: Kind) -> Map<String, Json> {
    match n {
        Notification::Full(s) => s.to_map(kind.key()),
        Notification::TokenOnly {
            verb,
            registry,
            label,
            token,
        } => {
            let mut m = Map::new();
            m.insert(kind.key().into(), Json::from(verb.as_str()));
            m.insert("version".into(), Json::from(MPLANE_VERSION));
            if let Some(r) = registry {
                m.insert("registry".into(), Json::from(r.as_str()));
            }
            if let Some(l) = label {
                m.insert("label".into(), Json::from(l.as_str()));
            }
            m.insert("token".into(), Json::from(token.as_str()));
            m
        }
    }
}

/// The supervisor's answer to one capability of a registration (§8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// `{"registered": "ok"}`.
    Registered,
    /// `{"registered": "no", "reason": …}` (the RI says "Not a capability").
    Refused {
        /// The reason given (or the `registered` value when there is none).
        reason: String,
    },
}

/// Parses the answer to `POST /register/capability`, which is not an mPlane message (§8):
/// `{"<label>": {"registered": "ok"}, …}`.
pub fn parse_registration_reply(
    bytes: &[u8],
) -> Result<BTreeMap<String, Registration>, ParseError> {
    let v = parse_body(bytes, &Limits::DEFAULT)?;
    let cx = Cx { token: None };
    let Json::Object(map) = &v else {
        return Err(cx.type_err("$".into(), "an object", &v));
    };
    let mut out = BTreeMap::new();
    for (label, entry) in map {
        let at = format!("$[{:?}]", clip(label));
        let Json::Object(e) = entry else {
            return Err(cx.type_err(at, "an object", entry));
        };
        let registered = cx.req_str(e, "registered", &at)?;
        let r = if registered == "ok" {
            Registration::Registered
        } else {
            Registration::Refused {
                reason: cx.opt_str(e, "reason", &at)?.unwrap_or(registered),
            }
        };
        out.insert(label.clone(), r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> ParseError {
        Message::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = err(
            r#"{"envelope":"message","contents":[{"specification":"measure",
            "registry":"r","token":"abc","when":"now + 5 minutes"}]}"#,
        );
        assert_eq!(e.at, "$.contents[0].when");
        assert_eq!(e.token.as_deref(), Some("abc"));
        assert!(matches!(
            e.kind,
            ParseErrorKind::When(WhenError::BadDuration { .. })
        ));
        let e = err(r#"{"specification":"measure","registry":"r","when":"now",
            "parameters":{"System_ID":[1]}}"#);
        assert_eq!(e.at, r#"$.parameters["System_ID"]"#);
        assert_eq!(
            e.kind,
            ParseErrorKind::Type {
                expected: "a string",
                found: "an array"
            }
        );
        assert_eq!(
            err("[]").kind,
            ParseErrorKind::Type {
                expected: "an object",
                found: "an array"
            }
        );
        assert_eq!(err("{}").kind, ParseErrorKind::NoKind);
        assert_eq!(
            err(r#"{"capability":"measure","result":"measure"}"#).kind,
            ParseErrorKind::TwoKinds(Kind::Capability, Kind::Result)
        );
        assert_eq!(
            err(r#"{"specification":"measure","when":"now"}"#).kind,
            ParseErrorKind::Missing("registry")
        );
        assert_eq!(
            err(r#"{"specification":"measure","registry":"r"}"#).kind,
            ParseErrorKind::Missing("when")
        );
        assert_eq!(
            err(r#"{"specification":"measure","version":2,"registry":"r","when":"now"}"#).kind,
            ParseErrorKind::Version("2".into())
        );
        assert_eq!(
            err(r#"{"interrupt":"measure","registry":"r"}"#).kind,
            ParseErrorKind::Missing("token")
        );
        assert_eq!(
            err(r#"{"exception":null}"#).kind,
            ParseErrorKind::Missing("message")
        );
        assert_eq!(
            err(r#"{"envelope":"message"}"#).kind,
            ParseErrorKind::Missing("contents")
        );
        let e = err(
            r#"{"result":"measure","registry":"r","when":"now","results":["a","b"],
            "resultvalues":[["1","2"],["3"]]}"#,
        );
        assert_eq!(e.at, "$.resultvalues[1]");
        assert_eq!(
            e.kind,
            ParseErrorKind::RowLength {
                expected: 2,
                found: 1
            }
        );
        assert!(matches!(
            err("{\"capability\":").kind,
            ParseErrorKind::Json(_)
        ));
        assert!(matches!(err("\u{0}").kind, ParseErrorKind::Json(_)));
        let msg = err(r#"{"specification":"measure","registry":"r","when":"now +"}"#).to_string();
        assert!(msg.starts_with("$.when: bad temporal scope"), "{msg}");
    }

    #[test]
    fn limits_refuse_before_parsing() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(matches!(
            err(&deep).kind,
            ParseErrorKind::TooDeep {
                max: 32,
                offset: 32
            }
        ));
        // Brackets inside strings do not count.
        let quoted = format!(r#"{{"exception":"{}","message":"x"}}"#, "[".repeat(100));
        assert!(Message::from_json(quoted.as_bytes()).is_ok());
        let big = vec![b' '; (4 << 20) + 1];
        assert!(matches!(
            err(std::str::from_utf8(&big).unwrap()).kind,
            ParseErrorKind::TooLarge { .. }
        ));
        let mut nested = String::from(r#"{"exception":"t","message":"m"}"#);
        for _ in 0..9 {
            nested = format!(r#"{{"envelope":"message","contents":[{nested}]}}"#);
        }
        assert!(matches!(
            err(&nested).kind,
            ParseErrorKind::TooDeep { max: 8, .. }
        ));
    }

    #[test]
    fn scalars_become_the_strings_the_ri_relays() {
        let m = Message::from_json(
            br#"{"specification":"measure","registry":"r","when":"now",
                "parameters":{"a":7,"b":true,"c":null,"d":0.5,"e":1e16,"f":"x"}}"#,
        )
        .unwrap();
        let Message::Specification(s) = m else {
            panic!()
        };
        let got: Vec<_> = s.parameters.values().map(String::as_str).collect();
        assert_eq!(got, ["7", "True", "*", "0.5", "1e+16", "x"]);
    }

    #[test]
    fn content_types() {
        assert!(is_mplane_content_type("application/x-mplane+json"));
        assert!(is_mplane_content_type(
            "Application/X-MPlane+JSON; charset=utf-8"
        ));
        assert!(!is_mplane_content_type("application/json"));
        assert!(!is_mplane_content_type(""));
    }

    #[test]
    fn registration_replies() {
        let r = parse_registration_reply(
            br#"{"tstat-log_rrds":{"registered":"ok"},"x":{"registered":"no", "reason":"Not a capability"}}"#,
        )
        .unwrap();
        assert_eq!(r["tstat-log_rrds"], Registration::Registered);
        assert_eq!(
            r["x"],
            Registration::Refused {
                reason: "Not a capability".into()
            }
        );
        assert!(parse_registration_reply(b"{}").unwrap().is_empty());
        assert!(parse_registration_reply(br#"{"a":"ok"}"#).is_err());
    }

    #[test]
    fn flatten_nested_envelopes() {
        let e = Message::from_json(
            br#"{"envelope":"message","contents":[{"exception":"1","message":""},
                {"envelope":"message","contents":[{"exception":"2","message":""}]},
                {"exception":"3","message":""}]}"#,
        )
        .unwrap();
        let tokens: Vec<_> = e
            .flatten()
            .iter()
            .map(|m| m.token().unwrap().to_string())
            .collect();
        assert_eq!(tokens, ["1", "2", "3"]);
    }
}
