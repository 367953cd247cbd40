//! The one request encoder: (context, continuation) → token ids under a boundary
//! convention, BOS per the model. The embedded engine, the HTTP client (with a
//! local tokenizer or a server's `/tokenize`) and `densing serve` all go through it,
//! so the token ids a loss is computed on never depend on the engine.
//!
//! Conventions at the context/continuation join:
//! - [`Boundary::Harness`](crate::Boundary::Harness) (default), lm-evaluation-harness's loglikelihood request
//!   (`TemplateLM._encode_pair`): the context's trailing whitespace is moved to the
//!   front of the continuation; `whole = encode(context + continuation)`,
//!   `ctx = encode(context)`, `cont = whole[len(ctx)..]`. The harness does not check
//!   that `ctx` is a prefix of `whole`; neither do we, but such items are flagged.
//! - [`Boundary::Separate`](crate::Boundary::Separate) (densing before issue 10): no whitespace moved; the joint
//!   split when `encode(context)` is a prefix of the joint encoding, otherwise the
//!   continuation encoded on its own and appended (a tokenisation the model never
//!   saw in training; flagged).

use anyhow::Result;

use crate::backend::{Boundary, ScoreError, ScoreRequest};

/// Text → token ids: the model's own tokenizer, or a server's `/tokenize`.
pub trait Encode {
    /// Token ids of `text`, without BOS or other special-token decoration.
    fn encode(&self, text: &str) -> Result<Vec<u32>>;
    /// What the model puts before every sequence: `[bos]` or nothing.
    fn bos_prefix(&self) -> Vec<u32>;
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        (**self).encode(text)
    }

    fn bos_prefix(&self) -> Vec<u32> {
        (**self).bos_prefix()
    }
}

/// The ids of a prompt sent whole: BOS per the model, then the text's tokens.
pub fn encode_prompt(enc: &dyn Encode, text: &str) -> Result<Vec<u32>> {
    let mut ids = enc.bos_prefix();
    ids.extend(enc.encode(text)?);
    Ok(ids)
}

/// A request as token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRequest {
    /// BOS (when the model wants it) and the context's tokens.
    pub context: Vec<u32>,
    /// The scored tokens.
    pub continuation: Vec<u32>,
    /// The encoded context was not a prefix of the joint encoding (a token spans the
    /// join): under `harness` the joint tokens after `len(context)` are scored after
    /// the context's own tokens, as lm-evaluation-harness does; under `separate` the
    /// continuation was encoded on its own.
    pub join_mismatch: bool,
}

impl EncodedRequest {
    /// Context followed by continuation: the sequence the model evaluates.
    pub fn sequence(&self) -> Vec<u32> {
        let mut ids = self.context.clone();
        ids.extend_from_slice(&self.continuation);
        ids
    }

    /// Fail the item when `extra` more positions (tokens a server generates) do not
    /// fit into `window` together with the sequence.
    pub fn check_window(&self, window: usize, extra: usize) -> Result<(), ScoreError> {
        let total = self.context.len() + self.continuation.len();
        if total + extra > window {
            let generated = if extra > 0 {
                format!(" plus {extra} generated")
            } else {
                String::new()
            };
            return Err(ScoreError::Item(format!(
                "{total} tokens ({} context + {} continuation){generated} exceed the model's context window of {window}",
                self.context.len(),
                self.continuation.len(),
            )));
        }
        Ok(())
    }
}

/// The context/continuation text actually encoded under `boundary`: for `harness`
/// the context's trailing whitespace (Unicode `White_Space`, as Python's
/// `str.rstrip`) moves to the continuation.
pub fn split_text(req: &ScoreRequest, boundary: Boundary) -> (&str, String) {
    match boundary {
        Boundary::Harness => {
            let ctx = req.context.trim_end();
            let moved = &req.context[ctx.len()..];
            (ctx, format!("{moved}{}", req.continuation))
        }
        Boundary::Separate => (req.context.as_str(), req.continuation.clone()),
    }
}

