//! The command line: one file per subcommand, dispatch in one place.

use std::process::ExitCode;

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
