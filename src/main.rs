//! The `copilot-runner` binary: parses the command line and hands over to the library. All logic
//! lives in `copilot_runner::cli`; this file only turns the outcome into a process exit code.

fn main() -> std::process::ExitCode {
    copilot_runner::cli::main()
}
