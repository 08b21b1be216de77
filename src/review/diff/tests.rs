use proptest::prelude::*;

use super::*;

fn gitlab_file(old_path: &str, new_path: &str, diff: &str) -> FileDiff {
    FileDiff {
        old_path: old_path.into(),
        new_path: new_path.into(),
        a_mode: Some("100644".into()),
        b_mode: Some("100644".into()),
        diff: diff.into(),
        new_file: false,
        renamed_file: old_path != new_path,
        deleted_file: false,
        generated_file: None,
    }
}

const TWO_HUNKS: &str = "@@ -1,4 +1,5 @@\n use std::io;\n-fn old() {}\n+fn new() {}\n+fn more() {}\n \n fn a() {}\n@@ -20,3 +21,2 @@ fn b() {\n ctx20\n-gone21\n ctx22\n";

#[test]
fn added_removed_and_context_lines_carry_their_numbers() {
    let file = FileMap::from_file_diff(&gitlab_file("src/lib.rs", "src/lib.rs", TWO_HUNKS)).expect("parses");
    assert_eq!(file.hunks.len(), 2);
    let added = file.locate(Side::New, 3).expect("added line");
    assert_eq!((added.kind, added.old_line, added.new_line), (LineKind::Added, None, Some(3)));
    let removed = file.locate(Side::Old, 2).expect("removed line");
    assert_eq!((removed.kind, removed.old_line, removed.new_line), (LineKind::Removed, Some(2), None));
    let context = file.locate(Side::New, 5).expect("empty context line");
    assert_eq!((context.kind, context.old_line, context.new_line), (LineKind::Context, Some(4), Some(5)));
    assert_eq!(file.text(Side::New, 2), Some("fn new() {}"));
    assert_eq!((file.added_count(), file.removed_count()), (2, 2));
}

#[test]
fn unchanged_lines_between_hunks_follow_the_offset() {
    let file = FileMap::from_file_diff(&gitlab_file("src/lib.rs", "src/lib.rs", TWO_HUNKS)).expect("parses");
    // Between the hunks the new file is one line ahead.
    let between = file.locate(Side::New, 10).expect("between hunks");
    assert_eq!(
        (between.kind, between.old_line, between.new_line, between.in_hunk),
        (LineKind::Context, Some(9), Some(10), false)
    );
    assert_eq!(file.locate(Side::Old, 9), Some(between));
    assert_eq!(between.line_code("src/lib.rs"), "b24749917179fb5e3e613ed2a703fcdcc6cdf9da_9_10");
    // After the last hunk the length is unknown until the checkout tells it.
    assert_eq!(file.locate(Side::New, 30), None);
    let file = file.with_new_line_count(40);
    let after = file.locate(Side::New, 30).expect("after the last hunk");
    // The second hunk removed the line the first one added.
    assert_eq!((after.old_line, after.new_line), (Some(30), Some(30)));
    assert_eq!(file.old_line_count(), Some(40));
    assert_eq!(file.locate(Side::New, 41), None);
    assert_eq!(file.locate(Side::Old, 41), None);
    assert_eq!(file.locate(Side::Old, 40).map(|at| at.new_line), Some(Some(40)));
    assert_eq!(file.locate(Side::New, 0), None);
}

#[test]
fn line_codes_use_gitlab_running_counters() {
    let file = FileMap::from_file_diff(&gitlab_file("src/lib.rs", "src/lib.rs", TWO_HUNKS)).expect("parses");
    let sha = "b24749917179fb5e3e613ed2a703fcdcc6cdf9da";
    // An added line keeps the old counter at the next old line; a removed one the new counter.
    assert_eq!(file.locate(Side::New, 2).expect("added").line_code("src/lib.rs"), format!("{sha}_3_2"));
    assert_eq!(file.locate(Side::New, 3).expect("added").line_code("src/lib.rs"), format!("{sha}_3_3"));
    assert_eq!(file.locate(Side::Old, 2).expect("removed").line_code("src/lib.rs"), format!("{sha}_2_2"));
    assert_eq!(file.locate(Side::Old, 21).expect("removed").line_code("src/lib.rs"), format!("{sha}_21_22"));
}

