//! Benchmark task formats → scoring items.
//!
//! Every item is one or more (context, continuation) requests: one for reference-
//! answer tasks (BBH with its chain of thought, HumanEval, generic JSONL), one per
//! option for multiple choice. Each task carries a template version string that the
//! results store keys by, so a changed prompt never reuses old results.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::backend::ScoreRequest;

/// Which benchmark format to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// BIG-Bench Hard: `--data` is the directory with `<task>.jsonl` and
    /// `cot-prompts/<task>.txt`; `None` means every subtask found there.
    Bbh(Option<String>),
    /// HumanEval `.jsonl` or `.jsonl.gz` (`task_id`, `prompt`, `canonical_solution`).
    HumanEval,
    /// Multiple choice, CSV or JSONL: question, options (`A`–`D` or `choices`), answer.
    Mc,
    /// Generic JSONL `{id, context, continuation}`.
    Jsonl,
}

impl std::str::FromStr for TaskKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.split_once(':') {
            Some(("bbh", sub)) if !sub.is_empty() => TaskKind::Bbh(Some(sub.to_string())),
            None if s == "bbh" => TaskKind::Bbh(None),
            None if s == "humaneval" => TaskKind::HumanEval,
            None if s == "mc" => TaskKind::Mc,
            None if s == "jsonl" => TaskKind::Jsonl,
            _ => bail!("unknown task `{s}` (expected bbh[:SUBTASK], humaneval, mc or jsonl)"),
        })
    }
}

/// One benchmark item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    /// One request, or one per option for multiple choice.
    pub requests: Vec<ScoreRequest>,
    /// For multiple choice: index of the correct option in `requests`. Its loss is
    /// the item's loss; the item is correct when it has the highest log-likelihood.
    pub answer: Option<usize>,
}

/// The items of one task, ready to score.
#[derive(Debug, Clone)]
pub struct TaskSet {
    /// Store key, e.g. `humaneval`, `bbh:date_understanding`, `mc:mmlu_dev`.
    pub name: String,
    /// Prompt template version (with the shot count), stored with every result.
    pub template: String,
    pub items: Vec<Item>,
    /// Malformed input lines, as `file:line: reason`.
    pub bad: Vec<String>,
    /// Items left out because they have no reference answer (BBH items whose
    /// published rationale reaches a wrong answer).
    pub no_reference: usize,
}

/// Load the task(s) of `kind` from `data`, using the first `shots` examples as
/// demonstrations where the format has them, and keeping at most `limit` items.
pub fn load(
    kind: &TaskKind,
    data: &Path,
    shots: usize,
    limit: Option<usize>,
) -> Result<Vec<TaskSet>> {
    let mut sets = match kind {
        TaskKind::Bbh(Some(sub)) => vec![load_bbh(data, sub, shots)?],
        TaskKind::Bbh(None) => bbh_subtasks(data)?
            .iter()
            .map(|s| load_bbh(data, s, shots))
            .collect::<Result<_>>()?,
        TaskKind::HumanEval => {
            if shots > 0 {
                bail!("humaneval is scored zero-shot (prompt → canonical solution); drop --shots");
            }
            vec![load_humaneval(data)?]
        }
        TaskKind::Mc => vec![load_mc(data, shots)?],
        TaskKind::Jsonl => vec![load_jsonl(data, shots)?],
    };
    if let Some(n) = limit {
        for s in &mut sets {
            s.items.truncate(n);
        }
    }
    Ok(sets)
}

fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.').next().unwrap_or("data").to_string()
}

/// Lines of a text file, transparently gunzipped when the name ends in `.gz`.
fn read_lines(path: &Path) -> Result<Vec<String>> {
    let f = File::open(path).with_context(|| format!("opening task data {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut lines: Vec<String> = BufReader::new(reader)
        .lines()
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", path.display()))?;
    // A UTF-8 byte-order mark (Windows editors write one) is not content.
    if let Some(first) = lines.first_mut() {
        if let Some(rest) = first.strip_prefix('\u{feff}') {
            *first = rest.to_string();
        }
    }
    Ok(lines)
}

/// Non-blank JSONL lines parsed as objects, each with its 1-based line number;
/// unparsable lines go to `bad` as `file:line: reason`.
fn json_lines(
    path: &Path,
    bad: &mut Vec<String>,
) -> Result<Vec<(usize, serde_json::Map<String, Value>)>> {
    let mut out = Vec::new();
    for (i, line) in read_lines(path)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => out.push((i + 1, m)),
            Ok(_) => bad.push(format!(
                "{}:{}: expected a JSON object",
                path.display(),
                i + 1
            )),
            Err(e) => bad.push(format!("{}:{}: invalid JSON: {e}", path.display(), i + 1)),
        }
    }
    Ok(out)
}

