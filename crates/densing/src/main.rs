//! `densing`: the command-line front end. Each subcommand lives in `cmd/<name>.rs`
//! as a clap `Args` struct plus a `run` function; `main` only dispatches and turns
//! errors into one clear message and a non-zero exit code.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};

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
    /// Measure the trend estimators on synthetic registries drawn from a known law.
    Simulate(cmd::simulate::SimulateArgs),
    /// Serve a model file over an OpenAI-compatible /v1/completions (vLLM semantics).
    Serve(cmd::serve::ServeArgs),
}

fn main() {
    let cli = Cli::parse();
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
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
