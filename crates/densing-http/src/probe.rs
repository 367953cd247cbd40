//! The known-answer check a server must pass before any of its numbers are used.
//!
//! The probe text counts from 1 to 40 (`1, 2, 3, …`). Every causal LM, however
//! small, continues a count, so when the echoed log-prob at position `i` really is
//! `log p(token_i | tokens before i)` the last third of the count costs almost
//! nothing (SmolLM2-135M: -0.02 nat/token), and the top-1 alternative at position
//! `i` is token `i` itself (146 of 148 positions). A server that scores each token
//! with the distribution that *follows* it (off by one, as llama-cpp-python 0.3
//! does for echoed prompts) instead reports the odds of repeating the token just
//! seen (-13.9 nat/token on the same model), and its top-1 alternative at `i` is
//! token `i + 1` (146 of 148). Both signatures are checked; neither needs reference
//! numbers, so the probe works for any model behind any endpoint.
//!
//! Besides alignment, the probe checks that the echo is complete (one log-prob
//! per prompt token, the first may be `null`), that `top_logprobs` are present
//! (greedy matching needs them) and that each token's log-prob agrees with its
//! own entry in `top_logprobs` and does not exceed the best one.

use crate::protocol::{ProtocolError, TokenEntry};

/// The probe passage: counting from 1 to 40.
pub const PROBE_TEXT: &str =
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, \
21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40";

/// Mean log-prob per token that the last third of the count must beat.
pub const REPEAT_THRESHOLD: f64 = -1.0;

/// Tolerance for a token's log-prob against its own `top_logprobs` entry (servers
/// may round the two independently).
const TOP_TOLERANCE: f64 = 1e-3;

/// What a passed probe measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// Prompt tokens the server echoed.
    pub tokens: usize,
    /// Mean log-prob per token over the first third.
    pub first_mean: f64,
    /// Mean log-prob per token over the last third.
    pub repeat_mean: f64,
    /// Positions whose top-1 alternative is the echoed token itself.
    pub top_hits: usize,
    /// Positions whose top-1 alternative is the *next* echoed token (the
    /// signature of an off-by-one shift).
    pub next_hits: usize,
}

fn fail<T>(msg: String) -> Result<T, ProtocolError> {
    Err(ProtocolError(format!("probe failed: {msg}")))
}

