//! `densing`: the command-line front end. Each subcommand lives in `cmd/<name>.rs`
//! as a clap `Args` struct plus a `run` function; `main` only dispatches and turns
//! errors into one clear message and a non-zero exit code.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "densing", version, about = "Capability density of LLMs and the Densing-Law trend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a loss law on a reference ladder or a score map on anchor models.
    Fit(cmd::fit::FitArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(args) => cmd::fit::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
