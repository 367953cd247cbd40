//! `densing`: the command-line front end. Each subcommand lives in `cmd/<name>.rs`
//! as a clap `Args` struct plus a `run` function; `main` only dispatches and turns
//! errors into one clear message and a non-zero exit code.

mod cmd;
mod outputs;
mod progress;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "densing",
    version,
    about = "Capability density of LLMs and the Densing-Law trend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: densities of the registry's models and the Densing-Law trend.
    Run(cmd::run::RunArgs),
    /// One capability per model over every benchmark (IRT), read as N̂ and ρ through a reference family.
    Capability(cmd::capability::CapabilityArgs),
    /// Density of your own model, placed against the registry and the trend.
    Density(cmd::density::DensityArgs),
    /// List and validate the model registry.
    Models(cmd::models::ModelsArgs),
    /// Fit a loss law on a reference ladder or a score map on anchor models.
    Fit(cmd::fit::FitArgs),
    /// Predict an untrained model's loss and score per task from a ladder of runs.
    Predict(cmd::predict::PredictArgs),
    /// Score a model's conditional loss on a benchmark (resumable results store).
    Eval(cmd::eval::EvalArgs),
    /// Draw the figures and the HTML report again from a run folder's report.json.
    Report(cmd::report::ReportArgs),
    /// The trend statistics on your own table of densities (model,family,release_date,rho,censor).
    Trend(cmd::trend::TrendCmdArgs),
    /// Measure the trend estimators on synthetic registries drawn from a known law.
    Simulate(cmd::simulate::SimulateArgs),
    /// Serve a model file over an OpenAI-compatible /v1/completions (vLLM semantics).
    Serve(cmd::serve::ServeArgs),
    /// Export a model file's tokenizer as a Hugging Face tokenizer directory.
    Tokenizer(cmd::tokenizer::TokenizerArgs),
}

/// Every option's value may start with `-`: `--params -7` is read as the number
/// −7 (and then refused by the option's own check with a message), not as an
/// unknown flag `-7`.
fn negatives_as_values(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        if a.get_action().takes_values() {
            a.allow_negative_numbers(true)
        } else {
            a
        }
    })
    .mut_subcommands(negatives_as_values)
}

fn main() {
    let matches = negatives_as_values(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    outputs::remove_on_interrupt();
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Models(args) => cmd::models::run(args),
        Command::Capability(args) => cmd::capability::run(args),
        Command::Density(args) => cmd::density::run(args),
        Command::Fit(args) => cmd::fit::run(args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Trend(args) => cmd::trend::run(args),
        Command::Tokenizer(args) => cmd::tokenizer::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
