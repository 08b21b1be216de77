//! `mock-model SCRIPT.json [PORT]`: serves a mock model script so scripts and people can point
//! the Copilot CLI at it (`COPILOT_OFFLINE=true COPILOT_PROVIDER_BASE_URL=<printed url>`).

use anyhow::Context as _;
use copilot_runner_testkit::mock_model::{MockModel, Script};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: mock-model SCRIPT.json [PORT]")?;
    let port: u16 = args.next().map(|port| port.parse()).transpose().context("while reading PORT")?.unwrap_or(0);
    let text = std::fs::read_to_string(&path).with_context(|| format!("while reading `{path}`"))?;
    let script: Script = serde_json::from_str(&text).with_context(|| format!("while parsing `{path}`"))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.context("while binding the port")?;
    let model = MockModel::serve(listener, script)?;
    #[expect(clippy::print_stdout, reason = "the URL is this program's output")]
    {
        println!("{}", model.base_url());
    }
    tokio::signal::ctrl_c().await.context("while waiting for ctrl-c")?;
    Ok(())
}
