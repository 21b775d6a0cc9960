//! The one place where the operating system is chosen.
//!
//! Every syscall the workspace makes goes through the functions re-exported here; the rest
//! of `multiproc-core` wraps them in safe, documented types, and no other crate calls the OS
//! directly. A port to another OS adds one file beside `linux.rs` with the same functions and
//! one `cfg` line below.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "multiproc-core supports Linux only for now: add a platform file beside platform/linux.rs"
);
