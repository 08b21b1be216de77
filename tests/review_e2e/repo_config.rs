//! A repository's `.gitlab/copilot-agent.yml` in a review: read from the default branch only, its
//! exclusions and inline limit hold, and a bad key gets one note naming its line while the
//! review goes on.

use serde_json::json;

use super::{NEW_LIB_RS, PROJECT, Rig, finding, review_prompts, run_ok};
use copilot_runner_testkit::mock_model::MockModel;

const AGENT_FILE: &str = ".gitlab/copilot-agent.yml";
const EXCLUDE_LIB: &str = "review:\n  exclude: [\"src/lib.rs\"]\n";

/// Commits `text` as the agent file on `main`, as a maintainer would.
async fn on_default_branch(rig: &Rig, text: &str) {
    rig.gitlab.push_files(PROJECT, "main", &[(AGENT_FILE, Some(text))], "Agent rules", "alice").await.unwrap();
}

#[tokio::test]
async fn the_merge_requests_own_agent_file_is_ignored_and_the_default_branchs_excludes() {
    let rig = Rig::new().await;
    let findings = json!([finding("src/lib.rs", 8, "The temporary is needless")]).to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();

    // The author excludes the file they changed on their own branch: it is reviewed anyway.
    let own =
        rig.open_mr("feature/own-rules", &[("src/lib.rs", Some(NEW_LIB_RS)), (AGENT_FILE, Some(EXCLUDE_LIB))]).await;
    run_ok(&rig.job(&model, own).await).await;
    assert_eq!(rig.inline(own).len(), 1, "the finding on src/lib.rs is a thread");
    assert!(review_prompts(&rig.artifacts()).iter().any(|prompt| prompt.contains("let d = a - b;")));

    // Control: the same rule on the default branch keeps src/lib.rs out of the review.
    on_default_branch(&rig, EXCLUDE_LIB).await;
    let excluded = rig.open_mr("feature/excluded", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    run_ok(&rig.job(&model, excluded).await).await;
    assert!(rig.inline(excluded).is_empty(), "{:#?}", rig.inline(excluded));
    assert!(review_prompts(&rig.artifacts()).iter().all(|prompt| !prompt.contains("let d = a - b;")));
    let summary = rig.summaries(excluded).pop().unwrap();
    assert!(summary.contains("`src/lib.rs`: excluded by the repository (`.gitlab/copilot-agent.yml`)"), "{summary}");
    let asked = rig.gitlab.requests_to("GET /projects/*/repository/files/*/raw");
    assert!(asked.iter().all(|request| request.query.as_deref() == Some("ref=main")), "{asked:#?}");
}

#[tokio::test]
async fn a_bad_key_gets_one_note_with_its_line_and_the_limit_still_holds() {
    let rig = Rig::new().await;
    on_default_branch(&rig, "review:\n  max_inline_comments: 1\n  colour: red\nmax_premium_requests: many\n").await;
    let findings = json!([
        finding("src/lib.rs", 8, "The temporary is needless"),
        finding("src/lib.rs", 9, "Return the expression"),
    ])
    .to_string();
    let model = MockModel::start(rig.script(&findings)).await.unwrap();
    let mr_iid = rig.open_mr("feature/limited", &[("src/lib.rs", Some(NEW_LIB_RS))]).await;
    let job = rig.job(&model, mr_iid).await;
    run_ok(&job).await;

    // The limit of one inline discussion held; the other finding went to the summary.
    assert_eq!(rig.inline(mr_iid).len(), 1);
    let summary = rig.summaries(mr_iid).pop().unwrap();
    assert!(summary.contains("beyond the limit of 1 inline discussion"), "{summary}");
    let notes = |rig: &Rig| -> Vec<String> {
        rig.agent_notes(mr_iid)
            .into_iter()
            .map(|note| note.body)
            .filter(|body| body.contains("copilot-runner:repo-config"))
            .collect()
    };
    let noted = notes(&rig);
    assert_eq!(noted.len(), 1, "{noted:#?}");
    assert!(noted[0].contains("`.gitlab/copilot-agent.yml`") && noted[0].contains("`main`"), "{}", noted[0]);
    assert!(noted[0].contains("line 3, `review.colour`: allowed is `exclude`"), "{}", noted[0]);
    assert!(noted[0].contains("line 4, `max_premium_requests`: allowed is a number"), "{}", noted[0]);

    // A new commit reviewed again: the same note is edited, not posted twice.
    let again = NEW_LIB_RS.replace("a * b", "b * a");
    rig.gitlab.push_files(PROJECT, "feature/limited", &[("src/lib.rs", Some(&again))], "Swap", "alice").await.unwrap();
    run_ok(&job).await;
    assert_eq!(rig.summaries(mr_iid).len(), 2, "the second review ran");
    assert_eq!(notes(&rig).len(), 1, "{:#?}", notes(&rig));
}
