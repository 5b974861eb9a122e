//! `familydns trends` (print this instance's report) and `familydns trends merge` (sum
//! many instances' reports, and chart them).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Report, View, merge, read, since_day};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "config/familydns.toml")]
    config: PathBuf,
    /// The days to report: `30d` (the last 30 closed days) or a first date (`2026-11-01`).
    #[arg(long, default_value = "30d")]
    since: String,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Exact counts (cells under the threshold still suppressed), for this instance's
    /// operator only: without noise they are not for sharing.
    #[arg(long)]
    local: bool,
}

#[derive(clap::Subcommand)]
pub enum Merge {
    /// Sum many instances' reports (JSON or CSV, as `familydns trends` or `GET /trends`
    /// wrote them) into one, and optionally chart it as SVG.
    Merge {
        /// The reports, one per instance.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// Write a line chart of the merged report here.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

/// Runs `familydns trends [merge …]`, printing the report to stdout.
pub fn run(merge_command: Option<Merge>, args: Args) -> ExitCode {
    let result = match merge_command {
        Some(Merge::Merge { files, format, svg }) => {
            merged(&files, svg.as_deref()).map(|report| print(&report, format))
        }
        None => report(&args).map(|report| print(&report, args.format)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn print(report: &Report, format: Format) {
    match format {
        Format::Json => println!("{}", report.to_json()),
        Format::Csv => print!("{}", report.to_csv()),
    }
}

fn report(args: &Args) -> Result<Report, String> {
    let config = crate::config::load(&args.config).map_err(|e| e.to_string())?;
    let trends = config.trends.as_ref().ok_or_else(|| {
        format!(
            "{}: trends are off (add a [trends] section)",
            args.config.display()
        )
    })?;
    let since = since_day(&args.since, jiff::Timestamp::now())?;
    let view = if args.local {
        View::Local
    } else {
        View::Shared
    };
    read(trends, view, since).map_err(|e| e.to_string())
}

/// Reads every file, merges, and writes the chart.
fn merged(files: &[PathBuf], svg: Option<&std::path::Path>) -> Result<Report, String> {
    let reports = files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            Report::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let report = merge(&reports).map_err(|e| e.to_string())?;
    if let Some(path) = svg {
        std::fs::write(path, report.svg())
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    }
    Ok(report)
}
