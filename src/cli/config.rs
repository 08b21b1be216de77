//! `copilot-runner config`: the effective settings, where each came from, and every problem.
//!
//! Secrets are shown as masked; a value nobody set is shown as `-`. With problems, every one of
//! them is listed and the command exits 2, so a broken deployment is fixed in one round.

use std::io::Write as _;

use crate::config::{Env, Flags, Settings};
use crate::exit::Code;

#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    /// Print as JSON (`name`, `value`, `source`) instead of a table
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ConfigArgs, env: &Env, flags: &Flags) -> Code {
    let (shown, errors) = Settings::inspect(env, flags);
    let mut out = String::new();
    if args.json {
        let rows: Vec<_> = shown
            .iter()
            .map(|row| {
                serde_json::json!({
                    "name": row.name,
                    "value": row.value,
                    "source": row.source.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        let errors: Vec<_> = errors.iter().map(ToString::to_string).collect();
        out = serde_json::json!({ "settings": rows, "errors": errors }).to_string();
        out.push('\n');
    } else {
        let width = shown.iter().map(|row| row.name.len()).max().unwrap_or(0);
        for row in &shown {
            let value = row.value.as_deref().unwrap_or("-");
            let source = row.source.as_ref().map_or_else(|| "unset".to_owned(), ToString::to_string);
            out.push_str(&format!("{:width$}  {value}  ({source})\n", row.name));
        }
    }
    let _ = std::io::stdout().lock().write_all(crate::redact::redact(&out).as_bytes());
    if errors.is_empty() {
        return Code::Done;
    }
    if !args.json {
        let text = format!("error: {}\n", crate::config::ConfigErrors(errors));
        let _ = std::io::stderr().lock().write_all(crate::redact::redact(&text).as_bytes());
    }
    Code::Usage
}