#[test]
fn gitlab_diff_text_may_keep_its_file_header_lines() {
    let text = "--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-1.9.7\n+1.9.8\n";
    let file = FileMap::from_file_diff(&gitlab_file("VERSION", "VERSION", text)).expect("parses");
    assert_eq!(file.locate(Side::New, 1).map(|at| at.kind), Some(LineKind::Added));
    assert_eq!(file.locate(Side::Old, 1).map(|at| at.kind), Some(LineKind::Removed));
}

#[test]
fn a_missing_newline_at_the_end_tells_the_file_length() {
    let text = "@@ -8,2 +8,3 @@\n keep\n-last\n\\ No newline at end of file\n+last\n+really last\n\\ No newline at end of file\n";
    let file = FileMap::from_file_diff(&gitlab_file("a.txt", "a.txt", text)).expect("parses");
    let hunk = &file.hunks[0];
    assert!(hunk.old_missing_newline && hunk.new_missing_newline);
    assert_eq!(file.new_line_count(), Some(10));
    assert_eq!(file.old_line_count(), Some(9));
    assert_eq!(file.locate(Side::New, 3).map(|at| at.old_line), Some(Some(3)));
    assert_eq!(file.locate(Side::New, 11), None);
}

#[test]
fn a_hunk_shorter_than_its_header_is_refused() {
    let error = FileMap::from_file_diff(&gitlab_file("a.rs", "a.rs", "@@ -1,3 +1,3 @@\n a\n-b\n")).expect_err("short");
    assert_eq!(error.to_string(), "malformed diff of `a.rs` at line 4: the hunk has fewer lines than its header says");
    let error = FileMap::from_file_diff(&gitlab_file("a.rs", "a.rs", "garbage\n")).expect_err("no header");
    assert!(error.to_string().contains("expected a hunk header, found `garbage`"), "{error}");
}

const GIT_DIFF: &str = "\
diff --git a/src/old name.rs b/src/new name.rs
similarity index 90%
rename from src/old name.rs
rename to src/new name.rs
index 1111111..2222222 100644
--- a/src/old name.rs
+++ b/src/new name.rs
@@ -1,2 +1,2 @@
 keep
-old
+new
diff --git a/docs/moved.md b/docs/here.md
similarity index 100%
rename from docs/moved.md
rename to docs/here.md
diff --git a/added.txt b/added.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/added.txt
@@ -0,0 +1,2 @@
+one
+two
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4444444..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/logo.png b/logo.png
index 5555555..6666666 100644
Binary files a/logo.png and b/logo.png differ
diff --git \"a/tab\\there.txt\" \"b/tab\\there.txt\"
index 7777777..8888888 100644
--- \"a/tab\\there.txt\"
+++ \"b/tab\\there.txt\"
@@ -1 +1 @@
-x
+y
";

