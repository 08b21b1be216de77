//! The handle's methods that change the world the way people and CI would: add users,
//! projects, issues and notes, commit and push on the server side, script CI outcomes and
//! set job statuses and traces, and let time pass for awards and pipelines.

use anyhow::Context as _;

use super::ci::{self, CiRule, CiScript, Outcome};
use super::clock::now;
use super::model::{Issue, Noteable, Project, ProtectedBranch, TriggerToken, User, access};
use super::push::{RefUpdate, after_ref_updates};
use super::repo::{FileChange, Repo};
use super::seed::{IssueSeed, ProjectSeed, UserSeed, default_token};
use super::{FakeGitLab, api};

impl FakeGitLab {
    /// Lets time pass for what clients can judge by its age: every award and pipeline so far
    /// becomes `by` older (`created_at`, and `updated_at` of pipelines).
    pub fn age(&self, by: std::time::Duration) {
        let mut state = self.shared.state();
        for award in &mut state.awards {
            award.created_at = super::clock::earlier(&award.created_at, by);
        }
        for pipeline in &mut state.pipelines {
            pipeline.created_at = super::clock::earlier(&pipeline.created_at, by);
            pipeline.updated_at = super::clock::earlier(&pipeline.updated_at, by);
        }
    }

    /// Adds a user; returns it (with its token).
    pub fn add_user(&self, seed: UserSeed) -> User {
        let mut state = self.shared.state();
        let id = state.allocate("user");
        let user = User {
            id,
            name: seed.name.clone().unwrap_or_else(|| seed.username.clone()),
            token: seed.token.clone().unwrap_or_else(|| default_token(&seed.username)),
            username: seed.username,
            bot: seed.bot,
            state: "active".to_owned(),
        };
        state.users.push(user.clone());
        user
    }

    /// Blocks a user: their token stops working (401/403), as for a deactivated account.
    pub fn block_user(&self, username: &str) {
        let mut state = self.shared.state();
        if let Some(user) = state.users.iter_mut().find(|u| u.username == username) {
            user.state = "blocked".to_owned();
        }
    }

    /// Creates a project with a bare repository holding `seed.files` in one commit on its
    /// default branch; returns its id.
    pub async fn add_project(&self, seed: ProjectSeed) -> anyhow::Result<u64> {
        let dir = self.shared.repos_root.join(format!("{}.git", seed.path));
        let files: Vec<FileChange> = seed
            .files
            .iter()
            .map(|(path, content)| FileChange { path: path.clone(), content: Some(content.clone()), symlink: false })
            .collect();
        Repo::create(
            dir.clone(),
            self.shared.git_home.clone(),
            &seed.default_branch,
            &files,
            ("Fake GitLab", "fake@example.com"),
        )
        .await
        .with_context(|| format!("while creating the repository of `{}`", seed.path))?;
        let mut state = self.shared.state();
        let id = state.allocate("project");
        let mut members = std::collections::BTreeMap::new();
        for (username, level) in &seed.members {
            let user = state.user_by_name(username).with_context(|| format!("unknown member `{username}`"))?;
            members.insert(user.id, *level);
        }
        let mut trigger_tokens = Vec::new();
        for trigger in &seed.triggers {
            let owner =
                state.user_by_name(&trigger.owner).with_context(|| format!("unknown owner `{}`", trigger.owner))?.id;
            let trigger_id = state.allocate("trigger");
            trigger_tokens.push(TriggerToken {
                id: trigger_id,
                token: trigger.token.clone(),
                owner_id: owner,
                description: "copilot-runner".to_owned(),
            });
        }
        let protected_id = state.allocate("protected_branch");
        state.projects.push(Project {
            members,
            trigger_tokens,
            ci: seed.ci.clone().unwrap_or_default(),
            pipeline_variables_minimum_role: seed.pipeline_variables_minimum_role.clone(),
            ..Project::new(id, &seed.path, &seed.default_branch, protected_id, now())
        });
        drop(state);
        // A project's namespace is a group here (no personal namespaces in the fake).
        if let Some((group, _)) = seed.path.rsplit_once('/') {
            self.ensure_group(group);
        }
        for issue in seed.issues {
            self.add_issue(&seed.path, issue);
        }
        for note in seed.notes {
            let target = Noteable::Issue { project_id: id, iid: note.issue };
            let known_author = self.shared.state().user_by_name(&note.author).is_some();
            anyhow::ensure!(known_author, "a note of `{}` names the unknown author `{}`", seed.path, note.author);
            let known_issue = self.shared.state().noteable_id(target).is_some();
            anyhow::ensure!(known_issue, "a note of `{}` is on the unknown issue #{}", seed.path, note.issue);
            self.add_note(target, &note.author, &note.body, note.system);
        }
        Ok(id)
    }

