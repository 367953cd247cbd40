//! Which calibration to build: a reference family from the registry, or the
//! paper's two-step route (loss law on a ladder + score map on anchors).

use densing_core::calibration::{Calibration, Uncertainty};
use densing_core::data::{AnchorPoint, LadderPoint};
use densing_core::law::LossForm;
use densing_core::registry::{Benchmark, ParamsBasis, Registry};
use densing_core::Result;

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
    /// Build the calibration this spec asks for, on the given parameter basis
    /// (a two-step calibration has its own N and ignores it).
    pub fn build(&self, reg: &Registry, basis: ParamsBasis) -> Result<Calibration> {
        match &self.reference {
            Reference::TwoStep {
                ladder,
                anchors,
                form,
                default_benchmark,
            } => Calibration::two_step(
                ladder,
                anchors,
                *form,
                self.d0,
                *default_benchmark,
                self.uncertainty,
            ),
            Reference::Family(family) => Calibration::family(reg, family, basis, self.uncertainty),
        }
    }

    pub fn is_two_step(&self) -> bool {
        matches!(self.reference, Reference::TwoStep { .. })
    }
}
