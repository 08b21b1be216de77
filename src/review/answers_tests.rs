use super::*;

const A: &str = "6a2b0c";
const B: &str = "9f3c1d";

fn answers(text: &str) -> ParsedAnswers {
    parse_answers(text, &[A, B])
}

#[test]
fn the_prompt_example_parses() {
    let parsed = answers(
        r#"[{"thread": "6a2b0c", "outcome": "fixed", "reason": "Renamed the helper."},
            {"thread": " 9f3c1d ", "outcome": "left", "reason": "  A question for the author.  "}]"#,
    );
    assert_eq!(parsed.problems, Vec::<String>::new());
    assert_eq!(parsed.retry_request("answers.json"), None);
    assert_eq!(parsed.answers[A], Answer { outcome: Outcome::Fixed, reason: "Renamed the helper.".into() });
    assert_eq!(parsed.answers[B], Answer { outcome: Outcome::Left, reason: "A question for the author.".into() });
}

#[test]
fn garbage_is_one_clear_problem() {
    for (text, expected) in [
        ("not json", "the file is not valid JSON"),
        (r#"{"thread": "6a2b0c"}"#, "the file must hold one JSON array, found an object"),
        ("", "the file is not valid JSON"),
    ] {
        let parsed = answers(text);
        assert!(parsed.answers.is_empty());
        assert_eq!(parsed.problems.len(), 1, "{text}: {:?}", parsed.problems);
        assert!(parsed.problems[0].starts_with(expected), "{text}: {:?}", parsed.problems);
        let retry = parsed.retry_request("answers.json").unwrap();
        assert!(retry.contains("`answers.json` is not valid") && retry.contains(expected), "{retry}");
    }
}

#[test]
fn an_unknown_thread_is_a_problem_and_its_answer_is_dropped() {
    let parsed = answers(
        r#"[{"thread": "6a2b0c", "outcome": "fixed", "reason": "Done."},
            {"thread": "deadbeef", "outcome": "fixed", "reason": "Done."},
            {"thread": "9f3c1d", "outcome": "left", "reason": "Needs a person."}]"#,
    );
    assert_eq!(parsed.answers.len(), 2);
    assert!(!parsed.answers.contains_key("deadbeef"));
    assert_eq!(
        parsed.problems,
        ["answer 2 (index 1): `thread` \"deadbeef\" is not one of the threads listed in the prompt"]
    );
}

#[test]
fn a_missing_thread_is_a_problem_and_the_others_survive() {
    let parsed = answers(r#"[{"thread": "6a2b0c", "outcome": "fixed", "reason": "Done."}]"#);
    assert_eq!(parsed.answers.keys().collect::<Vec<_>>(), [A]);
    assert_eq!(parsed.problems, ["no answer for thread(s) `9f3c1d`; answer every thread"]);
}

#[test]
fn a_thread_answered_twice_keeps_its_first_answer() {
    let parsed = answers(
        r#"[{"thread": "6a2b0c", "outcome": "fixed", "reason": "Done."},
            {"thread": "6a2b0c", "outcome": "left", "reason": "Not done."},
            {"thread": "9f3c1d", "outcome": "left", "reason": "Later."}]"#,
    );
    assert_eq!(parsed.answers[A].outcome, Outcome::Fixed);
    assert_eq!(parsed.problems, ["answer 2 (index 1): thread `6a2b0c` is answered twice; answer each thread once"]);
}

#[test]
fn each_broken_key_is_named() {
    let parsed = answers(
        r#"[{"thread": 7, "outcome": "done", "reason": "", "note": 1},
            {"thread": "9f3c1d", "reason": "two\nlines"},
            "fixed"]"#,
    );
    assert!(parsed.answers.is_empty());
    let expected = [
        "answer 1 (index 0): unknown key `note`; the keys are `thread`, `outcome` and `reason`",
        "answer 1 (index 0): `thread` must be a string, found a number",
        "answer 1 (index 0): `outcome` must be \"fixed\" or \"left\", found \"done\"",
        "answer 1 (index 0): `reason` must not be empty",
        "answer 2 (index 1): `outcome` is missing; it must be \"fixed\" or \"left\"",
        "answer 2 (index 1): `reason` must be one line",
        "answer 3 (index 2): must be an object, found a string",
        "no answer for thread(s) `6a2b0c`, `9f3c1d`; answer every thread",
    ];
    assert_eq!(parsed.problems, expected);
}

#[test]
fn a_long_reason_is_refused() {
    let long = "x".repeat(MAX_REASON_CHARS + 1);
    let text = format!(r#"[{{"thread": "6a2b0c", "outcome": "fixed", "reason": "{long}"}}]"#);
    let parsed = parse_answers(&text, &[A]);
    assert!(parsed.answers.is_empty());
    assert_eq!(
        parsed.problems[0],
        format!("answer 1 (index 0): `reason` must be at most {MAX_REASON_CHARS} characters")
    );
}

#[test]
fn answers_survive_the_trip_through_a_commit_message() {
    let parsed = answers(
        r#"[{"thread": "6a2b0c", "outcome": "fixed", "reason": "Renamed: `helper` is now `parse`."},
            {"thread": "9f3c1d", "outcome": "left", "reason": "A question for the author."}]"#,
    );
    let message = format!(
        "Address review threads (!3)\n\n{}\n\nCopilot-Stage: address_threads\n",
        commit_lines(&parsed.answers).join("\n")
    );
    assert_eq!(from_commit(&message), parsed.answers);
    assert!(from_commit("Thread 6a2b0c maybe: no\nThread a/b fixed: no\nThread : fixed: x").is_empty());
}