    /// Sets a user's access level on a project (0 removes the membership).
    pub fn set_access(&self, project: &str, username: &str, level: u32) {
        let user_id = self.user_id(username);
        let project_id = self.project_id(project);
        let mut state = self.shared.state();
        if let Some(project) = state.project_mut(project_id) {
            if level == 0 {
                project.members.remove(&user_id);
            } else {
                project.members.insert(user_id, level);
            }
        }
    }

    /// Sets a user's account state (`active`, `blocked`, `locked`, `deactivated`, …) as the
    /// `members` API reports it. Unlike [`Self::block_user`], their token keeps working.
    pub fn set_user_state(&self, username: &str, user_state: &str) {
        let mut state = self.shared.state();
        if let Some(user) = state.users.iter_mut().find(|u| u.username == username) {
            user.state = user_state.to_owned();
        }
    }

    /// Sets when a user's membership of a project expires (`YYYY-MM-DD`; `None` never). A date
    /// in the past leaves the membership listed with that `expires_at`, as GitLab does until its
    /// daily clean-up removes it.
    pub fn set_membership_expiry(&self, project: &str, username: &str, expires_at: Option<&str>) {
        let user_id = self.user_id(username);
        let project_id = self.project_id(project);
        if let Some(project) = self.shared.state().project_mut(project_id) {
            match expires_at {
                Some(date) => project.member_expiry.insert(user_id, date.to_owned()),
                None => project.member_expiry.remove(&user_id),
            };
        }
    }

    /// Protects the branches `name` matches (`*` wildcards): pushes need `push_access_level`
    /// (0: no one), or to be one of `push_users`. Replaces an earlier rule of the same name.
    pub fn protect_branch(&self, project: &str, name: &str, push_access_level: u32, push_users: &[&str]) {
        let project_id = self.project_id(project);
        let push_user_ids: Vec<u64> = push_users.iter().map(|username| self.user_id(username)).collect();
        let mut state = self.shared.state();
        let id = state.allocate("protected_branch");
        if let Some(project) = state.project_mut(project_id) {
            project.protected_branches.retain(|rule| rule.name != name);
            project.protected_branches.push(ProtectedBranch {
                id,
                name: name.to_owned(),
                push_access_level,
                push_user_ids,
                merge_access_level: access::MAINTAINER,
                allow_force_push: false,
            });
        }
    }

    /// Removes the protection rule `name`.
    pub fn unprotect_branch(&self, project: &str, name: &str) {
        let project_id = self.project_id(project);
        if let Some(project) = self.shared.state().project_mut(project_id) {
            project.protected_branches.retain(|rule| rule.name != name);
        }
    }

    /// `owner` forks `upstream` into `fork`, as GitLab does: a new project (its `forked_from_project`
    /// is `upstream`) whose repository holds `upstream`'s default branch and history, with
    /// `owner` as its Owner. Returns its id.
    pub async fn fork_project(&self, upstream: &str, fork: &str, owner: &str) -> anyhow::Result<u64> {
        let members = std::collections::BTreeMap::from([(owner.to_owned(), access::OWNER)]);
        let upstream = self.project(upstream);
        let seed = ProjectSeed { members, default_branch: upstream.default_branch.clone(), ..ProjectSeed::new(fork) };
        let id = self.add_project(seed).await?;
        let source = self.shared.repo_for(&upstream.path_with_namespace);
        let branch = format!("refs/heads/{}", upstream.default_branch);
        self.shared.repo_for(fork).fetch_ref(&source, &branch, &branch).await?;
        self.shared.state().project_mut(id).context("the fork vanished")?.forked_from = Some(upstream.id);
        Ok(id)
    }

