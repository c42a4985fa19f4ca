//! `log_http_complete` rows (TAB-separated, `#C#`/`#S#` layouts) from HTTP request and response
//! segments. Not produced yet: a segment yields no row.

use crate::cryptopan::Anonymizer;
use engine::record::MessageRecord;

/// Appends the rows of one HTTP segment (none so far).
pub fn rows(_out: &mut Vec<u8>, _m: &MessageRecord, _full_url: u8, _anon: Option<&mut Anonymizer>) {
}
