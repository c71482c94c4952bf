//! `weft-bomb SHAPE OUT.wasm`: writes one bomb at its measured size, for
//! measuring the sandbox by hand (`/usr/bin/time -v weft run OUT.wasm boom`).
//! `weft-bomb list` names the shapes.

use std::process::ExitCode;
use weft_test_bombs::Shape;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shapes = Shape::measured();
    match args.as_slice() {
        [list] if list == "list" => {
            for (name, shape) in &shapes {
                println!("{name}: {shape:?}");
            }
            ExitCode::SUCCESS
        }
        [name, out] => {
            let Some((_, shape)) = shapes.iter().find(|(n, _)| n == name) else {
                eprintln!("no shape `{name}`; `weft-bomb list` names them");
                return ExitCode::FAILURE;
            };
            let bytes = shape.build();
            if let Err(error) = std::fs::write(out, &bytes) {
                eprintln!("could not write {out}: {error}");
                return ExitCode::FAILURE;
            }
            println!("{name}: {} bytes to {out}", bytes.len());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: weft-bomb SHAPE OUT.wasm | weft-bomb list");
            ExitCode::FAILURE
        }
    }
}
