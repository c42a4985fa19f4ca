//! Fuzz target for the parsers of mPlane's surroundings that read what a peer sends: the
//! repository's RRD import body (`Triple::parse_list`) and its Graphite paths, the streaming
//! repository's log paths, the capability index a client crawls (`capability_links`,
//! `token_of_link`), the access-control INI (`Rbac::from_ini`), endpoint URLs, and the log
//! lines the probe turns into result rows (`TcpHeader::row`, `HttpRows`).
//!
//! Asserts: no panic; what `parse_list` accepts prints (`to_json`) as a body it accepts
//! again with the same triples; a streaming store path never leaves the store; a result row
//! has exactly the capability's columns.
//!
//! Run with `cargo +nightly fuzz run mplane_wire` from `fuzz/`.
#![no_main]

use control::mplane::client::{capability_links, token_of_link};
use control::mplane::export::rrd::Triple;
use control::mplane::net::Endpoint;
use control::mplane::rbac::Rbac;
use control::mplane::rows::{HttpRows, TcpHeader};
use control::mplane::tstat::{TcpColumnGroup, TstatAction};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(triples) = Triple::parse_list(data) {
        let body = serde_json::Value::Array(triples.iter().map(Triple::to_json).collect())
            .to_string();
        let again = Triple::parse_list(body.as_bytes())
            .unwrap_or_else(|e| panic!("our own body does not parse: {e}\n{body}"));
        assert_eq!(again.len(), triples.len());
        for t in &triples {
            let _ = control::repository::metric_path(&t.metric);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let root = Path::new("/store");
    if let Some(p) = control::repository::streaming_store_path(
        root,
        std::net::IpAddr::from([192, 0, 2, 1]),
        Path::new(text),
    ) {
        assert!(p.starts_with(root), "{p:?} is outside the store");
        assert!(
            !p.components().any(|c| matches!(c, std::path::Component::ParentDir)),
            "{p:?}"
        );
    }
    for link in capability_links(text) {
        let _ = token_of_link(&link);
    }
    let _ = Rbac::from_ini(text, "fuzz").map(|r| r.allows("a.b", "tstat-log_rrds"));
    let _ = Endpoint::parse(text).map(|e| e.url("/x"));
    // Log lines: the first line is the header, the rest rows.
    let mut lines = text.lines();
    if let Some(Ok(h)) = lines.next().map(TcpHeader::parse) {
        for l in lines.clone() {
            for g in [
                TcpColumnGroup::Core,
                TcpColumnGroup::EndToEnd,
                TcpColumnGroup::TcpOptions,
                TcpColumnGroup::P2pStats,
                TcpColumnGroup::Layer7,
            ] {
                if let Ok(row) = h.row(g, l) {
                    assert_eq!(row.len(), TstatAction::TcpLog(g).results().len());
                }
            }
        }
    }
    let mut http = HttpRows::new();
    for l in text.lines() {
        let _ = http.push(l);
    }
    for row in http.finish() {
        assert_eq!(row.len(), TstatAction::HttpLog.results().len());
    }
});