#[test]
fn git_diff_headers_give_renames_new_deleted_and_binary_files() {
    let map = LineMap::from_git_diff(GIT_DIFF).expect("parses");
    let paths: Vec<(&str, &str)> = map.files().iter().map(|f| (f.old_path.as_str(), f.new_path.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("src/old name.rs", "src/new name.rs"),
            ("docs/moved.md", "docs/here.md"),
            ("added.txt", "added.txt"),
            ("gone.txt", "gone.txt"),
            ("logo.png", "logo.png"),
            ("tab\there.txt", "tab\there.txt"),
        ]
    );
    let renamed = map.file("src/new name.rs").expect("renamed");
    assert!(renamed.renamed_file && !renamed.new_file);
    assert_eq!(renamed.locate(Side::New, 2).map(|at| at.kind), Some(LineKind::Added));
    assert_eq!(map.file("src/old name.rs").map(|f| f.new_path.as_str()), Some("src/new name.rs"));
    let pure_rename = map.file("docs/here.md").expect("pure rename");
    assert!(pure_rename.renamed_file && pure_rename.hunks.is_empty());
    assert_eq!(pure_rename.clone().with_new_line_count(3).locate(Side::New, 2).map(|at| at.old_line), Some(Some(2)));
    let added = map.file("added.txt").expect("new file");
    assert!(added.new_file);
    assert_eq!(added.new_line_count(), Some(2));
    let added_line = added.locate(Side::New, 2).expect("added");
    assert_eq!((added_line.kind, added_line.old_pos), (LineKind::Added, 0));
    let gone = map.file("gone.txt").expect("deleted file");
    assert!(gone.deleted_file);
    assert_eq!(gone.locate(Side::Old, 1).map(|at| at.kind), Some(LineKind::Removed));
    assert_eq!(gone.locate(Side::New, 1), None);
    let binary = map.file("logo.png").expect("binary");
    assert!(binary.binary && binary.locate(Side::New, 1).is_none());
    assert_eq!(map.file("tab\there.txt").map(|f| f.added_count()), Some(1));
}

#[test]
fn text_without_a_git_header_is_not_a_git_diff() {
    assert!(LineMap::from_git_diff("hello\n").is_err());
    assert_eq!(LineMap::from_git_diff("").expect("empty").files().len(), 0);
}

// --- Property test: diffs generated from random files map every line back consistently. ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// A line with whether it ends in a line break; git compares lines with their break.
type Line = (String, bool);

fn file_lines(lines: &[String], ends_with_newline: bool) -> Vec<Line> {
    let count = lines.len();
    lines.iter().enumerate().map(|(at, text)| (text.clone(), at + 1 < count || ends_with_newline)).collect()
}

/// The edit script of a longest common subsequence (0-based indices).
fn edit_script(old: &[Line], new: &[Line]) -> Vec<Op> {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0_usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push(Op::Equal(i, j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(Op::Insert(j));
            j += 1;
        } else {
            ops.push(Op::Delete(i));
            i += 1;
        }
    }
    ops
}

