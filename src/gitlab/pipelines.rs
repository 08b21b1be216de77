//! Pipelines: triggering the agent's own pipeline and finding its triggered pipelines again (with
//! the variables they were started with), and watching and steering the target's.
//!
//! Retry rules: reads, cancel and retry are retried on every transient failure (cancelling twice
//! changes nothing; retrying twice finds no failed job the second time). Triggering is sent again
//! only when GitLab certainly did not act (connection refused, 429): a blind repeat could start
//! two pipelines, so an ambiguous failure is returned to the caller. The trigger token travels
//! in the request body, never in the URL, where proxies and logs could keep it.
//!
//! The job checks its own pipeline's variables through [`Client::pipeline_variables`]: those are
//! exactly what a trigger, the API or "Run pipeline" passed.

use std::collections::BTreeMap;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use super::client::{Client, ProjectId};
use super::error::Error;
use super::retry::Replay;
use super::types::{Pipeline, PipelineInfo, PipelineVariable};

/// What a triggered pipeline is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerParameters {
    /// Pipeline inputs (`spec:inputs` of the project's CI configuration; GitLab 18.1 and later).
    Inputs(BTreeMap<String, String>),
    /// Pipeline variables: for GitLab before 18.1, where the trigger API takes no inputs.
    Variables(BTreeMap<String, String>),
}

impl TriggerParameters {
    /// The form fields: `inputs[NAME]=value` or `variables[NAME]=value`.
    fn fields(&self) -> impl Iterator<Item = (String, String)> + '_ {
        let (kind, values) = match self {
            Self::Inputs(values) => ("inputs", values),
            Self::Variables(values) => ("variables", values),
        };
        values.iter().map(move |(name, value)| (format!("{kind}[{name}]"), value.clone()))
    }
}

impl Client {
    /// `POST /projects/:id/trigger/pipeline` with a trigger token, on `git_ref`, with inputs or
    /// variables. Sent as form data: GitLab reads `inputs` from form fields.
    pub async fn trigger_pipeline(
        &self,
        project: impl Into<ProjectId>,
        trigger_token: &SecretString,
        git_ref: &str,
        parameters: &TriggerParameters,
    ) -> Result<Pipeline, Error> {
        crate::redact::register(trigger_token.expose_secret());
        let path = format!("/projects/{}/trigger/pipeline", project.into().segment());
        let mut fields = vec![
            ("token".to_owned(), trigger_token.expose_secret().to_owned()),
            ("ref".to_owned(), git_ref.to_owned()),
        ];
        fields.extend(parameters.fields());
        let request = self.form_request(Method::POST, &path, fields, Replay::OnlyUnsent)?;
        self.call(&request).await
    }

    /// The MR's pipelines, newest first.
    pub async fn merge_request_pipelines(
        &self,
        project: impl Into<ProjectId>,
        mr_iid: u64,
    ) -> Result<Vec<PipelineInfo>, Error> {
        let path = format!("/projects/{}/merge_requests/{mr_iid}/pipelines", project.into().segment());
        self.get_all(&path, &[]).await
    }

    /// The pipelines for a ref at one commit, newest first.
    pub async fn pipelines_for_commit(
        &self,
        project: impl Into<ProjectId>,
        git_ref: &str,
        sha: &str,
    ) -> Result<Vec<PipelineInfo>, Error> {
        let path = format!("/projects/{}/pipelines", project.into().segment());
        let query = [
            ("ref", git_ref.to_owned()),
            ("sha", sha.to_owned()),
            ("order_by", "id".to_owned()),
            ("sort", "desc".to_owned()),
        ];
        self.get_all(&path, &query).await
    }

    /// The pipelines started through the trigger API on `git_ref` and changed after
    /// `updated_after` (ISO 8601), oldest first.
    pub async fn triggered_pipelines_since(
        &self,
        project: impl Into<ProjectId>,
        git_ref: &str,
        updated_after: &str,
        name: Option<&str>,
    ) -> Result<Vec<PipelineInfo>, Error> {
        let path = format!("/projects/{}/pipelines", project.into().segment());
        let mut query = vec![
            ("source", "trigger".to_owned()),
            ("ref", git_ref.to_owned()),
            ("updated_after", updated_after.to_owned()),
            ("order_by", "id".to_owned()),
            ("sort", "asc".to_owned()),
        ];
        if let Some(name) = name {
            query.push(("name", name.to_owned()));
        }
        self.get_all(&path, &query).await
    }

    /// `GET /projects/:id/pipelines/:pipeline_id/variables`: what it was started with.
    pub async fn pipeline_variables(
        &self,
        project: impl Into<ProjectId>,
        pipeline_id: u64,
    ) -> Result<Vec<PipelineVariable>, Error> {
        self.get_all(&format!("/projects/{}/pipelines/{pipeline_id}/variables", project.into().segment()), &[]).await
    }

    /// `GET /projects/:id/pipelines/:pipeline_id`.
    pub async fn pipeline(&self, project: impl Into<ProjectId>, pipeline_id: u64) -> Result<Pipeline, Error> {
        self.get(&format!("/projects/{}/pipelines/{pipeline_id}", project.into().segment()), &[]).await
    }

    /// `POST …/pipelines/:pipeline_id/cancel`.
    pub async fn cancel_pipeline(&self, project: impl Into<ProjectId>, pipeline_id: u64) -> Result<Pipeline, Error> {
        self.pipeline_action(project.into(), pipeline_id, "cancel").await
    }

    /// `POST …/pipelines/:pipeline_id/retry`: runs the failed and canceled jobs again.
    pub async fn retry_pipeline(&self, project: impl Into<ProjectId>, pipeline_id: u64) -> Result<Pipeline, Error> {
        self.pipeline_action(project.into(), pipeline_id, "retry").await
    }

    async fn pipeline_action(&self, project: ProjectId, pipeline_id: u64, action: &str) -> Result<Pipeline, Error> {
        let path = format!("/projects/{}/pipelines/{pipeline_id}/{action}", project.segment());
        let request = self.request(Method::POST, &path, &[], None, Replay::Always)?;
        self.call(&request).await
    }
}