fn str_field<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("field `{key}` is not a string")),
        None => Err(format!("missing field `{key}`")),
    }
}

fn id_field(m: &serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(format!("field `{key}` is not a string or number")),
        None => Err(format!("missing field `{key}`")),
    }
}

/// Subtasks in a BBH directory: every `<task>.jsonl` with a `cot-prompts/<task>.txt`.
pub fn bbh_subtasks(dir: &Path) -> Result<Vec<String>> {
    let mut subs: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading BBH directory {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .filter(|s| dir.join("cot-prompts").join(format!("{s}.txt")).exists())
        .collect();
    subs.sort();
    if subs.is_empty() {
        bail!(
            "no BBH subtasks (<task>.jsonl with cot-prompts/<task>.txt) in {}",
            dir.display()
        );
    }
    Ok(subs)
}

/// The task description and the exemplars ("Q: … A: Let's think step by step. …")
/// of a BBH chain-of-thought prompt file, after its canary header.
fn bbh_prompt_parts(path: &Path) -> Result<(String, Vec<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // As users' editors save it: a byte-order mark and CRLF line ends read as LF.
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let body = match text.split_once("-----\n") {
        Some((_, b)) => b,
        None => &text,
    };
    let mut parts = body.trim().split("\n\nQ: ");
    let description = parts.next().unwrap_or_default().trim().to_string();
    let exemplars: Vec<String> = parts.map(|p| format!("Q: {}", p.trim_end())).collect();
    if exemplars.is_empty() {
        bail!("{}: no `Q: …` exemplars found", path.display());
    }
    Ok((description, exemplars))
}

/// BBH, template `bbh-cot/v1`: `{description}\n\n{K exemplars joined by \n\n}\n\n
/// Q: {input}\nA: Let's think step by step.` → ` {rationale}`, for items whose
/// rationale reaches the right answer.
fn load_bbh(dir: &Path, sub: &str, shots: usize) -> Result<TaskSet> {
    let (description, exemplars) =
        bbh_prompt_parts(&dir.join("cot-prompts").join(format!("{sub}.txt")))?;
    if shots > exemplars.len() {
        bail!(
            "BBH {sub} has {} chain-of-thought exemplars; --shots {shots} asks for more",
            exemplars.len()
        );
    }
    let mut prefix = description;
    for ex in &exemplars[..shots] {
        prefix.push_str("\n\n");
        prefix.push_str(ex);
    }
    let path = dir.join(format!("{sub}.jsonl"));
    let mut bad = Vec::new();
    let mut items = Vec::new();
    let mut no_reference = 0;
    for (line, m) in json_lines(&path, &mut bad)? {
        let parsed = (|| -> Result<Option<Item>, String> {
            let id = id_field(&m, "index")?;
            let input = str_field(&m, "input")?;
            let rationale = str_field(&m, "rationale")?;
            match m.get("rationale_correct") {
                Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => return Ok(None),
                _ => return Err("field `rationale_correct` is not a boolean".into()),
            }
            let context = format!("{prefix}\n\nQ: {input}\nA: Let's think step by step.");
            Ok(Some(Item {
                id,
                requests: vec![ScoreRequest {
                    context,
                    continuation: format!(" {rationale}"),
                }],
                answer: None,
            }))
        })();
        match parsed {
            Ok(Some(item)) => items.push(item),
            Ok(None) => no_reference += 1,
            Err(e) => bad.push(format!("{}:{line}: {e}", path.display())),
        }
    }
    Ok(TaskSet {
        name: format!("bbh:{sub}"),
        template: format!("bbh-cot/v1/shots={shots}"),
        items,
        bad,
        no_reference,
    })
}

/// HumanEval, template `humaneval/v1`: `prompt` → `canonical_solution`.
fn load_humaneval(path: &Path) -> Result<TaskSet> {
    let mut bad = Vec::new();
    let mut items = Vec::new();
    for (line, m) in json_lines(path, &mut bad)? {
        let parsed = (|| -> Result<Item, String> {
            Ok(Item {
                id: str_field(&m, "task_id")?.to_string(),
                requests: vec![ScoreRequest {
                    context: str_field(&m, "prompt")?.to_string(),
                    continuation: str_field(&m, "canonical_solution")?.to_string(),
                }],
                answer: None,
            })
        })();
        match parsed {
            Ok(item) => items.push(item),
            Err(e) => bad.push(format!("{}:{line}: {e}", path.display())),
        }
    }
    check_unique_ids(&items, path)?;
    Ok(TaskSet {
        name: "humaneval".into(),
        template: "humaneval/v1".into(),
        items,
        bad,
        no_reference: 0,
    })
}

fn check_unique_ids(items: &[Item], path: &Path) -> Result<()> {
    let mut seen = HashSet::new();
    for it in items {
        if !seen.insert(it.id.as_str()) {
            bail!(
                "{}: item id `{}` appears more than once",
                path.display(),
                it.id
            );
        }
    }
    Ok(())
}

/// Generic JSONL, template `jsonl/v1`: `{id, context, continuation}`; with K shots,
/// the first K items (each `context + continuation`, joined by a blank line) are
/// prepended to every later item's context and not scored themselves.
fn load_jsonl(path: &Path, shots: usize) -> Result<TaskSet> {
    let mut bad = Vec::new();
    let mut rows = Vec::new();
    for (line, m) in json_lines(path, &mut bad)? {
        let parsed = (|| -> Result<(String, String, String), String> {
            Ok((
                id_field(&m, "id")?,
                str_field(&m, "context")?.to_string(),
                str_field(&m, "continuation")?.to_string(),
            ))
        })();
        match parsed {
            Ok(r) => rows.push(r),
            Err(e) => bad.push(format!("{}:{line}: {e}", path.display())),
        }
    }
    if shots > rows.len() {
        bail!(
            "{}: --shots {shots} but only {} items",
            path.display(),
            rows.len()
        );
    }
    let prefix: String = rows[..shots]
        .iter()
        .map(|(_, c, k)| format!("{c}{k}\n\n"))
        .collect();
    let items: Vec<Item> = rows[shots..]
        .iter()
        .map(|(id, c, k)| Item {
            id: id.clone(),
            requests: vec![ScoreRequest {
                context: format!("{prefix}{c}"),
                continuation: k.clone(),
            }],
            answer: None,
        })
        .collect();
    check_unique_ids(&items, path)?;
    Ok(TaskSet {
        name: format!("jsonl:{}", stem(path)),
        template: format!("jsonl/v1/shots={shots}"),
        items,
        bad,
        no_reference: 0,
    })
}

/// A parsed multiple-choice question.
struct McRow {
    id: String,
    question: String,
    options: Vec<String>,
    answer: usize,
}

const LETTERS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];

