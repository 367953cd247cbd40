//! The wire format of OpenAI-compatible `POST /v1/completions` when it is used to
//! *score* text rather than to generate it.
//!
//! Protocol facts this module relies on (vLLM's behaviour, which llama.cpp-style
//! servers imitate with variations):
//! - `echo: true` with `logprobs: k` returns one entry per prompt token followed by
//!   one per generated token. vLLM requires `max_tokens >= 1`, so one token is
//!   always generated and its entry must be dropped; llama-cpp-python treats
//!   `max_tokens: 0` as "unlimited", another reason never to send 0.
//! - The first prompt token has nothing to condition on: vLLM reports `null` for
//!   its log-prob (and its `top_logprobs` entry).
//! - Two schemas exist. The legacy one is parallel arrays `tokens`,
//!   `token_logprobs`, `text_offset` (characters into the echoed text) and
//!   `top_logprobs` (a `{token: logprob}` map per position). The newer one, shared
//!   with chat completions, is `logprobs.content: [{token, logprob, top_logprobs:
//!   [{token, logprob}]}]` without offsets.
//! - A prompt may be a string or a list of token ids; vLLM takes ids verbatim (no
//!   BOS is added), llama-cpp-python rejects them.
//!
//! Nothing here does I/O, so every rule is unit-tested on literal replies.

use serde_json::{json, Value};

/// Log-probs above this are not log-probs (a server bug or a wrong field); the
/// slack absorbs the rounding of `log_softmax` in f16/bf16 servers.
const MAX_LOGPROB: f64 = 1e-3;

/// What is sent as `prompt`.
#[derive(Debug, Clone, Copy)]
pub enum Prompt<'a> {
    /// Token ids, scored exactly as given (the client owns tokenisation).
    Ids(&'a [u32]),
    /// Text, tokenised by the server.
    Text(&'a str),
}

/// The body of a scoring request: echo the prompt with its log-probs, generate the
/// one token the server insists on, greedily so that replies are reproducible.
pub fn completion_request(model: &str, prompt: Prompt<'_>, top_logprobs: u32) -> Value {
    let prompt = match prompt {
        Prompt::Ids(ids) => json!(ids),
        Prompt::Text(t) => json!(t),
    };
    json!({
        "model": model,
        "prompt": prompt,
        "max_tokens": 1,
        "temperature": 0.0,
        "echo": true,
        "logprobs": top_logprobs,
        "n": 1,
        "stream": false,
    })
}

/// One position of an echoed completion.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    /// The token's text as the server renders it.
    pub token: Option<String>,
    /// `log p(token | everything before it)`; `None` where the server sent `null`
    /// or nothing.
    pub logprob: Option<f64>,
    /// The server's most likely tokens at this position with their log-probs.
    pub top: Option<Vec<(String, f64)>>,
    /// Characters from the start of the echoed text to this token.
    pub offset: Option<usize>,
}

/// A parsed completion reply: the entries of the first choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Echoed {
    pub entries: Vec<TokenEntry>,
    /// `usage.prompt_tokens`, when the server reports it.
    pub prompt_tokens: Option<usize>,
}

/// Why a reply could not be used. `Display` is the message shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(msg.into()))
}

/// The first 200 characters of a body, for error messages.
pub fn snippet(body: &str) -> String {
    let s: String = body.chars().take(200).collect();
    if body.chars().count() > 200 {
        format!("{s}…")
    } else {
        s
    }
}

/// The `message` of an OpenAI-style error body (`{"error": {"message"}}`,
/// `{"error": "..."}`, or vLLM's `{"object": "error", "message"}`).
pub fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    match v.get("error") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(e) => return e.get("message").and_then(Value::as_str).map(str::to_string),
        None => {}
    }
    (v.get("object").and_then(Value::as_str) == Some("error"))
        .then(|| v.get("message").and_then(Value::as_str).map(str::to_string))
        .flatten()
}

fn opt_f64(v: &Value, what: &str, i: usize) -> Result<Option<f64>, ProtocolError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if !x.is_finite() || x > MAX_LOGPROB {
                return err(format!("{what}[{i}] = {n} is not a log-probability"));
            }
            Ok(Some(x))
        }
        other => err(format!("{what}[{i}] is {other}, expected a number or null")),
    }
}