/// Encode `req` under `boundary` (see the module docs).
pub fn encode_request(
    enc: &dyn Encode,
    req: &ScoreRequest,
    boundary: Boundary,
) -> Result<EncodedRequest, ScoreError> {
    let (ctx_text, cont_text) = split_text(req, boundary);
    let ctx = enc.encode(ctx_text)?;
    let whole = enc.encode(&format!("{ctx_text}{cont_text}"))?;
    let is_prefix = whole.len() >= ctx.len() && whole[..ctx.len()] == ctx[..];
    let continuation = match boundary {
        Boundary::Harness => whole.get(ctx.len()..).unwrap_or_default().to_vec(),
        Boundary::Separate if is_prefix && whole.len() > ctx.len() => whole[ctx.len()..].to_vec(),
        Boundary::Separate => enc.encode(&cont_text)?,
    };
    let join_mismatch = match boundary {
        Boundary::Harness => !is_prefix,
        Boundary::Separate => !(is_prefix && whole.len() > ctx.len()),
    };
    let mut context = enc.bos_prefix();
    context.extend(ctx);
    if continuation.is_empty() {
        let why = if join_mismatch {
            " (its text merged into the context's last token)"
        } else {
            ""
        };
        return Err(ScoreError::Item(format!("empty continuation{why}")));
    }
    if context.is_empty() {
        return Err(ScoreError::Item(
            "empty context and the model adds no BOS to condition on".into(),
        ));
    }
    Ok(EncodedRequest {
        context,
        continuation,
        join_mismatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy tokenizer: one token per character, except that "ab" is one token.
    struct Toy(Vec<u32>);

    impl Encode for Toy {
        fn encode(&self, text: &str) -> Result<Vec<u32>> {
            let mut out = Vec::new();
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i..].starts_with(b"ab") {
                    out.push(1000);
                    i += 2;
                } else {
                    out.push(u32::from(b[i]));
                    i += 1;
                }
            }
            Ok(out)
        }
        fn bos_prefix(&self) -> Vec<u32> {
            self.0.clone()
        }
    }

    fn req(c: &str, k: &str) -> ScoreRequest {
        ScoreRequest {
            context: c.into(),
            continuation: k.into(),
        }
    }

    #[test]
    fn harness_moves_trailing_whitespace_and_splits_the_joint_encoding() {
        let r = encode_request(&Toy(vec![1]), &req("x: \n", "y"), Boundary::Harness).unwrap();
        assert_eq!(r.context, vec![1, u32::from(b'x'), u32::from(b':')]);
        assert_eq!(r.continuation, vec![32, 10, u32::from(b'y')]);
        assert!(!r.join_mismatch);
        let s = encode_request(&Toy(vec![1]), &req("x: \n", "y"), Boundary::Separate).unwrap();
        assert_eq!(s.context.len(), 5);
        assert_eq!(s.continuation, vec![u32::from(b'y')]);
    }

    #[test]
    fn a_token_spanning_the_join_is_flagged_under_both_rules() {
        // "a" + "b" → joint "ab" is one token, the context alone is "a".
        let h = encode_request(&Toy(vec![]), &req("xa", "bc"), Boundary::Harness).unwrap();
        // lm-evaluation-harness: whole[len(ctx)..] with whole = [x, ab, c], ctx = [x, a].
        assert_eq!(h.context, vec![u32::from(b'x'), u32::from(b'a')]);
        assert_eq!(h.continuation, vec![u32::from(b'c')]);
        assert!(h.join_mismatch);
        let s = encode_request(&Toy(vec![]), &req("xa", "bc"), Boundary::Separate).unwrap();
        assert_eq!(s.continuation, vec![u32::from(b'b'), u32::from(b'c')]);
        assert!(s.join_mismatch);
    }

    #[test]
    fn empty_pieces_are_item_errors() {
        let e = encode_request(&Toy(vec![]), &req("", "y"), Boundary::Harness).unwrap_err();
        assert!(e.to_string().contains("empty context"), "{e}");
        let e = encode_request(&Toy(vec![1]), &req("x", ""), Boundary::Harness).unwrap_err();
        assert!(e.to_string().contains("empty continuation"), "{e}");
        // With BOS an empty context is fine: the continuation is conditioned on BOS.
        let r = encode_request(&Toy(vec![1]), &req("", "y"), Boundary::Harness).unwrap();
        assert_eq!(r.sequence(), vec![1, u32::from(b'y')]);
    }
}
