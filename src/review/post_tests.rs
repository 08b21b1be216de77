use crate::gitlab::types::FileDiff;
use crate::review::diff::LineMap;
use crate::review::findings::Category;

use super::*;

const HUNKS: &str = "@@ -1,4 +1,5 @@\n use std::io;\n-fn old() {}\n+fn new() {}\n+fn more() {}\n \n fn a() {}\n@@ -20,3 +21,2 @@ fn b() {\n ctx20\n-gone21\n ctx22\n";

fn map() -> LineMap {
    LineMap::from_file_diffs(&[
        FileDiff {
            old_path: "src/lib.rs".into(),
            new_path: "src/lib.rs".into(),
            a_mode: None,
            b_mode: None,
            diff: HUNKS.into(),
            new_file: false,
            renamed_file: false,
            deleted_file: false,
            generated_file: None,
        },
        FileDiff {
            old_path: "logo.png".into(),
            new_path: "logo.png".into(),
            a_mode: None,
            b_mode: None,
            diff: "Binary files a/logo.png and b/logo.png differ\n".into(),
            new_file: false,
            renamed_file: false,
            deleted_file: false,
            generated_file: None,
        },
    ])
    .expect("diff parses")
}

fn prompts() -> Prompts {
    Prompts::new(None).expect("templates")
}

fn refs() -> DiffRefs {
    DiffRefs { base_sha: "base".into(), head_sha: "head".into(), start_sha: "start".into() }
}

fn finding(side: Side, line: u32, end_line: Option<u32>, replacement: Option<&str>) -> Finding {
    Finding {
        file: "src/lib.rs".into(),
        line,
        end_line,
        side,
        severity: Severity::Major,
        category: Category::Correctness,
        title: "Handle the `None` case".into(),
        body: "This panics when @all sends <b>nothing</b>.".into(),
        replacement: replacement.map(str::to_owned),
    }
}

#[test]
fn an_added_line_gets_only_new_line() {
    let placement = place(&finding(Side::New, 2, None, None), &map(), &refs()).expect("placed");
    let position = placement.position;
    assert_eq!((position.old_line, position.new_line, position.line_range), (None, Some(2), None));
    assert_eq!(
        (position.base_sha.as_str(), position.start_sha.as_str(), position.head_sha.as_str()),
        ("base", "start", "head")
    );
    assert_eq!((position.old_path.as_deref(), position.new_path.as_deref()), (Some("src/lib.rs"), Some("src/lib.rs")));
    assert_eq!(position.position_type, "text");
}

#[test]
fn a_removed_line_gets_only_old_line_and_no_suggestion() {
    let placement = place(&finding(Side::Old, 21, None, Some("x")), &map(), &refs()).expect("placed");
    assert_eq!((placement.position.old_line, placement.position.new_line), (Some(21), None));
    assert_eq!(placement.suggestion, None);
}

#[test]
fn a_context_line_gets_both_lines_inside_and_between_hunks() {
    let placement = place(&finding(Side::New, 1, None, None), &map(), &refs()).expect("placed");
    assert_eq!((placement.position.old_line, placement.position.new_line), (Some(1), Some(1)));
    let between = place(&finding(Side::New, 12, None, None), &map(), &refs()).expect("between hunks");
    assert_eq!((between.position.old_line, between.position.new_line), (Some(11), Some(12)));
    let old_side = place(&finding(Side::Old, 4, None, None), &map(), &refs()).expect("context by old number");
    assert_eq!((old_side.position.old_line, old_side.position.new_line), (Some(4), Some(5)));
}