    /// `username` opens a merge request from `branch` of the fork `fork` (a project added
    /// before, holding that branch) into the default branch of `target`, as GitLab records one:
    /// in the target project, with the fork as `source_project_id` and the fork's head copied to
    /// the target's `refs/merge-requests/<iid>/head`. Returns its iid.
    pub async fn open_fork_merge_request(
        &self,
        target: &str,
        fork: &str,
        branch: &str,
        username: &str,
        title: &str,
    ) -> anyhow::Result<u64> {
        let target = self.project(target);
        let fork = self.project(fork);
        let author_id = self.user_id(username);
        let target_repo = self.shared.repo_for(&target.path_with_namespace);
        let fork_repo = self.shared.repo_for(&fork.path_with_namespace);
        let head = fork_repo.rev_parse(&format!("refs/heads/{branch}")).await.context("the fork has no such branch")?;
        let iid = {
            let mut state = self.shared.state();
            let stored = state.project_mut(target.id).context("the target project vanished")?;
            stored.next_mr_iid += 1;
            stored.next_mr_iid - 1
        };
        target_repo
            .fetch_ref(&fork_repo, &format!("refs/heads/{branch}"), &format!("refs/merge-requests/{iid}/head"))
            .await?;
        let version = super::push::version_at(&self.shared, &target_repo, head, &target.default_branch)
            .await?
            .context("the target's default branch is missing")?;
        let mut state = self.shared.state();
        let id = state.allocate("merge_request");
        state.merge_requests.push(super::model::MergeRequest {
            id,
            iid,
            source_project_id: fork.id,
            title: title.to_owned(),
            description: format!("From {}.", fork.path_with_namespace),
            versions: vec![version],
            ..opened_merge_request(&target, branch, author_id)
        });
        Ok(iid)
    }

    /// Opens an issue; returns its iid.
    pub fn add_issue(&self, project: &str, seed: IssueSeed) -> u64 {
        let project_id = self.project_id(project);
        let author_id = self.user_id(&seed.author);
        let assignee_ids: Vec<u64> = seed.assignees.iter().map(|u| self.user_id(u)).collect();
        let mut state = self.shared.state();
        let id = state.allocate("issue");
        let Some(stored) = state.project_mut(project_id) else { return 0 };
        let iid = stored.next_issue_iid;
        stored.next_issue_iid += 1;
        let stamp = now();
        state.issues.push(Issue {
            id,
            iid,
            project_id,
            title: seed.title,
            description: seed.description,
            state: "opened".to_owned(),
            author_id,
            assignee_ids,
            labels: seed.labels,
            confidential: seed.confidential,
            created_at: stamp.clone(),
            updated_at: stamp,
        });
        iid
    }

    /// `username` changes an issue's description, which GitLab records as a "changed the
    /// description" system note by them.
    pub fn edit_issue_description(&self, project: &str, iid: u64, username: &str, description: &str) {
        let project_id = self.project_id(project);
        {
            let mut state = self.shared.state();
            let issue = state.issues.iter_mut().find(|issue| issue.project_id == project_id && issue.iid == iid);
            let issue = issue.unwrap_or_else(|| panic!("fake GitLab has no issue {project}#{iid}"));
            description.clone_into(&mut issue.description);
            issue.updated_at = now();
        }
        self.add_system_note_by(Noteable::Issue { project_id, iid }, username, "changed the description");
    }

    /// Opens a merge request from `branch` into the default branch by record alone: no git
    /// refs and no diff version, for events about merge requests whose content nobody reads
    /// (a webhook burst needs thousands of them). Returns its iid.
    pub fn add_merge_request_record(&self, project: &str, branch: &str, username: &str) -> u64 {
        let target = self.project(project);
        let author_id = self.user_id(username);
        let mut state = self.shared.state();
        let id = state.allocate("merge_request");
        let Some(stored) = state.project_mut(target.id) else { return 0 };
        let iid = stored.next_mr_iid;
        stored.next_mr_iid += 1;
        state.merge_requests.push(super::model::MergeRequest {
            id,
            iid,
            title: format!("Change {branch}"),
            ..opened_merge_request(&target, branch, author_id)
        });
        iid
    }

