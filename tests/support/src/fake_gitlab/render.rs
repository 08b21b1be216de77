//! The model rendered in GitLab's REST shapes (Grape entities): `UserBasic`, `Issue`,
//! `MergeRequest`, `Note`, `Discussion`, `AwardEmoji`, `PipelineBasic`/`Pipeline`, `Job`,
//! `Branch`, `Commit`. Field sets follow GitLab's response schemas and the recorded payloads,
//! so a client that parses these parses gitlab.com.

use serde_json::{Value, json};

use super::ci::{latest_jobs, pipeline_status, pipeline_times};
use super::model::{Award, Awardable, Issue, Job, MergeRequest, MrVersion, Note, Pipeline, Project, State, User};
use super::repo::CommitInfo;

pub fn user_basic(state: &State, user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "avatar_url": format!("{}/uploads/-/system/user/avatar/{}/avatar.png", state.base_url, user.id),
        "web_url": format!("{}/{}", state.base_url, user.username),
    })
}

pub fn user_by_id(state: &State, id: u64) -> Value {
    state.user(id).map_or(Value::Null, |u| user_basic(state, u))
}

/// `GET /user`: the caller's own, fuller entity.
pub fn current_user(state: &State, user: &User) -> Value {
    let mut value = user_basic(state, user);
    if let Value::Object(map) = &mut value {
        map.insert("locked".into(), json!(false));
        map.insert("bot".into(), json!(user.bot));
        map.insert("created_at".into(), json!("2024-01-01T00:00:00.000Z"));
        map.insert("bio".into(), json!(""));
        map.insert("public_email".into(), Value::Null);
        map.insert("email".into(), json!(format!("{}@example.com", user.username)));
        map.insert("is_admin".into(), json!(false));
    }
    value
}

pub fn member(state: &State, project_id: u64, user: &User, access_level: u32) -> Value {
    let mut value = user_basic(state, user);
    if let Value::Object(map) = &mut value {
        map.insert("access_level".into(), json!(access_level));
        let expires_at = state.project_by_id(project_id).and_then(|project| project.member_expiry.get(&user.id));
        map.insert("expires_at".into(), json!(expires_at));
        map.insert("created_at".into(), json!("2024-01-01T00:00:00.000Z"));
        map.insert("membership_state".into(), json!("active"));
    }
    value
}

pub fn project(state: &State, project: &Project) -> Value {
    let mut rendered = project_details(state, project);
    // A fork names its upstream, as `BasicProjectDetails` (GitLab shows it to whoever may read it).
    if let Some(upstream) = project.forked_from.and_then(|id| state.project_by_id(id)) {
        rendered["forked_from_project"] = project_details(state, upstream);
    }
    rendered
}

fn project_details(state: &State, project: &Project) -> Value {
    let web_url = state.web_url_of_project(project);
    json!({
        "id": project.id,
        "description": null,
        "name": project.name(),
        "name_with_namespace": project.path_with_namespace.replace('/', " / "),
        "path": project.name(),
        "path_with_namespace": project.path_with_namespace,
        "created_at": project.created_at,
        "default_branch": project.default_branch,
        "visibility": "private",
        "http_url_to_repo": format!("{web_url}.git"),
        "web_url": web_url,
        "namespace": {
            "id": state.group_of(project).map_or(project.id + 1000, |group| group.id),
            "name": project.namespace(),
            "path": project.namespace(),
            "kind": "group",
            "full_path": project.namespace(),
        },
        "archived": false,
        "empty_repo": false,
    })
}

fn references(project: &Project, sigil: char, iid: u64) -> Value {
    json!({
        "short": format!("{sigil}{iid}"),
        "relative": format!("{sigil}{iid}"),
        "full": format!("{}{sigil}{iid}", project.path_with_namespace),
    })
}

fn upvotes(state: &State, awardable: Awardable, name: &str) -> usize {
    state.awards.iter().filter(|a| a.awardable == awardable && a.name == name).count()
}