/// A unified diff of the hunks of `ops` with `context` unchanged lines around each change.
fn unified_diff(old: &[Line], new: &[Line], ops: &[Op], context: usize) -> String {
    let changed: Vec<usize> = (0..ops.len()).filter(|at| !matches!(ops[*at], Op::Equal(..))).collect();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for at in changed {
        let (start, end) = (at.saturating_sub(context), (at + context + 1).min(ops.len()));
        match groups.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => groups.push((start, end)),
        }
    }
    let mut out = String::new();
    for (start, end) in groups {
        let slice = &ops[start..end];
        // Lines before the hunk on each side.
        let old_before = ops[..start].iter().filter(|op| !matches!(op, Op::Insert(_))).count();
        let new_before = ops[..start].iter().filter(|op| !matches!(op, Op::Delete(_))).count();
        let old_count = slice.iter().filter(|op| !matches!(op, Op::Insert(_))).count();
        let new_count = slice.iter().filter(|op| !matches!(op, Op::Delete(_))).count();
        let old_start = if old_count == 0 { old_before } else { old_before + 1 };
        let new_start = if new_count == 0 { new_before } else { new_before + 1 };
        out.push_str(&format!("@@ -{old_start},{old_count} +{new_start},{new_count} @@\n"));
        for op in slice {
            let ((text, newline), prefix) = match *op {
                Op::Equal(i, _) => (&old[i], ' '),
                Op::Delete(i) => (&old[i], '-'),
                Op::Insert(j) => (&new[j], '+'),
            };
            out.push(prefix);
            out.push_str(text);
            out.push('\n');
            if !newline {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

fn lines_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "", "  d", "-e", "+f"]), 0..40)
        .prop_map(|lines| lines.into_iter().map(str::to_owned).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_line_of_both_files_maps_consistently(
        old_text in lines_strategy(),
        new_text in lines_strategy(),
        old_newline in any::<bool>(),
        new_newline in any::<bool>(),
        context in 0_usize..4,
        as_git_diff in any::<bool>(),
    ) {
        let old = file_lines(&old_text, old_newline);
        let new = file_lines(&new_text, new_newline);
        prop_assume!(old != new);
        let ops = edit_script(&old, &new);
        let hunks = unified_diff(&old, &new, &ops, context);
        let file = if as_git_diff {
            let text = format!("diff --git a/f.txt b/f.txt\nindex 1111111..2222222 100644\n--- a/f.txt\n+++ b/f.txt\n{hunks}");
            let map = LineMap::from_git_diff(&text).expect("generated git diff parses");
            prop_assert_eq!(map.files().len(), 1);
            map.files()[0].clone()
        } else {
            FileMap::from_file_diff(&gitlab_file("f.txt", "f.txt", &hunks)).expect("generated diff parses")
        };
        // When the diff alone tells the length, it is right.
        if let Some(known) = file.new_line_count() {
            prop_assert_eq!(known as usize, new.len());
        }
        let file = file.with_new_line_count(new.len() as u32);
        prop_assert_eq!(file.old_line_count(), Some(old.len() as u32));
        for op in &ops {
            match *op {
                Op::Equal(i, j) => {
                    let (o, n) = (i as u32 + 1, j as u32 + 1);
                    let at = file.locate(Side::New, n).expect("unchanged new line located");
                    prop_assert_eq!((at.kind, at.old_line, at.new_line), (LineKind::Context, Some(o), Some(n)));
                    prop_assert_eq!(file.locate(Side::Old, o), Some(at));
                    prop_assert_eq!((at.old_pos, at.new_pos), (o, n));
                }
                Op::Delete(i) => {
                    let at = file.locate(Side::Old, i as u32 + 1).expect("removed line located");
                    prop_assert_eq!((at.kind, at.new_line, at.in_hunk), (LineKind::Removed, None, true));
                    prop_assert_eq!(file.text(Side::Old, i as u32 + 1), Some(old[i].0.as_str()));
                }
                Op::Insert(j) => {
                    let at = file.locate(Side::New, j as u32 + 1).expect("added line located");
                    prop_assert_eq!((at.kind, at.old_line, at.in_hunk), (LineKind::Added, None, true));
                    prop_assert_eq!(file.text(Side::New, j as u32 + 1), Some(new[j].0.as_str()));
                }
            }
        }
        // Every line a hunk shows has the text of that line in its file.
        for line in file.lines() {
            if let Some(o) = line.old_line {
                prop_assert_eq!(&line.text, &old[o as usize - 1].0);
            }
            if let Some(n) = line.new_line {
                prop_assert_eq!(&line.text, &new[n as usize - 1].0);
            }
        }
        prop_assert_eq!(file.locate(Side::New, new.len() as u32 + 1), None);
        prop_assert_eq!(file.locate(Side::Old, old.len() as u32 + 1), None);
    }
}

fn refs() -> crate::gitlab::types::DiffRefs {
    crate::gitlab::types::DiffRefs { base_sha: "b".into(), head_sha: "h".into(), start_sha: "s".into() }
}