    /// A person comments on an issue; returns the note id.
    pub fn add_issue_note(&self, project: &str, iid: u64, username: &str, body: &str) -> u64 {
        self.add_note(Noteable::Issue { project_id: self.project_id(project), iid }, username, body, false)
    }

    /// A person comments on a merge request; returns the note id.
    pub fn add_mr_note(&self, project: &str, iid: u64, username: &str, body: &str) -> u64 {
        self.add_note(Noteable::MergeRequest { project_id: self.project_id(project), iid }, username, body, false)
    }

    /// A person starts a thread on a merge request that is not on a line (a resolvable
    /// `DiscussionNote`, as "Start a thread" makes); returns the discussion id.
    pub fn add_mr_thread(&self, project: &str, iid: u64, username: &str, body: &str) -> String {
        let target = Noteable::MergeRequest { project_id: self.project_id(project), iid };
        let author_id = self.user_id(username);
        let mut state = self.shared.state();
        let noteable_id = state.noteable_id(target).unwrap_or_else(|| panic!("fake GitLab has no {target:?}"));
        let new = api::NewThread {
            target,
            noteable_id,
            author_id,
            body: body.to_owned(),
            position: None,
            commit_id: None,
            individual: false,
        };
        api::start_thread(&mut state, new)
    }

    /// A person writes an internal note (`internal: true`: seen only by members with at least
    /// the Reporter role) on an issue or a merge request; returns the note id.
    pub fn add_internal_note(&self, target: Noteable, username: &str, body: &str) -> u64 {
        let author_id = self.user_id(username);
        let mut state = self.shared.state();
        let noteable_id = state.noteable_id(target).unwrap_or_else(|| panic!("fake GitLab has no {target:?}"));
        api::add_note(&mut state, target, noteable_id, author_id, body, true).id
    }

    /// GitLab itself writes a system note (e.g. "assigned to @copilot-agent").
    pub fn add_system_note(&self, noteable: Noteable, body: &str) -> u64 {
        let author = self.shared.state().users.first().map(|u| u.username.clone()).unwrap_or_default();
        self.add_note(noteable, &author, body, true)
    }

    /// A person's action that GitLab records as a system note by them (e.g. alice assigned the
    /// agent: "assigned to @copilot-agent" by alice).
    pub fn add_system_note_by(&self, noteable: Noteable, username: &str, body: &str) -> u64 {
        self.add_note(noteable, username, body, true)
    }

    fn add_note(&self, target: Noteable, username: &str, body: &str, system: bool) -> u64 {
        let author_id = self.user_id(username);
        let mut state = self.shared.state();
        let noteable_id = state.noteable_id(target).unwrap_or_else(|| panic!("fake GitLab has no {target:?}"));
        let mut note = api::add_note(&mut state, target, noteable_id, author_id, body, false);
        if system {
            if let Some(stored) = state.notes.iter_mut().find(|n| n.id == note.id) {
                stored.system = true;
            }
            note.system = true;
        }
        note.id
    }

    /// Commits `files` (`None` deletes) on `branch` as `username`, on the server side, then runs
    /// the push side effects (pipeline, MR versions): "someone pushed meanwhile". Creates the
    /// branch from the default branch when missing. Returns the new head SHA.
    pub async fn push_files(
        &self,
        project: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
        username: &str,
    ) -> anyhow::Result<String> {
        let changes: Vec<FileChange> = files
            .iter()
            .map(|(path, content)| FileChange {
                path: (*path).to_owned(),
                content: content.map(str::to_owned),
                symlink: false,
            })
            .collect();
        self.push_changes(project, branch, changes, message, username).await
    }

