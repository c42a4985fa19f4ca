//! Packet sources. Today: trace files (`analyze`). DPDK and libpcap live capture join later and
//! feed the same worker code.
//!
//! Owns: opening and decoding capture containers (classic pcap in µs/ns and both byte orders,
//! pcapng, transparently gunzipped), turning them into batches of packet descriptors over shared
//! buffers, and reporting faults (truncation, corrupt lengths, not a trace) with the byte offset
//! where they happened. Does not own: parsing packet contents (see `wire`) or spreading packets
//! over workers (see `worker`).

mod trace;

pub use trace::{Batch, Block, Error, PacketDesc, TraceFile};
