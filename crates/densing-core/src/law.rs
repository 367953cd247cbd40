//! The laws densing fits, each with its inverse on its domain.
//!
//! Outside a law's domain the inverse is *censored*, never NaN, infinite or
//! clamped: [`Inverse::AboveRange`] means the target is beyond anything the law
//! reaches at finite N (the true N̂ is larger than any bound), and
//! [`Inverse::BelowRange`] means the target is at or below the law's floor.

use serde::Serialize;

/// Normalising unit for parameters inside fits (N / 1e9).
pub const N_UNIT: f64 = 1e9;
/// Normalising unit for tokens inside fits (D / 1e12).
pub const D_UNIT: f64 = 1e12;

/// Result of inverting a monotone law.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Inverse {
    Value(f64),
    /// The target lies beyond the law's reachable range (N̂ = ∞).
    AboveRange,
    /// The target lies at or below the law's floor (N̂ → 0).
    BelowRange,
}

/// Which loss-law form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossForm {
    /// The Densing paper's eq. 2: `L = a·N^-α + b·D^-β` (no irreducible term).
    Paper,
    /// Chinchilla (Hoffmann et al.): `L = E + A·N^-α + B·D^-β`.
    Chinchilla,
}

/// A fitted loss law in raw units (N parameters, D tokens, L nats/token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossLaw {
    pub form: LossForm,
    /// Irreducible loss `E` (0 for the paper form).
    pub e: f64,
    pub a: f64,
    pub alpha: f64,
    pub b: f64,
    pub beta: f64,
}

impl LossLaw {
    /// `L(N, D) = E + a·N^-α + b·D^-β`.
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a * n.powf(-self.alpha) + self.b * d.powf(-self.beta)
    }

    /// The N at which a model trained on `d` tokens reaches `loss`:
    /// `N̂ = ((L − E − b·D^-β)/a)^(-1/α)`, censored when `L ≤ E + b·D^-β`
    /// (no finite model reaches it: [`Inverse::AboveRange`]).
    pub fn invert_params(&self, loss: f64, d: f64) -> Inverse {
        let excess = loss - self.e - self.b * d.powf(-self.beta);
        if excess <= 0.0 {
            Inverse::AboveRange
        } else {
            Inverse::Value((excess / self.a).powf(-1.0 / self.alpha))
        }
    }
}

/// The score map of eq. 3: `S = c / (1 + e^{-γ(L − l)}) + d`.
///
/// Fitted with `γ > 0` and `c < 0`, so the score falls as the loss rises; the
/// asymptotes are `d` (L → −∞, best) and `c + d` (L → ∞, chance), both in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreMap {
    pub c: f64,
    pub gamma: f64,
    pub l: f64,
    pub d: f64,
}

impl ScoreMap {
    pub fn score(&self, loss: f64) -> f64 {
        self.c / (1.0 + (-self.gamma * (loss - self.l)).exp()) + self.d
    }

    /// `L̂ = l − ln(c/(S − d) − 1)/γ`, defined for S strictly between the
    /// asymptotes `c + d` and `d`.
    pub fn invert_loss(&self, score: f64) -> Inverse {
        let (lo, hi) = (self.c + self.d, self.d);
        if score >= hi {
            Inverse::AboveRange
        } else if score <= lo {
            Inverse::BelowRange
        } else {
            Inverse::Value(self.l - (self.c / (score - self.d) - 1.0).ln() / self.gamma)
        }
    }
}