    /// Like [`FakeGitLab::push_files`] for symbolic links: each `(path, target)` becomes a link
    /// to `target`, which need not exist.
    pub async fn push_symlinks(
        &self,
        project: &str,
        branch: &str,
        links: &[(&str, &str)],
        message: &str,
        username: &str,
    ) -> anyhow::Result<String> {
        let changes: Vec<FileChange> = links
            .iter()
            .map(|(path, target)| FileChange {
                path: (*path).to_owned(),
                content: Some((*target).to_owned()),
                symlink: true,
            })
            .collect();
        self.push_changes(project, branch, changes, message, username).await
    }

    async fn push_changes(
        &self,
        project: &str,
        branch: &str,
        changes: Vec<FileChange>,
        message: &str,
        username: &str,
    ) -> anyhow::Result<String> {
        let project = self.project(project);
        let user = self.user(username);
        let repo = self.shared.repo_for(&project.path_with_namespace);
        let _guard = self.shared.push_lock.lock().await;
        let old = repo.rev_parse(&format!("refs/heads/{branch}")).await;
        let parent = match &old {
            Some(sha) => sha.clone(),
            None => repo
                .rev_parse(&format!("refs/heads/{}", project.default_branch))
                .await
                .context("the default branch is missing")?,
        };
        let email = format!("{}@example.com", user.username);
        let sha = repo.commit(branch, Some(&parent), &changes, message, (&user.name, &email)).await?;
        let update = RefUpdate { branch: branch.to_owned(), old, new: Some(sha.clone()) };
        after_ref_updates(&self.shared, project.id, &[update], user.id).await;
        Ok(sha)
    }

    /// Replaces a project's CI script (jobs, rules).
    pub fn set_ci(&self, project: &str, script: CiScript) {
        let project_id = self.project_id(project);
        if let Some(p) = self.shared.state().project_mut(project_id) {
            p.ci = script;
        }
    }

    /// Holds pipeline `pipeline_id` running, as the pipeline of a job that runs now: one running
    /// job and no scheduled end, until someone cancels it.
    pub fn hold_running(&self, pipeline_id: u64) {
        ci::hold_running(&mut self.shared.state(), pipeline_id);
    }

    /// Starts a pipeline on the project's default branch as its first trigger token starts one
    /// (`source: trigger`, run as the token's owner), with `inputs` and `variables` taken as
    /// given; returns its id. For a job that needs its own pipeline (`CI_PIPELINE_ID`).
    pub async fn start_triggered_pipeline(
        &self,
        project: &str,
        inputs: &[(&str, &str)],
        variables: &[(&str, &str)],
    ) -> anyhow::Result<u64> {
        let stored = self.project(project);
        let owner =
            stored.trigger_tokens.first().map(|token| token.owner_id).context("the project has no trigger token")?;
        let sha =
            self.branch_head(project, &stored.default_branch).await.context("the default branch has no commit")?;
        let pairs = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut state = self.shared.state();
        ci::create_pipeline(
            &mut state,
            ci::PipelineStart {
                project_id: stored.id,
                git_ref: stored.default_branch.clone(),
                sha,
                before_sha: "0".repeat(40),
                source: "trigger".to_owned(),
                user_id: owner,
                variables: pairs(variables),
                inputs: pairs(inputs),
            },
        )
        .context("the project has CI disabled")
    }

    /// Turns merged-results pipelines on or off for a project: with them on, a push to the source
    /// branch of an open merge request runs the merge request's pipeline on a merge commit of
    /// the branch into the target (`refs/merge-requests/<iid>/merge`) instead of a branch
    /// pipeline.
    pub fn set_merged_results(&self, project: &str, on: bool) {
        let project_id = self.project_id(project);
        if let Some(p) = self.shared.state().project_mut(project_id) {
            p.ci.merged_results = on;
        }
    }

    /// Runs merge request `iid`'s pipeline now, as GitLab does when it is opened or someone
    /// presses "Run pipeline" on it: a merged-results pipeline (with
    /// [`FakeGitLab::set_merged_results`] on) or a detached one on conflicts. Returns its id.
    pub async fn run_merge_request_pipeline(&self, project: &str, iid: u64) -> Option<u64> {
        let stored = self.project(project);
        let author = self.shared.state().merge_request(stored.id, iid)?.author_id;
        let repo = self.shared.repo_for(&stored.path_with_namespace);
        super::push::merge_request_pipeline(&self.shared, &repo, stored.id, iid, author).await
    }