/// The text of the most likely alternative at a position.
fn top1(e: &TokenEntry) -> Option<&str> {
    e.top
        .as_ref()
        .and_then(|t| t.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
        .map(|(s, _)| s.as_str())
}

/// Judge the first `n_prompt` entries of the probe reply.
pub fn check(entries: &[TokenEntry], n_prompt: usize) -> Result<ProbeReport, ProtocolError> {
    if n_prompt < 12 {
        return fail(format!(
            "the probe text came back as only {n_prompt} tokens"
        ));
    }
    let Some(prompt) = entries.get(..n_prompt) else {
        return fail(format!(
            "the reply echoes {} entries for {n_prompt} prompt tokens",
            entries.len()
        ));
    };
    let missing: Vec<usize> = (1..n_prompt)
        .filter(|&i| prompt[i].logprob.is_none())
        .collect();
    if missing.len() == n_prompt - 1 {
        return fail(
            "the server returns no log-probs for echoed prompt tokens (only for generated ones), so it cannot score text"
                .into(),
        );
    }
    if let Some(first) = missing.first() {
        return fail(format!(
            "missing prompt log-probs at {} of {} positions (first at token {first}); a missing log-prob is never taken as zero",
            missing.len(),
            n_prompt - 1
        ));
    }
    for (i, e) in prompt.iter().enumerate().skip(1) {
        let lp = e.logprob.unwrap_or_default();
        let Some(top) = &e.top else {
            return fail(format!(
                "no `top_logprobs` for prompt token {i}; they are needed to tell whether the continuation was the greedy one"
            ));
        };
        let best = top
            .iter()
            .map(|&(_, l)| l)
            .fold(f64::NEG_INFINITY, f64::max);
        if lp > best + TOP_TOLERANCE {
            return fail(format!(
                "token {i} has log-prob {lp:.4}, above the best `top_logprobs` entry at the same position ({best:.4})"
            ));
        }
        if let (Some(tok), true) = (&e.token, top.len() > 1) {
            if let Some(&(_, own)) = top.iter().find(|(t, _)| t == tok) {
                if (own - lp).abs() > TOP_TOLERANCE {
                    return fail(format!(
                        "token {i} ({tok:?}) has log-prob {lp:.4} in `token_logprobs` but {own:.4} in `top_logprobs`: the two are misaligned"
                    ));
                }
            }
        }
    }
    let mean = |r: &[TokenEntry]| {
        r.iter().map(|e| e.logprob.unwrap_or_default()).sum::<f64>() / r.len() as f64
    };
    let top_hits = (1..n_prompt)
        .filter(|&i| top1(&prompt[i]).is_some_and(|t| Some(t) == prompt[i].token.as_deref()))
        .count();
    let next_hits = (1..n_prompt - 1)
        .filter(|&i| top1(&prompt[i]).is_some_and(|t| Some(t) == prompt[i + 1].token.as_deref()))
        .count();
    let third = n_prompt / 3;
    let report = ProbeReport {
        tokens: n_prompt,
        first_mean: mean(&prompt[1..third]),
        repeat_mean: mean(&prompt[n_prompt - third..]),
        top_hits,
        next_hits,
    };
    if report.repeat_mean <= REPEAT_THRESHOLD || next_hits > top_hits {
        return fail(format!(
            "echoed prompt log-probs are misaligned (shifted, typically off by one): counting from 1 to 40 scores \
             {:.2} nat/token over its last third (a correctly aligned model predicts a count almost surely: above \
             {REPEAT_THRESHOLD}), and the top-1 alternative at a position is the token after it {next_hits} times but \
             the token itself {top_hits} times. The server scores each prompt token with the wrong position's \
             distribution (as llama-cpp-python does for echoed prompts); its numbers would be wrong, so none are recorded",
            report.repeat_mean
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(lps: &[Option<f64>]) -> Vec<TokenEntry> {
        lps.iter()
            .enumerate()
            .map(|(i, &l)| TokenEntry {
                token: Some(format!("t{}", i % 12)),
                logprob: l,
                top: l.map(|v| vec![(format!("t{}", i % 12), v)]),
                offset: Some(i),
            })
            .collect()
    }

    fn aligned() -> Vec<Option<f64>> {
        (0..36)
            .map(|i| {
                if i == 0 {
                    None
                } else if i < 12 {
                    Some(-6.0)
                } else {
                    Some(-0.05)
                }
            })
            .collect()
    }

    #[test]
    fn aligned_reply_passes() {
        let r = check(&entries(&aligned()), 36).unwrap();
        assert!(r.repeat_mean > -0.1 && r.first_mean < -5.0, "{r:?}");
    }

    #[test]
    fn shifted_reply_fails() {
        // Off by one: every repeated token scored as an immediate repeat of itself.
        let lps = vec![Some(-9.0); 36];
        let msg = check(&entries(&lps), 36).unwrap_err().0;
        assert!(
            msg.contains("misaligned") && msg.contains("off by one"),
            "{msg}"
        );
    }

    #[test]
    fn top1_pointing_at_the_next_token_fails() {
        // Plausible log-probs, but each position's favourite is the following token.
        let mut e = entries(&aligned());
        for i in 1..35 {
            let next = e[i + 1].token.clone().unwrap();
            e[i].top = Some(vec![
                (next, -0.01),
                (e[i].token.clone().unwrap(), e[i].logprob.unwrap()),
            ]);
        }
        let msg = check(&e, 36).unwrap_err().0;
        assert!(msg.contains("the token after it 34 times"), "{msg}");
    }

    #[test]
    fn missing_and_absent_logprobs_fail() {
        let mut lps = aligned();
        lps[20] = None;
        assert!(check(&entries(&lps), 36)
            .unwrap_err()
            .0
            .contains("missing prompt log-probs at 1 of 35"));
        let none = vec![None; 36];
        assert!(check(&entries(&none), 36)
            .unwrap_err()
            .0
            .contains("no log-probs for echoed prompt tokens"));
    }

    #[test]
    fn inconsistent_top_logprobs_fail() {
        let mut e = entries(&aligned());
        e[5].top = Some(vec![("t5".into(), -1.0), ("zz".into(), -2.0)]);
        assert!(check(&e, 36).unwrap_err().0.contains("misaligned"));
        let mut e = entries(&aligned());
        e[5].top = Some(vec![("zz".into(), -9.0)]);
        assert!(check(&e, 36).unwrap_err().0.contains("above the best"));
        let mut e = entries(&aligned());
        e[5].top = None;
        assert!(check(&e, 36).unwrap_err().0.contains("no `top_logprobs`"));
    }
}