/// Answer as a letter (`"B"`) or a 0-based index (`1`, `"1"`).
fn parse_answer(v: &str, n: usize) -> Result<usize, String> {
    let v = v.trim();
    let idx = match LETTERS.iter().position(|l| l.eq_ignore_ascii_case(v)) {
        Some(i) => i,
        None => v
            .parse::<usize>()
            .map_err(|_| format!("answer `{v}` is neither a letter nor an index"))?,
    };
    if idx >= n {
        return Err(format!("answer `{v}` but only {n} options"));
    }
    Ok(idx)
}

fn mc_from_json(m: &serde_json::Map<String, Value>, line: usize) -> Result<McRow, String> {
    let question = str_field(m, "question")?.to_string();
    let options: Vec<String> = match m.get("choices") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or("`choices` holds a non-string".to_string())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("field `choices` is not an array".into()),
        None => LETTERS
            .iter()
            .map_while(|l| m.get(*l).and_then(|v| v.as_str()).map(str::to_string))
            .collect(),
    };
    if options.len() < 2 || options.len() > LETTERS.len() {
        return Err(format!(
            "{} options; need 2 to {} (`choices` or fields A, B, …)",
            options.len(),
            LETTERS.len()
        ));
    }
    let answer = match m.get("answer") {
        Some(Value::String(s)) => parse_answer(s, options.len())?,
        Some(Value::Number(n)) => parse_answer(&n.to_string(), options.len())?,
        _ => return Err("missing field `answer` (letter or index)".into()),
    };
    let id = id_field(m, "id").unwrap_or_else(|_| line.to_string());
    Ok(McRow {
        id,
        question,
        options,
        answer,
    })
}

