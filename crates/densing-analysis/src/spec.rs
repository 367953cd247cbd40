//! Which calibration to build: a reference family from the registry, or the
//! paper's two-step route (loss law on a ladder + score map on anchors).

use densing_core::calibration::{Calibration, Uncertainty};
use densing_core::data::{AnchorPoint, LadderPoint};
use densing_core::density::DensityOptions;
use densing_core::law::LossForm;
use densing_core::registry::{Benchmark, ParamsBasis, Registry};
use densing_core::{Error, Result};

/// Where N̂ comes from.
#[derive(Debug, Clone)]
pub enum Reference {
    /// A family of the registry, fitted as a sigmoid of a power law in N.
    Family(String),
    /// A ladder of training runs and anchor models (arXiv 2412.04315, eqs. 2–4).
    TwoStep {
        ladder: Vec<LadderPoint>,
        anchors: Vec<AnchorPoint>,
        form: LossForm,
        /// Benchmark of anchors that have no `task` column.
        default_benchmark: Option<Benchmark>,
    },
}

/// A calibration to build: the reference, the training tokens D0 at which a
/// two-step calibration reads off N̂, and the bootstrap carried through it.
#[derive(Debug, Clone)]
pub struct CalibrationSpec {
    pub reference: Reference,
    pub d0: f64,
    pub uncertainty: Uncertainty,
}

impl CalibrationSpec {
    /// Build the calibration this spec asks for, on the parameter basis and for
    /// the benchmarks of `opts` (a two-step calibration has its own N and
    /// calibrates the benchmarks its anchors name).
    pub fn build(&self, reg: &Registry, opts: &DensityOptions) -> Result<Calibration> {
        match &self.reference {
            Reference::TwoStep {
                ladder,
                anchors,
                form,
                default_benchmark,
            } => {
                crate::fit::check_ladder("--ladder", ladder, *form)?;
                crate::fit::check_anchors("--anchors", anchors)?;
                Calibration::two_step(
                    ladder,
                    anchors,
                    *form,
                    self.d0,
                    *default_benchmark,
                    self.uncertainty,
                )
            }
            Reference::Family(family) => {
                Calibration::family_on(reg, family, opts.basis, &opts.benchmarks, self.uncertainty)
            }
        }
    }

    pub fn is_two_step(&self) -> bool {
        matches!(self.reference, Reference::TwoStep { .. })
    }
}

/// A parameter basis by name: `total`, `nonemb` or `active`.
pub fn basis_from_name(name: &str) -> Result<ParamsBasis> {
    match name {
        "total" => Ok(ParamsBasis::Total),
        "nonemb" => Ok(ParamsBasis::Nonemb),
        "active" => Ok(ParamsBasis::Active),
        other => Err(Error::Invalid(format!(
            "basis `{other}` is not total, nonemb or active"
        ))),
    }
}

/// A loss-law form by name: `paper` (a·N^-α + b·D^-β) or `chinchilla` (E + …).
pub fn form_from_name(name: &str) -> Result<LossForm> {
    match name {
        "paper" => Ok(LossForm::Paper),
        "chinchilla" => Ok(LossForm::Chinchilla),
        other => Err(Error::Invalid(format!(
            "form `{other}` is not paper or chinchilla"
        ))),
    }
}

/// Which models and benchmarks enter: benchmarks by name (`mmlu`, `bbh`, …).
pub fn density_options(
    basis: ParamsBasis,
    benchmarks: &[impl AsRef<str>],
    min_benchmarks: usize,
    include_chat: bool,
) -> Result<DensityOptions> {
    let benchmarks = benchmarks
        .iter()
        .map(|b| Benchmark::parse(b.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    Ok(DensityOptions {
        basis,
        benchmarks,
        min_benchmarks,
        include_chat,
        fig1_only: false,
    })
}
