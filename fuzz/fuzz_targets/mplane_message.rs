//! Fuzz target for the mPlane message parser (`control::mplane`): a component parses whatever
//! body the supervisor's poll reply or a peer's POST carries, so `Message::from_json` must turn
//! any byte string into a message or a typed error, never a panic, within its limits; and what
//! it accepts must be what it writes.
//!
//! Input: an HTTP body, given as it is to `Message::from_json` (and to
//! `parse_registration_reply`); when it is short UTF-8, also to the `when` parser.
//!
//! Asserts: no panic; when a message parses, its JSON (`to_json`) parses back to an equal
//! message; every statement inside it (envelopes flattened) goes through what the component
//! does with it without panicking: matching against Tstat's ten capabilities, constraint
//! checks, tokens, schema hashes, validation, the job window of its scope; when a scope
//! parses, its printed form parses back to an equal scope.
//!
//! Run with `cargo +nightly fuzz run mplane_message` from `fuzz/`; seeds are the messages of
//! `tests/mplane/` (one JSON message per file).
#![no_main]

use control::mplane::matching::{check_parameters, validate_capability};
use control::mplane::model::parse_registration_reply;
use control::mplane::tstat::{capabilities, TstatIdentity};
use control::mplane::when::{parse_time, NaiveDateTime};
use control::mplane::{
    capability_token, match_specification, schema_hash, specification_token, Message, Notification,
    Registries, TstatCapability, When,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixed {
    registries: Registries,
    caps: Vec<TstatCapability>,
    tzero: NaiveDateTime,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| Fixed {
        registries: Registries::builtin(),
        caps: capabilities(&TstatIdentity::default()).expect("the default identity is valid"),
        tzero: parse_time("2026-11-22 04:09:59.522453").expect("a valid time"),
    })
}

fn exercise(m: Message, f: &Fixed) {
    let spec = match m {
        Message::Capability(c) | Message::Withdrawal(c) => {
            let _ = capability_token(&c, &f.registries);
            let _ = validate_capability(&c, &f.registries);
            let _ = schema_hash(&c);
            for cap in &f.caps {
                let _ = c.when.follows(&cap.capability.when, f.tzero);
            }
            return;
        }
        Message::Specification(s) | Message::Receipt(s) | Message::Indirection(s) => s,
        Message::Result(r) => r.statement,
        Message::Redemption(Notification::Full(s)) | Message::Interrupt(Notification::Full(s)) => {
            *s
        }
        _ => return,
    };
    let _ = match_specification(&f.caps, &spec, &f.registries, f.tzero);
    for cap in &f.caps {
        let _ = check_parameters(&cap.capability, &spec, &f.registries);
    }
    let _ = specification_token(&spec, &f.registries, f.tzero);
    let _ = spec.when.job_window(f.tzero);
    let _ = spec.when.datetimes(f.tzero);
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    if let Ok(m) = Message::from_json(data) {
        let json = m.to_json();
        let again = Message::from_json(json.as_bytes())
            .unwrap_or_else(|e| panic!("our own output does not parse: {e}\n{json}"));
        assert_eq!(again, m, "parse . to_json is not the identity");
        let _ = (m.kind(), m.token(), m.label(), m.to_json_pretty());
        for inner in m.flatten() {
            exercise(inner, f);
        }
    }
    let _ = parse_registration_reply(data);
    if data.len() <= 256 {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(w) = text.parse::<When>() {
                let printed = w.to_string();
                let back: When = printed
                    .parse()
                    .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
                assert_eq!(back, w, "{text:?}");
                let _ = (w.job_window(f.tzero), w.is_definite());
            }
            let _ = parse_time(text);
        }
    }
});
