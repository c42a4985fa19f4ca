//! placeholder: filled by the wire parser work.