fn finding_at(side: Side, line: u32, end_line: Option<u32>) -> crate::review::findings::Finding {
    crate::review::findings::Finding {
        file: "f.txt".into(),
        line,
        end_line,
        side,
        severity: crate::prompts::message::Severity::Minor,
        category: crate::review::findings::Category::Style,
        title: "t".into(),
        body: "b".into(),
        replacement: Some("x".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever the diff, a finding on any line of either file gets the position GitLab's rules
    /// give that line according to the edit script the diff was made from.
    #[test]
    fn every_line_places_where_gitlab_expects(
        old_text in lines_strategy(),
        new_text in lines_strategy(),
        context in 0_usize..4,
        range_start in 0_usize..40,
        range_length in 1_u32..5,
    ) {
        use crate::review::post::place;
        let old = file_lines(&old_text, true);
        let new = file_lines(&new_text, true);
        prop_assume!(old != new);
        let ops = edit_script(&old, &new);
        let hunks = unified_diff(&old, &new, &ops, context);
        let mut map = LineMap::from_file_diffs(&[gitlab_file("f.txt", "f.txt", &hunks)]).expect("parses");
        map.file_mut("f.txt").expect("file").set_new_line_count(new.len() as u32);
        for op in &ops {
            let (finding, expected) = match *op {
                Op::Equal(i, j) => (finding_at(Side::New, j as u32 + 1, None), (Some(i as u32 + 1), Some(j as u32 + 1))),
                Op::Insert(j) => (finding_at(Side::New, j as u32 + 1, None), (None, Some(j as u32 + 1))),
                Op::Delete(i) => (finding_at(Side::Old, i as u32 + 1, None), (Some(i as u32 + 1), None)),
            };
            let placement = place(&finding, &map, &refs()).expect("every line of the files is placeable");
            prop_assert_eq!((placement.position.old_line, placement.position.new_line), expected);
            prop_assert!(placement.position.line_range.is_none());
            prop_assert_eq!(placement.suggestion.is_some(), finding.side == Side::New);
        }
        // A range of new lines is anchored on its last line and names both ends.
        let start = range_start as u32 + 1;
        let end = start + range_length;
        let ranged = place(&finding_at(Side::New, start, Some(end)), &map, &refs());
        if end as usize <= new.len() {
            let placement = ranged.expect("a range inside the new file is placeable");
            prop_assert_eq!(placement.position.new_line, Some(end));
            let range = placement.position.line_range.expect("a line range");
            prop_assert_eq!(range.start.new_line, Some(start));
            prop_assert_eq!(range.end.new_line, Some(end));
            prop_assert_eq!(placement.suggestion.map(|span| span.above), Some(range_length));
            for point in [&range.start, &range.end] {
                let line_type = point.line_type.as_deref();
                prop_assert!(line_type == Some("new") || (line_type.is_none() && point.old_line.is_some()));
                if line_type.is_none() {
                    let suffix = format!("_{}_{}", point.old_line.unwrap_or_default(), point.new_line.unwrap_or_default());
                    prop_assert!(point.line_code.ends_with(&suffix), "{} {}", point.line_code, suffix);
                }
            }
        } else {
            prop_assert!(ranged.is_err());
        }
    }
}

fn diffish_text() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "diff --git a/x b/x",
        "diff --git \"a/q\\\"\" \"b/q\\303\"",
        "--- a/x",
        "+++ b/x",
        "--- /dev/null",
        "new file mode 100644",
        "deleted file mode 100644",
        "rename from y",
        "rename to x",
        "@@ -1,2 +1,2 @@",
        "@@ -4294967295,0 +4294967295,1 @@",
        "@@ -0,0 +1 @@",
        "@@ -1 +0,0 @@",
        "@@ -x +1 @@",
        " context",
        "+added ü",
        "-removed",
        "\\ No newline at end of file",
        "",
        "Binary files a/x and b/x differ",
    ]);
    prop::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A diff is untrusted input: any text is either read or refused, never a panic.
    #[test]
    fn arbitrary_text_never_panics_the_parser(text in diffish_text(), line in 0_u32..6, count in 0_u32..6) {
        let maps = [
            LineMap::from_git_diff(&text),
            LineMap::from_file_diffs(&[gitlab_file("x", "x", &text)]),
        ];
        for map in maps.into_iter().flatten() {
            for file in map.files() {
                let file = file.clone().with_new_line_count(count);
                for side in [Side::New, Side::Old] {
                    let _ = file.locate(side, line);
                    let _ = file.locate(side, u32::MAX);
                }
                let _ = file.old_line_count();
            }
        }
    }
}