/// Parse a `/v1/completions` reply body in either schema.
pub fn parse_completion(body: &str) -> Result<Echoed, ProtocolError> {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return err(format!("the reply is not JSON: {}", snippet(body))),
    };
    if let Some(m) = error_message(body) {
        return err(format!("the server answered with an error: {m}"));
    }
    let Some(choice) = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    else {
        return err(format!("the reply has no `choices`: {}", snippet(body)));
    };
    let prompt_tokens = v
        .get("usage")
        .and_then(|u| u.get("prompt_tokens"))
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let lp = match choice.get("logprobs") {
        None | Some(Value::Null) => {
            return err("the reply carries no `logprobs` (the server ignored `logprobs`/`echo`, so it cannot score text)")
        }
        Some(lp) => lp,
    };
    let entries = if let Some(content) = lp.get("content") {
        parse_content(content)?
    } else {
        parse_legacy(lp)?
    };
    Ok(Echoed {
        entries,
        prompt_tokens,
    })
}

/// Legacy schema: parallel arrays; `token_logprobs` is required, the others are
/// optional but must have the same length when present.
fn parse_legacy(lp: &Value) -> Result<Vec<TokenEntry>, ProtocolError> {
    let Some(lps) = lp.get("token_logprobs").and_then(Value::as_array) else {
        return err("`logprobs` has neither `token_logprobs` nor `content`");
    };
    let n = lps.len();
    let array = |name: &str| -> Result<Option<&Vec<Value>>, ProtocolError> {
        match lp.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) if a.len() == n => Ok(Some(a)),
            Some(Value::Array(a)) => err(format!(
                "`logprobs.{name}` has {} entries but `token_logprobs` has {n}",
                a.len()
            )),
            Some(_) => err(format!("`logprobs.{name}` is not an array")),
        }
    };
    let tokens = array("tokens")?;
    let offsets = array("text_offset")?;
    let tops = array("top_logprobs")?;
    let mut entries = Vec::with_capacity(n);
    for (i, l) in lps.iter().enumerate() {
        let top = match tops.map(|t| &t[i]) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(
                m.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            opt_f64(v, "top_logprobs", i)?.unwrap_or(f64::NEG_INFINITY),
                        ))
                    })
                    .collect::<Result<Vec<_>, ProtocolError>>()?,
            ),
            Some(other) => return err(format!("top_logprobs[{i}] is {other}, expected an object")),
        };
        entries.push(TokenEntry {
            token: tokens.and_then(|t| t[i].as_str()).map(str::to_string),
            logprob: opt_f64(l, "token_logprobs", i)?,
            top,
            offset: offsets.and_then(|o| o[i].as_u64()).map(|o| o as usize),
        });
    }
    Ok(entries)
}

/// Newer schema: a list of `{token, logprob, top_logprobs: [{token, logprob}]}`.
/// Offsets are not sent, so they are rebuilt from the token texts.
fn parse_content(content: &Value) -> Result<Vec<TokenEntry>, ProtocolError> {
    let Some(items) = content.as_array() else {
        return err("`logprobs.content` is not an array");
    };
    let mut offset = 0usize;
    let mut entries = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let token = it.get("token").and_then(Value::as_str).map(str::to_string);
        let logprob = opt_f64(
            it.get("logprob").unwrap_or(&Value::Null),
            "content.logprob",
            i,
        )?;
        let top = match it.get("top_logprobs") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|t| {
                        let tok = t
                            .get("token")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let l = opt_f64(
                            t.get("logprob").unwrap_or(&Value::Null),
                            "content.top_logprobs",
                            i,
                        )?;
                        Ok((tok, l.unwrap_or(f64::NEG_INFINITY)))
                    })
                    .collect::<Result<Vec<_>, ProtocolError>>()?,
            ),
            Some(_) => return err(format!("content[{i}].top_logprobs is not an array")),
        };
        let this = token.as_ref().map(|_| offset);
        offset += token.as_deref().map_or(0, |t| t.chars().count());
        entries.push(TokenEntry {
            token,
            logprob,
            top,
            offset: this,
        });
    }
    Ok(entries)
}

