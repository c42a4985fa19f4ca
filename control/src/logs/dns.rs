//! `log_dns_complete` rows (one per question of a query, per answer of a response) from DNS
//! messages. Not produced yet: a message yields no row.

use crate::cryptopan::Anonymizer;
use engine::record::MessageRecord;

/// Appends the rows of one DNS message (none so far).
pub fn rows(_out: &mut Vec<u8>, _m: &MessageRecord, _anon: Option<&mut Anonymizer>) {}
