//! Badge rendering throughput: `cargo run --release --example bench_badges [N]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::as_conversions
)]

use std::time::Instant;

use badgegate::badges::{BadgeKey, render_png, render_svg};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let key = BadgeKey::new(&[7u8; 32]);
    let payloads: Vec<String> = (0..n).map(|i| key.code_for(&format!("badge-{i}")).unwrap().payload()).collect();

    let start = Instant::now();
    let mut bytes = 0usize;
    for p in &payloads {
        bytes += render_png(p).unwrap().len();
    }
    let png = start.elapsed();

    let start = Instant::now();
    let mut svg_bytes = 0usize;
    for p in &payloads {
        svg_bytes += render_svg(p).unwrap().len();
    }
    let svg = start.elapsed();

    println!(
        "PNG: {n} badges in {:.2} s = {:.0} badges/s on one core (mean {} bytes)",
        png.as_secs_f64(),
        n as f64 / png.as_secs_f64(),
        bytes / n
    );
    println!(
        "SVG: {n} badges in {:.2} s = {:.0} badges/s on one core (mean {} bytes)",
        svg.as_secs_f64(),
        n as f64 / svg.as_secs_f64(),
        svg_bytes / n
    );
}
