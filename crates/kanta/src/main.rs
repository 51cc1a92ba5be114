//! The `kanta` command: a thin shell over the library in `lib.rs`.

/// mimalloc: imports make millions of small allocations on one thread and free them
/// on another, where it is several times faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kanta::main()
}
