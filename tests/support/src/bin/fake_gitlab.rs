//! `fake-gitlab`: runs the test rig's fake GitLab as a standalone server so scripts and CI
//! templates can exercise copilot-runner against it. Prints one JSON line with the URL and
//! the tokens on stdout, then serves until killed. What it received is at
//! `GET /-/fake-gitlab/requests` (its request log, as JSON).

use std::net::SocketAddr;

use clap::Parser;
use copilot_runner_testkit::fake_gitlab::{FakeGitLab, Seed};

#[derive(Debug, Parser)]
#[command(about = "A stateful fake GitLab (REST API v4 + git smart HTTP) for tests")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A JSON file with `{"users": [...], "projects": [...]}` replacing the standard seed.
    #[arg(long)]
    seed: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => {
            let text = tokio::fs::read_to_string(path).await?;
            serde_json::from_str::<Seed>(&text)?
        }
        None => Seed::standard(),
    };
    let fake = FakeGitLab::start_on(args.listen, seed).await?;
    let ready = fake.describe();
    #[expect(clippy::print_stdout, reason = "the ready line is this program's output")]
    {
        println!("{ready}");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
