//! The handle's read-only views for assertions: notes, discussions, draft notes, awards, merge
//! requests, pipelines, jobs, trigger calls, and the repositories' branches, files and objects.

use super::FakeGitLab;
use super::ci::pipeline_status;
use super::model::{Award, Awardable, DraftNote, Issue, Job, MergeRequest, Note, Noteable, Pipeline, TriggerCall};

impl FakeGitLab {
    pub fn issue(&self, project: &str, iid: u64) -> Option<Issue> {
        let project_id = self.project_id(project);
        self.shared.state().issue(project_id, iid).cloned()
    }

    /// Every note on an issue (oldest first), system notes included.
    pub fn issue_notes(&self, project: &str, iid: u64) -> Vec<Note> {
        self.notes_on(Noteable::Issue { project_id: self.project_id(project), iid })
    }

    /// Every note on a merge request (oldest first), diff notes and system notes included.
    pub fn mr_notes(&self, project: &str, iid: u64) -> Vec<Note> {
        self.notes_on(Noteable::MergeRequest { project_id: self.project_id(project), iid })
    }

    pub fn notes_on(&self, target: Noteable) -> Vec<Note> {
        self.shared.state().notes.iter().filter(|n| n.noteable == target).cloned().collect()
    }

    /// The draft notes pending on a merge request, every author's, oldest first.
    pub fn draft_notes(&self, project: &str, iid: u64) -> Vec<DraftNote> {
        let project_id = self.project_id(project);
        let state = self.shared.state();
        state.draft_notes.iter().filter(|d| d.project_id == project_id && d.mr_iid == iid).cloned().collect()
    }

    /// A note by id.
    pub fn note(&self, note_id: u64) -> Option<Note> {
        self.shared.state().notes.iter().find(|n| n.id == note_id).cloned()
    }

    /// The discussions of a merge request: `(discussion id, notes oldest first)`.
    pub fn discussions(&self, project: &str, mr_iid: u64) -> Vec<(String, Vec<Note>)> {
        let notes = self.mr_notes(project, mr_iid);
        let mut threads: Vec<(String, Vec<Note>)> = Vec::new();
        for note in notes {
            match threads.iter_mut().find(|(id, _)| *id == note.discussion_id) {
                Some((_, thread)) => thread.push(note),
                None => threads.push((note.discussion_id.clone(), vec![note])),
            }
        }
        threads
    }

    /// Every award emoji, in creation order.
    pub fn awards(&self) -> Vec<Award> {
        self.shared.state().awards.clone()
    }

    /// Award names on a note, with who gave them: `(name, username)`.
    pub fn note_awards(&self, note_id: u64) -> Vec<(String, String)> {
        self.awards_on(Awardable::Note(note_id))
    }

    /// Award names on an issue: `(name, username)`.
    pub fn issue_awards(&self, project: &str, iid: u64) -> Vec<(String, String)> {
        let Some(issue) = self.issue(project, iid) else { return Vec::new() };
        self.awards_on(Awardable::Issue(issue.id))
    }

    /// Award names on a merge request: `(name, username)`.
    pub fn mr_awards(&self, project: &str, iid: u64) -> Vec<(String, String)> {
        let Some(mr) = self.merge_request(project, iid) else { return Vec::new() };
        self.awards_on(Awardable::MergeRequest(mr.id))
    }

    fn awards_on(&self, awardable: Awardable) -> Vec<(String, String)> {
        let state = self.shared.state();
        state
            .awards
            .iter()
            .filter(|a| a.awardable == awardable)
            .map(|a| (a.name.clone(), state.user(a.user_id).map(|u| u.username.clone()).unwrap_or_default()))
            .collect()
    }

    pub fn merge_requests(&self, project: &str) -> Vec<MergeRequest> {
        let project_id = self.project_id(project);
        self.shared.state().merge_requests.iter().filter(|m| m.project_id == project_id).cloned().collect()
    }

    pub fn merge_request(&self, project: &str, iid: u64) -> Option<MergeRequest> {
        let project_id = self.project_id(project);
        self.shared.state().merge_request(project_id, iid).cloned()
    }

    /// Pipelines of a project, oldest first.
    pub fn pipelines(&self, project: &str) -> Vec<Pipeline> {
        let project_id = self.project_id(project);
        self.shared.state().pipelines.iter().filter(|p| p.project_id == project_id).cloned().collect()
    }

    pub fn pipeline(&self, pipeline_id: u64) -> Option<Pipeline> {
        self.shared.state().pipeline(pipeline_id).cloned()
    }

    /// The status GitLab would report now (without counting as a read).
    pub fn pipeline_status(&self, pipeline_id: u64) -> Option<String> {
        let state = self.shared.state();
        state.pipeline(pipeline_id).map(|p| pipeline_status(&state, p))
    }

    /// Every job of a pipeline, retried ones included, oldest first.
    pub fn jobs(&self, pipeline_id: u64) -> Vec<Job> {
        self.shared.state().jobs.iter().filter(|j| j.pipeline_id == pipeline_id).cloned().collect()
    }

    pub fn job(&self, job_id: u64) -> Option<Job> {
        self.shared.state().job(job_id).cloned()
    }

    /// Every accepted trigger call, in order.
    pub fn trigger_calls(&self) -> Vec<TriggerCall> {
        self.shared.state().triggers.clone()
    }

    /// A branch's head SHA.
    pub async fn branch_head(&self, project: &str, branch: &str) -> Option<String> {
        self.repo(project).rev_parse(&format!("refs/heads/{branch}")).await
    }

    /// Every branch with its head SHA.
    pub async fn branches(&self, project: &str) -> anyhow::Result<Vec<(String, String)>> {
        self.repo(project).branches().await
    }

    /// Every ref of the project's repository (`refs/heads/main`, `refs/tags/v1`).
    pub async fn refs(&self, project: &str) -> anyhow::Result<Vec<String>> {
        self.repo(project).ref_names().await
    }

    /// A file's content at a revision (branch name or SHA).
    pub async fn read_file(&self, project: &str, rev: &str, path: &str) -> Option<String> {
        self.repo(project).read_file(rev, path).await
    }

    /// Whether commit `ancestor` is in the history of `rev` (a branch or SHA): nobody's push
    /// dropped it.
    pub async fn is_ancestor(&self, project: &str, ancestor: &str, rev: &str) -> bool {
        let repo = self.repo(project);
        let Some(head) = repo.rev_parse(rev).await else { return false };
        repo.merge_base(ancestor, &head).await.is_some_and(|base| base == ancestor)
    }

    /// The commit metadata of a revision.
    pub async fn commit(&self, project: &str, rev: &str) -> anyhow::Result<super::repo::CommitInfo> {
        let repo = self.repo(project);
        let sha = repo.rev_parse(rev).await.ok_or_else(|| anyhow::anyhow!("unknown revision `{rev}`"))?;
        repo.commit_info(&sha).await
    }

    /// Whether the project's repository holds an object (a refused push must store nothing).
    pub async fn has_object(&self, project: &str, sha: &str) -> bool {
        self.repo(project).has_object(sha).await
    }

    /// How many objects the project's repository holds, loose and packed.
    pub async fn object_count(&self, project: &str) -> anyhow::Result<u64> {
        self.repo(project).object_count().await
    }
}
