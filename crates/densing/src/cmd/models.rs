//! `densing models`: list and validate a registry.

use super::common::RegistryArgs;
use anyhow::Result;
use clap::Args;
use densing_core::registry::Benchmark;

#[derive(Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let reg = args.registry.load()?;
    if args.json {
        println!("{}", serde_json::to_string(&reg.models)?);
        return Ok(());
    }
    println!(
        "{:<28} {:<10} {:<5} {:>8} {:>8} {:>7} {:<10}  mmlu   bbh  math    he  mbpp  fig1",
        "model", "family", "kind", "params_B", "nonemb_B", "tok_T", "released"
    );
    for m in &reg.models {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
        let scores: Vec<String> = Benchmark::ALL
            .iter()
            .map(|b| {
                m.scores
                    .get(b)
                    .map_or("-".into(), |s| format!("{:.1}", s * 100.0))
            })
            .collect();
        println!(
            "{:<28} {:<10} {:<5} {:>8} {:>8} {:>7} {:<10} {:>5} {:>5} {:>5} {:>5} {:>5}  {}",
            m.name,
            m.family,
            format!("{:?}", m.weights).to_lowercase(),
            m.params_b,
            opt(m.nonemb_b),
            opt(m.tokens_t),
            m.release,
            scores[0],
            scores[1],
            scores[2],
            scores[3],
            scores[4],
            if m.in_densing_fig1 { "yes" } else { "" }
        );
    }
    println!("\n{} models in {} (valid)", reg.models.len(), reg.name);
    Ok(())
}
