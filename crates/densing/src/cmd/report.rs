//! `densing report`: draws the figures and `report.html` again from the
//! `report.json` a finished run left in its output folder, so a report can be
//! restyled or converted to PNG without refitting anything.

use crate::outputs::Outputs;
use anyhow::Context;
use clap::{Args, ValueEnum};
use densing_report::{write_report, Format, ReportInput};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Output folder of an earlier `densing run`; must hold `report.json`. The
    /// figures and `report.html` are written there too.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Image files to write beside `report.html` (the page always inlines SVG).
    #[arg(long, value_enum, default_value_t = FormatArg::Both)]
    pub format: FormatArg,
}

/// `--format` as clap sees it; shared with `densing run` so both spell it alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Svg,
    Png,
    Both,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Svg => Format::Svg,
            FormatArg::Png => Format::Png,
            FormatArg::Both => Format::Both,
        }
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let path = args.from.join("report.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (written by `densing run`)", path.display()))?;
    let input: ReportInput = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a densing report input", path.display()))?;
    let mut files = Outputs::new();
    let written = write_report(&input, &files.staging(&args.from)?, args.format.into())?;
    files.commit()?;
    let figures = written.len().saturating_sub(1);
    if let Some(page) = written.last().and_then(|p| p.file_name()) {
        println!(
            "wrote {} ({figures} figure files)",
            args.from.join(page).display()
        );
    }
    Ok(())
}
