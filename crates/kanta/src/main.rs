//! The `kanta` command: a thin shell over the library in `lib.rs`.

fn main() -> std::process::ExitCode {
    kanta::main()
}