/// How many leading entries belong to the prompt. With ids the count is known;
/// with text it is `usage.prompt_tokens`, or else the entries whose offset lies
/// inside the prompt text. Fewer entries than prompt tokens means the server
/// truncated the echo.
pub fn prompt_len(echoed: &Echoed, prompt: Prompt<'_>) -> Result<usize, ProtocolError> {
    let n = match prompt {
        Prompt::Ids(ids) => ids.len(),
        Prompt::Text(text) => match echoed.prompt_tokens {
            Some(n) => n,
            None => {
                let chars = text.chars().count();
                let counted = echoed
                    .entries
                    .iter()
                    .take_while(|e| e.offset.is_some_and(|o| o < chars))
                    .count();
                if counted == 0 || echoed.entries.iter().any(|e| e.offset.is_none()) {
                    return err("the reply has neither `usage.prompt_tokens` nor `text_offset`s, so prompt and generated tokens cannot be told apart");
                }
                counted
            }
        },
    };
    if n == 0 {
        return err("the reply counts 0 prompt tokens: nothing was echoed to score");
    }
    if echoed.entries.len() < n {
        return err(format!(
            "the server echoed log-probs for {} tokens but the prompt has {n}: the echo is truncated",
            echoed.entries.len()
        ));
    }
    Ok(n)
}

/// The token ids of a `POST /tokenize` reply: `{"tokens": [ids], …}` (vLLM,
/// llama.cpp's server, `densing serve`).
pub fn parse_tokenize(body: &str) -> Result<Vec<u32>, ProtocolError> {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return err(format!("the reply is not JSON: {}", snippet(body))),
    };
    let Some(tokens) = v.get("tokens").and_then(Value::as_array) else {
        return err(format!("the reply has no `tokens` list: {}", snippet(body)));
    };
    tokens
        .iter()
        .map(|t| t.as_u64().and_then(|i| u32::try_from(i).ok()))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| {
            ProtocolError(format!(
                "`tokens` holds something other than token ids: {}",
                snippet(body)
            ))
        })
}

/// Where the continuation starts among the prompt's `entries` when the prompt was
/// sent as text: the first token at or after character `context_chars` of the
/// prompt. Offsets are shifted by however much text the server put before the
/// prompt (a rendered BOS such as `<s>`), measured at the prompt's end. The second
/// value is true when a token spans the context/continuation join; that token is
/// counted in the continuation.
pub fn split_by_offset(
    entries: &[TokenEntry],
    n_prompt: usize,
    prompt_chars: usize,
    context_chars: usize,
) -> Result<(usize, bool), ProtocolError> {
    let offset = |i: usize| {
        entries[i].offset.ok_or_else(|| {
            ProtocolError(format!(
                "the reply has no `text_offset` for token {i}; cannot locate the continuation"
            ))
        })
    };
    if n_prompt == 0 || n_prompt > entries.len() {
        return err(format!(
            "the reply counts {n_prompt} prompt tokens but echoes {} entries; cannot locate the continuation",
            entries.len()
        ));
    }
    let end = if entries.len() > n_prompt {
        offset(n_prompt)?
    } else {
        let last = n_prompt - 1;
        let chars = entries[last]
            .token
            .as_deref()
            .map_or(0, |t| t.chars().count());
        offset(last)?.checked_add(chars).ok_or_else(|| {
            ProtocolError(format!(
                "text offset of token {last} is not a position in the echoed text"
            ))
        })?
    };
    let Some(lead) = end.checked_sub(prompt_chars) else {
        return err(format!(
            "the echoed text is {end} characters long, shorter than the {prompt_chars}-character prompt"
        ));
    };
    let Some(split) = lead.checked_add(context_chars) else {
        return err(format!(
            "text offset {end} is not a position in the echoed text"
        ));
    };
    for i in 0..n_prompt {
        let o = offset(i)?;
        if o >= split {
            if i == 0 {
                return err(
                    "the continuation would start at the first token: the context is empty",
                );
            }
            return Ok((i, false));
        }
        let next = if i + 1 < entries.len() {
            offset(i + 1)?
        } else {
            end
        };
        if next > split {
            // Token i starts in the context and ends in the continuation.
            if i == 0 {
                return err("the first token spans the context/continuation join; nothing precedes it to condition on");
            }
            return Ok((i, true));
        }
    }
    err("the continuation is empty: no echoed token starts after the context")
}

