//! Time the capability fit on the bundled registry: the point fit and a
//! bootstrap of `REPLICATES` (default 1,000) replicates, as one JSON line.
//! With `--dump FILE` it also writes the exact cells it fitted (model, family,
//! item, benchmark block, offset flag, chance, items, score), so
//! bench/capability/scipy_capability.py fits the very same data.
//!
//! cargo run --release -p densing-core --example bench_capability -- [--dump cells.csv]

use densing_core::capability::{Capability, CapabilityOptions, CellData};
use densing_core::registry::Registry;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let replicates: usize = std::env::var("REPLICATES")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    let reg = Registry::bundled()?;
    let opts = CapabilityOptions {
        replicates: 0,
        ..CapabilityOptions::default()
    };
    let data = CellData::from_registry(&reg, opts.protocols, opts.min_benchmarks)?;
    if let Some(i) = args.iter().position(|a| a == "--dump") {
        let path = args.get(i + 1).ok_or("--dump needs a file")?;
        let mut w = csv::Writer::from_path(path)?;
        w.write_record([
            "model",
            "family",
            "item",
            "bench",
            "has_offset",
            "chance",
            "items",
            "score",
        ])?;
        for c in &data.cells {
            let item = &data.items[c.item];
            let bench = &data.benches[item.bench];
            w.write_record([
                data.models[c.model].clone(),
                data.families[data.family_of[c.model]].clone(),
                c.item.to_string(),
                item.bench.to_string(),
                (item.has_offset as u8).to_string(),
                bench.chance.to_string(),
                bench.items.map_or(String::new(), |n| n.to_string()),
                c.y.to_string(),
            ])?;
        }
        w.flush()?;
    }
    let t0 = Instant::now();
    let point = Capability::fit(data.clone(), opts)?;
    let fit_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let full = Capability::fit(data, CapabilityOptions { replicates, ..opts })?;
    let total_s = t1.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "threads": rayon::current_num_threads(),
            "cells": full.data.cells.len(),
            "models": full.data.models.len(),
            "benchmarks": full.data.benches.len(),
            "fit_s": fit_s,
            "sweeps": point.solve.sweeps,
            "objective": point.solve.objective,
            "replicates": replicates,
            "unconverged": full.unconverged,
            "total_s": total_s,
            "bootstrap_s": total_s - fit_s,
        })
    );
    Ok(())
}