pub fn issue(state: &State, project: &Project, issue: &Issue) -> Value {
    let assignees: Vec<Value> = issue.assignee_ids.iter().map(|id| user_by_id(state, *id)).collect();
    let noteable = super::model::Noteable::Issue { project_id: issue.project_id, iid: issue.iid };
    let user_notes = state.notes.iter().filter(|n| n.noteable == noteable && !n.system).count();
    json!({
        "id": issue.id,
        "iid": issue.iid,
        "project_id": issue.project_id,
        "title": issue.title,
        "description": issue.description,
        "state": issue.state,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": null,
        "closed_by": null,
        "labels": issue.labels,
        "milestone": null,
        "assignees": assignees,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "author": user_by_id(state, issue.author_id),
        "type": "ISSUE",
        "issue_type": "issue",
        "user_notes_count": user_notes,
        "merge_requests_count": 0,
        "upvotes": upvotes(state, Awardable::Issue(issue.id), "thumbsup"),
        "downvotes": upvotes(state, Awardable::Issue(issue.id), "thumbsdown"),
        "due_date": null,
        "confidential": issue.confidential,
        "discussion_locked": null,
        "web_url": format!("{}/-/issues/{}", state.web_url_of_project(project), issue.iid),
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": null, "human_total_time_spent": null},
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_tasks": false,
        "references": references(project, '#', issue.iid),
        "severity": "UNKNOWN",
    })
}

pub fn diff_refs(version: Option<&MrVersion>) -> Value {
    match version {
        Some(v) => {
            json!({"base_sha": v.base_commit_sha, "head_sha": v.head_commit_sha, "start_sha": v.start_commit_sha})
        }
        None => Value::Null,
    }
}

/// A merge request; `head_pipeline` is rendered by the caller for the single-MR endpoint.
pub fn merge_request(state: &State, project: &Project, mr: &MergeRequest) -> Value {
    let assignees: Vec<Value> = mr.assignee_ids.iter().map(|id| user_by_id(state, *id)).collect();
    let reviewers: Vec<Value> = mr.reviewer_ids.iter().map(|id| user_by_id(state, *id)).collect();
    let noteable = super::model::Noteable::MergeRequest { project_id: mr.project_id, iid: mr.iid };
    let user_notes = state.notes.iter().filter(|n| n.noteable == noteable && !n.system).count();
    let latest = mr.latest_version();
    let draft = mr.draft();
    let detailed = match (mr.state.as_str(), draft) {
        ("opened", true) => "draft_status",
        ("opened", false) => "mergeable",
        _ => "not_open",
    };
    json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": null,
        "merge_user": null,
        "merged_at": null,
        "closed_by": null,
        "closed_at": mr.closed_at,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": user_notes,
        "upvotes": upvotes(state, Awardable::MergeRequest(mr.id), "thumbsup"),
        "downvotes": upvotes(state, Awardable::MergeRequest(mr.id), "thumbsdown"),
        "author": user_by_id(state, mr.author_id),
        "assignees": assignees,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "reviewers": reviewers,
        "source_project_id": mr.source_project_id,
        "target_project_id": mr.project_id,
        "labels": mr.labels,
        "draft": draft,
        "work_in_progress": draft,
        "milestone": null,
        "merge_when_pipeline_succeeds": false,
        "merge_status": if mr.state == "opened" { "can_be_merged" } else { "unchecked" },
        "detailed_merge_status": detailed,
        "has_conflicts": false,
        "blocking_discussions_resolved": true,
        "sha": latest.map(|v| v.head_commit_sha.clone()),
        "merge_commit_sha": null,
        "squash_commit_sha": null,
        "discussion_locked": mr.discussion_locked,
        "should_remove_source_branch": null,
        "force_remove_source_branch": mr.remove_source_branch,
        "allow_collaboration": false,
        "allow_maintainer_to_push": false,
        "squash": mr.squash,
        "squash_on_merge": mr.squash,
        "web_url": format!("{}/-/merge_requests/{}", state.web_url_of_project(project), mr.iid),
        "reference": format!("!{}", mr.iid),
        "references": references(project, '!', mr.iid),
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": null, "human_total_time_spent": null},
        "task_completion_status": {"count": 0, "completed_count": 0},
        "diff_refs": diff_refs(latest),
        "changes_count": latest.map(|v| v.files.len().to_string()),
        "first_contribution": false,
        "user": {"can_merge": true},
    })
}

