//! Writes the seed corpus of every fuzz target (`weft_fuzz::seeds::all`)
//! to `tests/fuzz/seeds/<target>/<name>`, replacing those files and
//! leaving any other file there (inputs that once crashed a target are
//! kept beside them as regression seeds).
//!
//! Run from anywhere: `cargo run --manifest-path tests/fuzz/Cargo.toml
//! --example write_seeds` (stable is enough; it does not need cargo-fuzz).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let seeds = weft_fuzz::seeds::all();
    for seed in &seeds {
        let dir = root.join(seed.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(seed.name), &seed.bytes)?;
    }
    println!("wrote {} seeds under {}", seeds.len(), root.display());
    Ok(())
}
