// Builds the tiny C shim that gives us the platform's `long double`, which Redis uses for
// INCRBYFLOAT and HINCRBYFLOAT. Rust has no 80-bit float, and the results (and their
// 17-digit text) differ from f64 ones, so we call libc's strtold/snprintf instead.
fn main() {
    println!("cargo:rerun-if-changed=src/long_double.c");
    cc::Build::new()
        .file("src/long_double.c")
        .warnings(true)
        .compile("lodestone_long_double");
}
