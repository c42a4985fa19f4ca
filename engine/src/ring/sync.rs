//! The atomics shim of the model test: loom's atomics, cell and `Arc` under `--cfg loom`, the
//! standard ones otherwise, with loom's `UnsafeCell` API (`with`, `with_mut`) in both cases.
//!
//! Only the heap-backed test region (`heap`) uses it. The file-backed region keeps the standard
//! atomics whatever the configuration: loom's cannot live in a shared mapping, and they do not
//! need to, because both regions implement the same `Region` operations with the same
//! orderings, and the protocol code the model checks is the code production runs.

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    sync::{atomic::AtomicU64, Arc},
};

#[cfg(not(loom))]
pub(crate) use std::sync::{atomic::AtomicU64, Arc};

/// `std::cell::UnsafeCell` with loom's closure-based API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
