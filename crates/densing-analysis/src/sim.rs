//! The design `densing simulate` copies, on either density scale: the trend
//! models with their dates, families and calibration draws exactly as
//! `densing run` computes them on that scale (see
//! `densing_core::trend::simulate`).

use crate::capability::{as_model_densities, pooled_densities, Scale, TrendFilter};
use densing_core::calibration::{Calibration, Uncertainty};
use densing_core::capability::{Capability, CapabilityOptions};
use densing_core::density::{DensityOptions, ModelDensity};
use densing_core::registry::Registry;
use densing_core::study::{densities, sim_design, trend_points};
use densing_core::trend::simulate::SimDesign;
use densing_core::trend::TrendPoint;
use densing_core::{Error, Result};

/// A scale's trend models as synthetic registries copy them, and the real
/// trend points they come from.
pub struct ScaleDesign {
    pub design: SimDesign,
    pub points: Vec<TrendPoint>,
}

/// The design on `scale` against `reference` with `draws` calibration draws.
/// Five-benchmark: per-benchmark inversion through the reference's curves,
/// synthetic scores re-inverted through them (censored at their range). Capability: the IRT scale read through the
/// reference's ruler, the replicates pooling every eligible family's ruler as
/// `densing run --scale capability` does; never censored (N̂ beyond the
/// ruler's sizes is an extrapolation, as on the real data).
pub fn scale_design(
    reg: &Registry,
    scale: Scale,
    reference: &str,
    capability: CapabilityOptions,
    draws: Uncertainty,
) -> Result<ScaleDesign> {
    let opts = DensityOptions::default();
    let (dens, cal): (Vec<ModelDensity>, _) = match scale {
        Scale::FiveBenchmark => {
            let cal = Calibration::family(reg, reference, opts.basis, draws)?;
            (densities(reg, &cal, &opts), Some(cal))
        }
        Scale::Capability => {
            let cap_opts = CapabilityOptions {
                replicates: draws.replicates,
                seed: draws.seed,
                basis: opts.basis,
                ..capability
            };
            let fit = Capability::from_registry(reg, cap_opts)?;
            let (_, dens, _, _) = pooled_densities(reg, &fit, reference)?;
            let filter = TrendFilter {
                min_benchmarks: cap_opts.min_benchmarks,
                include_chat: opts.include_chat,
                fig1_only: false,
            };
            (as_model_densities(reg, &dens, &dens, filter), None)
        }
    };
    let design = sim_design(&dens, cal.as_ref()).ok_or_else(|| {
        Error::Fit(format!(
            "the {} scale has too few trend models with numeric densities to estimate its noise",
            scale.key()
        ))
    })?;
    Ok(ScaleDesign {
        design,
        points: trend_points(&dens, |_| true),
    })
}