#[test]
fn a_multi_line_finding_spans_a_line_range_with_an_exact_suggestion() {
    let finding = finding(Side::New, 2, Some(4), Some("fn renamed() {}\nfn more() {}\n"));
    let placement = place(&finding, &map(), &refs()).expect("placed");
    let range = placement.position.line_range.clone().expect("line range");
    let sha = "b24749917179fb5e3e613ed2a703fcdcc6cdf9da";
    assert_eq!(
        range.start,
        LinePoint { line_code: format!("{sha}_3_2"), line_type: Some("new".into()), old_line: None, new_line: Some(2) }
    );
    assert_eq!(
        range.end,
        LinePoint { line_code: format!("{sha}_3_4"), line_type: None, old_line: Some(3), new_line: Some(4) }
    );
    // Anchored on the last line, a context line: both numbers.
    assert_eq!((placement.position.old_line, placement.position.new_line), (Some(3), Some(4)));
    assert_eq!(placement.suggestion, Some(SuggestionSpan { above: 2, below: 0 }));
    insta::assert_snapshot!(render_body(&prompts(), Language::En, &finding, placement.suggestion).expect("renders"), @r#"
    🟠 **Major** · correctness · **Handle the \`None\` case**

    This panics when \@all sends \<b\>nothing\</b\>.

    ```suggestion:-2+0
    fn renamed() {}
    fn more() {}
    ```

    <!-- copilot-runner:finding 6f3b05a63935a255 -->
    "#);
}

#[test]
fn a_replacement_holding_a_fence_gets_four_backticks() {
    let replacement = "/// ```\n/// let x = 1;\n/// ```";
    let finding = finding(Side::New, 3, None, Some(replacement));
    let placement = place(&finding, &map(), &refs()).expect("placed");
    let body = render_body(&prompts(), Language::En, &finding, placement.suggestion).expect("renders");
    assert!(body.contains("\n````suggestion:-0+0\n/// ```\n/// let x = 1;\n/// ```\n````\n"), "{body}");
}

#[test]
fn findings_off_the_diff_are_unplaceable() {
    let map = map();
    let unknown = Finding { file: "src/other.rs".into(), ..finding(Side::New, 1, None, None) };
    assert_eq!(place(&unknown, &map, &refs()), Err(Unplaceable::UnknownFile("src/other.rs".into())));
    let binary = Finding { file: "logo.png".into(), ..finding(Side::New, 1, None, None) };
    assert_eq!(place(&binary, &map, &refs()), Err(Unplaceable::BinaryFile("logo.png".into())));
    // Past the last hunk, the length of the file is unknown.
    let far = finding(Side::New, 500, None, None);
    assert_eq!(
        place(&far, &map, &refs()).map_err(|error| error.to_string()),
        Err("`src/lib.rs` has no line 500 on the new side that the diff can show".to_owned())
    );
    let plan = plan_review(vec![far, unknown], &map, &refs(), &[]);
    assert!(plan.inline.is_empty());
    assert_eq!(plan.unplaced.len(), 2);
    let summary = plan.summary(0, "0123456789abcdef", Some("fedcba"));
    assert_eq!(summary.unplaced[0].file.span(), "`src/lib.rs`");
    assert_eq!(summary.unplaced[0].line, Some(500));
    assert_eq!(summary.marker.as_str(), "<!-- copilot-runner:review head=0123456789abcdef -->");
    assert_eq!((summary.verdict, summary.counts.major, summary.inline_count), (Verdict::RequestChanges, 2, 0));
    let rendered = prompts().render_message(Language::En, &summary).expect("summary renders");
    assert!(rendered.contains("#### Findings outside the diff"), "{rendered}");
    assert!(rendered.contains("`src/lib.rs`:500"), "{rendered}");
}

#[test]
fn the_verdict_follows_the_worst_severity() {
    let counts = |critical, major, minor, info| SeverityCounts { critical, major, minor, info };
    assert_eq!(verdict(&counts(1, 0, 0, 0)), Verdict::RequestChanges);
    assert_eq!(verdict(&counts(0, 2, 5, 0)), Verdict::RequestChanges);
    assert_eq!(verdict(&counts(0, 0, 1, 3)), Verdict::Comment);
    assert_eq!(verdict(&counts(0, 0, 0, 3)), Verdict::Approve);
    assert_eq!(verdict(&counts(0, 0, 0, 0)), Verdict::Approve);
}

#[test]
fn a_review_never_posts_a_finding_twice() {
    let first = finding(Side::New, 2, None, None);
    let again_same_review = Finding { line: 3, ..first.clone() };
    let minor =
        Finding { severity: Severity::Minor, title: "Name it better".into(), ..finding(Side::New, 3, None, None) };
    let posted = [crate::review::findings::PostedFinding {
        file: "src/lib.rs".into(),
        line: Some(40),
        title: None,
        fingerprint: Some(minor.fingerprint()),
        resolved: true,
        kind: None,
    }];
    let plan = plan_review(vec![first, again_same_review, minor], &map(), &refs(), &posted);
    assert_eq!(plan.inline.len(), 1);
    assert_eq!(plan.repeated.len(), 1);
    assert_eq!(plan.repeated[0].title, "Name it better");
    assert_eq!((plan.counts.major, plan.counts.minor), (1, 1));
    assert_eq!(plan.verdict, Verdict::RequestChanges);
    let body = plan.inline[0].body(&prompts(), Language::Zh).expect("renders");
    assert!(body.starts_with("🟠 **重要** · correctness · **"), "{body}");
    assert!(body.trim_end().ends_with(plan.inline[0].finding.fingerprint().marker().as_str()), "{body}");
}

#[test]
fn an_incremental_review_keeps_only_findings_on_lines_changed_since() {
    // Since the previous review only line 3 of the new file changed.
    let since = LineMap::from_git_diff(
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -3 +3 @@\n-fn more_old() {}\n+fn more() {}\n",
    )
    .expect("since diff");
    let on_new_line = finding(Side::New, 3, None, None);
    let range_touching = Finding { title: "Range".into(), ..finding(Side::New, 1, Some(3), None) };
    let on_old_code = Finding { title: "Old".into(), ..finding(Side::New, 2, None, None) };
    let removed_side = Finding { title: "Removed".into(), ..finding(Side::Old, 21, None, None) };
    let other_file = Finding { file: "src/other.rs".into(), ..finding(Side::New, 1, None, None) };
    let (kept, dropped) =
        split_by_changes_since(vec![on_new_line, range_touching, on_old_code, removed_side, other_file], &since);
    let titles = |findings: &[Finding]| findings.iter().map(|f| format!("{}:{}", f.file, f.title)).collect::<Vec<_>>();
    assert_eq!(titles(&kept), ["src/lib.rs:Handle the `None` case", "src/lib.rs:Range", "src/lib.rs:Removed"]);
    assert_eq!(titles(&dropped), ["src/lib.rs:Old", "src/other.rs:Handle the `None` case"]);
}
