//! `densing capability`: the capability scale (one IRT capability per model
//! over every benchmark of the registry), read through a reference family as
//! N̂ and ρ = N̂/N with 95% intervals, and each benchmark's slope, difficulty and
//! chance. The fit is `densing_analysis::capability`.

use super::common::{Basis, RegistryArgs, RenamedBasis};
use anyhow::Result;
use clap::{Args, ValueEnum};
use densing_analysis::capability::{capability, CapabilityReport};
use densing_core::capability::{CapabilityOptions, Protocols};
use densing_core::density::sig;

#[derive(Clone, Copy, ValueEnum)]
pub enum ProtocolsArg {
    /// Non-standard shots and third-party scores shift the benchmark's difficulty
    /// by a fitted offset (best held-out error on the bundled registry).
    Offset,
    /// Each protocol class of a benchmark is its own item.
    OwnItem,
    /// Every protocol of a benchmark is the same item.
    Pooled,
}

impl From<ProtocolsArg> for Protocols {
    fn from(p: ProtocolsArg) -> Self {
        match p {
            ProtocolsArg::Offset => Protocols::Offset,
            ProtocolsArg::OwnItem => Protocols::OwnItem,
            ProtocolsArg::Pooled => Protocols::Pooled,
        }
    }
}

/// Options of the capability fit shared by `capability` and `run`.
#[derive(Args, Clone)]
pub struct CapabilityFitArgs {
    /// How scores under non-standard protocols enter the fit.
    #[arg(long, value_enum, default_value = "offset")]
    pub protocols: ProtocolsArg,
}

#[derive(Args)]
pub struct CapabilityArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub fit: CapabilityFitArgs,
    /// Reference family whose base sizes anchor θ = α + β·ln N (≥ 4 sizes).
    #[arg(long, default_value = "Qwen2.5")]
    pub reference: String,
    /// Models with fewer distinct benchmarks get no capability (≥ 2).
    #[arg(long, default_value_t = 2)]
    pub min_benchmarks: usize,
    /// Parameter basis densities are computed against (as `run --basis`).
    #[arg(long, value_enum, default_value = "nonemb")]
    pub basis: Basis,
    #[command(flatten)]
    pub renamed: RenamedBasis,
    /// Bootstrap replicates behind the intervals (families, score noise, reference sizes).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 20241205)]
    pub seed: u64,
    /// Print one JSON object (models, benchmarks, predictions) instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CapabilityArgs) -> Result<()> {
    args.renamed.check()?;
    let reg = args.registry.load()?;
    let opts = CapabilityOptions {
        protocols: args.fit.protocols.into(),
        min_benchmarks: args.min_benchmarks,
        replicates: args.bootstrap,
        seed: args.seed,
        basis: args.basis.into(),
        ..CapabilityOptions::default()
    };
    let a = capability(&reg, &args.reference, opts)?;
    if args.json {
        println!("{}", serde_json::to_string(&a.report)?);
    } else {
        print!("{}", render(&a.report));
    }
    Ok(())
}

fn ci(c: Option<[f64; 2]>) -> String {
    c.map_or("n/a".into(), |[lo, hi]| {
        format!("[{}, {}]", sig(lo), sig(hi))
    })
}

fn render(r: &CapabilityReport) -> String {
    let m = &r.reference;
    let mut out = format!(
        "capability scale: {} scores, {} benchmarks, protocols {}, {} bootstrap replicates\n\
         ruler {}: {} over {} sizes ({}–{} B, {} parameters; residual sd {:.3})\n\n",
        r.n_scores,
        r.benchmarks.len(),
        r.protocols,
        r.replicates,
        m.family,
        m.describe(),
        m.n_sizes,
        m.range.0,
        m.range.1,
        r.params_basis,
        m.residual_sd
    );
    if r.replicates_without_ruler > 0 {
        out.pop();
        out += &format!(
            "{} of {} replicates resampled the ruler's sizes into no increasing map: N̂ and ρ are left out of the intervals there\n\n",
            r.replicates_without_ruler, r.replicates
        );
    }
    out += &format!(
        "{:<30} {:>10} {:>8} {:>22} {:>22} {:>22} {:>3} benchmarks; flags\n",
        "model", "released", "N (B)", "θ [95% CI]", "N̂ (B) [95% CI]", "ρ [95% CI]", "k"
    );
    let mut rows: Vec<_> = r.models.iter().collect();
    rows.sort_by(|a, b| a.release_date.cmp(&b.release_date));
    for d in rows {
        out += &format!(
            "{:<30} {:>10} {:>8} {:>22} {:>22} {:>22} {:>3} {}{}\n",
            d.model,
            d.release_date,
            sig(d.params_b),
            format!(
                "{:.2} {}",
                d.theta,
                d.theta_ci95
                    .map_or("n/a".into(), |[a, b]| format!("[{a:.2}, {b:.2}]"))
            ),
            format!("{} {}", sig(d.n_hat_b), ci(d.n_hat_ci95)),
            format!("{} {}", sig(d.rho), ci(d.rho_ci95)),
            d.n_benchmarks,
            d.benchmarks.join(","),
            if d.flags.is_empty() {
                String::new()
            } else {
                format!("; {}", d.flags.join("; "))
            }
        );
    }
    out += &format!(
        "\n{:<24} {:>7} {:>10} {:>8} {:>6}  offsets (difficulty shift of other protocols)\n",
        "benchmark", "slope", "difficulty", "chance%", "scores"
    );
    for b in &r.benchmarks {
        let offs: Vec<String> = b
            .offsets
            .iter()
            .map(|o| format!("{:?} {:+.2} ({})", o.protocol, o.offset, o.n_scores))
            .collect();
        out += &format!(
            "{:<24} {:>7.3} {:>10.3} {:>8} {:>6}  {}\n",
            b.name,
            b.slope,
            b.difficulty,
            b.chance,
            b.n_scores,
            offs.join(", ")
        );
    }
    for e in &r.excluded {
        out += &format!("excluded {}: {}\n", e.model, e.reason);
    }
    out += &format!(
        "eligible reference families (≥ 4 base sizes): {}\n",
        r.eligible_references.join(", ")
    );
    out
}