fn mc_rows_csv(path: &Path, bad: &mut Vec<String>) -> Result<Vec<McRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_path(path)
        .with_context(|| format!("opening task data {}", path.display()))?;
    let mut rows = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (i, rec) in rdr.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 1, |p| p.line() as usize);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("{}:{line}: {e}", path.display()));
                continue;
            }
        };
        let fields: Vec<String> = rec.iter().map(str::to_string).collect();
        if i == 0
            && fields
                .iter()
                .any(|f| f.trim().eq_ignore_ascii_case("question"))
        {
            header = Some(fields.iter().map(|f| f.trim().to_string()).collect());
            continue;
        }
        // Without a header: MMLU's layout `question,A,B,C,D,answer`.
        let names: Vec<String> = match &header {
            Some(h) => h.clone(),
            None => ["question", "A", "B", "C", "D", "answer"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if fields.len() != names.len() {
            bad.push(format!(
                "{}:{line}: {} fields, expected {}",
                path.display(),
                fields.len(),
                names.len()
            ));
            continue;
        }
        let m: serde_json::Map<String, Value> = names
            .into_iter()
            .zip(fields)
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        match mc_from_json(&m, line) {
            Ok(r) => rows.push(r),
            Err(e) => bad.push(format!("{}:{line}: {e}", path.display())),
        }
    }
    Ok(rows)
}

/// Multiple choice, template `mc/v1`:
/// `{question}\nA. {option A}\nB. {option B}…\nAnswer:` → ` {letter}` for every
/// option; with K shots, the first K questions with their answers come first,
/// separated by blank lines, and are not scored.
fn load_mc(path: &Path, shots: usize) -> Result<TaskSet> {
    let mut bad = Vec::new();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows = if is_csv {
        mc_rows_csv(path, &mut bad)?
    } else {
        let mut rows = Vec::new();
        for (line, m) in json_lines(path, &mut bad)? {
            match mc_from_json(&m, line) {
                Ok(r) => rows.push(r),
                Err(e) => bad.push(format!("{}:{line}: {e}", path.display())),
            }
        }
        rows
    };
    if shots > rows.len() {
        bail!(
            "{}: --shots {shots} but only {} questions",
            path.display(),
            rows.len()
        );
    }
    let render = |r: &McRow| {
        let mut s = r.question.trim().to_string();
        for (l, o) in LETTERS.iter().zip(&r.options) {
            s.push_str(&format!("\n{l}. {}", o.trim()));
        }
        s.push_str("\nAnswer:");
        s
    };
    let prefix: String = rows[..shots]
        .iter()
        .map(|r| format!("{} {}\n\n", render(r), LETTERS[r.answer]))
        .collect();
    let items: Vec<Item> = rows[shots..]
        .iter()
        .map(|r| {
            let context = format!("{prefix}{}", render(r));
            Item {
                id: r.id.clone(),
                requests: LETTERS[..r.options.len()]
                    .iter()
                    .map(|l| ScoreRequest {
                        context: context.clone(),
                        continuation: format!(" {l}"),
                    })
                    .collect(),
                answer: Some(r.answer),
            }
        })
        .collect();
    check_unique_ids(&items, path)?;
    Ok(TaskSet {
        name: format!("mc:{}", stem(path)),
        template: format!("mc/v1/shots={shots}"),
        items,
        bad,
        no_reference: 0,
    })
}