pub fn version(mr: &MergeRequest, version: &MrVersion, with_diffs: bool) -> Value {
    let mut value = json!({
        "id": version.id,
        "head_commit_sha": version.head_commit_sha,
        "base_commit_sha": version.base_commit_sha,
        "start_commit_sha": version.start_commit_sha,
        "created_at": version.created_at,
        "merge_request_id": mr.id,
        "state": "collected",
        "real_size": version.files.len().to_string(),
        "patch_id_sha": version.head_commit_sha,
    });
    if with_diffs && let Value::Object(map) = &mut value {
        map.insert("diffs".into(), Value::Array(version.files.iter().map(diff_file).collect()));
    }
    value
}

pub fn diff_file(file: &super::diff::DiffFile) -> Value {
    json!({
        "old_path": file.old_path,
        "new_path": file.new_path,
        "a_mode": file.a_mode,
        "b_mode": file.b_mode,
        "diff": file.diff,
        "new_file": file.new_file,
        "renamed_file": file.renamed_file,
        "deleted_file": file.deleted_file,
        "generated_file": false,
    })
}

/// A note as the notes API returns it. DiffNotes on MRs also carry `commit_id` and `position`
/// (GitLab's `Entities::Note` exposes those only for DiffNotes).
pub fn note(state: &State, note: &Note) -> Value {
    let mut value = json!({
        "id": note.id,
        "type": note.note_type,
        "body": note.body,
        "attachment": null,
        "author": user_by_id(state, note.author_id),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "system": note.system,
        "noteable_id": note.noteable_id,
        "noteable_type": note.noteable.type_name(),
        "noteable_iid": match note.noteable {
            super::model::Noteable::Issue { iid, .. } | super::model::Noteable::MergeRequest { iid, .. } => iid,
        },
        "resolvable": note.resolvable,
        "confidential": note.internal,
        "internal": note.internal,
        "commands_changes": {},
    });
    if let Value::Object(map) = &mut value {
        if note.resolvable {
            map.insert("resolved".into(), json!(note.resolved));
            // `resolved_by` stays null: the schema the fake is checked against (GitLab's
            // `notes.json` fixture) types it as a string; the model keeps who resolved it.
            let resolved_at = if note.resolved { json!(note.updated_at) } else { Value::Null };
            map.insert("resolved_by".into(), Value::Null);
            map.insert("resolved_at".into(), resolved_at);
        }
        if let Some(position) = &note.position {
            map.insert("position".into(), position.clone());
            map.insert("commit_id".into(), note.commit_id.clone().map_or(Value::Null, Value::String));
        }
    }
    value
}

pub fn discussion(state: &State, id: &str) -> Value {
    let notes: Vec<&Note> = state.notes.iter().filter(|n| n.discussion_id == id).collect();
    json!({
        "id": id,
        "individual_note": notes.first().is_some_and(|n| n.individual_note),
        "notes": notes.iter().map(|n| note(state, n)).collect::<Vec<_>>(),
    })
}

pub fn award(state: &State, award: &Award) -> Value {
    let (awardable_id, awardable_type) = match award.awardable {
        Awardable::Issue(id) => (id, "Issue"),
        Awardable::MergeRequest(id) => (id, "MergeRequest"),
        Awardable::Note(id) => (id, "Note"),
    };
    json!({
        "id": award.id,
        "name": award.name,
        "user": user_by_id(state, award.user_id),
        "created_at": award.created_at,
        "updated_at": award.created_at,
        "awardable_id": awardable_id,
        "awardable_type": awardable_type,
    })
}

fn pipeline_web_url(state: &State, pipeline: &Pipeline) -> String {
    let path = state.project_by_id(pipeline.project_id).map(|p| p.path_with_namespace.clone()).unwrap_or_default();
    format!("{}/{path}/-/pipelines/{}", state.base_url, pipeline.id)
}

/// `PipelineBasic`: list items and the `pipeline` inside a job.
pub fn pipeline_basic(state: &State, pipeline: &Pipeline) -> Value {
    json!({
        "id": pipeline.id,
        "iid": pipeline.iid,
        "project_id": pipeline.project_id,
        "sha": pipeline.sha,
        "ref": pipeline.git_ref,
        "status": pipeline_status(state, pipeline),
        "source": pipeline.source,
        "name": pipeline.name,
        "created_at": pipeline.created_at,
        "updated_at": pipeline.updated_at,
        "web_url": pipeline_web_url(state, pipeline),
    })
}

