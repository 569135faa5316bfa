// `sqlx::migrate!` embeds migrations/ at compile time, but on stable Rust a macro cannot
// tell Cargo to watch a directory: without this, a new migration file would not rebuild
// the crate and the binary would silently run without it (as sqlx's docs advise:
// `sqlx migrate build-script`).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