    /// Sets the project's "minimum role to use pipeline variables" (`no_one_allowed`,
    /// `developer`, `maintainer`, `owner`), as a maintainer does in its CI/CD settings.
    pub fn set_pipeline_variables_role(&self, project: &str, role: &str) {
        let project_id = self.project_id(project);
        if let Some(p) = self.shared.state().project_mut(project_id) {
            p.pipeline_variables_minimum_role = role.to_owned();
        }
    }

    /// Adds a rule in front of the project's CI rules (it wins over older ones), e.g.
    /// `CiRule { ref_pattern: "copilot/*".into(), outcome: Outcome::FailFirst { runs: 2, .. }, reads_until_done: 1 }`.
    pub fn add_ci_rule(&self, project: &str, rule: CiRule) {
        let project_id = self.project_id(project);
        if let Some(p) = self.shared.state().project_mut(project_id) {
            p.ci.rules.insert(0, rule);
        }
    }

    /// Sets a job's status, and optionally its trace and failure reason (for a failed job).
    pub fn set_job(&self, job_id: u64, status: &str, trace: Option<&str>, failure_reason: Option<&str>) {
        let mut state = self.shared.state();
        let stamp = now();
        let pipeline_id = state.job(job_id).map(|j| j.pipeline_id);
        if let Some(job) = state.job_mut(job_id) {
            job.status = status.to_owned();
            if status != "pending" && status != "created" {
                job.started_at.get_or_insert_with(|| stamp.clone());
            }
            if job.is_terminal() {
                job.finished_at = Some(stamp.clone());
            }
            if let Some(trace) = trace {
                job.trace = trace.to_owned();
            }
            job.failure_reason =
                if status == "failed" { Some(failure_reason.unwrap_or("script_failure").to_owned()) } else { None };
        }
        // A job set by hand means the scripted outcome no longer applies.
        if let Some(pipeline) = pipeline_id.and_then(|id| state.pipeline_mut(id)) {
            pipeline.pending_outcome = None;
            pipeline.reads_until_done = 0;
            pipeline.updated_at = stamp;
        }
    }

    /// Appends to a job's trace (a running job's log growing).
    pub fn append_trace(&self, job_id: u64, text: &str) {
        if let Some(job) = self.shared.state().job_mut(job_id) {
            job.trace.push_str(text);
        }
    }

    /// Finishes a pipeline's active jobs now as `outcome` says.
    pub fn finish_pipeline(&self, pipeline_id: u64, outcome: &Outcome) {
        let mut state = self.shared.state();
        if let Some(pipeline) = state.pipeline_mut(pipeline_id) {
            pipeline.pending_outcome = None;
            pipeline.reads_until_done = 0;
        }
        ci::apply_outcome(&mut state, pipeline_id, outcome);
    }

    /// Forces a pipeline's reported status regardless of its jobs (`None` derives it again).
    pub fn force_pipeline_status(&self, pipeline_id: u64, status: Option<&str>) {
        if let Some(pipeline) = self.shared.state().pipeline_mut(pipeline_id) {
            pipeline.forced_status = status.map(str::to_owned);
        }
    }
}

/// An open merge request from `branch` of `target` into its default branch, opened now, with no
/// id, iid or diff version yet.
fn opened_merge_request(target: &Project, branch: &str, author_id: u64) -> super::model::MergeRequest {
    let stamp = now();
    super::model::MergeRequest {
        id: 0,
        iid: 0,
        project_id: target.id,
        source_project_id: target.id,
        title: String::new(),
        description: String::new(),
        state: "opened".to_owned(),
        source_branch: branch.to_owned(),
        target_branch: target.default_branch.clone(),
        author_id,
        assignee_ids: Vec::new(),
        reviewer_ids: Vec::new(),
        labels: Vec::new(),
        remove_source_branch: false,
        squash: false,
        discussion_locked: false,
        versions: Vec::new(),
        created_at: stamp.clone(),
        updated_at: stamp,
        closed_at: None,
    }
}