fn detailed_status(state: &State, pipeline: &Pipeline, status: &str) -> Value {
    let path = state.project_by_id(pipeline.project_id).map(|p| p.path_with_namespace.clone()).unwrap_or_default();
    let (text, group) = match status {
        "success" => ("Passed", "success"),
        "failed" => ("Failed", "failed"),
        "canceled" => ("Canceled", "canceled"),
        "running" => ("Running", "running"),
        "pending" => ("Pending", "pending"),
        "skipped" => ("Skipped", "skipped"),
        "manual" => ("Manual", "manual"),
        _ => ("Created", "created"),
    };
    json!({
        "icon": format!("status_{group}"),
        "text": text,
        "label": status,
        "group": group,
        "tooltip": status,
        "has_details": true,
        "details_path": format!("/{path}/-/pipelines/{}", pipeline.id),
        "favicon": format!("/assets/ci_favicons/favicon_status_{group}.png"),
    })
}

/// The single-pipeline entity (`Pipeline`, GitLab's `pipeline/detail`).
pub fn pipeline_detail(state: &State, pipeline: &Pipeline) -> Value {
    let status = pipeline_status(state, pipeline);
    let (started_at, finished_at) = pipeline_times(state, pipeline, &status);
    let mut value = pipeline_basic(state, pipeline);
    if let Value::Object(map) = &mut value {
        map.insert("before_sha".into(), json!(pipeline.before_sha));
        map.insert("tag".into(), json!(false));
        map.insert("yaml_errors".into(), Value::Null);
        map.insert("user".into(), user_by_id(state, pipeline.user_id));
        map.insert("started_at".into(), json!(started_at));
        map.insert("finished_at".into(), json!(finished_at));
        map.insert("committed_at".into(), Value::Null);
        map.insert("duration".into(), if finished_at.is_some() { json!(1) } else { Value::Null });
        map.insert("queued_duration".into(), Value::Null);
        map.insert("coverage".into(), Value::Null);
        map.insert("detailed_status".into(), detailed_status(state, pipeline, &status));
        map.insert("name".into(), Value::Null);
    }
    value
}

pub fn commit(state: &State, project: &Project, commit: &CommitInfo) -> Value {
    json!({
        "id": commit.id,
        "short_id": commit.short_id,
        "created_at": commit.committed_date,
        "parent_ids": commit.parent_ids,
        "title": commit.title,
        "message": commit.message,
        "author_name": commit.author_name,
        "author_email": commit.author_email,
        "authored_date": commit.authored_date,
        "committer_name": commit.committer_name,
        "committer_email": commit.committer_email,
        "committed_date": commit.committed_date,
        "trailers": {},
        "extended_trailers": {},
        "web_url": format!("{}/-/commit/{}", state.web_url_of_project(project), commit.id),
    })
}

/// `Entities::CommitDetail` (`GET …/repository/commits/:sha`): the commit with its `stats`
/// (`additions`, `deletions`) and its newest pipeline (`last_pipeline`, `status`).
pub fn commit_detail(state: &State, project: &Project, commit_info: &CommitInfo, stats: (u64, u64)) -> Value {
    let mut value = commit(state, project, commit_info);
    let last =
        state.pipelines.iter().filter(|p| p.project_id == project.id && p.sha == commit_info.id).max_by_key(|p| p.id);
    if let Value::Object(map) = &mut value {
        let (additions, deletions) = stats;
        map.insert(
            "stats".into(),
            json!({"additions": additions, "deletions": deletions, "total": additions + deletions}),
        );
        map.insert("status".into(), last.map_or(Value::Null, |p| json!(pipeline_status(state, p))));
        map.insert("last_pipeline".into(), last.map_or(Value::Null, |p| pipeline_basic(state, p)));
        map.insert("project_id".into(), json!(project.id));
    }
    value
}

/// A job (`Entities::Ci::Job`); `failure_reason` only for failed jobs, as GitLab exposes it.
pub fn job(state: &State, project: &Project, job: &Job, commit_info: Option<&CommitInfo>) -> Value {
    let pipeline = state.pipeline(job.pipeline_id);
    let duration = match (&job.started_at, &job.finished_at) {
        (Some(_), Some(_)) => json!(1.0),
        _ => Value::Null,
    };
    let mut value = json!({
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "name": job.name,
        "ref": pipeline.map(|p| p.git_ref.clone()),
        "tag": false,
        "coverage": null,
        "allow_failure": job.allow_failure,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "erased_at": null,
        "duration": duration,
        "queued_duration": null,
        "user": user_by_id(state, job.user_id),
        "commit": commit_info.map_or(Value::Null, |c| commit(state, project, c)),
        "pipeline": pipeline.map_or(Value::Null, |p| pipeline_basic(state, p)),
        "web_url": format!("{}/-/jobs/{}", state.web_url_of_project(project), job.id),
        "artifacts": [],
        "artifacts_expire_at": null,
        "tag_list": [],
        "runner": null,
        "runner_manager": null,
        "project": {"ci_job_token_scope_enabled": false},
        "archived": false,
    });
    if job.status == "failed"
        && let Value::Object(map) = &mut value
    {
        map.insert(
            "failure_reason".into(),
            json!(job.failure_reason.clone().unwrap_or_else(|| "script_failure".into())),
        );
    }
    value
}

