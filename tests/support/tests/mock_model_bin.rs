//! The `mock-model` binary serves a script from a JSON file and prints its base URL.
#![expect(clippy::disallowed_methods, reason = "the test runs the built binary")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn serves_a_json_script_and_prints_its_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("script.json");
    std::fs::write(&script, r#"{"rules": [{"marker": "ping", "replies": [{"kind": "text", "text": "pong"}]}]}"#)
        .expect("write script");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-model"))
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start mock-model");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut url).expect("read the url");
    let addr = url.trim().trim_start_matches("http://").trim_end_matches("/v1").to_owned();

    let body = r#"{"messages": [{"role": "user", "content": "ping"}]}"#;
    let mut socket = TcpStream::connect(&addr).expect("connect");
    write!(
        socket,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("read");
    child.kill().expect("stop mock-model");
    child.wait().expect("reap mock-model");
    assert!(response.contains(r#""content":"pong""#), "{response}");
}
