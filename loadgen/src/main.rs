//! The `loadgen` binary: parses the command line, runs the load and prints its figures; the exit status is
//! non-zero when any sign-in failed.

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = loadgen::Args::parse();
    match loadgen::run_blocking(&args) {
        Ok(report) => {
            report.print(args.json);
            if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}