/// A bridge (`Entities::Ci::Bridge`: the job's basic fields, its status the downstream
/// pipeline's, and `downstream_pipeline`); failed as `unknown_failure` when its downstream
/// failed, as GitLab drops a `strategy: depend` bridge.
pub fn bridge(state: &State, project: &Project, bridge: &Job, commit_info: Option<&CommitInfo>) -> Value {
    let mut value = job(state, project, bridge, commit_info);
    let status = super::ci::job_status(state, bridge);
    if let Value::Object(map) = &mut value {
        for runner_only in ["artifacts", "artifacts_expire_at", "tag_list", "runner", "runner_manager", "archived"] {
            map.remove(runner_only);
        }
        if status == "failed" {
            map.insert("failure_reason".into(), json!("unknown_failure"));
        }
        map.insert("status".into(), json!(status));
        let downstream = bridge.downstream.and_then(|id| state.pipeline(id));
        map.insert("downstream_pipeline".into(), downstream.map_or(Value::Null, |p| pipeline_basic(state, p)));
    }
    value
}

/// Jobs of a pipeline, newest first, as `GET /pipelines/:id/jobs` lists them: bridges are not
/// jobs there.
pub fn pipeline_job_ids(state: &State, pipeline_id: u64, include_retried: bool) -> Vec<u64> {
    let mut ids: Vec<u64> = if include_retried {
        state.jobs.iter().filter(|j| j.pipeline_id == pipeline_id && j.downstream.is_none()).map(|j| j.id).collect()
    } else {
        latest_jobs(state, pipeline_id).iter().filter(|j| j.downstream.is_none()).map(|j| j.id).collect()
    };
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

/// `GET /projects/:id/protected_branches` (`ProtectedBranch` entity).
pub fn protected_branch(state: &State, rule: &super::model::ProtectedBranch) -> Value {
    let role = |level: u32| match level {
        0 => "No one",
        30 => "Developers + Maintainers",
        40 => "Maintainers",
        50 => "Owners",
        _ => "Custom",
    };
    let mut push: Vec<Value> = vec![json!({
        "id": rule.id * 10,
        "access_level": rule.push_access_level,
        "access_level_description": role(rule.push_access_level),
        "user_id": null,
        "group_id": null,
        "deploy_key_id": null,
    })];
    for (index, user_id) in rule.push_user_ids.iter().enumerate() {
        let name = state.user(*user_id).map_or_else(String::new, |user| user.name.clone());
        push.push(json!({
            "id": rule.id * 10 + 1 + index as u64,
            "access_level": 40,
            "access_level_description": name,
            "user_id": user_id,
            "group_id": null,
            "deploy_key_id": null,
        }));
    }
    json!({
        "id": rule.id,
        "name": rule.name,
        "push_access_levels": push,
        "merge_access_levels": [{
            "id": rule.id * 10 + 9,
            "access_level": rule.merge_access_level,
            "access_level_description": role(rule.merge_access_level),
            "user_id": null,
            "group_id": null,
        }],
        "unprotect_access_levels": [],
        "allow_force_push": rule.allow_force_push,
        "code_owner_approval_required": false,
        "inherited": false,
    })
}

pub fn branch(state: &State, project: &Project, name: &str, commit_info: &CommitInfo, merged: bool) -> Value {
    json!({
        "name": name,
        "commit": commit(state, project, commit_info),
        "merged": merged,
        "protected": project.protected_branches.iter().any(|rule| super::protection::matches(&rule.name, name)),
        "default": name == project.default_branch,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "web_url": format!("{}/-/tree/{}", state.web_url_of_project(project), name),
    })
}