/// The log-probs of prompt positions `start..end` and whether each token was the
/// model's most likely one. A missing log-prob is an error, never a zero; so are
/// missing `top_logprobs` (they decide greedy matching).
pub fn continuation(
    entries: &[TokenEntry],
    start: usize,
    end: usize,
) -> Result<(Vec<f32>, bool), ProtocolError> {
    if start > end || end > entries.len() {
        return err(format!(
            "prompt tokens {start}..{end} are not within the {} echoed entries",
            entries.len()
        ));
    }
    let mut lps = Vec::with_capacity(end - start);
    let mut greedy = true;
    for (i, e) in entries.iter().enumerate().take(end).skip(start) {
        let Some(lp) = e.logprob else {
            return err(format!("the server sent no log-prob for prompt token {i}"));
        };
        let Some(top) = &e.top else {
            return err(format!(
                "the server sent no `top_logprobs` for prompt token {i}"
            ));
        };
        let best = top
            .iter()
            .map(|&(_, l)| l)
            .fold(f64::NEG_INFINITY, f64::max);
        // Compared by value, not by token text: different ids can render alike.
        greedy &= lp >= best - 1e-6;
        lps.push(lp as f32);
    }
    Ok((lps, greedy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_replies_are_parsed_or_refused() {
        let vllm = r#"{"count":3,"max_model_len":8192,"tokens":[1,2,3],"token_strs":null}"#;
        assert_eq!(parse_tokenize(vllm).unwrap(), vec![1, 2, 3]);
        assert_eq!(
            parse_tokenize(r#"{"tokens":[]}"#).unwrap(),
            Vec::<u32>::new()
        );
        assert!(parse_tokenize(r#"{"detail":"Not Found"}"#).is_err());
        assert!(parse_tokenize(r#"{"tokens":[{"id":1,"piece":"a"}]}"#).is_err());
        assert!(parse_tokenize("<html>").is_err());
    }

    fn vllm_legacy() -> &'static str {
        // vLLM, prompt "ab" + "c" as text, one generated token "d".
        r#"{"id":"cmpl-1","object":"text_completion","model":"m","choices":[{"index":0,"text":"abcd",
            "logprobs":{"text_offset":[0,1,2,3],"token_logprobs":[null,-1.5,-0.25,-0.5],
            "tokens":["a","b","c","d"],
            "top_logprobs":[null,{"b":-1.5,"x":-0.5},{"c":-0.25},{"d":-0.5}]},
            "finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#
    }

    #[test]
    fn request_has_the_scoring_fields() {
        let r = completion_request("m", Prompt::Ids(&[5, 6]), 1);
        assert_eq!(r["prompt"], json!([5, 6]));
        assert_eq!(r["echo"], json!(true));
        assert_eq!(r["max_tokens"], json!(1));
        assert_eq!(r["temperature"], json!(0.0));
        assert_eq!(r["logprobs"], json!(1));
        let r = completion_request("m", Prompt::Text("hi"), 1);
        assert_eq!(r["prompt"], json!("hi"));
    }

    #[test]
    fn legacy_schema_with_null_first_and_generated_entry() {
        let e = parse_completion(vllm_legacy()).unwrap();
        assert_eq!(e.entries.len(), 4);
        assert_eq!(e.entries[0].logprob, None);
        assert_eq!(e.prompt_tokens, Some(3));
        let n = prompt_len(&e, Prompt::Text("abc")).unwrap();
        assert_eq!(n, 3);
        let (start, join) = split_by_offset(&e.entries, n, 3, 2).unwrap();
        assert_eq!((start, join), (2, false));
        let (lps, greedy) = continuation(&e.entries, start, n).unwrap();
        assert_eq!(lps, vec![-0.25]);
        assert!(greedy);
        // Token "b" was not the argmax ("x" was).
        let (_, greedy) = continuation(&e.entries, 1, n).unwrap();
        assert!(!greedy);
    }

    #[test]
    fn content_schema() {
        let body = r#"{"choices":[{"text":"abc","logprobs":{"content":[
            {"token":"a","logprob":null,"top_logprobs":[]},
            {"token":"bc","logprob":-2.0,"top_logprobs":[{"token":"bc","logprob":-2.0}]},
            {"token":"d","logprob":-0.1,"top_logprobs":[{"token":"d","logprob":-0.1}]}]}}]}"#;
        let e = parse_completion(body).unwrap();
        assert_eq!(e.entries[1].offset, Some(1));
        assert_eq!(e.entries[2].offset, Some(3));
        let n = prompt_len(&e, Prompt::Ids(&[1, 2])).unwrap();
        assert_eq!(continuation(&e.entries, 1, n).unwrap().0, vec![-2.0]);
        // "a" + "b|c": the second token spans the join at character 2.
        assert_eq!(split_by_offset(&e.entries, 2, 3, 2).unwrap(), (1, true));
    }

    #[test]
    fn leading_bos_text_is_discounted() {
        // Server rendered "<s>" before the prompt "ab|c".
        let body = r#"{"choices":[{"logprobs":{"text_offset":[0,3,4,5,6],"token_logprobs":[null,-1,-1,-1,-1],
            "tokens":["<s>","a","b","c","d"],"top_logprobs":[null,{"a":-1},{"b":-1},{"c":-1},{"d":-1}]}}],
            "usage":{"prompt_tokens":4}}"#;
        let e = parse_completion(body).unwrap();
        let n = prompt_len(&e, Prompt::Text("abc")).unwrap();
        assert_eq!(split_by_offset(&e.entries, n, 3, 2).unwrap(), (3, false));
    }

    #[test]
    fn missing_logprob_is_an_error_not_zero() {
        let body = r#"{"choices":[{"logprobs":{"token_logprobs":[null,null,-1.0],"top_logprobs":[null,{"b":-1},{"c":-1}]}}]}"#;
        let e = parse_completion(body).unwrap();
        let msg = continuation(&e.entries, 1, 2).unwrap_err().0;
        assert!(msg.contains("no log-prob for prompt token 1"), "{msg}");
    }

    #[test]
    fn truncated_echo_is_detected() {
        let body = r#"{"choices":[{"logprobs":{"token_logprobs":[null,-1.0]}}]}"#;
        let e = parse_completion(body).unwrap();
        let msg = prompt_len(&e, Prompt::Ids(&[1, 2, 3])).unwrap_err().0;
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn empty_echo_with_zero_prompt_tokens_is_an_error_not_a_panic() {
        // Once an `n_prompt - 1` underflow inside the scoring threads (issue 12).
        let body = r#"{"choices":[{"logprobs":{"token_logprobs":[],"tokens":[],"text_offset":[],"top_logprobs":[]}}],
            "usage":{"prompt_tokens":0}}"#;
        let e = parse_completion(body).unwrap();
        let msg = prompt_len(&e, Prompt::Text("ab")).unwrap_err().0;
        assert!(msg.contains("0 prompt tokens"), "{msg}");
        let msg = split_by_offset(&e.entries, 0, 2, 1).unwrap_err().0;
        assert!(msg.contains("0 prompt tokens"), "{msg}");
        let msg = continuation(&e.entries, 1, 0).unwrap_err().0;
        assert!(msg.contains("not within"), "{msg}");
        assert!(continuation(&e.entries, 0, 3).is_err());
    }

    #[test]
    fn offsets_near_the_top_of_usize_are_errors_not_overflows() {
        let body = r#"{"choices":[{"logprobs":{"text_offset":[0,18446744073709551615],"token_logprobs":[null,-1],
            "tokens":["a","b"],"top_logprobs":[null,{"b":-1}]}}],"usage":{"prompt_tokens":2}}"#;
        let e = parse_completion(body).unwrap();
        let msg = split_by_offset(&e.entries, 2, 1, 5).unwrap_err().0;
        assert!(msg.contains("not a position"), "{msg}");
    }

    #[test]
    fn bad_replies_have_clear_messages() {
        assert!(parse_completion("<html>502</html>")
            .unwrap_err()
            .0
            .contains("not JSON"));
        let e = parse_completion(
            r#"{"object":"error","message":"The model `x` does not exist.","code":404}"#,
        );
        assert!(e.unwrap_err().0.contains("does not exist"));
        let e = parse_completion(r#"{"choices":[{"text":"x","logprobs":null}]}"#);
        assert!(e.unwrap_err().0.contains("no `logprobs`"));
        let e = parse_completion(r#"{"choices":[{"logprobs":{"token_logprobs":[null,0.5]}}]}"#);
        assert!(e.unwrap_err().0.contains("not a log-probability"));
        let e = parse_completion(
            r#"{"choices":[{"logprobs":{"token_logprobs":[null,-1],"tokens":["a"]}}]}"#,
        );
        assert!(e.unwrap_err().0.contains("has 1 entries"));
    }
}
