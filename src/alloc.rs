//! The process's memory allocator: jemalloc, with one arena.
//!
//! Set here, in the library, so that the `adsctl` binary, the benchmarks and the tests all run on the allocator
//! users get. Why (figures in `benches/README.md`): a plan of 100k resources makes millions of small allocations,
//! and with glibc's malloc the allocator alone was about a third of its time; glibc also gives every YAML reader
//! thread an arena of its own, whose freed memory the planning thread never reuses (≈ 100 MB per thread at 100k).
//! One arena (`narenas:1`) keeps that memory in one place; the per-thread caches keep contention low.
//!
//! Not under `cfg(fuzzing)` (the fuzzer's sanitizer must see every allocation) nor on MSVC.

#[cfg(all(not(target_env = "msvc"), not(fuzzing)))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (read once, before the first allocation). `_RJEM_MALLOC_CONF` in the
/// environment still overrides them.
#[cfg(all(not(target_env = "msvc"), not(fuzzing)))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"narenas:1\0";
